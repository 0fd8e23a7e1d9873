package web

import (
	"errors"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/jdz-eco/rectify/api/files"
	"github.com/jdz-eco/rectify/workflow"
	"github.com/jdz-eco/rectify/workflow/ledgerfile"
)

// uploadReadWindow is how long an evidence upload may take to arrive once
// the user is known to be allowed to send it (it replaces the server's
// ReadTimeout for that request).
const uploadReadWindow = 15 * time.Minute

// problemPage is the 问题详情 page's data.
type problemPage struct {
	ID, Code, Title   string
	Status            string
	StatusClass       string
	Level, LevelClass string
	Days              string
	Next              string // whose turn it is: 待验收员验收（牵头单位人员除外）
	Version           uint64
	Fields            []field
	Timeline          []timelineEntry
	Evidence          []evidenceItem
	Signatures        []signatureRow
	Extensions        []extensionRow
	Warnings          []string
	Forms             []triggerForm
	Blocked           []string // why a step the user owes is not offered yet
	Checks            checksView
	Note              *plainForm
	Upload            *plainForm
	Extension         *plainForm
	Notice            *noticeView // the public notice (公示) and objections
	MaxFile           string
	Accept            string
	Error             string // a refused form that is not on the page
	// Letters issued about the problem (not shown to unit officers, who
	// see their own on 督办函); IssueLetter links the bureau to the form.
	Letters     []letterLink
	IssueLetter string
}

// letterLink is a letter about a problem.
type letterLink struct {
	ID, DocNo, State string
}

// field is one labelled value; Long values keep their line breaks, and
// Long or Wide ones take a whole line.
type field struct {
	Label, Value string
	Long, Wide   bool
}

type timelineEntry struct {
	At, Actor, Unit, Role, Action string
	From, To                      string
	Class                         string
	Details                       []field
}

type evidenceItem struct {
	SHA, Name, Type, Size, Description string
	Uploader, Unit, At, Round          string
	Image                              bool
	Duplicates                         string
	Phase, Anchor                      string
	Flags                              []flagRow
}

type signatureRow struct {
	Meaning, Signer, Role, Unit, At, Digest, Short string
	Version                                        uint64
}

type extensionRow struct {
	ID, Deadline, Previous, Reason, Status string
	RequestedAt, DecidedAt, Note           string
	Decide                                 *plainForm
}

// triggerForm is the form of one trigger the user may fire now.
type triggerForm struct {
	Trigger, Label, Hint string
	Warn                 bool
	Fields               []formField
	Error                string
}

// formField is one input of a trigger form.
type formField struct {
	Name, Label, Kind, Value, Hint string
	Required                       bool
	Groups                         []optgroup
}

// plainForm is a form of fixed fields: a note, an upload, an extension.
type plainForm struct {
	Values map[string]string
	Error  string
}

// formState is a form sent back with an error: which form, the error and
// what was sent.
type formState struct {
	key    string // "fire:accept", "note", "evidence", "extension", "decision:2"
	err    error
	values url.Values
}

// problem serves GET /problems/:id: the problem if the user may see it
// (404 otherwise, as for an unknown one).
func (w *Web) problem(c echo.Context) error {
	return w.showProblem(c, nil)
}

