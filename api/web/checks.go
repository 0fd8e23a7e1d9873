package web

import (
	"net/url"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/jdz-eco/rectify/workflow"
)

// The pages of the evidence checks (issue 16): flags on each evidence item,
// before and after side by side, the verify form's acknowledgements, site
// checks, positions and look-back tasks.

// flagRow is one flag of an evidence item as the page shows it.
type flagRow struct {
	Code, Label, Text string
	Link              string // the other item's problem, for a near duplicate
}

// ackOption is one unacknowledged flag the verify form offers to acknowledge.
type ackOption struct {
	Value, Name, Label, Text string
	Checked                  bool
}

// checksView is what the page shows of the checks besides the items.
type checksView struct {
	Before, After, Other []evidenceItem // the units' items by phase (Other: documents, unphased)
	SitePhotos           []evidenceItem
	SiteChecks           []siteCheckRow
	Position             string
	Lookback             string
	SiteCheck            *plainForm // an inspector's site-check form
	SetPosition          *plainForm // the bureau's position form
	ConfirmLookback      *plainForm // an inspector's look-back confirmation
	Acks                 []ackOption
	NeedsSiteCheck       bool
}

type siteCheckRow struct {
	By, At, Result, Findings string
	Passed                   bool
	Photos                   int
}

// flagRows renders e's flags for a (workflow.FlagsFor).
func flagRows(a workflow.Actor, p *workflow.Problem, e workflow.Evidence) []flagRow {
	var out []flagRow
	for _, f := range workflow.FlagsFor(a, p, e) {
		r := flagRow{Code: string(f.Code), Label: f.Code.Label(), Text: f.Text}
		if s := f.Similar; s != nil {
			r.Link = "/problems/" + s.ProblemID + "#ev-" + s.SHA256[:12]
		}
		out = append(out, r)
	}
	return out
}

// checksOf builds the page's view of the checks of p for a.
func (w *Web) checksOf(a workflow.Actor, p *workflow.Problem, items []evidenceItem, stateOf func(string) (string, url.Values)) checksView {
	var v checksView
	for i, e := range p.Evidence {
		switch e.Phase {
		case workflow.PhaseBefore:
			v.Before = append(v.Before, items[i])
		case workflow.PhaseAfter:
			v.After = append(v.After, items[i])
		case workflow.PhaseSiteCheck:
			v.SitePhotos = append(v.SitePhotos, items[i])
		default:
			v.Other = append(v.Other, items[i])
		}
	}
	for _, c := range p.SiteChecks {
		v.SiteChecks = append(v.SiteChecks, siteCheckRow{By: c.ByName, At: fmtTime(c.At), Result: c.Result.Label(),
			Findings: c.Findings, Passed: c.Result == workflow.SiteCheckPassed, Photos: len(c.Photos)})
	}
	if pos := p.Position; pos != nil {
		v.Position = positionText(*pos)
	}
	if l := p.Lookback; l != nil {
		last := l.PeriodEnd.AddDate(0, 0, -1)
		v.Lookback = l.Status.Label() + "（" + fmtDate(&l.PeriodStart) + " 至 " + fmtDate(&last) +
			" 办结问题中抽取 " + strconv.Itoa(l.Drawn) + "/" + strconv.Itoa(l.Candidates) + "，种子 " + strconv.FormatUint(l.Seed, 10) + "）"
		if l.Note != "" {
			v.Lookback += "：" + l.Note
		}
	}
	if w.svc.CanSiteCheck(a, p) == nil {
		msg, vals := stateOf("site_check")
		v.SiteCheck = plain(msg, vals, "result", "findings")
	}
	if a.Role == workflow.RoleBureau {
		msg, vals := stateOf("position")
		v.SetPosition = plain(msg, vals, "lat", "lng", "datum")
	}
	if a.Role == workflow.RoleInspector && p.Lookback != nil && p.Lookback.Status == workflow.LookbackPending {
		msg, vals := stateOf("lookback")
		v.ConfirmLookback = plain(msg, vals, "text")
	}
	v.NeedsSiteCheck = w.svc.EvidencePolicy().NeedsSiteCheck(p)
	names := map[string]string{}
	for _, e := range p.Evidence {
		names[e.SHA256] = e.Name
	}
	_, vals := stateOf("fire:verify")
	for _, r := range p.UnacknowledgedFlags() {
		val := r.SHA256 + ":" + string(r.Code)
		text := ""
		for _, e := range p.Evidence {
			if e.SHA256 == r.SHA256 {
				for _, f := range workflow.FlagsFor(a, p, e) {
					if f.Code == r.Code {
						text = f.Text
					}
				}
			}
		}
		v.Acks = append(v.Acks, ackOption{Value: val, Name: names[r.SHA256], Label: r.Code.Label(), Text: text,
			Checked: contains(vals["acknowledged_flags"], val)})
	}
	return v
}

