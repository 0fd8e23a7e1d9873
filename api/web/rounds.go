package web

import (
	"bytes"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/jdz-eco/rectify/api/files"
	"github.com/jdz-eco/rectify/workflow"
	"github.com/jdz-eco/rectify/workflow/roundfile"
)

// The pages of dispatch rounds (调度): the list with the bureau's form to
// open one, a round's board (every unit's tally, the missing ones marked)
// with the forms of the reports the user's unit owes, and its summary.

// roundsListLimit bounds the rounds the list shows.
const roundsListLimit = 50

// roundsPage is the 调度 page's data.
type roundsPage struct {
	Form   *roundForm // the bureau's form; nil for others
	Rounds []roundSummary
	Unit   bool // the user is a unit officer: the counts are its own
}

// roundForm is the bureau's form to open a round.
type roundForm struct {
	Values     url.Values
	Error      string
	Sources    []option
	Counties   []optgroup
	LeadUnits  []optgroup
	WorkPoints []option
}

// roundSummary is one round of the list.
type roundSummary struct {
	ID, Title, Period, Due, Opened, Status string
	IsDue                                  bool
	Total                                  workflow.RoundTally
}

// rounds serves GET /rounds: the rounds the user may see, newest first
// (a unit officer: those asking its unit, with its own counts).
func (w *Web) rounds(c echo.Context) error {
	return w.showRounds(c, http.StatusOK, nil)
}

func (w *Web) showRounds(c echo.Context, status int, form *roundForm) error {
	ctx := c.Request().Context()
	a := actor(c)
	cat, err := w.catalog(ctx)
	if err != nil {
		return err
	}
	rp := roundsPage{Unit: a.Role == workflow.RoleUnit}
	if w.svc.MayOpenRounds(a) {
		if form == nil {
			form = &roundForm{Values: url.Values{"scope": {workflow.ScopeProblems}}}
		}
		v := form.Values
		for _, s := range workflow.Sources {
			form.Sources = append(form.Sources, option{Value: string(s), Label: s.Label(), Selected: slices.Contains(v["sources"], string(s))})
		}
		form.Counties = cat.unitGroups(v["counties"], countyKinds...)
		form.LeadUnits = cat.unitGroups(v["lead_units"], leadKinds...)
		for _, o := range cat.workPointOptions("") {
			o.Selected = slices.Contains(v["work_points"], o.Value)
			form.WorkPoints = append(form.WorkPoints, o)
		}
		rp.Form = form
	}
	heads, err := w.svc.Rounds(ctx, a)
	if err != nil {
		return err
	}
	for _, h := range heads[:min(len(heads), roundsListLimit)] {
		b, err := w.svc.RoundBoard(ctx, a, h.ID)
		if err != nil {
			return err
		}
		rp.Rounds = append(rp.Rounds, roundSummary{
			ID: h.ID, Title: h.Title, Period: h.Period, Due: fmtTime(h.Due), Opened: fmtTime(h.OpenedAt),
			Status: roundStatus(b.Due), IsDue: b.Due, Total: b.Total,
		})
	}
	return w.render(c, status, "rounds", "调度", "rounds", rp)
}

// pendingRounds returns the rounds (newest first, at most
// roundsListLimit) in which the user's unit still owes reports, with its
// counts: what a unit officer's start page lists.
func (w *Web) pendingRounds(c echo.Context) ([]roundSummary, error) {
	ctx := c.Request().Context()
	a := actor(c)
	heads, err := w.svc.Rounds(ctx, a)
	if err != nil {
		return nil, err
	}
	var out []roundSummary
	for _, h := range heads[:min(len(heads), roundsListLimit)] {
		b, err := w.svc.RoundBoard(ctx, a, h.ID)
		if err != nil {
			return nil, err
		}
		if b.Total.Missing > 0 {
			out = append(out, roundSummary{ID: h.ID, Title: h.Title, Period: h.Period, Due: fmtTime(h.Due),
				Status: roundStatus(b.Due), IsDue: b.Due, Total: b.Total})
		}
	}
	return out, nil
}

func roundStatus(due bool) string {
	if due {
		return "已截止"
	}
	return "报送中"
}

