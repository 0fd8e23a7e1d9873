package workflow

import (
	"context"
	"strconv"
	"time"
	"unicode/utf8"
)

// History actions of deadline extensions (延期).
const (
	ActionExtensionRequest  = "extension_request"
	ActionExtensionDecision = "extension_decision"
)

// ExtensionStatus is where an extension request stands.
type ExtensionStatus string

// Extension statuses.
const (
	ExtensionPending  ExtensionStatus = "pending"
	ExtensionApproved ExtensionStatus = "approved"
	ExtensionDenied   ExtensionStatus = "denied"
)

// Extension is the lead unit's request to move a deadline, and the bureau's
// decision on it.
type Extension struct {
	ID          string          `json:"id"`
	Deadline    time.Time       `json:"deadline"`          // requested
	Previous    time.Time       `json:"previous_deadline"` // the deadline it would replace
	Reason      string          `json:"reason"`
	Status      ExtensionStatus `json:"status"`
	RequestedBy string          `json:"requested_by"`
	RequestedAt time.Time       `json:"requested_at"`
	DecidedBy   string          `json:"decided_by,omitempty"`
	DecidedAt   *time.Time      `json:"decided_at,omitempty"`
	Note        string          `json:"note,omitempty"`
}

func (x Extension) clone() Extension {
	x.DecidedAt = clonePtr(x.DecidedAt)
	return x
}

// PendingExtension returns p's pending extension request, or nil.
func (p *Problem) PendingExtension() *Extension {
	for i := range p.Extensions {
		if p.Extensions[i].Status == ExtensionPending {
			return &p.Extensions[i]
		}
	}
	return nil
}

// Extended reports whether an approved extension moved p's deadline (延期, as
// opposed to 逾期).
func (p *Problem) Extended() bool {
	for _, x := range p.Extensions {
		if x.Status == ExtensionApproved {
			return true
		}
	}
	return false
}

// ExtensionRequest is what the lead unit asks for.
type ExtensionRequest struct {
	Deadline time.Time
	Reason   string
}

// RequestExtension records the lead unit's request for a later deadline. It
// must come before the (effective) deadline passes, or within the policy's
// grace after it; at most one request may be pending.
func (s *Service) RequestExtension(ctx context.Context, a Actor, id string, req ExtensionRequest, ifVersion uint64) (*Problem, error) {
	var err error
	if req.Reason, err = CleanText("reason", req.Reason); err != nil {
		return nil, err
	}
	if utf8.RuneCountInString(req.Reason) > MaxText {
		return nil, RefuseField(ReasonTooLong, "reason", "reason is longer than %d characters", MaxText)
	}
	if req.Reason == "" {
		return nil, RefuseField(ReasonRequired, "reason", "reason is required")
	}
	if req.Deadline.IsZero() {
		return nil, RefuseField(ReasonRequired, "deadline", "deadline is required")
	}
	now := s.clock.Now()
	pol := s.Policy()
	return s.command(ctx, a, id, ifVersion, func(p *Problem) (Entry, error) {
		if err := s.canRequestExtension(a, p, now, pol); err != nil {
			return Entry{}, err
		}
		if !req.Deadline.After(*p.Deadline) {
			return Entry{}, RefuseField(ReasonDeadlineNotLater, "deadline", "the requested deadline must be later than the current one (%s)", p.Deadline.In(Shanghai).Format(time.DateOnly))
		}
		d := req.Deadline.UTC()
		return Entry{At: now, Actor: a, Action: ActionExtensionRequest, From: p.State, To: p.State,
			Params: Params{ExtensionID: strconv.Itoa(len(p.Extensions) + 1), Deadline: &d, Reason: req.Reason}}, nil
	})
}

// CanRequestExtension tells whether a may request an extension of p's
// deadline now: a member of the lead unit, while p is assigned or
// rectifying, with no request pending, before the deadline passes or
// within the policy's grace after it (Policy.ExtensionGrace). The pages
// show the form when it allows; RequestExtension checks the same.
func (s *Service) CanRequestExtension(a Actor, p *Problem) error {
	return s.canRequestExtension(a, p, s.clock.Now(), s.Policy())
}

