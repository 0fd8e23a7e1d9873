package workflow

import (
	"cmp"
	"slices"
	"strconv"
	"time"
)

// Tallies: the statistics as additive counters (docs/design.md#rollups).
//
// Every figure of the statistics is a sum over problems of what each one
// contributes to its group (Tally), so a store can keep the sums current in
// the transaction of each change instead of counting the ledger on every
// read. A problem's contribution is a function of its record, a few facts
// from its history the record does not keep (RollupFacts) and the time: a
// running deadline clock moves it from one level to the next without any
// command, at instants known in advance (its level crossings). RollupWrite
// turns one write of a record into the changes of the sums it causes, each
// at its instant: at the write for what the write changes, and at each later
// crossing for what time will change. Summing every change at or before an
// instant gives the tallies of that instant, past, present or (with no
// command in between) future. The stores only keep and add these changes;
// what they mean is decided here.

// stateCount is len(States), which a constant cannot name
// (TestTallyHasEveryState keeps them equal).
const stateCount = 7

// Indexes of Tally.Counts.
const (
	// TallyStates is the first of one count per state, in States order.
	TallyStates = 0
	// TallyDismissed counts problems closed as dismissed (撤销).
	TallyDismissed = TallyStates + stateCount
	// TallyOnTime counts closed rectified problems whose last verification
	// came on time (see StatsRow).
	TallyOnTime = TallyDismissed + 1
	// TallyExtended counts problems with an approved extension.
	TallyExtended = TallyOnTime + 1
	// TallyLevels is the first of one count per level, in Levels order: the
	// level at the tally's time (LevelAt), not the one last alerted.
	TallyLevels = TallyExtended + 1
	// TallyFlagged counts the evidence items carrying a flag of the
	// evidence checks (Problem.FlaggedEvidence): not problems, items.
	TallyFlagged = TallyLevels + 4
	// TallyCounts is the number of counts.
	TallyCounts = TallyFlagged + 1
)

// Tally is what a set of problems adds up to at one time: counts (indexed by
// the Tally constants) and, for the closed rectified problems whose first
// assignment is known, how many took each number of days to close
// (RollupFacts.CloseDays). A Tally may hold negative numbers when it is a
// change rather than a sum.
type Tally struct {
	Counts [TallyCounts]int64
	Days   map[int64]int64 // whole days to close → problems; no zero values
}

// Add adds sign × u to t.
func (t *Tally) Add(u *Tally, sign int64) {
	for i, v := range u.Counts {
		t.Counts[i] += sign * v
	}
	for d, v := range u.Days {
		t.AddDays(d, sign*v)
	}
}

// AddDays adds n problems that took d days to close.
func (t *Tally) AddDays(d, n int64) {
	if n == 0 {
		return
	}
	if t.Days == nil {
		t.Days = map[int64]int64{}
	}
	if t.Days[d] += n; t.Days[d] == 0 {
		delete(t.Days, d)
	}
}

// IsZero reports whether t counts nothing.
func (t *Tally) IsZero() bool {
	return t.Counts == [TallyCounts]int64{} && len(t.Days) == 0
}

// Clone returns a copy of t that shares nothing with it.
func (t *Tally) Clone() *Tally {
	c := &Tally{Counts: t.Counts}
	for d, v := range t.Days {
		c.AddDays(d, v)
	}
	return c
}

// Equal reports whether t and u count the same.
func (t *Tally) Equal(u *Tally) bool {
	if t.Counts != u.Counts || len(t.Days) != len(u.Days) {
		return false
	}
	for d, v := range t.Days {
		if u.Days[d] != v {
			return false
		}
	}
	return true
}

// stateIndex and levelIndex return the count of a state and a level.
func stateIndex(s State) int { return TallyStates + slices.Index(States, s) }
func levelIndex(l Level) int { return TallyLevels + l.rank() - 1 }

// TallyKey names one group of one grouping (a GroupBys value) within one
// scope: Scope "" holds every problem, a unit's id the problems it leads or
// cooperates in (what its officers see). Value is the group's key as
// StatsRow.Key gives it.
type TallyKey struct {
	Scope, Grouping, Value string
}

