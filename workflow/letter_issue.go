package workflow

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// NewLetter is what the bureau writes a letter with, or what it changes in
// a draft it issues (empty fields keep the draft's).
type NewLetter struct {
	ToUnit     string
	ProblemIDs []string
	Kind       LetterKind
	Demands    string
	// ReplyDue must be later than now.
	ReplyDue time.Time
}

// Limits of a letter.
const (
	// MaxLetterProblems bounds the problems one letter names.
	MaxLetterProblems = 200
	// MaxDemands bounds a letter's demands, in characters.
	MaxDemands = 4000
	// draftReplyDays is the reply time the scanner gives a draft, in
	// working days from its drafting; the bureau may change it.
	draftReplyDays = 5
)

// letterWriters may issue, discard and read every letter.
var letterWriters = []Role{RoleBureau}

// errNoLetters is the service's answer on a store without Letters.
var errNoLetters = errors.New("workflow: the store keeps no supervision letters (workflow.Letters)")

// HasLetters reports whether the store keeps supervision letters.
func (s *Service) HasLetters() bool {
	_, ok := s.store.(Letters)
	return ok
}

func (s *Service) lettersStore() (Letters, error) {
	ls, ok := s.store.(Letters)
	if !ok {
		return nil, errNoLetters
	}
	return ls, nil
}

// SetLetterConfig replaces how letters are numbered and signed.
func (s *Service) SetLetterConfig(c LetterConfig) error {
	if err := c.Validate(); err != nil {
		return err
	}
	s.mu.Lock()
	s.letters = c
	s.mu.Unlock()
	return nil
}

// LetterConfig returns how letters are numbered and signed.
func (s *Service) LetterConfig() LetterConfig {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.letters
}

// MayIssueLetters reports whether a may issue letters.
func (s *Service) MayIssueLetters(a Actor) bool { return hasRole(a, letterWriters) }

func letterNotFound(id string) error {
	return Refuse(ReasonLetterNotFound, "letter %s not found", id)
}

// IssueLetter issues a letter to in.ToUnit about in.ProblemIDs: it takes
// the next number of the year in the transaction that writes it, then
// records a letter entry on each problem. Only the bureau may. Refusals: a
// missing or unknown kind, unit, demands or reply due time (CodeInvalid),
// problems unknown or invisible to a (CodeNotFound), closed, named twice,
// or that the unit neither leads nor cooperates on (CodeInvalid).
func (s *Service) IssueLetter(ctx context.Context, a Actor, in NewLetter) (*Letter, error) {
	if err := needRole("issue letters", a, letterWriters...); err != nil {
		return nil, err
	}
	ls, err := s.lettersStore()
	if err != nil {
		return nil, err
	}
	now := s.clock.Now()
	if err := s.checkLetter(ctx, a, &in, now); err != nil {
		return nil, err
	}
	cfg := s.LetterConfig()
	year := now.In(Shanghai).Year()
	l, _, err := ls.CreateLetter(ctx, "", year, func(id string, number int) (*Letter, error) {
		due := in.ReplyDue.UTC()
		l := &Letter{ID: id, State: LetterIssued, Kind: in.Kind, ToUnit: in.ToUnit, ProblemIDs: in.ProblemIDs,
			Demands: in.Demands, ReplyDue: &due, CreatedAt: now, CreatedBy: a}
		issue(l, cfg, year, number, now, a)
		return l, nil
	})
	if err != nil {
		return nil, err
	}
	return s.recordLetter(ctx, ls, l)
}

// issue numbers l and marks it issued.
func issue(l *Letter, cfg LetterConfig, year, number int, now time.Time, a Actor) {
	l.State, l.Year, l.Number = LetterIssued, year, number
	l.DocNo = DocNumber(cfg.NumberFormat, year, number)
	l.IssuedAt, l.IssuedBy = &now, &a
}

