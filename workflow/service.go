package workflow

import (
	"context"
	"math"
	"slices"
	"sync"
	"time"
)

// Service runs the workflow's commands and queries against a Store. It is safe
// for concurrent use.
type Service struct {
	store Store
	clock Clock

	mu       sync.RWMutex
	units    map[string]Unit // cache; units change only through PutUnits
	policy   Policy
	calendar *Calendar
	shipped  map[int][]byte // calendar files shipped with the binary
	blobs    Blobs
	evidence EvidencePolicy
	photos   PhotoChecker
	notice   *NoticePolicy // nil: no notices
	letters  LetterConfig

	addrCheck    AddressCheck   // contacts' addresses (reminder.go)
	extraSources []NoticeSource // what reminders say besides problems and rounds

	wpMu sync.Mutex  // one work point change at a time (ResolveUnitGroup)
	idem idempotency // when expired idempotency keys were last purged
}

// NewService returns a service on store s reading time from clock c, with the
// default supervision policy and a calendar of weekends only.
func NewService(s Store, c Clock) *Service {
	return &Service{store: s, clock: c, policy: DefaultPolicy(), calendar: NewCalendar(), evidence: DefaultEvidencePolicy(),
		letters: LetterConfig{NumberFormat: DefaultLetterNumberFormat, Office: DefaultLetterOffice}}
}

// SetPolicy replaces the supervision thresholds.
func (s *Service) SetPolicy(p Policy) error {
	if err := p.Validate(); err != nil {
		return err
	}
	s.mu.Lock()
	s.policy = p
	s.mu.Unlock()
	return nil
}

// Policy returns the supervision thresholds.
func (s *Service) Policy() Policy {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.policy
}

// Calendar returns the working-day calendar.
func (s *Service) Calendar() *Calendar {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.calendar
}

// Store returns the service's store.
func (s *Service) Store() Store { return s.store }

// Clock returns the service's clock.
func (s *Service) Clock() Clock { return s.clock }

// Command is one trigger with its parameters. IfVersion, when not zero, is the
// version the caller last saw: a different current version refuses the command
// with CodePreconditionFailed.
type Command struct {
	Trigger   Trigger
	Params    Params
	IfVersion uint64
}

// CreateProblem logs a new problem in state found. Only the bureau may (and
// the system actor, for seed data). A problem with the same DedupeKey as an
// earlier one returns that problem and created false.
func (s *Service) CreateProblem(ctx context.Context, a Actor, in NewProblem) (p *Problem, created bool, err error) {
	if err := canCreate(a); err != nil {
		return nil, false, err
	}
	if err := in.Validate(); err != nil {
		return nil, false, err
	}
	if err := s.unitRefs(ctx, &in.CountyID); err != nil {
		return nil, false, err
	}
	county, err := s.Unit(ctx, in.CountyID)
	if err != nil || (county.Kind != UnitCounty && county.Kind != UnitZone && county.Kind != UnitCity) {
		return nil, false, RefuseField(ReasonNotCounty, "county_id", "county_id %q is not a county, city, district or zone (or the city itself, for a city-wide problem)", in.CountyID)
	}
	if in.WorkPoint != 0 {
		if err := s.checkWorkPoint(ctx, in.WorkPoint); err != nil {
			return nil, false, err
		}
	}
	pos, err := positionOf(in.Position)
	if err != nil {
		return nil, false, err
	}
	now := s.clock.Now()
	e := Entry{At: now, Actor: a, Action: ActionCreate, To: StateFound, Params: Params{
		Title: in.Title, Description: in.Description, Source: in.Source, SourceRef: in.SourceRef,
		CountyID: in.CountyID, WorkPoint: in.WorkPoint, Location: in.Location, DedupeKey: in.DedupeKey,
		Position: pos,
	}}
	return s.store.CreateProblem(ctx, in.DedupeKey, func(n uint64) (*Problem, []Entry, error) {
		p := newFromEntry(n, &e)
		p.CooperatingUnits = []string{}
		return p, []Entry{e}, nil
	})
}

