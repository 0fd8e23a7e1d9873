package workflow_test

import (
	"context"
	"testing"

	"github.com/jdz-eco/rectify/workflow"
)

// TestSameFileAfterRejectionIsNotNew reproduces issue 16's observation: the
// same photo.jpg uploaded again after a rejection let the unit submit again.
// The upload is refused (409, same_evidence) and submit still needs
// something really new.
func TestSameFileAfterRejectionIsNotNew(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	id := f.create(t).ID
	f.fire(t, bureau, id, workflow.TriggerAssign, workflow.Params{LeadUnit: "fuliang", Deadline: deadline("2021-12-31")})
	f.fire(t, officer, id, workflow.TriggerAccept, workflow.Params{Plan: "方案"})
	f.evidence(t, officer, id, "photo.jpg")
	f.fire(t, officer, id, workflow.TriggerSubmit, workflow.Params{Summary: "完成"})
	f.fire(t, inspector, id, workflow.TriggerReject, workflow.Params{Reason: "照片看不清"})

	_, err := f.svc.AddEvidence(ctx, officer, id, evidenceInput("photo.jpg"), 0)
	e := wantCode(t, err, workflow.CodeConflict)
	if e.Reason != workflow.ReasonSameEvidence {
		t.Fatalf("reason %q, want %q", e.Reason, workflow.ReasonSameEvidence)
	}
	// Also by a cooperating unit's officer, and in the same round.
	if _, err := f.svc.AddEvidence(ctx, officer, id, evidenceInput("photo.jpg"), 0); workflow.ErrorReason(err) != workflow.ReasonSameEvidence {
		t.Fatalf("second try: %v", err)
	}
	_, err = f.svc.Fire(ctx, officer, id, workflow.Command{Trigger: workflow.TriggerSubmit, Params: workflow.Params{Summary: "再次提交"}})
	if workflow.ErrorReason(err) != workflow.ReasonNeedsNewEvidence {
		t.Fatalf("submit after the same file again: %v, want %s", err, workflow.ReasonNeedsNewEvidence)
	}
	f.evidence(t, officer, id, "photo-new.jpg")
	f.fire(t, officer, id, workflow.TriggerSubmit, workflow.Params{Summary: "补充新照片"})
}
