package ledgerfile

import (
	"context"
	"fmt"
	"io"
	"iter"
	"strconv"
	"strings"
	"time"

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
	// Progress gives Export the 最新进展 cell of a problem; nil leaves it
	// empty. (WriteLedger writes the latest progress note.)
	Progress func(p *workflow.Problem) string
}

// Column widths, in characters, by column name.
var widths = map[string]float64{
	ColSeq: 6, ColCode: 15, ColSource: 14, ColSourceRef: 24, ColDescription: 50, ColCounty: 11,
	ColWorkPoint: 24, ColLeadUnit: 16, ColCooperating: 26, ColRequirements: 36, ColPlan: 36,
	ColDeadline: 12, ColOriginal: 12, ColState: 9, ColProgress: 36, ColOverdue: 8, ColLevel: 11,
	ColVerifiedAt: 17, ColClosedAt: 17, ColTitle: 26, ColLocation: 16, ColPosition: 22,
}

// flushEvery is how many rows go out together.
const flushEvery = 256

// Export writes the ledger as an .xlsx workbook to w: the sheet 「整改台账」
// (a bold, frozen header row of Columns with an autofilter, then one row per
// problem in the order problems yields them) and the sheet 「统计」 (o.Stats).
// Text is wrapped; dates are date cells (numbers with a date format) in
// Asia/Shanghai: 整改时限 and 原定时限 as yyyy-mm-dd (the value keeps the time
// of day, 23:59:59 for a deadline given as a date), 验收时间 and 销号时间 as
// yyyy-mm-dd hh:mm.
//
// It streams: the workbook's first parts are written (and flushed, when w
// can be) before the first problem is read, each row as its problem comes,
// sent on every few hundred rows; memory does not grow with the rows. An
// error from problems is returned with the workbook cut short: the caller
// must not pass it for a whole one.
func Export(w io.Writer, problems iter.Seq2[*workflow.Problem, error], o ExportOptions) error {
	lw, err := beginLedger(w, o)
	if err != nil {
		return err
	}
	for p, err := range problems {
		if err != nil {
			return err
		}
		note := ""
		if o.Progress != nil {
			note = o.Progress(p)
		}
		if err := lw.row(p, note); err != nil {
			return err
		}
	}
	return lw.finish(o.Stats)
}

// ledgerWriter writes the ledger workbook row by row.
type ledgerWriter struct {
	ww    *workbookWriter
	sw    *sheetWriter
	o     ExportOptions
	wps   map[int]workflow.WorkPoint
	n     int
	cells []cell
	coop  strings.Builder
}

func beginLedger(w io.Writer, o ExportOptions) (*ledgerWriter, error) {
	if o.Policy == (workflow.Policy{}) {
		o.Policy = workflow.DefaultPolicy()
	}
	lw := &ledgerWriter{ww: newWorkbookWriter(w), o: o, wps: make(map[int]workflow.WorkPoint, len(o.WorkPoints)),
		cells: make([]cell, len(Columns))}
	for _, wp := range o.WorkPoints {
		lw.wps[wp.Number] = wp
	}
	if err := lw.ww.prelude(SheetLedger, SheetStats); err != nil {
		return nil, err
	}
	cols := make([]column, len(Columns))
	for i, c := range Columns {
		cols[i] = column{widths[c]}
	}
	sw, err := lw.ww.beginSheet(1, cols, true)
	if err != nil {
		return nil, err
	}
	lw.sw = sw
	header := make([]cell, len(Columns))
	for i, c := range Columns {
		header[i] = textCell(styleHeader, c)
	}
	if err := sw.writeRow(30, header...); err != nil {
		return nil, err
	}
	return lw, lw.ww.flush()
}

func (lw *ledgerWriter) unit(id string) string {
	if u, ok := lw.o.Units[id]; ok {
		return u.Name
	}
	return id
}

