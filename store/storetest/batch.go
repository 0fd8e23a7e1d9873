package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/jdz-eco/rectify/workflow"
)

// batchItems are n problems for Service.CreateProblems: every other one
// assigned, each with a dedupe key of its own under prefix.
func batchItems(prefix string, n int) []workflow.BatchItem {
	counties := []string{Fuliang, Leping, Zhushan, Changjiang}
	items := make([]workflow.BatchItem, n)
	for i := range items {
		c := counties[i%len(counties)]
		items[i].New = workflow.NewProblem{Title: fmt.Sprintf("%s批量问题%d", prefix, i), Description: fmt.Sprintf("%s第%d个批量导入的问题。", prefix, i),
			Source: workflow.SourceSelfInspection, CountyID: c, DedupeKey: fmt.Sprintf("%s:%d", prefix, i)}
		if i%2 == 0 {
			d := Deadline(60 + i%30)
			items[i].Assign = &workflow.Params{LeadUnit: c, CooperatingUnits: []string{Water}, Deadline: &d, Requirements: "限期整改"}
		}
	}
	return items
}

// ledgerState is what a failed batch must leave as it was.
type ledgerState struct {
	head     workflow.ChainHead
	problems int
	events   int
}

func stateOf(t *testing.T, s workflow.Store) ledgerState {
	t.Helper()
	return ledgerState{head: mustHead(t, s), problems: len(listAll(t, s, workflow.ProblemFilter{Limit: 500}, 1<<20)), events: len(allEvents(t, s, 0, 1000))}
}

