package ledgerfile_test

import (
	"bytes"
	"context"
	"reflect"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/jdz-eco/rectify/workflow"
	"github.com/jdz-eco/rectify/workflow/ledgerfile"
)

func TestExportThenImportReproducesTheProblems(t *testing.T) {
	a := assignedLedger(t)
	data := a.export(t, bureau, workflow.ProblemFilter{}, time.Time{})

	b := newEnv(t)
	res := b.importFile(t, data, ledgerfile.KindXLSX, false)
	if len(res.Errors) > 0 {
		t.Fatalf("import refused: %v", res.Errors)
	}
	want, got := a.problems(t), b.problems(t)
	if len(want) != 12 || len(got) != len(want) || res.Created != len(want) || res.Skipped != 0 {
		t.Fatalf("exported %d problems, imported %d (%+v)", len(want), len(got), res)
	}
	assigned := 0
	for i := range want {
		w, g := want[i], got[i]
		fields := []struct {
			name      string
			want, got any
		}{
			{"code", w.Code, g.Code},
			{"title", w.Title, g.Title},
			{"description", w.Description, g.Description},
			{"source", w.Source, g.Source},
			{"source_ref", w.SourceRef, g.SourceRef},
			{"county_id", w.CountyID, g.CountyID},
			{"work_point", w.WorkPoint, g.WorkPoint},
			{"location", w.Location, g.Location},
			{"state", w.State, g.State},
			{"lead_unit", w.LeadUnit, g.LeadUnit},
			{"cooperating_units", w.CooperatingUnits, g.CooperatingUnits},
			{"requirements", w.Requirements, g.Requirements},
		}
		for _, f := range fields {
			if !reflect.DeepEqual(f.want, f.got) {
				t.Errorf("problem %s: %s = %#v, want %#v", w.Code, f.name, f.got, f.want)
			}
		}
		for _, d := range []struct {
			name      string
			want, got *time.Time
		}{{"deadline", w.Deadline, g.Deadline}, {"original_deadline", w.OriginalDeadline, g.OriginalDeadline}} {
			if (d.want == nil) != (d.got == nil) || d.want != nil && !d.want.Equal(*d.got) {
				t.Errorf("problem %s: %s = %v, want %v", w.Code, d.name, d.got, d.want)
			}
		}
		if w.State == workflow.StateAssigned {
			assigned++
		}
	}
	if assigned != 4 {
		t.Errorf("%d assigned problems, want 4", assigned)
	}

	// The same file again creates nothing, in the new ledger and the old.
	for name, e := range map[string]*env{"imported": b, "exported": a} {
		res = e.importFile(t, data, ledgerfile.KindXLSX, false)
		if len(res.Errors) > 0 || res.Created != 0 || res.Skipped != len(want) {
			t.Fatalf("%s ledger, second import: %+v", name, res)
		}
		if n := len(e.problems(t)); n != len(want) {
			t.Fatalf("%s ledger has %d problems after the second import", name, n)
		}
	}
}

