// Package roundfile writes a dispatch round's summary (调度汇总表) as an
// .xlsx workbook: the sheet 调度汇总表 with one row per problem the round
// asks about, one sheet per work point it asks about with a row per
// reporting unit, and the sheet 报送情况 with each unit's tally. It reads
// only what the service gives it (a workflow.RoundBoard and the current
// records of its problems); column names are the glossary's where it has
// them.
package roundfile

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/xuri/excelize/v2"

	"github.com/jdz-eco/rectify/workflow"
)

// Sheet names.
const (
	SheetProblems = "调度汇总表"
	SheetTally    = "报送情况"
)

// Column names (the glossary's where it has them).
const (
	ColPercent      = workflow.LabelPercent
	ColDifficulties = workflow.LabelDifficulties
	ColNextSteps    = workflow.LabelNextSteps
	ColReportedAt   = workflow.LabelReportedAt
	ColOnTime       = workflow.LabelOnTime
	ColFigures      = workflow.LabelFigures
	ColUnit         = "责任单位"
	ColDuty         = "职责"
	ColExpected     = "应报"
	ColReported     = "已报"
	ColLate         = "逾期报送"
	ColMissing      = "未报送"
)

// ProblemColumns are the columns of the sheet 调度汇总表.
var ProblemColumns = []string{
	workflow.LabelSeq, workflow.LabelCode, workflow.LabelTitle, workflow.LabelCounty, workflow.LabelLeadUnit,
	workflow.LabelDeadline, workflow.LabelLevel, workflow.LabelNoteText, ColPercent, ColDifficulties, ColNextSteps,
	ColReportedAt, ColOnTime,
}

// PointColumns are the columns of a work point's sheet.
var PointColumns = []string{
	workflow.LabelSeq, ColUnit, ColDuty, workflow.LabelNoteText, ColFigures, ColPercent, ColDifficulties, ColNextSteps,
	ColReportedAt, ColOnTime,
}

// TallyColumns are the columns of the sheet 报送情况.
var TallyColumns = []string{workflow.LabelSeq, ColUnit, ColExpected, ColReported, ColLate, ColMissing}

// Options is what the summary needs besides the board.
type Options struct {
	// Units names the units by id; an id not in it is written as is.
	Units map[string]workflow.Unit
	// Problems are the current records of the board's problems, by id
	// (整改时限, 督办等级, 牵头单位); a problem not in it keeps what the
	// round recorded when it opened.
	Problems map[string]*workflow.Problem
	// WorkPoints give the points' targets (目标完成情况).
	WorkPoints []workflow.WorkPoint
	// Policy computes 督办等级 at the board's time (zero: the default).
	Policy workflow.Policy
}

// OnTimeLabel is the 是否按时报送 cell of a row.
func OnTimeLabel(row workflow.RoundRow, due bool) string {
	switch row.Status {
	case workflow.ReportOnTime:
		return workflow.LabelYes
	case workflow.ReportLate:
		return workflow.LabelNo + "（" + workflow.ReportStatusLabel(row.Status, due) + "）"
	}
	return workflow.ReportStatusLabel(row.Status, due)
}

// SheetName is the sheet of work point n titled title: 要点8 and as much of
// the title as a sheet name holds (31 characters), without the characters
// sheet names may not have.
func SheetName(n int, title string) string {
	name := "要点" + strconv.Itoa(n) + " " + strings.Map(func(r rune) rune {
		if strings.ContainsRune(`:\/?*[]`, r) {
			return -1
		}
		return r
	}, title)
	for utf8.RuneCountInString(name) > 31 {
		_, size := utf8.DecodeLastRuneInString(name)
		name = name[:len(name)-size]
	}
	return strings.TrimSpace(name)
}

// Write writes b's summary to w.
func Write(w io.Writer, b *workflow.RoundBoard, o Options) (err error) {
	f := excelize.NewFile()
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = cerr
		}
	}()
	if o.Policy == (workflow.Policy{}) {
		o.Policy = workflow.DefaultPolicy()
	}
	st, err := newStyles(f)
	if err != nil {
		return err
	}
	x := &writer{f: f, st: st, o: o, b: b}
	var problems []workflow.RoundRow
	points := map[int][]workflow.RoundRow{}
	var order []int
	for _, row := range b.Rows {
		if n := row.Item.WorkPoint; n > 0 {
			if points[n] == nil {
				order = append(order, n)
			}
			points[n] = append(points[n], row)
		} else {
			problems = append(problems, row)
		}
	}
	if len(problems) > 0 || len(order) == 0 {
		if err := x.problemSheet(problems); err != nil {
			return err
		}
	}
	for _, n := range order {
		if err := x.pointSheet(n, points[n]); err != nil {
			return err
		}
	}
	if err := x.tallySheet(); err != nil {
		return err
	}
	// The sheet excelize starts with has served or goes.
	if idx, _ := f.GetSheetIndex("Sheet1"); idx >= 0 {
		if err := f.DeleteSheet("Sheet1"); err != nil {
			return err
		}
	}
	f.SetActiveSheet(0)
	_, err = f.WriteTo(w)
	return err
}

