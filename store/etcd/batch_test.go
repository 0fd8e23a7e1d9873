package etcd

import (
	"context"
	"errors"
	"fmt"
	"testing"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/jdz-eco/rectify/store/storetest"
	"github.com/jdz-eco/rectify/workflow"
)

// batchOf is n problems for Service.CreateProblems, every other assigned.
func batchOf(prefix string, n int) func(i int) (workflow.BatchItem, error) {
	return func(i int) (workflow.BatchItem, error) {
		it := workflow.BatchItem{New: workflow.NewProblem{Title: fmt.Sprintf("%s%d", prefix, i), Description: fmt.Sprintf("%s第%d个问题。", prefix, i),
			Source: workflow.SourceSelfInspection, CountyID: storetest.Fuliang, DedupeKey: fmt.Sprintf("%s:%d", prefix, i)}}
		if i%2 == 0 {
			d := storetest.Deadline(60)
			it.Assign = &workflow.Params{LeadUnit: storetest.Fuliang, Deadline: &d}
		}
		return it, nil
	}
}

func serviceOn(t *testing.T, s *Store) *workflow.Service {
	t.Helper()
	svc := workflow.NewService(s, workflow.NewManualClock(storetest.T0))
	if err := svc.PutUnits(t.Context(), storetest.Units()); err != nil {
		t.Fatal(err)
	}
	return svc
}