// openRound serves POST /rounds (the bureau): title, period, due (a date),
// scope (problems, points or both), and the problems' filters or the work
// points. A refusal shows the list again with the form as sent.
func (w *Web) openRound(c echo.Context) error {
	form, err := c.FormParams()
	if err != nil {
		return err
	}
	in := workflow.NewRound{Title: form.Get("title"), Period: form.Get("period")}
	if d := strings.TrimSpace(form.Get("due")); d != "" {
		if in.Due, err = workflow.ParseDeadline(d); err != nil {
			err = workflow.RefuseField(workflow.ReasonBadDate, "due", "due %q is not a date", d)
		}
	}
	kind := form.Get("scope")
	if err == nil {
		in.Scope, err = scopeOf(kind, form)
	}
	var r *workflow.Round
	if err == nil {
		r, _, err = w.svc.OpenRound(c.Request().Context(), actor(c), in)
	}
	if err != nil {
		if !w.svc.MayOpenRounds(actor(c)) || workflow.ErrorCode(err) == workflow.CodeInternal {
			return err
		}
		return w.showRounds(c, statusOf(err), &roundForm{Values: form, Error: errorText(err, w.evidenceMax)})
	}
	return c.Redirect(http.StatusSeeOther, "/rounds/"+url.PathEscape(r.ID)+"?done=round")
}

// scopeOf reads the form's scope: kind is problems, points or both.
func scopeOf(kind string, form url.Values) (workflow.RoundScope, error) {
	var sc workflow.RoundScope
	if kind != workflow.ScopeProblems && kind != workflow.ScopePoints && kind != workflow.ScopeBoth {
		return sc, workflow.RefuseField(workflow.ReasonUnknownValue, "scope", "scope %q: problems, points or both", kind)
	}
	if kind != workflow.ScopePoints {
		for _, s := range form["sources"] {
			sc.Sources = append(sc.Sources, workflow.Source(s))
		}
		sc.Counties, sc.LeadUnits = form["counties"], form["lead_units"]
		sc.AllProblems = kind == workflow.ScopeBoth && len(sc.Sources)+len(sc.Counties)+len(sc.LeadUnits) == 0
	}
	if kind != workflow.ScopeProblems {
		for _, v := range form["work_points"] {
			n, err := strconv.Atoi(v)
			if err != nil {
				return sc, workflow.RefuseField(workflow.ReasonUnknownWorkPoint, "scope", "unknown work point %q", v)
			}
			sc.WorkPoints = append(sc.WorkPoints, n)
		}
		if len(sc.WorkPoints) == 0 {
			return sc, workflow.RefuseField(workflow.ReasonRequired, "work_point", "choose the work points")
		}
	}
	return sc, nil
}

// roundPage is a round's page.
type roundPage struct {
	ID, Title, Period, Due, Opened, OpenedBy, Status string
	IsDue                                            bool
	Total                                            workflow.RoundTally
	Units, Points                                    []tallyRow
	Rows                                             []boardRow
	Unstaffed                                        []string
	Forms                                            []reportForm // the reports the user's unit may file or amend
	Final                                            []string     // the user's reports that can no longer be amended
	Error                                            string       // a refused form that is not on the page
}

// tallyRow is one unit's or work point's counts; Missing rows are marked.
type tallyRow struct {
	workflow.RoundTally
	Link string
}

// boardRow is one expected report.
type boardRow struct {
	Key, Subject, Link, Unit, Duty string
	Status, StatusClass            string
	Progress, Percent, At, Alerted string
	Missing                        bool
}

// reportForm is the form of one report the user's unit owes.
type reportForm struct {
	Key, Item, Subject, Link string
	Amend, Late              bool
	Values                   map[string]string
	Targets                  []targetField
	Error                    string
}

// targetField is one figure a work point's report gives against a target.
type targetField struct {
	Name, Label, Value string
}

// round serves GET /rounds/:id: the board and the user's forms.
func (w *Web) round(c echo.Context) error {
	return w.showRound(c, http.StatusOK, nil)
}

