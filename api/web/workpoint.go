package web

import (
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/jdz-eco/rectify/workflow"
)

// workPointPage is a work point's page: the plan's words, the units it
// charges, its targets, the counts of its problems and its history (the
// reports and alerts of dispatch rounds).
type workPointPage struct {
	Number                       int
	Section, Title, Text         string
	Units                        []field
	Targets                      []string
	Total, Closed, Open, Overdue int
	Completion                   string
	Timeline                     []timelineEntry
}

// workPoint serves GET /workpoints/:number.
func (w *Web) workPoint(c echo.Context) error {
	ctx := c.Request().Context()
	a := actor(c)
	n, err := strconv.Atoi(c.Param("number"))
	if err != nil || strconv.Itoa(n) != c.Param("number") {
		return workflow.Refuse(workflow.ReasonWorkPointNotFound, "work point %q not found", c.Param("number"))
	}
	hist, err := w.svc.WorkPointHistory(ctx, a, n)
	if err != nil {
		return err
	}
	cat, err := w.catalog(ctx)
	if err != nil {
		return err
	}
	wp := cat.wps[n]
	p := workPointPage{Number: n, Section: wp.Section, Title: wp.Title, Text: wp.Text}
	add := func(label string, ids []string) {
		if len(ids) > 0 {
			p.Units = append(p.Units, field{Label: label, Value: cat.unitList(ids), Wide: true})
		}
	}
	add("牵头单位", wp.LeadUnits)
	add("责任单位（负责）", wp.ResponsibleUnits)
	add("配合单位", wp.CooperatingUnits)
	for _, g := range wp.UnitGroups {
		units := "待明确"
		if g.Resolved() {
			units = cat.unitList(g.Units)
		}
		p.Units = append(p.Units, field{Label: g.Name + "（" + workflow.DutyLabel(g.Duty) + "）", Value: units, Wide: true})
	}
	for _, t := range wp.Targets {
		p.Targets = append(p.Targets, t.Name+" "+strconv.FormatFloat(t.Amount, 'f', -1, 64)+t.Unit)
	}
	rep, err := w.svc.Stats(ctx, a, workflow.GroupByWorkPoint, time.Time{})
	if err != nil {
		return err
	}
	for _, r := range rep.Rows {
		if r.Key == strconv.Itoa(n) {
			p.Total, p.Closed, p.Open, p.Overdue = r.Total, r.ClosedRectified, r.Open, r.Overdue
			p.Completion = fmtPercent(r.CompletionRate)
		}
	}
	for _, e := range hist {
		p.Timeline = append(p.Timeline, timelineOf(e, cat))
	}
	return w.render(c, http.StatusOK, "workpoint", "第"+strconv.Itoa(n)+"条 "+wp.Title, "stats", p)
}
