// Package rollup is how every store keeps the statistics' tallies
// (workflow.Tally) alike: where each tally delta of a write goes, the
// periods of the daily series, the encodings of tallies and facts, and a
// recount from the histories to compare with. What a write changes is the
// domain's (workflow.RollupWrite); each store only maps these views to its
// own keys. docs/design.md#rollups shows both layouts.
//
// A store keeps four views of the deltas:
//
//   - Live: for each group, the sum of every delta at or before the store's
//     mark (the latest write it has folded in);
//   - Due: deltas after the mark (level crossings to come), by instant and
//     group, folded into Live once a write passes them;
//   - Days and Months: for each group, the sum of the deltas of each day and
//     month in Asia/Shanghai, whenever they fall.
//
// The tallies at an instant T at or after the mark are Live plus the Due
// deltas up to T; at the end of any day D, the Months before D's month plus
// the Days of D's month up to D. Any other instant before the mark cannot
// be answered from these views.
package rollup

import (
	"cmp"
	"slices"
	"time"

	"github.com/jdz-eco/rectify/workflow"
)

// Key is a group: workflow.TallyKey.
type Key = workflow.TallyKey

// View names where a delta is kept.
type View byte

// The views (see the package documentation).
const (
	Live View = iota
	Due
	Days
	Months
)

// Changes are tally deltas of writes not yet kept, merged by instant and
// group. The zero value is empty and ready.
type Changes struct {
	d    map[at]*workflow.Tally
	last int64 // the latest write's instant, unix nanoseconds; 0 none
}

type at struct {
	ns  int64
	key Key
}

// Add adds the deltas of one write made at writeAt.
func (c *Changes) Add(writeAt time.Time, ds []workflow.TallyDelta) {
	if c.d == nil {
		c.d = map[at]*workflow.Tally{}
	}
	c.last = max(c.last, writeAt.UnixNano())
	for i := range ds {
		k := at{ds[i].At.UnixNano(), ds[i].Key}
		if t := c.d[k]; t != nil {
			t.Add(&ds[i].Tally, 1)
		} else {
			c.d[k] = ds[i].Tally.Clone()
		}
	}
}

// Empty reports whether c holds no write.
func (c *Changes) Empty() bool { return c.last == 0 && len(c.d) == 0 }

// Last is the instant of the latest write added (unix nanoseconds).
func (c *Changes) Last() int64 { return c.last }

// Reset empties c.
func (c *Changes) Reset() { *c = Changes{} }

// Entry is one delta as a view keeps it: the group, the instant (Due) or
// period (Days, Months), and the tally.
type Entry struct {
	View   View
	Key    Key
	At     int64 // Due: unix nanoseconds
	Period int32 // Days: Day; Months: Month
	Tally  *workflow.Tally
}

// Route returns where a store whose mark is mark keeps each change: the
// Live or Due entry and the Days and Months entries, merged, in view, key
// and time order. A store adds each entry's tally to what it holds there.
func (c *Changes) Route(mark int64) []Entry {
	m := map[entryKey]*workflow.Tally{}
	add := func(v View, k Key, ns int64, p int32, t *workflow.Tally) {
		ek := entryKey{v, k, ns, p}
		if x := m[ek]; x != nil {
			x.Add(t, 1)
		} else {
			m[ek] = t.Clone()
		}
	}
	for a, t := range c.d {
		if a.ns <= mark {
			add(Live, a.key, 0, 0, t)
		} else {
			add(Due, a.key, a.ns, 0, t)
		}
		add(Days, a.key, 0, Day(a.ns), t)
		add(Months, a.key, 0, Month(a.ns), t)
	}
	return entries(m)
}

type entryKey struct {
	view   View
	key    Key
	ns     int64
	period int32
}

func entries(m map[entryKey]*workflow.Tally) []Entry {
	out := make([]Entry, 0, len(m))
	for k, t := range m {
		if !t.IsZero() {
			out = append(out, Entry{View: k.view, Key: k.key, At: k.ns, Period: k.period, Tally: t})
		}
	}
	slices.SortFunc(out, compareEntries)
	return out
}

func compareEntries(a, b Entry) int {
	return cmp.Or(cmp.Compare(a.View, b.View), a.Key.Compare(b.Key), cmp.Compare(a.At, b.At), cmp.Compare(a.Period, b.Period))
}

// Mark returns the mark a store moves to when it keeps c: its latest write,
// never backwards. Due deltas at or before the new mark move to Live first.
func (c *Changes) Mark(mark int64) int64 { return max(mark, c.last) }

// Items returns the changes as deltas by instant, in instant and key order.
func (c *Changes) Items() []Item {
	out := make([]Item, 0, len(c.d))
	for a, t := range c.d {
		if !t.IsZero() {
			out = append(out, Item{Key: a.key, At: a.ns, Tally: t})
		}
	}
	slices.SortFunc(out, func(a, b Item) int { return cmp.Or(cmp.Compare(a.At, b.At), a.Key.Compare(b.Key)) })
	return out
}

// AddItems adds deltas kept as items (Items) of writes whose latest was at
// last (unix nanoseconds).
func (c *Changes) AddItems(last int64, items []Item) {
	if c.d == nil {
		c.d = map[at]*workflow.Tally{}
	}
	c.last = max(c.last, last)
	for _, it := range items {
		k := at{it.At, it.Key}
		if t := c.d[k]; t != nil {
			t.Add(it.Tally, 1)
		} else {
			c.d[k] = it.Tally.Clone()
		}
	}
}