// IssueDraft issues draft id, with what in changes (empty fields keep the
// draft's): it takes its number now. Only the bureau may; a letter that is
// not a draft is refused (ReasonLetterNotDraft).
func (s *Service) IssueDraft(ctx context.Context, a Actor, id string, in NewLetter) (*Letter, error) {
	if err := needRole("issue letters", a, letterWriters...); err != nil {
		return nil, err
	}
	ls, err := s.lettersStore()
	if err != nil {
		return nil, err
	}
	cur, err := ls.Letter(ctx, id)
	if err != nil {
		return nil, err
	}
	if cur.State != LetterDraft {
		return nil, Refuse(ReasonLetterNotDraft, "letter %s is %s: only a draft is issued", id, cur.State)
	}
	now := s.clock.Now()
	if in.ToUnit == "" {
		in.ToUnit = cur.ToUnit
	}
	if len(in.ProblemIDs) == 0 {
		in.ProblemIDs = cur.ProblemIDs
	}
	if in.Kind == "" {
		in.Kind = cur.Kind
	}
	if strings.TrimSpace(in.Demands) == "" {
		in.Demands = cur.Demands
	}
	if in.ReplyDue.IsZero() && cur.ReplyDue != nil {
		in.ReplyDue = *cur.ReplyDue
	}
	if err := s.checkLetter(ctx, a, &in, now); err != nil {
		return nil, err
	}
	cfg := s.LetterConfig()
	year := now.In(Shanghai).Year()
	l, err := ls.UpdateLetter(ctx, id, year, func(l *Letter, number int) error {
		if l.State != LetterDraft {
			return Refuse(ReasonLetterNotDraft, "letter %s is %s: only a draft is issued", id, l.State)
		}
		due := in.ReplyDue.UTC()
		l.ToUnit, l.ProblemIDs, l.Kind, l.Demands, l.ReplyDue = in.ToUnit, in.ProblemIDs, in.Kind, in.Demands, &due
		issue(l, cfg, year, number, now, a)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s.recordLetter(ctx, ls, l)
}

// DiscardDraft discards draft id: it keeps no number and is not issued.
// Only the bureau may.
func (s *Service) DiscardDraft(ctx context.Context, a Actor, id string) (*Letter, error) {
	if err := needRole("discard letters", a, letterWriters...); err != nil {
		return nil, err
	}
	ls, err := s.lettersStore()
	if err != nil {
		return nil, err
	}
	now := s.clock.Now()
	return ls.UpdateLetter(ctx, id, 0, func(l *Letter, _ int) error {
		if l.State != LetterDraft {
			return Refuse(ReasonLetterNotDraft, "letter %s is %s: only a draft is discarded", id, l.State)
		}
		l.State, l.DiscardedAt, l.DiscardedBy = LetterDiscarded, &now, &a
		return nil
	})
}

// checkLetter checks and normalises in: its texts, its unit (a name is
// turned into the id), its problems (each visible to a, open and involving
// the unit, named once).
func (s *Service) checkLetter(ctx context.Context, a Actor, in *NewLetter, now time.Time) error {
	var err error
	if in.Demands, err = CleanText("demands", strings.TrimSpace(in.Demands)); err != nil {
		return err
	}
	switch {
	case in.Kind == "":
		return RefuseField(ReasonRequired, "kind", "kind is required: one of %v", LetterKinds)
	case !in.Kind.Valid():
		return RefuseField(ReasonUnknownValue, "kind", "unknown kind %q; one of %v", in.Kind, LetterKinds)
	case strings.TrimSpace(in.ToUnit) == "":
		return RefuseField(ReasonRequired, "to_unit", "to_unit is required")
	case len(in.ProblemIDs) == 0:
		return RefuseField(ReasonRequired, "problem_ids", "problem_ids is required: at least one problem")
	case len(in.ProblemIDs) > MaxLetterProblems:
		return RefuseField(ReasonOutOfRange, "problem_ids", "a letter names at most %d problems", MaxLetterProblems)
	case in.Demands == "":
		return RefuseField(ReasonRequired, "demands", "demands is required")
	case utf8.RuneCountInString(in.Demands) > MaxDemands:
		return RefuseField(ReasonTooLong, "demands", "demands is longer than %d characters", MaxDemands)
	case in.ReplyDue.IsZero():
		return RefuseField(ReasonRequired, "reply_due", "reply_due is required: a date (the end of that day in Asia/Shanghai) or a time")
	case !in.ReplyDue.After(now):
		return RefuseField(ReasonDueNotFuture, "reply_due", "reply_due %s is not later than now", in.ReplyDue.UTC().Format(time.RFC3339))
	}
	ref := in.ToUnit
	if err := s.unitRefs(ctx, &in.ToUnit); err != nil {
		return err
	}
	if _, err := s.Unit(ctx, in.ToUnit); err != nil {
		return RefuseField(ReasonUnknownUnit, "to_unit", "unknown unit %q", ref)
	}
	in.ProblemIDs = slices.Clone(in.ProblemIDs)
	for i, id := range in.ProblemIDs {
		if slices.Contains(in.ProblemIDs[:i], id) {
			return RefuseField(ReasonProblemListedTwice, "problem_ids", "problem %s is named twice", id)
		}
		p, err := s.store.Problem(ctx, id)
		if ErrorCode(err) == CodeNotFound || err == nil && !CanSee(a, p) {
			return RefuseField(ReasonProblemNotFound, "problem_ids", "problem %s not found", id)
		}
		if err != nil {
			return err
		}
		if !p.Open() {
			return RefuseField(ReasonProblemClosed, "problem_ids", "problem %s is closed: no letter about it", id)
		}
		if !p.Involves(in.ToUnit) {
			return RefuseField(ReasonUnitNotInvolved, "problem_ids", "unit %s neither leads nor cooperates on problem %s", in.ToUnit, id)
		}
	}
	return nil
}

// recordLetter records l's letter entry on each problem it names that has
// none yet, then marks l recorded. A crash between the letter and its
// entries leaves it unrecorded: the routine (RecordLetterEntries) finishes.
func (s *Service) recordLetter(ctx context.Context, ls Letters, l *Letter) (*Letter, error) {
	for _, pid := range l.ProblemIDs {
		_, err := s.onceOnProblem(ctx, l.IssuedByOr(), pid, l.ID, func(m *LetterMark) bool { return m != nil }, func(p *Problem) Entry {
			due := *l.ReplyDue
			return Entry{At: *l.IssuedAt, Actor: l.IssuedByOr(), Action: ActionLetter, From: p.State, To: p.State,
				Params: Params{Letter: l.ID, DocNo: l.DocNo, LetterKind: string(l.Kind), Unit: l.ToUnit, Due: &due, Text: l.Demands}}
		})
		if err != nil {
			return nil, err
		}
	}
	return ls.UpdateLetter(ctx, l.ID, 0, func(c *Letter, _ int) error {
		c.Recorded = true
		return nil
	})
}

// IssuedByOr returns who issued l (the routine's actor for none).
func (l *Letter) IssuedByOr() Actor {
	if l.IssuedBy != nil {
		return *l.IssuedBy
	}
	return routineActor
}

// errRecorded aborts an entry its problem's record shows written already.
var errRecorded = errors.New("letter entry already recorded")

// onceOnProblem appends the entry build gives to problem pid's history
// unless the problem's record shows it written (has, given the record's
// mark of letter): the decision is taken
// inside the store's write, on the record as it is, so concurrent commands
// on the problem only make the store apply it again. A problem gone
// (CodeNotFound) is skipped. It reports whether it wrote the entry.
func (s *Service) onceOnProblem(ctx context.Context, a Actor, pid, letter string, has func(m *LetterMark) bool, build func(p *Problem) Entry) (bool, error) {
	_, err := s.command(ctx, a, pid, 0, func(cur *Problem) (Entry, error) {
		if has(cur.letterMark(letter)) {
			return Entry{}, errRecorded
		}
		return build(cur), nil
	})
	switch {
	case errors.Is(err, errRecorded), ErrorCode(err) == CodeNotFound:
		return false, nil
	case err != nil:
		return false, err
	}
	return true, nil
}