type styles struct{ header, text, center, datetime, date, int int }

func newStyles(f *excelize.File) (*styles, error) {
	border := []excelize.Border{
		{Type: "left", Color: "BFBFBF", Style: 1}, {Type: "right", Color: "BFBFBF", Style: 1},
		{Type: "top", Color: "BFBFBF", Style: 1}, {Type: "bottom", Color: "BFBFBF", Style: 1},
	}
	top := &excelize.Alignment{Vertical: "top", WrapText: true}
	center := &excelize.Alignment{Horizontal: "center", Vertical: "top", WrapText: true}
	date, datetime := "yyyy-mm-dd", "yyyy-mm-dd hh:mm"
	var s styles
	for _, d := range []struct {
		id    *int
		style excelize.Style
	}{
		{&s.header, excelize.Style{Border: border, Font: &excelize.Font{Bold: true},
			Fill:      excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{"DDEBF7"}},
			Alignment: &excelize.Alignment{Horizontal: "center", Vertical: "center", WrapText: true}}},
		{&s.text, excelize.Style{Border: border, Alignment: top}},
		{&s.center, excelize.Style{Border: border, Alignment: center}},
		{&s.datetime, excelize.Style{Border: border, Alignment: center, CustomNumFmt: &datetime}},
		{&s.date, excelize.Style{Border: border, Alignment: center, CustomNumFmt: &date}},
		{&s.int, excelize.Style{Border: border, Alignment: &excelize.Alignment{Horizontal: "right", Vertical: "top"}}},
	} {
		id, err := f.NewStyle(&d.style)
		if err != nil {
			return nil, err
		}
		*d.id = id
	}
	return &s, nil
}

type writer struct {
	f  *excelize.File
	st *styles
	o  Options
	b  *workflow.RoundBoard
}

func (x *writer) unit(id string) string {
	if u, ok := x.o.Units[id]; ok {
		return u.Name
	}
	return id
}

func (x *writer) text(s string) excelize.Cell {
	if s == "" {
		return excelize.Cell{StyleID: x.st.text}
	}
	return excelize.Cell{StyleID: x.st.text, Value: s}
}

func (x *writer) when(t *time.Time, style int) excelize.Cell {
	if t == nil {
		return excelize.Cell{StyleID: style}
	}
	return excelize.Cell{StyleID: style, Value: t.In(workflow.Shanghai)}
}

// sheet starts sheet name with its header row (frozen) and column widths;
// rows go through the stream writer it returns (Flush ends the sheet).
func (x *writer) sheet(name string, columns []string, widths []float64) (*excelize.StreamWriter, error) {
	if _, err := x.f.NewSheet(name); err != nil {
		return nil, err
	}
	sw, err := x.f.NewStreamWriter(name)
	if err != nil {
		return nil, err
	}
	for i, wd := range widths {
		if err := sw.SetColWidth(i+1, i+1, wd); err != nil {
			return nil, err
		}
	}
	if err := sw.SetPanes(&excelize.Panes{Freeze: true, YSplit: 1, TopLeftCell: "A2", ActivePane: "bottomLeft",
		Selection: []excelize.Selection{{SQRef: "A2", ActiveCell: "A2", Pane: "bottomLeft"}}}); err != nil {
		return nil, err
	}
	header := make([]any, len(columns))
	for i, c := range columns {
		header[i] = excelize.Cell{StyleID: x.st.header, Value: c}
	}
	return sw, sw.SetRow("A1", header, excelize.RowOpts{Height: 30})
}

// row writes values as row n+1 (n counts from 1 below the header).
func putRow(sw *excelize.StreamWriter, n int, values []any) error {
	cell, err := excelize.CoordinatesToCellName(1, n+1)
	if err != nil {
		return err
	}
	return sw.SetRow(cell, values)
}

// report returns the report cells every sheet has: the report's text,
// percent, difficulties, next steps and time (empty when none came).
func (x *writer) report(row workflow.RoundRow) (progress, percent, difficulties, next, at excelize.Cell) {
	progress, difficulties, next = x.text(""), x.text(""), x.text("")
	percent = excelize.Cell{StyleID: x.st.int}
	at = x.when(nil, x.st.datetime)
	if r := row.Report; r != nil {
		progress, difficulties, next = x.text(r.Params.Progress), x.text(r.Params.Difficulties), x.text(r.Params.NextSteps)
		if r.Params.Percent != nil {
			percent.Value = *r.Params.Percent
		}
		at = x.when(&r.At, x.st.datetime)
	}
	return
}

