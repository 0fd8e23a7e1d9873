package api_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/jdz-eco/rectify/workflow/roundfile"
)

// rowsOf returns the board's rows by problem id (or work point/unit).
func rowsOf(board map[string]any) map[string]map[string]any {
	out := map[string]map[string]any{}
	for _, x := range board["rows"].([]any) {
		row := x.(map[string]any)
		it := row["item"].(map[string]any)
		key, _ := it["problem_id"].(string)
		if key == "" {
			key = fmt.Sprintf("w%v/%s", it["work_point"], it["unit"])
		}
		out[key] = row
	}
	return out
}

func tallyOf(board map[string]any, unit string) map[string]any {
	for _, x := range board["units"].([]any) {
		if u := x.(map[string]any); u["key"] == unit {
			return u
		}
	}
	return nil
}

// TestRoundsAPI: a round end to end over HTTP: opened by the bureau, a
// report on time (and amended), one late, one missing; the refusals with
// their codes and reasons; the board as the bureau and as a unit; the
// summary workbook's headers and rows; the report_late alert once.
func TestRoundsAPI(t *testing.T) {
	v := newEnv(t)
	onTime := v.assigned() // 浮梁县 leads, 市水利局 cooperates
	late := v.assignTo("乐平市排污口", "leping", "leping", "2021-12-31")
	missing := v.assignTo("昌江采砂", "fuliang", "city-water", "2021-12-31")
	found := v.create("未交办的问题")

	open := map[string]any{"title": "2021年6月问题整改进展调度", "period": "2021年6月", "due": "2021-06-30"}
	for _, c := range []struct {
		who    string
		body   any
		status int
		reason string
	}{
		{"fuliang", open, 403, "role"},
		{"bureau", map[string]any{"due": "2021-06-30"}, 400, "required"},
		{"bureau", map[string]any{"title": "x", "due": "2021-06-01"}, 400, "due_not_future"},
		{"bureau", map[string]any{"title": "x", "due": "六月底"}, 400, "bad_date"},
		{"bureau", map[string]any{"title": "x", "due": "2021-06-30", "scope": map[string]any{"lead_units": []string{"nowhere"}}}, 400, "unknown_unit"},
		{"bureau", map[string]any{"title": "x", "due": "2021-06-30", "scope": map[string]any{"problem_ids": []string{"999"}}}, 404, "problem_not_found"},
		{"bureau", map[string]any{"title": "x", "due": "2021-06-30", "scope": map[string]any{"problem_ids": []string{found}}}, 400, "not_reportable"},
		{"bureau", map[string]any{"title": "x", "due": "2021-06-30", "scope": map[string]any{"counties": []string{"市水利局"}}}, 400, "empty_scope"},
		{"bureau", map[string]any{"title": "x", "due": "2021-06-30", "scope": map[string]any{"everything": true}}, 400, ""},
	} {
		rec := v.do("POST", "/api/v1/dispatch-rounds", c.who, c.body)
		if rec.Code != c.status || c.reason != "" && !strings.Contains(rec.Body.String(), `"reason":"`+c.reason+`"`) {
			t.Errorf("%v: %d %s, want %d %s", c.body, rec.Code, rec.Body, c.status, c.reason)
		}
	}
	if m := v.ok(v.do("GET", "/api/v1/dispatch-rounds", "bureau", nil), 200); len(m["items"].([]any)) != 0 {
		t.Fatalf("refused openings left rounds: %v", m)
	}
	rec := v.do("POST", "/api/v1/dispatch-rounds", "bureau", open)
	r := v.ok(rec, http.StatusCreated)
	rid := r["id"].(string)
	if rec.Header().Get("Location") != "/api/v1/dispatch-rounds/"+rid || len(r["items"].([]any)) != 3 || r["due"] != "2021-06-30T15:59:59Z" {
		t.Fatalf("opened %v (%s)", r, rec.Header().Get("Location"))
	}
	reports := "/api/v1/dispatch-rounds/" + rid + "/reports"

	v.clock.Advance(time.Hour)
	v.ok(v.do("POST", reports, "fuliang", map[string]any{"problem_id": onTime, "progress": "已完成围挡", "percent": 40}), 201)
	v.clock.Advance(time.Hour)
	e := v.ok(v.do("POST", reports, "fuliang", map[string]any{"problem_id": onTime, "progress": "已完成围挡和清淤", "percent": 60,
		"difficulties": "资金不足", "next_steps": "申请专项资金"}), 201)
	if e["action"] != "report" || e["problem_id"] != onTime || e["params"].(map[string]any)["late"] != nil || e["hash"] == "" {
		t.Fatalf("report %v", e)
	}
	for _, c := range []struct {
		who    string
		body   map[string]any
		status int
		reason string
	}{
		{"bureau", map[string]any{"problem_id": onTime, "progress": "x"}, 403, "role"},
		{"fuliang", map[string]any{"problem_id": onTime}, 400, "required"},
		{"fuliang", map[string]any{"problem_id": onTime, "progress": "x", "percent": 120}, 400, "out_of_range"},
		{"fuliang", map[string]any{"problem_id": late, "progress": "x"}, 404, "problem_not_found"},
		{"fuliang", map[string]any{"problem_id": "999", "progress": "x"}, 404, "problem_not_found"},
		{"water", map[string]any{"problem_id": onTime, "progress": "x"}, 403, "not_reporting_unit"},
		{"fuliang", map[string]any{"work_point": 7, "progress": "x"}, 400, "not_in_round"},
		{"viewer", map[string]any{"problem_id": onTime, "progress": "x"}, 403, "role"},
		{"fuliang", map[string]any{"problem_id": onTime, "progress": "x", "colour": "red"}, 400, ""},
	} {
		rec := v.do("POST", reports, c.who, c.body)
		if rec.Code != c.status || c.reason != "" && !strings.Contains(rec.Body.String(), `"reason":"`+c.reason+`"`) {
			t.Errorf("%s %v: %d %s, want %d %s", c.who, c.body, rec.Code, rec.Body, c.status, c.reason)
		}
	}
	v.fails(v.do("POST", "/api/v1/dispatch-rounds/99/reports", "fuliang", map[string]any{"problem_id": onTime, "progress": "x"}), 404, "not_found")

	// After the due time.
	v.clock.Set(time.Date(2021, 7, 1, 2, 0, 0, 0, time.UTC))
	lr := v.ok(v.do("POST", reports, "leping", map[string]any{"problem_id": late, "progress": "排污口已封堵"}), 201)
	if lr["params"].(map[string]any)["late"] != true {
		t.Fatalf("late report %v", lr)
	}
	p := v.fails(v.do("POST", reports, "fuliang", map[string]any{"problem_id": onTime, "progress": "再改"}), 409, "conflict")
	if p.Reason != "report_closed" {
		t.Errorf("amend after due: %+v", p)
	}

	board := v.ok(v.do("GET", "/api/v1/dispatch-rounds/"+rid, "bureau", nil), 200)
	rows := rowsOf(board)
	for id, want := range map[string]string{onTime: "on_time", late: "late", missing: "missing"} {
		if rows[id]["status"] != want {
			t.Errorf("problem %s: %v, want %s", id, rows[id]["status"], want)
		}
	}
	if rp := rows[onTime]["report"].(map[string]any); rp["params"].(map[string]any)["progress"] != "已完成围挡和清淤" || rows[onTime]["reports"] != 2.0 {
		t.Errorf("on-time row %v", rows[onTime])
	}
	if tl := tallyOf(board, "city-water"); tl["expected"] != 1.0 || tl["missing"] != 1.0 || tl["label"] != "市水利局" {
		t.Errorf("市水利局 %v", tl)
	}
	if board["due"] != true || board["total"].(map[string]any)["late"] != 1.0 {
		t.Errorf("board %v", board)
	}
	// A unit sees its own rows; a unit owing nothing, no round.
	own := v.ok(v.do("GET", "/api/v1/dispatch-rounds/"+rid, "water", nil), 200)
	if rows := rowsOf(own); len(rows) != 1 || rows[missing] == nil || len(own["units"].([]any)) != 1 {
		t.Errorf("市水利局 sees %v", own["rows"])
	}
	if l := v.ok(v.do("GET", "/api/v1/dispatch-rounds", "leping", nil), 200); len(l["items"].([]any)) != 1 {
		t.Errorf("乐平市 lists %v", l)
	}

	// report_late: once.
	for i, want := range []int{1, 0} {
		if n, err := v.svc.RecordLateReports(context.Background()); err != nil || n != want {
			t.Fatalf("RecordLateReports #%d = %d %v", i+1, n, err)
		}
	}
	hist := v.ok(v.do("GET", "/api/v1/problems/"+missing+"/history", "bureau", nil), 200)
	alerts := 0
	for _, x := range hist["items"].([]any) {
		if prm := x.(map[string]any)["params"].(map[string]any); prm["level"] == "report_late" {
			alerts++
		}
	}
	if alerts != 1 {
		t.Errorf("%d report_late alerts", alerts)
	}

	// The summary.
	rec = v.do("GET", "/api/v1/dispatch-rounds/"+rid+"/summary.xlsx", "bureau", nil)
	if rec.Code != 200 || rec.Header().Get("Content-Type") != roundfile.ContentType || !strings.Contains(rec.Header().Get("Content-Disposition"), "dispatch-round-"+rid+".xlsx") {
		t.Fatalf("summary: %d %v", rec.Code, rec.Header())
	}
	f, err := excelize.OpenReader(bytes.NewReader(rec.Body.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sheet, _ := f.GetRows(roundfile.SheetProblems)
	wantHeader := []string{"序号", "问题编号", "问题名称", "所在县（市、区）", "牵头单位", "整改时限", "督办等级", "进展情况", "完成百分比", "困难和问题", "下一步工作", "报送时间", "是否按时报送"}
	if len(sheet) != 4 || !slices.Equal(sheet[0], wantHeader) {
		t.Fatalf("summary sheet %q", sheet)
	}
	if got := sheet[1]; got[2] != "尾矿库污染隐患" || got[4] != "浮梁县" || got[5] != "2021-12-31" || got[7] != "已完成围挡和清淤" || got[8] != "60" || got[9] != "资金不足" || got[10] != "申请专项资金" || got[12] != "是" {
		t.Errorf("row 1 %q", got)
	}
	if got := sheet[2]; got[3] != "乐平市" || got[12] != "否（逾期报送）" {
		t.Errorf("row 2 %q", got)
	}
	if got := sheet[3]; got[4] != "市水利局" || got[7] != "" || got[12] != "逾期未报送" {
		t.Errorf("row 3 %q", got)
	}
	// A unit's summary holds its own row.
	rec = v.do("GET", "/api/v1/dispatch-rounds/"+rid+"/summary.xlsx", "leping", nil)
	uf, err := excelize.OpenReader(bytes.NewReader(rec.Body.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	defer uf.Close()
	if ur, _ := uf.GetRows(roundfile.SheetProblems); len(ur) != 2 || ur[1][3] != "乐平市" {
		t.Errorf("乐平市's summary %q", ur)
	}

	rates := v.ok(v.do("GET", "/api/v1/stats/reporting", "bureau", nil), 200)["items"].([]any)
	if len(rates) != 3 {
		t.Fatalf("rates %v", rates)
	}
	for _, x := range rates {
		rt := x.(map[string]any)
		want := map[string]float64{"fuliang": 1, "leping": 0, "city-water": 0}[rt["unit"].(string)]
		if rt["rate"] != want {
			t.Errorf("rate %v", rt)
		}
	}
}

// TestWorkPointRoundAPI: a round over a work point; the point's history.
func TestWorkPointRoundAPI(t *testing.T) {
	v := newEnv(t)
	r := v.ok(v.do("POST", "/api/v1/dispatch-rounds", "bureau", map[string]any{"title": "工作要点落实情况调度", "due": "2021-06-30",
		"scope": map[string]any{"work_points": []int{7}}}), 201)
	rid := r["id"].(string)
	if items := r["items"].([]any); len(items) != 1 || items[0].(map[string]any)["unit"] != "city-eeb" {
		t.Fatalf("items %v", items)
	}
	v.fails(v.do("POST", "/api/v1/dispatch-rounds/"+rid+"/reports", "fuliang", map[string]any{"work_point": 7, "progress": "x"}), 404, "not_found")
	if p := v.fails(v.do("POST", "/api/v1/dispatch-rounds/"+rid+"/reports", "bureau", map[string]any{"work_point": 7, "progress": "x"}), 403, "forbidden"); p.Reason != "role" {
		t.Fatalf("bureau: %+v", p)
	}
	h := v.ok(v.do("GET", "/api/v1/workpoints/7/history", "viewer", nil), 200)
	if len(h["items"].([]any)) != 0 {
		t.Fatalf("history %v", h)
	}
	v.fails(v.do("GET", "/api/v1/workpoints/99/history", "viewer", nil), 404, "not_found")
	v.fails(v.do("GET", "/api/v1/workpoints/x/history", "viewer", nil), 404, "not_found")
}
