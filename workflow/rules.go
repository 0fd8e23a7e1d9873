package workflow

import "slices"

// authorize applies the role, unit and separation-of-duty rules for firing t on
// p. It returns a CodeForbidden error naming the rule that failed.
func authorize(t Trigger, a Actor, p *Problem) error {
	switch refusalOf(t, a, p) {
	case allowed:
		return nil
	case refusedRole:
		return Refuse(ReasonRole, "role %s may not %s; it needs role %v", a.Role, t, triggerRoles(t))
	case refusedNotLead:
		return Refuse(ReasonNotLeadUnit, "only members of the lead unit %s may %s", p.LeadUnit, t)
	case refusedOwnProblem:
		if t == TriggerVerify {
			return Refuse(ReasonOwnProblem, "separation of duties: an inspector of the lead unit may not verify its own problem")
		}
		return Refuse(ReasonOwnProblem, "separation of duties: an inspector of the lead unit may not %s its own problem", t)
	case refusedSubmitter:
		return Refuse(ReasonSubmitterVerifies, "separation of duties: the submitter may not verify")
	case refusedVerifier:
		return Refuse(ReasonVerifierCloses, "separation of duties: the verifier may not also close")
	}
	return unknownTrigger(t)
}

// refusal names the rule of authorize that refuses a trigger, or allowed.
type refusal uint8

const (
	allowed           refusal = iota
	refusedRole               // the actor's role may not fire the trigger
	refusedNotLead            // only the lead unit's members may
	refusedOwnProblem         // an inspector of the lead unit, on its own problem
	refusedSubmitter          // the submitter may not verify
	refusedVerifier           // the verifier may not also close
	refusedUnknown            // not a trigger
)

// refusalOf decides authorize's rules without building an error, so that
// listing the permitted triggers costs no allocation.
func refusalOf(t Trigger, a Actor, p *Problem) refusal {
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
	case TriggerReject:
		if a.UnitID == p.LeadUnit {
			return refusedOwnProblem
		}
	case TriggerVerify:
		if a.UnitID == p.LeadUnit {
			return refusedOwnProblem
		}
		if a.ID == p.SubmittedBy {
			return refusedSubmitter
		}
	case TriggerClose:
		if a.ID == p.VerifiedBy {
			return refusedVerifier
		}
	}
	return allowed
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
