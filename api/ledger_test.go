package api_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"
	"golang.org/x/text/encoding/simplifiedchinese"

	"github.com/jdz-eco/rectify/api"
	"github.com/jdz-eco/rectify/workflow"
	"github.com/jdz-eco/rectify/workflow/ledgerfile"
)

// ledgerHeader is the ledger sheet's header row, spelled out.
var ledgerHeader = []string{
	"序号", "问题编号", "问题来源", "来源文件", "问题描述", "所在县（市、区）", "工作要点", "牵头单位", "配合单位",
	"整改要求", "整改方案", "整改时限", "原定时限", "当前状态", "最新进展", "是否逾期", "督办等级", "验收时间", "销号时间",
	"问题名称", "具体位置", "经纬度（WGS-84）",
}

const mimeXLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

// workbook is an exported ledger as a client reads it: the ledger sheet's
// rows (header first) and the statistics sheet's.
type workbook struct {
	sheets []string
	rows   [][]string
	stats  [][]string
}

// col returns column name of data row i (0 is the first problem).
func (w *workbook) col(i int, name string) string {
	j := slices.Index(w.rows[0], name)
	if j < 0 || j >= len(w.rows[i+1]) {
		return ""
	}
	return w.rows[i+1][j]
}

// column returns column name of every data row.
func (w *workbook) column(name string) []string {
	out := []string{}
	for i := range len(w.rows) - 1 {
		out = append(out, w.col(i, name))
	}
	return out
}

