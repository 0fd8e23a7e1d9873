package workflow

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// TestAuthorizeLeadOnly checks the rules under SeparationLeadOnly, the
// earlier separation of duties.
func TestAuthorizeLeadOnly(t *testing.T) {
	p := &Problem{LeadUnit: "fuliang", CooperatingUnits: []string{"city-eeb"}, SubmittedBy: "u-submitter", VerifiedBy: "u-verifier"}
	bureau := Actor{ID: "u-b", Role: RoleBureau, UnitID: "city-eeb"}
	lead := Actor{ID: "u-lead", Role: RoleUnit, UnitID: "fuliang"}
	coop := Actor{ID: "u-coop", Role: RoleUnit, UnitID: "city-eeb"}
	other := Actor{ID: "u-other", Role: RoleUnit, UnitID: "leping"}
	insp := Actor{ID: "u-i", Role: RoleInspector, UnitID: "inspect"}
	leadInsp := Actor{ID: "u-li", Role: RoleInspector, UnitID: "fuliang"}
	submitterInsp := Actor{ID: "u-submitter", Role: RoleInspector, UnitID: "inspect"}
	verifier := Actor{ID: "u-verifier", Role: RoleInspector, UnitID: "inspect"}
	viewer := Actor{ID: "u-v", Role: RoleViewer, UnitID: "city-eeb"}
	admin := Actor{ID: "u-a", Role: RoleAdmin, UnitID: "city-eeb"}
	system := Actor{ID: "system", Role: RoleSystem}

	cases := []struct {
		trig  Trigger
		actor Actor
		ok    bool
		why   string
	}{
		{TriggerAssign, bureau, true, ""},
		{TriggerAssign, system, true, ""},
		{TriggerAssign, lead, false, "role unit"},
		{TriggerAssign, insp, false, "role inspector"},
		{TriggerAssign, admin, false, "role admin"},
		{TriggerReassign, bureau, true, ""},
		{TriggerReassign, viewer, false, "role viewer"},
		{TriggerDismiss, bureau, true, ""},
		{TriggerDismiss, insp, false, "role inspector"},
		{TriggerAccept, lead, true, ""},
		{TriggerAccept, coop, false, "lead unit"},
		{TriggerAccept, other, false, "lead unit"},
		{TriggerAccept, bureau, false, "role bureau"},
		{TriggerSubmit, lead, true, ""},
		{TriggerSubmit, coop, false, "lead unit"},
		{TriggerWithdraw, lead, true, ""},
		{TriggerWithdraw, other, false, "lead unit"},
		{TriggerReject, insp, true, ""},
		{TriggerReject, leadInsp, false, "separation of duties"},
		{TriggerReject, lead, false, "role unit"},
		{TriggerVerify, insp, true, ""},
		{TriggerVerify, leadInsp, false, "separation of duties"},
		{TriggerVerify, submitterInsp, false, "submitter"},
		{TriggerVerify, bureau, false, "role bureau"},
		{TriggerVerify, lead, false, "role unit"},
		{TriggerClose, insp, true, ""},
		{TriggerClose, bureau, true, ""},
		{TriggerClose, verifier, false, "verifier"},
		{TriggerClose, lead, false, "role unit"},
		{TriggerClose, viewer, false, "role viewer"},
		{TriggerReopen, bureau, true, ""},
		{TriggerReopen, insp, true, ""},
		{TriggerReopen, lead, false, "role unit"},
		{TriggerReopen, viewer, false, "role viewer"},
	}
	for _, c := range cases {
		err := authorize(c.trig, c.actor, p, SeparationLeadOnly)
		if c.ok {
			if err != nil {
				t.Errorf("%s by %s/%s: %v", c.trig, c.actor.Role, c.actor.UnitID, err)
			}
			continue
		}
		if ErrorCode(err) != CodeForbidden {
			t.Errorf("%s by %s/%s: got %v, want forbidden", c.trig, c.actor.Role, c.actor.UnitID, err)
			continue
		}
		if !strings.Contains(err.Error(), c.why) {
			t.Errorf("%s by %s/%s: reason %q does not mention %q", c.trig, c.actor.Role, c.actor.UnitID, err, c.why)
		}
	}
}

