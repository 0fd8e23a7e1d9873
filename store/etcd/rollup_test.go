package etcd

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/jdz-eco/rectify/store/storetest"
	"github.com/jdz-eco/rectify/workflow"
)

// TestCountRollupsOnAnOlderLedger: a ledger written before rollups (no
// policy, no tallies, records without facts, no source and work point
// index keys) lists and counts from its records; CountRollups brings it up
// to date, after which its rollups equal a recount and its filters walk
// the new indexes.
func TestCountRollupsOnAnOlderLedger(t *testing.T) {
	s := openStore(t, nil, Config{})
	ctx := t.Context()
	clock := workflow.NewManualClock(storetest.T0)
	svc := workflow.NewService(s, clock)
	if err := svc.PutUnits(ctx, storetest.Units()); err != nil {
		t.Fatal(err)
	}
	for i := range 12 {
		clock.Advance(7 * time.Hour)
		p, _, err := svc.CreateProblem(ctx, storetest.BureauActor, workflow.NewProblem{Title: "问题", Description: "描述",
			Source: workflow.Sources[i%len(workflow.Sources)], CountyID: storetest.Fuliang})
		if err != nil {
			t.Fatal(err)
		}
		if i%2 == 0 {
			d := workflow.EndOfDay(clock.Now().AddDate(0, 0, i))
			if _, err := svc.Fire(ctx, storetest.BureauActor, p.ID, workflow.Command{Trigger: workflow.TriggerAssign,
				Params: workflow.Params{LeadUnit: storetest.Leping, Deadline: &d}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Make it what an older rectify wrote.
	var ops []clientv3.Op
	for _, p := range []string{"ro/", "ix/source/", "ix/wp/"} {
		ops = append(ops, clientv3.OpDelete(s.k(p), clientv3.WithPrefix()))
	}
	ops = append(ops, clientv3.OpDelete(s.k(keyFilters)))
	all, err := storetest.AllProblems(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range all {
		n, _ := workflow.ParseProblemID(p.ID)
		v, _ := json.Marshal(p)
		ops = append(ops, clientv3.OpPut(s.k(problemKey(n)), string(v)))
	}
	if _, err := s.cli.Txn(ctx).Then(ops...).Commit(); err != nil {
		t.Fatal(err)
	}
	old := openStore(t, nil, Config{Prefix: s.pfx})
	if _, ok, err := old.Tallies(ctx, workflow.TallyQuery{Grouping: workflow.GroupByCounty, At: clock.Now(), Policy: workflow.DefaultPolicy()}); ok || err != nil {
		t.Fatalf("an uncounted ledger's tallies answer: %v, %v", ok, err)
	}
	for _, f := range []workflow.ProblemFilter{{Source: workflow.SourceAudit}, {Source: workflow.SourceOther, State: workflow.StateFound}, {LeadUnit: storetest.Leping, Source: workflow.SourceWarningFilm}} {
		f.Limit = 2
		if err := storetest.CheckFilter(ctx, old, all, f); err != nil {
			t.Errorf("before the count: %v", err)
		}
	}
	if err := old.CountRollups(ctx, workflow.DefaultPolicy()); err != nil {
		t.Fatal(err)
	}
	if err := storetest.CheckRollups(ctx, old, clock); err != nil {
		t.Fatal(err)
	}
	if !old.filtersIndexed.Load() {
		if _, err := old.filterTerms(ctx, &workflow.ProblemFilter{}); err != nil || !old.filtersIndexed.Load() {
			t.Fatalf("after the count the filter indexes are not marked complete: %v", err)
		}
	}
	for _, f := range []workflow.ProblemFilter{{Source: workflow.SourceAudit}, {Source: workflow.SourceOther, State: workflow.StateFound}, {LeadUnit: storetest.Leping, Source: workflow.SourceWarningFilm}} {
		f.Limit = 2
		if err := storetest.CheckFilter(context.Background(), old, all, f); err != nil {
			t.Errorf("after the count: %v", err)
		}
	}
	// Commands after the count keep the rollups equal to a recount.
	clock.Advance(24 * time.Hour)
	if _, err := workflow.NewService(old, clock).Fire(ctx, storetest.OfficerOf(storetest.Leping), all[0].ID,
		workflow.Command{Trigger: workflow.TriggerAccept, Params: workflow.Params{Plan: "方案"}}); err != nil {
		t.Fatal(err)
	}
	if err := storetest.CheckRollups(ctx, old, clock); err != nil {
		t.Fatal(err)
	}
}

// TestRollupsTwoReplicas: two replicas (stores on one prefix) drive whole
// lifecycles at once, each folding on its own ticker and now and then by
// hand, while one of them seals. First each works on problems of its own:
// no transaction conflicts (the rollup deltas go to keys of each command's
// own, no key both replicas' commands write). Then both work on the same
// problems (conflicts, commands decided again). After each phase the
// rollups equal a recount (the audit) and give the statistics the records
// give, read from either replica.
func TestRollupsTwoReplicas(t *testing.T) {
	ctx := t.Context()
	a := openStore(t, nil, Config{})
	b := openStore(t, nil, Config{Prefix: a.Prefix()})
	clock := workflow.NewManualClock(storetest.T0)
	svcs := []*workflow.Service{workflow.NewService(a, clock), workflow.NewService(b, clock)}
	if err := svcs[0].PutUnits(ctx, storetest.Units()); err != nil {
		t.Fatal(err)
	}
	sctx, stopSeal := context.WithCancel(ctx)
	var swg sync.WaitGroup
	swg.Go(func() {
		_ = a.RunAsLeader(sctx, "sealer", func(ctx context.Context) error {
			return a.RunSealer(ctx, 0, func(err error) { t.Errorf("sealer: %v", err) })
		})
	})
	defer func() {
		stopSeal()
		swg.Wait()
	}()
	const perReplica = 6
	var ids [2][]string
	for r := range 2 {
		for i := range perReplica {
			p, _, err := svcs[r].CreateProblem(ctx, storetest.BureauActor, workflow.NewProblem{Title: fmt.Sprintf("问题 %d-%d", r, i), Description: "描述",
				Source: workflow.Sources[i%len(workflow.Sources)], CountyID: []string{storetest.Fuliang, storetest.Leping}[i%2]})
			if err != nil {
				t.Fatal(err)
			}
			ids[r] = append(ids[r], p.ID)
		}
	}
	// lifecycle drives problem id through a lifecycle on svc, the deadline
	// days from now; a refusal (another replica moved it) ends it.
	lifecycle := func(svc *workflow.Service, id string, days, file int) error {
		lead := []string{storetest.Leping, storetest.Water}[days%2]
		d := workflow.EndOfDay(clock.Now().AddDate(0, 0, days))
		officer := storetest.OfficerOf(lead)
		steps := []func() error{
			func() error {
				_, err := svc.Fire(ctx, storetest.BureauActor, id, workflow.Command{Trigger: workflow.TriggerAssign,
					Params: workflow.Params{LeadUnit: lead, CooperatingUnits: []string{storetest.Housing}, Deadline: &d, Requirements: "要求"}})
				return err
			},
			func() error {
				_, err := svc.Fire(ctx, officer, id, workflow.Command{Trigger: workflow.TriggerAccept, Params: workflow.Params{Plan: "方案"}})
				return err
			},
			func() error {
				_, err := svc.AddEvidence(ctx, officer, id, storetest.EvidenceInput(fmt.Sprintf("two-%d", file)), 0)
				return err
			},
			func() error {
				_, err := svc.Fire(ctx, officer, id, workflow.Command{Trigger: workflow.TriggerSubmit, Params: workflow.Params{Summary: "已整改"}})
				return err
			},
			func() error {
				_, err := svc.Fire(ctx, storetest.InspectorActor, id, workflow.Command{Trigger: workflow.TriggerVerify, Params: workflow.Params{Opinion: "合格"}})
				return err
			},
			func() error {
				_, err := svc.Fire(ctx, storetest.BureauActor, id, workflow.Command{Trigger: workflow.TriggerClose, Params: workflow.Params{Statement: "同意销号"}})
				return err
			},
		}
		for i, step := range steps[:2+days%5] {
			if err := step(); err != nil {
				if workflow.ErrorCode(err) == workflow.CodeInternal {
					return fmt.Errorf("problem %s, step %d: %w", id, i, err)
				}
				return nil
			}
		}
		return nil
	}
	run := func(work [2][]string) {
		var wg sync.WaitGroup
		errs := make(chan error, 4*perReplica)
		for r := range 2 {
			for i, id := range work[r] {
				wg.Go(func() {
					if err := lifecycle(svcs[r], id, 3+i*7+r, 100*r+i); err != nil {
						errs <- err
					}
				})
			}
			wg.Go(func() {
				for range 3 {
					if _, err := []*Store{a, b}[r].FoldRollups(ctx); err != nil {
						errs <- err
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	}
	conflicts := func() uint64 { return a.stats.Conflicts.Load() + b.stats.Conflicts.Load() }
	before := conflicts()
	run(ids)
	if n := conflicts() - before; n != 0 {
		t.Errorf("replicas working on problems of their own had %d conflicts, want none", n)
	}
	clock.Advance(40 * 24 * time.Hour) // levels cross without commands
	for _, s := range []*Store{a, b} {
		if err := storetest.CheckRollups(ctx, s, clock); err != nil {
			t.Fatalf("after the first phase, read from %s: %v", s.Prefix(), err)
		}
	}
	// Both replicas on the same problems: reopen what was closed, then race.
	for _, id := range append(ids[0], ids[1]...) {
		_, _ = svcs[0].Fire(ctx, storetest.BureauActor, id, workflow.Command{Trigger: workflow.TriggerReopen, Params: workflow.Params{Reason: "回头看"}})
	}
	both := append(ids[0], ids[1]...)
	run([2][]string{both, both})
	clock.Advance(24 * time.Hour)
	for _, s := range []*Store{b, a} {
		if err := storetest.CheckRollups(ctx, s, clock); err != nil {
			t.Fatalf("after the second phase: %v", err)
		}
	}
	folded := func(s *Store) int {
		s.folder.mu.Lock()
		defer s.folder.mu.Unlock()
		return s.folder.folded
	}
	t.Logf("conflicts: %d (first phase none); delta keys folded: a %d, b %d", conflicts(), folded(a), folded(b))
}
