package roundfile_test

import (
	"bytes"
	"slices"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/jdz-eco/rectify/workflow"
	"github.com/jdz-eco/rectify/workflow/roundfile"
)

func ptr[T any](v T) *T { return &v }

// TestWrite: the summary's sheets, headers and rows for a round over two
// problems and a work point, read back from the file.
func TestWrite(t *testing.T) {
	due := time.Date(2021, 7, 5, 15, 59, 59, 0, time.UTC)
	at := func(h int) time.Time { return due.Add(time.Duration(h) * time.Hour) }
	deadline := time.Date(2021, 12, 31, 15, 59, 59, 0, time.UTC)
	report := func(h int, late bool, text string, pct *int, figures ...workflow.Figure) *workflow.Entry {
		return &workflow.Entry{At: at(h), Action: workflow.ActionReport, Params: workflow.Params{Progress: text, Percent: pct, Late: late,
			Difficulties: "资金缺口", NextSteps: "继续推进", Figures: figures}}
	}
	first := at(-30)
	late := at(2)
	b := &workflow.RoundBoard{
		Round: &workflow.Round{ID: "1", Title: "2021年6月调度", Due: due}, At: at(5), Due: true,
		Rows: []workflow.RoundRow{
			{Item: workflow.RoundItem{ProblemID: "1", Code: "JDZ-2021-0001", Title: "尾矿库渗漏", County: "fuliang", Unit: "fuliang"},
				Status: workflow.ReportOnTime, Report: report(-20, false, "已完成清淤", ptr(60)), FirstAt: &first, Reports: 2},
			{Item: workflow.RoundItem{ProblemID: "2", Code: "JDZ-2021-0002", Title: "排污口", County: "leping", Unit: "leping"},
				Status: workflow.ReportMissing},
			{Item: workflow.RoundItem{WorkPoint: 10, Title: "加强森林生态修复和保护", Unit: "fuliang", Duty: workflow.DutyResponsible},
				Status: workflow.ReportLate, Report: report(2, true, "完成营造林12万亩", nil, workflow.Figure{Target: "营造林", Value: 12}), FirstAt: &late, Reports: 1},
		},
		Units: []workflow.RoundTally{{Key: "fuliang", Label: "浮梁县", Expected: 2, Reported: 2, Late: 1}, {Key: "leping", Label: "乐平市", Expected: 1, Missing: 1}},
		Total: workflow.RoundTally{Label: workflow.LabelTotal, Expected: 3, Reported: 2, Late: 1, Missing: 1},
	}
	o := roundfile.Options{
		Units: map[string]workflow.Unit{"fuliang": {ID: "fuliang", Name: "浮梁县"}, "leping": {ID: "leping", Name: "乐平市"}},
		Problems: map[string]*workflow.Problem{
			"1": {ID: "1", Title: "尾矿库渗漏", CountyID: "fuliang", LeadUnit: "fuliang", State: workflow.StateRectifying, Deadline: &deadline},
		},
		WorkPoints: []workflow.WorkPoint{{Number: 10, Title: "加强森林生态修复和保护", Targets: []workflow.Target{{Name: "营造林", Amount: 28.91, Unit: "万亩"}}}},
	}
	var buf bytes.Buffer
	if err := roundfile.Write(&buf, b, o); err != nil {
		t.Fatal(err)
	}
	f, err := excelize.OpenReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	point := roundfile.SheetName(10, "加强森林生态修复和保护")
	if got, want := f.GetSheetList(), []string{roundfile.SheetProblems, point, roundfile.SheetTally}; !slices.Equal(got, want) {
		t.Fatalf("sheets %v, want %v", got, want)
	}
	rows := func(sheet string) [][]string {
		r, err := f.GetRows(sheet)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	p := rows(roundfile.SheetProblems)
	if !slices.Equal(p[0], roundfile.ProblemColumns) || len(p) != 3 {
		t.Fatalf("problem sheet %q", p)
	}
	want := []string{"1", "JDZ-2021-0001", "尾矿库渗漏", "浮梁县", "浮梁县", "2021-12-31", "", "已完成清淤", "60", "资金缺口", "继续推进", "2021-07-05 03:59", "是"}
	if !slices.Equal(p[1], want) {
		t.Errorf("row 1 %q\nwant  %q", p[1], want)
	}
	if got := p[2]; got[1] != "JDZ-2021-0002" || got[4] != "乐平市" || got[len(got)-1] != "逾期未报送" || got[7] != "" {
		t.Errorf("row 2 %q", got)
	}
	w := rows(point)
	if !slices.Equal(w[0], roundfile.PointColumns) || len(w) != 2 {
		t.Fatalf("point sheet %q", w)
	}
	if got := w[1]; got[1] != "浮梁县" || got[2] != "负责" || got[4] != "营造林：12万亩（目标28.91万亩）" || got[len(got)-1] != "否（逾期报送）" {
		t.Errorf("point row %q", got)
	}
	tl := rows(roundfile.SheetTally)
	if !slices.Equal(tl[0], roundfile.TallyColumns) || len(tl) != 4 || !slices.Equal(tl[3], []string{"", "合计", "3", "2", "1", "1"}) {
		t.Errorf("tally %q", tl)
	}
}

func TestSheetName(t *testing.T) {
	if got := roundfile.SheetName(13, "加快构建综合交通枢纽和现代流通体系（包括“公转铁”、航空货运倍增、城乡高效配送等行动）"); len([]rune(got)) > 31 || got[:len("要点13 ")] != "要点13 " {
		t.Errorf("%q", got)
	}
	if got := roundfile.SheetName(1, "a/b:c"); got != "要点1 abc" {
		t.Errorf("%q", got)
	}
}