func problemCount(t *testing.T, s *Store) int {
	t.Helper()
	n := 0
	if err := s.ForEachProblem(t.Context(), func(*workflow.Problem) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}

// A batch whose importer dies is finished by the next writer, on another
// replica: rolled back before its decision, published after it.
func TestBatchRecovery(t *testing.T) {
	for _, step := range []string{batchStaging, batchCommitted} {
		t.Run(step, func(t *testing.T) {
			ctx := t.Context()
			a := openStore(t, nil, Config{MaxTxnOps: 32})
			b := openStore(t, nil, Config{Prefix: a.Prefix(), MaxTxnOps: 32})
			svcA, svcB := serviceOn(t, a), serviceOn(t, b)
			if _, _, err := svcA.CreateProblem(ctx, storetest.BureauActor, workflow.NewProblem{Title: "先有", Description: "先有的问题。",
				Source: workflow.SourceAudit, CountyID: storetest.Leping}); err != nil {
				t.Fatal(err)
			}
			testBatchDies = func(s *Store, at string) bool { return s == a && at == step }
			err := svcA.CreateProblems(ctx, storetest.BureauActor, 300, batchOf("b", 300), nil, nil)
			testBatchDies = nil
			if !errors.Is(err, errBatchDied) {
				t.Fatalf("the batch: %v", err)
			}
			p, _, err := svcB.CreateProblem(ctx, storetest.BureauActor, workflow.NewProblem{Title: "之后", Description: "之后的问题。",
				Source: workflow.SourceAudit, CountyID: storetest.Leping})
			if err != nil {
				t.Fatal(err)
			}
			want := 2
			if step == batchCommitted {
				want = 302
			}
			if got := problemCount(t, b); got != want || p.ID != workflow.ProblemID(uint64(want)) {
				t.Fatalf("%d problems, the next one %s; want %d", got, p.ID, want)
			}
			if _, err := workflow.Audit(ctx, b, nil, nil); err != nil {
				t.Fatalf("audit: %v", err)
			}
			if kvs, err := b.cli.Get(ctx, b.k("stage/"), clientv3.WithPrefix()); err != nil || len(kvs.Kvs) != 0 {
				t.Fatalf("the stage is left: %v %v", kvs, err)
			}
		})
	}
}

// twoReplicas opens two stores on one new prefix with cfg, a service on
// each, and a first problem created through the second.
func twoReplicas(t *testing.T, cfg Config) (a, b *Store, svcA, svcB *workflow.Service, first *workflow.Problem) {
	t.Helper()
	a = openStore(t, nil, cfg)
	cfg.Prefix = a.Prefix()
	b = openStore(t, nil, cfg)
	svcA, svcB = serviceOn(t, a), serviceOn(t, b)
	first, _, err := svcB.CreateProblem(t.Context(), storetest.BureauActor, workflow.NewProblem{Title: "先有", Description: "先有的问题。",
		Source: workflow.SourceAudit, CountyID: storetest.Leping})
	if err != nil {
		t.Fatal(err)
	}
	return a, b, svcA, svcB, first
}

// heldBatch is a batch of 100 problems through replica a, stuck at item 50
// (holding the chain) until release is closed; done gets its outcome.
type heldBatch struct {
	b       *Store
	svcB    *workflow.Service
	first   *workflow.Problem
	release chan struct{}
	done    chan error
}

// holdBatch starts a heldBatch of titles prefixed by tag on two replicas
// (twoReplicas) and returns once the batch holds the chain.
func holdBatch(t *testing.T, tag string) heldBatch {
	t.Helper()
	_, b, svcA, svcB, first := twoReplicas(t, Config{})
	h := heldBatch{b: b, svcB: svcB, first: first, release: make(chan struct{}), done: make(chan error, 1)}
	items := batchOf(tag, 100)
	held := make(chan struct{})
	go func() {
		h.done <- svcA.CreateProblems(t.Context(), storetest.BureauActor, 100, func(i int) (workflow.BatchItem, error) {
			if i == 50 {
				close(held)
				<-h.release
			}
			return items(i)
		}, nil, nil)
	}()
	<-held
	return h
}

// Writers on another replica wait while a batch holds the chain, then
// chain after it.
func TestBatchHoldsWriters(t *testing.T) {
	ctx := t.Context()
	h := holdBatch(t, "h")
	b, svcB, first, release, batchDone := h.b, h.svcB, h.first, h.release, h.done
	writerDone := make(chan *workflow.Problem, 1)
	go func() {
		p, _, err := svcB.CreateProblem(context.Background(), storetest.BureauActor, workflow.NewProblem{Title: "等待中", Description: "等待中的问题。",
			Source: workflow.SourceAudit, CountyID: storetest.Leping})
		if err != nil {
			t.Error(err)
		}
		writerDone <- p
	}()
	// The writer cannot commit while the batch holds the chain: the batch
	// is stuck at item 50 until released.
	if got := problemCount(t, b); got != 1 {
		t.Fatalf("%d problems while the batch holds the chain, want 1", got)
	}
	close(release)
	if err := <-batchDone; err != nil {
		t.Fatal(err)
	}
	p := <-writerDone
	if p == nil || p.ID != workflow.ProblemID(102) {
		t.Fatalf("the waiting writer's problem %+v, want number 102 (after the batch)", p)
	}
	if _, err := svcB.Fire(ctx, storetest.BureauActor, first.ID, workflow.Command{Trigger: workflow.TriggerDismiss, Params: workflow.Params{Reason: "重复登记"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := workflow.Audit(ctx, b, nil, nil); err != nil {
		t.Fatalf("audit: %v", err)
	}
}

// BenchmarkBatchCreate creates 10,000 problems (half assigned) in one batch
// on the embedded single-member etcd: claim, stage, decide, publish.
func BenchmarkBatchCreate(b *testing.B) {
	const n = 10000
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		s := openStore(b, nil, Config{})
		svc := workflow.NewService(s, workflow.NewManualClock(storetest.T0))
		if err := svc.PutUnits(context.Background(), storetest.Units()); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if err := svc.CreateProblems(context.Background(), storetest.BureauActor, n, batchOf(fmt.Sprint("bench", i), n), nil, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/batch")
}

// While a batch holds the chain, updates of existing problems on another
// replica commit at once (they compare only their records); their entries
// are sealed after the batch's.
func TestBatchLetsUpdatesGo(t *testing.T) {
	ctx := t.Context()
	h := holdBatch(t, "u")
	b, svcB, first, release, batchDone := h.b, h.svcB, h.first, h.release, h.done
	// The batch is stuck at item 50 until released: the update must not
	// wait for it.
	p, err := svcB.Fire(ctx, storetest.BureauActor, first.ID, workflow.Command{Trigger: workflow.TriggerDismiss, Params: workflow.Params{Reason: "重复登记"}})
	close(release)
	if err != nil {
		t.Fatalf("an update while a batch holds the chain: %v", err)
	}
	if p.Version != 2 {
		t.Fatalf("version %d after the update", p.Version)
	}
	if err := <-batchDone; err != nil {
		t.Fatal(err)
	}
	hist, err := b.History(ctx, first.ID)
	if err != nil {
		t.Fatal(err)
	}
	// The create (1) and, after the batch's 150 entries (100 creates, 50
	// assigns), the dismissal.
	if len(hist) != 2 || hist[1].Seq != 152 {
		t.Fatalf("the update's history %+v, want its entry sealed at 152, after the batch", hist)
	}
	if _, err := workflow.Audit(ctx, b, nil, nil); err != nil {
		t.Fatalf("audit: %v", err)
	}
}

// A batch whose importer died after its decision is published by the next
// seal, from any replica, and an update committed meanwhile is sealed
// after it.
func TestBatchFinishedBySealer(t *testing.T) {
	ctx := t.Context()
	a, b, svcA, svcB, first := twoReplicas(t, Config{MaxTxnOps: 32})
	testBatchDies = func(s *Store, at string) bool { return s == a && at == batchCommitted }
	err := svcA.CreateProblems(ctx, storetest.BureauActor, 40, batchOf("d", 40), nil, nil)
	testBatchDies = nil
	if !errors.Is(err, errBatchDied) {
		t.Fatalf("the batch: %v", err)
	}
	if _, err := svcB.Fire(ctx, storetest.BureauActor, first.ID, workflow.Command{Trigger: workflow.TriggerDismiss, Params: workflow.Params{Reason: "重复登记"}}); err != nil {
		t.Fatal(err)
	}
	if err := b.sealPending(ctx); err != nil {
		t.Fatal(err)
	}
	if got := problemCount(t, b); got != 41 {
		t.Fatalf("%d problems, want 41", got)
	}
	hist, err := b.History(ctx, first.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(hist) != 2 || hist[1].Seq != 62 {
		t.Fatalf("the update's history %+v, want its entry at 62, after the batch's 60", hist)
	}
	if _, err := workflow.Audit(ctx, b, nil, nil); err != nil {
		t.Fatalf("audit: %v", err)
	}
}
