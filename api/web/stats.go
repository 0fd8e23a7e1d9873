package web

import (
	"net/http"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/jdz-eco/rectify/workflow"
)

// statsPage is the 统计 page's data.
type statsPage struct {
	At         string
	Summary    []field
	Charts     []chart
	WorkPoints []workPointRow
	Reporting  []reportingRow // 报送及时率 per unit, over the rounds due
	Error      string         // a refused unit group form
}

// reportingRow is one unit's reporting record in dispatch rounds.
type reportingRow struct {
	workflow.ReportingRate
	RateText string
}

type workPointRow struct {
	Number                       int
	Title                        string
	Total, Closed, Open, Overdue int
	Completion, OnTime           string
	Groups                       []unitGroupRow
	Reports                      int    // reports on the point itself in dispatch rounds
	LastReport                   string // when the latest came
}

// unitGroupRow is a group a work point names without its units: the units
// the bureau named, or that it waits for them, and the bureau's form.
type unitGroupRow struct {
	Name, Duty, Units string
	Resolved          bool
	Options           []optgroup // the form's choices; nil when the user may not resolve
}

// chart is a horizontal bar chart drawn as SVG on the server; every
// coordinate is computed here, so the template only places them.
type chart struct {
	Title, Note, Empty string
	Width, Height      int
	Bars               []bar
}

type bar struct {
	Label, Full, Value, Class string
	LabelX, TextY             int
	RectX, RectY, RectW       int
	ValueX                    int
}

// Chart geometry, in SVG user units (the chart scales to its box).
const (
	chartWidth  = 640
	chartLabelW = 190
	chartValueW = 70
	barHeight   = 20
	barGap      = 10
	chartPad    = 8
	labelRunes  = 12
)

// newChart draws values (with their texts) against labels; max is the
// full-width value (0: the largest value).
func newChart(title, note, empty string, labels []string, values []float64, texts []string, max float64, class string) chart {
	ch := chart{Title: title, Note: note, Width: chartWidth}
	if len(labels) == 0 {
		ch.Empty = empty
		return ch
	}
	if max <= 0 {
		for _, v := range values {
			if v > max {
				max = v
			}
		}
	}
	span := chartWidth - chartLabelW - chartValueW
	for i, l := range labels {
		y := chartPad + i*(barHeight+barGap)
		w := 0
		if max > 0 {
			w = int(values[i] / max * float64(span))
		}
		if values[i] > 0 && w < 2 {
			w = 2
		}
		short := l
		if utf8.RuneCountInString(l) > labelRunes {
			short = string([]rune(l)[:labelRunes-1]) + "…"
		}
		ch.Bars = append(ch.Bars, bar{
			Label: short, Full: l, Value: texts[i], Class: class,
			LabelX: chartLabelW - 8, TextY: y + barHeight - 5,
			RectX: chartLabelW, RectY: y, RectW: w, ValueX: chartLabelW + w + 6,
		})
	}
	ch.Height = 2*chartPad + len(labels)*(barHeight+barGap) - barGap
	return ch
}

// stats serves GET /stats: counts by state, overdue problems by county and
// by lead unit, completion and on-time rates by county as bar charts, and
// the work points' assessment (工作要点落实情况评估), over the problems the user
// may see (workflow.Service.StatsReports, one pass).
func (w *Web) stats(c echo.Context) error {
	return w.showStats(c, http.StatusOK, "")
}

