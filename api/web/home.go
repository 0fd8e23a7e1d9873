package web

import (
	"cmp"
	"context"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/jdz-eco/rectify/workflow"
)

// homeLimit bounds each list of a start page.
const homeLimit = 50

// homePage is a start page: the bureau's form, and lists of problems.
type homePage struct {
	Form     *problemForm
	Pending  []roundSummary // a unit officer's rounds with reports still to file
	Sections []section
}

// problemForm is the bureau's 新增问题 form.
type problemForm struct {
	Values     map[string]string
	Error      string
	Sources    []option
	Counties   []optgroup
	WorkPoints []option
}

// home serves GET /: the start page of the user's role. The bureau logs
// problems and sees the alerts; a unit officer sees its problems by what
// they wait for; an inspector the submissions to decide, oldest first;
// leaders the statistics, admins the ledger.
func (w *Web) home(c echo.Context) error {
	switch user(c).Role {
	case workflow.RoleViewer:
		return c.Redirect(http.StatusSeeOther, "/stats")
	case workflow.RoleAdmin:
		return c.Redirect(http.StatusSeeOther, "/ledger")
	}
	return w.showHome(c, http.StatusOK, nil)
}

func (w *Web) showHome(c echo.Context, status int, form *problemForm) error {
	ctx := c.Request().Context()
	a := actor(c)
	cat, err := w.catalog(ctx)
	if err != nil {
		return err
	}
	var hp homePage
	switch a.Role {
	case workflow.RoleBureau:
		if form == nil {
			form = &problemForm{Values: map[string]string{}}
		}
		v := form.Values
		form.Sources = sourceOptions(v["source"])
		form.Counties = cat.unitGroups([]string{v["county_id"]}, countyKinds...)
		form.WorkPoints = cat.workPointOptions(v["work_point"])
		hp.Form = form
		err = w.bureauSections(ctx, a, cat, &hp)
	case workflow.RoleUnit:
		if err = w.unitSections(ctx, a, cat, &hp); err == nil {
			hp.Pending, err = w.pendingRounds(c)
		}
	case workflow.RoleInspector:
		err = w.inspectorSections(ctx, a, cat, &hp)
	}
	if err != nil {
		return err
	}
	return w.render(c, status, "home", "首页", "home", hp)
}

// bureauSections: the current alerts, most severe first (a problem once,
// with all its alerts), and the problems still to assign.
func (w *Web) bureauSections(ctx context.Context, a workflow.Actor, cat *catalog, hp *homePage) error {
	alerts, err := w.svc.Alerts(ctx, a, workflow.AlertFilter{})
	if err != nil {
		return err
	}
	alertSec := section{Title: "督办提醒", Hint: "按严重程度排列：挂牌督办、红牌、逾期、超时、临期。", Empty: "目前没有督办提醒。"}
	seen := map[string]int{}
	for _, al := range alerts {
		if i, ok := seen[al.Problem.ID]; ok {
			alertSec.Rows[i].Level += "、" + workflow.AlertLabel(al.Kind)
			continue
		}
		if len(alertSec.Rows) == homeLimit {
			alertSec.More = "/ledger?level=" + workflow.TagLate
			break
		}
		r := cat.row(al.Problem)
		r.Level, r.LevelClass = workflow.AlertLabel(al.Kind), levelClass(al.Kind)
		seen[al.Problem.ID] = len(alertSec.Rows)
		alertSec.Rows = append(alertSec.Rows, r)
	}
	found, more, err := w.collect(ctx, a, workflow.ProblemFilter{State: workflow.StateFound}, nil, homeLimit)
	if err != nil {
		return err
	}
	foundSec := section{Title: "待交办", Hint: "已登记、尚未交办的问题。", Empty: "没有待交办的问题。"}
	for _, p := range found {
		foundSec.Rows = append(foundSec.Rows, cat.row(p))
	}
	if more {
		foundSec.More = "/ledger?state=found"
	}
	pending, _, err := w.collect(ctx, a, workflow.ProblemFilter{}, func(p *workflow.Problem) bool { return p.PendingExtension() != nil }, homeLimit)
	if err != nil {
		return err
	}
	extSec := section{Title: "待审批延期", Hint: "牵头单位申请延期，等待审批。", Empty: "没有待审批的延期申请。", Note: "申请"}
	for _, p := range pending {
		r := cat.row(p)
		if x := p.PendingExtension(); x != nil {
			r.Note = "申请延至 " + fmtDate(&x.Deadline)
		}
		extSec.Rows = append(extSec.Rows, r)
	}
	objSec, err := w.objectionSection(ctx, a, cat)
	if err != nil {
		return err
	}
	hp.Sections = []section{alertSec, foundSec, extSec, objSec}
	return w.addToClose(ctx, a, cat, hp)
}

