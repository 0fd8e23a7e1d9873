package etcd

import (
	"context"
	"encoding/json"
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