// export downloads the ledger with query q as who and opens it.
func (v *env) export(who, q string) (*workbook, *httptest.ResponseRecorder) {
	v.t.Helper()
	rec := v.do("GET", "/api/v1/ledger.xlsx"+q, who, nil)
	if rec.Code != http.StatusOK {
		v.t.Fatalf("export %q as %s: %d %s", q, who, rec.Code, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); ct != mimeXLSX || ledgerfile.ContentType != mimeXLSX {
		v.t.Fatalf("Content-Type %q", ct)
	}
	return openWorkbook(v.t, rec.Body.Bytes()), rec
}

func openWorkbook(t *testing.T, data []byte) *workbook {
	t.Helper()
	f, err := excelize.OpenReader(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("not an .xlsx workbook: %v", err)
	}
	defer f.Close()
	w := &workbook{sheets: f.GetSheetList()}
	if w.rows, err = f.GetRows("整改台账"); err != nil {
		t.Fatal(err)
	}
	if w.stats, err = f.GetRows("统计"); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(w.sheets, []string{"整改台账", "统计"}) {
		t.Fatalf("sheets %v", w.sheets)
	}
	if len(w.rows) == 0 || !slices.Equal(w.rows[0], ledgerHeader) {
		t.Fatalf("header row %q", w.rows[0])
	}
	return w
}

// count is how many problems who lists.
func (v *env) count(who string) int {
	v.t.Helper()
	n := 0
	for cursor := ""; ; {
		page := v.ok(v.do("GET", "/api/v1/problems?limit=500"+cursor, who, nil), http.StatusOK)
		n += len(page["items"].([]any))
		next, _ := page["next_cursor"].(string)
		if next == "" {
			return n
		}
		cursor = "&cursor=" + next
	}
}

// ledgerFixture logs three problems: A in 浮梁县 led by 浮梁县 with 市水利局
// cooperating, B in 乐平市 led by 乐平市, C in 浮梁县 not yet assigned. It
// returns their codes.
func ledgerFixture(v *env) (a, b, c string) {
	v.t.Helper()
	ida := v.assigned()
	m := v.ok(v.do("POST", "/api/v1/problems", "bureau", map[string]any{
		"title": "工业园区污水直排", "description": "乐平市工业园区污水管网不完善，部分企业污水直排。", "source": "provincial_inspection",
		"county_id": "leping", "source_ref": "省级生态环境保护督察反馈意见第12项",
	}), http.StatusCreated)
	v.fire(m["id"].(string), "bureau", "assign", map[string]any{"lead_unit": "leping", "deadline": "2021-09-30"})
	c3 := v.ok(v.do("POST", "/api/v1/problems", "bureau", map[string]any{
		"title": "建筑垃圾乱堆", "description": "浮梁县某地块建筑垃圾长期露天堆放。", "source": "warning_film", "county_id": "fuliang",
	}), http.StatusCreated)
	code := func(id string) string {
		return v.ok(v.do("GET", "/api/v1/problems/"+id, "bureau", nil), http.StatusOK)["code"].(string)
	}
	return code(ida), m["code"].(string), c3["code"].(string)
}

// TestLedgerExport: the workbook holds the problems the caller may see, as
// the list filters them, under the exact header, with a 统计 sheet.
func TestLedgerExport(t *testing.T) {
	v := newEnv(t)
	a, b, c := ledgerFixture(v)

	// A position set by the bureau is in the last column (issue 16).
	first := v.ok(v.do("GET", "/api/v1/problems?limit=1", "bureau", nil), 200)["items"].([]any)[0].(map[string]any)["id"].(string)
	v.ok(v.do("PUT", "/api/v1/problems/"+first+"/position", "bureau", map[string]any{"lat": 29.2921, "lng": 117.2078}), 200)
	w, rec := v.export("bureau", "")
	if got := w.column("经纬度（WGS-84）"); !slices.Equal(got, []string{"29.292100, 117.207800", "", ""}) {
		t.Errorf("positions %q", got)
	}
	if got := w.column("问题编号"); !slices.Equal(got, []string{a, b, c}) {
		t.Errorf("bureau's codes %v, want %v", got, []string{a, b, c})
	}
	if got := w.column("当前状态"); !slices.Equal(got, []string{"已交办", "已交办", "待交办"}) {
		t.Errorf("states %v", got)
	}
	if got := w.column("所在县（市、区）"); !slices.Equal(got, []string{"浮梁县", "乐平市", "浮梁县"}) {
		t.Errorf("counties %v", got)
	}
	if w.col(0, "配合单位") != "市水利局" || w.col(0, "牵头单位") != "浮梁县" || w.col(0, "工作要点") != "第7条 尾矿库污染治理" ||
		w.col(1, "来源文件") != "省级生态环境保护督察反馈意见第12项" || w.col(1, "问题来源") != "省级生态环境保护督察" {
		t.Errorf("rows %q", w.rows[1:])
	}
	if w.col(0, "整改时限") == "" || w.col(2, "整改时限") != "" {
		t.Errorf("deadlines %v", w.column("整改时限"))
	}
	if len(w.stats) < 3 || !strings.Contains(strings.Join(w.stats[0], ""), "统计") {
		t.Errorf("统计 sheet %q", w.stats)
	}
	wantDisposition := `attachment; filename="ledger-20210624.xlsx"; filename*=UTF-8''%E5%8F%B0%E8%B4%A6-20210624.xlsx`
	if got := rec.Header().Get("Content-Disposition"); got != wantDisposition {
		t.Errorf("Content-Disposition %q, want %q", got, wantDisposition)
	}
	if rec.Header().Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control %q", rec.Header().Get("Cache-Control"))
	}

	// Visibility: a unit officer's export holds only its unit's problems.
	for who, want := range map[string][]string{
		"fuliang": {a}, "water": {a}, "leping": {b}, "viewer": {a, b, c}, "inspector": {a, b, c},
	} {
		w, _ := v.export(who, "")
		if got := w.column("问题编号"); !slices.Equal(got, want) {
			t.Errorf("%s exports %v, want %v", who, got, want)
		}
	}
	// The list's filters; limit and cursor are ignored.
	for q, want := range map[string][]string{
		"?county=leping":                  {b},
		"?state=found":                    {c},
		"?lead_unit=fuliang":              {a},
		"?source=warning_film":            {c},
		"?county=fuliang&state=assigned":  {a},
		"?limit=1&cursor=1":               {a, b, c},
		"?overdue=true":                   {},
		"?state=assigned&county=leping":   {b},
		"?county=leping&as_of=2021-06-24": {b},
	} {
		w, _ := v.export("bureau", q)
		if got := w.column("问题编号"); !slices.Equal(got, want) {
			t.Errorf("%s exports %v, want %v", q, got, want)
		}
		if n, _ := strconv.Atoi(w.rows[len(w.rows)-1][0]); len(want) > 0 && n != len(want) {
			t.Errorf("%s: last 序号 %d", q, n)
		}
	}
	// Errors come before the first byte, as problem+json.
	for q, field := range map[string]string{
		"?state=lost": "state", "?as_of=yesterday": "as_of", "?as_of=2021-13-01": "as_of", "?limit=0": "limit",
		"?page=2": "page", "?county=a&county=b": "county", "?overdue=false": "overdue",
	} {
		if p := v.fails(v.do("GET", "/api/v1/ledger.xlsx"+q, "bureau", nil), 400, "invalid"); p.Field != field {
			t.Errorf("%s: field %q, want %q", q, p.Field, field)
		}
	}
	v.fails(v.do("GET", "/api/v1/ledger.xlsx", "", nil), 401, "unauthorized")
}

