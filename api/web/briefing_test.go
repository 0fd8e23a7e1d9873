package web_test

import (
	"archive/zip"
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/jdz-eco/rectify/workflow/briefingfile"
)

func TestBriefingPageAndWorkbook(t *testing.T) {
	v := newEnv(t)
	red := v.create("河道违规采砂", "fuliang")
	v.assign(red, "fuliang")
	v.create("尾矿库渗漏", "leping")
	v.clock.Advance(135 * 24 * time.Hour) // 45 days past the deadline: 红牌
	head, err := v.svc.AuditHead(context.Background(), v.users["bureau"].Actor())
	if err != nil {
		t.Fatal(err)
	}
	viewer := v.as("viewer")
	res := viewer.get("/briefings?period=quarter")
	wantStatus(t, "briefing", res, 200)
	wantBody(t, "briefing", res, "生态环境问题整改工作季度通报", "审计链头 "+head.String(), "<polyline", "逾期问题数（按县市区）",
		"红牌和挂牌督办问题", `<a href="/problems/`+red+`">`, "河道违规采砂", "红牌", "期末无未回复的督办函。",
		`href="/briefings.xlsx?period=quarter&as_of=`)
	wantNot(t, "briefing", res, "<script")

	// Refusals: a clear Chinese reason, nothing else.
	for _, c := range []struct{ path, text string }{
		{"/briefings?period=year", ""},
		{"/briefings?as_of=2021-13-01", ""},
		{"/briefings?as_of=2099-01-01", "通报截止日期不能晚于今天。"},
	} {
		res := viewer.get(c.path)
		wantStatus(t, c.path, res, 400)
		if c.text != "" {
			wantBody(t, c.path, res, c.text)
		}
	}
	wantStatus(t, "unit officer", v.as("fuliang").get("/briefings"), 403)

	doc := viewer.get("/briefings.docx?period=week")
	wantStatus(t, "document", doc, 200)
	if ct := doc.header.Get("Content-Type"); ct != briefingfile.ContentTypeDOCX {
		t.Errorf("document: Content-Type %q", ct)
	}
	if _, err := zip.NewReader(strings.NewReader(doc.body), int64(len(doc.body))); err != nil {
		t.Errorf("document: %v", err)
	}

	wb := viewer.get("/briefings.xlsx?period=month")
	wantStatus(t, "workbook", wb, 200)
	f, err := excelize.OpenReader(bytes.NewReader([]byte(wb.body)))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	want := []string{briefingfile.TitleSummary, briefingfile.TitleCounties, briefingfile.TitleLeadUnits, briefingfile.TitleFlagged,
		briefingfile.TitleLate, briefingfile.TitleLetters, briefingfile.TitleTrend}
	if got := f.GetSheetList(); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("sheets %v, want %v", got, want)
	}
	rows, _ := f.GetRows(briefingfile.TitleFlagged)
	if len(rows) != 5 || !strings.Contains(rows[2][0], head.String()) || rows[4][2] != "河道违规采砂" || rows[4][7] != "红牌" {
		t.Errorf("flagged sheet %q", rows)
	}
	rows, _ = f.GetRows(briefingfile.TitleSummary)
	if len(rows) < 5 || rows[4][0] != "问题总数" || rows[4][2] != "2" {
		t.Errorf("summary sheet %q", rows)
	}
}
