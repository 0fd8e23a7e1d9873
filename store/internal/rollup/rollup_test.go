package rollup

import (
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/jdz-eco/rectify/workflow"
)

func drawTally(t *rapid.T, label string) *workflow.Tally {
	var tl workflow.Tally
	for i := range tl.Counts {
		tl.Counts[i] = rapid.Int64Range(-3, 3).Draw(t, label)
	}
	for range rapid.IntRange(0, 4).Draw(t, label+"days") {
		tl.AddDays(rapid.Int64Range(0, 2000).Draw(t, label+"d"), rapid.Int64Range(-2, 2).Draw(t, label+"n"))
	}
	return &tl
}

// TestEncodings: tallies, facts and items decode to what was encoded.
func TestEncodings(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		tl := drawTally(t, "t")
		got, err := DecodeTally(EncodeTally(tl))
		if err != nil || !got.Equal(tl) {
			t.Fatalf("tally %+v decodes to %+v (%v)", tl, got, err)
		}
		f := workflow.RollupFacts{Verdict: workflow.Verdict(rapid.IntRange(0, 2).Draw(t, "verdict")), CloseDays: rapid.Int64Range(-1, 5000).Draw(t, "days")}
		if rapid.Bool().Draw(t, "assigned") {
			f.AssignedAt = time.Unix(0, rapid.Int64Range(1, 1<<62).Draw(t, "at")).UTC()
		}
		if g, err := DecodeFacts(EncodeFacts(f)); err != nil || g != f {
			t.Fatalf("facts %+v decode to %+v (%v)", f, g, err)
		}
		items := []Item{{Key: Key{Scope: "fuliang", Grouping: "state", Value: "closed"}, At: rapid.Int64().Draw(t, "ns"), Tally: tl}}
		back, err := DecodeItems(AppendItems(nil, items))
		if err != nil || len(back) != 1 || back[0].Key != items[0].Key || back[0].At != items[0].At || !back[0].Tally.Equal(tl) {
			t.Fatalf("items %+v decode to %+v (%v)", items, back, err)
		}
	})
	if _, err := DecodeTally([]byte{0x80}); err == nil {
		t.Error("a truncated tally decodes")
	}
	if _, err := DecodeFacts([]byte{9, 0, 0, 0}); err == nil {
		t.Error("facts of an unknown format decode")
	}
}

// TestPeriods: the days and months of Asia/Shanghai, and the ends of days
// workflow.ParseAsOf gives.
func TestPeriods(t *testing.T) {
	sh := func(s string) time.Time {
		v, err := time.ParseInLocation("2006-01-02 15:04:05.999999999", s, workflow.Shanghai)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	a, b := sh("2021-06-30 23:59:59.999999999"), sh("2021-07-01 00:00:00")
	if Day(b.UnixNano()) != Day(a.UnixNano())+1 || Month(b.UnixNano()) != Month(a.UnixNano())+1 {
		t.Errorf("midnight in Shanghai does not start a day and a month")
	}
	if MonthOfDay(Day(a.UnixNano())) != Month(a.UnixNano()) || FirstDay(Month(b.UnixNano())) != Day(b.UnixNano()) {
		t.Errorf("months and days disagree")
	}
	at, err := workflow.ParseAsOf("2021-06-30")
	if err != nil {
		t.Fatal(err)
	}
	if d, ok := DayEnd(at); !ok || d != Day(a.UnixNano()) {
		t.Errorf("as_of 2021-06-30 is not the end of that day: %v %v", d, ok)
	}
	if _, ok := DayEnd(a.Add(-1)); ok {
		t.Error("a nanosecond before the end of a day ends it")
	}
}

// TestRouteAndMark: deltas at or before the mark go live, later ones are
// due; every delta goes to its day and month; the mark never goes back.
func TestRouteAndMark(t *testing.T) {
	k := Key{Grouping: "state", Value: "found"}
	one := &workflow.Tally{}
	one.Counts[0] = 1
	var c Changes
	t0 := time.Date(2021, 7, 1, 2, 0, 0, 0, time.UTC)
	c.Add(t0, []workflow.TallyDelta{{At: t0, Key: k, Tally: *one}, {At: t0.Add(time.Hour), Key: k, Tally: *one}})
	if c.Mark(t0.Add(time.Minute).UnixNano()) != t0.Add(time.Minute).UnixNano() || c.Mark(0) != t0.UnixNano() {
		t.Error("the mark moves back, or not to the latest write")
	}
	views := map[View]int{}
	for _, e := range c.Route(t0.UnixNano()) {
		views[e.View] += int(e.Tally.Counts[0])
	}
	if views[Live] != 1 || views[Due] != 1 || views[Days] != 2 || views[Months] != 2 {
		t.Errorf("routed %v", views)
	}
}
