package workflow_test

import (
	"context"
	"reflect"
	"testing"

	"github.com/jdz-eco/rectify/workflow"
)

// TestNextStep: at each state of the main path the service says whose turn
// it is, as the rules decide it: the bureau assigns, the lead unit accepts
// and submits (evidence first), inspectors outside the lead unit verify,
// the bureau or an inspector other than the verifier closes; nobody owes a
// step on a closed problem.
func TestNextStep(t *testing.T) {
	f := newFixture(t)
	p := f.create(t)
	want := func(p *workflow.Problem, step workflow.NextStep, needs workflow.Code) {
		t.Helper()
		got, ok := f.svc.NextStep(p)
		if !ok {
			t.Fatalf("%s: no next step", p.State)
		}
		if workflow.ErrorCode(got.Needs) != needs {
			t.Errorf("%s: needs %v, want %q", p.State, got.Needs, needs)
		}
		got.Needs = nil
		if !reflect.DeepEqual(got, step) {
			t.Errorf("%s: next step %+v, want %+v", p.State, got, step)
		}
	}
	bureauOnly := []workflow.Role{workflow.RoleBureau}
	want(p, workflow.NextStep{Trigger: workflow.TriggerAssign, Roles: bureauOnly}, "")
	p = f.fire(t, bureau, p.ID, workflow.TriggerAssign, workflow.Params{LeadUnit: "fuliang", Deadline: deadline("2021-12-31")})
	unitOnly := []workflow.Role{workflow.RoleUnit}
	want(p, workflow.NextStep{Trigger: workflow.TriggerAccept, Roles: unitOnly, LeadUnitOnly: true}, "")
	p = f.fire(t, officer, p.ID, workflow.TriggerAccept, workflow.Params{Plan: "方案"})
	want(p, workflow.NextStep{Trigger: workflow.TriggerSubmit, Roles: unitOnly, LeadUnitOnly: true}, workflow.CodeConflict)
	p = f.evidence(t, officer, p.ID, "a")
	want(p, workflow.NextStep{Trigger: workflow.TriggerSubmit, Roles: unitOnly, LeadUnitOnly: true}, "")
	p = f.fire(t, officer, p.ID, workflow.TriggerSubmit, workflow.Params{Summary: "完成"})
	want(p, workflow.NextStep{Trigger: workflow.TriggerVerify, Roles: []workflow.Role{workflow.RoleInspector}, LeadUnitExcluded: true}, "")
	p = f.fire(t, inspector, p.ID, workflow.TriggerVerify, workflow.Params{Opinion: "通过"})
	want(p, workflow.NextStep{Trigger: workflow.TriggerClose, Roles: []workflow.Role{workflow.RoleBureau, workflow.RoleInspector},
		LeadUnitExcluded: true, Excluded: []string{workflow.PriorVerifier}}, "")
	p = f.fire(t, bureau, p.ID, workflow.TriggerClose, workflow.Params{Statement: "同意"})
	if step, ok := f.svc.NextStep(p); ok {
		t.Errorf("closed: next step %+v", step)
	}
	// With a cooperating unit, its members are excluded too (the strict
	// separation of duties).
	q := f.create(t)
	q = f.fire(t, bureau, q.ID, workflow.TriggerAssign, workflow.Params{LeadUnit: "fuliang", CooperatingUnits: []string{"city-water"}, Deadline: deadline("2021-12-31")})
	q = f.fire(t, officer, q.ID, workflow.TriggerAccept, workflow.Params{Plan: "方案"})
	q = f.evidence(t, officer, q.ID, "q")
	q = f.fire(t, officer, q.ID, workflow.TriggerSubmit, workflow.Params{Summary: "完成"})
	want(q, workflow.NextStep{Trigger: workflow.TriggerVerify, Roles: []workflow.Role{workflow.RoleInspector}, LeadUnitExcluded: true, CooperatingExcluded: true}, "")
}

// TestBlockedTriggers: the lead unit may submit once it has handed in
// evidence of the current round; until then submit is blocked, with the
// refusal it would get, and not permitted. Nobody else is told it is.
func TestBlockedTriggers(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	p := f.create(t)
	p = f.fire(t, bureau, p.ID, workflow.TriggerAssign, workflow.Params{LeadUnit: "fuliang", CooperatingUnits: []string{"city-water"}, Deadline: deadline("2021-12-31")})
	if b := f.svc.BlockedTriggers(officer, p); len(b) != 0 {
		t.Errorf("assigned: blocked %v", b)
	}
	p = f.fire(t, officer, p.ID, workflow.TriggerAccept, workflow.Params{Plan: "方案"})
	b := f.svc.BlockedTriggers(officer, p)
	if len(b) != 1 || b[0].Trigger != workflow.TriggerSubmit || workflow.ErrorCode(b[0].Err) != workflow.CodeConflict {
		t.Fatalf("rectifying without evidence: blocked %v", b)
	}
	_, err := f.svc.Fire(ctx, officer, p.ID, workflow.Command{Trigger: workflow.TriggerSubmit, Params: workflow.Params{Summary: "完成"}})
	if workflow.ErrorMessage(err) != workflow.ErrorMessage(b[0].Err) {
		t.Errorf("blocked with %q, firing refused with %q", workflow.ErrorMessage(b[0].Err), workflow.ErrorMessage(err))
	}
	for _, a := range []workflow.Actor{coop, outsider, bureau, inspector} {
		if b := f.svc.BlockedTriggers(a, p); len(b) != 0 {
			t.Errorf("%s: blocked %v", a.ID, b)
		}
	}
	p = f.evidence(t, coop, p.ID, "a")
	if b := f.svc.BlockedTriggers(officer, p); len(b) != 0 {
		t.Errorf("with evidence: blocked %v", b)
	}
	if !f.svc.RoleMayFire(bureau, workflow.TriggerClose) || !f.svc.RoleMayFire(inspector, workflow.TriggerClose) ||
		f.svc.RoleMayFire(officer, workflow.TriggerClose) || f.svc.RoleMayFire(bureau, workflow.TriggerVerify) {
		t.Error("RoleMayFire disagrees with the rules")
	}
}