func (w *Web) showRound(c echo.Context, status int, st *formState) error {
	ctx := c.Request().Context()
	a := actor(c)
	b, err := w.svc.RoundBoard(ctx, a, c.Param("id"))
	if err != nil {
		return err
	}
	cat, err := w.catalog(ctx)
	if err != nil {
		return err
	}
	r := b.Round
	rp := roundPage{ID: r.ID, Title: r.Title, Period: r.Period, Due: fmtTime(r.Due), Opened: fmtTime(r.OpenedAt),
		OpenedBy: r.OpenedBy.Name, Status: roundStatus(b.Due), IsDue: b.Due, Total: b.Total}
	for _, t := range b.Units {
		rp.Units = append(rp.Units, tallyRow{RoundTally: t})
	}
	for _, t := range b.Points {
		rp.Points = append(rp.Points, tallyRow{RoundTally: t, Link: "/workpoints/" + t.Key})
	}
	for _, n := range r.Unstaffed {
		rp.Unstaffed = append(rp.Unstaffed, "第"+strconv.Itoa(n)+"条 "+cat.wps[n].Title)
	}
	mayReport := w.svc.MayReport(a)
	for _, row := range b.Rows {
		br := boardRowOf(row, b.Due, cat)
		rp.Rows = append(rp.Rows, br)
		if !mayReport || row.Item.Unit != a.UnitID {
			continue
		}
		if b.Due && row.Report != nil {
			rp.Final = append(rp.Final, br.Subject)
			continue
		}
		rp.Forms = append(rp.Forms, reportFormOf(row, br, b.Due, cat, st))
	}
	if st != nil && !slices.ContainsFunc(rp.Forms, func(f reportForm) bool { return f.Item == st.key }) {
		rp.Error = errorText(st.err, w.evidenceMax)
	}
	return w.render(c, status, "round", r.Title, "rounds", rp)
}

func boardRowOf(row workflow.RoundRow, due bool, cat *catalog) boardRow {
	it := row.Item
	br := boardRow{Key: itemID(it), Unit: cat.unit(it.Unit), Duty: workflow.DutyLabel(it.Duty),
		Status: workflow.ReportStatusLabel(row.Status, due), StatusClass: row.Status, Missing: row.Status == workflow.ReportMissing}
	if it.ProblemID != "" {
		br.Subject, br.Link = it.Code+" "+it.Title, "/problems/"+url.PathEscape(it.ProblemID)
	} else {
		br.Subject, br.Link = "第"+strconv.Itoa(it.WorkPoint)+"条 "+it.Title, "/workpoints/"+strconv.Itoa(it.WorkPoint)
	}
	if r := row.Report; r != nil {
		br.Progress, br.At = r.Params.Progress, fmtTime(r.At)
		if r.Params.Percent != nil {
			br.Percent = strconv.Itoa(*r.Params.Percent) + "%"
		}
		if row.Reports > 1 {
			br.At += "（修改 " + strconv.Itoa(row.Reports-1) + " 次）"
		}
	}
	if row.Alerted {
		br.Alerted = workflow.AlertLabel(workflow.AlertReportLate) + "提醒已发出"
	}
	return br
}

// itemID is an item's form value and anchor: p-<problem id> or w-<point>.
func itemID(it workflow.RoundItem) string {
	if it.ProblemID != "" {
		return "p-" + it.ProblemID
	}
	return "w-" + strconv.Itoa(it.WorkPoint)
}

func reportFormOf(row workflow.RoundRow, br boardRow, due bool, cat *catalog, st *formState) reportForm {
	f := reportForm{Key: "report-" + br.Key, Item: br.Key, Subject: br.Subject, Link: br.Link,
		Amend: row.Report != nil, Late: due, Values: map[string]string{}}
	if r := row.Report; r != nil {
		f.Values["progress"], f.Values["next_steps"], f.Values["difficulties"] = r.Params.Progress, r.Params.NextSteps, r.Params.Difficulties
		if r.Params.Percent != nil {
			f.Values["percent"] = strconv.Itoa(*r.Params.Percent)
		}
	}
	if st != nil && st.key == br.Key {
		for _, k := range []string{"progress", "percent", "next_steps", "difficulties"} {
			f.Values[k] = st.values.Get(k)
		}
		f.Error = errorText(st.err, 0)
	}
	if n := row.Item.WorkPoint; n > 0 {
		for _, t := range cat.wps[n].Targets {
			tf := targetField{Name: "figure:" + t.Name, Label: t.Name + "（目标 " + strconv.FormatFloat(t.Amount, 'f', -1, 64) + t.Unit + "）"}
			if r := row.Report; r != nil {
				for _, fg := range r.Params.Figures {
					if fg.Target == t.Name {
						tf.Value = strconv.FormatFloat(fg.Value, 'f', -1, 64)
					}
				}
			}
			if st != nil && st.key == br.Key {
				tf.Value = st.values.Get(tf.Name)
			}
			f.Targets = append(f.Targets, tf)
		}
	}
	return f
}

