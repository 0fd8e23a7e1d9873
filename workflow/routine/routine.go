// Package routine runs the supervision routine the plan asks of the
// leading-group office (日常调度、发函督办): jobs that look at the clock and
// do what has fallen due, one after another, now and then every interval.
// The server runs one Runner, on the leader only when several replicas
// share etcd (cmd/rectify); every job must still be safe to run twice (on a
// new leader, after a restart), which the stores' unique keys and the
// domain's once-each rules make it. Dispatch rounds are its first jobs
// (Dispatch); other routine work (letters to draft, daily digests) joins
// the same Runner as more jobs.
package routine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jdz-eco/rectify/workflow"
)

// Job is one task of the routine. Run does what is due now (by the
// service's clock, not the runner's) and returns how much it did.
type Job struct {
	Name string
	Run  func(ctx context.Context) (done int, err error)
}

// Runner runs its jobs in order, once at start and then every Interval.
type Runner struct {
	Jobs     []Job
	Interval time.Duration
	// Log receives each job's outcome (nil discards).
	Log *slog.Logger
	// Observe, if set, is called after each job (metrics).
	Observe func(job string, done int, err error)
}

// RunOnce runs every job once, in order. A job that fails does not stop the
// others; the failures are returned joined, each named by its job.
func (r *Runner) RunOnce(ctx context.Context) error {
	log := r.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var errs []error
	for _, j := range r.Jobs {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		start := time.Now()
		done, err := j.Run(ctx)
		if r.Observe != nil {
			r.Observe(j.Name, done, err)
		}
		took := time.Since(start)
		switch {
		case err != nil && ctx.Err() != nil:
			return ctx.Err() // interrupted; the next start runs it again
		case err != nil:
			log.Error("routine job failed", "job", j.Name, "err", err, "done", done, "took", took)
			errs = append(errs, fmt.Errorf("%s: %w", j.Name, err))
		case done > 0:
			log.Info("routine job", "job", j.Name, "done", done, "took", took)
		default:
			log.Debug("routine job", "job", j.Name, "done", 0, "took", took)
		}
	}
	return errors.Join(errs...)
}

// Run runs the jobs until ctx ends: at once, then every Interval.
func (r *Runner) Run(ctx context.Context) {
	_ = r.RunOnce(ctx)
	t := time.NewTicker(r.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			_ = r.RunOnce(ctx)
		}
	}
}

// Dispatch returns the jobs of dispatch rounds (调度): dispatch-open opens
// the round of each schedule's current period (once per period, whatever
// runs it how often), dispatch-late records the report_late alerts of the
// rounds that have fallen due (once per missing report).
func Dispatch(svc *workflow.Service, schedules []workflow.RoundSchedule) []Job {
	// Periods whose scope took in nothing: not asked again by this
	// process (a restart asks once more).
	empty := map[string]bool{}
	open := func(ctx context.Context) (int, error) {
		opened := 0
		var errs []error
		for _, sc := range schedules {
			_, key, _ := sc.Period(svc.Clock().Now())
			if empty[key] {
				continue
			}
			_, created, err := svc.OpenScheduledRound(ctx, sc)
			switch {
			case workflow.ErrorReason(err) == workflow.ReasonEmptyScope:
				empty[key] = true
			case err != nil:
				errs = append(errs, fmt.Errorf("schedule %s: %w", sc, err))
			case created:
				opened++
			}
		}
		return opened, errors.Join(errs...)
	}
	return []Job{
		{Name: "dispatch-open", Run: open},
		{Name: "dispatch-late", Run: svc.RecordLateReports},
	}
}

// Anchor returns the job head-anchor: once a day (Asia/Shanghai) it appends
// the head anchor (workflow.Service.AnchorHead), an outbox event that every
// webhook receiver gets, so that copies of each day's head are kept outside
// the database.
func Anchor(svc *workflow.Service) []Job {
	return []Job{{Name: "head-anchor", Run: func(ctx context.Context) (int, error) {
		_, created, err := svc.AnchorHead(ctx)
		if created {
			return 1, err
		}
		return 0, err
	}}}
}

// Letters returns the jobs of supervision letters (发函督办): letters-draft
// prepares a draft letter for each problem that reached red or listed
// (once per problem and level), letters-record finishes letters whose
// problems lack their letter entry (after a crash), letters-late records
// the letter_reply_late alerts of letters unanswered by their due time
// (once per letter and problem).
func Letters(svc *workflow.Service) []Job {
	if !svc.HasLetters() {
		return nil
	}
	return []Job{
		{Name: "letters-draft", Run: svc.DraftLetters},
		{Name: "letters-record", Run: svc.RecordLetterEntries},
		{Name: "letters-late", Run: svc.RecordLateReplies},
	}
}
