package rollup

import (
	"context"
	"fmt"
	"slices"

	"github.com/jdz-eco/rectify/workflow"
)

// Content is what a store's rollups hold, every view as values: what a
// recount from the histories gives (Recount) and what a store reads back
// from its keys (a store's dump), so that the two can be compared (Diff).
type Content struct {
	m map[entryKey]*workflow.Tally
}

// NewContent returns an empty content.
func NewContent() *Content { return &Content{m: map[entryKey]*workflow.Tally{}} }

// Add adds t to entry e's place (e.Tally is ignored).
func (c *Content) Add(e Entry, t *workflow.Tally) {
	ek := entryKey{e.View, e.Key, e.At, e.Period}
	if x := c.m[ek]; x != nil {
		x.Add(t, 1)
		if x.IsZero() {
			delete(c.m, ek)
		}
	} else if !t.IsZero() {
		c.m[ek] = t.Clone()
	}
}

// AddEncoded adds an encoded tally at e's place.
func (c *Content) AddEncoded(e Entry, b []byte) error {
	t, err := DecodeTally(b)
	if err != nil {
		return err
	}
	c.Add(e, t)
	return nil
}

// Entries returns the content's entries in order.
func (c *Content) Entries() []Entry { return entries(c.m) }

// Marks gives the mark a store keeps for a scope (one mark for every scope,
// or one each).
type Marks func(scope string) int64

// Recount counts the rollups afresh under pol: each calls fn with every
// problem's number and whole history; each problem's deltas
// (workflow.RollupHistory) are kept where a store with marks keeps them.
// facts, if not nil, is called with each problem's facts at the end of its
// history, for the caller to keep or compare.
func Recount(ctx context.Context, each func(fn func(n uint64, hist []workflow.Entry) error) error, pol workflow.Policy, marks Marks,
	facts func(n uint64, f workflow.RollupFacts) error) (*Content, error) {
	c := NewContent()
	err := each(func(n uint64, hist []workflow.Entry) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		f, ds, err := workflow.RollupHistory(hist, pol)
		if err != nil {
			return fmt.Errorf("problem %d: history does not replay: %w", n, err)
		}
		if facts != nil {
			if err := facts(n, f); err != nil {
				return err
			}
		}
		c.AddDeltas(ds, marks)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// AddDeltas adds deltas where a store with marks keeps them.
func (c *Content) AddDeltas(ds []workflow.TallyDelta, marks Marks) {
	for i := range ds {
		d := &ds[i]
		ns := d.At.UnixNano()
		if ns <= marks(d.Key.Scope) {
			c.Add(Entry{View: Live, Key: d.Key}, &d.Tally)
		} else {
			c.Add(Entry{View: Due, Key: d.Key, At: ns}, &d.Tally)
		}
		c.Add(Entry{View: Days, Key: d.Key, Period: Day(ns)}, &d.Tally)
		c.Add(Entry{View: Months, Key: d.Key, Period: Month(ns)}, &d.Tally)
	}
}

// Diff returns an error naming the first place where got differs from
// want, nil when they are equal.
func Diff(want, got *Content) error {
	var keys []entryKey
	for k := range want.m {
		keys = append(keys, k)
	}
	for k := range got.m {
		if _, ok := want.m[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b entryKey) int {
		return compareEntries(Entry{View: a.view, Key: a.key, At: a.ns, Period: a.period}, Entry{View: b.view, Key: b.key, At: b.ns, Period: b.period})
	})
	empty := &workflow.Tally{}
	for _, k := range keys {
		w, g := want.m[k], got.m[k]
		if w == nil {
			w = empty
		}
		if g == nil {
			g = empty
		}
		if !w.Equal(g) {
			return fmt.Errorf("the %s tally of %s is %s, a recount from the histories gives %s", describe(k), describeKey(k.key), describeTally(g), describeTally(w))
		}
	}
	return nil
}

func describe(k entryKey) string {
	switch k.view {
	case Live:
		return "live"
	case Due:
		return fmt.Sprintf("due (%s)", timeOf(k.ns))
	case Days:
		y, m, d := dayDate(k.period)
		return fmt.Sprintf("daily (%04d-%02d-%02d)", y, m, d)
	}
	return fmt.Sprintf("monthly (%04d-%02d)", k.period/12, k.period%12+1)
}

func describeKey(k Key) string {
	scope := "every problem"
	if k.Scope != "" {
		scope = "unit " + k.Scope
	}
	return fmt.Sprintf("%s=%q (%s)", k.Grouping, k.Value, scope)
}

func describeTally(t *workflow.Tally) string {
	if t.IsZero() {
		return "nothing"
	}
	return fmt.Sprintf("%v days %v", t.Counts, t.Days)
}