// Fire runs one trigger on problem id as actor a. The refusal, if any, says
// why: CodeNotFound (unknown or invisible), CodePreconditionFailed (stale
// IfVersion), CodeConflict (not permitted in this state; the error lists the
// state and the triggers a may fire now), CodeForbidden (role, unit or
// separation of duties) or CodeInvalid (parameters).
func (s *Service) Fire(ctx context.Context, a Actor, id string, cmd Command) (*Problem, error) {
	t := cmd.Trigger
	prm := cmd.Params
	if err := ValidateParams(t, &prm); err != nil {
		return nil, err
	}
	if err := s.checkUnits(ctx, &prm); err != nil {
		return nil, err
	}
	// Only the domain sets these.
	prm.Evidence, prm.Signature, prm.Warnings = nil, nil, nil
	prm.Position, prm.SiteCheck, prm.Lookback = nil, nil, nil
	prm.Notice, prm.Objection, prm.Public, prm.File = nil, nil, nil, ""
	if t == TriggerVerify {
		w, err := s.duplicateWarnings(ctx, a, id)
		if err != nil {
			return nil, err
		}
		prm.Warnings = w
	}
	return s.command(ctx, a, id, cmd.IfVersion, s.triggerDecision(ctx, a, t, prm, s.clock.Now()))
}

// triggerDecision decides trigger t with parameters prm (validated) by actor
// a on a problem at time now: the rules of state, role, separation and
// parameters, the evidence checks of verify, the sign-off, the machine's
// move.
func (s *Service) triggerDecision(ctx context.Context, a Actor, t Trigger, prm Params, now time.Time) func(p *Problem) (Entry, error) {
	cfg := s.EvidencePolicy()
	sep := s.Policy().Separation
	np, cal := s.NoticePolicy(), s.Calendar()
	return func(p *Problem) (Entry, error) {
		if !slices.Contains(stateTriggers(p), t) {
			return Entry{}, Refuse(ReasonNotPermitted, "trigger %s is not permitted in state %s", t, p.State).
				InState(p.State, s.PermittedTriggers(a, p)).Refusing(t)
		}
		if err := authorize(t, a, p, sep); err != nil {
			return Entry{}, err
		}
		prm := prm
		if err := checkTriggerParams(t, p, &prm); err != nil {
			if e, ok := err.(*Error); ok && e.Code == CodeConflict {
				e.Permitted = s.PermittedTriggers(a, p)
			}
			return Entry{}, err
		}
		if t == TriggerVerify {
			if err := checkVerify(p, &prm, cfg); err != nil {
				return Entry{}, err
			}
		}
		if err := checkNoticeTrigger(t, a, p, &prm, now); err != nil {
			return Entry{}, err
		}
		if t == TriggerVerify || t == TriggerClose {
			prm.Signature = signature(t, a, p, now, prm.AcknowledgedFlags, prm.AcknowledgementNote)
		}
		if t == TriggerClose {
			prm.Notice = startNotice(p, now, np, cal)
		}
		from := p.State
		if err := fire(ctx, p, t, prm.Notice != nil && t == TriggerClose); err != nil {
			return Entry{}, err
		}
		return Entry{At: now, Actor: a, Action: string(t), From: from, To: p.State, Params: prm}, nil
	}
}

// AddNote records a progress note on problem id; only lead or cooperating
// unit members may, while the problem is assigned or rectifying.
func (s *Service) AddNote(ctx context.Context, a Actor, id, text string, ifVersion uint64) (*Problem, error) {
	text, err := ValidateNote(text)
	if err != nil {
		return nil, err
	}
	now := s.clock.Now()
	return s.command(ctx, a, id, ifVersion, func(p *Problem) (Entry, error) {
		if err := canNote(a, p); err != nil {
			if e, ok := err.(*Error); ok && e.Code == CodeConflict {
				e.Permitted = s.PermittedTriggers(a, p)
			}
			return Entry{}, err
		}
		return Entry{At: now, Actor: a, Action: ActionNote, From: p.State, To: p.State, Params: Params{Text: text}}, nil
	})
}

// command runs one command on problem id inside the store's write
// transaction: it checks visibility and the expected version, lets decide
// check the rules and build the entry (firing the machine if it is a
// trigger), applies the entry, restarts the stage clocks, records any alert
// now due and stamps every entry with the resulting supervision state.
func (s *Service) command(ctx context.Context, a Actor, id string, ifVersion uint64, decide func(p *Problem) (Entry, error)) (*Problem, error) {
	return s.apply(ctx, id, func(p *Problem) error { return s.admit(a, p, ifVersion) }, decide)
}

