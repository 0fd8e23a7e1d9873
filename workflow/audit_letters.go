package workflow

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"
)

// LetterLedger is a Ledger that keeps supervision letters: the audit then
// checks every letter against the history entries that recorded it
// (docs/design.md#the-hash-chain-and-the-audit).
type LetterLedger interface {
	Ledger
	// Letters returns every letter in creation order.
	Letters(ctx context.Context) ([]*Letter, error)
}

// letterAudit is what an audit collects from the problems' histories about
// supervision letters: the letter, letter_reply and letter_reply_late
// entries (LetterRef), by letter, in each problem's order.
type letterAudit struct {
	entries map[string][]Entry
}

func newLetterAudit() *letterAudit { return &letterAudit{entries: map[string][]Entry{}} }

// take keeps e if it names a letter.
func (la *letterAudit) take(e *Entry) {
	if id, ok := LetterRef(e); ok && e.ProblemID != "" {
		la.entries[id] = append(la.entries[id], *e)
	}
}

// entryName names e in a finding: its sequence number once sealed.
func entryName(e *Entry) string {
	if e.Seq > 0 {
		return fmt.Sprintf("%s entry %d of problem %s", e.Action, e.Seq, e.ProblemID)
	}
	return fmt.Sprintf("%s entry (not sealed yet) of problem %s", e.Action, e.ProblemID)
}

// check compares every stored letter with the entries that recorded it:
// what a letter entry says (number, kind, addressee, demands, reply due
// time, issue time and issuer) and a reply entry (text, time, author,
// lateness) must be the letter's; the problems recorded must be among the
// letter's, every one of them once the letter says it is recorded; a draft
// or discarded letter has no entries, a letter without a reply no reply
// entries; numbers do not repeat; and no entry names a letter not stored.
func (la *letterAudit) check(ctx context.Context, ll LetterLedger, rep *AuditReport) error {
	letters, err := ll.Letters(ctx)
	if err != nil {
		return err
	}
	numbers := map[[2]int]string{}
	for _, l := range letters {
		rep.Letters++
		if err := checkLetterRecord(l); err != nil {
			return err
		}
		if l.Number > 0 {
			k := [2]int{l.Year, l.Number}
			if other, dup := numbers[k]; dup {
				return &AuditError{Letter: l.ID, Reason: fmt.Sprintf("number %d of %d is letter %s's too (%s)", l.Number, l.Year, other, l.DocNo)}
			}
			numbers[k] = l.ID
		}
		if err := checkLetterEntries(l, la.entries[l.ID]); err != nil {
			return err
		}
		delete(la.entries, l.ID)
	}
	for _, id := range slices.Sorted(maps.Keys(la.entries)) {
		e := la.entries[id][0]
		return &AuditError{Letter: id, Reason: fmt.Sprintf("%s records it (%s), but it is not stored", entryName(&e), e.Params.DocNo)}
	}
	return nil
}

// checkLetterRecord checks that l's state agrees with its fields.
func checkLetterRecord(l *Letter) error {
	bad := func(format string, a ...any) error {
		return &AuditError{Letter: l.ID, Reason: fmt.Sprintf(format, a...)}
	}
	issued := l.State == LetterIssued || l.State == LetterReplied
	switch {
	case !l.State.Valid():
		return bad("unknown state %q", l.State)
	case issued != (l.IssuedAt != nil):
		return bad("is %s but its issue time is %v", l.State, l.IssuedAt)
	case issued && (l.Number <= 0 || l.DocNo == "" || l.ReplyDue == nil):
		return bad("is %s without a number, document number or reply due time", l.State)
	case !issued && (l.Number != 0 || l.DocNo != ""):
		return bad("is %s but has number %d (%s)", l.State, l.Number, l.DocNo)
	case issued && l.IssuedAt.In(Shanghai).Year() != l.Year:
		return bad("is numbered in %d but was issued on %s", l.Year, l.IssuedAt.In(Shanghai).Format(time.DateOnly))
	case (l.State == LetterReplied) != (l.Reply != nil):
		return bad("is %s but its reply is %v", l.State, l.Reply)
	}
	return nil
}

