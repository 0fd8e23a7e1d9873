package workflow

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"time"
)

// IsOverdue reports whether l is overdue or worse (黄牌, 红牌, 挂牌督办).
func (l Level) IsOverdue() bool { return l.rank() >= LevelOverdue.rank() }

// Groupings of the statistics (group_by).
const (
	GroupByCounty    = "county"
	GroupByLeadUnit  = "lead_unit"
	GroupBySource    = "source"
	GroupByWorkPoint = "work_point"
	GroupByState     = "state"
)

// GroupBys lists every grouping of the statistics.
var GroupBys = []string{GroupByCounty, GroupByLeadUnit, GroupBySource, GroupByWorkPoint, GroupByState}

// StatsRow is the statistics of one group of problems (or of all of them).
//
// Definitions, all as of the report's time At:
//   - Total counts every problem of the group, dismissed ones included;
//     ByState counts them by state (rectifying excludes its submitted
//     substate, closed includes dismissed problems); every state is present.
//   - Open (未办结): found, assigned, rectifying or submitted: neither
//     verified nor closed (Problem.Open).
//   - Dismissed: closed with resolution dismissed (撤销). ClosedRectified:
//     closed with resolution rectified (销号).
//   - Overdue: open problems whose level at At is overdue or worse
//     (LevelAt under the service's policy: 黄牌, 红牌, 挂牌督办); time spent
//     submitted does not count.
//   - ClosedOnTime / ClosedLate split ClosedRectified. A closed problem is on
//     time when, at its last verification (验收), its lateness was not
//     positive: the submission the inspector accepted came at or before the
//     deadline then in force (an approved extension's included), plus the time
//     earlier submissions waited on inspectors. Equivalently: verified at or
//     before the effective deadline with the clock stopped while submitted.
//     Otherwise it closed late.
//   - Extended: problems with an approved extension (延期, Problem.Extended);
//     an extended problem closed by its extended deadline is on time.
//   - CompletionRate (整改完成率) = ClosedRectified / (Total − Dismissed);
//     OnTimeRate = ClosedOnTime / ClosedRectified; nil when the denominator
//     is 0. Fractions from 0 to 1.
//   - FlaggedEvidence: the evidence items of the lead and cooperating
//     units that carry a flag of the evidence checks (issue 16), in the
//     group's problems; grouped by lead unit, per unit.
//   - MedianDaysToClose: the median, over closed rectified problems, of the
//     whole days from the first assignment to the last close (a started day
//     counts as one, as overdue days do); nil when there are none.
//   - ByLevel: open problems by their level at At (LevelAt): 临期, 逾期（黄牌）,
//     红牌, 挂牌督办; every level is present. Overdue is the sum of the last
//     three.
//
// Every figure is a sum over the group's problems of what each contributes
// (Tally, docs/design.md#rollups), or derived from such sums.
type StatsRow struct {
	Key               string        `json:"key"`   // the county or unit id, source, work point number, state; "" for none
	Label             string        `json:"label"` // its Chinese name
	Total             int           `json:"total"`
	ByState           map[State]int `json:"by_state"`
	Open              int           `json:"open"`
	Dismissed         int           `json:"dismissed"`
	ClosedRectified   int           `json:"closed_rectified"`
	Overdue           int           `json:"overdue"`
	ClosedOnTime      int           `json:"closed_on_time"`
	ClosedLate        int           `json:"closed_late"`
	Extended          int           `json:"extended"`
	CompletionRate    *float64      `json:"completion_rate"`
	OnTimeRate        *float64      `json:"on_time_rate"`
	MedianDaysToClose *float64      `json:"median_days_to_close"`
	ByLevel           map[Level]int `json:"by_level"`
	FlaggedEvidence   int           `json:"flagged_evidence"`

	sum Tally
}

// StatsReport is the statistics of the ledger grouped one way.
type StatsReport struct {
	GroupBy string     `json:"group_by"`
	At      time.Time  `json:"at"`   // the time the statistics describe
	Rows    []StatsRow `json:"rows"` // one per group; see Stats for which groups appear
	Total   StatsRow   `json:"total"`
}

// Stats returns the statistics of the ledger a may see (a unit officer: the
// problems its unit leads or cooperates in), grouped by groupBy (one of
// GroupBys), as of at: a zero at means now (the service's clock and current
// records); a past at rebuilds each problem from its history (as
// ProblemsAsOf does) and computes lateness at that time.
//
// Groups: every source and every state always appear; every stored work
// point appears (zero rows where nothing is tracked), followed by a group
// with Key "" for problems without one; counties and lead units appear when
// they have problems (Key "" collects problems not yet assigned). Labels are
// the units', work points' (their titles), sources' and states' Chinese names.
//
// Cost: with a store that keeps rollups (Rollups) under the service's
// policy, the sums of each group: O(groups), now or as of the end of any
// day. Otherwise, and as of any other past instant, it reads every visible
// problem's record (as of a past time, its history, replayed) and the
// history of each closed rectified one: O(problems + entries).
func (s *Service) Stats(ctx context.Context, a Actor, groupBy string, at time.Time) (*StatsReport, error) {
	r, err := s.StatsReports(ctx, a, ProblemFilter{}, at, groupBy)
	if err != nil {
		return nil, err
	}
	return r[0], nil
}