// apply is command with the admission check admit instead of the actor's
// visibility and version (an objection: anyone, to a problem in notice).
func (s *Service) apply(ctx context.Context, id string, admit func(p *Problem) error, decide func(p *Problem) (Entry, error)) (*Problem, error) {
	pol, cal := s.Policy(), s.Calendar()
	return s.store.UpdateProblem(ctx, id, func(p *Problem) ([]Entry, error) {
		if err := admit(p); err != nil {
			return nil, err
		}
		e, err := decide(p)
		if err != nil {
			return nil, err
		}
		return step(p, e, cal, pol), nil
	})
}

// step applies a decided entry to p: its effects, the stage clocks it
// restarts, the alerts now due, and the supervision state stamped on every
// entry of the command, which it returns.
func step(p *Problem, e Entry, cal *Calendar, pol Policy) []Entry {
	applyEffects(p, &e)
	entries := []Entry{e}
	if t := Trigger(e.Action); t.Valid() {
		// A stage clock that ran out before this command ends is still recorded.
		entries = append(entries, stageBreach(p, e.At)...)
		restartClocks(p, t, e.From, e.At, cal, pol)
	}
	entries = append(entries, supervise(p, e.At, pol)...)
	stamp(p, entries)
	return entries
}

// stamp records p's final supervision state on each entry of one command.
func stamp(p *Problem, entries []Entry) {
	for i := range entries {
		sv := p.Supervision.clone()
		entries[i].Supervision = &sv
	}
}

// admit checks visibility and the caller's expected version.
func (s *Service) admit(a Actor, p *Problem, ifVersion uint64) error {
	if !CanSee(a, p) {
		return notFound(p.ID)
	}
	return CheckVersion(p, ifVersion)
}

// MatchNone is an expected version no problem ever has: the caller's
// condition (e.g. an If-Match of weak or foreign entity tags) can match none.
const MatchNone = math.MaxUint64

// CheckVersion refuses a command that expects p at another version
// (ifVersion 0 expects none): the caller decided on a stale copy, or its
// condition names no version (MatchNone).
func CheckVersion(p *Problem, ifVersion uint64) error {
	switch ifVersion {
	case 0, p.Version:
		return nil
	case MatchNone:
		return Refuse(ReasonStaleVersion, "problem %s is at version %d, which the condition does not name", p.ID, p.Version)
	}
	return Refuse(ReasonStaleVersion, "problem %s is at version %d, not %d", p.ID, p.Version, ifVersion)
}

func notFound(id string) error {
	return Refuse(ReasonProblemNotFound, "problem %s not found", id)
}

// checkUnits resolves the units a command names (ids or exact Chinese
// names) to their ids and refuses unknown ones.
func (s *Service) checkUnits(ctx context.Context, prm *Params) error {
	if err := s.unitRefs(ctx, &prm.LeadUnit); err != nil {
		return err
	}
	if prm.CooperatingUnits != nil {
		prm.CooperatingUnits = slices.Clone(prm.CooperatingUnits)
		for i := range prm.CooperatingUnits {
			if err := s.unitRefs(ctx, &prm.CooperatingUnits[i]); err != nil {
				return err
			}
		}
	}
	if prm.LeadUnit != "" {
		if _, err := s.Unit(ctx, prm.LeadUnit); err != nil {
			return RefuseField(ReasonUnknownUnit, "lead_unit", "unknown unit %q", prm.LeadUnit)
		}
	}
	seen := map[string]bool{}
	for _, u := range prm.CooperatingUnits {
		if _, err := s.Unit(ctx, u); err != nil {
			return RefuseField(ReasonUnknownUnit, "cooperating_units", "unknown unit %q", u)
		}
		if seen[u] {
			return RefuseField(ReasonUnitListedTwice, "cooperating_units", "unit %q is listed twice", u)
		}
		seen[u] = true
	}
	return nil
}