// TestAuthorizeStrict checks the default separation of duties: nobody of the
// lead or a cooperating unit, nor the submitter, an uploader or an
// uploader's unit verifies, rejects or closes; the verifier never closes.
func TestAuthorizeStrict(t *testing.T) {
	p := &Problem{LeadUnit: "fuliang", CooperatingUnits: []string{"city-water"}, SubmittedBy: "u-submitter", VerifiedBy: "u-verifier",
		Evidence: []Evidence{{UploadedBy: "u-lead", UnitID: "fuliang"}, {UploadedBy: "u-moved", UnitID: "leping"}}}
	bureau := Actor{ID: "u-b", Role: RoleBureau, UnitID: "city-eeb"}
	leadBureau := Actor{ID: "u-lb", Role: RoleBureau, UnitID: "fuliang"}
	coopBureau := Actor{ID: "u-cb", Role: RoleBureau, UnitID: "city-water"}
	insp := Actor{ID: "u-i", Role: RoleInspector, UnitID: "inspect"}
	leadInsp := Actor{ID: "u-li", Role: RoleInspector, UnitID: "fuliang"}
	coopInsp := Actor{ID: "u-ci", Role: RoleInspector, UnitID: "city-water"}
	uploaderUnitInsp := Actor{ID: "u-ui", Role: RoleInspector, UnitID: "leping"} // its unit uploaded, then left the problem
	submitter := Actor{ID: "u-submitter", Role: RoleInspector, UnitID: "inspect"}
	uploader := Actor{ID: "u-moved", Role: RoleInspector, UnitID: "inspect"}
	verifier := Actor{ID: "u-verifier", Role: RoleBureau, UnitID: "city-eeb"}
	system := Actor{ID: "system", Role: RoleSystem}
	lead := Actor{ID: "u-lead", Role: RoleUnit, UnitID: "fuliang"}

	cases := []struct {
		trig  Trigger
		actor Actor
		why   string // "" when allowed
	}{
		{TriggerVerify, insp, ""},
		{TriggerReject, insp, ""},
		{TriggerClose, insp, ""},
		{TriggerClose, bureau, ""},
		{TriggerClose, system, ""},
		{TriggerVerify, leadInsp, "members of the lead unit fuliang"},
		{TriggerReject, leadInsp, "members of the lead unit fuliang"},
		{TriggerClose, leadInsp, "members of the lead unit fuliang"},
		{TriggerClose, leadBureau, "members of the lead unit fuliang"},
		{TriggerVerify, coopInsp, "cooperating unit city-water"},
		{TriggerReject, coopInsp, "cooperating unit city-water"},
		{TriggerClose, coopInsp, "cooperating unit city-water"},
		{TriggerClose, coopBureau, "cooperating unit city-water"},
		{TriggerVerify, submitter, "the submitter may not verify"},
		{TriggerReject, submitter, "the submitter may not reject"},
		{TriggerClose, submitter, "the submitter may not close"},
		{TriggerVerify, uploader, "uploaded evidence"},
		{TriggerClose, uploader, "uploaded evidence"},
		{TriggerVerify, uploaderUnitInsp, "uploaded evidence"},
		{TriggerReject, uploaderUnitInsp, "uploaded evidence"},
		{TriggerClose, verifier, "the verifier may not also close"},
		{TriggerVerify, lead, "role unit"},
		{TriggerAccept, lead, ""},
		{TriggerReopen, leadBureau, ""}, // reopening is no review
		{TriggerAssign, leadBureau, ""},
	}
	for _, c := range cases {
		for _, sep := range []Separation{"", SeparationStrict} {
			err := authorize(c.trig, c.actor, p, sep)
			if c.why == "" {
				if err != nil {
					t.Errorf("%s by %s: %v", c.trig, c.actor.ID, err)
				}
				continue
			}
			if ErrorCode(err) != CodeForbidden || !strings.Contains(err.Error(), c.why) {
				t.Errorf("%s by %s: got %v, want forbidden naming %q", c.trig, c.actor.ID, err, c.why)
			}
		}
	}
}

