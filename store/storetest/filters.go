package storetest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/jdz-eco/rectify/workflow"
)

// Domains of the generated ledgers' fields: few values each, so that
// combinations of filters match some problems and miss others.
var (
	filterCounties = []string{Fuliang, Leping, Zhushan, Changjiang}
	filterUnits    = []string{Fuliang, Leping, Water, Housing, Guokong}
	filterLevels   = []workflow.Level{workflow.LevelNone, workflow.LevelDueSoon, workflow.LevelOverdue, workflow.LevelRed, workflow.LevelListed}
)

// RandomProblem returns problem number n with fields drawn by r: county,
// source, work point (0 to 4), state, lead and cooperating units, a
// recorded level and a breached stage clock. It is a record as a store
// keeps it, not one the workflow would reach: for index tests.
func RandomProblem(n uint64, r *rand.Rand) *workflow.Problem {
	pick := func(xs []string) string { return xs[r.IntN(len(xs))] }
	p := &workflow.Problem{
		ID: workflow.ProblemID(n), Code: workflow.ProblemCode(n, T0), Title: "问题 " + strconv.FormatUint(n, 10), Description: "描述",
		CountyID: pick(filterCounties), Source: workflow.Sources[r.IntN(len(workflow.Sources))], WorkPoint: r.IntN(5),
		State: workflow.States[r.IntN(len(workflow.States))], CooperatingUnits: []string{},
		CreatedBy: BureauActor.ID, CreatedAt: T0, UpdatedAt: T0, Version: 1,
	}
	if p.State != workflow.StateFound {
		p.LeadUnit = pick(filterUnits)
		for range r.IntN(3) {
			if u := pick(filterUnits); u != p.LeadUnit && !slices.Contains(p.CooperatingUnits, u) {
				p.CooperatingUnits = append(p.CooperatingUnits, u)
			}
		}
		d := Deadline(30)
		p.Deadline = &d
		p.Supervision.Level = filterLevels[r.IntN(len(filterLevels))]
		if r.IntN(5) == 0 {
			p.Supervision.Stage, p.Supervision.StageLate = workflow.StageAccept, true
		}
	}
	return p
}

// setTo returns an apply that makes the record p's fields (but its id,
// version and times), with a note entry.
func setTo(want *workflow.Problem) Apply {
	return func(p *workflow.Problem) ([]workflow.Entry, error) {
		v := p.Version
		*p = *want.Clone()
		p.Version = v
		e := workflow.Entry{At: T0.Add(time.Hour), Actor: BureauActor, Action: workflow.ActionNote, From: p.State, To: p.State,
			Params: workflow.Params{Text: "改写"}}
		return []workflow.Entry{e}, nil
	}
}

// testFilterCombinations writes problems with random fields, changes some,
// then pages through random combinations of filters (state, lead unit,
// county, source, unit, level tag, work point) with random page sizes and
// compares what the store lists with a filter applied to every record.
func testFilterCombinations(t *testing.T, s workflow.Store) {
	ctx := t.Context()
	r := rand.New(rand.NewPCG(7, 18))
	const count = 240
	want := make([]*workflow.Problem, count+1)
	for i := 1; i <= count; i++ {
		want[i] = RandomProblem(uint64(i), r)
	}
	var wg sync.WaitGroup
	errs := make(chan error, count)
	for w := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 1 + w; i <= count; i += 16 {
				if _, _, err := s.CreateProblem(ctx, "", Build("问题", workflow.SourceAudit, Fuliang)); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	// Every problem takes its fields, some twice: the indexes move.
	for round := range 2 {
		for i := 1; i <= count; i++ {
			if round == 1 && i%3 != 0 {
				continue
			}
			if round == 1 {
				want[i] = RandomProblem(uint64(i), r)
			}
			if _, err := s.UpdateProblem(ctx, workflow.ProblemID(uint64(i)), setTo(want[i])); err != nil {
				t.Fatal(err)
			}
		}
	}
	all, err := AllProblems(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != count {
		t.Fatalf("%d problems stored, want %d", len(all), count)
	}
	rapid.Check(t, func(rt *rapid.T) {
		f := DrawFilter(rt)
		if err := CheckFilter(ctx, s, all, f); err != nil {
			rt.Fatal(err)
		}
	})
}

// DrawFilter draws a combination of the list's filters, each present or
// not, with a page size.
func DrawFilter(rt *rapid.T) workflow.ProblemFilter {
	var f workflow.ProblemFilter
	opt := func(name string) bool { return rapid.IntRange(0, 2).Draw(rt, name) == 0 }
	if opt("state?") {
		f.State = rapid.SampledFrom(workflow.States).Draw(rt, "state")
	}
	if opt("lead?") {
		f.LeadUnit = rapid.SampledFrom(filterUnits).Draw(rt, "lead")
	}
	if opt("county?") {
		f.County = rapid.SampledFrom(filterCounties).Draw(rt, "county")
	}
	if opt("source?") {
		f.Source = rapid.SampledFrom(workflow.Sources).Draw(rt, "source")
	}
	if opt("unit?") {
		f.Unit = rapid.SampledFrom(filterUnits).Draw(rt, "unit")
	}
	if opt("tag?") {
		f.Tag = rapid.SampledFrom(workflow.AlertTags).Draw(rt, "tag")
	}
	if opt("wp?") {
		f.WorkPoint = rapid.IntRange(1, 4).Draw(rt, "wp")
	}
	f.Limit = rapid.SampledFrom([]int{1, 3, 7, 50, 500}).Draw(rt, "limit")
	return f
}

// CheckFilter pages through s with f (its Limit the page size) and
// compares the problems listed with those of all that f matches, in order.
func CheckFilter(ctx context.Context, s workflow.Store, all []*workflow.Problem, f workflow.ProblemFilter) error {
	var want, got []string
	for _, p := range all {
		if f.Match(p) {
			want = append(want, p.ID)
		}
	}
	for pages := 0; ; pages++ {
		items, next, err := s.Problems(ctx, f)
		if err != nil {
			return err
		}
		if len(items) > max(f.Limit, 1) || (next != "" && len(items) != f.Limit) {
			return fmt.Errorf("filter %+v: a page of %d problems, next %q", f, len(items), next)
		}
		for _, p := range items {
			got = append(got, p.ID)
		}
		if next == "" {
			break
		}
		if pages > len(all) {
			return fmt.Errorf("filter %+v: paging does not end", f)
		}
		f.Cursor = next
	}
	if !slices.Equal(got, want) {
		return fmt.Errorf("filter %+v lists %v, want %v", f, got, want)
	}
	return nil
}

// AllProblems returns every problem the store holds, in creation order.
func AllProblems(ctx context.Context, s workflow.Store) ([]*workflow.Problem, error) {
	var all []*workflow.Problem
	f := workflow.ProblemFilter{Limit: workflow.MaxLimit}
	for {
		items, next, err := s.Problems(ctx, f)
		if err != nil {
			return nil, err
		}
		all = append(all, items...)
		if next == "" {
			return all, nil
		}
		f.Cursor = next
	}
}
