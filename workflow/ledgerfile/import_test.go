package ledgerfile_test

import (
	"bytes"
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"
	"golang.org/x/text/encoding/simplifiedchinese"

	"github.com/jdz-eco/rectify/store/storetest"
	"github.com/jdz-eco/rectify/workflow"
	"github.com/jdz-eco/rectify/workflow/ledgerfile"
)

// goodCSV is a ledger as a county might keep it: columns in its own order,
// short source names, aliases of units, dates in three spellings.
const goodCSV = `问题来源,所在县（市、区）,问题描述,来源文件,牵头单位,配合单位,整改时限,工作要点,整改要求
中央环保督察,浮梁县,"浮梁县某矿山生态修复滞后，
边坡裸露。",中央第二轮环保督察交办件 1 号,浮梁县,市自然资源局、市林业局,2021/12/31,第10条,年底前完成复绿
省环保督察反馈问题,乐平市,乐平市某化工企业废气超标排放。,省督察反馈意见第3项,乐平市,,2021年9月30日,5,
审计,景德镇,城区管网建设资金拨付滞后。,,,,,,
自查,高新区管委会,高新区某企业危废贮存不规范。,自查台账,市生态环境局,高新区,2021-08-15,第五条,
`

func TestImportCSVAndIdempotency(t *testing.T) {
	e := newEnv(t)
	res := e.importFile(t, []byte(goodCSV), ledgerfile.KindCSV, true)
	if len(res.Errors) > 0 {
		t.Fatalf("dry run refused: %v", res.Errors)
	}
	if !res.DryRun || res.Created != 4 || res.Assigned != 3 || len(res.Rows) != 4 || len(e.problems(t)) != 0 {
		t.Fatalf("dry run %+v, %d problems written", res, len(e.problems(t)))
	}
	wantRows := []ledgerfile.RowResult{
		{Row: 2, Action: ledgerfile.ActionCreate, Title: "浮梁县某矿山生态修复滞后", State: workflow.StateAssigned},
		{Row: 3, Action: ledgerfile.ActionCreate, Title: "乐平市某化工企业废气超标排放", State: workflow.StateAssigned},
		{Row: 4, Action: ledgerfile.ActionCreate, Title: "城区管网建设资金拨付滞后", State: workflow.StateFound},
		{Row: 5, Action: ledgerfile.ActionCreate, Title: "高新区某企业危废贮存不规范", State: workflow.StateAssigned},
	}
	if !reflect.DeepEqual(res.Rows, wantRows) {
		t.Fatalf("dry run rows\n%+v\nwant\n%+v", res.Rows, wantRows)
	}

	res = e.importFile(t, []byte(goodCSV), ledgerfile.KindCSV, false)
	if len(res.Errors) > 0 || res.Created != 4 || res.Assigned != 3 || res.Skipped != 0 {
		t.Fatalf("import %+v", res)
	}
	ps := e.problems(t)
	if len(ps) != 4 {
		t.Fatalf("%d problems", len(ps))
	}
	p := ps[0]
	if p.Source != workflow.SourceCentralInspection || p.CountyID != "fuliang" || p.LeadUnit != "fuliang" ||
		!reflect.DeepEqual(p.CooperatingUnits, []string{"city-natres", "city-forestry"}) || p.WorkPoint != 10 ||
		!p.Deadline.Equal(*date("2021-12-31")) || p.Requirements != "年底前完成复绿" || p.SourceRef != "中央第二轮环保督察交办件 1 号" ||
		p.Description != "浮梁县某矿山生态修复滞后，\n边坡裸露。" || p.State != workflow.StateAssigned || p.Code != "JDZ-2021-0001" {
		t.Errorf("row 2 became %+v", p)
	}
	if p := ps[1]; p.Source != workflow.SourceProvincialInspection || p.WorkPoint != 5 || !p.Deadline.Equal(*date("2021-09-30")) {
		t.Errorf("row 3 became %+v", p)
	}
	if p := ps[2]; p.Source != workflow.SourceAudit || p.CountyID != "jdz" || p.State != workflow.StateFound || p.LeadUnit != "" {
		t.Errorf("row 4 became %+v", p)
	}
	if p := ps[3]; p.CountyID != "gaoxin" || p.LeadUnit != "city-eeb" || p.WorkPoint != 5 || !p.Deadline.Equal(*date("2021-08-15")) {
		t.Errorf("row 5 became %+v", p)
	}
	if !strings.HasPrefix(p.DedupeKey, "import:") {
		t.Errorf("dedupe key %q", p.DedupeKey)
	}
	// The statistics' rollups count the imported problems as a recount does.
	if err := storetest.CheckRollups(context.Background(), e.svc.Store(), e.clock); err != nil {
		t.Errorf("rollups after the import: %v", err)
	}

	// Again: nothing new, each row says which problem it is.
	res = e.importFile(t, []byte(goodCSV), ledgerfile.KindCSV, false)
	if len(res.Errors) > 0 || res.Created != 0 || res.Skipped != 4 || len(e.problems(t)) != 4 {
		t.Fatalf("second import %+v", res)
	}
	if r := res.Rows[0]; r.Action != ledgerfile.ActionSkip || r.Code != "JDZ-2021-0001" || r.ProblemID != "1" || r.State != workflow.StateAssigned {
		t.Errorf("second import row %+v", r)
	}
}