// row writes problem p's row, note its 最新进展.
func (lw *ledgerWriter) row(p *workflow.Problem, note string) error {
	lw.n++
	lw.coop.Reset()
	for i, id := range p.CooperatingUnits {
		if i > 0 {
			lw.coop.WriteString("、")
		}
		lw.coop.WriteString(lw.unit(id))
	}
	level := p.LevelAt(lw.o.Now, lw.o.Policy)
	overdue := workflow.LabelNo
	if level.IsOverdue() {
		overdue = workflow.LabelYes
	}
	lead := ""
	if p.LeadUnit != "" {
		lead = lw.unit(p.LeadUnit)
	}
	c := lw.cells
	c[0] = numCell(styleCenter, float64(lw.n))
	c[1] = textCell(styleText, p.Code)
	c[2] = textCell(styleText, p.Source.Label())
	c[3] = textCell(styleText, p.SourceRef)
	c[4] = textCell(styleText, p.Description)
	c[5] = textCell(styleText, lw.unit(p.CountyID))
	c[6] = textCell(styleText, WorkPointLabel(p.WorkPoint, lw.wps))
	c[7] = textCell(styleText, lead)
	c[8] = textCell(styleText, lw.coop.String())
	c[9] = textCell(styleText, p.Requirements)
	c[10] = textCell(styleText, p.Plan)
	c[11] = timeCell(styleDate, p.Deadline)
	c[12] = timeCell(styleDate, p.OriginalDeadline)
	c[13] = textCell(styleCenter, p.StatusLabel())
	c[14] = textCell(styleText, note)
	c[15] = textCell(styleCenter, overdue)
	c[16] = textCell(styleCenter, level.Label())
	c[17] = timeCell(styleDateTime, signedAt(p, workflow.TriggerVerify))
	c[18] = timeCell(styleDateTime, signedAt(p, workflow.TriggerClose))
	c[19] = textCell(styleText, p.Title)
	c[20] = textCell(styleText, p.Location)
	c[21] = textCell(styleText, positionCell(p))
	if err := lw.sw.writeRow(0, c...); err != nil {
		return fmt.Errorf("ledger: row %d (problem %s): %w", lw.n+1, p.ID, err)
	}
	if lw.n%flushEvery == 0 {
		return lw.ww.flush()
	}
	return nil
}

// finish ends the ledger sheet (its autofilter over the header and every
// row), writes the statistics sheet and ends the workbook.
func (lw *ledgerWriter) finish(stats []*workflow.StatsReport) error {
	last := columnName(len(Columns))
	ref := "A1:" + last + strconv.Itoa(lw.n+1)
	lw.ww.filter = "'" + SheetLedger + "'!$A$1:$" + last + "$" + strconv.Itoa(lw.n+1)
	if err := lw.sw.endSheet(ref); err != nil {
		return err
	}
	if err := writeStats(lw.ww, stats); err != nil {
		return err
	}
	return lw.ww.finish()
}

// Columns of the statistics tables.
var statsColumns = []string{
	"分组", "代码", "问题总数", workflow.StateFound.Label(), workflow.StateAssigned.Label(), workflow.StateRectifying.Label(),
	workflow.StateSubmitted.Label(), workflow.StateVerified.Label(), workflow.StateInNotice.Label(), workflow.StateClosed.Label(), workflow.LabelDismissedCount,
	"已销号", "当前逾期", "按期销号", "逾期销号", "延期", "整改完成率", "按期完成率", "交办至销号用时中位数（天）",
}

