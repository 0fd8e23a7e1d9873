package storetest

import (
	"testing"
	"time"

	"github.com/jdz-eco/rectify/workflow"
)

// LetterForgery is a supervision letter's record edited behind the store's
// back (its fields as JSON), or removed, leaving the entries that recorded
// it as they are: the audit must fail with Want in its error.
type LetterForgery struct {
	Name   string
	Letter string // the letter's id
	Edit   func(fields map[string]any)
	Delete bool // remove the letter instead
	Want   string
}

// AddLetters issues, through svc on a ledger BuildLedger built (ids its
// problems), a letter to 乐平市 about its problem, which replies, and one to
// 昌江区 about its problem, left unanswered; and returns the forgeries of
// them an audit must catch (docs/design.md#the-hash-chain-and-the-audit).
func AddLetters(t testing.TB, svc *workflow.Service, ids []string) []LetterForgery {
	t.Helper()
	ctx := t.Context()
	b, d := ids[1], ids[3] // rectifying at 乐平市; assigned to 昌江区
	due := svc.Clock().Now().Add(10 * 24 * time.Hour)
	replied, err := svc.IssueLetter(ctx, BureauActor, workflow.NewLetter{ToUnit: Leping, ProblemIDs: []string{b}, Kind: workflow.KindSupervision,
		Demands: "请于十日内报送整改进展。", ReplyDue: due})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.ReplyLetter(ctx, OfficerOf(Leping), replied.ID, workflow.LetterReplyInput{Text: "管网已更换，正在试运行。"}); err != nil {
		t.Fatal(err)
	}
	open, err := svc.IssueLetter(ctx, BureauActor, workflow.NewLetter{ToUnit: Changjiang, ProblemIDs: []string{d}, Kind: workflow.KindReminder,
		Demands: "请加快清理非法采砂点。", ReplyDue: due})
	if err != nil {
		t.Fatal(err)
	}
	r, o := replied.ID, open.ID
	return []LetterForgery{
		{Name: "number changed", Letter: r, Edit: func(f map[string]any) { f["number"], f["doc_no"] = 9, "景长江办督〔2021〕9号" },
			Want: "supervision letter " + r + ": document number 景长江办督〔2021〕9号 differs from " + replied.DocNo},
		{Name: "number repeated", Letter: o, Edit: func(f map[string]any) { f["number"], f["doc_no"] = replied.Number, replied.DocNo },
			Want: "supervision letter " + o + ": number 1 of 2021 is letter " + r + "'s too"},
		{Name: "addressee changed", Letter: o, Edit: func(f map[string]any) { f["to_unit"] = Zhushan },
			Want: "supervision letter " + o + ": addressee " + Zhushan + " differs"},
		{Name: "kind changed", Letter: o, Edit: func(f map[string]any) { f["kind"] = string(workflow.KindInterview) },
			Want: "kind 约谈通知 differs from 提醒函"},
		{Name: "demands changed", Letter: r, Edit: func(f map[string]any) { f["demands"] = "无需报送。" },
			Want: "supervision letter " + r + ": demands \"无需报送。\" differs"},
		{Name: "reply due moved", Letter: o, Edit: func(f map[string]any) { f["reply_due"] = "2031-01-01T00:00:00Z" },
			Want: "reply due time"},
		{Name: "problem added", Letter: o, Edit: func(f map[string]any) { f["problem_ids"] = []string{d, b} },
			Want: "names problem " + b + ", whose history holds no letter entry for it"},
		{Name: "problem removed", Letter: o, Edit: func(f map[string]any) { f["problem_ids"] = []string{b} },
			Want: "the letter does not name problem " + d},
		{Name: "reply changed", Letter: r, Edit: func(f map[string]any) { f["reply"].(map[string]any)["text"] = "已全部整改完毕。" },
			Want: "supervision letter " + r + ": reply \"已全部整改完毕。\" differs"},
		{Name: "reply removed", Letter: r, Edit: func(f map[string]any) { delete(f, "reply"); f["state"] = string(workflow.LetterIssued) },
			Want: "has no reply, but letter_reply entry"},
		{Name: "made a draft", Letter: o, Edit: func(f map[string]any) {
			f["state"] = string(workflow.LetterDraft)
			for _, k := range []string{"number", "doc_no", "year", "issued_at", "issued_by"} {
				delete(f, k)
			}
		}, Want: "is a draft letter, but letter entry"},
		{Name: "removed", Letter: o, Delete: true, Want: "supervision letter " + o + ": letter entry"},
	}
}