func TestImportEncodings(t *testing.T) {
	gbk, err := simplifiedchinese.GB18030.NewEncoder().String(goodCSV)
	if err != nil {
		t.Fatal(err)
	}
	crlf := strings.ReplaceAll(goodCSV, "\n", "\r\n")
	tabbed := "问题描述\t问题来源\t所在县(市、区)\n" + "浮梁县某矿山生态修复滞后。\t自查\t浮梁县\n"
	for name, data := range map[string][]byte{
		"GB18030":        []byte(gbk),
		"UTF-8 with BOM": append([]byte{0xEF, 0xBB, 0xBF}, goodCSV...),
		"UTF-8 CRLF":     []byte(crlf),
		"GBK, tabs":      must(simplifiedchinese.GBK.NewEncoder().Bytes([]byte(tabbed))),
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			res := e.importFile(t, data, ledgerfile.KindCSV, false)
			if len(res.Errors) > 0 {
				t.Fatalf("refused: %v", res.Errors)
			}
			ps := e.problems(t)
			if len(ps) != res.Created || len(ps) == 0 {
				t.Fatalf("%d problems, %+v", len(ps), res)
			}
			if !strings.HasPrefix(ps[0].Description, "浮梁县某矿山生态修复滞后") || ps[0].CountyID != "fuliang" {
				t.Fatalf("first problem %q in %s", ps[0].Description, ps[0].CountyID)
			}
		})
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

