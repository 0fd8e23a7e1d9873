package ledger

import (
	"context"
	"fmt"
	"io"
	"iter"
	"strconv"
	"strings"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/jdz-eco/rectify/workflow"
)

// ExportOptions is what a ledger export needs besides the problems.
type ExportOptions struct {
	// Units names the units by id (所在县, 牵头单位, 配合单位); an id not in it
	// is written as is.
	Units map[string]workflow.Unit
	// WorkPoints names the work points (工作要点).
	WorkPoints []workflow.WorkPoint
	// Stats fill the sheet 「统计」, one table each; none leaves it with a note.
	Stats []*workflow.StatsReport
	// Now is the time 是否逾期 and 督办等级 are computed at (the as_of time
	// for a point-in-time ledger), under Policy (the zero Policy means
	// workflow.DefaultPolicy). Set it: a zero Now finds nothing overdue.
	Now    time.Time
	Policy workflow.Policy
	// Progress gives the 最新进展 cell; nil means LatestProgress.
	Progress func(*workflow.Problem) string
	// TmpDir is where excelize spills rows beyond 16 MB; "" is the system's.
	TmpDir string
}

// Column widths, in characters, by column name.
var widths = map[string]float64{
	ColSeq: 6, ColCode: 15, ColSource: 14, ColSourceRef: 24, ColDescription: 50, ColCounty: 11,
	ColWorkPoint: 24, ColLeadUnit: 16, ColCooperating: 26, ColRequirements: 36, ColPlan: 36,
	ColDeadline: 12, ColOriginal: 12, ColState: 9, ColProgress: 36, ColOverdue: 8, ColLevel: 11,
	ColVerifiedAt: 17, ColClosedAt: 17, ColTitle: 26, ColLocation: 16, ColPosition: 22,
}

// Number formats of the date cells.
const (
	DateFormat     = "yyyy-mm-dd"
	DateTimeFormat = "yyyy-mm-dd hh:mm"
)

type styles struct {
	header, text, center, date, datetime int
	title, int, percent, days            int
}

func newStyles(f *excelize.File) (*styles, error) {
	border := []excelize.Border{
		{Type: "left", Color: "BFBFBF", Style: 1}, {Type: "right", Color: "BFBFBF", Style: 1},
		{Type: "top", Color: "BFBFBF", Style: 1}, {Type: "bottom", Color: "BFBFBF", Style: 1},
	}
	top := &excelize.Alignment{Vertical: "top", WrapText: true}
	centerTop := &excelize.Alignment{Horizontal: "center", Vertical: "top", WrapText: true}
	right := &excelize.Alignment{Horizontal: "right", Vertical: "top"}
	date, datetime, pct, days := DateFormat, DateTimeFormat, "0.0%", "0.0"
	var s styles
	defs := []struct {
		id    *int
		style excelize.Style
	}{
		{&s.header, excelize.Style{Border: border, Font: &excelize.Font{Bold: true},
			Fill:      excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{"DDEBF7"}},
			Alignment: &excelize.Alignment{Horizontal: "center", Vertical: "center", WrapText: true}}},
		{&s.text, excelize.Style{Border: border, Alignment: top}},
		{&s.center, excelize.Style{Border: border, Alignment: centerTop}},
		{&s.date, excelize.Style{Border: border, Alignment: centerTop, CustomNumFmt: &date}},
		{&s.datetime, excelize.Style{Border: border, Alignment: centerTop, CustomNumFmt: &datetime}},
		{&s.title, excelize.Style{Font: &excelize.Font{Bold: true, Size: 12}}},
		{&s.int, excelize.Style{Border: border, Alignment: right}},
		{&s.percent, excelize.Style{Border: border, Alignment: right, CustomNumFmt: &pct}},
		{&s.days, excelize.Style{Border: border, Alignment: right, CustomNumFmt: &days}},
	}
	for _, d := range defs {
		id, err := f.NewStyle(&d.style)
		if err != nil {
			return nil, err
		}
		*d.id = id
	}
	return &s, nil
}

// Export writes the ledger as an .xlsx workbook to w: the sheet 「整改台账」
// (a bold, frozen header row of Columns, then one row per problem in the
// order problems yields them) and the sheet 「统计」 (o.Stats). Text is
// wrapped; dates are date cells (numbers with a date format) in Asia/Shanghai:
// 整改时限 and 原定时限 as yyyy-mm-dd (the value keeps the time of day, 23:59:59
// for a deadline given as a date), 验收时间 and 销号时间 as yyyy-mm-dd hh:mm.
//
// Rows go through excelize's StreamWriter, which keeps at most 16 MB in
// memory and spills the rest to a temporary file, so memory does not grow
// with the number of problems. Nothing is written to w before every problem
// has been read: an error from problems is returned with w untouched.
func Export(w io.Writer, problems iter.Seq2[*workflow.Problem, error], o ExportOptions) (err error) {
	f := excelize.NewFile(excelize.Options{TmpDir: o.TmpDir})
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = cerr
		}
	}()
	if err := f.SetSheetName(f.GetSheetName(0), SheetLedger); err != nil {
		return err
	}
	if _, err := f.NewSheet(SheetStats); err != nil {
		return err
	}
	st, err := newStyles(f)
	if err != nil {
		return err
	}
	if err := writeProblems(f, st, problems, o); err != nil {
		return err
	}
	if err := writeStats(f, st, o.Stats); err != nil {
		return err
	}
	// The ledger sheet is the active one already (the first of a new file);
	// SetActiveSheet now would read the streamed sheet back into memory.
	_, err = f.WriteTo(w)
	return err
}