// TestLedgerExportAsOf: as_of shows each problem as it stood then, filtered
// as it was, and names the file after that day.
func TestLedgerExportAsOf(t *testing.T) {
	v := newEnv(t)
	id := v.create("尾矿库污染隐患") // 2021-06-24 17:00 in Shanghai
	v.clock.Set(time.Date(2021, 7, 1, 2, 0, 0, 0, time.UTC))
	v.fire(id, "bureau", "assign", map[string]any{"lead_unit": "fuliang", "deadline": "2021-12-31"})
	v.fire(id, "fuliang", "accept", map[string]any{"plan": "闭库治理方案"})
	later := v.create("后来发现的问题")

	now, _ := v.export("bureau", "")
	if got := now.column("当前状态"); !slices.Equal(got, []string{"整改中", "待交办"}) {
		t.Errorf("states now %v", got)
	}
	old, rec := v.export("bureau", "?as_of=2021-06-30")
	if len(old.rows) != 2 || old.col(0, "当前状态") != "待交办" || old.col(0, "牵头单位") != "" || old.col(0, "整改时限") != "" || old.col(0, "整改方案") != "" {
		t.Errorf("as of 2021-06-30: %q", old.rows)
	}
	if cd := rec.Header().Get("Content-Disposition"); !strings.Contains(cd, `filename="ledger-20210630.xlsx"`) {
		t.Errorf("Content-Disposition %q", cd)
	}
	// The filters apply to the problem as it was: found, then assigned at
	// 11:00 and accepted at 12:00 on 2021-07-01; rectifying now.
	if w, _ := v.export("bureau", "?as_of=2021-06-30&state=found"); len(w.rows) != 2 {
		t.Errorf("found as of 2021-06-30: %q", w.rows)
	}
	if w, _ := v.export("bureau", "?as_of=2021-07-01T11:30:00%2B08:00&state=assigned"); len(w.rows) != 2 || w.col(0, "当前状态") != "已交办" {
		t.Errorf("assigned as of 2021-07-01 11:30: %q", w.rows)
	}
	// The unit officer saw nothing before the assignment.
	if w, _ := v.export("fuliang", "?as_of=2021-06-30"); len(w.rows) != 1 {
		t.Errorf("fuliang as of 2021-06-30: %q", w.rows)
	}
	// A day before anything: only the header.
	if w, _ := v.export("bureau", "?as_of=2021-06-01"); len(w.rows) != 1 {
		t.Errorf("as of 2021-06-01: %q", w.rows)
	}
	_ = later
}

