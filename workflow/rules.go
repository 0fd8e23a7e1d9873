package workflow

import "slices"

// authorize applies the role, unit and separation-of-duty rules for firing t on
// p under separation rule sep. It returns a CodeForbidden error naming the
// rule that failed.
func authorize(t Trigger, a Actor, p *Problem, sep Separation) error {
	switch refusalOf(t, a, p, sep) {
	case allowed:
		return nil
	case refusedRole:
		return Refuse(ReasonRole, "role %s may not %s; it needs role %v", a.Role, t, triggerRoles(t))
	case refusedNotLead:
		return Refuse(ReasonNotLeadUnit, "only members of the lead unit %s may %s", p.LeadUnit, t)
	case refusedOwnProblem:
		return Refuse(ReasonOwnProblem, "separation of duties: an inspector of the lead unit may not %s its own problem", t)
	case refusedLeadMember:
		return Refuse(ReasonLeadMember, "separation of duties: members of the lead unit %s may not %s its problem", p.LeadUnit, t)
	case refusedCooperating:
		return Refuse(ReasonCooperatingMember, "separation of duties: members of the cooperating unit %s may not %s its problem", a.UnitID, t)
	case refusedSubmitter:
		return Refuse(ReasonSubmitterVerifies, "separation of duties: the submitter may not %s", t)
	case refusedUploader:
		return Refuse(ReasonUploaderReviews, "separation of duties: whoever uploaded evidence of the problem, or whose unit did, may not %s", t)
	case refusedVerifier:
		return Refuse(ReasonVerifierCloses, "separation of duties: the verifier may not also close")
	}
	return unknownTrigger(t)
}

// refusal names the rule of authorize that refuses a trigger, or allowed.
type refusal uint8

const (
	allowed            refusal = iota
	refusedRole                // the actor's role may not fire the trigger
	refusedNotLead             // only the lead unit's members may
	refusedOwnProblem          // SeparationLeadOnly: an inspector of the lead unit, on its own problem
	refusedLeadMember          // SeparationStrict: a member of the lead unit reviews its problem
	refusedCooperating         // SeparationStrict: a member of a cooperating unit reviews its problem
	refusedSubmitter           // the submitter may not verify (nor, strictly, reject or close)
	refusedUploader            // SeparationStrict: an uploader of evidence, or a member of its unit
	refusedVerifier            // the verifier may not also close
	refusedUnknown             // not a trigger
)

// Separation is the separation-of-duty rule for the review triggers
// (verify, reject, close), a part of Policy. Under either rule the
// submitter never verifies and the verifier never closes.
type Separation string

// Separation rules.
const (
	// SeparationStrict, the default (also as ""): nobody of the lead or a
	// cooperating unit verifies, rejects or closes, nor does whoever
	// submitted or uploaded evidence of the problem, nor a member of a unit
	// that uploaded some.
	SeparationStrict Separation = "strict"
	// SeparationLeadOnly is the earlier rule: only the lead unit's inspectors
	// may not verify or reject.
	SeparationLeadOnly Separation = "lead-only"
)

// Separations lists the separation rules.
var Separations = []Separation{SeparationStrict, SeparationLeadOnly}

// Valid reports whether r is a separation rule ("" is SeparationStrict).
func (r Separation) Valid() bool { return r == "" || slices.Contains(Separations, r) }

// reviews reports whether t judges the lead unit's work: the triggers the
// separation rules keep from those who did it.
func reviews(t Trigger) bool {
	return t == TriggerVerify || t == TriggerReject || t == TriggerClose
}

// refusalOf decides authorize's rules without building an error, so that
// listing the permitted triggers costs no allocation.
func refusalOf(t Trigger, a Actor, p *Problem, sep Separation) refusal {
	roles := triggerRoles(t)
	if roles == nil {
		return refusedUnknown
	}
	if !hasRole(a, roles) {
		return refusedRole
	}
	switch t {
	case TriggerAccept, TriggerSubmit, TriggerWithdraw:
		if a.UnitID != p.LeadUnit {
			return refusedNotLead
		}
	}
	if !reviews(t) {
		return allowed
	}
	if sep == SeparationLeadOnly {
		switch {
		case t != TriggerClose && a.UnitID == p.LeadUnit:
			return refusedOwnProblem
		case t == TriggerVerify && a.ID == p.SubmittedBy:
			return refusedSubmitter
		case t == TriggerClose && a.ID == p.VerifiedBy:
			return refusedVerifier
		}
		return allowed
	}
	switch {
	case a.UnitID != "" && a.UnitID == p.LeadUnit:
		return refusedLeadMember
	case a.UnitID != "" && slices.Contains(p.CooperatingUnits, a.UnitID):
		return refusedCooperating
	case a.ID != "" && a.ID == p.SubmittedBy:
		return refusedSubmitter
	case uploaded(a, p):
		return refusedUploader
	case t == TriggerClose && a.ID == p.VerifiedBy:
		return refusedVerifier
	}
	return allowed
}

