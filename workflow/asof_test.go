package workflow_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/jdz-eco/rectify/workflow"
)

func TestParseAsOf(t *testing.T) {
	cases := []struct{ in, want string }{
		{"2021-12-31", "2021-12-31T15:59:59.999999999Z"},
		{" 2021-07-12 ", "2021-07-12T15:59:59.999999999Z"},
		{"2021-12-31T10:00:00+08:00", "2021-12-31T02:00:00Z"},
		{"2021/12/31", ""},
		{"1999-01-01T00:00:00Z", ""},
		{"", ""},
	}
	for _, c := range cases {
		got, err := workflow.ParseAsOf(c.in)
		if c.want == "" {
			if workflow.ErrorCode(err) != workflow.CodeInvalid {
				t.Errorf("ParseAsOf(%q) = %v, %v; want invalid", c.in, got, err)
			}
			continue
		}
		if err != nil || got.Format(time.RFC3339Nano) != c.want {
			t.Errorf("ParseAsOf(%q) = %v, %v; want %s", c.in, got, err, c.want)
		}
	}
}

func asOfStates(t *testing.T, s *scenario, a workflow.Actor, f workflow.ProblemFilter, at time.Time) map[string]workflow.State {
	t.Helper()
	names := map[string]string{}
	for n, id := range s.ids {
		names[id] = n
	}
	out := map[string]workflow.State{}
	for p, err := range s.svc.EachProblemAsOf(context.Background(), a, f, at) {
		if err != nil {
			t.Fatal(err)
		}
		n := names[p.ID]
		if n == "" {
			n = p.ID
		}
		out[n] = p.State
	}
	return out
}

func TestProblemsAsOfShowsTheOldStates(t *testing.T) {
	s := buildScenario(t)
	ctx := context.Background()
	// A problem logged after the date is absent.
	s.clock.Set(cst("2021-08-20 11:00"))
	if _, _, err := s.svc.CreateProblem(ctx, bureau, workflow.NewProblem{Title: "新问题", Description: "八月发现", Source: workflow.SourceAudit, CountyID: "fuliang"}); err != nil {
		t.Fatal(err)
	}
	at, err := workflow.ParseAsOf("2021-07-12")
	if err != nil {
		t.Fatal(err)
	}
	const (
		found, assigned, rectifying, submitted, closed = workflow.StateFound, workflow.StateAssigned, workflow.StateRectifying,
			workflow.StateSubmitted, workflow.StateClosed
	)
	got := asOfStates(t, s, bureau, workflow.ProblemFilter{}, at)
	wantStates := map[string]workflow.State{"onTime": submitted, "late": rectifying, "extended": rectifying, "overdue": assigned,
		"dismissed": closed, "found": found}
	if !reflect.DeepEqual(got, wantStates) {
		t.Fatalf("as of 2021-07-12: %v, want %v", got, wantStates)
	}
	// Today they differ.
	now, _, err := s.svc.Problems(ctx, bureau, workflow.ProblemFilter{})
	if err != nil || len(now) != 7 || now[0].State != closed {
		t.Fatalf("today: %d %v", len(now), err)
	}

	// The record as it was: lead unit, deadline, plan, extension not yet asked.
	old, _, err := s.svc.ProblemsAsOf(ctx, bureau, workflow.ProblemFilter{}, cst("2021-07-05 09:00"))
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]*workflow.Problem{}
	for _, p := range old {
		byID[p.ID] = p
	}
	ext := byID[s.ids["extended"]]
	if ext == nil || ext.Extended() || len(ext.Extensions) != 0 || !ext.Deadline.Equal(*deadline("2021-07-15")) || ext.Plan != "方案" {
		t.Fatalf("extended as of 07-05: %+v", ext)
	}
	if ov := byID[s.ids["overdue"]]; ov.LeadUnit != "city-water" || ov.Version >= mustGet(t, s.fixture, ov.ID).Version {
		t.Fatalf("overdue as of 07-05: lead %s version %d", ov.LeadUnit, ov.Version)
	}

	// Filters apply to the problem as it was.
	got = asOfStates(t, s, bureau, workflow.ProblemFilter{State: rectifying}, at)
	if !reflect.DeepEqual(got, map[string]workflow.State{"late": rectifying, "extended": rectifying}) {
		t.Fatalf("state filter: %v", got)
	}
	got = asOfStates(t, s, bureau, workflow.ProblemFilter{LeadUnit: "city-water"}, at)
	if !reflect.DeepEqual(got, map[string]workflow.State{"overdue": assigned}) {
		t.Fatalf("lead unit filter: %v", got)
	}
	got = asOfStates(t, s, bureau, workflow.ProblemFilter{County: "leping", Source: workflow.SourceAudit}, at)
	if !reflect.DeepEqual(got, map[string]workflow.State{"extended": rectifying}) {
		t.Fatalf("county and source filter: %v", got)
	}

	// Visibility as it was: city-water led "overdue" until 08-10, leping after.
	if got := asOfStates(t, s, coop, workflow.ProblemFilter{}, at); !reflect.DeepEqual(got, map[string]workflow.State{"overdue": assigned}) {
		t.Fatalf("city-water officer then: %v", got)
	}
	if got := asOfStates(t, s, coop, workflow.ProblemFilter{}, cst("2099-01-01 00:00")); len(got) != 0 {
		t.Fatalf("city-water officer now: %v", got)
	}
	if got := asOfStates(t, s, outsider, workflow.ProblemFilter{}, at); !reflect.DeepEqual(got, map[string]workflow.State{"extended": rectifying}) {
		t.Fatalf("leping officer then: %v", got)
	}
	if got := asOfStates(t, s, outsider, workflow.ProblemFilter{Unit: "fuliang"}, at); len(got) != 0 {
		t.Fatalf("leping officer asking for fuliang's: %v", got)
	}

	// Before anything was logged: nothing.
	if got := asOfStates(t, s, bureau, workflow.ProblemFilter{}, cst("2021-06-24 08:59")); len(got) != 0 {
		t.Fatalf("before the first problem: %v", got)
	}
}