func TestImportRefusals(t *testing.T) {
	const header = "问题描述,问题来源,所在县（市、区）,牵头单位,配合单位,整改时限,来源文件,工作要点,问题编号\n"
	const good = "浮梁县某矿山生态修复滞后。,自查,浮梁县,浮梁县,,2021-12-31,,,\n"
	cases := []struct {
		name string
		csv  string
		want []ledgerfile.RowError // Reason and Value ignored
	}{
		{"unknown lead unit", header + good + "某问题。,自查,浮梁县,市不存在局,,2021-12-31,,,\n",
			[]ledgerfile.RowError{{Row: 3, Column: "牵头单位", Rule: workflow.ReasonUnknownUnit}}},
		{"unknown cooperating unit", header + good + "某问题。,自查,浮梁县,浮梁县,市水利局、某某办,2021-12-31,,,\n",
			[]ledgerfile.RowError{{Row: 3, Column: "配合单位", Rule: workflow.ReasonUnknownUnit}}},
		{"unknown county", header + good + "某问题。,自查,浮梁镇,,,,,,\n",
			[]ledgerfile.RowError{{Row: 3, Column: "所在县（市、区）", Rule: workflow.ReasonUnknownUnit}}},
		{"a department is no county", header + good + "某问题。,自查,市水利局,,,,,,\n",
			[]ledgerfile.RowError{{Row: 3, Column: "所在县（市、区）", Rule: workflow.ReasonNotCounty}}},
		{"unknown source", header + good + "某问题。,电视台曝光,浮梁县,,,,,,\n",
			[]ledgerfile.RowError{{Row: 3, Column: "问题来源", Rule: workflow.ReasonUnknownValue}}},
		{"ambiguous source", header + good + "某问题。,环保督察,浮梁县,,,,,,\n",
			[]ledgerfile.RowError{{Row: 3, Column: "问题来源", Rule: workflow.ReasonAmbiguousSource}}},
		{"unparseable date", header + good + "某问题。,自查,浮梁县,浮梁县,,2021-13-45,,,\n" + "另一问题。,自查,浮梁县,浮梁县,,下月底,,,\n",
			[]ledgerfile.RowError{{Row: 3, Column: "整改时限", Rule: workflow.ReasonBadDate}, {Row: 4, Column: "整改时限", Rule: workflow.ReasonBadDate}}},
		{"lead unit without deadline", header + good + "某问题。,自查,浮梁县,浮梁县,,,,,\n",
			[]ledgerfile.RowError{{Row: 3, Column: "整改时限", Rule: workflow.ReasonAssignTogether}}},
		{"unknown work point", header + good + "某问题。,自查,浮梁县,,,,,第30条,\n",
			[]ledgerfile.RowError{{Row: 3, Column: "工作要点", Rule: workflow.ReasonUnknownWorkPoint}}},
		{"lead unit cooperating", header + good + "某问题。,自查,浮梁县,浮梁县,浮梁县,2021-12-31,,,\n",
			[]ledgerfile.RowError{{Row: 3, Column: "配合单位", Rule: workflow.ReasonLeadCooperates}}},
		{"missing required column", "问题描述,问题来源,牵头单位\n某问题。,自查,浮梁县\n",
			[]ledgerfile.RowError{{Row: 1, Column: "所在县（市、区）", Rule: workflow.ReasonMissingColumn}}},
		{"no header at all", "a,b,c\n1,2,3\n",
			[]ledgerfile.RowError{{Row: 1, Column: "问题描述", Rule: workflow.ReasonMissingColumn}, {Row: 1, Column: "问题来源", Rule: workflow.ReasonMissingColumn}, {Row: 1, Column: "所在县（市、区）", Rule: workflow.ReasonMissingColumn}}},
		{"empty required cells", header + good + ",,浮梁县,,,,,,\n",
			[]ledgerfile.RowError{{Row: 3, Column: "问题描述", Rule: workflow.ReasonRequired}, {Row: 3, Column: "问题来源", Rule: workflow.ReasonRequired}}},
		{"duplicate rows", header + good + "另一问题。,审计,乐平市,,,,,,\n" + "浮梁县某矿山生态修复滞后。,审计,乐平市,,,,,,\n",
			[]ledgerfile.RowError{{Row: 4, Column: "问题描述", Rule: workflow.ReasonDuplicateRow}}},
		{"duplicate codes", header + "甲。,自查,浮梁县,,,,,,X-1\n乙。,自查,浮梁县,,,,,,X-1\n",
			[]ledgerfile.RowError{{Row: 3, Column: "问题编号", Rule: workflow.ReasonDuplicateCode}}},
		{"bad position", "问题描述,问题来源,所在县（市、区）,经纬度（WGS-84）\n甲。,自查,浮梁县,\"29.3, 117.2\"\n乙。,自查,浮梁县,北纬29度\n丙。,自查,浮梁县,\"95, 117.2\"\n",
			[]ledgerfile.RowError{{Row: 3, Column: "经纬度（WGS-84）", Rule: workflow.ReasonMalformed}, {Row: 4, Column: "经纬度（WGS-84）", Rule: workflow.ReasonOutOfRange}}},
		{"too long", header + good + strings.Repeat("长", workflow.MaxText+1) + ",自查,浮梁县,,,,,,\n",
			[]ledgerfile.RowError{{Row: 3, Column: "问题描述", Rule: workflow.ReasonTooLong}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			for _, dry := range []bool{true, false} {
				res := e.importFile(t, []byte(c.csv), ledgerfile.KindCSV, dry)
				var got []ledgerfile.RowError
				for _, re := range res.Errors {
					if re.Reason == "" {
						t.Errorf("row %d column %s: no reason", re.Row, re.Column)
					}
					got = append(got, ledgerfile.RowError{Row: re.Row, Column: re.Column, Rule: re.Rule})
				}
				if !reflect.DeepEqual(got, c.want) {
					t.Errorf("dry run %v: errors %v, want %v", dry, res.Errors, c.want)
				}
				if len(res.Rows) != 0 || res.Created != 0 {
					t.Errorf("dry run %v: rows %+v", dry, res.Rows)
				}
			}
			if n := len(e.problems(t)); n != 0 {
				t.Fatalf("%d problems written", n)
			}
		})
	}
}

