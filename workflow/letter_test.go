package workflow_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jdz-eco/rectify/workflow"
)

func letterEntries(t *testing.T, f *roundFixture, pid, action string) []workflow.Entry {
	t.Helper()
	hist, err := f.svc.History(context.Background(), bureau, pid)
	if err != nil {
		t.Fatal(err)
	}
	var out []workflow.Entry
	for _, e := range hist {
		if e.Action == action || e.Action == workflow.ActionAlert && e.Params.Level == action {
			out = append(out, e)
		}
	}
	return out
}

// TestLetterIssueAndReply: the bureau's letter to a unit about its problems
// takes number 1 of the year and is on each problem's history; the refusals
// the issue lists change nothing; the unit sees it and replies once.
func TestLetterIssueAndReply(t *testing.T) {
	f := newRoundFixture(t)
	ctx := context.Background()
	p1 := f.assigned("污水直排", "fuliang", "fuliang", "city-water")
	p2 := f.assigned("垃圾堆放", "fuliang", "fuliang")
	other := f.assigned("非法采砂", "leping", "leping")
	due := t0.Add(10 * 24 * time.Hour)
	good := workflow.NewLetter{ToUnit: "fuliang", ProblemIDs: []string{p1.ID, p2.ID}, Kind: workflow.KindSupervision,
		Demands: "请于10日内完成整改并书面回复。", ReplyDue: due}

	refusals := []struct {
		name   string
		a      workflow.Actor
		change func(in *workflow.NewLetter)
		reason workflow.Reason
	}{
		{"a unit issues", officer, func(*workflow.NewLetter) {}, workflow.ReasonRole},
		{"no kind", bureau, func(in *workflow.NewLetter) { in.Kind = "" }, workflow.ReasonRequired},
		{"unknown kind", bureau, func(in *workflow.NewLetter) { in.Kind = "通报" }, workflow.ReasonUnknownValue},
		{"unknown unit", bureau, func(in *workflow.NewLetter) { in.ToUnit = "nowhere" }, workflow.ReasonUnknownUnit},
		{"no problems", bureau, func(in *workflow.NewLetter) { in.ProblemIDs = nil }, workflow.ReasonRequired},
		{"unknown problem", bureau, func(in *workflow.NewLetter) { in.ProblemIDs = []string{p1.ID, "999"} }, workflow.ReasonProblemNotFound},
		{"problem twice", bureau, func(in *workflow.NewLetter) { in.ProblemIDs = []string{p1.ID, p1.ID} }, workflow.ReasonProblemListedTwice},
		{"unit not involved", bureau, func(in *workflow.NewLetter) { in.ProblemIDs = []string{p1.ID, other.ID} }, workflow.ReasonUnitNotInvolved},
		{"no demands", bureau, func(in *workflow.NewLetter) { in.Demands = "  " }, workflow.ReasonRequired},
		{"control character", bureau, func(in *workflow.NewLetter) { in.Demands = "整改\x07" }, workflow.ReasonControlCharacter},
		{"reply due past", bureau, func(in *workflow.NewLetter) { in.ReplyDue = t0.Add(-time.Hour) }, workflow.ReasonDueNotFuture},
		{"no reply due", bureau, func(in *workflow.NewLetter) { in.ReplyDue = time.Time{} }, workflow.ReasonRequired},
	}
	for _, r := range refusals {
		in := good
		r.change(&in)
		_, err := f.svc.IssueLetter(ctx, r.a, in)
		if workflow.ErrorReason(err) != r.reason {
			t.Errorf("%s: got %v, want reason %s", r.name, err, r.reason)
		}
	}
	if all, _ := f.svc.Letters(ctx, bureau, workflow.LetterFilter{}); len(all) != 0 {
		t.Fatalf("refused letters were written: %+v", all)
	}

	l, err := f.svc.IssueLetter(ctx, bureau, good)
	if err != nil {
		t.Fatal(err)
	}
	if l.Number != 1 || l.Year != 2021 || l.DocNo != "景长江办督〔2021〕1号" || l.State != workflow.LetterIssued || !l.Recorded {
		t.Fatalf("the first letter: %+v", l)
	}
	for _, pid := range []string{p1.ID, p2.ID} {
		es := letterEntries(t, f, pid, workflow.ActionLetter)
		if len(es) != 1 || es[0].Params.Letter != l.ID || es[0].Params.DocNo != l.DocNo || es[0].Params.Unit != "fuliang" {
			t.Errorf("problem %s: letter entries %+v", pid, es)
		}
	}
	if es := letterEntries(t, f, other.ID, workflow.ActionLetter); len(es) != 0 {
		t.Errorf("a problem the letter does not name has letter entries: %+v", es)
	}
	l2, err := f.svc.IssueLetter(ctx, bureau, workflow.NewLetter{ToUnit: "乐平市", ProblemIDs: []string{other.ID},
		Kind: workflow.KindReminder, Demands: "请加快整改。", ReplyDue: due})
	if err != nil || l2.Number != 2 || l2.ToUnit != "leping" {
		t.Fatalf("the second letter (unit by name): %+v, %v", l2, err)
	}

	// Visibility: the addressed unit sees its letters, others do not.
	if got, err := f.svc.Letters(ctx, officer, workflow.LetterFilter{}); err != nil || len(got) != 1 || got[0].ID != l.ID {
		t.Errorf("fuliang's letters: %+v, %v", got, err)
	}
	if _, err := f.svc.Letter(ctx, outsider, l.ID); workflow.ErrorReason(err) != workflow.ReasonLetterNotFound {
		t.Errorf("leping reads fuliang's letter: %v", err)
	}
	if got, _ := f.svc.Letters(ctx, bureau, workflow.LetterFilter{Unit: "leping"}); len(got) != 1 || got[0].ID != l2.ID {
		t.Errorf("the bureau's letters to leping: %+v", got)
	}
	if _, err := f.svc.Letters(ctx, bureau, workflow.LetterFilter{State: "lost"}); workflow.ErrorReason(err) != workflow.ReasonUnknownValue {
		t.Errorf("an unknown state filter: %v", err)
	}

	// Replies: only the addressed unit, once.
	if _, err := f.svc.ReplyLetter(ctx, outsider, l.ID, workflow.LetterReplyInput{Text: "x"}); workflow.ErrorReason(err) != workflow.ReasonLetterNotFound {
		t.Errorf("another unit replies: %v", err)
	}
	if _, err := f.svc.ReplyLetter(ctx, bureau, l.ID, workflow.LetterReplyInput{Text: "x"}); workflow.ErrorReason(err) != workflow.ReasonNotAddressee {
		t.Errorf("the bureau replies: %v", err)
	}
	if _, err := f.svc.ReplyLetter(ctx, officer, l.ID, workflow.LetterReplyInput{Text: " "}); workflow.ErrorReason(err) != workflow.ReasonRequired {
		t.Errorf("an empty reply: %v", err)
	}
	if _, err := f.svc.ReplyLetter(ctx, officer, l.ID, workflow.LetterReplyInput{Text: "已整改", Evidence: []string{"ab"}}); workflow.ErrorReason(err) != workflow.ReasonEvidenceNotFound {
		t.Errorf("a reply naming evidence the problems lack: %v", err)
	}
	f.clock.Advance(time.Hour)
	r, err := f.svc.ReplyLetter(ctx, officer, l.ID, workflow.LetterReplyInput{Text: "已完成截污纳管。"})
	if err != nil || r.State != workflow.LetterReplied || r.Reply == nil || r.Reply.Late || r.Reply.By.ID != officer.ID {
		t.Fatalf("reply: %+v, %v", r, err)
	}
	if _, err := f.svc.ReplyLetter(ctx, officer, l.ID, workflow.LetterReplyInput{Text: "再次回复"}); workflow.ErrorReason(err) != workflow.ReasonLetterReplied {
		t.Errorf("a second reply: %v", err)
	}
	for _, pid := range []string{p1.ID, p2.ID} {
		if es := letterEntries(t, f, pid, workflow.ActionLetterReply); len(es) != 1 || es[0].Params.Text != "已完成截污纳管。" {
			t.Errorf("problem %s: reply entries %+v", pid, es)
		}
	}
	// The history with its new actions replays and audits clean.
	if _, err := workflow.Audit(ctx, f.st, nil, nil); err != nil {
		t.Errorf("audit: %v", err)
	}
}

