package workflow_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/jdz-eco/rectify/store/bolt"
	"github.com/jdz-eco/rectify/workflow"
)

var (
	t0        = time.Date(2021, 6, 24, 9, 0, 0, 0, time.UTC)
	system    = workflow.Actor{ID: "system", Name: "系统", Role: workflow.RoleSystem}
	bureau    = workflow.Actor{ID: "u-bureau", Name: "局办", Role: workflow.RoleBureau, UnitID: "city-eeb"}
	officer   = workflow.Actor{ID: "u-fl", Name: "浮梁县干部", Role: workflow.RoleUnit, UnitID: "fuliang"}
	coop      = workflow.Actor{ID: "u-water", Name: "水利局干部", Role: workflow.RoleUnit, UnitID: "city-water"}
	outsider  = workflow.Actor{ID: "u-lp", Name: "乐平市干部", Role: workflow.RoleUnit, UnitID: "leping"}
	inspector = workflow.Actor{ID: "u-insp", Name: "验收员", Role: workflow.RoleInspector, UnitID: "inspect"}
	second    = workflow.Actor{ID: "u-insp2", Name: "复核员", Role: workflow.RoleInspector, UnitID: "inspect"}
)

// testUnits are the units every test ledger has.
var testUnits = []workflow.Unit{
	{ID: "fuliang", Name: "浮梁县", Kind: workflow.UnitCounty},
	{ID: "leping", Name: "乐平市", Kind: workflow.UnitCounty},
	{ID: "city-eeb", Name: "市生态环境局", Kind: workflow.UnitDepartment},
	{ID: "city-water", Name: "市水利局", Kind: workflow.UnitDepartment},
	{ID: "inspect", Name: "领导小组办公室", Kind: workflow.UnitOffice},
}