// Compare orders keys by scope, grouping, then value.
func (k TallyKey) Compare(o TallyKey) int {
	return cmp.Or(cmp.Compare(k.Scope, o.Scope), cmp.Compare(k.Grouping, o.Grouping), cmp.Compare(k.Value, o.Value))
}

// TallyDelta is a change of one group's tally at an instant: the sums at
// any time T are the sum of every delta at or before T.
type TallyDelta struct {
	At    time.Time
	Key   TallyKey
	Tally Tally
}

// Verdict is whether a problem's last verification came on time.
type Verdict uint8

// Verdicts.
const (
	VerdictNone   Verdict = iota // never verified
	VerdictOnTime                // its lateness at the verification was not positive
	VerdictLate
)

// RollupFacts is what a problem's tally needs from its history besides the
// record: when it was first assigned, whether its last verification came on
// time, and the whole days its last close took. A store keeps them beside
// the record and hands them back to RollupWrite on the next write.
type RollupFacts struct {
	AssignedAt time.Time // the first assignment; zero before it
	Verdict    Verdict
	// CloseDays is the whole days from AssignedAt to the last close, a
	// started day counting as one; -1 when not known (never closed as
	// rectified, or never assigned).
	CloseDays int64
}

// NoRollupFacts are the facts of a problem just created.
var NoRollupFacts = RollupFacts{CloseDays: -1}

// daysBetween is the whole days from a to b, a started day counting as one;
// 0 when b is not after a.
func daysBetween(a, b time.Time) int64 {
	d := b.Sub(a)
	if d <= 0 {
		return 0
	}
	return int64((d + Day - 1) / Day)
}

// next returns the facts after entries, which one command appended to
// before (the record it ran on; nil for a create).
func (f RollupFacts) next(before *Problem, entries []Entry) RollupFacts {
	for i := range entries {
		e := &entries[i]
		switch Trigger(e.Action) {
		case TriggerAssign:
			if f.AssignedAt.IsZero() {
				f.AssignedAt = e.At
			}
		case TriggerVerify:
			f.Verdict = VerdictLate
			if before != nil {
				if late, ok := before.Lateness(e.At); ok && late <= 0 {
					f.Verdict = VerdictOnTime
				}
			}
		case TriggerClose:
			f.CloseDays = -1
			if !f.AssignedAt.IsZero() {
				f.CloseDays = daysBetween(f.AssignedAt, e.At)
			}
		}
	}
	return f
}

// profile is a problem's contribution as a function of time: base in every
// group of keys, plus its level, which steps up at each crossing.
type profile struct {
	keys      []TallyKey
	base      Tally
	level     Level       // the level before the first crossing
	crossings []time.Time // running clocks: when each next level begins
}

// rollupProfile returns p's contribution given its facts f, under pol.
func rollupProfile(p *Problem, f RollupFacts, pol Policy) *profile {
	pr := &profile{keys: tallyKeys(p)}
	b := &pr.base
	b.Counts[stateIndex(p.State)] = 1
	if p.State == StateClosed {
		switch p.Resolution {
		case ResolutionDismissed:
			b.Counts[TallyDismissed] = 1
		case ResolutionRectified:
			if f.Verdict == VerdictOnTime {
				b.Counts[TallyOnTime] = 1
			}
			if f.CloseDays >= 0 {
				b.AddDays(f.CloseDays, 1)
			}
		}
	}
	if p.Extended() {
		b.Counts[TallyExtended] = 1
	}
	b.Counts[TallyFlagged] = int64(p.FlaggedEvidence())
	if !p.clockRuns() {
		return pr
	}
	if p.State == StateSubmitted && p.Supervision.PausedAt != nil {
		pr.level = p.LevelAt(*p.Supervision.PausedAt, pol) // frozen
		return pr
	}
	// LevelAt: due soon from E − DueSoon on, overdue once past E, red past
	// E + Red, listed past E + Listed (late > threshold: one nanosecond on).
	e := *p.EffectiveDeadline()
	pr.crossings = []time.Time{e.Add(-pol.DueSoon), e.Add(1), e.Add(pol.Red + 1), e.Add(pol.Listed + 1)}
	return pr
}