func (s *Service) canRequestExtension(a Actor, p *Problem, now time.Time, pol Policy) error {
	if a.Role != RoleUnit || a.UnitID != p.LeadUnit {
		return Refuse(ReasonNotLeadUnit, "only members of the lead unit may request an extension")
	}
	if (p.State != StateAssigned && p.State != StateRectifying) || p.Deadline == nil {
		return Refuse(ReasonExtensionClosed, "an extension may be requested only while the problem is assigned or rectifying").
			InState(p.State, s.PermittedTriggers(a, p))
	}
	if p.PendingExtension() != nil {
		return Refuse(ReasonExtensionPending, "an extension request is already pending").InState(p.State, s.PermittedTriggers(a, p))
	}
	if late, _ := p.Lateness(now); late > pol.ExtensionGrace {
		if pol.ExtensionGrace == 0 {
			return Refuse(ReasonDeadlinePassed, "the deadline has passed; extensions must be requested before it")
		}
		return Refuse(ReasonDeadlinePassed, "the deadline passed more than %d days ago; too late to request an extension", int(pol.ExtensionGrace/Day))
	}
	return nil
}

// CanDecideExtension tells whether a may decide an extension request of p
// now: the bureau, while a request is pending. The pages show the decision
// form when it allows; DecideExtension checks the same, and more.
func CanDecideExtension(a Actor, p *Problem) error {
	if err := needRole("decide extensions", a, RoleBureau); err != nil {
		return err
	}
	if p.PendingExtension() == nil {
		return Refuse(ReasonExtensionNotFound, "problem %s has no pending extension request", p.ID)
	}
	return nil
}

// DecideExtension records the bureau's decision ("approve" or "deny") on
// request extID. Approval moves the deadline and keeps the original one.
func (s *Service) DecideExtension(ctx context.Context, a Actor, id, extID, decision, note string, ifVersion uint64) (*Problem, error) {
	note, err := CleanText("note", note)
	if err != nil {
		return nil, err
	}
	if utf8.RuneCountInString(note) > MaxText {
		return nil, RefuseField(ReasonTooLong, "note", "note is longer than %d characters", MaxText)
	}
	if decision != "approve" && decision != "deny" {
		return nil, RefuseField(ReasonUnknownValue, "decision", "decision must be approve or deny")
	}
	now := s.clock.Now()
	return s.command(ctx, a, id, ifVersion, func(p *Problem) (Entry, error) {
		if err := needRole("decide extensions", a, RoleBureau); err != nil {
			return Entry{}, err
		}
		var x *Extension
		for i := range p.Extensions {
			if p.Extensions[i].ID == extID {
				x = &p.Extensions[i]
			}
		}
		if x == nil {
			return Entry{}, Refuse(ReasonExtensionNotFound, "problem %s has no extension request %q", p.ID, extID)
		}
		if x.Status != ExtensionPending {
			return Entry{}, Refuse(ReasonExtensionDecided, "extension request %s was already %s", extID, x.Status).InState(p.State, s.PermittedTriggers(a, p))
		}
		if decision == "approve" && !p.clockRuns() {
			return Entry{}, Refuse(ReasonExtensionDenyOnly, "the problem is no longer being rectified; the request can only be denied").InState(p.State, s.PermittedTriggers(a, p))
		}
		return Entry{At: now, Actor: a, Action: ActionExtensionDecision, From: p.State, To: p.State,
			Params: Params{ExtensionID: extID, Decision: decision, Note: note}}, nil
	})
}

// applyExtension changes p as an extension entry says.
func applyExtension(p *Problem, e *Entry) {
	switch e.Action {
	case ActionExtensionRequest:
		p.Extensions = append(p.Extensions, Extension{
			ID: e.Params.ExtensionID, Deadline: *e.Params.Deadline, Previous: *p.Deadline, Reason: e.Params.Reason,
			Status: ExtensionPending, RequestedBy: e.Actor.ID, RequestedAt: e.At,
		})
	case ActionExtensionDecision:
		for i := range p.Extensions {
			x := &p.Extensions[i]
			if x.ID != e.Params.ExtensionID {
				continue
			}
			at := e.At
			x.DecidedBy, x.DecidedAt, x.Note = e.Actor.ID, &at, e.Params.Note
			x.Status = ExtensionDenied
			if e.Params.Decision == "approve" {
				x.Status = ExtensionApproved
				d := x.Deadline
				p.Deadline = &d
				resetDeadlineCycle(p)
			}
		}
	}
}
