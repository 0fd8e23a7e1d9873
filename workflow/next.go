package workflow

import "slices"

// mainPath is the trigger that moves a problem on from each state towards
// write-off; a closed problem has none (reopening it is a new decision, not
// a step anyone owes).
var mainPath = map[State]Trigger{
	StateFound:      TriggerAssign,
	StateAssigned:   TriggerAccept,
	StateRectifying: TriggerSubmit,
	StateSubmitted:  TriggerVerify,
	StateVerified:   TriggerClose,
}

// Prior actors of a problem whom a rule may exclude from its next step, by
// what they did.
const (
	PriorSubmitter = "submitter"
	PriorVerifier  = "verifier"
	PriorCloser    = "closer"
	PriorCreator   = "creator"
)

// NextStep says who may move a problem on next: the trigger on the main
// path from its state and the actors the rules let fire it. It is found by
// asking the rules themselves (the same ones Fire applies) about sample
// actors of every role, inside and outside the lead unit, and about the
// problem's earlier actors, so it says what the rules say.
type NextStep struct {
	Trigger Trigger
	// Roles are the roles that may fire it, in UserRoles order.
	Roles []Role
	// LeadUnitOnly: only members of the lead unit may. LeadUnitExcluded:
	// members of the lead unit may not (separation of duties);
	// CooperatingExcluded: nor may members of the cooperating units (the
	// strict separation of duties).
	LeadUnitOnly, LeadUnitExcluded, CooperatingExcluded bool
	// Excluded names the earlier actors who may not, although their role
	// may (PriorVerifier: the verifier may not also close).
	Excluded []string
	// Needs is what must happen first, as the refusal firing it now gets
	// (submit before evidence of the current round: CodeConflict); nil when
	// nothing is missing.
	Needs error
}

// NextStep returns who may move p on next; ok is false when nobody owes a
// step (a closed problem).
func (s *Service) NextStep(p *Problem) (step NextStep, ok bool) {
	t, ok := mainPath[p.State]
	if !ok {
		return step, false
	}
	step.Trigger = t
	const probeID, otherUnit = "\x00probe", "\x00other-unit"
	sep := s.Policy().Separation
	may := func(id string, r Role, unit string) bool {
		return refusalOf(t, Actor{ID: id, Role: r, UnitID: unit}, p, sep) == allowed
	}
	priors := []struct {
		as, id string
		did    Trigger // what they fired, hence the roles they hold
	}{
		{PriorSubmitter, p.SubmittedBy, TriggerSubmit},
		{PriorVerifier, p.VerifiedBy, TriggerVerify},
		{PriorCloser, p.ClosedBy, TriggerClose},
		{PriorCreator, p.CreatedBy, TriggerAssign},
	}
	for _, r := range UserRoles {
		inLead := p.LeadUnit != "" && may(probeID, r, p.LeadUnit)
		outside := may(probeID, r, otherUnit)
		if !inLead && !outside {
			continue
		}
		step.Roles = append(step.Roles, r)
		step.LeadUnitOnly = step.LeadUnitOnly || (inLead && !outside)
		step.LeadUnitExcluded = step.LeadUnitExcluded || (!inLead && outside && p.LeadUnit != "")
		for _, u := range p.CooperatingUnits {
			step.CooperatingExcluded = step.CooperatingExcluded || (outside && !may(probeID, r, u))
		}
		unit := otherUnit
		if !outside {
			unit = p.LeadUnit
		}
		for _, pr := range priors {
			if pr.id == "" || !slices.Contains(triggerRoles(pr.did), r) || slices.Contains(step.Excluded, pr.as) {
				continue
			}
			if !may(pr.id, r, unit) {
				step.Excluded = append(step.Excluded, pr.as)
			}
		}
	}
	step.Needs = precondition(t, p)
	return step, true
}

// precondition is the refusal firing t on p gets for a condition of p
// rather than of the actor or the parameters (submit before evidence of the
// current round), or nil.
func precondition(t Trigger, p *Problem) error {
	if err := checkTriggerParams(t, p, &Params{}); ErrorCode(err) == CodeConflict {
		return err
	}
	return nil
}

// Blocked is a trigger an actor may fire in the problem's state but not
// yet, and the refusal firing it now gets.
type Blocked struct {
	Trigger Trigger
	Err     error
}

// BlockedTriggers returns the triggers a may fire on p once p meets a
// condition it does not meet yet (submit needs evidence of the current
// round); PermittedTriggers leaves them out.
func (s *Service) BlockedTriggers(a Actor, p *Problem) []Blocked {
	var out []Blocked
	sep := s.Policy().Separation
	for _, t := range stateTriggers(p) {
		if refusalOf(t, a, p, sep) != allowed {
			continue
		}
		if err := precondition(t, p); err != nil {
			out = append(out, Blocked{Trigger: t, Err: err})
		}
	}
	return out
}

// RoleMayFire reports whether a's role may fire t on some problem (the
// unit and separation-of-duty rules aside): whether a list of problems
// waiting for t concerns a at all.
func (s *Service) RoleMayFire(a Actor, t Trigger) bool {
	return hasRole(a, triggerRoles(t))
}
