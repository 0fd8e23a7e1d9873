package workflow

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// draftKinds is the kind of letter the scanner drafts at each level: a
// supervision letter at the red card, an interview notice once listed.
var draftKinds = map[Level]LetterKind{LevelRed: KindSupervision, LevelListed: KindInterview}

// DraftKey is the key of the draft prepared for problem id at level.
func DraftKey(id string, l Level) string { return "draft/" + id + "/" + string(l) }

// DraftLetters prepares a draft letter (no number) to the lead unit of
// every open problem whose supervision level is red or listed, once per
// problem and level: the store keeps one letter per DraftKey, so running it
// again, after a restart or on another replica, prepares nothing new. The
// bureau issues (IssueDraft) or discards (DiscardDraft) each. It returns
// how many drafts it prepared.
func (s *Service) DraftLetters(ctx context.Context) (int, error) {
	ls, err := s.lettersStore()
	if err != nil {
		return 0, err
	}
	now := s.clock.Now()
	cal := s.Calendar()
	prepared := 0
	for _, lvl := range []Level{LevelRed, LevelListed} {
		f := ProblemFilter{Tag: string(lvl), Limit: MaxLimit}
		for {
			list, next, err := s.store.Problems(ctx, f)
			if err != nil {
				return prepared, err
			}
			for _, p := range list {
				if !p.Open() || p.LeadUnit == "" || p.Supervision.Level != lvl {
					continue
				}
				_, created, err := ls.CreateLetter(ctx, DraftKey(p.ID, lvl), 0, func(id string, _ int) (*Letter, error) {
					due := cal.AddWorkdays(now, draftReplyDays)
					return &Letter{ID: id, State: LetterDraft, Kind: draftKinds[lvl], ToUnit: p.LeadUnit,
						ProblemIDs: []string{p.ID}, Demands: draftDemands(p, lvl), ReplyDue: &due,
						Key: DraftKey(p.ID, lvl), Level: lvl, CreatedAt: now, CreatedBy: routineActor}, nil
				})
				if err != nil {
					return prepared, err
				}
				if created {
					prepared++
				}
			}
			if next == "" {
				break
			}
			f.Cursor = next
		}
	}
	return prepared, nil
}

// draftDemands is a draft's demands, for the bureau to edit.
func draftDemands(p *Problem, l Level) string {
	return fmt.Sprintf("该问题已超过整改时限，被列为%s。请你单位于收到本函后立即组织整改，"+
		"按时限报送整改进展和佐证材料，并书面说明逾期原因及下一步措施。", l.Label())
}

// RecordLetterEntries finishes letters issued or replied but not yet
// recorded on every problem they name (a crash between the letter and its
// entries). It returns how many letters it finished.
func (s *Service) RecordLetterEntries(ctx context.Context) (int, error) {
	ls, err := s.lettersStore()
	if err != nil {
		return 0, err
	}
	all, err := ls.Letters(ctx)
	if err != nil {
		return 0, err
	}
	done := 0
	for _, l := range all {
		switch {
		case l.IssuedAt != nil && !l.Recorded:
			if _, err := s.recordLetter(ctx, ls, l); err != nil {
				return done, err
			}
			done++
		case l.Reply != nil && !l.ReplyRecorded:
			if _, err := s.recordReply(ctx, ls, l); err != nil {
				return done, err
			}
			done++
		}
	}
	return done, nil
}

// RecordLateReplies records a letter_reply_late alert on each problem of
// every issued letter with no reply by its reply due time, against the
// addressed unit, once each: a problem whose history holds the alert for
// that letter gets none, and a letter whose alerts are all recorded is
// marked (LateAlertedAt) and not looked at again. It returns how many
// alerts it recorded.
func (s *Service) RecordLateReplies(ctx context.Context) (int, error) {
	ls, err := s.lettersStore()
	if err != nil {
		return 0, err
	}
	now := s.clock.Now()
	all, err := ls.Letters(ctx)
	if err != nil {
		return 0, err
	}
	recorded := 0
	for _, l := range all {
		if l.State != LetterIssued || l.LateAlertedAt != nil || l.ReplyDue == nil || !now.After(*l.ReplyDue) {
			continue
		}
		for _, pid := range l.ProblemIDs {
			wrote, err := s.onceOnProblem(ctx, routineActor, pid, l.ID, func(m *LetterMark) bool { return m != nil && m.LateAlerted }, func(p *Problem) Entry {
				due := *l.ReplyDue
				return Entry{At: now, Actor: routineActor, Action: ActionAlert, From: p.State, To: p.State,
					Params: Params{Level: AlertLetterReplyLate, Against: AgainstUnit, Letter: l.ID, DocNo: l.DocNo, Unit: l.ToUnit, Due: &due}}
			})
			if err != nil {
				return recorded, err
			}
			if wrote {
				recorded++
			}
		}
		_, err := ls.UpdateLetter(ctx, l.ID, 0, func(c *Letter, _ int) error {
			if c.State != LetterIssued {
				return errReplied
			}
			c.LateAlertedAt = &now
			return nil
		})
		if err != nil && !errors.Is(err, errReplied) {
			return recorded, err
		}
	}
	return recorded, nil
}

// errReplied leaves a letter replied meanwhile unmarked.
var errReplied = errors.New("letter replied meanwhile")

// LetterReplyLate reports whether l awaits a reply past its due time.
func LetterReplyLate(l *Letter, now time.Time) bool {
	return l.State == LetterIssued && l.ReplyDue != nil && now.After(*l.ReplyDue)
}
