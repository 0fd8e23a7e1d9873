package workflow

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// NoticeLetter is the notice of a supervision letter issued to the unit.
const NoticeLetter = "letter"

// letterNoticeSource is what reminders say about supervision letters: an
// issued letter at once (to the addressed unit, once per letter: on the
// event of its first problem's letter entry), and the letters awaiting the
// unit's reply in its digest.
func (s *Service) letterNoticeSource() NoticeSource {
	return NoticeSource{Name: "letters", Event: s.letterEventMessages, Digest: s.letterDigest}
}

func (s *Service) letterEventMessages(ctx context.Context, ev Event) ([]Message, error) {
	e := ev.Entry
	if e.Action != ActionLetter || e.ProblemID == "" || e.Params.Letter == "" {
		return nil, nil
	}
	ls, ok := s.store.(Letters)
	if !ok {
		return nil, nil
	}
	l, err := ls.Letter(ctx, e.Params.Letter)
	if err != nil {
		if ErrorCode(err) == CodeNotFound {
			return nil, nil
		}
		return nil, err
	}
	if len(l.ProblemIDs) == 0 || l.ProblemIDs[0] != e.ProblemID {
		return nil, nil // one message per letter
	}
	var b strings.Builder
	fmt.Fprintf(&b, "### %s %s\n\n%s就%d个问题向贵单位发出%s。\n\n", l.Kind, l.DocNo, s.LetterConfig().Office, len(l.ProblemIDs), l.Kind)
	for _, pid := range l.ProblemIDs {
		if p, err := s.store.Problem(ctx, pid); err == nil {
			fmt.Fprintf(&b, "- %s\n", problemLine(p))
		}
	}
	fmt.Fprintf(&b, "\n- 督办要求：%s\n- 回复期限：%s\n", oneLine(l.Demands), shanghaiDate(l.ReplyDue))
	return []Message{{Kind: NoticeLetter, Unit: l.ToUnit, ProblemID: e.ProblemID, Title: string(l.Kind) + " " + l.DocNo, Text: b.String()}}, nil
}

func (s *Service) letterDigest(ctx context.Context, unit Unit, now time.Time) (DigestSection, error) {
	ls, ok := s.store.(Letters)
	if !ok {
		return DigestSection{}, nil
	}
	all, err := ls.Letters(ctx)
	if err != nil {
		return DigestSection{}, err
	}
	var lines []string
	for _, l := range all {
		if l.ToUnit != unit.ID || l.State != LetterIssued {
			continue
		}
		line := fmt.Sprintf("- %s %s：回复期限 %s", l.Kind, l.DocNo, shanghaiDate(l.ReplyDue))
		if LetterReplyLate(l, now) {
			line += "，已逾期"
		}
		lines = append(lines, line)
	}
	return DigestSection{Title: "待回复督办函", Lines: lines}, nil
}