type fixture struct {
	svc   *workflow.Service
	clock *workflow.ManualClock
	store workflow.Store
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	st, err := bolt.Open(t.TempDir()+"/test.db", bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	clock := workflow.NewManualClock(t0)
	svc := workflow.NewService(st, clock)
	err = svc.PutUnits(context.Background(), testUnits)
	if err != nil {
		t.Fatal(err)
	}
	err = svc.PutWorkPoints(context.Background(), []workflow.WorkPoint{{Number: 7, Title: "深入推进尾矿库污染治理", LeadUnits: []string{"fuliang"}}})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{svc: svc, clock: clock, store: st}
}

func (f *fixture) create(t *testing.T) *workflow.Problem {
	t.Helper()
	p, created, err := f.svc.CreateProblem(context.Background(), bureau, workflow.NewProblem{
		Title: "尾矿库污染隐患", Description: "浮梁县茅棚店锡矿尾矿库", Source: workflow.SourceSelfInspection, CountyID: "fuliang", WorkPoint: 7,
	})
	if err != nil || !created {
		t.Fatalf("create: %v %v", created, err)
	}
	return p
}

func (f *fixture) fire(t *testing.T, a workflow.Actor, id string, trig workflow.Trigger, prm workflow.Params) *workflow.Problem {
	t.Helper()
	f.clock.Advance(time.Hour)
	p, err := f.svc.Fire(context.Background(), a, id, workflow.Command{Trigger: trig, Params: prm})
	if err != nil {
		t.Fatalf("%s by %s: %v", trig, a.ID, err)
	}
	return p
}

// evidenceInput describes a (pretend) stored file; the service checks files
// exist only when it has a blob store.
func evidenceInput(seed string) workflow.EvidenceInput {
	sum := sha256.Sum256([]byte(seed))
	return workflow.EvidenceInput{SHA256: hex.EncodeToString(sum[:]), Name: "现场照片-" + seed + ".jpg", Size: 1024, Type: "image/jpeg"}
}

func (f *fixture) evidence(t *testing.T, a workflow.Actor, id, seed string) *workflow.Problem {
	t.Helper()
	p, err := f.svc.AddEvidence(context.Background(), a, id, evidenceInput(seed), 0)
	if err != nil {
		t.Fatalf("evidence by %s: %v", a.ID, err)
	}
	return p
}

func deadline(s string) *time.Time {
	d, err := workflow.ParseDeadline(s)
	if err != nil {
		panic(err)
	}
	return &d
}

func wantCode(t *testing.T, err error, code workflow.Code) *workflow.Error {
	t.Helper()
	var e *workflow.Error
	if !errors.As(err, &e) || e.Code != code {
		t.Fatalf("got %v, want code %s", err, code)
	}
	return e
}

func TestLifecycleAndReplay(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	p := f.create(t)
	if p.Code != "JDZ-2021-0001" || p.State != workflow.StateFound || p.Version != 1 {
		t.Fatalf("created %+v", p)
	}
	id := p.ID
	f.fire(t, bureau, id, workflow.TriggerAssign, workflow.Params{LeadUnit: "fuliang", CooperatingUnits: []string{"city-water"}, Deadline: deadline("2021-12-31"), Requirements: "闭库治理"})
	f.fire(t, officer, id, workflow.TriggerAccept, workflow.Params{Plan: "制定治理方案"})
	if _, err := f.svc.AddNote(ctx, coop, id, "已完成现场踏勘", 0); err != nil {
		t.Fatal(err)
	}
	_, err := f.svc.Fire(ctx, officer, id, workflow.Command{Trigger: workflow.TriggerSubmit, Params: workflow.Params{Summary: "已闭库"}})
	wantCode(t, err, workflow.CodeConflict) // no evidence yet
	f.evidence(t, coop, id, "a")
	f.fire(t, officer, id, workflow.TriggerSubmit, workflow.Params{Summary: "已闭库"})
	_, err = f.svc.AddNote(ctx, officer, id, "补充", 0)
	wantCode(t, err, workflow.CodeConflict)
	_, err = f.svc.AddEvidence(ctx, officer, id, evidenceInput("b"), 0)
	wantCode(t, err, workflow.CodeConflict) // frozen under review
	f.fire(t, inspector, id, workflow.TriggerReject, workflow.Params{Reason: "佐证不足"})
	_, err = f.svc.Fire(ctx, officer, id, workflow.Command{Trigger: workflow.TriggerSubmit, Params: workflow.Params{Summary: "原样再交"}})
	wantCode(t, err, workflow.CodeConflict) // nothing new since the rejection
	f.evidence(t, officer, id, "b")
	f.fire(t, officer, id, workflow.TriggerSubmit, workflow.Params{Summary: "补充监测报告"})
	p = f.fire(t, inspector, id, workflow.TriggerVerify, workflow.Params{Opinion: "验收通过"})
	if p.State != workflow.StateVerified || p.VerifiedBy != inspector.ID {
		t.Fatalf("after verify: %+v", p)
	}
	_, err = f.svc.Fire(ctx, inspector, id, workflow.Command{Trigger: workflow.TriggerClose, Params: workflow.Params{Statement: "同意销号"}})
	wantCode(t, err, workflow.CodeForbidden)
	p = f.fire(t, second, id, workflow.TriggerClose, workflow.Params{Statement: "同意销号"})
	if p.State != workflow.StateClosed || p.Resolution != workflow.ResolutionRectified {
		t.Fatalf("after close: %+v", p)
	}
	p = f.fire(t, bureau, id, workflow.TriggerReopen, workflow.Params{Reason: "回头看发现反弹", Deadline: deadline("2022-03-31")})
	if p.State != workflow.StateRectifying || p.Resolution != "" || p.Deadline.Format(time.DateOnly) != "2022-03-31" {
		t.Fatalf("after reopen: %+v", p)
	}
	if p.Version != 12 {
		t.Fatalf("version %d, want 12 (one per entry)", p.Version)
	}

	hist, err := f.svc.History(ctx, bureau, id)
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for i, e := range hist {
		actions = append(actions, e.Action)
		if i > 0 && e.Seq <= hist[i-1].Seq {
			t.Fatalf("history out of order: %v", hist)
		}
	}
	want := []string{"create", "assign", "accept", "note", "evidence", "submit", "reject", "evidence", "submit", "verify", "close", "reopen"}
	if !reflect.DeepEqual(actions, want) {
		t.Fatalf("history %v, want %v", actions, want)
	}
	replayed, err := workflow.Replay(hist)
	if err != nil {
		t.Fatal(err)
	}
	stored, _ := f.svc.Problem(ctx, bureau, id)
	if !reflect.DeepEqual(replayed, stored) {
		t.Fatalf("replay differs from the stored record:\nreplay %+v\nstored %+v", replayed, stored)
	}
}

func TestRefusalsSayWhy(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	id := f.create(t).ID

	_, err := f.svc.Fire(ctx, bureau, id, workflow.Command{Trigger: workflow.TriggerVerify, Params: workflow.Params{Opinion: "x"}})
	e := wantCode(t, err, workflow.CodeConflict)
	if e.State != workflow.StateFound || !reflect.DeepEqual(e.Permitted, []workflow.Trigger{workflow.TriggerAssign, workflow.TriggerDismiss}) {
		t.Fatalf("conflict without state and permitted triggers: %+v", e)
	}
	_, err = f.svc.Fire(ctx, officer, id, workflow.Command{Trigger: workflow.TriggerAssign, Params: workflow.Params{LeadUnit: "fuliang", Deadline: deadline("2021-12-31")}})
	wantCode(t, err, workflow.CodeNotFound) // the officer's unit is not involved yet: invisible
	_, err = f.svc.Fire(ctx, inspector, id, workflow.Command{Trigger: workflow.TriggerAssign, Params: workflow.Params{LeadUnit: "fuliang", Deadline: deadline("2021-12-31")}})
	wantCode(t, err, workflow.CodeForbidden)
	_, err = f.svc.Fire(ctx, bureau, id, workflow.Command{Trigger: workflow.TriggerAssign, Params: workflow.Params{LeadUnit: "nowhere", Deadline: deadline("2021-12-31")}})
	wantCode(t, err, workflow.CodeInvalid)
	_, err = f.svc.Fire(ctx, bureau, id, workflow.Command{Trigger: workflow.TriggerAssign, Params: workflow.Params{LeadUnit: "fuliang", CooperatingUnits: []string{"fuliang"}, Deadline: deadline("2021-12-31")}})
	wantCode(t, err, workflow.CodeInvalid)
	_, err = f.svc.Fire(ctx, bureau, id, workflow.Command{Trigger: workflow.TriggerAssign, IfVersion: 7, Params: workflow.Params{LeadUnit: "fuliang", Deadline: deadline("2021-12-31")}})
	wantCode(t, err, workflow.CodePreconditionFailed)
	_, err = f.svc.Fire(ctx, bureau, "999", workflow.Command{Trigger: workflow.TriggerDismiss, Params: workflow.Params{Reason: "x"}})
	wantCode(t, err, workflow.CodeNotFound)

	// Nothing above changed the problem.
	p, _ := f.svc.Problem(ctx, bureau, id)
	if p.Version != 1 || p.State != workflow.StateFound {
		t.Fatalf("refusals changed the problem: %+v", p)
	}

	f.fire(t, bureau, id, workflow.TriggerAssign, workflow.Params{LeadUnit: "fuliang", Deadline: deadline("2020-01-01")}) // a past deadline is accepted
	_, err = f.svc.Fire(ctx, outsider, id, workflow.Command{Trigger: workflow.TriggerAccept, Params: workflow.Params{Plan: "x"}})
	wantCode(t, err, workflow.CodeNotFound)
	_, err = f.svc.Fire(ctx, bureau, id, workflow.Command{Trigger: workflow.TriggerReassign, Params: workflow.Params{LeadUnit: "fuliang", Reason: "x"}})
	wantCode(t, err, workflow.CodeInvalid)
	f.fire(t, officer, id, workflow.TriggerAccept, workflow.Params{Plan: "方案"})
	f.evidence(t, officer, id, "c")
	f.fire(t, officer, id, workflow.TriggerSubmit, workflow.Params{Summary: "完成"})
	// The submitter's own unit may not verify, even an inspector there.
	leadInspector := workflow.Actor{ID: "u-fl-insp", Role: workflow.RoleInspector, UnitID: "fuliang"}
	_, err = f.svc.Fire(ctx, leadInspector, id, workflow.Command{Trigger: workflow.TriggerVerify, Params: workflow.Params{Opinion: "x"}})
	wantCode(t, err, workflow.CodeForbidden)
	_, err = f.svc.Fire(ctx, officer, id, workflow.Command{Trigger: workflow.TriggerSubmit, Params: workflow.Params{Summary: "again"}})
	e = wantCode(t, err, workflow.CodeConflict)
	if e.State != workflow.StateSubmitted || !reflect.DeepEqual(e.Permitted, []workflow.Trigger{workflow.TriggerWithdraw}) {
		t.Fatalf("second submit: %+v", e)
	}
	f.fire(t, officer, id, workflow.TriggerWithdraw, workflow.Params{Reason: "补充材料"})
	if got := f.svc.PermittedTriggers(officer, mustGet(t, f, id)); !reflect.DeepEqual(got, []workflow.Trigger{workflow.TriggerSubmit}) {
		t.Fatalf("officer may %v after withdraw", got)
	}
}

func mustGet(t *testing.T, f *fixture, id string) *workflow.Problem {
	t.Helper()
	p, err := f.svc.Problem(context.Background(), bureau, id)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDismissAndReopenToFound(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	id := f.create(t).ID
	p := f.fire(t, bureau, id, workflow.TriggerDismiss, workflow.Params{Reason: "经核实不属实"})
	if p.State != workflow.StateClosed || p.Resolution != workflow.ResolutionDismissed {
		t.Fatalf("dismissed: %+v", p)
	}
	_, err := f.svc.Fire(ctx, bureau, id, workflow.Command{Trigger: workflow.TriggerReopen, Params: workflow.Params{Reason: "x", Deadline: deadline("2022-01-01")}})
	wantCode(t, err, workflow.CodeInvalid)
	p = f.fire(t, inspector, id, workflow.TriggerReopen, workflow.Params{Reason: "群众再次举报"})
	if p.State != workflow.StateFound || p.Resolution != "" {
		t.Fatalf("reopened: %+v", p)
	}
}

func TestVisibilityAndNotes(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	id := f.create(t).ID
	f.fire(t, bureau, id, workflow.TriggerAssign, workflow.Params{LeadUnit: "fuliang", CooperatingUnits: []string{"city-water"}, Deadline: deadline("2021-12-31")})
	for _, a := range []workflow.Actor{officer, coop, bureau, inspector} {
		if _, err := f.svc.Problem(ctx, a, id); err != nil {
			t.Errorf("%s cannot see: %v", a.ID, err)
		}
	}
	_, err := f.svc.Problem(ctx, outsider, id)
	wantCode(t, err, workflow.CodeNotFound)
	_, err = f.svc.History(ctx, outsider, id)
	wantCode(t, err, workflow.CodeNotFound)
	items, _, err := f.svc.Problems(ctx, outsider, workflow.ProblemFilter{})
	if err != nil || len(items) != 0 {
		t.Fatalf("outsider lists %d problems (%v)", len(items), err)
	}
	items, _, _ = f.svc.Problems(ctx, coop, workflow.ProblemFilter{})
	if len(items) != 1 {
		t.Fatalf("cooperating unit lists %d problems", len(items))
	}
	_, err = f.svc.AddNote(ctx, outsider, id, "x", 0)
	wantCode(t, err, workflow.CodeNotFound)
	_, err = f.svc.AddNote(ctx, inspector, id, "x", 0)
	wantCode(t, err, workflow.CodeForbidden)
	_, err = f.svc.AddNote(ctx, officer, id, "  ", 0)
	wantCode(t, err, workflow.CodeInvalid)
	p, err := f.svc.AddNote(ctx, officer, id, "已组织排查", 2)
	if err != nil || p.Version != 3 {
		t.Fatalf("note: %v %+v", err, p)
	}
}

func TestCreateValidation(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	good := workflow.NewProblem{Title: "t", Description: "d", Source: workflow.SourceAudit, CountyID: "leping"}
	cases := []struct {
		name  string
		actor workflow.Actor
		edit  func(*workflow.NewProblem)
		code  workflow.Code
	}{
		{"unit officer", officer, func(*workflow.NewProblem) {}, workflow.CodeForbidden},
		{"inspector", inspector, func(*workflow.NewProblem) {}, workflow.CodeForbidden},
		{"no title", bureau, func(n *workflow.NewProblem) { n.Title = " " }, workflow.CodeInvalid},
		{"no description", bureau, func(n *workflow.NewProblem) { n.Description = "" }, workflow.CodeInvalid},
		{"bad source", bureau, func(n *workflow.NewProblem) { n.Source = "rumour" }, workflow.CodeInvalid},
		{"department as county", bureau, func(n *workflow.NewProblem) { n.CountyID = "city-water" }, workflow.CodeInvalid},
		{"unknown county", bureau, func(n *workflow.NewProblem) { n.CountyID = "atlantis" }, workflow.CodeInvalid},
		{"unknown work point", bureau, func(n *workflow.NewProblem) { n.WorkPoint = 26 }, workflow.CodeInvalid},
	}
	for _, c := range cases {
		in := good
		c.edit(&in)
		_, _, err := f.svc.CreateProblem(ctx, c.actor, in)
		if workflow.ErrorCode(err) != c.code {
			t.Errorf("%s: got %v, want %s", c.name, err, c.code)
		}
	}
	items, _, _ := f.svc.Problems(ctx, bureau, workflow.ProblemFilter{})
	if len(items) != 0 {
		t.Fatalf("refused creates wrote %d problems", len(items))
	}
	in := good
	in.DedupeKey = "k1"
	a, created, err := f.svc.CreateProblem(ctx, system, in)
	if err != nil || !created {
		t.Fatal(err)
	}
	b, created, err := f.svc.CreateProblem(ctx, system, in)
	if err != nil || created || b.ID != a.ID {
		t.Fatalf("dedupe: %v %v %v", b, created, err)
	}
}

func TestUsersAndTokens(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	_, _, err := f.svc.CreateUser(ctx, bureau, workflow.NewUser{Name: "x", Role: workflow.RoleUnit, UnitID: "fuliang"})
	wantCode(t, err, workflow.CodeForbidden)
	_, _, err = f.svc.CreateUser(ctx, system, workflow.NewUser{Name: "x", Role: "god", UnitID: "fuliang"})
	wantCode(t, err, workflow.CodeInvalid)
	_, _, err = f.svc.CreateUser(ctx, system, workflow.NewUser{Name: "x", Role: workflow.RoleUnit, UnitID: "atlantis"})
	wantCode(t, err, workflow.CodeInvalid)
	u, tok, err := f.svc.CreateUser(ctx, system, workflow.NewUser{Name: "张三", Role: workflow.RoleUnit, UnitID: "fuliang"})
	if err != nil {
		t.Fatal(err)
	}
	got, err := f.svc.Authenticate(ctx, tok)
	if err != nil || got.ID != u.ID {
		t.Fatalf("authenticate: %v %v", got, err)
	}
	for _, bad := range []string{"", "rt_nope", tok + "x", "Bearer " + tok} {
		_, err = f.svc.Authenticate(ctx, bad)
		wantCode(t, err, workflow.CodeUnauthorized)
	}
	tok2, err := f.svc.IssueToken(ctx, u.ID)
	if err != nil || tok2 == tok {
		t.Fatal(err)
	}
	if got, err := f.svc.Authenticate(ctx, tok2); err != nil || got.ID != u.ID {
		t.Fatalf("second token: %v", err)
	}
}
