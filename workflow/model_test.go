package workflow_test

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/jdz-eco/rectify/store/bolt"
	"github.com/jdz-eco/rectify/workflow"
)

// Model-based tests (pgregory.net/rapid): random sequences of commands
// (every trigger, notes, evidence, extension requests and decisions) by
// random actors (every role, several units) run against the service on a
// bolt store and against a plain model of the workflow written here, from
// the README's tables, without the workflow's code. After each step the
// service's answer (done, or refused with a code) must be the model's, the
// problem must be as the model says, every actor must be offered exactly the
// triggers the model permits, no verify, reject or close by an actor the
// separation of duties excludes ever succeeds, the version moves by one per
// command and the history holds one entry per command plus the alerts the
// service recorded. The number of checks is rapid's (-rapid.checks, 100 by
// default); CI runs the default.

// modelActors are the actors the sequences draw from.
var modelActors = []workflow.Actor{
	{ID: "m-bureau", Role: workflow.RoleBureau, UnitID: "city-eeb"},
	{ID: "m-bureau-fl", Role: workflow.RoleBureau, UnitID: "fuliang"},
	{ID: "m-bureau-water", Role: workflow.RoleBureau, UnitID: "city-water"},
	{ID: "m-insp", Role: workflow.RoleInspector, UnitID: "inspect"},
	{ID: "m-insp2", Role: workflow.RoleInspector, UnitID: "inspect"},
	{ID: "m-insp-fl", Role: workflow.RoleInspector, UnitID: "fuliang"},
	{ID: "m-insp-water", Role: workflow.RoleInspector, UnitID: "city-water"},
	{ID: "m-insp-lp", Role: workflow.RoleInspector, UnitID: "leping"},
	{ID: "m-unit-fl", Role: workflow.RoleUnit, UnitID: "fuliang"},
	{ID: "m-unit-fl2", Role: workflow.RoleUnit, UnitID: "fuliang"},
	{ID: "m-unit-water", Role: workflow.RoleUnit, UnitID: "city-water"},
	{ID: "m-unit-lp", Role: workflow.RoleUnit, UnitID: "leping"},
	{ID: "m-viewer", Role: workflow.RoleViewer, UnitID: "city-eeb"},
	{ID: "m-admin", Role: workflow.RoleAdmin, UnitID: "city-eeb"},
	{ID: "system", Role: workflow.RoleSystem},
}

// modelEvidence is one piece of evidence as the model keeps it.
type modelEvidence struct {
	by, unit string
	round    int
	site     bool // an inspector's site-check photo
}

// modelProblem is the model's problem.
type modelProblem struct {
	state                   workflow.State
	resolution              workflow.Resolution
	lead                    string
	coop                    []string
	deadline                time.Time
	submittedBy, verifiedBy string
	evidence                []modelEvidence
	round                   int
	extensions              []string // statuses: pending, approved, denied
	requested               []time.Time
	version                 uint64

	// The deadline's clock: paused while submitted, the pause credited
	// when the submission comes back; a new deadline starts it over.
	now        time.Time
	pausedAt   time.Time // zero: not paused
	pausedSecs int64

	// The public notice: whether the problem's source needs one, when the
	// running one ends, and the objections' statuses (open, upheld,
	// dismissed, superseded).
	needsNotice bool
	noticeEnd   time.Time
	objections  []string
}

// openObjections counts the objections still open.
func (m *modelProblem) openObjections() int {
	n := 0
	for _, o := range m.objections {
		if o == "open" {
			n++
		}
	}
	return n
}

// noticeEnded reports whether the running notice has ended.
func (m *modelProblem) noticeEnded() bool {
	return m.state == workflow.StateInNotice && m.now.After(m.noticeEnd)
}

// setDeadline is a new deadline: the credited pause starts over (a pause
// under way goes on while the problem waits on the inspectors).
func (m *modelProblem) setDeadline(d time.Time) {
	m.deadline, m.pausedSecs = d, 0
	if m.state != workflow.StateSubmitted {
		m.pausedAt = time.Time{}
	}
}