// showProblem renders problem :id, with a refused form if st is set (its
// status is the refusal's).
func (w *Web) showProblem(c echo.Context, st *formState) error {
	ctx := c.Request().Context()
	a := actor(c)
	p, err := w.svc.Problem(ctx, a, c.Param("id"))
	if err != nil {
		return err
	}
	hist, err := w.svc.History(ctx, a, p.ID)
	if err != nil {
		return err
	}
	cat, err := w.catalog(ctx)
	if err != nil {
		return err
	}
	dups, err := w.svc.DuplicatesFor(ctx, a, p)
	if err != nil {
		return err
	}
	pp := problemPage{
		ID: p.ID, Code: p.Code, Title: p.Title, Status: p.StatusLabel(), StatusClass: string(p.State),
		Version: p.Version, Days: daysText(p, cat.now), MaxFile: fmtSize(w.evidenceMax), Accept: evidenceAccept,
	}
	if l := p.LevelAt(cat.now, cat.pol); l != workflow.LevelNone {
		pp.Level, pp.LevelClass = l.Label(), levelClass(string(l))
	}
	if step, ok := w.svc.NextStep(p); ok {
		pp.Next = nextStepText(step, p, cat, w.evidenceMax)
	}
	pp.Fields = problemFields(p, cat)
	for _, e := range hist {
		if o := e.Params.Objection; o != nil {
			e.Params.Objection = &workflow.ObjectionsFor(a, []workflow.Objection{*o})[0]
		}
		pp.Timeline = append(pp.Timeline, timelineOf(e, cat))
	}
	for _, e := range p.Evidence {
		item := evidenceOf(p, e, cat, dups)
		item.Flags = flagRows(a, p, e)
		pp.Evidence = append(pp.Evidence, item)
	}
	for _, e := range p.Evidence {
		if codes := dups[e.SHA256]; len(codes) > 0 {
			pp.Warnings = append(pp.Warnings, "佐证材料「"+e.Name+"」也出现在问题 "+strings.Join(codes, "、")+" 中，请核实是否重复使用（虚假整改风险）。")
		}
	}
	for _, sg := range p.Signatures {
		pp.Signatures = append(pp.Signatures, signatureRow{
			Meaning: sg.Meaning, Signer: sg.SignerName, Role: sg.Role.Label(), Unit: cat.unit(sg.UnitID),
			At: fmtTime(sg.At), Digest: sg.Digest, Short: shortHash(sg.Digest), Version: sg.Version,
		})
	}
	shown := false // whether the refused form is on the page
	stateOf := func(key string) (string, url.Values) {
		if st == nil || st.key != key {
			return "", nil
		}
		shown = true
		return errorText(st.err, w.evidenceMax), st.values
	}
	for _, x := range p.Extensions {
		xr := extensionRow{
			ID: x.ID, Deadline: fmtDate(&x.Deadline), Previous: fmtDate(&x.Previous), Reason: x.Reason,
			Status: x.Status.Label(), RequestedAt: fmtTime(x.RequestedAt), Note: x.Note,
		}
		if x.DecidedAt != nil {
			xr.DecidedAt = fmtTime(*x.DecidedAt)
		}
		if x.Status == workflow.ExtensionPending && workflow.CanDecideExtension(a, p) == nil {
			msg, vals := stateOf("decision:" + x.ID)
			xr.Decide = plain(msg, vals, "note")
		}
		pp.Extensions = append(pp.Extensions, xr)
	}
	pp.Notice = noticeOf(a, p, stateOf)
	for _, t := range w.svc.PermittedTriggers(a, p) {
		msg, vals := stateOf("fire:" + string(t))
		pp.Forms = append(pp.Forms, triggerFormOf(t, p, cat, msg, vals))
	}
	for _, b := range w.svc.BlockedTriggers(a, p) {
		pp.Blocked = append(pp.Blocked, errorText(b.Err, w.evidenceMax))
	}
	pp.Checks = w.checksOf(a, p, pp.Evidence, stateOf)
	if w.svc.CanAddEvidence(a, p) == nil {
		if a.Role == workflow.RoleUnit { // the same rule as notes
			msg, vals := stateOf("note")
			pp.Note = plain(msg, vals, "text")
		}
		msg, vals := stateOf("evidence")
		pp.Upload = plain(msg, vals, "description", "phase")
	}
	if w.svc.CanRequestExtension(a, p) == nil {
		msg, vals := stateOf("extension")
		pp.Extension = plain(msg, vals, "deadline", "reason")
	}
	if a.Role != workflow.RoleUnit {
		for _, m := range p.Letters {
			ll := letterLink{ID: m.ID, DocNo: m.DocNo, State: workflow.LetterIssued.Label()}
			switch {
			case m.Replied:
				ll.State = workflow.LetterReplied.Label()
			case m.LateAlerted:
				ll.State = workflow.AlertLabel(workflow.AlertLetterReplyLate)
			}
			pp.Letters = append(pp.Letters, ll)
		}
	}
	if w.svc.MayIssueLetters(a) && p.Open() && p.LeadUnit != "" {
		pp.IssueLetter = "/letters?" + url.Values{"to_unit": {p.LeadUnit}, "problems": {p.Code}}.Encode() + "#issue-letter"
	}
	status := http.StatusOK
	if st != nil {
		status = statusOf(st.err)
		if !shown {
			// The form is gone (the problem moved on, or the user may not
			// use it): the reason goes on top of the page.
			pp.Error = formLabel(st.key) + "：" + errorText(st.err, w.evidenceMax)
		}
	}
	return w.render(c, status, "problem", p.Code+" "+p.Title, "ledger", pp)
}

