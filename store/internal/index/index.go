// Package index is what every store indexes alike: the terms a problem is
// indexed under, which index serves a filter, how a problem's index entries
// change when its record does, the wake index's times and the facts its
// entries carry for an index-only sweep. Each store only maps a Term to its
// own keys (store/bolt: a bucket per index and binary keys; store/etcd: key
// paths under ix/); docs/design.md#indexes shows both layouts.
//
// To index something new (a rollup, a composite filter), add a Name, emit
// its terms in Terms, place it in Filter's order if filters use it, and map
// it to a bucket or key in each store; Diff and the stores' writes follow.
package index

import (
	"strconv"
	"time"

	"github.com/jdz-eco/rectify/workflow"
)

// Name names a secondary index. The names are part of store/etcd's key
// layout (ix/<name>/…); store/bolt maps each to a bucket.
type Name string

// The indexes. Value indexes hold a problem under a string; time indexes
// under a second, in time order.
const (
	State    Name = "state"    // Problem.State
	Lead     Name = "lead"     // Problem.LeadUnit
	County   Name = "county"   // Problem.CountyID
	Unit     Name = "unit"     // every lead or cooperating unit (Problem.Units)
	Tag      Name = "tag"      // every alert tag (Problem.Tags)
	Evidence Name = "evidence" // every evidence file's SHA-256 (Problem.EvidenceHashes)
	Source   Name = "source"   // Problem.Source
	Work     Name = "wp"       // Problem.WorkPoint, in decimal (none: not indexed)
	Deadline Name = "deadline" // Problem.Deadline, its second (time index)
	Wake     Name = "wake"     // Supervision.WakeAt, rounded up to the second (time index), carrying WakeFacts
)

// Names lists every index.
var Names = []Name{State, Lead, County, Unit, Tag, Evidence, Source, Work, Deadline, Wake}

// Filters lists the value indexes a filter may combine (Filter), all but
// the evidence index: the terms of the problem list's filters and of the
// unit officers' visibility.
var Filters = []Name{State, Lead, County, Unit, Tag, Source, Work}

// Timed reports whether n orders problems by a time (Term.Secs) rather than
// a value.
func (n Name) Timed() bool { return n == Deadline || n == Wake }

// Term is one entry of a problem in one index: under Value in a value index,
// at second Secs in a time index. Facts is what the entry carries besides
// its key: the wake index's WakeFacts (possibly empty), nothing elsewhere.
type Term struct {
	Index Name
	Value string
	Secs  uint64
	Facts string
}

// sameKey reports whether t and u are the same entry of the same problem,
// whatever they carry.
func (t Term) sameKey(u Term) bool {
	return t.Index == u.Index && t.Value == u.Value && t.Secs == u.Secs
}

// Terms returns the index entries of p as it stands, each once: what a
// store must hold for it, no more.
func Terms(p *workflow.Problem) []Term {
	out := make([]Term, 0, 8+len(p.CooperatingUnits)+len(p.Evidence))
	add := func(n Name, v string) {
		if v == "" {
			return
		}
		t := Term{Index: n, Value: v}
		for _, u := range out {
			if u.sameKey(t) {
				return
			}
		}
		out = append(out, t)
	}
	add(State, string(p.State))
	add(Lead, p.LeadUnit)
	add(County, p.CountyID)
	add(Unit, p.LeadUnit)
	for _, u := range p.CooperatingUnits {
		add(Unit, u)
	}
	for _, tag := range p.Tags() {
		add(Tag, tag)
	}
	for _, sha := range p.EvidenceHashes() {
		add(Evidence, sha)
	}
	add(Source, string(p.Source))
	if p.WorkPoint != 0 {
		add(Work, strconv.Itoa(p.WorkPoint))
	}
	if p.Deadline != nil {
		out = append(out, Term{Index: Deadline, Secs: DeadlineSeconds(*p.Deadline)})
	}
	if w := p.Supervision.WakeAt; w != nil {
		out = append(out, Term{Index: Wake, Secs: WakeSeconds(*w), Facts: string(WakeFacts(p))})
	}
	return out
}

// Diff returns the entries to delete and to put when a problem changes from
// old (nil for a new problem) to p. An entry whose key stays but whose Facts
// change is only put again, never also deleted: a store may apply the
// deletes before the puts, or all of them in one transaction that allows a
// key only once (etcd).
func Diff(old, p *workflow.Problem) (dels, puts []Term) {
	after := Terms(p)
	if old == nil {
		return nil, after
	}
	before := Terms(old)
	for _, b := range before {
		if !containsKey(after, b) {
			dels = append(dels, b)
		}
	}
	for _, a := range after {
		if i := indexKey(before, a); i < 0 || before[i].Facts != a.Facts {
			puts = append(puts, a)
		}
	}
	return dels, puts
}

func indexKey(ts []Term, t Term) int {
	for i, u := range ts {
		if u.sameKey(t) {
			return i
		}
	}
	return -1
}

func containsKey(ts []Term, t Term) bool { return indexKey(ts, t) >= 0 }

// Filter returns the indexed predicates of f, most selective first: an
// evidence file (normally held by one problem), then an alert tag (few
// problems carry one), then a unit, lead unit, county, work point, source
// and state, which may each cover a good part of the ledger. A store
// intersects them (store/bolt: bitmaps of each term; store/etcd: a
// leapfrog over their keys) or walks the first and checks the others;
// none means f names no indexed field and the store walks every problem.
func Filter(f *workflow.ProblemFilter) []Term {
	var out []Term
	add := func(n Name, v string) {
		if v != "" {
			out = append(out, Term{Index: n, Value: v})
		}
	}
	add(Evidence, f.Evidence)
	add(Tag, f.Tag)
	add(Unit, f.Unit)
	add(Lead, f.LeadUnit)
	add(County, f.County)
	if f.WorkPoint != 0 {
		add(Work, strconv.Itoa(f.WorkPoint))
	}
	add(Source, string(f.Source))
	add(State, string(f.State))
	return out
}

// DeadlineSeconds is the second of the deadline index for deadline t;
// deadlines before 1970 (which the domain refuses anyway) sort first.
func DeadlineSeconds(t time.Time) uint64 { return uint64(max(t.Unix(), 0)) }

// WakeSeconds returns the second from which a problem that wakes at t is due:
// t rounded up to a whole second, so that the wake index never hands out a
// problem before its WakeAt (a wake time of 10:00:00.5 is due from
// 10:00:01). Times before 1970 are due from the epoch.
func WakeSeconds(t time.Time) uint64 {
	secs := t.Unix()
	if t.Nanosecond() > 0 {
		secs++
	}
	return uint64(max(secs, 0))
}

// DueUntil is the last second of the wake index due at now, and false when
// nothing can be (now is before 1970).
func DueUntil(now time.Time) (uint64, bool) {
	if now.Unix() < 0 {
		return 0, false
	}
	return uint64(now.Unix()), true
}