// levelAt is the profile's level at t.
func (pr *profile) levelAt(t time.Time) Level {
	l := pr.level
	for i, c := range pr.crossings {
		if !t.Before(c) {
			l = Levels[i]
		}
	}
	return l
}

// at is the profile's tally at t; its Days are the profile's.
func (pr *profile) at(t time.Time) Tally {
	out := pr.base
	if l := pr.levelAt(t); l != LevelNone {
		out.Counts[levelIndex(l)] = 1
	}
	return out
}

// tallyKeys lists the groups p belongs to: one per grouping, in the scope of
// everyone and of each unit involved.
func tallyKeys(p *Problem) []TallyKey {
	scopes := append([]string{""}, p.Units()...)
	slices.Sort(scopes)
	scopes = slices.Compact(scopes)
	wp := ""
	if p.WorkPoint != 0 {
		wp = strconv.Itoa(p.WorkPoint)
	}
	values := [...]string{p.CountyID, p.LeadUnit, string(p.Source), wp, string(p.State)}
	out := make([]TallyKey, 0, len(scopes)*len(values))
	for _, s := range scopes {
		for i, g := range GroupBys {
			out = append(out, TallyKey{Scope: s, Grouping: g, Value: values[i]})
		}
	}
	return out
}

// deltaList gathers deltas as changes produce them; a store merges them.
type deltaList []TallyDelta

// emit adds sign × u at t to each of keys.
func (dl *deltaList) emit(t time.Time, keys []TallyKey, u *Tally, sign int64) {
	if u.IsZero() {
		return
	}
	v := *u
	if sign < 0 {
		v = Tally{}
		v.Add(u, -1)
	}
	for _, k := range keys {
		*dl = append(*dl, TallyDelta{At: t, Key: k, Tally: v})
	}
}

// step is the change of a profile's tally at its crossing i.
func (pr *profile) step(i int) Tally {
	var st Tally
	st.Counts[TallyLevels+i] = 1
	if i > 0 {
		st.Counts[TallyLevels+i-1] = -1
	} else if pr.level != LevelNone {
		st.Counts[levelIndex(pr.level)] = -1
	}
	return st
}

// change adds the deltas of a problem that was old (nil: absent) until t and
// is cur (nil: absent) from t on: at t, what its tally becomes in each
// group it is in then, less what it was in each group it was in; and at each
// later crossing, the step cur will take, less the step old would have
// taken. What old and cur share (the same groups, the same steps at the
// same instants: most commands) cancels out and is left out.
func (dl *deltaList) change(old, cur *profile, t time.Time) {
	var oldKeys, curKeys, both []TallyKey
	if old != nil {
		oldKeys = old.keys
	}
	if cur != nil {
		curKeys = cur.keys
	}
	onlyOld := oldKeys[:0:0]
	for _, k := range oldKeys {
		if slices.Contains(curKeys, k) {
			both = append(both, k)
		} else {
			onlyOld = append(onlyOld, k)
		}
	}
	onlyCur := curKeys[:0:0]
	for _, k := range curKeys {
		if !slices.Contains(oldKeys, k) {
			onlyCur = append(onlyCur, k)
		}
	}
	var was, is Tally
	if old != nil {
		was = old.at(t)
	}
	if cur != nil {
		is = cur.at(t)
	}
	diff := is.Clone()
	diff.Add(&was, -1)
	dl.emit(t, both, diff, 1)
	dl.emit(t, onlyOld, &was, -1)
	dl.emit(t, onlyCur, &is, 1)
	// Crossings after t: a step both take at the same instant moves only
	// between the groups they do not share.
	shared := map[int]bool{}
	if old != nil {
		for i, c := range old.crossings {
			if !c.After(t) {
				continue
			}
			st := old.step(i)
			if cur != nil && i < len(cur.crossings) && cur.crossings[i].Equal(c) && cur.step(i).Counts == st.Counts {
				shared[i] = true
				dl.emit(c, onlyOld, &st, -1)
				dl.emit(c, onlyCur, &st, 1)
				continue
			}
			dl.emit(c, oldKeys, &st, -1)
		}
	}
	if cur != nil {
		for i, c := range cur.crossings {
			if c.After(t) && !shared[i] {
				st := cur.step(i)
				dl.emit(c, curKeys, &st, 1)
			}
		}
	}
}

