package workflow

import "slices"

// authorize applies the role, unit and separation-of-duty rules for firing t on
// p. It returns a CodeForbidden error naming the rule that failed.
func authorize(t Trigger, a Actor, p *Problem) error {
	switch t {
	case TriggerAssign, TriggerReassign, TriggerDismiss:
		return needRole(t, a, RoleBureau)
	case TriggerAccept, TriggerSubmit, TriggerWithdraw:
		if err := needRole(t, a, RoleUnit); err != nil {
			return err
		}
		if a.UnitID != p.LeadUnit {
			return Errorf(CodeForbidden, "only members of the lead unit %s may %s", p.LeadUnit, t)
		}
	case TriggerReject:
		if err := needRole(t, a, RoleInspector); err != nil {
			return err
		}
		if a.UnitID == p.LeadUnit {
			return Errorf(CodeForbidden, "separation of duties: an inspector of the lead unit may not %s its own problem", t)
		}
	case TriggerVerify:
		if err := needRole(t, a, RoleInspector); err != nil {
			return err
		}
		if a.UnitID == p.LeadUnit {
			return Errorf(CodeForbidden, "separation of duties: an inspector of the lead unit may not verify its own problem")
		}
		if a.ID == p.SubmittedBy {
			return Errorf(CodeForbidden, "separation of duties: the submitter may not verify")
		}
	case TriggerClose:
		if err := needRole(t, a, RoleInspector, RoleBureau); err != nil {
			return err
		}
		if a.ID == p.VerifiedBy {
			return Errorf(CodeForbidden, "separation of duties: the verifier may not also close")
		}
	case TriggerReopen:
		return needRole(t, a, RoleBureau, RoleInspector)
	default:
		return unknownTrigger(t)
	}
	return nil
}

func needRole(t Trigger, a Actor, roles ...Role) error {
	if slices.Contains(roles, a.Role) {
		return nil
	}
	// The system actor (seed loader) acts as the bureau; no user holds it.
	if a.Role == RoleSystem && slices.Contains(roles, RoleBureau) {
		return nil
	}
	return Errorf(CodeForbidden, "role %s may not %s; it needs role %v", a.Role, t, roles)
}

// canCreate tells whether a may log problems.
func canCreate(a Actor) error {
	if a.Role == RoleBureau || a.Role == RoleSystem {
		return nil
	}
	return Errorf(CodeForbidden, "role %s may not log problems; it needs role bureau", a.Role)
}

// canNote tells whether a may add a progress note to p now.
func canNote(a Actor, p *Problem) error {
	if a.Role != RoleUnit || !p.Involves(a.UnitID) {
		return Errorf(CodeForbidden, "only members of the lead or cooperating units may add notes")
	}
	if p.State != StateAssigned && p.State != StateRectifying {
		return &Error{Code: CodeConflict, State: p.State,
			Message: "notes may be added only while the problem is assigned or rectifying (not while submitted for review)"}
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