// workbookLedger builds three problems with known rows, as of 2021-09-10.
func workbookLedger(t *testing.T) (*env, []*workflow.Problem) {
	e := newEnv(t)
	ctx := context.Background()
	p1 := e.create(t, workflow.NewProblem{Title: "茅棚店锡矿尾矿库", Description: "浮梁县茅棚店锡矿尾矿库渗滤液外溢，污染周边农田。",
		Source: workflow.SourceSelfInspection, SourceRef: "景长江办字〔2021〕1号", CountyID: "fuliang", WorkPoint: 7, Location: "浮梁县茅棚店"})
	p2 := e.create(t, workflow.NewProblem{Title: "污水处理厂提标", Description: "乐平市污水处理厂提标改造滞后。",
		Source: workflow.SourceAudit, CountyID: "leping"})
	p3 := e.create(t, workflow.NewProblem{Title: "群众举报", Description: "珠山区某小区油烟扰民。",
		Source: workflow.SourceOther, CountyID: "zhushan"})

	e.fire(t, "2021-07-01 10:00", bureau, p1.ID, workflow.TriggerAssign, workflow.Params{LeadUnit: "fuliang",
		CooperatingUnits: []string{"city-water", "city-eeb"}, Requirements: "限期完成治理", Deadline: date("2021-07-12")})
	e.fire(t, "2021-07-02 09:00", fuliang, p1.ID, workflow.TriggerAccept, workflow.Params{Plan: "清理尾矿，修复渗滤液收集池"})
	e.clock.Set(cst("2021-07-05 09:00"))
	if _, err := e.svc.AddNote(ctx, fuliang, p1.ID, "已清理尾矿 2000 吨", 0); err != nil {
		t.Fatal(err)
	}
	e.clock.Set(cst("2021-07-08 09:00"))
	if _, err := e.svc.AddNote(ctx, fuliang, p1.ID, "渗滤液收集池修复完成", 0); err != nil {
		t.Fatal(err)
	}
	e.evidence(t, "2021-07-10 11:00", fuliang, p1.ID)
	e.fire(t, "2021-07-10 12:00", fuliang, p1.ID, workflow.TriggerSubmit, workflow.Params{Summary: "已完成清理"})
	e.fire(t, "2021-07-15 10:00", inspector, p1.ID, workflow.TriggerVerify, workflow.Params{Opinion: "验收通过"})
	e.fire(t, "2021-07-16 10:00", inspector2, p1.ID, workflow.TriggerClose, workflow.Params{Statement: "同意销号"})

	e.fire(t, "2021-07-01 11:00", bureau, p2.ID, workflow.TriggerAssign, workflow.Params{LeadUnit: "leping", Deadline: date("2021-07-15")})
	e.fire(t, "2021-07-02 10:00", leping, p2.ID, workflow.TriggerAccept, workflow.Params{Plan: "分两期改造"})
	e.clock.Set(cst("2021-07-05 10:00"))
	if _, err := e.svc.RequestExtension(ctx, leping, p2.ID, workflow.ExtensionRequest{Deadline: *date("2021-07-31"), Reason: "设备到货延迟"}, 0); err != nil {
		t.Fatal(err)
	}
	e.clock.Set(cst("2021-07-06 10:00"))
	if _, err := e.svc.DecideExtension(ctx, bureau, p2.ID, "1", "approve", "", 0); err != nil {
		t.Fatal(err)
	}
	e.fire(t, "2021-07-07 10:00", bureau, p3.ID, workflow.TriggerDismiss, workflow.Params{Reason: "经核实不属实"})
	e.clock.Set(cst("2021-09-10 10:00"))
	return e, []*workflow.Problem{p1, p2, p3}
}