// TestLetterReplyLateOnce: a letter with no reply by its due time gets one
// letter_reply_late alert per problem, however often the routine runs,
// restarts included; a reply after the due time is kept and marked late.
func TestLetterReplyLateOnce(t *testing.T) {
	f := newRoundFixture(t)
	ctx := context.Background()
	p1 := f.assigned("污水直排", "fuliang", "fuliang")
	p2 := f.assigned("垃圾堆放", "fuliang", "fuliang")
	l, err := f.svc.IssueLetter(ctx, bureau, workflow.NewLetter{ToUnit: "fuliang", ProblemIDs: []string{p1.ID, p2.ID},
		Kind: workflow.KindSupervision, Demands: "请整改。", ReplyDue: t0.Add(48 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := f.svc.RecordLateReplies(ctx); err != nil || n != 0 {
		t.Fatalf("before the due time: %d alerts, %v", n, err)
	}
	f.clock.Advance(49 * time.Hour)
	if n, err := f.svc.RecordLateReplies(ctx); err != nil || n != 2 {
		t.Fatalf("after the due time: %d alerts (%v), want 2", n, err)
	}
	if n, err := f.svc.RecordLateReplies(ctx); err != nil || n != 0 {
		t.Fatalf("again: %d alerts (%v), want 0", n, err)
	}
	f.restart()
	if n, err := f.svc.RecordLateReplies(ctx); err != nil || n != 0 {
		t.Fatalf("after a restart: %d alerts (%v), want 0", n, err)
	}
	// Even with the letter's mark lost, the histories hold the alerts.
	if _, err := f.st.UpdateLetter(ctx, l.ID, 0, func(c *workflow.Letter, _ int) error { c.LateAlertedAt = nil; return nil }); err != nil {
		t.Fatal(err)
	}
	if n, err := f.svc.RecordLateReplies(ctx); err != nil || n != 0 {
		t.Fatalf("unmarked: %d alerts (%v), want 0", n, err)
	}
	for _, pid := range []string{p1.ID, p2.ID} {
		es := letterEntries(t, f, pid, workflow.AlertLetterReplyLate)
		if len(es) != 1 || es[0].Params.Letter != l.ID || es[0].Params.Against != workflow.AgainstUnit {
			t.Errorf("problem %s: %d alerts %+v, want 1", pid, len(es), es)
		}
	}
	r, err := f.svc.ReplyLetter(ctx, officer, l.ID, workflow.LetterReplyInput{Text: "迟到的回复"})
	if err != nil || !r.Reply.Late {
		t.Fatalf("a late reply: %+v, %v", r, err)
	}
}

// TestDraftLetters: a problem reaching red gets one draft letter to its lead
// unit, without a number and unseen by the unit; the bureau issues it (it
// takes the next number) or discards another; only drafts are.
func TestDraftLetters(t *testing.T) {
	f := newRoundFixture(t)
	ctx := context.Background()
	p1 := f.assigned("污水直排", "fuliang", "fuliang")
	p2 := f.assigned("垃圾堆放", "leping", "leping")
	f.assigned("未逾期", "leping", "leping")
	if n, err := f.svc.DraftLetters(ctx); err != nil || n != 0 {
		t.Fatalf("nothing overdue: %d drafts, %v", n, err)
	}
	// Deadline 2021-12-31; red after 30 days overdue.
	f.clock.Set(time.Date(2022, 2, 10, 2, 0, 0, 0, time.UTC))
	if _, err := f.svc.Fire(ctx, bureau, "3", workflow.Command{Trigger: workflow.TriggerReassign,
		Params: workflow.Params{Deadline: deadline("2022-12-31"), Reason: "延期"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Scan(ctx); err != nil {
		t.Fatal(err)
	}
	n, err := f.svc.DraftLetters(ctx)
	if err != nil || n != 2 {
		t.Fatalf("two problems red: %d drafts (%v), want 2", n, err)
	}
	if n, _ := f.svc.DraftLetters(ctx); n != 0 {
		t.Fatalf("again: %d drafts, want 0", n)
	}
	f.restart()
	if n, _ := f.svc.DraftLetters(ctx); n != 0 {
		t.Fatalf("after a restart: %d drafts, want 0", n)
	}
	drafts, err := f.svc.Letters(ctx, bureau, workflow.LetterFilter{State: workflow.LetterDraft})
	if err != nil || len(drafts) != 2 {
		t.Fatalf("drafts: %+v, %v", drafts, err)
	}
	var d1, d2 *workflow.Letter
	for _, d := range drafts {
		if d.Number != 0 || d.DocNo != "" || d.Level != workflow.LevelRed || d.Kind != workflow.KindSupervision {
			t.Errorf("a draft: %+v", d)
		}
		switch d.ProblemIDs[0] {
		case p1.ID:
			d1 = d
		case p2.ID:
			d2 = d
		}
	}
	if d1 == nil || d2 == nil || d1.ToUnit != "fuliang" || d2.ToUnit != "leping" {
		t.Fatalf("drafts to the lead units: %+v %+v", d1, d2)
	}
	if got, _ := f.svc.Letters(ctx, officer, workflow.LetterFilter{}); len(got) != 0 {
		t.Errorf("a unit sees drafts: %+v", got)
	}
	if _, err := f.svc.IssueDraft(ctx, officer, d1.ID, workflow.NewLetter{}); workflow.ErrorReason(err) != workflow.ReasonRole {
		t.Errorf("a unit issues a draft: %v", err)
	}
	l, err := f.svc.IssueDraft(ctx, bureau, d1.ID, workflow.NewLetter{Demands: "限期十日内整改到位。"})
	if err != nil || l.State != workflow.LetterIssued || l.Number != 1 || l.DocNo != "景长江办督〔2022〕1号" || l.Demands != "限期十日内整改到位。" {
		t.Fatalf("issued draft: %+v, %v", l, err)
	}
	if es := letterEntries(t, f, p1.ID, workflow.ActionLetter); len(es) != 1 {
		t.Errorf("the issued draft's entries: %+v", es)
	}
	if _, err := f.svc.IssueDraft(ctx, bureau, d1.ID, workflow.NewLetter{}); workflow.ErrorReason(err) != workflow.ReasonLetterNotDraft {
		t.Errorf("issued twice: %v", err)
	}
	if _, err := f.svc.DiscardDraft(ctx, bureau, d1.ID); workflow.ErrorReason(err) != workflow.ReasonLetterNotDraft {
		t.Errorf("an issued letter discarded: %v", err)
	}
	d, err := f.svc.DiscardDraft(ctx, bureau, d2.ID)
	if err != nil || d.State != workflow.LetterDiscarded || d.Number != 0 {
		t.Fatalf("discard: %+v, %v", d, err)
	}
	if _, err := f.svc.ReplyLetter(ctx, workflow.Actor{ID: "u-lp", Role: workflow.RoleUnit, UnitID: "leping"}, d2.ID, workflow.LetterReplyInput{Text: "x"}); workflow.ErrorReason(err) != workflow.ReasonLetterNotFound {
		t.Errorf("a reply to a discarded draft: %v", err)
	}
	next, err := f.svc.IssueLetter(ctx, bureau, workflow.NewLetter{ToUnit: "leping", ProblemIDs: []string{p2.ID},
		Kind: workflow.KindInterview, Demands: "约谈。", ReplyDue: f.clock.Now().Add(time.Hour)})
	if err != nil || next.Number != 2 {
		t.Fatalf("after a discarded draft the next number is %+v (%v), want 2", next, err)
	}
}

// TestLetterConfig: the number format needs {n} and {year}.
func TestLetterConfig(t *testing.T) {
	svc := workflow.NewService(nil, workflow.NewManualClock(t0))
	for _, bad := range []string{"景长江办督〔{year}〕号", "督〔2026〕{n}号"} {
		if err := svc.SetLetterConfig(workflow.LetterConfig{NumberFormat: bad, Office: "办公室"}); workflow.ErrorReason(err) != workflow.ReasonBadConfig {
			t.Errorf("format %q: %v", bad, err)
		}
	}
	if err := svc.SetLetterConfig(workflow.LetterConfig{NumberFormat: "景环督〔{year}〕{n}号", Office: "景德镇市生态环境局"}); err != nil {
		t.Fatal(err)
	}
	if got := workflow.DocNumber(svc.LetterConfig().NumberFormat, 2026, 7); got != "景环督〔2026〕7号" {
		t.Errorf("DocNumber = %q", got)
	}
}

// TestLetterEntriesFinished: a letter written without its entries (a crash
// between the two) is finished by the routine, once; so is a reply.
func TestLetterEntriesFinished(t *testing.T) {
	f := newRoundFixture(t)
	ctx := context.Background()
	p := f.assigned("污水直排", "fuliang", "fuliang")
	at := f.clock.Now()
	due := at.Add(72 * time.Hour)
	l, _, err := f.st.CreateLetter(ctx, "", 2021, func(id string, n int) (*workflow.Letter, error) {
		return &workflow.Letter{ID: id, State: workflow.LetterIssued, Kind: workflow.KindSupervision, ToUnit: "fuliang",
			ProblemIDs: []string{p.ID}, Demands: "请整改。", ReplyDue: &due, Year: 2021, Number: n,
			DocNo: workflow.DocNumber(workflow.DefaultLetterNumberFormat, 2021, n), CreatedAt: at, CreatedBy: bureau, IssuedAt: &at, IssuedBy: &bureau}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	f.restart()
	for i, want := range []int{1, 0} {
		if n, err := f.svc.RecordLetterEntries(ctx); err != nil || n != want {
			t.Fatalf("run %d: %d letters finished (%v), want %d", i, n, err, want)
		}
	}
	if es := letterEntries(t, f, p.ID, workflow.ActionLetter); len(es) != 1 || es[0].Params.DocNo != l.DocNo {
		t.Fatalf("letter entries %+v", es)
	}
	// A reply written without its entries.
	now := f.clock.Now()
	if _, err := f.st.UpdateLetter(ctx, l.ID, 0, func(c *workflow.Letter, _ int) error {
		c.State, c.Reply = workflow.LetterReplied, &workflow.Reply{Text: "已整改。", At: now, By: officer}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for i, want := range []int{1, 0} {
		if n, err := f.svc.RecordLetterEntries(ctx); err != nil || n != want {
			t.Fatalf("reply run %d: %d letters finished (%v), want %d", i, n, err, want)
		}
	}
	if es := letterEntries(t, f, p.ID, workflow.ActionLetterReply); len(es) != 1 || es[0].Actor.ID != officer.ID {
		t.Fatalf("reply entries %+v", es)
	}
	if _, err := workflow.Audit(ctx, f.st, nil, nil); err != nil {
		t.Errorf("audit: %v", err)
	}
}

// TestLetterNotices: an issued letter is one message to the addressed unit
// (not one per problem), and the unit's digest lists the letters awaiting
// its reply, marked once late; a replied letter leaves the digest.
func TestLetterNotices(t *testing.T) {
	f := newRoundFixture(t)
	ctx := context.Background()
	p1 := f.assigned("污水直排", "fuliang", "fuliang")
	p2 := f.assigned("垃圾堆放", "fuliang", "fuliang")
	l, err := f.svc.IssueLetter(ctx, bureau, workflow.NewLetter{ToUnit: "fuliang", ProblemIDs: []string{p1.ID, p2.ID},
		Kind: workflow.KindSupervision, Demands: "请整改。", ReplyDue: t0.Add(48 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	var msgs []workflow.Message
	for _, pid := range []string{p1.ID, p2.ID} {
		e := letterEntries(t, f, pid, workflow.ActionLetter)[0]
		m, err := f.svc.EventMessages(ctx, workflow.Event{Seq: e.Seq, Entry: e})
		if err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, m...)
	}
	if len(msgs) != 1 || msgs[0].Kind != workflow.NoticeLetter || msgs[0].Unit != "fuliang" ||
		!strings.Contains(msgs[0].Text, l.DocNo) || !strings.Contains(msgs[0].Text, p2.Code) {
		t.Fatalf("messages of an issued letter: %+v", msgs)
	}
	unit := workflow.Unit{ID: "fuliang", Name: "浮梁县", Kind: workflow.UnitCounty}
	f.clock.Advance(72 * time.Hour)
	m, ok, err := f.svc.Digest(ctx, unit, f.clock.Now())
	if err != nil || !ok || !strings.Contains(m.Text, "待回复督办函") || !strings.Contains(m.Text, l.DocNo+"：回复期限") || !strings.Contains(m.Text, "已逾期") {
		t.Fatalf("digest: %+v %v %v", m, ok, err)
	}
	if _, err := f.svc.ReplyLetter(ctx, officer, l.ID, workflow.LetterReplyInput{Text: "已整改。"}); err != nil {
		t.Fatal(err)
	}
	if m, _, _ := f.svc.Digest(ctx, unit, f.clock.Now()); strings.Contains(m.Text, l.DocNo) {
		t.Errorf("a replied letter stays in the digest: %s", m.Text)
	}
}

// TestBriefingListsUnansweredLetters: a briefing names the letters issued
// by its end and not replied to by then, as the ledger stood at that time.
func TestBriefingListsUnansweredLetters(t *testing.T) {
	f := newRoundFixture(t)
	ctx := context.Background()
	p := f.assigned("污水直排", "fuliang", "fuliang")
	issuedDay := f.clock.Now()
	l, err := f.svc.IssueLetter(ctx, bureau, workflow.NewLetter{ToUnit: "fuliang", ProblemIDs: []string{p.ID},
		Kind: workflow.KindSupervision, Demands: "请整改。", ReplyDue: t0.Add(72 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(48 * time.Hour)
	repliedDay := f.clock.Now()
	if _, err := f.svc.ReplyLetter(ctx, officer, l.ID, workflow.LetterReplyInput{Text: "已完成整改。"}); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(24 * time.Hour)
	at := func(day time.Time) []workflow.LetterDue {
		t.Helper()
		b, err := f.svc.Briefing(ctx, bureau, workflow.PeriodWeek, day)
		if err != nil {
			t.Fatal(err)
		}
		if !b.LettersKept {
			t.Fatal("a ledger with letters says it keeps none")
		}
		return b.Letters
	}
	if ls := at(issuedDay.Add(-24 * time.Hour)); len(ls) != 0 {
		t.Fatalf("before the letter: %+v", ls)
	}
	ls := at(issuedDay.Add(24 * time.Hour))
	if len(ls) != 1 || ls[0].ID != l.ID || ls[0].Unit != "浮梁县" || !strings.Contains(ls[0].Title, l.DocNo) || !ls[0].DueAt.Equal(*l.ReplyDue) {
		t.Fatalf("the day after the letter: %+v", ls)
	}
	if ls := at(repliedDay.Add(24 * time.Hour)); len(ls) != 0 {
		t.Fatalf("after the reply: %+v", ls)
	}
}
