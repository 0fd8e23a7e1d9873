package workflow_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/jdz-eco/rectify/workflow"
)

func deepEqual(a, b any) bool { return reflect.DeepEqual(a, b) }

func TestExtensions(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	id := f.create(t).ID
	due := f.clock.Now().Add(20 * workflow.Day)
	f.fire(t, bureau, id, workflow.TriggerAssign, workflow.Params{LeadUnit: "fuliang", CooperatingUnits: []string{"city-water"}, Deadline: &due})
	f.fire(t, officer, id, workflow.TriggerAccept, workflow.Params{Plan: "方案"})
	later := due.Add(30 * workflow.Day)
	req := workflow.ExtensionRequest{Deadline: later, Reason: "汛期无法施工"}

	_, err := f.svc.RequestExtension(ctx, coop, id, req, 0)
	wantCode(t, err, workflow.CodeForbidden)
	_, err = f.svc.RequestExtension(ctx, outsider, id, req, 0)
	wantCode(t, err, workflow.CodeNotFound)
	_, err = f.svc.RequestExtension(ctx, bureau, id, req, 0)
	wantCode(t, err, workflow.CodeForbidden)
	_, err = f.svc.RequestExtension(ctx, officer, id, workflow.ExtensionRequest{Deadline: due.Add(-workflow.Day), Reason: "x"}, 0)
	wantCode(t, err, workflow.CodeInvalid)
	_, err = f.svc.RequestExtension(ctx, officer, id, workflow.ExtensionRequest{Deadline: later}, 0)
	wantCode(t, err, workflow.CodeInvalid)

	p, err := f.svc.RequestExtension(ctx, officer, id, req, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Extensions) != 1 || p.Extensions[0].Status != workflow.ExtensionPending || !p.Deadline.Equal(due) {
		t.Fatalf("after request: %+v %s", p.Extensions, p.Deadline)
	}
	_, err = f.svc.RequestExtension(ctx, officer, id, req, 0)
	wantCode(t, err, workflow.CodeConflict)

	_, err = f.svc.DecideExtension(ctx, officer, id, "1", "approve", "", 0)
	wantCode(t, err, workflow.CodeForbidden)
	_, err = f.svc.DecideExtension(ctx, inspector, id, "1", "approve", "", 0)
	wantCode(t, err, workflow.CodeForbidden)
	_, err = f.svc.DecideExtension(ctx, bureau, id, "9", "approve", "", 0)
	wantCode(t, err, workflow.CodeNotFound)
	_, err = f.svc.DecideExtension(ctx, bureau, id, "1", "maybe", "", 0)
	wantCode(t, err, workflow.CodeInvalid)

	p, err = f.svc.DecideExtension(ctx, bureau, id, "1", "deny", "理由不充分", 0)
	if err != nil {
		t.Fatal(err)
	}
	if p.Extensions[0].Status != workflow.ExtensionDenied || !p.Deadline.Equal(due) || p.Extended() {
		t.Fatalf("after deny: %+v", p)
	}
	_, err = f.svc.DecideExtension(ctx, bureau, id, "1", "approve", "", 0)
	wantCode(t, err, workflow.CodeConflict)

	// The deadline passes and the problem goes overdue; without grace it is too late to ask.
	f.clock.Set(due.Add(2 * workflow.Day))
	if _, err := f.svc.Scan(ctx); err != nil {
		t.Fatal(err)
	}
	_, err = f.svc.RequestExtension(ctx, officer, id, req, 0)
	wantCode(t, err, workflow.CodeForbidden)
	// The bureau allows 5 days of grace.
	pol := f.svc.Policy()
	pol.ExtensionGrace = 5 * workflow.Day
	if err := f.svc.SetPolicy(pol); err != nil {
		t.Fatal(err)
	}
	if _, err = f.svc.RequestExtension(ctx, officer, id, req, 0); err != nil {
		t.Fatal(err)
	}
	p, err = f.svc.DecideExtension(ctx, bureau, id, "2", "approve", "同意延期", 0)
	if err != nil {
		t.Fatal(err)
	}
	if !p.Deadline.Equal(later) || !p.OriginalDeadline.Equal(due) || !p.Extended() {
		t.Fatalf("after approve: deadline %s original %s", p.Deadline, p.OriginalDeadline)
	}
	if p.Supervision.Level != workflow.LevelNone || p.LevelAt(f.clock.Now(), f.svc.Policy()) != workflow.LevelNone {
		t.Fatalf("approved extension left level %q", p.Supervision.Level)
	}
	items, _, _ := f.svc.Problems(ctx, bureau, workflow.ProblemFilter{Tag: workflow.TagLate})
	if len(items) != 0 {
		t.Fatalf("extended problem still listed as late")
	}
	// Late again after the new deadline: the overdue alert is recorded again, once.
	f.clock.Set(later.Add(time.Hour))
	if n, _ := f.svc.Scan(ctx); n != 1 {
		t.Fatalf("overdue after the extension: %d alerts", n)
	}
	if got := alertsOf(t, f.svc, id); !equal(got, []string{"overdue", "overdue"}) {
		t.Fatalf("alerts %v", got)
	}

	hist, _ := f.svc.History(ctx, bureau, id)
	var actions []string
	for _, e := range hist {
		actions = append(actions, e.Action)
	}
	want := []string{"create", "assign", "accept", "extension_request", "extension_decision", "alert", "extension_request", "extension_decision", "alert"}
	if !equal(actions, want) {
		t.Fatalf("history %v, want %v", actions, want)
	}
	replayMatches(t, f, id)
}

