package workflow_test

import (
	"context"
	"testing"

	"github.com/jdz-eco/rectify/workflow"
)

// submitted returns a problem led by fuliang with city-water cooperating,
// its evidence uploaded by uploader and submitted by the fuliang officer.
func (f *fixture) submitted(t *testing.T, uploader workflow.Actor) string {
	t.Helper()
	id := f.create(t).ID
	f.fire(t, bureau, id, workflow.TriggerAssign, workflow.Params{LeadUnit: "fuliang", CooperatingUnits: []string{"city-water"}, Deadline: deadline("2021-12-31")})
	f.fire(t, officer, id, workflow.TriggerAccept, workflow.Params{Plan: "方案"})
	f.evidence(t, uploader, id, "sod-"+id)
	f.fire(t, officer, id, workflow.TriggerSubmit, workflow.Params{Summary: "完成"})
	return id
}

// TestSeparationOfDutiesGaps reproduces issue 12 item 5: an inspector of the
// lead unit closed a problem of that unit, and an inspector of a cooperating
// unit verified evidence their own unit uploaded. Under the default policy
// neither may, and nobody of the lead or a cooperating unit verifies,
// rejects or closes.
func TestSeparationOfDutiesGaps(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	leadInspector := workflow.Actor{ID: "u-fl-insp", Name: "浮梁县验收员", Role: workflow.RoleInspector, UnitID: "fuliang"}
	coopInspector := workflow.Actor{ID: "u-water-insp", Name: "水利局验收员", Role: workflow.RoleInspector, UnitID: "city-water"}
	leadBureau := workflow.Actor{ID: "u-fl-bureau", Name: "浮梁县生态环境分局", Role: workflow.RoleBureau, UnitID: "fuliang"}
	coopBureau := workflow.Actor{ID: "u-water-bureau", Name: "水利局督办", Role: workflow.RoleBureau, UnitID: "city-water"}

	// A cooperating unit's inspector verifies (and rejects) the evidence of
	// their own unit.
	id := f.submitted(t, coop)
	for _, trig := range []workflow.Trigger{workflow.TriggerVerify, workflow.TriggerReject} {
		_, err := f.svc.Fire(ctx, coopInspector, id, workflow.Command{Trigger: trig, Params: workflow.Params{Opinion: "通过", Reason: "不通过"}})
		wantCode(t, err, workflow.CodeForbidden)
		if got := f.svc.PermittedTriggers(coopInspector, mustGet(t, f, id)); len(got) != 0 {
			t.Fatalf("the cooperating unit's inspector is offered %v", got)
		}
	}

	// The lead unit's inspector, or its bureau member, closes.
	f.fire(t, inspector, id, workflow.TriggerVerify, workflow.Params{Opinion: "验收通过"})
	for _, a := range []workflow.Actor{leadInspector, leadBureau, coopInspector, coopBureau} {
		_, err := f.svc.Fire(ctx, a, id, workflow.Command{Trigger: workflow.TriggerClose, Params: workflow.Params{Statement: "同意销号"}})
		wantCode(t, err, workflow.CodeForbidden)
		for _, got := range f.svc.PermittedTriggers(a, mustGet(t, f, id)) {
			if got == workflow.TriggerClose {
				t.Fatalf("%s of %s is offered close", a.Role, a.UnitID)
			}
		}
	}
	p := mustGet(t, f, id)
	if p.State != workflow.StateVerified || p.Version != 6 {
		t.Fatalf("refusals changed the problem: %s at version %d", p.State, p.Version)
	}
	// Someone of neither unit may.
	p = f.fire(t, bureau, id, workflow.TriggerClose, workflow.Params{Statement: "同意销号"})
	if p.State != workflow.StateClosed {
		t.Fatalf("closed: %s", p.State)
	}
}

// TestSeparationOfDutiesLeadOnly checks the configurable, older rule: only
// the lead unit's inspectors may not verify or reject, the submitter may not
// verify and the verifier may not close.
func TestSeparationOfDutiesLeadOnly(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	pol := workflow.DefaultPolicy()
	pol.Separation = workflow.SeparationLeadOnly
	if err := f.svc.SetPolicy(pol); err != nil {
		t.Fatal(err)
	}
	leadInspector := workflow.Actor{ID: "u-fl-insp", Role: workflow.RoleInspector, UnitID: "fuliang"}
	coopInspector := workflow.Actor{ID: "u-water-insp", Role: workflow.RoleInspector, UnitID: "city-water"}
	id := f.submitted(t, coop)
	_, err := f.svc.Fire(ctx, leadInspector, id, workflow.Command{Trigger: workflow.TriggerVerify, Params: workflow.Params{Opinion: "x"}})
	wantCode(t, err, workflow.CodeForbidden)
	f.fire(t, coopInspector, id, workflow.TriggerVerify, workflow.Params{Opinion: "验收通过"})
	_, err = f.svc.Fire(ctx, coopInspector, id, workflow.Command{Trigger: workflow.TriggerClose, Params: workflow.Params{Statement: "x"}})
	wantCode(t, err, workflow.CodeForbidden) // the verifier, under either rule
	f.fire(t, leadInspector, id, workflow.TriggerClose, workflow.Params{Statement: "同意销号"})

	if err := f.svc.SetPolicy(workflow.Policy{DueSoon: pol.DueSoon, Red: pol.Red, Listed: pol.Listed, AcceptDays: 3, VerifyDays: 15, Separation: "lenient"}); workflow.ErrorCode(err) != workflow.CodeInvalid {
		t.Fatalf("an unknown separation rule: %v", err)
	}
}