// uploaded reports whether a, or a's unit, uploaded evidence of p. An
// inspector's own site-check photos do not count: they are the check, not
// the rectification.
func uploaded(a Actor, p *Problem) bool {
	for i := range p.Evidence {
		e := &p.Evidence[i]
		if e.Phase == PhaseSiteCheck {
			continue
		}
		if (a.ID != "" && e.UploadedBy == a.ID) || (a.UnitID != "" && e.UnitID == a.UnitID) {
			return true
		}
	}
	return false
}

// Roles that may fire each trigger, as triggerRoles returns them.
var (
	bureauOnly        = []Role{RoleBureau}
	unitOnly          = []Role{RoleUnit}
	inspectorOnly     = []Role{RoleInspector}
	inspectorOrBureau = []Role{RoleInspector, RoleBureau}
	bureauOrInspector = []Role{RoleBureau, RoleInspector}
)

// triggerRoles returns the roles that may fire t (nil for no trigger). The
// caller must not modify the result.
func triggerRoles(t Trigger) []Role {
	switch t {
	case TriggerAssign, TriggerReassign, TriggerDismiss:
		return bureauOnly
	case TriggerAccept, TriggerSubmit, TriggerWithdraw:
		return unitOnly
	case TriggerReject, TriggerVerify:
		return inspectorOnly
	case TriggerClose:
		return inspectorOrBureau
	case TriggerReopen:
		return bureauOrInspector
	case TriggerEndNotice, TriggerUphold:
		return bureauOnly
	}
	return nil
}

// hasRole reports whether a holds one of roles. The system actor (seed
// loader) acts as the bureau; no user holds it.
func hasRole(a Actor, roles []Role) bool {
	return slices.Contains(roles, a.Role) || (a.Role == RoleSystem && slices.Contains(roles, RoleBureau))
}

// needRole refuses a unless it holds one of roles (see hasRole); t names
// what is refused.
func needRole(t Trigger, a Actor, roles ...Role) error {
	if hasRole(a, roles) {
		return nil
	}
	return Refuse(ReasonRole, "role %s may not %s; it needs role %v", a.Role, t, roles)
}

// canCreate tells whether a may log problems.
func canCreate(a Actor) error {
	if a.Role == RoleBureau || a.Role == RoleSystem {
		return nil
	}
	return Refuse(ReasonRole, "role %s may not log problems; it needs role bureau", a.Role)
}

// CanImportLedger tells whether a may import a ledger file (台账导入): whoever
// may log problems, since an import logs and assigns them.
func CanImportLedger(a Actor) error {
	if err := canCreate(a); err != nil {
		return Refuse(ReasonRole, "role %s may not import a ledger; it needs role bureau", a.Role)
	}
	return nil
}

// canNote tells whether a may add a progress note to p now.
func canNote(a Actor, p *Problem) error {
	if a.Role != RoleUnit || !p.Involves(a.UnitID) {
		return Refuse(ReasonNotInvolved, "only members of the lead or cooperating units may add notes")
	}
	if p.State != StateAssigned && p.State != StateRectifying {
		return Refuse(ReasonNotesClosed, "notes may be added only while the problem is assigned or rectifying (not while submitted for review)").
			InState(p.State, nil)
	}
	return nil
}

// CanSee reports whether a may read p: unit officers see only problems where
// their unit leads or cooperates; every other role sees the whole ledger.
func CanSee(a Actor, p *Problem) bool {
	if a.Role == RoleUnit {
		return p.Involves(a.UnitID)
	}
	return a.Role.Valid() || a.Role == RoleSystem
}