// TestCanRequestExtensionAgrees: CanRequestExtension allows exactly what
// RequestExtension takes (the pages show the form by it), and
// CanDecideExtension exactly who may decide a pending request.
func TestCanRequestExtensionAgrees(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	id := f.create(t).ID
	due := f.clock.Now().Add(20 * workflow.Day)
	check := func(what string, a workflow.Actor) {
		t.Helper()
		p, err := f.svc.Problem(ctx, bureau, id)
		if err != nil {
			t.Fatal(err)
		}
		can := f.svc.CanRequestExtension(a, p)
		// Try it for real on a copy of the ledger's state: a request that
		// succeeds is denied again at once, so that the next check starts alike.
		_, err = f.svc.RequestExtension(ctx, a, id, workflow.ExtensionRequest{Deadline: due.Add(60 * workflow.Day), Reason: "汛期"}, 0)
		if (can == nil) != (err == nil) || workflow.ErrorReason(can) != workflow.ErrorReason(err) {
			t.Errorf("%s: CanRequestExtension = %v, RequestExtension = %v", what, can, err)
		}
		if err == nil {
			p, _ = f.svc.Problem(ctx, bureau, id)
			if e := workflow.CanDecideExtension(officer, p); workflow.ErrorCode(e) != workflow.CodeForbidden {
				t.Errorf("%s: the lead unit may decide: %v", what, e)
			}
			if e := workflow.CanDecideExtension(bureau, p); e != nil {
				t.Errorf("%s: the bureau may not decide a pending request: %v", what, e)
			}
			x := p.PendingExtension()
			if _, err := f.svc.DecideExtension(ctx, bureau, id, x.ID, "deny", "", 0); err != nil {
				t.Fatal(err)
			}
			p, _ = f.svc.Problem(ctx, bureau, id)
			if e := workflow.CanDecideExtension(bureau, p); workflow.ErrorReason(e) != workflow.ReasonExtensionNotFound {
				t.Errorf("%s: nothing pending, yet the bureau may decide: %v", what, e)
			}
		}
	}
	check("found, the bureau", bureau)
	f.fire(t, bureau, id, workflow.TriggerAssign, workflow.Params{LeadUnit: "fuliang", CooperatingUnits: []string{"city-water"}, Deadline: &due})
	check("assigned, the lead unit", officer)
	check("assigned, a cooperating unit", coop)
	check("assigned, the bureau", bureau)
	f.fire(t, officer, id, workflow.TriggerAccept, workflow.Params{Plan: "方案"})
	check("rectifying", officer)
	f.clock.Set(due.Add(time.Hour))
	check("past the deadline, no grace", officer)
	pol := f.svc.Policy()
	pol.ExtensionGrace = 2 * workflow.Day
	if err := f.svc.SetPolicy(pol); err != nil {
		t.Fatal(err)
	}
	check("within the grace", officer)
	f.clock.Set(due.Add(3 * workflow.Day))
	check("past the grace", officer)
}

// TestParamFieldsOn: reopen asks for a deadline unless it takes a
// dismissed problem back to found, which takes none.
func TestParamFieldsOn(t *testing.T) {
	closed := &workflow.Problem{State: workflow.StateClosed, Resolution: workflow.ResolutionRectified}
	dismissed := &workflow.Problem{State: workflow.StateClosed, Resolution: workflow.ResolutionDismissed}
	if req, opt := workflow.ParamFieldsOn(workflow.TriggerReopen, closed); !equal(req, []string{"reason", "deadline"}) || len(opt) != 0 {
		t.Errorf("reopen of a rectified problem: %v %v", req, opt)
	}
	if req, opt := workflow.ParamFieldsOn(workflow.TriggerReopen, dismissed); !equal(req, []string{"reason"}) || len(opt) != 0 {
		t.Errorf("reopen of a dismissed problem: %v %v", req, opt)
	}
	req, opt := workflow.ParamFieldsOn(workflow.TriggerAssign, &workflow.Problem{State: workflow.StateFound})
	wreq, wopt := workflow.ParamFields(workflow.TriggerAssign)
	if !equal(req, wreq) || !equal(opt, wopt) {
		t.Errorf("assign: %v %v", req, opt)
	}
}