func TestCanSee(t *testing.T) {
	p := &Problem{LeadUnit: "fuliang", CooperatingUnits: []string{"city-water"}}
	cases := []struct {
		a    Actor
		want bool
	}{
		{Actor{Role: RoleUnit, UnitID: "fuliang"}, true},
		{Actor{Role: RoleUnit, UnitID: "city-water"}, true},
		{Actor{Role: RoleUnit, UnitID: "leping"}, false},
		{Actor{Role: RoleUnit, UnitID: ""}, false},
		{Actor{Role: RoleBureau}, true},
		{Actor{Role: RoleInspector}, true},
		{Actor{Role: RoleViewer}, true},
		{Actor{Role: RoleAdmin}, true},
		{Actor{Role: "stranger"}, false},
	}
	for _, c := range cases {
		if got := CanSee(c.a, p); got != c.want {
			t.Errorf("CanSee(%s/%s) = %v, want %v", c.a.Role, c.a.UnitID, got, c.want)
		}
	}
}

// TestPermittedTriggersFollowAuthorize checks that the permitted triggers
// are exactly those the workflow allows in the state, with evidence for
// submit, that authorize does not refuse.
func TestPermittedTriggersFollowAuthorize(t *testing.T) {
	actors := []Actor{
		{ID: "u-b", Role: RoleBureau, UnitID: "city-eeb"},
		{ID: "u-lead", Role: RoleUnit, UnitID: "fuliang"},
		{ID: "u-coop", Role: RoleUnit, UnitID: "city-water"},
		{ID: "u-i", Role: RoleInspector, UnitID: "inspect"},
		{ID: "u-li", Role: RoleInspector, UnitID: "fuliang"},
		{ID: "u-submitter", Role: RoleInspector, UnitID: "inspect"},
		{ID: "u-verifier", Role: RoleInspector, UnitID: "inspect"},
		{ID: "u-verifier", Role: RoleBureau, UnitID: "city-eeb"},
		{ID: "u-v", Role: RoleViewer},
		{ID: "u-a", Role: RoleAdmin},
		{ID: "system", Role: RoleSystem},
	}
	s := &Service{clock: NewManualClock(time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC))}
	for _, st := range States {
		for _, res := range []Resolution{ResolutionNone, ResolutionRectified, ResolutionDismissed} {
			// No evidence, evidence of the current round, of an earlier one.
			for round := range 3 {
				p := &Problem{State: st, Resolution: res, LeadUnit: "fuliang", CooperatingUnits: []string{"city-water"},
					SubmittedBy: "u-submitter", VerifiedBy: "u-verifier"}
				if round > 0 {
					p.Evidence = []Evidence{{Round: 0}}
					p.EvidenceRound = round - 1
				}
				for _, a := range actors {
					want := []Trigger{}
					for _, trig := range stateTriggers(p) {
						if trig == TriggerSubmit && !p.hasNewEvidence() {
							continue
						}
						// No notice on record, no objection open: neither notice trigger is ready.
						if trig == TriggerEndNotice || trig == TriggerUphold {
							continue
						}
						if authorize(trig, a, p, "") == nil {
							want = append(want, trig)
						}
					}
					got := s.PermittedTriggers(a, p)
					if got == nil || !slices.Equal(got, want) {
						t.Errorf("%s/%s, evidence case %d, %s %s: permitted %v, want %v", st, res, round, a.Role, a.ID, got, want)
					}
				}
			}
		}
	}
}
