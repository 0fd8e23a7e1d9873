package web_test

import (
	"bytes"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/jdz-eco/rectify/workflow/roundfile"
)

var reRound = regexp.MustCompile(`^/rounds/(\d+)\?done=round$`)

// TestRoundPages: the bureau opens a round through its form (a refused
// form comes back with the reason and what was sent); the board marks the
// units that have not reported; a unit officer sees only its own pending
// report with a form, files it (a refusal is shown beside the form), and
// after the due time can no longer amend it; the summary downloads; the
// work point's page shows its reports.
func TestRoundPages(t *testing.T) {
	v := newEnv(t)
	p1 := v.create("浮梁县尾矿库渗漏", "fuliang")
	v.assign(p1, "fuliang")
	p2 := v.create("乐平市排污口", "leping")
	v.assign(p2, "leping")

	bureau := v.as("bureau")
	page := bureau.get("/rounds")
	wantStatus(t, "rounds", page, 200)
	wantBody(t, "rounds", page, "发起调度", `name="due"`, "暂无调度")

	res := bureau.post("/rounds", url.Values{"title": {"六月调度"}, "due": {"2021-06-01"}, "scope": {"problems"}})
	wantStatus(t, "a due date in the past", res, http.StatusBadRequest)
	wantBody(t, "a due date in the past", res, "报送截止时间须晚于现在", `value="六月调度"`)
	res = bureau.post("/rounds", url.Values{"title": {"要点调度"}, "due": {"2021-06-30"}, "scope": {"points"}})
	wantStatus(t, "points without points", res, http.StatusBadRequest)

	res = bureau.post("/rounds", url.Values{"title": {"2021年6月问题整改进展调度"}, "due": {"2021-06-30"}, "scope": {"both"}, "work_points": {"8"}})
	m := reRound.FindStringSubmatch(res.location)
	if res.status != http.StatusSeeOther || m == nil {
		t.Fatalf("open: %d %s\n%s", res.status, res.location, res.body)
	}
	rid := m[1]
	board := bureau.get("/rounds/" + rid + "?done=round")
	wantStatus(t, "board", board, 200)
	wantBody(t, "board", board, "调度已发起", "2021年6月问题整改进展调度", "浮梁县", "乐平市", "市水利局", "第8条 持续推进非法采砂专项整治",
		`class="warn missing"`, "下载调度汇总表")
	if strings.Contains(board.body, `action="/rounds/`+rid+`/reports"`) {
		t.Error("the bureau is offered a report form")
	}

	// 浮梁县 sees its pending report, on its start page and on the round's
	// page with a form, and nobody else's.
	fl := v.as("fuliang")
	wantBody(t, "unit home", fl.get("/"), "待报送调度", `href="/rounds/`+rid+`#pending"`, "待报送 1 项")
	own := fl.get("/rounds/" + rid)
	wantStatus(t, "unit board", own, 200)
	wantBody(t, "unit board", own, "本单位待报送", `name="item" value="p-`+p1+`"`, "浮梁县尾矿库渗漏")
	if strings.Contains(own.body, "乐平市排污口") || strings.Contains(own.body, "市水利局") {
		t.Error("浮梁县 sees other units' rows")
	}
	res = fl.post("/rounds/"+rid+"/reports", url.Values{"item": {"p-" + p1}, "progress": {"已完成围挡"}, "percent": {"150"}})
	wantStatus(t, "a bad percent", res, http.StatusBadRequest)
	wantBody(t, "a bad percent", res, "「完成百分比」超出允许的范围", "已完成围挡")
	res = fl.post("/rounds/"+rid+"/reports", url.Values{"item": {"p-" + p2}, "progress": {"冒报"}})
	wantStatus(t, "another unit's problem", res, http.StatusNotFound)
	wantBody(t, "another unit's problem", res, "未找到该问题，或您无权查看")
	res = fl.post("/rounds/"+rid+"/reports", url.Values{"item": {"p-" + p1}, "progress": {"已完成围挡和清淤"}, "percent": {"60"}, "difficulties": {"资金不足"}})
	if res.status != http.StatusSeeOther || !strings.Contains(res.location, "done=report") {
		t.Fatalf("report: %d %s\n%s", res.status, res.location, res.body)
	}
	own = fl.get("/rounds/" + rid)
	wantBody(t, "after the report", own, "已报送，可修改", "已完成围挡和清淤", "按时报送")

	// 市水利局 reports on the work point after the due time: late, final.
	v.clock.Set(time.Date(2021, 7, 1, 2, 0, 0, 0, time.UTC))
	water := v.as("water")
	pending := water.get("/rounds/" + rid)
	wantBody(t, "after the due time", pending, "已过报送截止时间", `value="w-8"`)
	res = water.post("/rounds/"+rid+"/reports", url.Values{"item": {"w-8"}, "progress": {"开展河湖卫士行动"}})
	wantStatus(t, "late report", res, http.StatusSeeOther)
	final := water.get("/rounds/" + rid)
	wantBody(t, "late", final, "本单位已报送", "逾期报送")
	fl = v.as("fuliang") // the sessions ended with the day
	res = fl.post("/rounds/"+rid+"/reports", url.Values{"item": {"p-" + p1}, "progress": {"再改"}})
	wantStatus(t, "amend after due", res, http.StatusConflict)
	wantBody(t, "amend after due", res, "已过报送截止时间，已报送的内容不能再修改")

	bureau = v.as("bureau")
	board = bureau.get("/rounds/" + rid)
	wantBody(t, "board after due", board, "逾期未报送", "逾期报送", "按时报送")

	// The summary.
	res = bureau.get("/rounds/" + rid + "/summary.xlsx")
	wantStatus(t, "summary", res, 200)
	f, err := excelize.OpenReader(bytes.NewReader([]byte(res.body)))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if rows, _ := f.GetRows(roundfile.SheetProblems); len(rows) != 3 || rows[2][12] != "逾期未报送" {
		t.Errorf("summary rows %q", rows)
	}
	if sheets := f.GetSheetList(); len(sheets) != 3 {
		t.Errorf("sheets %v", sheets)
	}

	// The work point's page shows the report; the list shows the round.
	wp := bureau.get("/workpoints/8")
	wantStatus(t, "work point", wp, 200)
	wantBody(t, "work point", wp, "第8条 持续推进非法采砂专项整治", "调度报送记录", "开展河湖卫士行动", "逾期报送", "水利局干部")
	wantStatus(t, "unknown work point", bureau.get("/workpoints/99"), 404)
	list := bureau.get("/rounds")
	wantBody(t, "list", list, "2021年6月问题整改进展调度", "已截止")
	wantStatus(t, "unknown round", bureau.get("/rounds/99"), 404)
	if l := v.as("leping").get("/rounds"); !strings.Contains(l.body, "2021年6月问题整改进展调度") {
		t.Error("乐平市 does not list its round")
	}
	// The statistics: each unit's reporting rate; the work point's reports.
	stats := bureau.get("/stats")
	wantBody(t, "stats", stats, "调度报送及时率", "<td>浮梁县</td><td class=\"num\">1</td><td class=\"num\">1</td><td class=\"num\">1</td><td class=\"num\">0</td><td class=\"num\">0</td><td class=\"num\">100.0%</td>",
		`<a href="/workpoints/8#timeline">1 次</a>`)
	if own := fl.get("/stats"); strings.Contains(own.body, "<td>乐平市</td>") {
		t.Error("浮梁县 sees 乐平市's reporting rate")
	}
}