// showStats renders the 统计 page with status, and a refusal at its top.
func (w *Web) showStats(c echo.Context, status int, refusal string) error {
	ctx := c.Request().Context()
	cat, err := w.catalog(ctx)
	if err != nil {
		return err
	}
	reps, err := w.svc.StatsReports(ctx, actor(c), workflow.ProblemFilter{}, time.Time{},
		workflow.GroupByState, workflow.GroupByCounty, workflow.GroupByLeadUnit, workflow.GroupByWorkPoint)
	if err != nil {
		return err
	}
	byState, byCounty, byLead, byWP := reps[0], reps[1], reps[2], reps[3]
	tot := byState.Total
	sp := statsPage{At: fmtTime(byState.At), Error: refusal}
	sp.Summary = []field{
		{Label: "问题总数", Value: strconv.Itoa(tot.Total)},
		{Label: "已销号", Value: strconv.Itoa(tot.ClosedRectified)},
		{Label: "未办结", Value: strconv.Itoa(tot.Open)},
		{Label: "逾期", Value: strconv.Itoa(tot.Overdue)},
		{Label: "延期", Value: strconv.Itoa(tot.Extended)},
		{Label: "有核查提示的佐证材料", Value: strconv.Itoa(tot.FlaggedEvidence)},
		{Label: "整改完成率", Value: fmtPercent(tot.CompletionRate)},
		{Label: "按时完成率", Value: fmtPercent(tot.OnTimeRate)},
	}

	var labels, texts []string
	var values []float64
	reset := func() { labels, texts, values = nil, nil, nil }
	count := func(label string, n int) {
		labels, values, texts = append(labels, label), append(values, float64(n)), append(texts, strconv.Itoa(n))
	}
	rate := func(label string, r *float64) {
		v := 0.0
		if r != nil {
			v = *r
		}
		labels, values, texts = append(labels, label), append(values, v), append(texts, fmtPercent(r))
	}

	for _, r := range byState.Rows {
		count(r.Label, r.Total)
	}
	sp.Charts = append(sp.Charts, newChart("各状态问题数", "已办结含已撤销的问题。", "暂无问题。", labels, values, texts, 0, "state"))

	reset()
	for _, r := range byCounty.Rows {
		if r.Total > 0 {
			count(r.Label, r.Overdue)
		}
	}
	sp.Charts = append(sp.Charts, newChart("逾期问题数（按所在县市区）", "黄牌、红牌、挂牌督办均计为逾期；待验收期间不计时。", "暂无问题。", labels, values, texts, 0, "overdue"))

	reset()
	leads := slices.Clone(byLead.Rows)
	slices.SortStableFunc(leads, func(a, b workflow.StatsRow) int { return b.Overdue - a.Overdue })
	for _, r := range leads {
		if r.Overdue > 0 && r.Key != "" {
			count(r.Label, r.Overdue)
		}
	}
	sp.Charts = append(sp.Charts, newChart("逾期问题数（按牵头单位）", "只列出有逾期问题的单位。", "目前没有逾期问题。", labels, values, texts, 0, "overdue"))

	reset()
	flagged := slices.Clone(byLead.Rows)
	slices.SortStableFunc(flagged, func(a, b workflow.StatsRow) int { return b.FlaggedEvidence - a.FlaggedEvidence })
	for _, r := range flagged {
		if r.FlaggedEvidence > 0 && r.Key != "" {
			count(r.Label, r.FlaggedEvidence)
		}
	}
	sp.Charts = append(sp.Charts, newChart("有核查提示的佐证材料（按牵头单位）", "照片拍摄时间、位置、修图软件、相似照片等提示，供验收参考，不代表造假。", "暂无有核查提示的佐证材料。", labels, values, texts, 0, "overdue"))

	reset()
	for _, r := range byCounty.Rows {
		if r.Total > 0 {
			rate(r.Label, r.CompletionRate)
		}
	}
	sp.Charts = append(sp.Charts, newChart("整改完成率（按所在县市区）", "已销号 ÷（问题数 − 已撤销）。", "暂无问题。", labels, values, texts, 1, "rate"))

	reset()
	for _, r := range byCounty.Rows {
		if r.Total > 0 {
			rate(r.Label, r.OnTimeRate)
		}
	}
	sp.Charts = append(sp.Charts, newChart("按时完成率（按所在县市区）", "按时销号 ÷ 已销号；经批准延期、在延期后的时限内完成的计为按时。", "暂无问题。", labels, values, texts, 1, "ontime"))

	mayResolve := w.svc.MayResolveUnitGroups(actor(c))
	for _, r := range byWP.Rows {
		n, _ := strconv.Atoi(r.Key)
		row := workPointRow{
			Number: n, Title: r.Label, Total: r.Total, Closed: r.ClosedRectified,
			Open:    r.Open,
			Overdue: r.Overdue, Completion: fmtPercent(r.CompletionRate), OnTime: fmtPercent(r.OnTimeRate),
		}
		for _, g := range cat.wps[n].UnitGroups {
			gr := unitGroupRow{Name: g.Name, Duty: workflow.DutyLabel(g.Duty), Units: "待明确", Resolved: g.Resolved()}
			if g.Resolved() {
				gr.Units = cat.unitList(g.Units)
			}
			if mayResolve {
				gr.Options = cat.unitGroups(g.Units, g.Kinds...)
			}
			row.Groups = append(row.Groups, gr)
		}
		if n > 0 {
			hist, err := w.svc.WorkPointHistory(ctx, actor(c), n)
			if err != nil {
				return err
			}
			for _, e := range hist {
				if e.Action == workflow.ActionReport {
					row.Reports++
					row.LastReport = fmtTime(e.At)
				}
			}
		}
		sp.WorkPoints = append(sp.WorkPoints, row)
	}
	rates, err := w.svc.ReportingRates(ctx, actor(c))
	if err != nil {
		return err
	}
	for _, r := range rates {
		sp.Reporting = append(sp.Reporting, reportingRow{ReportingRate: r, RateText: fmtPercent(r.Rate)})
	}
	return w.render(c, status, "stats", "统计分析", "stats", sp)
}

// resolveUnitGroup serves POST /workpoints/:number/unit-groups (the
// bureau): name, and the units the group stands for.
func (w *Web) resolveUnitGroup(c echo.Context) error {
	form, err := c.FormParams()
	if err != nil {
		return err
	}
	n, err := strconv.Atoi(c.Param("number"))
	if err != nil {
		return workflow.Refuse(workflow.ReasonWorkPointNotFound, "work point %q not found", c.Param("number"))
	}
	name := form.Get("name")
	_, err = w.svc.ResolveUnitGroup(c.Request().Context(), actor(c), n, name, form["units"])
	switch workflow.ErrorCode(err) {
	case "":
		return c.Redirect(http.StatusSeeOther, "/stats?done=unit-group#wp-"+strconv.Itoa(n))
	case workflow.CodeInternal:
		return err
	}
	return w.showStats(c, statusOf(err), "第"+strconv.Itoa(n)+"条「"+name+"」："+errorText(err, w.evidenceMax))
}