// late reports whether the deadline, with the pauses credited, has passed.
func (m *modelProblem) late() bool {
	at := m.now
	if m.state == workflow.StateSubmitted && !m.pausedAt.IsZero() {
		at = m.pausedAt
	}
	return at.After(m.deadline.Add(time.Duration(m.pausedSecs) * time.Second))
}

func (m *modelProblem) involves(unit string) bool {
	return unit != "" && (unit == m.lead || slices.Contains(m.coop, unit))
}

// visible is the README's visibility rule: unit officers see the problems
// their unit leads or cooperates in, every other role sees the ledger.
func (m *modelProblem) visible(a workflow.Actor) bool {
	if a.Role == workflow.RoleUnit {
		return m.involves(a.UnitID)
	}
	return true
}

// stateTriggers is the README's state diagram.
func (m *modelProblem) stateTriggers() []workflow.Trigger {
	switch m.state {
	case workflow.StateFound:
		return []workflow.Trigger{workflow.TriggerAssign, workflow.TriggerDismiss}
	case workflow.StateAssigned:
		return []workflow.Trigger{workflow.TriggerReassign, workflow.TriggerAccept}
	case workflow.StateRectifying:
		return []workflow.Trigger{workflow.TriggerSubmit}
	case workflow.StateSubmitted:
		return []workflow.Trigger{workflow.TriggerWithdraw, workflow.TriggerReject, workflow.TriggerVerify}
	case workflow.StateVerified:
		return []workflow.Trigger{workflow.TriggerClose, workflow.TriggerReopen}
	case workflow.StateInNotice:
		return []workflow.Trigger{workflow.TriggerEndNotice, workflow.TriggerUphold}
	case workflow.StateClosed:
		return []workflow.Trigger{workflow.TriggerReopen}
	}
	return nil
}

// forbidden is the README's role table with the default (strict)
// separation of duties: whether a may not fire t on the problem.
func (m *modelProblem) forbidden(t workflow.Trigger, a workflow.Actor) bool {
	bureau := a.Role == workflow.RoleBureau || a.Role == workflow.RoleSystem
	switch t {
	case workflow.TriggerAssign, workflow.TriggerReassign, workflow.TriggerDismiss,
		workflow.TriggerEndNotice, workflow.TriggerUphold: // the model's notices are closed by the bureau
		return !bureau
	case workflow.TriggerAccept, workflow.TriggerSubmit, workflow.TriggerWithdraw:
		return a.Role != workflow.RoleUnit || a.UnitID != m.lead
	case workflow.TriggerReopen:
		return !bureau && a.Role != workflow.RoleInspector
	}
	// verify, reject: inspectors; close: inspectors and the bureau.
	if a.Role != workflow.RoleInspector && !(t == workflow.TriggerClose && bureau) {
		return true
	}
	return m.excluded(t, a)
}

// excluded is the separation of duties alone: who may never review.
func (m *modelProblem) excluded(t workflow.Trigger, a workflow.Actor) bool {
	if m.involves(a.UnitID) || (a.ID != "" && a.ID == m.submittedBy) {
		return true
	}
	for _, e := range m.evidence {
		if !e.site && (e.by == a.ID || (a.UnitID != "" && e.unit == a.UnitID)) {
			return true
		}
	}
	return t == workflow.TriggerClose && a.ID == m.verifiedBy
}

func (m *modelProblem) hasNewEvidence() bool {
	for _, e := range m.evidence {
		if e.round == m.round && !e.site {
			return true
		}
	}
	return false
}

// permitted is what the model lets a fire now.
func (m *modelProblem) permitted(a workflow.Actor) []workflow.Trigger {
	out := []workflow.Trigger{}
	for _, t := range workflow.Triggers { // the service lists them in this order
		ready := (t != workflow.TriggerSubmit || m.hasNewEvidence()) &&
			(t != workflow.TriggerEndNotice || (m.noticeEnded() && m.openObjections() == 0)) &&
			(t != workflow.TriggerUphold || m.openObjections() > 0)
		if slices.Contains(m.stateTriggers(), t) && !m.forbidden(t, a) && ready {
			out = append(out, t)
		}
	}
	return out
}

