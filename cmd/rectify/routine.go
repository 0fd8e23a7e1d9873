package main

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/jdz-eco/rectify/workflow"
	"github.com/jdz-eco/rectify/workflow/routine"
)

// routineConfig is serve's configuration of the routine (日常调度): how
// often it runs, and the dispatch rounds it opens on a schedule.
type routineConfig struct {
	interval  time.Duration
	schedules string // --dispatch-schedule: monthly:25,weekly:1
	at        string // --dispatch-at: HH:MM, Asia/Shanghai
	dueDays   int
	scope     string

	// Supervision letters: --letter-number-format, --letter-office.
	letterFormat string
	letterOffice string
}

// addRoutineFlags adds the routine's flags to fs.
func addRoutineFlags(fs *flag.FlagSet) *routineConfig {
	var c routineConfig
	fs.DurationVar(&c.interval, "routine-interval", time.Minute,
		"how often the routine runs (scheduled dispatch rounds, late-report alerts, the daily head anchor, reminders), also once at start; 0 disables it")
	fs.StringVar(&c.schedules, "dispatch-schedule", "",
		"comma-separated schedules of dispatch rounds (调度) opened on their own: monthly:DAY (1-28) or weekly:WEEKDAY (1 Monday … 7 Sunday); empty: none")
	fs.StringVar(&c.at, "dispatch-at", "09:00", "time of day (Asia/Shanghai) a scheduled round opens, HH:MM")
	fs.IntVar(&c.dueDays, "dispatch-due-days", 5, "working days (by the calendar) from a scheduled round's opening to its due time")
	fs.StringVar(&c.scope, "dispatch-scope", workflow.ScopeProblems,
		"what scheduled rounds ask about: problems (open problems, from their lead units), points (the work points, from their units) or both")
	fs.StringVar(&c.letterFormat, "letter-number-format", workflow.DefaultLetterNumberFormat,
		"document number of supervision letters (督办函), with {year} and {n}: numbers run 1, 2, … each year")
	fs.StringVar(&c.letterOffice, "letter-office", workflow.DefaultLetterOffice, "issuing office printed on supervision letters")
	return &c
}

// letters returns the letters' configuration.
func (c *routineConfig) letters() workflow.LetterConfig {
	return workflow.LetterConfig{NumberFormat: c.letterFormat, Office: c.letterOffice}
}

// roundSchedules parses the schedules (none when --dispatch-schedule is
// empty).
func (c *routineConfig) roundSchedules() ([]workflow.RoundSchedule, error) {
	if c.interval < 0 {
		return nil, errors.New("--routine-interval must not be negative (0 disables the routine)")
	}
	at, err := time.Parse("15:04", strings.TrimSpace(c.at))
	if err != nil {
		return nil, fmt.Errorf("--dispatch-at %q: a time of day such as 09:00", c.at)
	}
	var out []workflow.RoundSchedule
	for _, spec := range splitList(c.schedules) {
		sc, err := workflow.ParseRoundSchedule(spec, time.Duration(at.Hour())*time.Hour+time.Duration(at.Minute())*time.Minute, c.dueDays, c.scope)
		if err != nil {
			return nil, fmt.Errorf("--dispatch-schedule: %w", err)
		}
		out = append(out, sc)
	}
	if len(out) > 0 && c.interval == 0 {
		return nil, errors.New("--dispatch-schedule needs the routine: --routine-interval must be positive")
	}
	return out, nil
}

// routineMetrics registers the counters of the routine's jobs (and the
// deliveries', which run in a runner of their own) in reg and returns the
// runners' Observe.
func routineMetrics(reg prometheus.Registerer) (func(job string, n int, err error), error) {
	runs := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "rectify_routine_runs_total",
		Help: "Runs of the routine's jobs (dispatch-open, dispatch-late, head-anchor, notify-events, notify-digests, notify-send, letters-draft, letters-record, letters-late), by job and result (ok or error).",
	}, []string{"job", "result"})
	done := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "rectify_routine_done_total",
		Help: "What the routine's jobs did: rounds opened (dispatch-open), report_late alerts recorded (dispatch-late), head anchors appended (head-anchor), notices queued (notify-events, notify-digests) and sent (notify-send), draft letters prepared (letters-draft), letters finished on their problems (letters-record), letter_reply_late alerts recorded (letters-late).",
	}, []string{"job"})
	for _, col := range []prometheus.Collector{runs, done} {
		if err := reg.Register(col); err != nil {
			return nil, fmt.Errorf("routine metrics: %w", err)
		}
	}
	return func(job string, n int, err error) {
		result := "ok"
		if err != nil {
			result = "error"
		}
		runs.WithLabelValues(job, result).Inc()
		done.WithLabelValues(job).Add(float64(n))
	}, nil
}

// newRoutine returns the routine's runner on svc, with extra jobs after
// the dispatch rounds' (the reminders' digests), or nil when it is
// disabled. Its jobs' outcomes go to observe.
func newRoutine(c *routineConfig, svc *workflow.Service, log *slog.Logger, observe func(string, int, error), extra ...routine.Job) (*routine.Runner, error) {
	if c.interval == 0 {
		return nil, nil
	}
	schedules, err := c.roundSchedules()
	if err != nil {
		return nil, err
	}
	var names []string
	for _, sc := range schedules {
		names = append(names, sc.String())
	}
	log.Info("routine", "interval", c.interval, "dispatch_schedules", names, "due_working_days", c.dueDays, "scope", c.scope)
	return &routine.Runner{
		Jobs:     append(append(routine.Dispatch(svc, schedules), routine.Anchor(svc)...), append(extra, routine.Letters(svc)...)...),
		Interval: c.interval,
		Log:      log.With("component", "routine"),
		Observe:  observe,
	}, nil
}