// importCSV returns a CSV file of rows.
func importCSV(t *testing.T, rows ...[]string) []byte {
	t.Helper()
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	if err := w.WriteAll(rows); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// importXLSX returns a workbook whose first sheet holds rows.
func importXLSX(t *testing.T, rows ...[]string) []byte {
	t.Helper()
	f := excelize.NewFile()
	defer f.Close()
	for i, r := range rows {
		cell, _ := excelize.CoordinatesToCellName(1, i+1)
		vals := make([]any, len(r))
		for j := range r {
			vals[j] = r[j]
		}
		if err := f.SetSheetRow("Sheet1", cell, &vals); err != nil {
			t.Fatal(err)
		}
	}
	b, err := f.WriteToBuffer()
	if err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

var importHeader = []string{"问题描述", "问题来源", "所在县（市、区）", "牵头单位", "配合单位", "整改时限", "来源文件", "问题名称"}

// twoRows is a ledger of two problems: one assigned, one found.
var twoRows = [][]string{
	importHeader,
	{"浮梁县某尾矿库渗滤液外溢。", "中央环保督察", "浮梁县", "浮梁县", "市水利局", "2021-12-31", "督察交办件第1批", "尾矿库渗滤液"},
	{"乐平市某河段岸线垃圾堆放。", "自查", "乐平市", "", "", "", "自查清单", ""},
}

// importResult is the body of an import answer, 200 or 422.
type importResult struct {
	Status   int    `json:"status"`
	Code     string `json:"code"`
	Type     string `json:"type"`
	Detail   string `json:"detail"`
	DryRun   bool   `json:"dry_run"`
	Created  int    `json:"created"`
	Assigned int    `json:"assigned"`
	Skipped  int    `json:"skipped"`
	Rows     []struct {
		Row       int    `json:"row"`
		Action    string `json:"action"`
		Title     string `json:"title"`
		State     string `json:"state"`
		ProblemID string `json:"problem_id"`
		Code      string `json:"code"`
	} `json:"rows"`
	Errors []struct {
		Row    int    `json:"row"`
		Column string `json:"column"`
		Reason string `json:"reason"`
	} `json:"errors"`
}

func decodeImport(t *testing.T, rec *httptest.ResponseRecorder, status int) importResult {
	t.Helper()
	if rec.Code != status {
		t.Fatalf("import: %d, want %d: %s", rec.Code, status, rec.Body)
	}
	want := "application/json"
	if status != http.StatusOK {
		want = "application/problem+json"
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, want) {
		t.Fatalf("Content-Type %q, want %s", ct, want)
	}
	var r importResult
	if err := json.Unmarshal(rec.Body.Bytes(), &r); err != nil {
		t.Fatal(err)
	}
	return r
}

// importFile uploads data as a multipart part named file, called filename.
func (v *env) importFile(who, query, filename, ctype string, data []byte) *httptest.ResponseRecorder {
	v.t.Helper()
	body, ct := multipartBody(v.t, formPart{name: "file", filename: filename, ctype: ctype, data: data})
	return v.do("POST", "/api/v1/ledger/import"+query, who, bytes.NewReader(body), "Content-Type", ct)
}

// TestLedgerImport: a dry run reports per row and writes nothing; a real
// import creates the problems, assigned where the row says; the same file
// again creates nothing.
func TestLedgerImport(t *testing.T) {
	v := newEnv(t)
	data := importCSV(t, twoRows...)

	r := decodeImport(t, v.importFile("bureau", "?dry_run=true", "台账.csv", "application/octet-stream", data), 200)
	if !r.DryRun || r.Created != 2 || r.Assigned != 1 || r.Skipped != 0 || len(r.Rows) != 2 || len(r.Errors) != 0 {
		t.Fatalf("dry run %+v", r)
	}
	if r.Rows[0].Row != 2 || r.Rows[0].Action != "create" || r.Rows[0].State != "assigned" || r.Rows[0].Title != "尾矿库渗滤液" || r.Rows[0].ProblemID != "" ||
		r.Rows[1].Row != 3 || r.Rows[1].State != "found" || r.Rows[1].Title != "乐平市某河段岸线垃圾堆放" {
		t.Errorf("dry run rows %+v", r.Rows)
	}
	if n := v.count("bureau"); n != 0 {
		t.Fatalf("a dry run wrote %d problems", n)
	}

	// The same ledger as a workbook, raw body: imported.
	book := importXLSX(t, twoRows...)
	r = decodeImport(t, v.do("POST", "/api/v1/ledger/import", "bureau", bytes.NewReader(book), "Content-Type", mimeXLSX), 200)
	if r.DryRun || r.Created != 2 || r.Assigned != 1 || len(r.Rows) != 2 || r.Rows[0].ProblemID == "" || r.Rows[0].Code == "" {
		t.Fatalf("import %+v", r)
	}
	p := v.ok(v.do("GET", "/api/v1/problems/"+r.Rows[0].ProblemID, "bureau", nil), 200)
	if p["state"] != "assigned" || p["lead_unit"] != "fuliang" || p["county_id"] != "fuliang" || p["source"] != "central_inspection" ||
		p["source_ref"] != "督察交办件第1批" || !slices.Equal(toStrings(p["cooperating_units"]), []string{"city-water"}) ||
		p["deadline"] != "2021-12-31T15:59:59Z" || p["created_by"] != v.users["bureau"].ID {
		t.Errorf("imported problem %v", p)
	}
	p = v.ok(v.do("GET", "/api/v1/problems/"+r.Rows[1].ProblemID, "bureau", nil), 200)
	if p["state"] != "found" || p["county_id"] != "leping" || p["source"] != "self_inspection" {
		t.Errorf("imported problem %v", p)
	}

	// Again, as CSV or as the workbook: nothing new.
	for _, again := range []*httptest.ResponseRecorder{
		v.importFile("bureau", "?dry_run=false", "ledger.csv", "text/csv", data),
		v.do("POST", "/api/v1/ledger/import", "bureau", bytes.NewReader(book), "Content-Type", mimeXLSX),
	} {
		r = decodeImport(t, again, 200)
		if r.Created != 0 || r.Skipped != 2 || r.Rows[0].Action != "skip" || r.Rows[1].Action != "skip" {
			t.Errorf("second import %+v", r)
		}
	}
	if n := v.count("bureau"); n != 2 {
		t.Errorf("%d problems after importing twice, want 2", n)
	}

	// The exported ledger imports onto itself as nothing new.
	w := v.do("GET", "/api/v1/ledger.xlsx", "bureau", nil)
	r = decodeImport(t, v.importFile("bureau", "?dry_run=true", "台账-20210624.xlsx", "", w.Body.Bytes()), 200)
	if r.Skipped != 2 || r.Created != 0 {
		t.Errorf("exported ledger re-imported: %+v", r)
	}
}

// TestLedgerImportGB18030: a CSV as Excel saves it on a Chinese Windows, as
// the raw body.
func TestLedgerImportGB18030(t *testing.T) {
	v := newEnvWith(t, api.Config{UnitAliases: func(name string) (string, bool) {
		if name == "浮梁" {
			return "fuliang", true
		}
		return "", false
	}})
	utf := importCSV(t, importHeader,
		[]string{"浮梁县湘湖镇某养殖场废水直排。", "省环保督察", "浮梁", "市生态环境局", "", "2021年10月31日", "省督察交办第3批", ""})
	gbk, err := simplifiedchinese.GB18030.NewEncoder().Bytes(utf)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(gbk, utf) {
		t.Fatal("not encoded")
	}
	r := decodeImport(t, v.do("POST", "/api/v1/ledger/import", "bureau", bytes.NewReader(gbk), "Content-Type", "text/csv; charset=gbk"), 200)
	if r.Created != 1 || r.Assigned != 1 {
		t.Fatalf("import %+v", r)
	}
	p := v.ok(v.do("GET", "/api/v1/problems/"+r.Rows[0].ProblemID, "bureau", nil), 200)
	if p["description"] != "浮梁县湘湖镇某养殖场废水直排。" || p["county_id"] != "fuliang" || p["lead_unit"] != "city-eeb" ||
		p["source"] != "provincial_inspection" || p["deadline"] != "2021-10-31T15:59:59Z" {
		t.Errorf("imported problem %v", p)
	}
}

// TestLedgerImportRefusals: a file with bad rows is 422 naming row and
// column of each, and nothing is written, dry run or not; what is wrong with
// the request itself keeps its usual status.
func TestLedgerImportRefusals(t *testing.T) {
	v := newEnv(t)
	ledgerFixture(v)
	before := v.count("bureau")
	bad := importCSV(t, importHeader,
		[]string{"浮梁县某矿山生态修复滞后。", "自查", "浮梁县", "", "", "", "自查清单", ""},       // row 2: fine
		[]string{"某县某问题。", "自查", "不存在县", "", "", "", "", ""},                 // row 3: unknown county
		[]string{"另一个问题。", "小道消息", "乐平市", "", "", "", "", ""},                // row 4: unknown source
		[]string{"又一个问题。", "审计", "乐平市", "乐平市", "", "2021年13月1日", "", ""},     // row 5: bad date
		[]string{"浮梁县某矿山生态修复滞后。", "自查", "浮梁县", "", "", "", "自查清单", ""},       // row 6: duplicate of row 2
		[]string{"再一个问题。", "审计", "乐平市", "不存在局", "", "2021-12-31", "", ""},    // row 7: unknown lead unit
		[]string{"第七个问题。", "环保督察", "乐平市", "", "", "", "", ""},                // row 8: ambiguous source
		[]string{"第八个问题。", "审计", "乐平市", "乐平市", "不存在办", "2021-12-31", "", ""}, // row 9: unknown cooperating unit
		[]string{"第九个问题。", "审计", "浮梁县", "浮梁县", "", "", "", ""},               // row 10: lead unit without deadline
		[]string{"", "", "", "", "", "", "", ""},                             // blank: skipped
		[]string{"第十一个问题。", "审计", "乐平市", "", "", "", "", ""},                 // row 12: fine
	)
	want := map[int]string{3: "所在县（市、区）", 4: "问题来源", 5: "整改时限", 6: "问题描述", 7: "牵头单位", 8: "问题来源", 9: "配合单位", 10: "整改时限"}
	for _, q := range []string{"?dry_run=true", ""} {
		r := decodeImport(t, v.importFile("bureau", q, "bad.csv", "text/csv", bad), 422)
		if r.Status != 422 || r.Code != "invalid" || r.Type != "urn:rectify:error:invalid" || r.Detail == "" || len(r.Rows) != 0 || r.Created != 0 {
			t.Errorf("%q: refusal %+v", q, r)
		}
		got := map[int]string{}
		for _, e := range r.Errors {
			if e.Reason == "" {
				t.Errorf("row %d: no reason", e.Row)
			}
			got[e.Row] = e.Column
		}
		if len(got) != len(want) {
			t.Errorf("%q: errors %+v, want rows %v", q, r.Errors, want)
		}
		for row, col := range want {
			if got[row] != col {
				t.Errorf("%q: row %d column %q, want %q (%+v)", q, row, got[row], col, r.Errors)
			}
		}
	}
	// What only the ledger can tell (a unit that is no county) is found once
	// the file reads well.
	notCounty := importCSV(t, importHeader,
		[]string{"第十个问题。", "审计", "乐平市", "", "", "", "", ""},
		[]string{"第十一个问题。", "审计", "市水利局", "", "", "", "", ""})
	r := decodeImport(t, v.importFile("bureau", "?dry_run=true", "x.csv", "", notCounty), 422)
	if len(r.Errors) != 1 || r.Errors[0].Row != 3 || r.Errors[0].Column != "所在县（市、区）" || len(r.Rows) != 0 {
		t.Errorf("not a county: %+v", r)
	}
	// A missing required column is the header's row; an unreadable workbook row 1.
	noSource := importCSV(t, []string{"问题描述", "所在县（市、区）"}, []string{"某问题。", "乐平市"})
	r = decodeImport(t, v.importFile("bureau", "", "x.csv", "", noSource), 422)
	if len(r.Errors) != 1 || r.Errors[0].Row != 1 || r.Errors[0].Column != "问题来源" {
		t.Errorf("missing column: %+v", r.Errors)
	}
	broken := append([]byte("PK\x03\x04"), make([]byte, 64)...)
	r = decodeImport(t, v.importFile("bureau", "", "x.xlsx", "", broken), 422)
	if len(r.Errors) != 1 || r.Errors[0].Row != 1 {
		t.Errorf("broken workbook: %+v", r.Errors)
	}
	// A problem of the ledger named by 问题编号 with other content.
	codes := v.ok(v.do("GET", "/api/v1/problems", "bureau", nil), 200)["items"].([]any)
	code := codes[0].(map[string]any)["code"].(string)
	clash := importCSV(t, []string{"问题编号", "问题描述", "问题来源", "所在县（市、区）"}, []string{code, "完全不同的描述。", "自查", "乐平市"})
	r = decodeImport(t, v.importFile("bureau", "", "x.csv", "", clash), 422)
	if len(r.Errors) != 1 || r.Errors[0].Row != 2 || r.Errors[0].Column != "问题编号" {
		t.Errorf("code clash: %+v", r.Errors)
	}

	good := importCSV(t, twoRows...)
	for _, tc := range []struct {
		name, who, query string
		body             any
		hdr              []string
		status           int
		code, field      string
	}{
		{"unit officer", "fuliang", "", string(good), []string{"Content-Type", "text/csv"}, 403, "forbidden", ""},
		{"inspector", "inspector", "?dry_run=true", string(good), []string{"Content-Type", "text/csv"}, 403, "forbidden", ""},
		{"admin", "admin", "", string(good), []string{"Content-Type", "text/csv"}, 403, "forbidden", ""},
		{"viewer", "viewer", "", string(good), []string{"Content-Type", "text/csv"}, 403, "forbidden", ""},
		{"no token", "", "", string(good), []string{"Content-Type", "text/csv"}, 401, "unauthorized", ""},
		{"JSON body", "bureau", "", `{"file":"x"}`, nil, 415, "unsupported_type", "Content-Type"},
		{"no Content-Type", "bureau", "", string(good), []string{"Content-Type", ""}, 415, "unsupported_type", "Content-Type"},
		{"empty", "bureau", "", "", []string{"Content-Type", "text/csv"}, 400, "invalid", "file"},
		{"bad dry_run", "bureau", "?dry_run=yes", string(good), []string{"Content-Type", "text/csv"}, 400, "invalid", "dry_run"},
		{"unknown parameter", "bureau", "?force=true", string(good), []string{"Content-Type", "text/csv"}, 400, "invalid", "force"},
		{"CSV declared xlsx", "bureau", "", string(good), []string{"Content-Type", mimeXLSX}, 415, "unsupported_type", "file"},
		{"xlsx declared CSV", "bureau", "", string(importXLSX(t, twoRows...)), []string{"Content-Type", "text/csv"}, 415, "unsupported_type", "file"},
		{"legacy xls", "bureau", "", "\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1" + strings.Repeat("\x00", 512), []string{"Content-Type", "text/csv"}, 415, "unsupported_type", "file"},
		{"too large, announced", "bureau", "", bytes.NewReader(make([]byte, ledgerfile.MaxFileSize+1<<20)), []string{"Content-Type", "text/csv"}, 413, "too_large", "file"},
		{"too large, streamed", "bureau", "", io.LimitReader(zeros{}, ledgerfile.MaxFileSize+1), []string{"Content-Type", "text/csv"}, 413, "too_large", "file"},
	} {
		rec := v.do("POST", "/api/v1/ledger/import"+tc.query, tc.who, tc.body, tc.hdr...)
		if p := v.fails(rec, tc.status, tc.code); p.Field != tc.field {
			t.Errorf("%s: field %q, want %q", tc.name, p.Field, tc.field)
		}
	}
	// Multipart mistakes.
	body, ct := multipartBody(t, formPart{name: "attachment", filename: "x.csv", data: good})
	v.fails(v.do("POST", "/api/v1/ledger/import", "bureau", bytes.NewReader(body), "Content-Type", ct), 400, "invalid")
	body, ct = multipartBody(t, formPart{name: "file", filename: "a.csv", data: good}, formPart{name: "file", filename: "b.csv", data: good})
	v.fails(v.do("POST", "/api/v1/ledger/import", "bureau", bytes.NewReader(body), "Content-Type", ct), 400, "invalid")
	body, ct = multipartBody(t, formPart{name: "file", filename: "a.xlsx", data: good})
	v.fails(v.do("POST", "/api/v1/ledger/import", "bureau", bytes.NewReader(body), "Content-Type", ct), 415, "unsupported_type")

	if n := v.count("bureau"); n != before {
		t.Errorf("%d problems after refused imports, want %d", n, before)
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// statsReport is GET /stats's body.
type statsReport struct {
	GroupBy string     `json:"group_by"`
	At      time.Time  `json:"at"`
	Rows    []statsRow `json:"rows"`
	Total   statsRow   `json:"total"`
}

type statsRow struct {
	Key               string         `json:"key"`
	Label             string         `json:"label"`
	Total             int            `json:"total"`
	ByState           map[string]int `json:"by_state"`
	Open              int            `json:"open"`
	Dismissed         int            `json:"dismissed"`
	ClosedRectified   int            `json:"closed_rectified"`
	Overdue           int            `json:"overdue"`
	ClosedOnTime      int            `json:"closed_on_time"`
	ClosedLate        int            `json:"closed_late"`
	Extended          int            `json:"extended"`
	CompletionRate    *float64       `json:"completion_rate"`
	OnTimeRate        *float64       `json:"on_time_rate"`
	MedianDaysToClose *float64       `json:"median_days_to_close"`
	FlaggedEvidence   int            `json:"flagged_evidence"`
	ByLevel           map[string]int `json:"by_level"`
}

func (v *env) stats(who, q string) statsReport {
	v.t.Helper()
	rec := v.do("GET", "/api/v1/stats"+q, who, nil)
	v.ok(rec, http.StatusOK)
	var r statsReport
	dec := json.NewDecoder(rec.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		v.t.Fatal(err)
	}
	return r
}

func (r statsReport) row(key string) *statsRow {
	for i := range r.Rows {
		if r.Rows[i].Key == key {
			return &r.Rows[i]
		}
	}
	return nil
}

// TestStats: every group_by answers, with the caller's problems only; every
// stored work point appears; rates are numbers or null.
func TestStats(t *testing.T) {
	v := newEnv(t)
	ctx := context.Background()
	var wps []workflow.WorkPoint
	for n := 1; n <= 25; n++ {
		wps = append(wps, workflow.WorkPoint{Number: n, Section: "要点", Title: "工作要点" + strconv.Itoa(n), LeadUnits: []string{"city-eeb"}})
	}
	if err := v.svc.PutWorkPoints(ctx, wps); err != nil {
		t.Fatal(err)
	}
	ledgerFixture(v) // A (fuliang, work point 7, assigned), B (leping, assigned), C (fuliang, found), on 2021-06-24
	// A is rectified and closed a week later.
	v.clock.Set(time.Date(2021, 7, 1, 2, 0, 0, 0, time.UTC))
	ids := v.ok(v.do("GET", "/api/v1/problems?lead_unit=fuliang", "bureau", nil), 200)["items"].([]any)
	a := ids[0].(map[string]any)["id"].(string)
	v.fire(a, "fuliang", "accept", map[string]any{"plan": "闭库治理"})
	v.evidence(a, "fuliang")
	v.fire(a, "fuliang", "submit", map[string]any{"summary": "已完成"})
	v.fire(a, "inspector", "verify", map[string]any{"opinion": "合格"})
	v.fire(a, "inspector2", "close", map[string]any{"statement": "同意销号"})

	for _, g := range workflow.GroupBys {
		r := v.stats("bureau", "?group_by="+g)
		if r.GroupBy != g || len(r.Rows) == 0 || r.Total.Total != 3 || r.Total.Open != 2 || r.Total.ClosedRectified != 1 || !r.At.Equal(v.clock.Now()) {
			t.Errorf("%s: %+v", g, r)
		}
		sum := 0
		for _, row := range r.Rows {
			sum += row.Total
			if len(row.ByState) != len(workflow.States) || row.Label == "" {
				t.Errorf("%s: row %+v", g, row)
			}
		}
		if sum != 3 {
			t.Errorf("%s: rows sum to %d", g, sum)
		}
		if c := r.Total.CompletionRate; c == nil || *c < 0.33 || *c > 0.34 {
			t.Errorf("%s: completion rate %v", g, c)
		}
		if r.Total.OnTimeRate == nil || *r.Total.OnTimeRate != 1 || r.Total.MedianDaysToClose == nil || *r.Total.MedianDaysToClose <= 0 {
			t.Errorf("%s: total %+v", g, r.Total)
		}
	}
	wp := v.stats("bureau", "?group_by=work_point")
	for n := 1; n <= 25; n++ {
		if wp.row(strconv.Itoa(n)) == nil {
			t.Errorf("work point %d missing", n)
		}
	}
	if r := wp.row("7"); r == nil || r.Total != 1 || r.ClosedRectified != 1 || r.Label != "工作要点7" {
		t.Errorf("work point 7: %+v", r)
	}
	if r := wp.row("1"); r == nil || r.Total != 0 || r.CompletionRate != nil || r.OnTimeRate != nil || r.MedianDaysToClose != nil {
		t.Errorf("work point 1: %+v", r)
	}
	if r := wp.row(""); r == nil || r.Total != 2 {
		t.Errorf("no work point: %+v", r)
	}
	county := v.stats("bureau", "?group_by=county")
	if r := county.row("fuliang"); r == nil || r.Total != 2 || r.Label != "浮梁县" {
		t.Errorf("county fuliang: %+v", r)
	}
	if r := v.stats("bureau", "?group_by=state").row("closed"); r == nil || r.Total != 1 || r.Label != "已办结" {
		t.Errorf("state closed: %+v", r)
	}
	if r := v.stats("bureau", "?group_by=source").row("warning_film"); r == nil || r.Total != 1 {
		t.Errorf("source warning_film: %+v", r)
	}
	// A unit officer counts its unit's problems only.
	if r := v.stats("leping", "?group_by=lead_unit"); r.Total.Total != 1 || r.row("leping") == nil || r.row("fuliang") != nil {
		t.Errorf("leping's stats %+v", r)
	}
	// as_of: before anything was closed, before anything at all.
	if r := v.stats("bureau", "?group_by=state&as_of=2021-06-24"); r.Total.Total != 3 || r.Total.ClosedRectified != 0 || r.Total.OnTimeRate != nil ||
		!r.At.Equal(time.Date(2021, 6, 24, 15, 59, 59, 999999999, time.UTC)) {
		t.Errorf("as of 2021-06-24: %+v", r)
	}
	if r := v.stats("bureau", "?group_by=county&as_of=2021-06-01"); r.Total.Total != 0 || r.Total.CompletionRate != nil || len(r.Rows) != 0 {
		t.Errorf("as of 2021-06-01: %+v", r)
	}
	// Refusals.
	for q, field := range map[string]string{
		"": "group_by", "?group_by=unit": "group_by", "?group_by=state&as_of=soon": "as_of",
		"?group_by=state&group_by=county": "group_by", "?group_by=state&county=fuliang": "county",
	} {
		if p := v.fails(v.do("GET", "/api/v1/stats"+q, "bureau", nil), 400, "invalid"); p.Field != field {
			t.Errorf("%q: field %q, want %q", q, p.Field, field)
		}
	}
	v.fails(v.do("GET", "/api/v1/stats?group_by=state", "", nil), 401, "unauthorized")
}

// TestOpenAPIGroupBy: the document's group_by enum is the domain's.
func TestOpenAPIGroupBy(t *testing.T) {
	schemas := openapiDoc(t)["components"].(map[string]any)["schemas"].(map[string]any)
	var got []string
	for _, x := range schemas["GroupBy"].(map[string]any)["enum"].([]any) {
		got = append(got, x.(string))
	}
	if !slices.Equal(got, workflow.GroupBys) {
		t.Errorf("GroupBy enum %v, want %v", got, workflow.GroupBys)
	}
}
