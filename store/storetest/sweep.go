package storetest

import (
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/jdz-eco/rectify/workflow"
)

// testServiceDueAlerts checks the sweep half of a scan: at every step,
// Service.DueAlerts (the store's index-only Sweep when it has one) names
// exactly the problems and alerts the scan that follows records.
func testServiceDueAlerts(t *testing.T, s workflow.Store) {
	ctx := t.Context()
	clock := workflow.NewManualClock(T0)
	svc := workflow.NewService(s, clock)
	if err := svc.PutUnits(ctx, Units()); err != nil {
		t.Fatal(err)
	}
	leads := []string{Fuliang, Leping, Zhushan, Water, Housing, Guokong, Changjiang}
	var all []string
	for i, lead := range leads {
		p, _, err := svc.CreateProblem(ctx, BureauActor, workflow.NewProblem{
			Title: fmt.Sprintf("扫描预告问题 %d", i+1), Description: "整改时限内未完成的问题",
			Source: workflow.SourceProvincialInspection, CountyID: Leping,
		})
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, p.ID)
		d := Deadline(5 + 12*i)
		fire := func(a workflow.Actor, tr workflow.Trigger, prm workflow.Params) {
			t.Helper()
			if _, err := svc.Fire(ctx, a, p.ID, workflow.Command{Trigger: tr, Params: prm}); err != nil {
				t.Fatalf("%s on %s: %v", tr, p.ID, err)
			}
		}
		fire(BureauActor, workflow.TriggerAssign, workflow.Params{LeadUnit: lead, Deadline: &d})
		switch i % 3 {
		case 1: // rectifying, its deadline clock running
			fire(OfficerOf(lead), workflow.TriggerAccept, workflow.Params{Plan: "制定整改方案"})
		case 2: // submitted: the deadline clock paused, the inspectors' clock running
			fire(OfficerOf(lead), workflow.TriggerAccept, workflow.Params{Plan: "制定整改方案"})
			if _, err := svc.AddEvidence(ctx, OfficerOf(lead), p.ID, EvidenceInput(p.ID+".jpg"), 0); err != nil {
				t.Fatal(err)
			}
			fire(OfficerOf(lead), workflow.TriggerSubmit, workflow.Params{Summary: "已整改"})
		}
		// case 0: assigned, the lead unit's acceptance clock running
	}
	predicted := 0
	kinds := map[string]bool{}
	for day := 1; day <= 110; day += 2 {
		clock.Set(T0.Add(time.Duration(day)*workflow.Day + time.Hour))
		due, err := svc.DueAlerts(ctx, 0)
		if err != nil {
			t.Fatalf("day %d: DueAlerts = %v", day, err)
		}
		if sw, ok := s.(workflow.Sweeper); ok {
			checkSweep(t, s, sw, clock.Now(), svc.Policy())
		}
		want := map[string][]string{}
		for _, d := range due {
			want[d.ID] = slices.Sorted(slices.Values(d.Alerts))
			predicted += len(d.Alerts)
			for _, k := range d.Alerts {
				kinds[k] = true
			}
		}
		before := map[string]int{}
		for _, id := range all {
			before[id] = len(mustHistory(t, s, id))
		}
		n, err := svc.Scan(ctx)
		if err != nil {
			t.Fatalf("day %d: Scan = %v", day, err)
		}
		got := map[string][]string{}
		recorded := 0
		for _, id := range all {
			for _, e := range mustHistory(t, s, id)[before[id]:] {
				if e.Action == workflow.ActionAlert {
					got[id] = append(got[id], e.Params.Level)
					recorded++
				}
			}
			if got[id] != nil {
				slices.Sort(got[id])
			}
		}
		if n != recorded {
			t.Errorf("day %d: Scan reported %d alerts, recorded %d", day, n, recorded)
		}
		for id, w := range want {
			if len(w) == 0 {
				delete(want, id) // due, but nothing to record (never here)
			}
		}
		if !maps.EqualFunc(got, want, slices.Equal) {
			t.Errorf("day %d: DueAlerts predicted %v, the scan recorded %v", day, want, got)
		}
	}
	for _, k := range workflow.AlertKinds {
		if !kinds[k] {
			t.Errorf("no %s alert was ever due: the scenario misses a case", k)
		}
	}
}

// checkSweep: a store's index-only sweep gives what reading every due
// problem's record gives, at most limit of them.
func checkSweep(t *testing.T, s workflow.Store, sw workflow.Sweeper, now time.Time, pol workflow.Policy) {
	t.Helper()
	ctx := t.Context()
	for _, limit := range []int{0, 2} {
		got, err := sw.Sweep(ctx, now, pol, limit)
		if err != nil {
			t.Fatalf("Sweep = %v", err)
		}
		ids, err := s.Due(ctx, now, limit)
		if err != nil {
			t.Fatal(err)
		}
		want := []workflow.DueAlert{}
		for _, id := range ids {
			want = append(want, workflow.DueAlert{ID: id, Alerts: workflow.PendingAlerts(mustProblem(t, s, id), now, pol)})
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("at %v, limit %d: Sweep = %v; reading the records gives %v", now, limit, got, want)
		}
	}
}