// testBatchCreate: Service.CreateProblems writes every problem of a batch,
// numbered in order, recorded as create and assign would record them, on
// the chain; a batch that fails at any point writes nothing.
func testBatchCreate(t *testing.T, s workflow.Store) {
	if _, ok := s.(workflow.BatchCreator); !ok {
		t.Fatalf("%T is not a workflow.BatchCreator", s)
	}
	ctx := t.Context()
	clock := workflow.NewManualClock(T0)
	svc := workflow.NewService(s, clock)
	if err := svc.PutUnits(ctx, Units()); err != nil {
		t.Fatal(err)
	}
	first, _, err := svc.CreateProblem(ctx, BureauActor, workflow.NewProblem{Title: "先有的问题", Description: "先有的问题。",
		Source: workflow.SourceAudit, CountyID: Fuliang, DedupeKey: "before"})
	if err != nil {
		t.Fatal(err)
	}
	run := func(ctx context.Context, items []workflow.BatchItem, fail func(i int) error) ([]*workflow.Problem, error) {
		made := make([]*workflow.Problem, len(items))
		err := svc.CreateProblems(ctx, BureauActor, len(items), func(i int) (workflow.BatchItem, error) {
			if fail != nil {
				if err := fail(i); err != nil {
					return workflow.BatchItem{}, err
				}
			}
			return items[i], nil
		}, func(i int, p *workflow.Problem) { made[i] = p }, nil)
		return made, err
	}

	// Failures at the start, in the middle and at the end write nothing.
	const n = 300
	before := stateOf(t, s)
	boom := errors.New("the file could not be read again")
	for _, at := range []int{0, n / 2, n - 1} {
		if _, err := run(ctx, batchItems("x", n), func(i int) error {
			if i == at {
				return boom
			}
			return nil
		}); !errors.Is(err, boom) {
			t.Fatalf("a batch failing at item %d: %v", at, err)
		}
		cctx, cancel := context.WithCancel(ctx)
		if _, err := run(cctx, batchItems("x", n), func(i int) error {
			if i == at {
				cancel()
			}
			return nil
		}); !errors.Is(err, context.Canceled) {
			t.Fatalf("a batch cancelled at item %d: %v", at, err)
		}
		cancel()
		dup := batchItems("x", n)
		dup[at].New.DedupeKey = "before"
		_, err := run(ctx, dup, nil)
		wantCode(t, fmt.Sprintf("a batch with a taken dedupe key at item %d", at), err, workflow.CodeConflict)
		bad := batchItems("x", n)
		bad[at].New.CountyID = Water
		_, err = run(ctx, bad, nil)
		wantCode(t, fmt.Sprintf("a batch with a refused item %d", at), err, workflow.CodeInvalid)
		twice := batchItems("x", n)
		twice[at].New.DedupeKey = twice[(at+1)%n].New.DedupeKey
		_, err = run(ctx, twice, nil)
		wantCode(t, fmt.Sprintf("a batch naming a dedupe key twice at item %d", at), err, workflow.CodeConflict)
		if got := stateOf(t, s); got != before {
			t.Fatalf("failed batches at item %d changed the ledger: %+v, was %+v", at, got, before)
		}
		if _, ok := s.(workflow.Rollups); ok {
			if err := CheckRollups(ctx, s, clock); err != nil {
				t.Fatalf("rollups after failed batches at item %d: %v", at, err)
			}
		}
	}

	// A batch commits with writers around it: theirs before or after, never
	// inside it.
	items := batchItems("b", n)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if _, _, err := svc.CreateProblem(ctx, BureauActor, workflow.NewProblem{Title: fmt.Sprintf("并发问题%d", i),
				Description: "并发写入。", Source: workflow.SourceAudit, CountyID: Leping}); err != nil {
				t.Errorf("a create beside the batch: %v", err)
				return
			}
			if _, err := svc.AddNote(ctx, BureauActor, first.ID, fmt.Sprintf("备注%d", i), 0); err != nil &&
				workflow.ErrorCode(err) != workflow.CodeForbidden && workflow.ErrorCode(err) != workflow.CodeConflict {
				t.Errorf("a note beside the batch: %v", err)
				return
			}
		}
	}()
	made, err := run(ctx, items, nil)
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	n0, _ := workflow.ParseProblemID(made[0].ID)
	for i, p := range made {
		got := mustProblem(t, s, p.ID)
		sameJSON(t, "batch problem "+p.ID, got, p)
		if want := workflow.ProblemID(n0 + uint64(i)); p.ID != want {
			t.Fatalf("item %d became problem %s, want %s (consecutive numbers)", i, p.ID, want)
		}
		h := mustHistory(t, s, p.ID)
		replayed, err := workflow.Replay(h)
		if err != nil {
			t.Fatalf("problem %s: %v", p.ID, err)
		}
		sameJSON(t, "replayed batch problem "+p.ID, replayed, got)
		wantState, wantVersion := workflow.StateFound, uint64(1)
		if items[i].Assign != nil {
			wantState, wantVersion = workflow.StateAssigned, 2
		}
		if got.State != wantState || got.Version != wantVersion || got.DedupeKey != items[i].New.DedupeKey {
			t.Fatalf("problem %s: %s at version %d with key %q", p.ID, got.State, got.Version, got.DedupeKey)
		}
		if i > 0 {
			prev := mustHistory(t, s, made[i-1].ID)
			if h[0].Seq != prev[len(prev)-1].Seq+1 {
				t.Fatalf("problem %s's history starts at %d, not after %s's (%d)", p.ID, h[0].Seq, made[i-1].ID, prev[len(prev)-1].Seq)
			}
		}
	}
	// The indexes know them, the chain holds them, a create after them
	// gets the next number.
	all := listAll(t, s, workflow.ProblemFilter{Limit: 500}, 1<<20)
	for _, f := range []workflow.ProblemFilter{{State: workflow.StateAssigned, LeadUnit: Fuliang}, {Unit: Water}, {County: Zhushan}} {
		f.Limit = 500
		if got, want := listAll(t, s, f, 1<<20), expected(t, s, all, f); !slices.Equal(got, want) || len(want) == 0 {
			t.Errorf("Problems(%+v) = %d problems, want %d", f, len(got), len(want))
		}
	}
	if l, ok := s.(workflow.Ledger); ok {
		if _, err := workflow.Audit(ctx, l, nil, nil); err != nil {
			t.Fatalf("Audit after the batch: %v", err)
		}
	}
	if _, ok := s.(workflow.Rollups); ok {
		// The statistics from the rollups count the batch as the records do.
		if err := CheckRollups(ctx, s, clock); err != nil {
			t.Fatalf("rollups after the batch: %v", err)
		}
	}
	if _, err := run(ctx, items, nil); workflow.ErrorCode(err) != workflow.CodeConflict {
		t.Fatalf("the same batch again: %v, want a conflict on its dedupe keys", err)
	}
}