// checkLetterEntries checks the entries es naming letter l.
func checkLetterEntries(l *Letter, es []Entry) error {
	differs := func(e *Entry, what string, stored, recorded any) error {
		return &AuditError{Letter: l.ID, Reason: fmt.Sprintf("%s %v differs from %v, which %s recorded (the letter was edited without history)",
			what, stored, recorded, entryName(e))}
	}
	seen := map[string]map[string]bool{} // action → problems
	for i := range es {
		e := &es[i]
		if !slices.Contains(l.ProblemIDs, e.ProblemID) {
			return &AuditError{Letter: l.ID, Reason: fmt.Sprintf("%s records it, but the letter does not name problem %s (its problems were edited)", entryName(e), e.ProblemID)}
		}
		if seen[e.Action] == nil {
			seen[e.Action] = map[string]bool{}
		}
		if seen[e.Action][e.ProblemID] {
			return &AuditError{Letter: l.ID, Reason: fmt.Sprintf("problem %s records it twice (%s)", e.ProblemID, entryName(e))}
		}
		seen[e.Action][e.ProblemID] = true
		if l.IssuedAt == nil {
			return &AuditError{Letter: l.ID, Reason: fmt.Sprintf("is a %s letter, but %s records it issued as %s", l.State, entryName(e), e.Params.DocNo)}
		}
		switch {
		case e.Params.DocNo != l.DocNo:
			return differs(e, "document number", l.DocNo, e.Params.DocNo)
		case e.Params.Unit != l.ToUnit:
			return differs(e, "addressee", l.ToUnit, e.Params.Unit)
		}
		switch e.Action {
		case ActionLetter:
			switch {
			case string(l.Kind) != e.Params.LetterKind:
				return differs(e, "kind", l.Kind, e.Params.LetterKind)
			case l.Demands != e.Params.Text:
				return differs(e, "demands", fmt.Sprintf("%q", l.Demands), fmt.Sprintf("%q", e.Params.Text))
			case e.Params.Due == nil || !l.ReplyDue.Equal(*e.Params.Due):
				return differs(e, "reply due time", l.ReplyDue, e.Params.Due)
			case !l.IssuedAt.Equal(e.At):
				return differs(e, "issue time", l.IssuedAt.Format(time.RFC3339Nano), e.At.Format(time.RFC3339Nano))
			case l.IssuedByOr() != e.Actor:
				return differs(e, "issuer", l.IssuedByOr().ID, e.Actor.ID)
			}
		case ActionLetterReply:
			r := l.Reply
			switch {
			case r == nil:
				return &AuditError{Letter: l.ID, Reason: fmt.Sprintf("has no reply, but %s records one (the reply was removed)", entryName(e))}
			case r.Text != e.Params.Text:
				return differs(e, "reply", fmt.Sprintf("%q", r.Text), fmt.Sprintf("%q", e.Params.Text))
			case !r.At.Equal(e.At):
				return differs(e, "reply time", r.At.Format(time.RFC3339Nano), e.At.Format(time.RFC3339Nano))
			case r.By != e.Actor:
				return differs(e, "reply's author", r.By.ID, e.Actor.ID)
			case r.Late != e.Params.Late:
				return differs(e, "reply's lateness", r.Late, e.Params.Late)
			}
		default: // the letter_reply_late alert
			if e.Params.Due == nil || !l.ReplyDue.Equal(*e.Params.Due) || !e.At.After(*l.ReplyDue) {
				return differs(e, "reply due time", l.ReplyDue, e.Params.Due)
			}
		}
	}
	for _, pid := range l.ProblemIDs {
		switch {
		case l.Recorded && !seen[ActionLetter][pid]:
			return &AuditError{Letter: l.ID, Reason: fmt.Sprintf("%s names problem %s, whose history holds no letter entry for it", l.DocNo, pid)}
		case l.ReplyRecorded && !seen[ActionLetterReply][pid]:
			return &AuditError{Letter: l.ID, Reason: fmt.Sprintf("%s has its reply recorded, but problem %s's history holds no letter_reply entry for it", l.DocNo, pid)}
		}
	}
	return nil
}