// formLabel names the form of a refusal key.
func formLabel(key string) string {
	switch {
	case strings.HasPrefix(key, "fire:"):
		return workflow.Trigger(strings.TrimPrefix(key, "fire:")).Label()
	case key == "note":
		return "填报进展"
	case strings.HasPrefix(key, "dismissal:"):
		return "异议不成立"
	case key == "public":
		return "设置照片公开"
	case key == "evidence":
		return "上传佐证材料"
	case key == "extension":
		return "申请延期"
	case key == "site_check":
		return "现场核查"
	case key == "position":
		return "设置问题位置"
	case key == "lookback":
		return "回头看确认"
	}
	return "审批延期"
}

// evidenceAccept is what the upload's file picker offers: on a phone,
// images include the camera.
const evidenceAccept = "image/*,video/*,application/pdf,.pdf,.doc,.docx,.xls,.xlsx,.ppt,.pptx,.txt"

func plain(msg string, vals url.Values, names ...string) *plainForm {
	f := &plainForm{Error: msg, Values: map[string]string{}}
	for _, n := range names {
		f.Values[n] = vals.Get(n)
	}
	return f
}

func problemFields(p *workflow.Problem, cat *catalog) []field {
	deadline := fmtDate(p.Deadline)
	if p.OriginalDeadline != nil && p.Deadline != nil && !p.OriginalDeadline.Equal(*p.Deadline) {
		deadline += "（原定 " + fmtDate(p.OriginalDeadline) + "）"
		if p.Extended() {
			deadline += "，已延期"
		}
	}
	if e := p.EffectiveDeadline(); e != nil && p.Deadline != nil && !e.Equal(*p.Deadline) {
		deadline += "；扣除待验收时间后为 " + fmtTime(*e)
	}
	stage := ""
	if sv := p.Supervision; sv.Stage != "" && sv.StageDue != nil {
		stage = sv.Stage.Label() + " " + fmtTime(*sv.StageDue)
		if sv.StageLate || cat.now.After(*sv.StageDue) {
			stage += "（已超时）"
		}
	}
	// Pairs of short values first, then whole lines, then the texts.
	all := []field{
		{Label: workflow.LabelCode, Value: p.Code},
		{Label: workflow.LabelState, Value: p.StatusLabel()},
		{Label: workflow.LabelSource, Value: p.Source.Label()},
		{Label: workflow.LabelCounty, Value: cat.unit(p.CountyID)},
		{Label: workflow.LabelLeadUnit, Value: cat.unit(p.LeadUnit)},
		{Label: workflow.LabelLocation, Value: p.Location},
		{Label: workflow.LabelPosition, Value: positionOf(p)},
		{Label: workflow.LabelSourceRef, Value: p.SourceRef, Wide: true},
		{Label: workflow.LabelWorkPoint, Value: ledgerfile.WorkPointLabel(p.WorkPoint, cat.wps), Wide: true},
		{Label: workflow.LabelCooperatingUnits, Value: cat.unitList(p.CooperatingUnits), Wide: true},
		{Label: workflow.LabelDeadline, Value: deadline, Wide: true},
		{Label: "督办情况", Value: strings.Trim(p.LevelAt(cat.now, cat.pol).Label()+" "+daysText(p, cat.now), " "), Wide: true},
		{Label: "阶段时限", Value: stage, Wide: true},
		{Label: workflow.LabelDescription, Value: p.Description, Long: true},
		{Label: workflow.LabelRequirements, Value: p.Requirements, Long: true},
		{Label: workflow.LabelPlan, Value: p.Plan, Long: true},
		{Label: workflow.LabelSummary, Value: p.Summary, Long: true},
		{Label: workflow.LabelOpinion, Value: p.Opinion, Long: true},
		{Label: workflow.LabelStatement, Value: p.Statement, Long: true},
		{Label: workflow.LabelCreatedAt, Value: fmtTime(p.CreatedAt)},
		{Label: "最近更新", Value: fmtTime(p.UpdatedAt) + "（第 " + strconv.FormatUint(p.Version, 10) + " 版）"},
	}
	out := all[:0]
	for _, f := range all {
		if f.Value != "" {
			out = append(out, f)
		}
	}
	return out
}

