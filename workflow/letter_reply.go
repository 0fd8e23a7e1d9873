package workflow

import (
	"context"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// LetterReplyInput is the addressed unit's reply.
type LetterReplyInput struct {
	Text string
	// Evidence names files (SHA-256) already among the evidence of the
	// letter's problems (uploaded as elsewhere).
	Evidence []string
}

// MaxReply bounds a reply's text, in characters.
const MaxReply = 4000

// ReplyLetter records the reply of the unit letter id is addressed to: one
// reply, by one of its members, after which the letter is replied; a reply
// after the due time is kept and marked late. Each problem the letter names
// gets a letter_reply entry. Refusals: another role or unit
// (ReasonNotAddressee; a unit that may not see the letter gets
// ReasonLetterNotFound), a draft or discarded letter (ReasonLetterNotIssued),
// a second reply (ReasonLetterReplied), an empty or too long text, evidence
// not among the problems' (ReasonEvidenceNotFound).
func (s *Service) ReplyLetter(ctx context.Context, a Actor, id string, in LetterReplyInput) (*Letter, error) {
	ls, err := s.lettersStore()
	if err != nil {
		return nil, err
	}
	cur, err := s.Letter(ctx, a, id)
	if err != nil {
		return nil, err
	}
	if a.Role != RoleUnit || a.UnitID != cur.ToUnit {
		return nil, Refuse(ReasonNotAddressee, "only members of unit %s, the letter's addressee, may reply", cur.ToUnit)
	}
	if in.Text, err = CleanText("text", strings.TrimSpace(in.Text)); err != nil {
		return nil, err
	}
	switch {
	case in.Text == "":
		return nil, RefuseField(ReasonRequired, "text", "text is required")
	case utf8.RuneCountInString(in.Text) > MaxReply:
		return nil, RefuseField(ReasonTooLong, "text", "text is longer than %d characters", MaxReply)
	}
	if err := s.checkReplyEvidence(ctx, cur, in.Evidence); err != nil {
		return nil, err
	}
	now := s.clock.Now()
	l, err := ls.UpdateLetter(ctx, id, 0, func(l *Letter, _ int) error {
		switch {
		case l.Reply != nil:
			return Refuse(ReasonLetterReplied, "letter %s has its reply (%s): a second reply is refused", id, l.Reply.At.Format(time.RFC3339))
		case l.State != LetterIssued:
			return Refuse(ReasonLetterNotIssued, "letter %s is %s: it takes no reply", id, l.State)
		}
		l.State = LetterReplied
		l.Reply = &Reply{Text: in.Text, At: now, By: a, Evidence: slices.Clone(in.Evidence), Late: l.ReplyDue != nil && now.After(*l.ReplyDue)}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s.recordReply(ctx, ls, l)
}

// recordReply records l's reply on each problem it names that lacks it,
// then marks l; the routine (RecordLetterEntries) finishes after a crash.
func (s *Service) recordReply(ctx context.Context, ls Letters, l *Letter) (*Letter, error) {
	r := l.Reply
	for _, pid := range l.ProblemIDs {
		_, err := s.onceOnProblem(ctx, r.By, pid, l.ID, func(m *LetterMark) bool { return m != nil && m.Replied }, func(p *Problem) Entry {
			return Entry{At: r.At, Actor: r.By, Action: ActionLetterReply, From: p.State, To: p.State,
				Params: Params{Letter: l.ID, DocNo: l.DocNo, Unit: l.ToUnit, Text: r.Text, Late: r.Late}}
		})
		if err != nil {
			return nil, err
		}
	}
	return ls.UpdateLetter(ctx, l.ID, 0, func(c *Letter, _ int) error {
		c.ReplyRecorded = true
		return nil
	})
}

// checkReplyEvidence refuses a file that is not among the evidence of the
// letter's problems.
func (s *Service) checkReplyEvidence(ctx context.Context, l *Letter, shas []string) error {
	if len(shas) == 0 {
		return nil
	}
	var have []string
	for _, pid := range l.ProblemIDs {
		p, err := s.store.Problem(ctx, pid)
		if err != nil {
			return err
		}
		have = append(have, p.EvidenceHashes()...)
	}
	for i, sha := range shas {
		if !slices.Contains(have, sha) || slices.Contains(shas[:i], sha) {
			return RefuseField(ReasonEvidenceNotFound, "evidence", "file %s is not among the evidence of the letter's problems (upload it to a problem first)", sha)
		}
	}
	return nil
}

// Letter returns letter id if a may see it: the bureau and the roles that
// read everything see every letter; a unit sees the letters addressed to
// it once issued.
func (s *Service) Letter(ctx context.Context, a Actor, id string) (*Letter, error) {
	ls, err := s.lettersStore()
	if err != nil {
		return nil, err
	}
	if !a.Role.Valid() {
		return nil, letterNotFound(id)
	}
	l, err := ls.Letter(ctx, id)
	if err != nil {
		return nil, err
	}
	if !canSeeLetter(a, l) {
		return nil, letterNotFound(id)
	}
	return l, nil
}

func canSeeLetter(a Actor, l *Letter) bool {
	if a.Role == RoleUnit {
		return a.UnitID == l.ToUnit && (l.State == LetterIssued || l.State == LetterReplied)
	}
	return a.Role.Valid() || a.Role == RoleSystem
}

// LetterFilter selects letters: by addressed unit, by state; both optional.
type LetterFilter struct {
	Unit  string
	State LetterState
}

// Letters returns the letters f selects that a may see, newest first.
func (s *Service) Letters(ctx context.Context, a Actor, f LetterFilter) ([]*Letter, error) {
	ls, err := s.lettersStore()
	if err != nil {
		return nil, err
	}
	if f.State != "" && !f.State.Valid() {
		return nil, RefuseField(ReasonUnknownValue, "state", "unknown state %q; one of %v", f.State, LetterStates)
	}
	if f.Unit != "" {
		ref := f.Unit
		if err := s.unitRefs(ctx, &f.Unit); err != nil {
			return nil, err
		}
		if _, err := s.Unit(ctx, f.Unit); err != nil {
			return nil, RefuseField(ReasonUnknownUnit, "unit", "unknown unit %q", ref)
		}
	}
	all, err := ls.Letters(ctx)
	if err != nil {
		return nil, err
	}
	out := []*Letter{}
	for i := len(all) - 1; i >= 0; i-- {
		l := all[i]
		if canSeeLetter(a, l) && (f.Unit == "" || l.ToUnit == f.Unit) && (f.State == "" || l.State == f.State) {
			out = append(out, l)
		}
	}
	return out, nil
}

// LetterDoc is what a letter's document shows: the letter, its problems as
// they are now, the addressed unit's name, the issuing office and the
// audit head when it was read.
type LetterDoc struct {
	Letter   *Letter
	Problems []*Problem
	Unit     string
	Office   string
	Head     ChainHead
	Now      time.Time
}

// LetterDocument returns what letter id's document shows, if a may see
// the letter.
func (s *Service) LetterDocument(ctx context.Context, a Actor, id string) (*LetterDoc, error) {
	l, err := s.Letter(ctx, a, id)
	if err != nil {
		return nil, err
	}
	d := &LetterDoc{Letter: l, Unit: l.ToUnit, Office: s.LetterConfig().Office, Now: s.clock.Now()}
	if u, err := s.Unit(ctx, l.ToUnit); err == nil {
		d.Unit = u.Name
	}
	for _, pid := range l.ProblemIDs {
		p, err := s.store.Problem(ctx, pid)
		if err != nil {
			return nil, err
		}
		d.Problems = append(d.Problems, p)
	}
	if d.Head, err = s.store.Head(ctx); err != nil {
		return nil, err
	}
	return d, nil
}