func TestImportXLSXRefusalsAndTextDates(t *testing.T) {
	f := excelize.NewFile()
	sheet := f.GetSheetName(0)
	rows := [][]any{
		{"景德镇市生态环境问题整改台账"}, // a title row above the header
		{"序号", "问题描述", "问题来源", "所在县(市、区)", "牵头单位", "整改时限"},
		{1, "浮梁县某矿山生态修复滞后。", "警示片", "浮梁县", "浮梁县", "2021年12月31日"},
		{2, "乐平市某化工企业废气超标。", "中央生态环境保护督察", "乐平市", "乐平市", time.Date(2021, 9, 30, 0, 0, 0, 0, time.UTC)},
		{3, "珠山区某小区油烟扰民。", "自查", "珠山区", "珠山区", "2021-02-30"},
	}
	for i, r := range rows {
		cell, _ := excelize.CoordinatesToCellName(1, i+1)
		if err := f.SetSheetRow(sheet, cell, &r); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if _, err := f.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t)
	res := e.importFile(t, buf.Bytes(), ledgerfile.KindXLSX, false)
	if len(res.Errors) != 1 || res.Errors[0].Row != 5 || res.Errors[0].Column != "整改时限" || len(e.problems(t)) != 0 {
		t.Fatalf("errors %v, %d problems", res.Errors, len(e.problems(t)))
	}
	// Without the bad row: both dates are the end of their day.
	if err := f.RemoveRow(sheet, 5); err != nil {
		t.Fatal(err)
	}
	buf.Reset()
	if _, err := f.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	res = e.importFile(t, buf.Bytes(), ledgerfile.KindXLSX, false)
	ps := e.problems(t)
	if len(res.Errors) != 0 || len(ps) != 2 || !ps[0].Deadline.Equal(*date("2021-12-31")) || !ps[1].Deadline.Equal(*date("2021-09-30")) ||
		ps[0].Source != workflow.SourceWarningFilm {
		t.Fatalf("%+v %d problems", res, len(ps))
	}
	// Not a workbook at all.
	res = e.importFile(t, []byte("PK\x03\x04 broken"), ledgerfile.KindXLSX, false)
	if len(res.Errors) != 1 || res.Errors[0].Row != 1 {
		t.Fatalf("broken workbook: %v", res.Errors)
	}
}

func TestImportCodes(t *testing.T) {
	e := newEnv(t)
	p := e.create(t, workflow.NewProblem{Title: "甲", Description: "甲问题。", Source: workflow.SourceAudit, CountyID: "fuliang"})
	// The code of an existing problem with the same description: skipped.
	csv := "问题编号,问题描述,问题来源,所在县（市、区）\n" + p.Code + ",甲问题。,审计,浮梁县\n"
	res := e.importFile(t, []byte(csv), ledgerfile.KindCSV, false)
	if len(res.Errors) != 0 || res.Skipped != 1 || res.Rows[0].ProblemID != p.ID {
		t.Fatalf("%+v", res)
	}
	// The code of an existing problem with another description: refused.
	csv = "问题编号,问题描述,问题来源,所在县（市、区）\n" + p.Code + ",乙问题。,审计,浮梁县\n"
	res = e.importFile(t, []byte(csv), ledgerfile.KindCSV, false)
	if len(res.Errors) != 1 || res.Errors[0].Column != "问题编号" || res.Errors[0].Row != 2 {
		t.Fatalf("%+v", res)
	}
	// A code this ledger does not know: created, with a note.
	csv = "问题编号,问题描述,问题来源,所在县（市、区）\nFL-2021-17,乙问题。,审计,浮梁县\n"
	res = e.importFile(t, []byte(csv), ledgerfile.KindCSV, false)
	if len(res.Errors) != 0 || res.Created != 1 || res.Rows[0].Note == "" || res.Rows[0].Code != "JDZ-2021-0002" {
		t.Fatalf("%+v", res)
	}
	// Only the bureau imports.
	_, err := ledgerfile.ImportFile(context.Background(), e.svc, fuliang, strings.NewReader(csv), int64(len(csv)), ledgerfile.KindCSV, nil, true)
	if workflow.ErrorCode(err) != workflow.CodeForbidden {
		t.Fatalf("officer import: %v", err)
	}
}