// fire says what firing t with prm by a does: the refusal's code, or ""
// and the problem changed.
func (m *modelProblem) fire(t workflow.Trigger, a workflow.Actor, prm workflow.Params, missing bool) workflow.Code {
	switch {
	case missing:
		return workflow.CodeInvalid
	case !m.visible(a):
		return workflow.CodeNotFound
	case !slices.Contains(m.stateTriggers(), t):
		return workflow.CodeConflict
	case m.forbidden(t, a):
		return workflow.CodeForbidden
	}
	switch t {
	case workflow.TriggerAssign, workflow.TriggerReassign:
		lead, coop := m.lead, m.coop
		if prm.LeadUnit != "" {
			lead = prm.LeadUnit
		}
		if prm.CooperatingUnits != nil {
			coop = prm.CooperatingUnits
		}
		if slices.Contains(coop, lead) {
			return workflow.CodeInvalid
		}
		if t == workflow.TriggerReassign && prm.LeadUnit == m.lead && prm.Deadline == nil && prm.CooperatingUnits == nil {
			return workflow.CodeInvalid
		}
		m.lead, m.coop, m.state = lead, slices.Clone(coop), workflow.StateAssigned
		if prm.Deadline != nil {
			m.setDeadline(*prm.Deadline)
		}
	case workflow.TriggerSubmit:
		if !m.hasNewEvidence() {
			return workflow.CodeConflict
		}
		m.state, m.submittedBy = workflow.StateSubmitted, a.ID
		m.pausedAt = m.now
	case workflow.TriggerReopen:
		toFound := m.state == workflow.StateClosed && m.resolution == workflow.ResolutionDismissed
		if toFound == (prm.Deadline != nil) {
			return workflow.CodeInvalid
		}
		m.round++
		m.resolution, m.submittedBy, m.verifiedBy = "", "", ""
		m.state = workflow.StateRectifying
		if toFound {
			m.state = workflow.StateFound
		} else {
			m.setDeadline(*prm.Deadline)
		}
		m.pausedAt = time.Time{}
	case workflow.TriggerDismiss:
		m.state, m.resolution = workflow.StateClosed, workflow.ResolutionDismissed
		m.pausedAt = time.Time{}
	case workflow.TriggerAccept:
		m.state = workflow.StateRectifying
	case workflow.TriggerWithdraw, workflow.TriggerReject:
		m.state, m.submittedBy = workflow.StateRectifying, ""
		if t == workflow.TriggerReject {
			m.round++
		}
		if !m.pausedAt.IsZero() {
			m.pausedSecs += int64(m.now.Sub(m.pausedAt) / time.Second)
		}
		m.pausedAt = time.Time{}
	case workflow.TriggerVerify:
		m.state, m.verifiedBy = workflow.StateVerified, a.ID
		m.pausedAt = time.Time{}
	case workflow.TriggerClose:
		m.state, m.resolution = workflow.StateClosed, workflow.ResolutionRectified
		if m.needsNotice {
			m.state, m.resolution = workflow.StateInNotice, ""
			m.noticeEnd = modelCalendar.AddWorkdays(m.now, modelNoticeDays)
		}
		m.pausedAt = time.Time{}
	case workflow.TriggerEndNotice:
		if !m.noticeEnded() || m.openObjections() > 0 {
			return workflow.CodeConflict
		}
		m.state, m.resolution = workflow.StateClosed, workflow.ResolutionRectified
	case workflow.TriggerUphold:
		n, err := strconv.Atoi(prm.ObjectionID)
		switch {
		case err != nil || n < 1 || n > len(m.objections):
			return workflow.CodeNotFound
		case m.objections[n-1] != "open":
			return workflow.CodeConflict
		}
		for i, o := range m.objections {
			if o == "open" {
				m.objections[i] = "superseded"
			}
		}
		m.objections[n-1] = "upheld"
		m.round++
		m.resolution, m.submittedBy, m.verifiedBy = "", "", ""
		m.state = workflow.StateRectifying
		m.setDeadline(*prm.Deadline)
	}
	return ""
}

// The model's notice: its length and the calendar counting it (weekends).
const modelNoticeDays = 5

var modelCalendar = workflow.NewCalendar()