// checkTriggerParams applies the parameter rules that depend on the problem.
func checkTriggerParams(t Trigger, p *Problem, prm *Params) error {
	switch t {
	case TriggerAssign, TriggerReassign:
		lead := p.LeadUnit
		if prm.LeadUnit != "" {
			lead = prm.LeadUnit
		}
		coop := p.CooperatingUnits
		if prm.CooperatingUnits != nil {
			coop = prm.CooperatingUnits
		}
		if slices.Contains(coop, lead) {
			return RefuseField(ReasonLeadCooperates, "cooperating_units", "the lead unit %s cannot also cooperate", lead)
		}
		if t == TriggerReassign && prm.LeadUnit == p.LeadUnit && prm.Deadline == nil && prm.CooperatingUnits == nil {
			return RefuseField(ReasonAlreadyLead, "lead_unit", "%s is already the lead unit", p.LeadUnit)
		}
	case TriggerSubmit:
		if err := p.readyToSubmit(); err != nil {
			return err
		}
	case TriggerReopen:
		toFound := reopensToFound(p)
		if toFound && prm.Deadline != nil {
			return RefuseField(ReasonReopenTakesNoDeadline, "deadline", "a dismissed problem reopens to found and takes no deadline; assign it again")
		}
		if !toFound && prm.Deadline == nil {
			return RefuseField(ReasonReopenNeedsDeadline, "deadline", "reopen needs a new deadline")
		}
	}
	return nil
}

// PermittedTriggers returns the triggers actor a may fire on p now.
func (s *Service) PermittedTriggers(a Actor, p *Problem) []Trigger {
	ts := stateTriggers(p)
	if ts == nil {
		return []Trigger{}
	}
	sep := s.Policy().Separation
	out := ts[:0] // stateTriggers returns a slice of its own
	for _, t := range ts {
		if t == TriggerSubmit && p.readyToSubmit() != nil {
			continue
		}
		if (t == TriggerEndNotice || t == TriggerUphold) && !s.noticeTriggerReady(t, a, p) {
			continue
		}
		if refusalOf(t, a, p, sep) == allowed {
			out = append(out, t)
		}
	}
	return out
}

// Problem returns problem id if a may see it; otherwise CodeNotFound.
func (s *Service) Problem(ctx context.Context, a Actor, id string) (*Problem, error) {
	p, err := s.store.Problem(ctx, id)
	if err != nil {
		return nil, err
	}
	if !CanSee(a, p) {
		return nil, notFound(id)
	}
	return p, nil
}

// Problems lists the problems matching f that a may see.
func (s *Service) Problems(ctx context.Context, a Actor, f ProblemFilter) ([]*Problem, string, error) {
	if f.Limit <= 0 {
		f.Limit = DefaultLimit
	}
	if f.Limit > MaxLimit {
		return nil, "", RefuseField(ReasonOutOfRange, "limit", "limit must be at most %d", MaxLimit)
	}
	if f.State != "" && !f.State.Valid() {
		return nil, "", RefuseField(ReasonUnknownValue, "state", "unknown state %q; one of %v", f.State, States)
	}
	if f.Source != "" && !f.Source.Valid() {
		return nil, "", RefuseField(ReasonUnknownValue, "source", "unknown source %q; one of %v", f.Source, Sources)
	}
	if f.Cursor != "" {
		if _, ok := ParseProblemID(f.Cursor); !ok {
			return nil, "", RefuseField(ReasonMalformed, "cursor", "bad cursor %q", f.Cursor)
		}
	}
	if err := s.unitRefs(ctx, &f.LeadUnit, &f.County, &f.Unit); err != nil {
		return nil, "", err
	}
	if a.Role == RoleUnit {
		if f.Unit != "" && f.Unit != a.UnitID {
			return []*Problem{}, "", nil
		}
		f.Unit = a.UnitID
	} else if !CanSee(a, &Problem{}) {
		return []*Problem{}, "", nil
	}
	return s.store.Problems(ctx, f)
}

// History returns problem id's history if a may see the problem.
func (s *Service) History(ctx context.Context, a Actor, id string) ([]Entry, error) {
	if _, err := s.Problem(ctx, a, id); err != nil {
		return nil, err
	}
	return s.store.History(ctx, id)
}