func writeStats(ww *workbookWriter, reports []*workflow.StatsReport) error {
	cols := make([]column, len(statsColumns))
	for i := range cols {
		cols[i] = column{10}
	}
	cols[0], cols[1], cols[len(cols)-1] = column{30}, column{20}, column{16}
	sw, err := ww.beginSheet(2, cols, false)
	if err != nil {
		return err
	}
	if len(reports) == 0 {
		if err := sw.writeRow(0, textCell(styleDefault, "（未附统计）")); err != nil {
			return err
		}
		return sw.endSheet("")
	}
	header := make([]cell, len(statsColumns))
	for i, c := range statsColumns {
		header[i] = textCell(styleHeader, c)
	}
	for i, rep := range reports {
		if i > 0 {
			if err := sw.writeRow(0); err != nil { // a blank row between tables
				return err
			}
		}
		title := fmt.Sprintf("按%s统计（截至 %s）", workflow.GroupByLabel(rep.GroupBy), rep.At.In(workflow.Shanghai).Format("2006-01-02 15:04"))
		if err := sw.writeRow(20, textCell(styleTitle, title)); err != nil {
			return err
		}
		if err := sw.writeRow(30, header...); err != nil {
			return err
		}
		for _, row := range rep.Rows {
			if err := sw.writeRow(0, statsRow(row, row.Label, row.Key)...); err != nil {
				return err
			}
		}
		if err := sw.writeRow(0, statsRow(rep.Total, "合计", "")...); err != nil {
			return err
		}
	}
	return sw.endSheet("")
}

func statsRow(r workflow.StatsRow, label, key string) []cell {
	n := func(v int) cell { return numCell(styleInt, float64(v)) }
	opt := func(v *float64, style int) cell {
		if v == nil {
			return cell{style: style}
		}
		return numCell(style, finite(*v))
	}
	b := r.ByState
	return []cell{
		textCell(styleText, label), textCell(styleText, key),
		n(r.Total), n(b[workflow.StateFound]), n(b[workflow.StateAssigned]), n(b[workflow.StateRectifying]),
		n(b[workflow.StateSubmitted]), n(b[workflow.StateVerified]), n(b[workflow.StateInNotice]), n(b[workflow.StateClosed]), n(r.Dismissed),
		n(r.ClosedRectified), n(r.Overdue), n(r.ClosedOnTime), n(r.ClosedLate), n(r.Extended),
		opt(r.CompletionRate, stylePercent), opt(r.OnTimeRate, stylePercent), opt(r.MedianDaysToClose, styleDays),
	}
}

// WriteLedger exports the ledger a may see through svc to w: the problems
// matching f (the problem list's filters; Cursor and Limit ignored), with
// statistics by every grouping (workflow.GroupBys) over the same problems.
// A zero asOf exports the current ledger, overdue computed at the service's
// clock; otherwise the ledger as it stood at asOf (workflow.ParseAsOf), rebuilt
// from history, overdue computed at asOf.
//
// It reads the ledger once (workflow.LedgerWalk): each problem's row is
// written as it is read, with its latest progress note, and the statistics sheet, which needs every problem, at the end. The
// first bytes go out before any problem is read. A bad filter is an error
// before anything is written; an error after (the store failing part-way)
// leaves w holding a workbook cut short, which the caller must not pass for
// a whole one.
func WriteLedger(ctx context.Context, w io.Writer, svc *workflow.Service, a workflow.Actor, f workflow.ProblemFilter, asOf time.Time) error {
	walk, err := svc.NewLedgerWalk(a, f, asOf, workflow.GroupBys...)
	if err != nil {
		return err
	}
	units, err := svc.Units(ctx)
	if err != nil {
		return err
	}
	wps, err := svc.WorkPoints(ctx)
	if err != nil {
		return err
	}
	o := ExportOptions{Units: map[string]workflow.Unit{}, WorkPoints: wps, Now: walk.At(), Policy: svc.Policy()}
	for _, u := range units {
		o.Units[u.ID] = u
	}
	lw, err := beginLedger(w, o)
	if err != nil {
		return err
	}
	stats, err := walk.Run(ctx, lw.row)
	if err != nil {
		return err
	}
	return lw.finish(stats)
}

// positionCell is the 经纬度 cell: "纬度, 经度" in WGS-84 to 6 decimals
// (about 0.1 m), empty without a position.
func positionCell(p *workflow.Problem) string {
	if p.Position == nil {
		return ""
	}
	return strconv.FormatFloat(p.Position.Lat, 'f', 6, 64) + ", " + strconv.FormatFloat(p.Position.Lng, 'f', 6, 64)
}