// StatsReports computes several groupings in one pass over the problems
// matching f (a filter as Problems takes; Cursor and Limit are ignored), as
// Stats does for one.
func (s *Service) StatsReports(ctx context.Context, a Actor, f ProblemFilter, at time.Time, groupBys ...string) ([]*StatsReport, error) {
	if len(groupBys) == 0 {
		return nil, RefuseField(ReasonRequired, "group_by", "group_by is required; one of %s", strings.Join(GroupBys, ", "))
	}
	w, err := s.NewLedgerWalk(a, f, at, groupBys...)
	if err != nil {
		return nil, err
	}
	return w.Run(ctx, nil)
}

// statsFromTallies fills accs from the store's rollups (Rollups), which
// answer in the time of the groups, and reports false when they cannot:
// the store has none, f narrows more than a's visibility, or the store
// cannot answer for at exactly.
func (s *Service) statsFromTallies(ctx context.Context, a Actor, f ProblemFilter, at time.Time, pol Policy, accs []*statsAcc) (bool, error) {
	r, ok := s.store.(Rollups)
	if !ok {
		return false, nil
	}
	f, visible, err := scope(a, f)
	if err != nil || !visible {
		return false, err
	}
	scope := f.Unit
	f.Unit = ""
	if f != (ProblemFilter{}) {
		return false, nil
	}
	all := make([]map[string]*Tally, len(accs))
	for i, acc := range accs {
		rows, ok, err := r.Tallies(ctx, TallyQuery{Scope: scope, Grouping: acc.groupBy, At: at, Policy: pol})
		if err != nil || !ok {
			return false, err
		}
		all[i] = rows
	}
	for i, acc := range accs {
		for k, t := range all[i] {
			acc.addTally(k, t)
		}
	}
	return true, nil
}

// tallyOfWalked is the tally at at of p, a problem a walk read (rebuilt as
// of its time when it walks the past) with its history up to then: closed
// rectified problems take their facts from the history.
func tallyOfWalked(p *Problem, hist []Entry, at time.Time, pol Policy) (Tally, error) {
	facts := NoRollupFacts
	if needsHistoryForTally(p) {
		var err error
		if facts, err = RollupFactsOf(hist); err != nil {
			return Tally{}, Errorf(CodeInternal, "problem %s: replay: %v", p.ID, err)
		}
		if facts.Verdict == VerdictNone {
			return Tally{}, Errorf(CodeInternal, "problem %s is closed rectified but its history has no verify and close", p.ID)
		}
	}
	return TallyOf(p, facts, at, pol), nil
}

// needsHistoryForTally reports whether problem p's tally needs its history:
// the days to close of a problem closed as rectified (RollupFacts).
func needsHistoryForTally(p *Problem) bool {
	return p.State == StateClosed && p.Resolution == ResolutionRectified
}

// statsAcc accumulates one grouping.
type statsAcc struct {
	groupBy string
	units   map[string]Unit
	wps     map[int]WorkPoint
	rows    map[string]*StatsRow
	order   []string // keys listed whether or not they have problems
	total   *StatsRow
}

func newStatsAcc(groupBy string, units map[string]Unit, wps []WorkPoint) *statsAcc {
	acc := &statsAcc{groupBy: groupBy, units: units, wps: map[int]WorkPoint{}, rows: map[string]*StatsRow{}, total: newStatsRow("", LabelTotal)}
	for _, wp := range wps {
		acc.wps[wp.Number] = wp
	}
	switch groupBy {
	case GroupBySource:
		for _, x := range Sources {
			acc.order = append(acc.order, string(x))
		}
	case GroupByState:
		for _, x := range States {
			acc.order = append(acc.order, string(x))
		}
	case GroupByWorkPoint:
		for _, wp := range wps {
			acc.order = append(acc.order, strconv.Itoa(wp.Number))
		}
	}
	for _, k := range acc.order {
		acc.rows[k] = newStatsRow(k, acc.label(k))
	}
	return acc
}

func newStatsRow(key, label string) *StatsRow {
	r := &StatsRow{Key: key, Label: label, ByState: map[State]int{}}
	for _, s := range States {
		r.ByState[s] = 0
	}
	return r
}

func (acc *statsAcc) key(p *Problem) string {
	switch acc.groupBy {
	case GroupByCounty:
		return p.CountyID
	case GroupByLeadUnit:
		return p.LeadUnit
	case GroupBySource:
		return string(p.Source)
	case GroupByWorkPoint:
		if p.WorkPoint == 0 {
			return ""
		}
		return strconv.Itoa(p.WorkPoint)
	}
	return string(p.State)
}