func openWorkbook(t *testing.T, data []byte) *excelize.File {
	t.Helper()
	f, err := excelize.OpenReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func TestExportedWorkbook(t *testing.T) {
	e, _ := workbookLedger(t)
	f := openWorkbook(t, e.export(t, bureau, workflow.ProblemFilter{}, time.Time{}))
	if got := f.GetSheetList(); !reflect.DeepEqual(got, []string{"整改台账", "统计"}) {
		t.Fatalf("sheets %v", got)
	}
	rows, err := f.GetRows("整改台账")
	if err != nil {
		t.Fatal(err)
	}
	header := []string{"序号", "问题编号", "问题来源", "来源文件", "问题描述", "所在县（市、区）", "工作要点", "牵头单位", "配合单位",
		"整改要求", "整改方案", "整改时限", "原定时限", "当前状态", "最新进展", "是否逾期", "督办等级", "验收时间", "销号时间"}
	if !reflect.DeepEqual(rows[0][:19], header) || !reflect.DeepEqual(rows[0], ledgerfile.Columns) || !reflect.DeepEqual(rows[0][19:], []string{"问题名称", "具体位置", "经纬度（WGS-84）"}) {
		t.Fatalf("header %q", rows[0])
	}
	if len(rows) != 4 {
		t.Fatalf("%d rows", len(rows))
	}
	want := map[string][]string{
		"2": {"1", "JDZ-2021-0001", "自查", "景长江办字〔2021〕1号", "浮梁县茅棚店锡矿尾矿库渗滤液外溢，污染周边农田。", "浮梁县",
			"第7条 深入推进尾矿库污染治理", "浮梁县", "市水利局、市生态环境局", "限期完成治理", "清理尾矿，修复渗滤液收集池",
			"2021-07-12", "2021-07-12", "已销号", "渗滤液收集池修复完成", "否", "", "2021-07-15 10:00", "2021-07-16 10:00", "茅棚店锡矿尾矿库", "浮梁县茅棚店"},
		"3": {"2", "JDZ-2021-0002", "审计", "", "乐平市污水处理厂提标改造滞后。", "乐平市", "", "乐平市", "", "", "分两期改造",
			"2021-07-31", "2021-07-15", "整改中", "", "是", "红牌", "", "", "污水处理厂提标", ""},
		"4": {"3", "JDZ-2021-0003", "其他", "", "珠山区某小区油烟扰民。", "珠山区", "", "", "", "", "",
			"", "", "已撤销", "", "否", "", "", "", "群众举报", ""},
	}
	for r, cells := range want {
		for i, w := range cells {
			ref, _ := excelize.CoordinatesToCellName(i+1, mustAtoi(r))
			got, err := f.GetCellValue("整改台账", ref)
			if err != nil || got != w {
				t.Errorf("%s (%s) = %q, want %q (%v)", ref, ledgerfile.Columns[i], got, w, err)
			}
		}
	}

	// Dates are numbers (Excel date serials) with a date format, in Shanghai time.
	for ref, want := range map[string]struct {
		format string
		at     time.Time
	}{
		"L2": {ledgerfile.DateFormat, *date("2021-07-12")},
		"M3": {ledgerfile.DateFormat, *date("2021-07-15")},
		"R2": {ledgerfile.DateTimeFormat, cst("2021-07-15 10:00")},
		"S2": {ledgerfile.DateTimeFormat, cst("2021-07-16 10:00")},
	} {
		typ, err := f.GetCellType("整改台账", ref)
		if err != nil || (typ != excelize.CellTypeUnset && typ != excelize.CellTypeNumber) {
			t.Errorf("%s: cell type %v, want a number", ref, typ)
		}
		raw, _ := f.GetCellValue("整改台账", ref, excelize.Options{RawCellValue: true})
		serial, err := strconv.ParseFloat(raw, 64)
		if err != nil {
			t.Errorf("%s: raw value %q is not a number", ref, raw)
			continue
		}
		wall, _ := excelize.ExcelDateToTime(serial, false)
		local := want.at.In(workflow.Shanghai)
		if d := wall.Sub(time.Date(local.Year(), local.Month(), local.Day(), local.Hour(), local.Minute(), local.Second(), 0, time.UTC)); d < -time.Second || d > time.Second {
			t.Errorf("%s: %v, want %v", ref, wall, local)
		}
		id, _ := f.GetCellStyle("整改台账", ref)
		st, err := f.GetStyle(id)
		if err != nil || st.CustomNumFmt == nil || *st.CustomNumFmt != want.format {
			t.Errorf("%s: number format %v, want %s", ref, st, want.format)
		}
	}
	// Text cells are strings; the header is bold and frozen.
	if typ, _ := f.GetCellType("整改台账", "E2"); typ != excelize.CellTypeInlineString && typ != excelize.CellTypeSharedString {
		t.Errorf("E2 type %v", typ)
	}
	id, _ := f.GetCellStyle("整改台账", "A1")
	if st, err := f.GetStyle(id); err != nil || st.Font == nil || !st.Font.Bold {
		t.Errorf("header style %+v %v", st, err)
	}
	id, _ = f.GetCellStyle("整改台账", "E2")
	if st, err := f.GetStyle(id); err != nil || st.Alignment == nil || !st.Alignment.WrapText {
		t.Errorf("text style %+v %v", st, err)
	}
	panes, err := f.GetPanes("整改台账")
	if err != nil || !panes.Freeze || panes.YSplit != 1 || panes.TopLeftCell != "A2" {
		t.Errorf("panes %+v %v", panes, err)
	}
	if w, _ := f.GetColWidth("整改台账", "E"); w < 30 {
		t.Errorf("问题描述 column width %v", w)
	}

	// The statistics sheet: one table per grouping, totals included.
	stats, err := f.GetRows("统计")
	if err != nil {
		t.Fatal(err)
	}
	var titles []string
	for i, r := range stats {
		if len(r) == 1 {
			titles = append(titles, r[0])
		}
		if len(r) > 2 && r[0] == "合计" && r[2] != "3" {
			t.Errorf("统计 row %d: total %q", i+1, r[2])
		}
	}
	if len(titles) != 5 || titles[0] != "按所在县（市、区）统计（截至 2021-09-10 10:00）" {
		t.Errorf("统计 titles %q", titles)
	}
	var wpRows int
	for _, r := range stats {
		if len(r) > 1 && r[1] != "" && slices.Contains([]string{"1", "7", "25"}, r[1]) {
			wpRows++
		}
	}
	if wpRows != 3 {
		t.Errorf("work points 1, 7 and 25 not all listed in 统计: %d", wpRows)
	}
}

func mustAtoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		panic(err)
	}
	return n
}

