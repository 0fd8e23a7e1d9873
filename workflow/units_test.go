package workflow_test

import (
	"context"
	"testing"
	"time"

	"github.com/jdz-eco/rectify/workflow"
)

// TestUnitNames: wherever a command or a filter names a unit, its exact
// Chinese name does as well as its id, and is stored as the id; a name no
// unit has is refused as an unknown id is.
func TestUnitNames(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	p, _, err := f.svc.CreateProblem(ctx, bureau, workflow.NewProblem{
		Title: "河道采砂", Description: "昌江浮梁段", Source: workflow.SourceSelfInspection, CountyID: "浮梁县",
	})
	if err != nil {
		t.Fatalf("create with county 浮梁县: %v", err)
	}
	if p.CountyID != "fuliang" {
		t.Fatalf("created with county %q", p.CountyID)
	}
	d := t0.AddDate(0, 3, 0)
	p = f.fire(t, bureau, p.ID, workflow.TriggerAssign, workflow.Params{LeadUnit: "浮梁县", CooperatingUnits: []string{"市水利局"}, Deadline: &d})
	if p.LeadUnit != "fuliang" || len(p.CooperatingUnits) != 1 || p.CooperatingUnits[0] != "city-water" {
		t.Fatalf("assigned to %q with %v", p.LeadUnit, p.CooperatingUnits)
	}
	hist, err := f.svc.History(ctx, bureau, p.ID)
	if err != nil || hist[len(hist)-1].Params.LeadUnit != "fuliang" {
		t.Fatalf("the history records %+v, %v", hist[len(hist)-1].Params, err)
	}
	for _, filter := range []workflow.ProblemFilter{{County: "浮梁县"}, {LeadUnit: "浮梁县"}, {Unit: "市水利局"}, {County: "fuliang"}} {
		items, _, err := f.svc.Problems(ctx, bureau, filter)
		if err != nil || len(items) != 1 {
			t.Errorf("problems of %+v: %d, %v", filter, len(items), err)
		}
		n := 0
		for _, err := range f.svc.EachProblem(ctx, bureau, filter) {
			if err != nil {
				t.Fatal(err)
			}
			n++
		}
		if n != 1 {
			t.Errorf("each problem of %+v: %d", filter, n)
		}
	}
	if items, _, err := f.svc.Problems(ctx, bureau, workflow.ProblemFilter{County: "火星县"}); err != nil || len(items) != 0 {
		t.Errorf("problems of an unknown county: %d, %v", len(items), err)
	}
	// A unit officer filtering by its own unit's name sees its problems.
	if items, _, err := f.svc.Problems(ctx, officer, workflow.ProblemFilter{Unit: "浮梁县"}); err != nil || len(items) != 1 {
		t.Errorf("the officer's problems by its unit's name: %d, %v", len(items), err)
	}
	f.clock.Advance(120 * 24 * time.Hour)
	if _, err := f.svc.Scan(ctx); err != nil {
		t.Fatal(err)
	}
	if al, err := f.svc.Alerts(ctx, bureau, workflow.AlertFilter{LeadUnit: "浮梁县", County: "浮梁县"}); err != nil || len(al) == 0 {
		t.Errorf("alerts of 浮梁县: %d, %v", len(al), err)
	}

	u, _, err := f.svc.CreateUser(ctx, system, workflow.NewUser{Name: "浮梁李", Role: workflow.RoleUnit, UnitID: "浮梁县"})
	if err != nil || u.UnitID != "fuliang" {
		t.Fatalf("user of unit 浮梁县: %v, %+v", err, u)
	}

	// Names no unit has are refused, as unknown ids are.
	if _, _, err := f.svc.CreateProblem(ctx, bureau, workflow.NewProblem{Title: "x", Description: "x", Source: workflow.SourceSelfInspection, CountyID: "火星县"}); workflow.ErrorCode(err) != workflow.CodeInvalid {
		t.Errorf("create in 火星县: %v", err)
	}
	if _, _, err := f.svc.CreateUser(ctx, system, workflow.NewUser{Name: "某人", Role: workflow.RoleUnit, UnitID: "火星县"}); workflow.ErrorCode(err) != workflow.CodeInvalid {
		t.Errorf("user of 火星县: %v", err)
	}
	q, _, _ := f.svc.CreateProblem(ctx, bureau, workflow.NewProblem{Title: "y", Description: "y", Source: workflow.SourceSelfInspection, CountyID: "乐平市"})
	for _, prm := range []workflow.Params{
		{LeadUnit: "火星县", Deadline: &d},
		{LeadUnit: "乐平市", CooperatingUnits: []string{"市水利局", "city-water"}, Deadline: &d},
		{LeadUnit: "乐平市", CooperatingUnits: []string{"leping"}, Deadline: &d},
	} {
		if _, err := f.svc.Fire(ctx, bureau, q.ID, workflow.Command{Trigger: workflow.TriggerAssign, Params: prm}); workflow.ErrorCode(err) != workflow.CodeInvalid {
			t.Errorf("assign %+v: %v, want invalid", prm, err)
		}
	}
}
