package workflow_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/jdz-eco/rectify/workflow"
)

// recordsOnly hides a store's capabilities: the service counts statistics
// from the records and histories, as before rollups.
type recordsOnly struct{ workflow.Store }

// countingRollups passes Tallies through and counts the answers given.
type countingRollups struct {
	workflow.Store
	answered, refused int
}

func (c *countingRollups) Tallies(ctx context.Context, q workflow.TallyQuery) (map[string]*workflow.Tally, bool, error) {
	m, ok, err := c.Store.(workflow.Rollups).Tallies(ctx, q)
	if ok {
		c.answered++
	} else {
		c.refused++
	}
	return m, ok, err
}

// TestStatsFromRollupsEqualTheRecords: the statistics the store's rollups
// give equal those counted from the records (now) and replayed from the
// histories (as_of), for every grouping, for the bureau and for unit
// officers, at the end of every day from before the first problem to after
// the last command, and now; and the rollups answered every one of them.
func TestStatsFromRollupsEqualTheRecords(t *testing.T) {
	s := buildScenario(t)
	ctx := context.Background()
	fast := &countingRollups{Store: s.store}
	viaRollups := workflow.NewService(fast, s.clock)
	viaRecords := workflow.NewService(recordsOnly{s.store}, s.clock)
	var times []time.Time
	for d := cst("2021-06-01 12:00"); d.Before(cst("2021-11-30 12:00")); d = d.Add(24 * time.Hour) {
		at, err := workflow.ParseAsOf(d.In(workflow.Shanghai).Format(time.DateOnly))
		if err != nil {
			t.Fatal(err)
		}
		times = append(times, at)
	}
	times = append(times, time.Time{}) // now
	for _, a := range []workflow.Actor{bureau, officer, outsider, coop} {
		for _, at := range times {
			want, err := viaRecords.StatsReports(ctx, a, workflow.ProblemFilter{}, at, workflow.GroupBys...)
			if err != nil {
				t.Fatal(err)
			}
			got, err := viaRollups.StatsReports(ctx, a, workflow.ProblemFilter{}, at, workflow.GroupBys...)
			if err != nil {
				t.Fatal(err)
			}
			wj, _ := json.Marshal(want)
			gj, _ := json.Marshal(got)
			if string(wj) != string(gj) {
				t.Fatalf("%s at %v:\nrollups %s\nrecords %s", a.ID, at, gj, wj)
			}
		}
	}
	if fast.refused != 0 || fast.answered != 4*len(times)*len(workflow.GroupBys) {
		t.Errorf("the rollups answered %d queries and refused %d, want all %d answered", fast.answered, fast.refused, 4*len(times)*len(workflow.GroupBys))
	}
	// An instant in the past that ends no day: the records answer.
	fast.answered, fast.refused = 0, 0
	if _, err := viaRollups.Stats(ctx, bureau, workflow.GroupByCounty, cst("2021-07-10 11:30")); err != nil || fast.refused != 1 {
		t.Errorf("a past instant: %v, %d refusals, want the records to answer", err, fast.refused)
	}
	// Another policy than the rollups': the records answer.
	pol := workflow.DefaultPolicy()
	pol.Red = 10 * workflow.Day
	if err := viaRollups.SetPolicy(pol); err != nil {
		t.Fatal(err)
	}
	fast.answered, fast.refused = 0, 0
	if _, err := viaRollups.Stats(ctx, bureau, workflow.GroupByCounty, time.Time{}); err != nil || fast.refused != 1 {
		t.Errorf("another policy: %v, %d refusals, want the records to answer", err, fast.refused)
	}
}

// TestStatsByLevel: the levels of the scenario's open problems at the end
// of days before, during and after its commands, from the rollups.
func TestStatsByLevel(t *testing.T) {
	s := buildScenario(t)
	ctx := context.Background()
	for _, c := range []struct {
		day  string
		want map[workflow.Level]int
	}{
		// late (deadline 07-01) overdue; overdue (07-10) due soon from 07-03
		{"2021-07-03", map[workflow.Level]int{workflow.LevelDueSoon: 1, workflow.LevelOverdue: 1}},
		// onTime (07-12) due soon too
		{"2021-07-09", map[workflow.Level]int{workflow.LevelDueSoon: 2, workflow.LevelOverdue: 1}},
		// late and onTime closed; overdue more than 30 days past 07-10
		{"2021-08-12", map[workflow.Level]int{workflow.LevelRed: 1}},
		// extended (to 09-30) due soon; overdue more than 60 days late
		{"2021-09-26", map[workflow.Level]int{workflow.LevelDueSoon: 1, workflow.LevelListed: 1}},
		// no command since: the clock alone moves them
		{"2021-10-01", map[workflow.Level]int{workflow.LevelOverdue: 1, workflow.LevelListed: 1}},
		{"2021-11-10", map[workflow.Level]int{workflow.LevelRed: 1, workflow.LevelListed: 1}},
		{"2022-01-01", map[workflow.Level]int{workflow.LevelListed: 2}},
	} {
		at, _ := workflow.ParseAsOf(c.day)
		rep, err := s.svc.Stats(ctx, bureau, workflow.GroupByCounty, at)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range workflow.Levels {
			if rep.Total.ByLevel[l] != c.want[l] {
				t.Errorf("%s: %s = %d, want %d (%v)", c.day, l, rep.Total.ByLevel[l], c.want[l], rep.Total.ByLevel)
			}
		}
	}
}