func (x *writer) problemSheet(rows []workflow.RoundRow) error {
	sw, err := x.sheet(SheetProblems, ProblemColumns, []float64{6, 15, 28, 12, 16, 12, 11, 40, 8, 30, 30, 17, 12})
	if err != nil {
		return err
	}
	for i, row := range rows {
		it := row.Item
		title, county, lead := it.Title, it.County, it.Unit
		var deadline *time.Time
		level := ""
		if p := x.o.Problems[it.ProblemID]; p != nil {
			title, county, lead, deadline = p.Title, p.CountyID, p.LeadUnit, p.Deadline
			level = p.LevelAt(x.b.At, x.o.Policy).Label()
		}
		progress, percent, difficulties, next, at := x.report(row)
		values := []any{
			excelize.Cell{StyleID: x.st.center, Value: i + 1}, x.text(it.Code), x.text(title), x.text(x.unit(county)),
			x.text(x.unit(lead)), x.when(deadline, x.st.date), excelize.Cell{StyleID: x.st.center, Value: level},
			progress, percent, difficulties, next, at,
			excelize.Cell{StyleID: x.st.center, Value: OnTimeLabel(row, x.b.Due)},
		}
		if err := putRow(sw, i+1, values); err != nil {
			return fmt.Errorf("roundfile: problem %s: %w", it.ProblemID, err)
		}
	}
	return sw.Flush()
}

// FiguresText words a report's figures against the point's targets:
// 营造林：12万亩（目标28.91万亩）.
func FiguresText(figures []workflow.Figure, targets []workflow.Target) string {
	parts := make([]string, 0, len(figures))
	for _, fg := range figures {
		s := fg.Target + "：" + strconv.FormatFloat(fg.Value, 'f', -1, 64)
		for _, t := range targets {
			if t.Name == fg.Target {
				s += t.Unit + "（目标" + strconv.FormatFloat(t.Amount, 'f', -1, 64) + t.Unit + "）"
			}
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "；")
}

func (x *writer) pointSheet(n int, rows []workflow.RoundRow) error {
	name := SheetName(n, rows[0].Item.Title)
	sw, err := x.sheet(name, PointColumns, []float64{6, 18, 8, 40, 26, 8, 30, 30, 17, 12})
	if err != nil {
		return err
	}
	var targets []workflow.Target
	for _, wp := range x.o.WorkPoints {
		if wp.Number == n {
			targets = wp.Targets
		}
	}
	for i, row := range rows {
		progress, percent, difficulties, next, at := x.report(row)
		figures := ""
		if row.Report != nil {
			figures = FiguresText(row.Report.Params.Figures, targets)
		}
		values := []any{
			excelize.Cell{StyleID: x.st.center, Value: i + 1}, x.text(x.unit(row.Item.Unit)),
			excelize.Cell{StyleID: x.st.center, Value: workflow.DutyLabel(row.Item.Duty)},
			progress, x.text(figures), percent, difficulties, next, at,
			excelize.Cell{StyleID: x.st.center, Value: OnTimeLabel(row, x.b.Due)},
		}
		if err := putRow(sw, i+1, values); err != nil {
			return fmt.Errorf("roundfile: work point %d: %w", n, err)
		}
	}
	return sw.Flush()
}

func (x *writer) tallySheet() error {
	sw, err := x.sheet(SheetTally, TallyColumns, []float64{6, 24, 8, 8, 10, 10})
	if err != nil {
		return err
	}
	num := func(v int) excelize.Cell { return excelize.Cell{StyleID: x.st.int, Value: v} }
	rows := slices.Concat(x.b.Units, []workflow.RoundTally{x.b.Total})
	for i, t := range rows {
		seq := any(i + 1)
		if i == len(rows)-1 {
			seq = nil
		}
		values := []any{excelize.Cell{StyleID: x.st.center, Value: seq}, x.text(t.Label), num(t.Expected), num(t.Reported), num(t.Late), num(t.Missing)}
		if err := putRow(sw, i+1, values); err != nil {
			return err
		}
	}
	return sw.Flush()
}

// ContentType is the media type of an .xlsx workbook.
const ContentType = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

// WriteRound writes round id's summary as a may see it (a unit officer: its
// own rows) to w, and returns the board it wrote. Everything is read before
// the first byte is written: an error comes with w untouched.
func WriteRound(ctx context.Context, w io.Writer, svc *workflow.Service, a workflow.Actor, id string) (*workflow.RoundBoard, error) {
	b, err := svc.RoundBoard(ctx, a, id)
	if err != nil {
		return nil, err
	}
	units, err := svc.Units(ctx)
	if err != nil {
		return nil, err
	}
	wps, err := svc.WorkPoints(ctx)
	if err != nil {
		return nil, err
	}
	o := Options{Units: map[string]workflow.Unit{}, Problems: map[string]*workflow.Problem{}, WorkPoints: wps, Policy: svc.Policy()}
	for _, u := range units {
		o.Units[u.ID] = u
	}
	for _, row := range b.Rows {
		if id := row.Item.ProblemID; id != "" {
			p, err := svc.Problem(ctx, a, id)
			switch {
			case err == nil:
				o.Problems[id] = p
			case workflow.ErrorCode(err) != workflow.CodeNotFound: // reassigned away: what the round recorded
				return nil, err
			}
		}
	}
	var buf bytes.Buffer
	if err := Write(&buf, b, o); err != nil {
		return nil, err
	}
	_, err = buf.WriteTo(w)
	return b, err
}