func TestProblemsAsOfNowIsTheLedger(t *testing.T) {
	s := buildScenario(t)
	ctx := context.Background()
	now, _, err := s.svc.Problems(ctx, bureau, workflow.ProblemFilter{})
	if err != nil {
		t.Fatal(err)
	}
	then, next, err := s.svc.ProblemsAsOf(ctx, bureau, workflow.ProblemFilter{}, s.clock.Now())
	if err != nil || next != "" {
		t.Fatal(next, err)
	}
	if !reflect.DeepEqual(now, then) {
		t.Fatal("the ledger as of now differs from the records")
	}
	var all []*workflow.Problem
	for p, err := range s.svc.EachProblem(ctx, bureau, workflow.ProblemFilter{}) {
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, p)
	}
	if !reflect.DeepEqual(now, all) {
		t.Fatal("EachProblem differs from Problems")
	}
	// Paging.
	var paged []*workflow.Problem
	f := workflow.ProblemFilter{Limit: 4}
	for {
		items, next, err := s.svc.ProblemsAsOf(ctx, bureau, f, s.clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		paged = append(paged, items...)
		if next == "" {
			break
		}
		f.Cursor = next
	}
	if !reflect.DeepEqual(now, paged) {
		t.Fatalf("paged: %d problems, want %d", len(paged), len(now))
	}
	for _, f := range []workflow.ProblemFilter{{State: "open"}, {Source: "tv"}, {Cursor: "x"}, {Limit: workflow.MaxLimit + 1}} {
		_, _, err := s.svc.ProblemsAsOf(ctx, bureau, f, s.clock.Now())
		wantCode(t, err, workflow.CodeInvalid)
	}
}