func (acc *statsAcc) label(key string) string {
	switch acc.groupBy {
	case GroupByCounty, GroupByLeadUnit:
		if key == "" {
			return LabelUnassigned
		}
		if u, ok := acc.units[key]; ok {
			return u.Name
		}
	case GroupBySource:
		return Source(key).Label()
	case GroupByState:
		return State(key).Label()
	case GroupByWorkPoint:
		if key == "" {
			return LabelNoWorkPoint
		}
		n, _ := strconv.Atoi(key)
		if wp, ok := acc.wps[n]; ok {
			return wp.Title
		}
	}
	return key
}

// addTally adds t to group k and to the total.
func (acc *statsAcc) addTally(k string, t *Tally) {
	r := acc.rows[k]
	if r == nil {
		r = newStatsRow(k, acc.label(k))
		acc.rows[k] = r
	}
	r.sum.Add(t, 1)
	acc.total.sum.Add(t, 1)
}

// finish derives the row's figures from its tally.
func (r *StatsRow) finish() StatsRow {
	out := *r
	t := &r.sum
	out.sum = Tally{}
	out.Total = 0
	out.ByState = make(map[State]int, len(States))
	for _, st := range States {
		n := int(t.Counts[stateIndex(st)])
		out.ByState[st] = n
		out.Total += n
	}
	out.ByLevel = make(map[Level]int, len(Levels))
	for _, l := range Levels {
		out.ByLevel[l] = int(t.Counts[levelIndex(l)])
	}
	out.Open = out.Total - out.ByState[StateVerified] - out.ByState[StateClosed]
	out.Dismissed = int(t.Counts[TallyDismissed])
	out.ClosedRectified = out.ByState[StateClosed] - out.Dismissed
	out.ClosedOnTime = int(t.Counts[TallyOnTime])
	out.ClosedLate = out.ClosedRectified - out.ClosedOnTime
	out.Overdue = out.ByLevel[LevelOverdue] + out.ByLevel[LevelRed] + out.ByLevel[LevelListed]
	out.Extended = int(t.Counts[TallyExtended])
	out.CompletionRate = ratio(out.ClosedRectified, out.Total-out.Dismissed)
	out.OnTimeRate = ratio(out.ClosedOnTime, out.ClosedRectified)
	out.MedianDaysToClose = medianDays(t.Days)
	out.FlaggedEvidence = int(t.Counts[TallyFlagged])
	return out
}

// medianDays is the median of a histogram of days, nil when it is empty.
func medianDays(h map[int64]int64) *float64 {
	var n int64
	days := make([]int64, 0, len(h))
	for d, c := range h {
		n += c
		days = append(days, d)
	}
	if n <= 0 {
		return nil
	}
	slices.Sort(days)
	// nth returns the i-th smallest value, from 0.
	nth := func(i int64) int64 {
		for _, d := range days {
			if i < h[d] {
				return d
			}
			i -= h[d]
		}
		return days[len(days)-1]
	}
	m := float64(nth(n / 2))
	if n%2 == 0 {
		m = (float64(nth(n/2-1)) + m) / 2
	}
	return &m
}

func ratio(n, d int) *float64 {
	if d <= 0 {
		return nil
	}
	v := float64(n) / float64(d)
	return &v
}

// report orders the groups: the fixed ones (sources, states, work points) in
// their order, then the others (counties and units by kind, then id), the
// "" group last.
func (acc *statsAcc) report(at time.Time) *StatsReport {
	rep := &StatsReport{GroupBy: acc.groupBy, At: at, Rows: []StatsRow{}, Total: acc.total.finish()}
	fixed := map[string]bool{}
	for _, k := range acc.order {
		fixed[k] = true
		rep.Rows = append(rep.Rows, acc.rows[k].finish())
	}
	var others []string
	for k := range acc.rows {
		if !fixed[k] && k != "" {
			others = append(others, k)
		}
	}
	kind := func(id string) int {
		if u, ok := acc.units[id]; ok {
			if i := slices.Index(UnitKinds, u.Kind); i >= 0 {
				return i
			}
		}
		return len(UnitKinds)
	}
	slices.SortFunc(others, func(a, b string) int {
		if ka, kb := kind(a), kind(b); ka != kb {
			return ka - kb
		}
		if na, ea := strconv.Atoi(a); ea == nil {
			if nb, eb := strconv.Atoi(b); eb == nil {
				return na - nb
			}
		}
		return strings.Compare(a, b)
	})
	for _, k := range others {
		rep.Rows = append(rep.Rows, acc.rows[k].finish())
	}
	if r, ok := acc.rows[""]; ok {
		rep.Rows = append(rep.Rows, r.finish())
	}
	return rep
}