// timelineOf is one history entry: who, when, what and why.
func timelineOf(e workflow.Entry, cat *catalog) timelineEntry {
	te := timelineEntry{At: fmtTime(e.At), Actor: e.Actor.Name, Unit: cat.unit(e.Actor.UnitID),
		Role: e.Actor.Role.Label(), Action: workflow.ActionLabel(e.Action), Class: e.Action}
	if e.From != "" && e.To != "" && e.From != e.To {
		te.From, te.To = e.From.Label(), e.To.Label()
	}
	prm := e.Params
	add := func(label, value string, long bool) {
		if value != "" {
			te.Details = append(te.Details, field{Label: label, Value: value, Long: long})
		}
	}
	add(workflow.LabelTitle, prm.Title, false)
	if prm.Source != "" {
		add(workflow.LabelSource, prm.Source.Label(), false)
	}
	add(workflow.LabelCounty, cat.unit(prm.CountyID), false)
	add(workflow.LabelLeadUnit, cat.unit(prm.LeadUnit), false)
	add(workflow.LabelCooperatingUnits, cat.unitList(prm.CooperatingUnits), false)
	if prm.Deadline != nil {
		label := workflow.LabelDeadline
		if e.Action == workflow.ActionExtensionRequest {
			label = "申请延至"
		}
		add(label, fmtDate(prm.Deadline), false)
	}
	add(workflow.LabelRequirements, prm.Requirements, true)
	add(workflow.LabelReason, prm.Reason, true)
	add(workflow.LabelPlan, prm.Plan, true)
	add(workflow.LabelSummary, prm.Summary, true)
	add(workflow.LabelOpinion, prm.Opinion, true)
	add(workflow.LabelStatement, prm.Statement, true)
	add(workflow.LabelNoteText, prm.Text, true)
	if n := prm.Notice; n != nil {
		add("公示期", fmtTime(n.Start)+" 至 "+fmtTime(n.End), false)
	}
	if o := prm.Objection; o != nil {
		add("异议 "+o.ID, o.Text, true)
		add("异议人", strings.TrimSpace(o.Name+" "+o.Contact), false)
	}
	if prm.ObjectionID != "" {
		add(workflow.FieldLabel("objection_id"), prm.ObjectionID, false)
	}
	if prm.Public != nil {
		v := "取消公开"
		if *prm.Public {
			v = "在公示页公开"
		}
		add("照片", v, false)
	}
	if prm.Round != "" && e.Action == workflow.ActionReport {
		reportDetails(e, cat, add)
	}
	if ev := prm.Evidence; ev != nil {
		add("文件", ev.Name+"（"+fmtSize(ev.Size)+"）", false)
		if ev.Phase != "" {
			add(workflow.FieldLabel("phase"), ev.Phase.Label(), false)
		}
		add("说明", ev.Description, true)
		for _, f := range ev.Flags {
			add("核查提示", f.Code.Label()+"："+f.Text, true)
		}
	}
	if pos := prm.Position; pos != nil {
		add(workflow.LabelPosition, positionText(*pos), false)
	}
	if sc := prm.SiteCheck; sc != nil {
		add(workflow.FieldLabel("result"), sc.Result.Label(), false)
		add(workflow.FieldLabel("findings"), sc.Findings, true)
		if len(sc.Photos) > 0 {
			add("核查照片", strconv.Itoa(len(sc.Photos))+" 张", false)
		}
	}
	if l := prm.Lookback; l != nil {
		add("抽取", fmtDate(&l.PeriodStart)+" 起 "+strconv.Itoa(l.Candidates)+" 个办结问题中抽取 "+strconv.Itoa(l.Drawn)+" 个（比例 "+
			strconv.FormatFloat(l.Share*100, 'f', -1, 64)+"%，随机种子 "+strconv.FormatUint(l.Seed, 10)+"）", true)
	}
	for _, r := range prm.AcknowledgedFlags {
		add("已知悉提示", r.Code.Label()+"（"+shortHash(r.SHA256)+"）", false)
	}
	add(workflow.FieldLabel("acknowledgement_note"), prm.AcknowledgementNote, true)
	if prm.Decision != "" {
		add(workflow.LabelDecision, workflow.DecisionLabel(prm.Decision), false)
	}
	add(workflow.LabelDecisionNote, prm.Note, true)
	if prm.Level != "" {
		what := workflow.AlertLabel(prm.Level)
		if a := workflow.AgainstLabel(prm.Against); a != "" {
			what += "（" + a + "）"
		}
		if prm.DaysOverdue > 0 {
			what += "，逾期 " + strconv.Itoa(prm.DaysOverdue) + " 天"
		}
		add("提醒", what, false)
		te.Class += " " + levelClass(prm.Level)
	}
	for _, wn := range prm.Warnings {
		add("警示", wn, true)
	}
	if sg := prm.Signature; sg != nil {
		add("电子签名", sg.SignerName+" · "+sg.Meaning+" · 第 "+strconv.FormatUint(sg.Version, 10)+" 版 · 摘要 "+shortHash(sg.Digest), false)
	}
	return te
}