// addToClose adds 待销号, the verified problems a may write off now, to the
// start page of a user whose role may close problems (the service says
// which problems and which roles, the separation of duties included).
func (w *Web) addToClose(ctx context.Context, a workflow.Actor, cat *catalog, hp *homePage) error {
	if !w.svc.RoleMayFire(a, workflow.TriggerClose) {
		return nil
	}
	ps, more, err := w.collect(ctx, a, workflow.ProblemFilter{State: workflow.StateVerified}, w.mayFire(a, workflow.TriggerClose), homeLimit)
	if err != nil {
		return err
	}
	sec := section{Title: "待销号", Hint: "已验收通过、您现在可以销号的问题。", Empty: "没有待销号的问题。", Note: "验收"}
	for _, p := range ps {
		r := cat.row(p)
		if n := len(p.Signatures); n > 0 {
			sg := p.Signatures[n-1]
			r.Note = sg.SignerName + " 验收于 " + fmtTime(sg.At)
		}
		sec.Rows = append(sec.Rows, r)
	}
	if more {
		sec.More = "/ledger?state=verified"
	}
	hp.Sections = append(hp.Sections, sec)
	return nil
}

// mayFire keeps the problems on which a may fire one of ts now.
func (w *Web) mayFire(a workflow.Actor, ts ...workflow.Trigger) func(*workflow.Problem) bool {
	return func(p *workflow.Problem) bool {
		for _, t := range w.svc.PermittedTriggers(a, p) {
			if slices.Contains(ts, t) {
				return true
			}
		}
		return false
	}
}

// unitSections: 待签收, 整改中, 被退回, 临期 and what waits on the inspectors.
func (w *Web) unitSections(ctx context.Context, a workflow.Actor, cat *catalog, hp *homePage) error {
	role := func(p *workflow.Problem) string {
		if p.LeadUnit == a.UnitID {
			return "牵头"
		}
		return "配合"
	}
	specs := []struct {
		sec  section
		f    workflow.ProblemFilter
		keep func(*workflow.Problem) bool
		more string
	}{
		{section{Title: "待签收", Hint: "已交办给本单位牵头，请签收并填写整改方案。", Empty: "没有待签收的问题。"},
			workflow.ProblemFilter{State: workflow.StateAssigned, LeadUnit: a.UnitID}, nil, "/ledger?state=assigned"},
		{section{Title: "被退回", Hint: "验收未通过或重新整改，须补充新的佐证材料后再次提交。", Empty: "没有被退回的问题。"},
			workflow.ProblemFilter{State: workflow.StateRectifying}, (*workflow.Problem).Returned, ""},
		{section{Title: "整改中", Empty: "没有整改中的问题。"},
			workflow.ProblemFilter{State: workflow.StateRectifying}, func(p *workflow.Problem) bool { return !p.Returned() }, ""},
		{section{Title: "临期", Hint: "距整改时限不足 " + strconv.Itoa(int(cat.pol.DueSoon/workflow.Day)) + " 天。", Empty: "没有临期的问题。"},
			workflow.ProblemFilter{Tag: string(workflow.LevelDueSoon)}, nil, "/ledger?level=due_soon"},
		{section{Title: "已提交待验收", Empty: "没有等待验收的问题。"},
			workflow.ProblemFilter{State: workflow.StateSubmitted}, nil, "/ledger?state=submitted"},
	}
	for _, s := range specs {
		ps, more, err := w.collect(ctx, a, s.f, s.keep, homeLimit)
		if err != nil {
			return err
		}
		s.sec.Note = "本单位"
		for _, p := range ps {
			r := cat.row(p)
			r.Note = role(p)
			s.sec.Rows = append(s.sec.Rows, r)
		}
		if more {
			s.sec.More = cmp.Or(s.more, "/ledger")
		}
		hp.Sections = append(hp.Sections, s.sec)
	}
	return nil
}