// TestLevelCrossingsAreLevelAt: a problem's tally at any time counts it at
// exactly the level LevelAt gives, however its deadline, pauses and state
// were drawn.
func TestLevelCrossingsAreLevelAt(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		base := time.Date(2021, 7, 1, 0, 0, 0, 0, time.UTC)
		offset := func(label string) time.Duration {
			return time.Duration(rapid.Int64Range(-90*24*3600, 90*24*3600).Draw(t, label)) * time.Second
		}
		p := &workflow.Problem{
			State:    rapid.SampledFrom(workflow.States).Draw(t, "state"),
			CountyID: "fuliang", Source: workflow.SourceAudit,
		}
		if rapid.Bool().Draw(t, "deadline") {
			d := base.Add(offset("d")).Add(time.Duration(rapid.IntRange(0, 999).Draw(t, "ns")))
			p.Deadline = &d
		}
		p.Supervision.PausedSeconds = rapid.Int64Range(0, 30*24*3600).Draw(t, "paused")
		if rapid.Bool().Draw(t, "pausedAt") {
			pa := base.Add(offset("pa"))
			p.Supervision.PausedAt = &pa
		}
		pol := workflow.Policy{
			DueSoon: time.Duration(rapid.Int64Range(0, 10*24*3600).Draw(t, "dueSoon")) * time.Second,
			Red:     time.Duration(rapid.Int64Range(1, 40*24*3600).Draw(t, "red")) * time.Second,
		}
		pol.Listed = pol.Red + time.Duration(rapid.Int64Range(1, 40*24*3600).Draw(t, "listed"))*time.Second
		times := []time.Time{base.Add(offset("at"))}
		if p.Deadline != nil {
			// Every threshold, and a nanosecond either side.
			e := *p.EffectiveDeadline()
			for _, th := range []time.Time{e.Add(-pol.DueSoon), e, e.Add(pol.Red), e.Add(pol.Listed)} {
				times = append(times, th.Add(-1), th, th.Add(1))
			}
		}
		for _, at := range times {
			tally := workflow.TallyOf(p, workflow.NoRollupFacts, at, pol)
			want := p.LevelAt(at, pol)
			for i, l := range workflow.Levels {
				n := tally.Counts[workflow.TallyLevels+i]
				if (l == want) != (n == 1) || n > 1 {
					t.Fatalf("at %v the tally counts %s %d times; LevelAt gives %q", at, l, n, want)
				}
			}
		}
	})
}

// TestRollupWriteSumsToTheTally: the deltas of a problem's history, summed
// up to any time, are its tally then, in each of its groups.
func TestRollupWriteSumsToTheTally(t *testing.T) {
	s := buildScenario(t)
	ctx := context.Background()
	pol := workflow.DefaultPolicy()
	for name, id := range s.ids {
		hist, err := s.store.History(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		_, deltas, err := workflow.RollupHistory(hist, pol)
		if err != nil {
			t.Fatal(err)
		}
		for d := cst("2021-06-20 12:00"); d.Before(cst("2022-03-01 00:00")); d = d.Add(13 * time.Hour) {
			sums := map[workflow.TallyKey]*workflow.Tally{}
			for _, x := range deltas {
				if !x.At.After(d) {
					if sums[x.Key] == nil {
						sums[x.Key] = &workflow.Tally{}
					}
					sums[x.Key].Add(&x.Tally, 1)
				}
			}
			p, err := replayUntil(hist, d)
			if err != nil {
				t.Fatal(err)
			}
			want := map[workflow.TallyKey]*workflow.Tally{}
			if p != nil {
				facts, err := workflow.RollupFactsOf(until(hist, d))
				if err != nil {
					t.Fatal(err)
				}
				tally := workflow.TallyOf(p, facts, d, pol)
				for _, k := range workflow.TallyKeys(p) {
					want[k] = &tally
				}
			}
			for k, w := range want {
				if g := sums[k]; g == nil || !g.Equal(w) {
					t.Fatalf("%s at %v: %v sums to %+v, want %+v", name, d, k, g, w)
				}
			}
			for k, g := range sums {
				if want[k] == nil && !g.IsZero() {
					t.Fatalf("%s at %v: %v sums to %+v, want nothing", name, d, k, g)
				}
			}
		}
	}
}

func until(hist []workflow.Entry, t time.Time) []workflow.Entry {
	n := 0
	for n < len(hist) && !hist[n].At.After(t) {
		n++
	}
	return hist[:n]
}

func replayUntil(hist []workflow.Entry, t time.Time) (*workflow.Problem, error) {
	h := until(hist, t)
	if len(h) == 0 {
		return nil, nil
	}
	return workflow.Replay(h)
}