func shortHash(h string) string {
	if len(h) > 16 {
		return h[:16] + "…"
	}
	return h
}

func evidenceOf(p *workflow.Problem, e workflow.Evidence, cat *catalog, dups map[string][]string) evidenceItem {
	round := "第 " + strconv.Itoa(e.Round+1) + " 轮"
	switch {
	case e.Submitted:
		round += "，已随提交"
	case e.Round == p.EvidenceRound:
		round += "，尚未提交"
	}
	return evidenceItem{
		SHA: e.SHA256, Name: e.Name, Type: e.Type, Size: fmtSize(e.Size), Description: e.Description,
		Uploader: e.Uploader, Unit: cat.unit(e.UnitID), At: fmtTime(e.At), Round: round,
		Image: strings.HasPrefix(e.Type, "image/"), Duplicates: strings.Join(dups[e.SHA256], "、"),
		Phase: e.Phase.Label(), Anchor: "ev-" + e.SHA256[:12],
	}
}

// paramOrder puts a trigger's choices before its texts.
var paramOrder = []string{"objection_id", "lead_unit", "cooperating_units", "deadline", "requirements", "plan", "summary", "opinion", "statement", "reason", "note"}

// triggerFormOf builds the form of trigger t on p: one input per parameter
// (workflow.ParamFieldsOn), filled with what was sent if vals is set.
func triggerFormOf(t workflow.Trigger, p *workflow.Problem, cat *catalog, msg string, vals url.Values) triggerForm {
	req, opt := workflow.ParamFieldsOn(t, p)
	tf := triggerForm{Trigger: string(t), Label: t.Label(), Hint: triggerHints[t], Error: msg,
		Warn: t == workflow.TriggerReject || t == workflow.TriggerDismiss || t == workflow.TriggerWithdraw}
	for _, name := range paramOrder {
		required := contains(req, name)
		if !required && !contains(opt, name) {
			continue
		}
		ff := formField{Name: name, Label: workflow.FieldLabel(name), Required: required, Value: vals.Get(name)}
		switch name {
		case "lead_unit":
			ff.Kind = "select"
			ff.Groups = cat.unitGroups([]string{ff.Value}, leadKinds...)
			if t == workflow.TriggerReassign {
				ff.Hint = "现为 " + cat.unit(p.LeadUnit) + "，不选则不变"
			}
		case "cooperating_units":
			ff.Kind = "multi"
			ff.Groups = cat.unitGroups(vals["cooperating_units"], leadKinds...)
			ff.Hint = "可多选（按住 Ctrl 或 ⌘ 键）"
			if t == workflow.TriggerReassign {
				ff.Hint += "；不选则不变"
			}
		case "objection_id":
			ff.Kind = "select"
			var opts []option
			for _, o := range p.Objections {
				if o.Status == workflow.ObjectionOpen {
					opts = append(opts, option{Value: o.ID, Label: "异议 " + o.ID + "：" + truncate(o.Text, 30), Selected: o.ID == ff.Value})
				}
			}
			ff.Groups = []optgroup{{Label: "待处理的异议", Options: opts}}
		case "deadline":
			ff.Kind = "date"
			if t == workflow.TriggerReassign {
				ff.Hint = "现为 " + fmtDate(p.Deadline) + "，不填则不变"
			}
		default:
			ff.Kind = "textarea"
		}
		tf.Fields = append(tf.Fields, ff)
	}
	return tf
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// paramsOf reads trigger t's parameters from a form: only the fields t
// takes; an empty optional field is left out (reassign: unchanged).
func paramsOf(t workflow.Trigger, form url.Values) (workflow.Params, error) {
	var prm workflow.Params
	req, opt := workflow.ParamFields(t)
	for _, name := range append(req, opt...) {
		v := strings.TrimSpace(form.Get(name))
		switch name {
		case "lead_unit":
			prm.LeadUnit = v
		case "cooperating_units":
			for _, u := range form["cooperating_units"] {
				if u = strings.TrimSpace(u); u != "" {
					prm.CooperatingUnits = append(prm.CooperatingUnits, u)
				}
			}
		case "deadline":
			if v != "" {
				d, err := workflow.ParseDeadline(v)
				if err != nil {
					return prm, err
				}
				prm.Deadline = &d
			}
		case "requirements":
			prm.Requirements = v
		case "reason":
			prm.Reason = v
		case "plan":
			prm.Plan = v
		case "summary":
			prm.Summary = v
		case "opinion":
			prm.Opinion = v
		case "statement":
			prm.Statement = v
		case "objection_id":
			prm.ObjectionID = v
		case "note":
			prm.Note = v
		case "acknowledgement_note":
			prm.AcknowledgementNote = v
		case "acknowledged_flags":
			acks, err := ackParams(form)
			if err != nil {
				return prm, err
			}
			prm.AcknowledgedFlags = acks
		}
	}
	return prm, nil
}

// formVersion is the problem version a form was rendered at: a command
// on a problem changed since is refused (412), not applied blindly.
func formVersion(v string) uint64 {
	n, _ := strconv.ParseUint(v, 10, 64)
	return n
}

func (w *Web) redirectProblem(c echo.Context, done string) error {
	return c.Redirect(http.StatusSeeOther, "/problems/"+url.PathEscape(c.Param("id"))+"?done="+url.QueryEscape(done))
}

// refused shows the problem page with a refused form, unless the refusal
// is that the problem is not there (404 page) or the form's token is bad.
func (w *Web) refused(c echo.Context, key string, err error, form url.Values) error {
	switch workflow.ErrorCode(err) {
	case workflow.CodeInternal, workflow.CodeUnavailable:
		return err
	case workflow.CodeNotFound:
		if workflow.ErrorReason(err) != workflow.ReasonExtensionNotFound {
			return err
		}
	}
	return w.showProblem(c, &formState{key: key, err: err, values: form})
}

// fire serves POST /problems/:id/fire: trigger, version and the trigger's
// parameters.
func (w *Web) fire(c echo.Context) error {
	form, err := c.FormParams()
	if err != nil {
		return err
	}
	t := workflow.Trigger(form.Get("trigger"))
	if !t.Valid() {
		return workflow.RefuseField(workflow.ReasonUnknownTrigger, "trigger", "unknown trigger %q", t)
	}
	prm, err := paramsOf(t, form)
	if err == nil {
		_, err = w.svc.Fire(c.Request().Context(), actor(c), c.Param("id"),
			workflow.Command{Trigger: t, Params: prm, IfVersion: formVersion(form.Get("version"))})
	}
	if err != nil {
		return w.refused(c, "fire:"+string(t), err, form)
	}
	return w.redirectProblem(c, string(t))
}

// addNote serves POST /problems/:id/notes: text and version.
func (w *Web) addNote(c echo.Context) error {
	form, err := c.FormParams()
	if err != nil {
		return err
	}
	_, err = w.svc.AddNote(c.Request().Context(), actor(c), c.Param("id"), form.Get("text"), formVersion(form.Get("version")))
	if err != nil {
		return w.refused(c, "note", err, form)
	}
	return w.redirectProblem(c, "note")
}

// requestExtension serves POST /problems/:id/extensions: deadline, reason,
// version.
func (w *Web) requestExtension(c echo.Context) error {
	form, err := c.FormParams()
	if err != nil {
		return err
	}
	var d time.Time
	if v := strings.TrimSpace(form.Get("deadline")); v != "" {
		if d, err = workflow.ParseDeadline(v); err != nil {
			return w.refused(c, "extension", err, form)
		}
	}
	_, err = w.svc.RequestExtension(c.Request().Context(), actor(c), c.Param("id"),
		workflow.ExtensionRequest{Deadline: d, Reason: form.Get("reason")}, formVersion(form.Get("version")))
	if err != nil {
		return w.refused(c, "extension", err, form)
	}
	return w.redirectProblem(c, "extension")
}

// decideExtension serves POST /problems/:id/extensions/:ext/decision:
// decision (approve or deny), note, version.
func (w *Web) decideExtension(c echo.Context) error {
	form, err := c.FormParams()
	if err != nil {
		return err
	}
	ext := c.Param("ext")
	_, err = w.svc.DecideExtension(c.Request().Context(), actor(c), c.Param("id"), ext,
		form.Get("decision"), form.Get("note"), formVersion(form.Get("version")))
	if err != nil {
		return w.refused(c, "decision:"+ext, err, form)
	}
	return w.redirectProblem(c, "decision")
}

// addEvidence serves POST /problems/:id/evidence, multipart/form-data with
// the fields csrf and version, then description and file, in the form's
// order: the CSRF token is checked before the file is read. The file is
// streamed into the evidence store (files.ReadUpload, as the API does).
// What AddEvidence would refuse for the problem as it stands is refused
// before the body is read.
func (w *Web) addEvidence(c echo.Context) error {
	ctx := c.Request().Context()
	a := actor(c)
	id := c.Param("id")
	p, err := w.svc.Problem(ctx, a, id)
	if err != nil {
		return err
	}
	blobs := w.svc.Blobs()
	if blobs == nil {
		return errors.New("web: evidence upload without an evidence store (workflow.Service.SetBlobs)")
	}
	ct, _, _ := mime.ParseMediaType(c.Request().Header.Get(echo.HeaderContentType))
	mr, mrErr := c.Request().MultipartReader()
	if ct != "multipart/form-data" || mrErr != nil {
		return workflow.RefuseField(workflow.ReasonFileMissing, "file", "the upload has no part named file")
	}
	var csrf, version string
	tokenOK := func() error {
		if !w.validCSRF(c, csrf) {
			return errCSRF()
		}
		return nil
	}
	if err := w.svc.CanAddEvidence(a, p); err != nil {
		return w.refused(c, "evidence", err, nil)
	}
	_ = http.NewResponseController(c.Response()).SetReadDeadline(time.Now().Add(uploadReadWindow))
	up, err := files.ReadUpload(ctx, mr, blobs, files.UploadOptions{
		Max: w.evidenceMax, KeepImage: files.KeepImageBytes,
		TooLarge: func() error {
			return workflow.RefuseField(workflow.ReasonFileTooLarge, "file", "the file is too large")
		},
		BeforeFile: tokenOK,
		Field: func(name, value string) error {
			switch name {
			case "csrf":
				csrf = value
			case "version":
				version = value
			default:
				return workflow.RefuseField(workflow.ReasonUnknownField, name, "unknown part %q", name)
			}
			return nil
		},
	})
	if err == nil {
		err = tokenOK() // a body without a file part never ran BeforeFile
	}
	if isCSRF(err) {
		return err
	}
	if err == nil {
		var report workflow.PhotoReport
		if report, err = files.CheckUpload(ctx, w.svc, up); err == nil {
			_, err = w.svc.AddEvidence(ctx, a, id, workflow.EvidenceInput{
				SHA256: up.SHA256, Name: up.Name, Size: up.Size, Type: up.Type, Description: up.Description,
				Phase: workflow.Phase(up.Phase), Photo: report,
			}, formVersion(version))
		}
	}
	if err != nil {
		return w.refused(c, "evidence", err, url.Values{"description": {up.Description}, "phase": {up.Phase}})
	}
	return w.redirectProblem(c, "evidence")
}

func isCSRF(err error) bool {
	return workflow.ErrorReason(err) == workflow.ReasonCSRF
}

// evidence serves GET /evidence/:sha256: the file, if the user may see a
// problem that holds it (404 otherwise); ?download=1 saves it.
func (w *Web) evidence(c echo.Context) error {
	return files.ServeEvidence(c.Response(), c.Request(), w.svc, actor(c), c.Param("sha256"),
		c.QueryParam("download") == "1", w.log)
}

// dossier downloads the problem's case file (一案一档).
func (w *Web) dossier(c echo.Context) error {
	return files.ServeDossier(c.Response(), c.Request(), w.svc, actor(c), c.Param("id"), w.log)
}

// positionOf shows p's position, if any.
func positionOf(p *workflow.Problem) string {
	if p.Position == nil {
		return ""
	}
	return positionText(*p.Position) + "（WGS-84）"
}
