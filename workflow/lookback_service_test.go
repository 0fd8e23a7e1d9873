package workflow_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/jdz-eco/rectify/workflow"
)

// closeOne takes a new problem of county through to closed.
func (f *fixture) closeOne(t *testing.T, county string) string {
	t.Helper()
	id := f.create(t).ID
	officer := workflow.Actor{ID: "u-" + county, Name: county, Role: workflow.RoleUnit, UnitID: county}
	f.fire(t, bureau, id, workflow.TriggerAssign, workflow.Params{LeadUnit: county, Deadline: deadline("2021-12-31")})
	f.fire(t, officer, id, workflow.TriggerAccept, workflow.Params{Plan: "方案"})
	f.evidence(t, officer, id, "photo-"+id)
	f.fire(t, officer, id, workflow.TriggerSubmit, workflow.Params{Summary: "完成"})
	f.fire(t, inspector, id, workflow.TriggerVerify, workflow.Params{Opinion: "合格"})
	f.fire(t, bureau, id, workflow.TriggerClose, workflow.Params{Statement: "同意销号"})
	return id
}

// TestLookbackDrawByTheScanner: once the quarter has ended, the problems
// closed in it are drawn once (10 %, at least one per county), each drawn
// problem's history carries the seed that replays the draw, and the tasks
// are resolved as confirmed or reopened.
func TestLookbackDrawByTheScanner(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	// t0 is 2021-06-24, in the second quarter.
	var fl, lp []string // by lead unit
	for range 12 {
		fl = append(fl, f.closeOne(t, "fuliang"))
	}
	lp = append(lp, f.closeOne(t, "leping"))
	if n, err := f.svc.DrawLookbacks(ctx); err != nil || n != 0 {
		t.Fatalf("draw within the quarter: %d, %v; want nothing (the previous quarter closed nothing)", n, err)
	}
	f.clock.Set(time.Date(2021, 7, 1, 0, 0, 0, 0, workflow.Shanghai)) // the third quarter begins
	n, err := f.svc.DrawLookbacks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// ⌈10 % of 13⌉ = 2 (the fixture logs every problem in one county; the
	// per-county minimum is DrawLookback's, tested in lookback_test.go).
	if n != 2 {
		t.Fatalf("drew %d, want 2", n)
	}
	if again, err := f.svc.DrawLookbacks(ctx); err != nil || again != 0 {
		t.Fatalf("the quarter drawn twice: %d, %v", again, err)
	}
	tasks, _, err := f.svc.Problems(ctx, inspector, workflow.ProblemFilter{Tag: workflow.TagLookback})
	if err != nil || len(tasks) != 2 {
		t.Fatalf("look-back tasks: %d, %v", len(tasks), err)
	}
	var drawn []string
	var seed uint64
	for _, p := range tasks {
		drawn = append(drawn, p.ID)
		hist, _ := f.svc.History(ctx, bureau, p.ID)
		last := hist[len(hist)-1]
		if last.Action != workflow.ActionLookbackDrawn || last.Params.Lookback == nil || last.Params.Lookback.Candidates != 13 {
			t.Fatalf("history of %s ends with %+v", p.ID, last)
		}
		seed = last.Params.Lookback.Seed
		if _, err := workflow.Replay(hist); err != nil {
			t.Fatal(err)
		}
	}
	var cands []workflow.LookbackCandidate
	for _, id := range append(slices.Clone(fl), lp...) {
		p := mustGet(t, f, id)
		cands = append(cands, workflow.LookbackCandidate{ID: id, CountyID: p.CountyID})
	}
	slices.Sort(drawn) // DrawLookback sorts its ids as strings
	replayed, err := workflow.DrawLookback(cands, workflow.DefaultLookbackShare, seed)
	if err != nil || !slices.Equal(replayed, drawn) {
		t.Fatalf("the seed in the history replays %v, the scanner drew %v", replayed, drawn)
	}
	// Resolution: confirmed by an inspector, or reopened.
	if _, err := f.svc.ConfirmLookback(ctx, bureau, drawn[0], "现场复核", 0); workflow.ErrorCode(err) != workflow.CodeForbidden {
		t.Fatalf("the bureau confirming: %v", err)
	}
	p, err := f.svc.ConfirmLookback(ctx, inspector, drawn[0], "现场复核，整改成果保持", 0)
	if err != nil || p.Lookback.Status != workflow.LookbackConfirmed || slices.Contains(p.Tags(), workflow.TagLookback) {
		t.Fatalf("confirm: %v %+v", err, p)
	}
	if _, err := f.svc.ConfirmLookback(ctx, inspector, drawn[0], "再次确认", 0); workflow.ErrorReason(err) != workflow.ReasonNoLookback {
		t.Fatalf("confirming twice: %v", err)
	}
	p = f.fire(t, inspector, drawn[1], workflow.TriggerReopen, workflow.Params{Reason: "回头看发现反弹", Deadline: deadline("2021-12-31")})
	if p.Lookback.Status != workflow.LookbackReopened || p.State != workflow.StateRectifying {
		t.Fatalf("reopen: %+v", p.Lookback)
	}
}
