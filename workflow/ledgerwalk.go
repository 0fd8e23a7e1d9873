package workflow

import (
	"context"
	"slices"
	"strings"
	"time"
)

// LedgerWalk reads the ledger once for an export: every problem a may see
// that matches a filter, now or as it stood at a past time, with its
// history, handed over one at a time as it is read, and the statistics of
// the same problems, grouped several ways, at the end. It holds one page of
// problems and the statistics' groups, never the ledger.
type LedgerWalk struct {
	s        *Service
	a        Actor
	f        ProblemFilter
	asOf     time.Time
	at       time.Time
	groupBys []string
}

// NewLedgerWalk checks what a walk is asked (the filter as Problems checks
// it, the groupings as StatsReports) before anything is read: f's Cursor
// and Limit are ignored; a zero asOf walks the current ledger, its time the
// service's clock now.
func (s *Service) NewLedgerWalk(a Actor, f ProblemFilter, asOf time.Time, groupBys ...string) (*LedgerWalk, error) {
	for _, g := range groupBys {
		if !slices.Contains(GroupBys, g) {
			return nil, RefuseField(ReasonUnknownValue, "group_by", "unknown group_by %q; one of %s", g, strings.Join(GroupBys, ", "))
		}
	}
	f.Cursor, f.Limit = "", 0
	if _, _, err := scope(a, f); err != nil {
		return nil, err
	}
	at := asOf
	if at.IsZero() {
		at = s.clock.Now()
	}
	return &LedgerWalk{s: s, a: a, f: f, asOf: asOf, at: at, groupBys: groupBys}, nil
}

// At is the time the walk describes: the as_of time, or when it was made.
func (w *LedgerWalk) At() time.Time { return w.at }

// Run calls fn with each problem in creation order and the text of its
// latest progress note (填报进展) at the walk's time ("" when it has none),
// then returns the statistics of the problems it saw, one report per
// grouping. An error of fn stops the walk and is returned.
//
// The notes of the current ledger come from the store's NewestEntries, a
// page of problems at a time, without reading whole histories; a walk of a
// past time replays each problem's history and takes its note from there.
//
// The statistics come from the store's rollups (Rollups) when they can
// answer exactly: the filter narrows no further than what a may see, and
// the walk's time is now or the end of a day. Then a walk without fn (the
// statistics alone, StatsReports) reads no problem at all. Otherwise each
// problem walked adds its tally (TallyOf) to its groups: a row holds its
// counts and a histogram of days to close, never a list of problems. Of the
// current ledger, only a problem closed as rectified has its history read
// for that (its days to close).
func (w *LedgerWalk) Run(ctx context.Context, fn func(p *Problem, note string) error) ([]*StatsReport, error) {
	units, err := w.s.unitMap(ctx, false)
	if err != nil {
		return nil, err
	}
	var wps []WorkPoint // only the grouping by work point names them
	if slices.Contains(w.groupBys, GroupByWorkPoint) {
		if wps, err = w.s.WorkPoints(ctx); err != nil {
			return nil, err
		}
	}
	pol := w.s.Policy()
	accs := make([]*statsAcc, len(w.groupBys))
	for i, g := range w.groupBys {
		accs[i] = newStatsAcc(g, units, wps)
	}
	fromRollups, err := w.s.statsFromTallies(ctx, w.a, w.f, w.at, pol, accs)
	if err != nil {
		return nil, err
	}
	if !fromRollups || fn != nil {
		needs := walkNeeds{note: fn != nil}
		if !fromRollups {
			needs.history = needsHistoryForTally
		}
		var failed error
		err = w.s.walk(ctx, w.a, w.f, w.asOf, needs, func(p *Problem, hist []Entry, note *Entry) bool {
			if fn != nil {
				text := ""
				if note != nil {
					text = note.Params.Text
				}
				if failed = fn(p, text); failed != nil {
					return false
				}
			}
			if fromRollups {
				return true
			}
			t, err := tallyOfWalked(p, hist, w.at, pol)
			if err != nil {
				failed = err
				return false
			}
			for _, acc := range accs {
				acc.addTally(acc.key(p), &t)
			}
			return true
		})
		if err == nil {
			err = failed
		}
		if err != nil {
			return nil, err
		}
	}
	out := make([]*StatsReport, len(accs))
	for i, acc := range accs {
		out[i] = acc.report(w.at)
	}
	return out, nil
}

// LatestNote is the text of the newest progress note (填报进展) in hist, or
// "" when there is none: the ledger's 最新进展, which a walk of the current
// ledger reads through the store (NewestEntries) without whole histories.
func LatestNote(hist []Entry) string {
	for i := len(hist) - 1; i >= 0; i-- {
		if hist[i].Action == ActionNote {
			return hist[i].Params.Text
		}
	}
	return ""
}