func TestExportVisibilityFiltersAndAsOf(t *testing.T) {
	e, _ := workbookLedger(t)
	codes := func(data []byte) []string {
		rows, err := openWorkbook(t, data).GetRows("整改台账")
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, r := range rows[1:] {
			out = append(out, r[1]+" "+r[13])
		}
		return out
	}
	if got := codes(e.export(t, leping, workflow.ProblemFilter{}, time.Time{})); !reflect.DeepEqual(got, []string{"JDZ-2021-0002 整改中"}) {
		t.Errorf("leping officer: %q", got)
	}
	if got := codes(e.export(t, viewer, workflow.ProblemFilter{State: workflow.StateClosed}, time.Time{})); !reflect.DeepEqual(got, []string{"JDZ-2021-0001 已销号", "JDZ-2021-0003 已撤销"}) {
		t.Errorf("closed: %q", got)
	}
	// As of 2021-07-05 the first was being rectified, the third not yet dismissed;
	// as of 2021-07-01 the second had no extension and was not overdue.
	asOf, _ := workflow.ParseAsOf("2021-07-05")
	if got := codes(e.export(t, bureau, workflow.ProblemFilter{}, asOf)); !reflect.DeepEqual(got, []string{"JDZ-2021-0001 整改中", "JDZ-2021-0002 整改中", "JDZ-2021-0003 待交办"}) {
		t.Errorf("as of 2021-07-05: %q", got)
	}
	asOf, _ = workflow.ParseAsOf("2021-07-20")
	f := openWorkbook(t, e.export(t, bureau, workflow.ProblemFilter{}, asOf))
	for ref, want := range map[string]string{"L3": "2021-07-31", "M3": "2021-07-15", "P3": "否", "Q3": "", "N2": "已销号"} {
		if got, _ := f.GetCellValue("整改台账", ref); got != want {
			t.Errorf("as of 2021-07-20, %s = %q, want %q", ref, got, want)
		}
	}
	if got, _ := f.GetCellValue("统计", "A1"); got != "按所在县（市、区）统计（截至 2021-07-20 23:59）" {
		t.Errorf("统计 title %q", got)
	}
}

// An error part-way through the rows ends the export: it is returned, and
// what was written is no workbook (no zip directory), so that nobody takes
// it for a whole one.
func TestExportErrorCutsTheWorkbook(t *testing.T) {
	var buf bytes.Buffer
	boom := workflow.Errorf(workflow.CodeInternal, "disk on fire")
	problems := func(yield func(*workflow.Problem, error) bool) {
		if !yield(&workflow.Problem{ID: "1", Code: "JDZ-2021-0001", CooperatingUnits: []string{}}, nil) {
			return
		}
		yield(nil, boom)
	}
	if err := ledgerfile.Export(&buf, problems, ledgerfile.ExportOptions{Policy: workflow.DefaultPolicy()}); err != boom {
		t.Fatalf("err %v", err)
	}
	if buf.Len() == 0 {
		t.Fatal("nothing written before the error: the export does not stream")
	}
	if _, err := excelize.OpenReader(bytes.NewReader(buf.Bytes())); err == nil {
		t.Fatal("a workbook cut short opens as a whole one")
	}
}