// inspectorSections: the submissions waiting for the inspector's decision,
// the longest waiting first, and what waits for 销号.
func (w *Web) inspectorSections(ctx context.Context, a workflow.Actor, cat *catalog, hp *homePage) error {
	ps, _, err := w.collect(ctx, a, workflow.ProblemFilter{State: workflow.StateSubmitted},
		w.mayFire(a, workflow.TriggerVerify, workflow.TriggerReject), 0)
	if err != nil {
		return err
	}
	submitted := (*workflow.Problem).SubmittedAt
	slices.SortStableFunc(ps, func(x, y *workflow.Problem) int { return submitted(x).Compare(submitted(y)) })
	sec := section{Title: "待验收", Hint: "按提交时间排列，等待最久的在前。", Empty: "没有等待验收的问题。", Note: "提交"}
	for i, p := range ps {
		if i == homeLimit {
			sec.More = "/ledger?state=submitted"
			break
		}
		r := cat.row(p)
		days := int(cat.now.Sub(submitted(p)) / workflow.Day)
		r.Note = "提交于 " + fmtTime(submitted(p)) + "，已等待 " + strconv.Itoa(days) + " 天"
		if sd := p.Supervision.StageDue; sd != nil {
			r.Days = "验收期限 " + fmtDate(sd)
			if cat.now.After(*sd) {
				r.Level, r.LevelClass = workflow.AlertLabel(workflow.AlertVerifyLate), levelClass(workflow.AlertVerifyLate)
			}
		}
		sec.Rows = append(sec.Rows, r)
	}
	hp.Sections = []section{sec}
	if err := w.addToClose(ctx, a, cat, hp); err != nil {
		return err
	}
	var lb section
	if err := w.lookbackSection(ctx, a, cat, &lb); err != nil {
		return err
	}
	hp.Sections = append(hp.Sections, lb)
	return nil
}

// lookbackSection: the look-back tasks (回头看) drawn by the scanner,
// waiting for an inspector to confirm the rectification holds or reopen.
func (w *Web) lookbackSection(ctx context.Context, a workflow.Actor, cat *catalog, sec *section) error {
	ps, _, err := w.collect(ctx, a, workflow.ProblemFilter{Tag: workflow.TagLookback}, nil, 0)
	if err != nil {
		return err
	}
	*sec = section{Title: "回头看任务", Hint: "每季度从办结问题中随机抽取，请复核整改成果是否保持。", Empty: "没有待办的回头看任务。", Note: "抽取"}
	for i, p := range ps {
		if i == homeLimit {
			sec.More = "/ledger?level=" + workflow.TagLookback
			break
		}
		r := cat.row(p)
		if l := p.Lookback; l != nil {
			r.Note = "抽取于 " + fmtTime(l.DrawnAt)
		}
		sec.Rows = append(sec.Rows, r)
	}
	return nil
}

// newProblemFields are the fields of the 新增问题 form.
var newProblemFields = []string{"title", "description", "source", "county_id", "work_point", "source_ref", "location", "lat", "lng", "datum"}

// createProblem serves POST /problems (the bureau): the problem is logged
// and its page shown; a refusal shows the start page again with the form
// as it was sent and the reason next to it.
func (w *Web) createProblem(c echo.Context) error {
	ctx := c.Request().Context()
	a := actor(c)
	v := map[string]string{}
	for _, f := range newProblemFields {
		v[f] = strings.TrimSpace(c.FormValue(f))
	}
	in := workflow.NewProblem{
		Title: v["title"], Description: v["description"], Source: workflow.Source(v["source"]),
		CountyID: v["county_id"], SourceRef: v["source_ref"], Location: v["location"],
	}
	pos, err := positionForm(func(f string) string { return v[f] })
	in.Position = pos
	if err == nil && v["work_point"] != "" {
		if in.WorkPoint, err = strconv.Atoi(v["work_point"]); err != nil {
			err = workflow.RefuseField(workflow.ReasonUnknownWorkPoint, "work_point", "unknown work point %q", v["work_point"])
		}
	}
	var p *workflow.Problem
	if err == nil {
		p, _, err = w.svc.CreateProblem(ctx, a, in)
	}
	if err != nil {
		if a.Role != workflow.RoleBureau {
			return err
		}
		return w.showHome(c, statusOf(err), &problemForm{Values: v, Error: errorText(err, w.evidenceMax)})
	}
	return c.Redirect(http.StatusSeeOther, "/problems/"+url.PathEscape(p.ID)+"?done=create")
}