// positionText shows a WGS-84 position.
func positionText(p workflow.LatLng) string {
	return strconv.FormatFloat(p.Lat, 'f', 6, 64) + ", " + strconv.FormatFloat(p.Lng, 'f', 6, 64)
}

// ackParams reads the verify form's acknowledgements ("sha256:code").
func ackParams(form map[string][]string) ([]workflow.FlagRef, error) {
	var out []workflow.FlagRef
	for _, v := range form["acknowledged_flags"] {
		sha, code, ok := strings.Cut(v, ":")
		if !ok {
			return nil, workflow.RefuseField(workflow.ReasonMalformed, "acknowledged_flags", "bad acknowledgement %q", v)
		}
		out = append(out, workflow.FlagRef{SHA256: sha, Code: workflow.FlagCode(code)})
	}
	return out, nil
}

// addSiteCheck serves POST /problems/:id/site-checks: result, findings,
// version.
func (w *Web) addSiteCheck(c echo.Context) error {
	form, err := c.FormParams()
	if err != nil {
		return err
	}
	_, err = w.svc.RecordSiteCheck(c.Request().Context(), actor(c), c.Param("id"),
		workflow.SiteCheckResult(form.Get("result")), form.Get("findings"), formVersion(form.Get("version")))
	if err != nil {
		return w.refused(c, "site_check", err, form)
	}
	return w.redirectProblem(c, "site_check")
}

// setPosition serves POST /problems/:id/position: lat, lng, datum, version.
func (w *Web) setPosition(c echo.Context) error {
	form, err := c.FormParams()
	if err != nil {
		return err
	}
	in, err := positionForm(form.Get)
	if err != nil {
		return w.refused(c, "position", err, form)
	}
	if in == nil {
		in = &workflow.PositionInput{Datum: workflow.Datum(form.Get("datum"))}
	}
	if _, err = w.svc.SetPosition(c.Request().Context(), actor(c), c.Param("id"), in, formVersion(form.Get("version"))); err != nil {
		return w.refused(c, "position", err, form)
	}
	return w.redirectProblem(c, "position")
}

// positionForm reads the lat, lng and datum fields of a form: nil when
// both coordinates are empty, a refusal when one is not a number. The
// service checks the rest (a missing coordinate, the range, the datum).
func positionForm(get func(string) string) (*workflow.PositionInput, error) {
	in := workflow.PositionInput{Datum: workflow.Datum(strings.TrimSpace(get("datum")))}
	for _, f := range []struct {
		name string
		dst  **float64
	}{{"lat", &in.Lat}, {"lng", &in.Lng}} {
		v := strings.TrimSpace(get(f.name))
		if v == "" {
			continue
		}
		x, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return nil, workflow.RefuseField(workflow.ReasonMalformed, f.name, "%s must be a number", f.name)
		}
		*f.dst = &x
	}
	if in.Lat == nil && in.Lng == nil {
		return nil, nil
	}
	return &in, nil
}

// confirmLookback serves POST /problems/:id/lookback: text, version.
func (w *Web) confirmLookback(c echo.Context) error {
	form, err := c.FormParams()
	if err != nil {
		return err
	}
	_, err = w.svc.ConfirmLookback(c.Request().Context(), actor(c), c.Param("id"), form.Get("text"), formVersion(form.Get("version")))
	if err != nil {
		return w.refused(c, "lookback", err, form)
	}
	return w.redirectProblem(c, "lookback")
}