// fileReport serves POST /rounds/:id/reports (a unit officer): item (p-ID
// or w-N), progress, percent, next_steps, difficulties and figure:TARGET.
func (w *Web) fileReport(c echo.Context) error {
	form, err := c.FormParams()
	if err != nil {
		return err
	}
	item := form.Get("item")
	in, err := reportInputOf(item, form)
	if err == nil {
		_, err = w.svc.FileReport(c.Request().Context(), actor(c), c.Param("id"), in)
	}
	switch workflow.ErrorCode(err) {
	case "":
		return c.Redirect(http.StatusSeeOther, "/rounds/"+url.PathEscape(c.Param("id"))+"?done=report#"+url.PathEscape(item))
	case workflow.CodeInternal, workflow.CodeNotFound:
		if workflow.ErrorReason(err) != workflow.ReasonProblemNotFound {
			return err
		}
	}
	return w.showRound(c, statusOf(err), &formState{key: item, err: err, values: form})
}

// reportInputOf reads a report form.
func reportInputOf(item string, form url.Values) (workflow.ReportInput, error) {
	in := workflow.ReportInput{Progress: form.Get("progress"), NextSteps: form.Get("next_steps"), Difficulties: form.Get("difficulties")}
	switch {
	case strings.HasPrefix(item, "p-"):
		in.ProblemID = strings.TrimPrefix(item, "p-")
	case strings.HasPrefix(item, "w-"):
		n, err := strconv.Atoi(strings.TrimPrefix(item, "w-"))
		if err != nil || n < 1 {
			return in, workflow.RefuseField(workflow.ReasonUnknownWorkPoint, "work_point", "item %q", item)
		}
		in.WorkPoint = n
	default:
		return in, workflow.RefuseField(workflow.ReasonRequired, "problem_id", "item %q names no problem or work point", item)
	}
	if p := strings.TrimSpace(form.Get("percent")); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil {
			return in, workflow.RefuseField(workflow.ReasonMalformed, "percent", "percent %q is not a whole number", p)
		}
		in.Percent = &n
	}
	keys := make([]string, 0, len(form))
	for k := range form {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		target, ok := strings.CutPrefix(k, "figure:")
		v := strings.TrimSpace(form.Get(k))
		if !ok || v == "" {
			continue
		}
		x, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return in, workflow.RefuseField(workflow.ReasonMalformed, "figures", "figure %q is not a number", v)
		}
		in.Figures = append(in.Figures, workflow.Figure{Target: target, Value: x})
	}
	return in, nil
}

// roundSummary serves GET /rounds/:id/summary.xlsx: the 调度汇总表 as the
// user may see it.
func (w *Web) roundSummary(c echo.Context) error {
	var buf bytes.Buffer
	b, err := roundfile.WriteRound(c.Request().Context(), &buf, w.svc, actor(c), c.Param("id"))
	if err != nil {
		return err
	}
	h := c.Response().Header()
	h.Set(echo.HeaderContentDisposition, files.ContentDispositionFallback("attachment", "调度汇总表-"+b.Round.ID+".xlsx", "dispatch-round-"+b.Round.ID+".xlsx"))
	h.Set(echo.HeaderCacheControl, "no-store")
	return c.Blob(http.StatusOK, roundfile.ContentType, buf.Bytes())
}

// reportDetails adds a report's fields to a timeline entry (add).
func reportDetails(e workflow.Entry, cat *catalog, add func(label, value string, long bool)) {
	prm := e.Params
	add(workflow.LabelRound, "第 "+prm.Round+" 次调度", false)
	add(workflow.LabelNoteText, prm.Progress, true)
	if prm.Percent != nil {
		add(workflow.LabelPercent, strconv.Itoa(*prm.Percent)+"%", false)
	}
	add(workflow.LabelFigures, roundfile.FiguresText(prm.Figures, cat.wps[e.WorkPoint].Targets), false)
	add(workflow.LabelDifficulties, prm.Difficulties, true)
	add(workflow.LabelNextSteps, prm.NextSteps, true)
	if prm.Late {
		add(workflow.LabelOnTime, workflow.ReportStatusLabel(workflow.ReportLate, true), false)
	}
}
