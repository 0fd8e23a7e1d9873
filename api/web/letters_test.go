package web_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jdz-eco/rectify/workflow"
)

var reLetter = regexp.MustCompile(`^/letters/(\d+)\?done=letter$`)

// TestLetterPages: the bureau issues a letter through its form (by problem
// code; a refused form comes back with the reason in Chinese and what was
// sent); the letter's page is the document with its number, problems and
// audit head, printable; the .docx downloads; the addressed unit sees it in
// its list and replies once (a second reply is refused in Chinese), other
// units do not see it; a draft is issued from its page.
func TestLetterPages(t *testing.T) {
	v := newEnv(t)
	p1 := v.create("浮梁县尾矿库渗漏", "fuliang")
	v.assign(p1, "fuliang")
	p2 := v.create("乐平市排污口", "leping")
	v.assign(p2, "leping")
	ctx := context.Background()
	code1 := problemCode(t, v, p1)

	bureau := v.as("bureau")
	page := bureau.get("/letters")
	wantStatus(t, "letters", page, 200)
	wantBody(t, "letters", page, "发函督办", `name="problems"`, "暂无督办函")

	res := bureau.post("/letters", url.Values{"to_unit": {"fuliang"}, "kind": {"督办函"}, "problems": {code1 + "," + p2}, "demands": {"限期整改"}, "reply_due": {"2021-07-10"}})
	wantStatus(t, "a problem of another unit", res, http.StatusBadRequest)
	wantBody(t, "a problem of another unit", res, "主送单位不是所列问题的牵头或配合单位", "限期整改")
	res = bureau.post("/letters", url.Values{"to_unit": {"fuliang"}, "kind": {"督办函"}, "problems": {"JDZ-1999-0001"}, "demands": {"限期整改"}, "reply_due": {"2021-07-10"}})
	wantStatus(t, "an unknown code", res, http.StatusNotFound)
	res = bureau.post("/letters", url.Values{"to_unit": {"fuliang"}, "kind": {"督办函"}, "problems": {code1}, "demands": {"一是立即整改；\n二是建立台账。"}, "reply_due": {"2021-07-10"}})
	m := reLetter.FindStringSubmatch(res.location)
	if res.status != http.StatusSeeOther || m == nil {
		t.Fatalf("issue: %d %s\n%s", res.status, res.location, res.body)
	}
	id := m[1]
	doc := bureau.get("/letters/" + id + "?done=letter")
	wantStatus(t, "letter", doc, 200)
	head, err := v.svc.AuditHead(ctx, v.users["bureau"].Actor())
	if err != nil {
		t.Fatal(err)
	}
	wantBody(t, "letter", doc, "督办函已签发", "景长江办督〔2021〕1号", "浮梁县：", code1, "浮梁县尾矿库渗漏", "二是建立台账。",
		"请于2021年7月10日前", workflow.DefaultLetterOffice, head.String(), `href="/letters/`+id+`.docx"`, "浏览器的打印功能", "letter-doc")
	dl := bureau.get("/letters/" + id + ".docx")
	if dl.status != 200 || !strings.HasPrefix(dl.body, "PK") || !strings.Contains(dl.header.Get("Content-Disposition"), ".docx") {
		t.Fatalf("docx: %d %v", dl.status, dl.header)
	}

	// The problem's page lists it, and links the bureau to a new letter.
	wantBody(t, "problem page", bureau.get("/problems/"+p1), `href="/letters/`+id+`">景长江办督〔2021〕1号`,
		`href="/letters?problems=`+code1+`&amp;to_unit=fuliang#issue-letter"`)
	wantBody(t, "prefilled form", bureau.get("/letters?problems="+code1+"&to_unit=fuliang"), `value="`+code1+`"`, `value="fuliang" selected`)

	// The unit.
	fl := v.as("fuliang")
	wantBody(t, "unit list", fl.get("/letters"), "景长江办督〔2021〕1号")
	own := fl.get("/letters/" + id)
	wantBody(t, "unit letter", own, `id="reply-form"`)
	lp := v.as("leping")
	wantStatus(t, "another unit", lp.get("/letters/"+id), http.StatusNotFound)
	wantNot(t, "another unit's list", lp.get("/letters"), "景长江办督〔2021〕1号")
	photo := pngFile(7)
	if up := fl.upload(p1, "清淤后.png", photo, "清淤后现场"); up.status != http.StatusSeeOther {
		t.Fatalf("upload: %d\n%s", up.status, up.body)
	}
	wantBody(t, "the reply's evidence", fl.get("/letters/"+id), `name="evidence" value="`+sha(photo)+`"`, "清淤后.png")
	res = fl.post("/letters/"+id+"/reply", url.Values{"text": {"已完成围挡和清淤。"}, "evidence": {sha(photo)}})
	if res.status != http.StatusSeeOther {
		t.Fatalf("reply: %d\n%s", res.status, res.body)
	}
	wantBody(t, "replied", fl.get("/letters/"+id), "已完成围挡和清淤。", "已回复", `附佐证材料：<a href="/evidence/`+sha(photo)+`">清淤后.png</a>`)
	wantNot(t, "replied", fl.get("/letters/"+id), `id="reply-form"`)
	res = fl.post("/letters/"+id+"/reply", url.Values{"text": {"再次回复"}})
	wantStatus(t, "a second reply", res, http.StatusConflict)
	wantBody(t, "a second reply", res, "该督办函已回复，不能再次回复")

	// A draft, issued from its page.
	v.clock.Set(t0.Add(130 * 24 * time.Hour)) // the deadline (t0+90d) is 40 days past: red
	if _, err := v.svc.Scan(ctx); err != nil {
		t.Fatal(err)
	}
	if n, err := v.svc.DraftLetters(ctx); err != nil || n != 2 {
		t.Fatalf("drafts: %d, %v", n, err)
	}
	bureau, fl = v.as("bureau"), v.as("fuliang") // the sessions ended meanwhile
	list := bureau.get("/letters")
	wantBody(t, "drafts", list, "待签发草稿", "审核签发")
	drafts, _ := v.svc.Letters(ctx, v.users["bureau"].Actor(), workflow.LetterFilter{State: workflow.LetterDraft})
	d := drafts[0].ID
	wantNot(t, "unit and drafts", fl.get("/letters"), "待签发草稿")
	wantBody(t, "draft", bureau.get("/letters/"+d), "审核草稿", "草稿，签发时编号")
	res = bureau.post("/letters/"+d+"/issue", url.Values{"demands": {"限期十日内整改到位。"}, "reply_due": {"2020-01-01"}})
	wantStatus(t, "a past reply date", res, http.StatusBadRequest)
	res = bureau.post("/letters/"+d+"/issue", url.Values{"demands": {"限期十日内整改到位。"}, "reply_due": {"2021-12-31"}})
	if res.status != http.StatusSeeOther {
		t.Fatalf("issue the draft: %d\n%s", res.status, res.body)
	}
	wantBody(t, "issued draft", bureau.get("/letters/"+d), "景长江办督〔2021〕2号", "限期十日内整改到位。")
	res = bureau.post("/letters/"+drafts[1].ID+"/discard", nil)
	if res.status != http.StatusSeeOther {
		t.Fatalf("discard: %d\n%s", res.status, res.body)
	}
	res = bureau.post("/letters/"+drafts[1].ID+"/discard", nil)
	wantStatus(t, "discarded twice", res, http.StatusConflict)
	wantBody(t, "discarded twice", res, "只有待签发的草稿才能签发或作废")
}

func problemCode(t *testing.T, v *env, id string) string {
	t.Helper()
	p, err := v.svc.Problem(context.Background(), v.users["bureau"].Actor(), id)
	if err != nil {
		t.Fatal(err)
	}
	return p.Code
}