// object is anyone's objection: only to a problem in notice (else it is
// not found), while the notice runs.
func (m *modelProblem) object() workflow.Code {
	switch {
	case m.state != workflow.StateInNotice:
		return workflow.CodeNotFound
	case m.noticeEnded():
		return workflow.CodeConflict
	}
	m.objections = append(m.objections, "open")
	return ""
}

// dismissObjection is the bureau's dismissal of objection n.
func (m *modelProblem) dismissObjection(a workflow.Actor, n int) workflow.Code {
	switch {
	case !m.visible(a):
		return workflow.CodeNotFound
	case a.Role != workflow.RoleBureau && a.Role != workflow.RoleSystem:
		return workflow.CodeForbidden
	case n < 1 || n > len(m.objections):
		return workflow.CodeNotFound
	case m.objections[n-1] != "open":
		return workflow.CodeConflict
	}
	m.objections[n-1] = "dismissed"
	return ""
}

// note, evidence, request and decide are the other commands' rules.
func (m *modelProblem) note(a workflow.Actor) workflow.Code {
	switch {
	case !m.visible(a):
		return workflow.CodeNotFound
	case a.Role != workflow.RoleUnit || !m.involves(a.UnitID):
		return workflow.CodeForbidden
	case m.state != workflow.StateAssigned && m.state != workflow.StateRectifying:
		return workflow.CodeConflict
	}
	return ""
}

func (m *modelProblem) addEvidence(a workflow.Actor) workflow.Code {
	if a.Role == workflow.RoleInspector { // site-check photos, by whoever may decide the submission
		switch {
		case m.state != workflow.StateSubmitted:
			return workflow.CodeConflict
		case m.excluded(workflow.TriggerReject, a):
			return workflow.CodeForbidden
		}
		m.evidence = append(m.evidence, modelEvidence{by: a.ID, unit: a.UnitID, round: m.round, site: true})
		return ""
	}
	if code := m.note(a); code != "" {
		return code
	}
	m.evidence = append(m.evidence, modelEvidence{by: a.ID, unit: a.UnitID, round: m.round})
	return ""
}

func (m *modelProblem) request(a workflow.Actor, d time.Time) workflow.Code {
	switch {
	case !m.visible(a):
		return workflow.CodeNotFound
	case a.Role != workflow.RoleUnit || a.UnitID != m.lead:
		return workflow.CodeForbidden
	case m.state != workflow.StateAssigned && m.state != workflow.StateRectifying:
		return workflow.CodeConflict
	case slices.Contains(m.extensions, "pending"):
		return workflow.CodeConflict
	case m.late(): // no grace by default
		return workflow.CodeForbidden
	case !d.After(m.deadline):
		return workflow.CodeInvalid
	}
	m.extensions = append(m.extensions, "pending")
	m.requested = append(m.requested, d)
	return ""
}

func (m *modelProblem) decide(a workflow.Actor, ext int, approve bool) workflow.Code {
	runs := m.state == workflow.StateAssigned || m.state == workflow.StateRectifying || m.state == workflow.StateSubmitted
	switch {
	case !m.visible(a):
		return workflow.CodeNotFound
	case a.Role != workflow.RoleBureau && a.Role != workflow.RoleSystem:
		return workflow.CodeForbidden
	case ext < 1 || ext > len(m.extensions):
		return workflow.CodeNotFound
	case m.extensions[ext-1] != "pending":
		return workflow.CodeConflict
	case approve && !runs:
		return workflow.CodeConflict
	}
	m.extensions[ext-1] = "denied"
	if approve {
		m.extensions[ext-1] = "approved"
		m.setDeadline(m.requested[ext-1])
	}
	return ""
}