// RollupChange is what one write of a problem changes in the tallies.
type RollupChange struct {
	Facts  RollupFacts  // the problem's facts after the write
	At     time.Time    // the write's instant (its last command's)
	Deltas []TallyDelta // a group may change more than once at an instant
}

// RollupWrite returns what writing problem p with entries changes in the
// tallies under pol. old is the record the write replaces, with its facts;
// nil (and NoRollupFacts) for a new problem, whose entries then run from
// its creation and may span several versions (a problem created and
// assigned at once): each version is a change of its own at its time. Each
// command's change is at its entries' time (its record's UpdatedAt when it
// has none). A store calls it for every record it writes, whatever the
// path, and keeps the facts and the deltas.
func RollupWrite(old *Problem, facts RollupFacts, p *Problem, entries []Entry, pol Policy) (RollupChange, error) {
	var ds deltaList
	var t time.Time
	if old == nil && spansVersions(entries) {
		if entries[0].ProblemID == "" {
			// Entries as a command builds them: the store adds the id.
			entries = slices.Clone(entries)
			for i := range entries {
				entries[i].ProblemID = p.ID
			}
		}
		err := replaySteps(entries, func(before, after *Problem, step []Entry) {
			facts, t = ds.step(before, facts, after, step, pol)
		})
		if err != nil {
			return RollupChange{}, err
		}
	} else {
		facts, t = ds.step(old, facts, p, entries, pol)
	}
	return RollupChange{Facts: facts, At: t, Deltas: ds}, nil
}

// RollupHistory returns every tally delta a problem's whole history has
// caused under pol, and its facts at the end: what its writes added up to.
// It is how rollups are counted afresh (schema upgrades, audits, tests).
func RollupHistory(hist []Entry, pol Policy) (RollupFacts, []TallyDelta, error) {
	var ds deltaList
	facts := NoRollupFacts
	err := replaySteps(hist, func(before, after *Problem, step []Entry) {
		facts, _ = ds.step(before, facts, after, step, pol)
	})
	if err != nil {
		return facts, nil, err
	}
	return facts, ds, nil
}

// RollupFactsOf returns the facts of a problem from its history.
func RollupFactsOf(hist []Entry) (RollupFacts, error) {
	facts := NoRollupFacts
	err := replaySteps(hist, func(before, _ *Problem, step []Entry) {
		facts = facts.next(before, step)
	})
	return facts, err
}

// step adds the deltas of one command (step) that turned before into after,
// and returns the facts after it and its instant.
func (ds *deltaList) step(before *Problem, facts RollupFacts, after *Problem, step []Entry, pol Policy) (RollupFacts, time.Time) {
	var old *profile
	if before != nil {
		old = rollupProfile(before, facts, pol)
	}
	facts = facts.next(before, step)
	t := after.UpdatedAt
	if len(step) > 0 {
		t = step[len(step)-1].At
	}
	ds.change(old, rollupProfile(after, facts, pol), t)
	return facts, t
}

func spansVersions(entries []Entry) bool {
	return len(entries) > 1 && entries[0].Version != entries[len(entries)-1].Version
}

// TallyOf is problem p's tally at t, given its facts, under pol: what it
// adds to each of its groups (TallyKeys) then.
func TallyOf(p *Problem, f RollupFacts, t time.Time, pol Policy) Tally {
	return rollupProfile(p, f, pol).at(t)
}

// TallyKeys lists the groups problem p is counted in: for each scope (""
// and each unit involved) one group per grouping.
func TallyKeys(p *Problem) []TallyKey { return tallyKeys(p) }