func TestImportResumesAnInterruptedImport(t *testing.T) {
	e := newEnv(t)
	csv := "问题描述,问题来源,所在县（市、区）,牵头单位,整改时限\n浮梁县某矿山生态修复滞后。,自查,浮梁县,浮梁县,2021-12-31\n乐平市某问题。,自查,乐平市,乐平市,2021-12-31\n"
	rows, errs := ledgerfile.Import(context.Background(), strings.NewReader(csv), int64(len(csv)), ledgerfile.KindCSV, ledgerfile.Lookup{Unit: ledgerfile.UnitResolver(mustUnits(t, e), nil)})
	if len(errs) != 0 || len(rows) != 2 {
		t.Fatal(errs)
	}
	// A crash after creating the first row's problem, before assigning it.
	if _, _, err := e.svc.CreateProblem(context.Background(), bureau, rows[0].NewProblem()); err != nil {
		t.Fatal(err)
	}
	res := e.importFile(t, []byte(csv), ledgerfile.KindCSV, false)
	if len(res.Errors) != 0 {
		t.Fatal(res.Errors)
	}
	if res.Rows[0].Action != ledgerfile.ActionAssign || res.Rows[1].Action != ledgerfile.ActionCreate || res.Created != 1 || res.Assigned != 2 {
		t.Fatalf("%+v", res)
	}
	for _, p := range e.problems(t) {
		if p.State != workflow.StateAssigned {
			t.Errorf("%s is %s", p.Code, p.State)
		}
	}
}

func mustUnits(t testing.TB, e *env) []workflow.Unit {
	us, err := e.svc.Units(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return us
}

// One document may name several problems in the same words; their titles
// (问题名称) tell them apart, as with the seed plan's seven tailings ponds.
func TestImportSameWordsDifferentTitles(t *testing.T) {
	e := newEnv(t)
	csv := "问题名称,问题描述,问题来源,所在县（市、区）,来源文件\n" +
		"牛栏坑尾矿库,加强对7家尾矿库监管。,自查,浮梁县,第7条\n" +
		"水坞尾矿库,加强对7家尾矿库监管。,自查,浮梁县,第7条\n" +
		"牛栏坑尾矿库,加强对7家尾矿库监管。,自查,浮梁县,第7条\n"
	res := e.importFile(t, []byte(csv), ledgerfile.KindCSV, false)
	if len(res.Errors) != 1 || res.Errors[0].Row != 4 || res.Errors[0].Column != "问题描述" {
		t.Fatalf("%+v", res.Errors)
	}
	csv = csv[:strings.LastIndex(strings.TrimSuffix(csv, "\n"), "\n")+1]
	res = e.importFile(t, []byte(csv), ledgerfile.KindCSV, false)
	if len(res.Errors) != 0 || res.Created != 2 {
		t.Fatalf("%+v", res)
	}
	res = e.importFile(t, []byte(csv), ledgerfile.KindCSV, false)
	if len(res.Errors) != 0 || res.Created != 0 || res.Skipped != 2 || res.Rows[1].Code != "JDZ-2021-0002" {
		t.Fatalf("%+v", res)
	}
	// A title too long is refused in its own column.
	csv = "问题名称,问题描述,问题来源,所在县（市、区）\n" + strings.Repeat("长", workflow.MaxTitle+1) + ",某问题。,自查,浮梁县\n"
	res = e.importFile(t, []byte(csv), ledgerfile.KindCSV, false)
	if len(res.Errors) != 1 || res.Errors[0].Column != "问题名称" {
		t.Fatalf("%+v", res.Errors)
	}
}

// 经纬度 as the export writes it ("纬度, 经度", WGS-84) is read back into the
// problem's position; a file without the column, or a blank cell, gives
// none.
func TestImportPosition(t *testing.T) {
	e := newEnv(t)
	csv := "问题描述,问题来源,所在县（市、区）,经纬度（WGS-84）\n" +
		"浮梁县某矿山生态修复滞后。,自查,浮梁县,\"29.292100, 117.207800\"\n" +
		"乐平市某化工企业废气超标。,自查,乐平市,\n"
	res := e.importFile(t, []byte(csv), ledgerfile.KindCSV, false)
	if len(res.Errors) > 0 || res.Created != 2 {
		t.Fatalf("import: %+v", res)
	}
	ps := e.problems(t)
	if len(ps) != 2 {
		t.Fatalf("%d problems", len(ps))
	}
	got := map[string]*workflow.LatLng{}
	for _, p := range ps {
		got[p.CountyID] = p.Position
	}
	if p := got["fuliang"]; p == nil || p.Lat != 29.2921 || p.Lng != 117.2078 {
		t.Errorf("浮梁县's position %+v, want 29.2921, 117.2078", p)
	}
	if p := got["leping"]; p != nil {
		t.Errorf("乐平市's position %+v, want none", p)
	}
}