func TestModel(t *testing.T) {
	st, err := bolt.Open(t.TempDir()+"/model.db", bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	clock := workflow.NewManualClock(t0)
	svc := workflow.NewService(st, clock)
	ctx := context.Background()
	// Audits need a notice (closed by the bureau), self-inspections none.
	if err := svc.SetNoticePolicy(workflow.NoticePolicy{Sources: []workflow.Source{workflow.SourceAudit}, Days: modelNoticeDays, By: workflow.RoleBureau}); err != nil {
		t.Fatal(err)
	}
	if err := svc.PutUnits(ctx, testUnits); err != nil {
		t.Fatal(err)
	}
	leads := []string{"fuliang", "leping"}
	partners := []string{"city-water", "leping", "fuliang", "inspect"}
	base := time.Date(2030, 12, 31, 15, 59, 59, 0, time.UTC)
	sha := 0

	rapid.Check(t, func(rt *rapid.T) {
		source := rapid.SampledFrom([]workflow.Source{workflow.SourceAudit, workflow.SourceSelfInspection}).Draw(rt, "source")
		p, _, err := svc.CreateProblem(ctx, bureau, workflow.NewProblem{Title: "模型", Description: "随机命令", Source: source, CountyID: "fuliang"})
		if err != nil {
			rt.Fatal(err)
		}
		m := &modelProblem{state: workflow.StateFound, version: 1, coop: []string{}, needsNotice: source == workflow.SourceAudit}
		commands := 1 // the create
		steps := rapid.IntRange(1, 60).Draw(rt, "steps")
		for i := range steps {
			if rapid.IntRange(0, 4).Draw(rt, "tick") == 0 {
				clock.Advance(time.Duration(rapid.IntRange(1, 72).Draw(rt, "hours")) * time.Hour)
			}
			m.now = clock.Now()
			kind := rapid.IntRange(0, 15).Draw(rt, "kind")
			if m.state == workflow.StateInNotice && rapid.Bool().Draw(rt, "object first") {
				kind = rapid.IntRange(14, 15).Draw(rt, "notice kind") // an objection, or its dismissal
			}
			if m.state == workflow.StateRectifying && !m.hasNewEvidence() && rapid.Bool().Draw(rt, "upload first") {
				kind = 11
			}
			// Steer towards commands the model allows (a trigger of the
			// state, by an actor it permits) half of the time, so that
			// sequences reach every state; the rest are anything at all.
			steer := rapid.Bool().Draw(rt, "steer")
			a := rapid.SampledFrom(modelActors).Draw(rt, "actor")
			before := *m
			before.coop, before.evidence = slices.Clone(m.coop), slices.Clone(m.evidence)
			before.objections = slices.Clone(m.objections)
			var (
				want, got workflow.Code
				what      string
				t         workflow.Trigger
			)
			switch {
			case kind < 10: // a trigger
				t = workflow.Triggers[rapid.IntRange(0, len(workflow.Triggers)-1).Draw(rt, "trigger")]
				if ts := m.stateTriggers(); steer && len(ts) > 0 {
					t = rapid.SampledFrom(ts).Draw(rt, "state trigger")
					var allowed []workflow.Actor
					for _, b := range modelActors {
						if !m.forbidden(t, b) {
							allowed = append(allowed, b)
						}
					}
					if len(allowed) > 0 {
						a = rapid.SampledFrom(allowed).Draw(rt, "allowed actor")
					}
				}
				prm, missing := drawParams(rt, t, leads, partners, base)
				what = fmt.Sprintf("%s by %s %+v", t, a.ID, prm)
				want = m.fire(t, a, prm, missing)
				_, err = svc.Fire(ctx, a, p.ID, workflow.Command{Trigger: t, Params: prm})
			case kind == 10:
				what = "note by " + a.ID
				want = m.note(a)
				_, err = svc.AddNote(ctx, a, p.ID, "进展", 0)
			case kind == 11:
				if steer && m.lead != "" {
					a = rapid.SampledFrom([]workflow.Actor{modelActors[8], modelActors[9], modelActors[10], modelActors[11]}).Draw(rt, "unit officer")
				}
				sha++
				in := evidenceInput("model-" + strconv.Itoa(sha))
				what = "evidence by " + a.ID
				want = m.addEvidence(a)
				_, err = svc.AddEvidence(ctx, a, p.ID, in, 0)
			case kind == 12:
				d := m.deadline.AddDate(0, 0, rapid.IntRange(-5, 60).Draw(rt, "extend"))
				if m.deadline.IsZero() {
					d = base.AddDate(0, 0, 1)
				}
				what = "extension request by " + a.ID
				want = m.request(a, d)
				_, err = svc.RequestExtension(ctx, a, p.ID, workflow.ExtensionRequest{Deadline: d, Reason: "理由"}, 0)
			case kind == 14:
				what = "objection"
				want = m.object()
				_, err = svc.FileObjection(ctx, p.ID, workflow.ObjectionInput{Text: "整改不到位，仍有污水直排", Name: "张三"})
			case kind == 15:
				n := rapid.IntRange(0, len(m.objections)+1).Draw(rt, "objection")
				if open := slices.Index(m.objections, "open"); steer && open >= 0 {
					a, n = modelActors[0], open+1 // the bureau decides an open one
				}
				what = fmt.Sprintf("dismissal of objection %d by %s", n, a.ID)
				want = m.dismissObjection(a, n)
				_, err = svc.DismissObjection(ctx, a, p.ID, strconv.Itoa(n), "经核实，整改已到位", 0)
			default:
				ext := rapid.IntRange(0, len(m.extensions)+1).Draw(rt, "ext")
				approve := rapid.Bool().Draw(rt, "approve")
				what = fmt.Sprintf("decision %d (approve %v) by %s", ext, approve, a.ID)
				want = m.decide(a, ext, approve)
				decision := "deny"
				if approve {
					decision = "approve"
				}
				_, err = svc.DecideExtension(ctx, a, p.ID, strconv.Itoa(ext), decision, "意见", 0)
			}
			got = workflow.ErrorCode(err)
			if got != want {
				rt.Fatalf("step %d, %s in state %s: service %q (%v), model %q", i, what, before.state, got, err, want)
			}
			if got == "" {
				commands++
				m.version++
				if t == workflow.TriggerVerify || t == workflow.TriggerReject || t == workflow.TriggerClose {
					if before.excluded(t, a) {
						rt.Fatalf("step %d: %s succeeded, which the separation of duties forbids", i, what)
					}
				}
			} else {
				*m = before
			}
			checkAgainstModel(rt, svc, p.ID, m, commands)
		}
	})
}

// drawParams draws parameters for t, valid but for the units chosen (a
// lead may also be listed as cooperating), or with a required one missing.
func drawParams(rt *rapid.T, t workflow.Trigger, leads, partners []string, base time.Time) (prm workflow.Params, missing bool) {
	// end_notice takes no parameter: none can be missing.
	missing = rapid.IntRange(0, 9).Draw(rt, "missing") == 0 && t != workflow.TriggerEndNotice
	deadline := func() *time.Time {
		d := base.AddDate(0, 0, rapid.IntRange(0, 400).Draw(rt, "days"))
		return &d
	}
	coop := func() []string {
		var out []string
		for _, u := range partners {
			if rapid.IntRange(0, 3).Draw(rt, "coop") == 0 {
				out = append(out, u)
			}
		}
		if out == nil {
			out = []string{}
		}
		return out
	}
	text := "说明"
	if missing {
		text = ""
	}
	switch t {
	case workflow.TriggerAssign:
		prm.LeadUnit = rapid.SampledFrom(leads).Draw(rt, "lead")
		prm.CooperatingUnits = coop()
		if !missing {
			prm.Deadline = deadline()
		}
	case workflow.TriggerReassign:
		prm.Reason = text
		if rapid.Bool().Draw(rt, "new lead") {
			prm.LeadUnit = rapid.SampledFrom(leads).Draw(rt, "lead")
		}
		if rapid.Bool().Draw(rt, "new coop") {
			prm.CooperatingUnits = coop()
		}
		if rapid.Bool().Draw(rt, "new deadline") {
			prm.Deadline = deadline()
		}
		if !missing && prm.LeadUnit == "" && prm.Deadline == nil && prm.CooperatingUnits == nil {
			missing = true // reassign needs one of them: invalid before anything else
		}
	case workflow.TriggerDismiss, workflow.TriggerWithdraw, workflow.TriggerReject:
		prm.Reason = text
	case workflow.TriggerAccept:
		prm.Plan = text
	case workflow.TriggerSubmit:
		prm.Summary = text
	case workflow.TriggerVerify:
		prm.Opinion = text
	case workflow.TriggerClose:
		prm.Statement = text
	case workflow.TriggerReopen:
		prm.Reason = text
		if rapid.Bool().Draw(rt, "reopen deadline") {
			prm.Deadline = deadline()
		}
	case workflow.TriggerUphold:
		prm.ObjectionID = strconv.Itoa(rapid.IntRange(0, 3).Draw(rt, "objection"))
		if !missing {
			prm.Deadline = deadline()
		}
	}
	return prm, missing
}

// checkAgainstModel compares the stored problem, its history and the
// triggers every actor is offered with the model.
func checkAgainstModel(rt *rapid.T, svc *workflow.Service, id string, m *modelProblem, commands int) {
	ctx := context.Background()
	p, err := svc.Problem(ctx, system, id)
	if err != nil {
		rt.Fatal(err)
	}
	coop := p.CooperatingUnits
	if coop == nil {
		coop = []string{}
	}
	if p.State != m.state || p.Resolution != m.resolution || p.LeadUnit != m.lead || !slices.Equal(coop, m.coop) ||
		p.SubmittedBy != m.submittedBy || p.VerifiedBy != m.verifiedBy || len(p.Evidence) != len(m.evidence) ||
		p.EvidenceRound != m.round || len(p.Extensions) != len(m.extensions) || p.Version != m.version {
		rt.Fatalf("the problem differs from the model:\nservice %s/%s lead %s coop %v submitted %q verified %q evidence %d round %d extensions %d version %d\nmodel   %+v",
			p.State, p.Resolution, p.LeadUnit, coop, p.SubmittedBy, p.VerifiedBy, len(p.Evidence), p.EvidenceRound, len(p.Extensions), p.Version, *m)
	}
	if !m.deadline.IsZero() && (p.Deadline == nil || !p.Deadline.Equal(m.deadline)) {
		rt.Fatalf("deadline %v, model %v", p.Deadline, m.deadline)
	}
	if (p.State == workflow.StateInNotice) != (p.Notice != nil && m.state == workflow.StateInNotice) ||
		(p.Notice != nil && m.state == workflow.StateInNotice && !p.Notice.End.Equal(m.noticeEnd)) {
		rt.Fatalf("notice %+v, model state %s ending %v", p.Notice, m.state, m.noticeEnd)
	}
	if len(p.Objections) != len(m.objections) {
		rt.Fatalf("%d objections, model %d", len(p.Objections), len(m.objections))
	}
	for i, o := range p.Objections {
		if string(o.Status) != m.objections[i] {
			rt.Fatalf("objection %d is %s, model %s", i+1, o.Status, m.objections[i])
		}
	}
	for i, x := range p.Extensions {
		if string(x.Status) != m.extensions[i] {
			rt.Fatalf("extension %d is %s, model %s", i+1, x.Status, m.extensions[i])
		}
	}
	hist, err := svc.History(ctx, system, id)
	if err != nil {
		rt.Fatal(err)
	}
	alerts := 0
	for i, e := range hist {
		if e.Action == workflow.ActionAlert {
			alerts++
			if e.From != e.To {
				rt.Fatalf("an alert moved the state: %+v", e)
			}
			continue
		}
		if i > 0 && e.Version != hist[i-1].Version+1 {
			rt.Fatalf("entry %d (%s) at version %d after %d: a command moved the version by other than one", i, e.Action, e.Version, hist[i-1].Version)
		}
	}
	if len(hist) != commands+alerts {
		rt.Fatalf("%d history entries for %d commands and %d alerts", len(hist), commands, alerts)
	}
	if last := hist[len(hist)-1]; last.Version != m.version {
		rt.Fatalf("the last entry is at version %d, the problem at %d", last.Version, m.version)
	}
	for _, a := range modelActors {
		if got, want := svc.PermittedTriggers(a, p), m.permitted(a); !slices.Equal(got, want) {
			rt.Fatalf("%s (%s of %s) is offered %v, the model permits %v in state %s", a.ID, a.Role, a.UnitID, got, want, m.state)
		}
	}
}
