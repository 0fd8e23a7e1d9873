package workflow

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Schedules of dispatch rounds.
const (
	EveryMonth = "monthly"
	EveryWeek  = "weekly"
)

// What a scheduled round asks about.
const (
	ScopeProblems = "problems" // every open problem with a lead unit
	ScopePoints   = "points"   // every work point, of each of its reporting units
	ScopeBoth     = "both"
)

// RoundSchedule opens a dispatch round every period on its own: monthly on
// a day of the month, or weekly on a weekday, at a time of day (Asia/
// Shanghai), due DueDays working days later (the end of that day, by the
// calendar). Each period has a key (monthly-25:2026-03) that the store
// keeps unique, so one round opens per period however often, and on however
// many replicas, the schedule is looked at.
type RoundSchedule struct {
	Every   string        // EveryMonth or EveryWeek
	Day     int           // day of the month 1 to 28, or weekday 1 (Monday) to 7 (Sunday)
	At      time.Duration // time of day, from midnight in Asia/Shanghai
	DueDays int           // working days from the opening to the due time, at least 1
	Scope   string        // ScopeProblems, ScopePoints or ScopeBoth
}

// ParseRoundSchedule reads monthly:DAY (1 to 28) or weekly:WEEKDAY (1 for
// Monday to 7 for Sunday); the other fields take the values given.
func ParseRoundSchedule(spec string, at time.Duration, dueDays int, scope string) (RoundSchedule, error) {
	every, day, ok := strings.Cut(strings.TrimSpace(spec), ":")
	n, err := strconv.Atoi(day)
	sc := RoundSchedule{Every: every, Day: n, At: at, DueDays: dueDays, Scope: scope}
	switch {
	case !ok || err != nil || (every != EveryMonth && every != EveryWeek):
		return sc, fmt.Errorf("schedule %q: monthly:DAY or weekly:WEEKDAY", spec)
	case every == EveryMonth && (n < 1 || n > 28):
		return sc, fmt.Errorf("schedule %q: the day of the month must be 1 to 28 (every month has it)", spec)
	case every == EveryWeek && (n < 1 || n > 7):
		return sc, fmt.Errorf("schedule %q: the weekday must be 1 (Monday) to 7 (Sunday)", spec)
	case at < 0 || at >= 24*time.Hour:
		return sc, fmt.Errorf("schedule %q: the time of day must be from 00:00 to 23:59", spec)
	case dueDays < 1:
		return sc, fmt.Errorf("schedule %q: the reports must be due at least 1 working day after the opening", spec)
	case scope != ScopeProblems && scope != ScopePoints && scope != ScopeBoth:
		return sc, fmt.Errorf("schedule %q: scope %q: %s, %s or %s", spec, scope, ScopeProblems, ScopePoints, ScopeBoth)
	}
	return sc, nil
}

// String gives the schedule as ParseRoundSchedule reads it, with its time
// of day: monthly:25@09:00.
func (sc RoundSchedule) String() string {
	return fmt.Sprintf("%s:%d@%02d:%02d", sc.Every, sc.Day, int(sc.At/time.Hour), int(sc.At%time.Hour/time.Minute))
}

// Period returns the schedule's latest opening at or before now, the key
// of its period and the period's name as the bureau writes it (2026年3月,
// 2026年第10周).
func (sc RoundSchedule) Period(now time.Time) (opens time.Time, key, name string) {
	d := now.In(Shanghai)
	at := func(y int, m time.Month, day int) time.Time {
		return time.Date(y, m, day, 0, 0, 0, 0, Shanghai).Add(sc.At)
	}
	prefix := sc.Every + "-" + strconv.Itoa(sc.Day) + ":"
	if sc.Every == EveryMonth {
		opens = at(d.Year(), d.Month(), sc.Day)
		if opens.After(now) {
			opens = at(d.Year(), d.Month()-1, sc.Day)
		}
		return opens.UTC(), prefix + opens.Format("2006-01"), MonthLabel(opens)
	}
	back := (int(d.Weekday()) + 6) % 7 // days since Monday
	opens = at(d.Year(), d.Month(), d.Day()-back+sc.Day-1)
	if opens.After(now) {
		opens = opens.AddDate(0, 0, -7)
	}
	y, w := opens.ISOWeek()
	return opens.UTC(), fmt.Sprintf("%s%d-W%02d", prefix, y, w), fmt.Sprintf("%d年第%d周", y, w)
}

// roundTitles name a scheduled round by what it asks about.
var roundTitles = map[string]string{
	ScopeProblems: "问题整改进展调度",
	ScopePoints:   "工作要点落实情况调度",
	ScopeBoth:     "问题整改和工作要点落实情况调度",
}

// OpenScheduledRound opens the round of sc's current period if it has not
// been opened and its due time has not passed (a period the server was down
// for entirely is not caught up). It returns the round and whether this
// call opened it; nil when there is nothing to open. A scope that takes in
// nothing refuses with ReasonEmptyScope.
func (s *Service) OpenScheduledRound(ctx context.Context, sc RoundSchedule) (*Round, bool, error) {
	now := s.clock.Now()
	opens, key, period := sc.Period(now)
	due := s.Calendar().AddWorkdays(opens, sc.DueDays)
	if !now.Before(due) {
		return nil, false, nil
	}
	in := NewRound{Title: period + roundTitles[sc.Scope], Period: period, Due: due, Key: key}
	if sc.Scope != ScopeProblems {
		wps, err := s.store.WorkPoints(ctx)
		if err != nil {
			return nil, false, err
		}
		for _, wp := range wps {
			in.Scope.WorkPoints = append(in.Scope.WorkPoints, wp.Number)
		}
		if len(in.Scope.WorkPoints) == 0 && sc.Scope == ScopePoints {
			return nil, false, RefuseField(ReasonEmptyScope, "scope", "no work point is stored")
		}
		in.Scope.AllProblems = sc.Scope == ScopeBoth
	}
	return s.OpenRound(ctx, routineActor, in)
}