func writeProblems(f *excelize.File, st *styles, problems iter.Seq2[*workflow.Problem, error], o ExportOptions) error {
	sw, err := f.NewStreamWriter(SheetLedger)
	if err != nil {
		return err
	}
	for i, c := range Columns {
		if err := sw.SetColWidth(i+1, i+1, widths[c]); err != nil {
			return err
		}
	}
	if err := sw.SetPanes(&excelize.Panes{Freeze: true, YSplit: 1, TopLeftCell: "A2", ActivePane: "bottomLeft",
		Selection: []excelize.Selection{{SQRef: "A2", ActiveCell: "A2", Pane: "bottomLeft"}}}); err != nil {
		return err
	}
	row := make([]any, len(Columns))
	for i, c := range Columns {
		row[i] = excelize.Cell{StyleID: st.header, Value: c}
	}
	if err := sw.SetRow("A1", row, excelize.RowOpts{Height: 30}); err != nil {
		return err
	}
	if o.Policy == (workflow.Policy{}) {
		o.Policy = workflow.DefaultPolicy()
	}
	progress := o.Progress
	if progress == nil {
		progress = LatestProgress
	}
	wps := make(map[int]workflow.WorkPoint, len(o.WorkPoints))
	for _, wp := range o.WorkPoints {
		wps[wp.Number] = wp
	}
	unit := func(id string) string {
		if u, ok := o.Units[id]; ok {
			return u.Name
		}
		return id
	}
	text := func(s string) excelize.Cell {
		if s == "" {
			return excelize.Cell{StyleID: st.text}
		}
		return excelize.Cell{StyleID: st.text, Value: s}
	}
	when := func(t *time.Time, style int) excelize.Cell {
		if t == nil {
			return excelize.Cell{StyleID: style}
		}
		return excelize.Cell{StyleID: style, Value: t.In(workflow.Shanghai)}
	}
	var coop strings.Builder
	n := 0
	for p, err := range problems {
		if err != nil {
			return err
		}
		n++
		coop.Reset()
		for i, id := range p.CooperatingUnits {
			if i > 0 {
				coop.WriteString("、")
			}
			coop.WriteString(unit(id))
		}
		level := p.LevelAt(o.Now, o.Policy)
		overdue := workflow.LabelNo
		if level.IsOverdue() {
			overdue = workflow.LabelYes
		}
		lead := ""
		if p.LeadUnit != "" {
			lead = unit(p.LeadUnit)
		}
		row[0] = excelize.Cell{StyleID: st.center, Value: n}
		row[1] = text(p.Code)
		row[2] = text(p.Source.Label())
		row[3] = text(p.SourceRef)
		row[4] = text(p.Description)
		row[5] = text(unit(p.CountyID))
		row[6] = text(WorkPointLabel(p.WorkPoint, wps))
		row[7] = text(lead)
		row[8] = text(coop.String())
		row[9] = text(p.Requirements)
		row[10] = text(p.Plan)
		row[11] = when(p.Deadline, st.date)
		row[12] = when(p.OriginalDeadline, st.date)
		row[13] = excelize.Cell{StyleID: st.center, Value: p.StatusLabel()}
		row[14] = text(progress(p))
		row[15] = excelize.Cell{StyleID: st.center, Value: overdue}
		row[16] = excelize.Cell{StyleID: st.center, Value: nilIfEmpty(level.Label())}
		row[17] = when(signedAt(p, workflow.TriggerVerify), st.datetime)
		row[18] = when(signedAt(p, workflow.TriggerClose), st.datetime)
		row[19] = text(p.Title)
		row[20] = text(p.Location)
		row[21] = text(positionCell(p))
		cell, err := excelize.CoordinatesToCellName(1, n+1)
		if err != nil {
			return err
		}
		if err := sw.SetRow(cell, row); err != nil {
			return fmt.Errorf("ledger: row %d (problem %s): %w", n+1, p.ID, err)
		}
	}
	return sw.Flush()
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// Columns of the statistics tables.
var statsColumns = []string{
	"分组", "代码", "问题总数", workflow.StateFound.Label(), workflow.StateAssigned.Label(), workflow.StateRectifying.Label(),
	workflow.StateSubmitted.Label(), workflow.StateVerified.Label(), workflow.StateInNotice.Label(), workflow.StateClosed.Label(), workflow.LabelDismissedCount,
	"已销号", "当前逾期", "按期销号", "逾期销号", "延期", "整改完成率", "按期完成率", "交办至销号用时中位数（天）",
}

func writeStats(f *excelize.File, st *styles, reports []*workflow.StatsReport) error {
	sw, err := f.NewStreamWriter(SheetStats)
	if err != nil {
		return err
	}
	if err := sw.SetColWidth(1, 1, 30); err != nil {
		return err
	}
	if err := sw.SetColWidth(2, 2, 20); err != nil {
		return err
	}
	if err := sw.SetColWidth(3, len(statsColumns)-1, 10); err != nil {
		return err
	}
	if err := sw.SetColWidth(len(statsColumns), len(statsColumns), 16); err != nil {
		return err
	}
	r := 0
	put := func(values []any, opts ...excelize.RowOpts) error {
		r++
		cell, err := excelize.CoordinatesToCellName(1, r)
		if err != nil {
			return err
		}
		return sw.SetRow(cell, values, opts...)
	}
	if len(reports) == 0 {
		if err := put([]any{"（未附统计）"}); err != nil {
			return err
		}
		return sw.Flush()
	}
	header := make([]any, len(statsColumns))
	for i, c := range statsColumns {
		header[i] = excelize.Cell{StyleID: st.header, Value: c}
	}
	for i, rep := range reports {
		if i > 0 {
			r++ // a blank row between tables
		}
		title := fmt.Sprintf("按%s统计（截至 %s）", workflow.GroupByLabel(rep.GroupBy), rep.At.In(workflow.Shanghai).Format("2006-01-02 15:04"))
		if err := put([]any{excelize.Cell{StyleID: st.title, Value: title}}, excelize.RowOpts{Height: 20}); err != nil {
			return err
		}
		if err := put(header, excelize.RowOpts{Height: 30}); err != nil {
			return err
		}
		for _, row := range rep.Rows {
			if err := put(statsRow(st, row, row.Label, row.Key)); err != nil {
				return err
			}
		}
		if err := put(statsRow(st, rep.Total, "合计", "")); err != nil {
			return err
		}
	}
	return sw.Flush()
}

func statsRow(st *styles, r workflow.StatsRow, label, key string) []any {
	n := func(v int) any { return excelize.Cell{StyleID: st.int, Value: v} }
	opt := func(v *float64, style int) any {
		if v == nil {
			return excelize.Cell{StyleID: style}
		}
		return excelize.Cell{StyleID: style, Value: *v}
	}
	b := r.ByState
	return []any{
		excelize.Cell{StyleID: st.text, Value: label}, excelize.Cell{StyleID: st.text, Value: nilIfEmpty(key)},
		n(r.Total), n(b[workflow.StateFound]), n(b[workflow.StateAssigned]), n(b[workflow.StateRectifying]),
		n(b[workflow.StateSubmitted]), n(b[workflow.StateVerified]), n(b[workflow.StateInNotice]), n(b[workflow.StateClosed]), n(r.Dismissed),
		n(r.ClosedRectified), n(r.Overdue), n(r.ClosedOnTime), n(r.ClosedLate), n(r.Extended),
		opt(r.CompletionRate, st.percent), opt(r.OnTimeRate, st.percent), opt(r.MedianDaysToClose, st.days),
	}
}

// WriteLedger exports the ledger a may see through svc to w: the problems
// matching f (the problem list's filters; Cursor and Limit ignored), with
// statistics by every grouping (workflow.GroupBys) over the same problems.
// A zero asOf exports the current ledger, overdue computed at the service's
// clock; otherwise the ledger as it stood at asOf (workflow.ParseAsOf), rebuilt
// from history, overdue computed at asOf.
//
// Cost: the rows stream; the statistics read every problem's history
// (workflow.Service.StatsReports), and a point-in-time export reads it twice
// (rows, then statistics).
func WriteLedger(ctx context.Context, w io.Writer, svc *workflow.Service, a workflow.Actor, f workflow.ProblemFilter, asOf time.Time) error {
	f.Cursor, f.Limit = "", 0
	units, err := svc.Units(ctx)
	if err != nil {
		return err
	}
	wps, err := svc.WorkPoints(ctx)
	if err != nil {
		return err
	}
	stats, err := svc.StatsReports(ctx, a, f, asOf, workflow.GroupBys...)
	if err != nil {
		return err
	}
	o := ExportOptions{Units: map[string]workflow.Unit{}, WorkPoints: wps, Stats: stats, Now: asOf, Policy: svc.Policy()}
	for _, u := range units {
		o.Units[u.ID] = u
	}
	problems := svc.EachProblemAsOf(ctx, a, f, asOf)
	if asOf.IsZero() {
		o.Now = stats[0].At
		problems = svc.EachProblem(ctx, a, f)
	}
	return Export(w, problems, o)
}

// positionCell is the 经纬度 cell: "纬度, 经度" in WGS-84 to 6 decimals
// (about 0.1 m), empty without a position.
func positionCell(p *workflow.Problem) string {
	if p.Position == nil {
		return ""
	}
	return strconv.FormatFloat(p.Position.Lat, 'f', 6, 64) + ", " + strconv.FormatFloat(p.Position.Lng, 'f', 6, 64)
}
