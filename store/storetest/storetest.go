// Package storetest is the conformance suite every workflow.Store backend
// runs: the contract written in workflow.Store's doc comments, checked on a
// fresh store per subtest.
//
// A backend's test calls Run with a function that opens an empty store (for
// bbolt, a file in t.TempDir()) and closes it in t.Cleanup.
package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jdz-eco/rectify/workflow"
)

// Run runs the conformance suite; open must return a new, empty store that is
// closed when t ends.
func Run(t *testing.T, open func(t *testing.T) workflow.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s workflow.Store)
	}{
		{"CreateAllocatesNumbers", testCreateAllocatesNumbers},
		{"CreateDedupe", testCreateDedupe},
		{"CreateBuildError", testCreateBuildError},
		{"NotFound", testNotFound},
		{"UpdateWritesRecordAndHistory", testUpdateWritesRecordAndHistory},
		{"UpdateSeveralEntries", testUpdateSeveralEntries},
		{"ReturnedCopies", testReturnedCopies},
		{"ApplyErrorWritesNothing", testApplyErrorWritesNothing},
		{"FilterByIndex", testFilterByIndex},
		{"FilterAfterUpdates", testFilterAfterUpdates},
		{"Paging", testPaging},
		{"VersionConflict", testVersionConflict},
		{"ConcurrentUpdates", testConcurrentUpdates},
		{"ServiceLifecycle", testServiceLifecycle},
		{"Units", testUnits},
		{"WorkPoints", testWorkPoints},
		{"UsersAndTokens", testUsersAndTokens},
		{"Due", testDue},
		{"TagFilter", testTagFilter},
		{"Events", testEvents},
		{"Cursors", testCursors},
		{"Calendars", testCalendars},
		{"ServiceScan", testServiceScan},
		{"ServiceDueAlerts", testServiceDueAlerts},
		{"Chain", testChain},
		{"ServiceAudit", testServiceAudit},
		{"EvidenceFilter", testEvidenceFilter},
		{"PhotoIndex", testPhotoIndex},
		{"CreateRound", testCreateRound},
		{"RoundIndex", testRoundIndex},
		{"WorkPointHistory", testWorkPointHistory},
		{"RoundsConcurrent", testRoundsConcurrent},
		{"ServiceRounds", testServiceRounds},
		{"BatchCreate", testBatchCreate},
		{"Anchors", testAnchors},
		{"Reminders", testReminders},
		{"RemindersConcurrent", testRemindersConcurrent},
		{"FilterCombinations", testFilterCombinations},
		{"ServiceNotice", testServiceNotice},
		{"PublicNoticePages", testPublicNoticePages},
		{"NewestEntries", testNewestEntries},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, open(t)) })
	}
	t.Run("Rollups", func(t *testing.T) { testRollups(t, open) })
}

// Units of the Jingdezhen 2021 plan used by the suite.
const (
	Bureau     = "city_eco_bureau"   // 市生态环境局
	Inspection = "city_inspection"   // 市督察组
	Fuliang    = "fuliang"           // 浮梁县
	Leping     = "leping"            // 乐平市
	Zhushan    = "zhushan"           // 珠山区
	Changjiang = "changjiang"        // 昌江区
	Water      = "city_water"        // 市水利局
	Housing    = "city_housing"      // 市住房城乡建设局
	Guokong    = "guokong_group"     // 市国控集团
	WaterInv   = "city_water_invest" // 市水投公司, an ID that extends Water's
)

// Units returns the units the suite refers to.
func Units() []workflow.Unit {
	return []workflow.Unit{
		{ID: Bureau, Name: "市生态环境局", Kind: workflow.UnitDepartment},
		{ID: Inspection, Name: "市生态环境保护督察组", Kind: workflow.UnitOffice},
		{ID: Fuliang, Name: "浮梁县", Kind: workflow.UnitCounty},
		{ID: Leping, Name: "乐平市", Kind: workflow.UnitCounty},
		{ID: Zhushan, Name: "珠山区", Kind: workflow.UnitCounty},
		{ID: Changjiang, Name: "昌江区", Kind: workflow.UnitCounty},
		{ID: Water, Name: "市水利局", Kind: workflow.UnitDepartment},
		{ID: Housing, Name: "市住房城乡建设局", Kind: workflow.UnitDepartment},
		{ID: Guokong, Name: "市国控集团", Kind: workflow.UnitCompany},
		{ID: WaterInv, Name: "市水投公司", Kind: workflow.UnitCompany},
	}
}

// Actors of the suite.
var (
	BureauActor    = workflow.Actor{ID: "u-bureau", Name: "王科长", Role: workflow.RoleBureau, UnitID: Bureau}
	InspectorActor = workflow.Actor{ID: "u-inspector", Name: "李督察", Role: workflow.RoleInspector, UnitID: Inspection}
)

// OfficerOf returns a unit officer of unit.
func OfficerOf(unit string) workflow.Actor {
	return workflow.Actor{ID: "u-" + unit, Name: unit + " 联络员", Role: workflow.RoleUnit, UnitID: unit}
}

// T0 is when the suite's problems are logged: a morning in the plan's year.
var T0 = time.Date(2021, 7, 1, 1, 30, 0, 0, time.UTC)

// Deadline returns the end of the Shanghai day days after T0.
func Deadline(days int) time.Time {
	return workflow.EndOfDay(T0.AddDate(0, 0, days))
}

// Build returns a CreateProblem build function for a problem in state found,
// logged by the bureau at T0, with its create entry.
func Build(title string, src workflow.Source, county string) func(n uint64) (*workflow.Problem, []workflow.Entry, error) {
	return func(n uint64) (*workflow.Problem, []workflow.Entry, error) {
		e := workflow.Entry{At: T0, Actor: BureauActor, Action: workflow.ActionCreate, To: workflow.StateFound,
			Params: workflow.Params{Title: title, Description: title + "：问题描述", Source: src, CountyID: county}}
		p := &workflow.Problem{
			ID: workflow.ProblemID(n), Code: workflow.ProblemCode(n, T0),
			Title: title, Description: e.Params.Description, Source: src, CountyID: county,
			State: workflow.StateFound, CooperatingUnits: []string{},
			CreatedBy: BureauActor.ID, CreatedAt: T0, UpdatedAt: T0,
		}
		return p, []workflow.Entry{e}, nil
	}
}

// Apply is the function UpdateProblem takes.
type Apply = func(p *workflow.Problem) ([]workflow.Entry, error)

// Assign returns an apply that assigns a found problem, or reassigns an
// assigned one, to lead with the cooperating units coop and a deadline.
func Assign(lead string, coop []string, deadline time.Time) Apply {
	return func(p *workflow.Problem) ([]workflow.Entry, error) {
		t := workflow.TriggerAssign
		switch p.State {
		case workflow.StateFound:
		case workflow.StateAssigned:
			t = workflow.TriggerReassign
		default:
			return nil, &workflow.Error{Code: workflow.CodeConflict, State: p.State,
				Message: "assign is not permitted in state " + string(p.State)}
		}
		d := deadline
		e := workflow.Entry{At: T0.Add(time.Hour), Actor: BureauActor, Action: string(t), From: p.State, To: workflow.StateAssigned,
			Params: workflow.Params{LeadUnit: lead, CooperatingUnits: coop, Deadline: &d, Reason: "调整牵头单位"}}
		if t == workflow.TriggerAssign {
			e.Params.Reason = ""
		}
		p.State = workflow.StateAssigned
		p.LeadUnit = lead
		p.CooperatingUnits = append([]string{}, coop...)
		d1, d2 := deadline, deadline
		p.Deadline, p.OriginalDeadline = &d1, &d2
		p.UpdatedAt = e.At
		return []workflow.Entry{e}, nil
	}
}

// Move returns an apply that fires t as actor a, moving the problem from
// state from to state to.
func Move(a workflow.Actor, t workflow.Trigger, from, to workflow.State) Apply {
	return func(p *workflow.Problem) ([]workflow.Entry, error) {
		if p.State != from {
			return nil, &workflow.Error{Code: workflow.CodeConflict, State: p.State,
				Message: fmt.Sprintf("trigger %s is not permitted in state %s", t, p.State)}
		}
		e := workflow.Entry{At: T0.Add(2 * time.Hour), Actor: a, Action: string(t), From: from, To: to}
		switch t {
		case workflow.TriggerAccept:
			e.Params.Plan = "整改方案：清理违规堆放，完善截污管网"
			p.Plan = e.Params.Plan
		case workflow.TriggerSubmit:
			e.Params.Summary = "已完成整改，附现场照片"
			p.SubmittedBy, p.Summary = a.ID, e.Params.Summary
		case workflow.TriggerVerify:
			e.Params.Opinion = "现场核查，整改到位"
			p.VerifiedBy, p.Opinion = a.ID, e.Params.Opinion
		case workflow.TriggerClose:
			e.Params.Statement = "同意销号"
			p.ClosedBy, p.Statement, p.Resolution = a.ID, e.Params.Statement, workflow.ResolutionRectified
		case workflow.TriggerDismiss:
			e.Params.Reason = "经核实不属于本次整改范围"
			p.ClosedBy, p.Statement, p.Resolution = a.ID, e.Params.Reason, workflow.ResolutionDismissed
		default:
			e.Params.Reason = "补充材料"
		}
		p.State = to
		p.UpdatedAt = e.At
		return []workflow.Entry{e}, nil
	}
}

// Note returns an apply that adds a progress note by the lead unit's officer.
func Note(text string) Apply {
	return func(p *workflow.Problem) ([]workflow.Entry, error) {
		e := workflow.Entry{At: T0.Add(3 * time.Hour), Actor: OfficerOf(p.LeadUnit), Action: workflow.ActionNote,
			From: p.State, To: p.State, Params: workflow.Params{Text: text}}
		p.UpdatedAt = e.At
		return []workflow.Entry{e}, nil
	}
}

// IfVersion wraps apply with the version check the domain makes: a problem at
// another version than expected refuses with CodePreconditionFailed.
func IfVersion(expected uint64, apply Apply) Apply {
	return func(p *workflow.Problem) ([]workflow.Entry, error) {
		if p.Version != expected {
			return nil, workflow.Errorf(workflow.CodePreconditionFailed, "problem %s is at version %d, not %d", p.ID, p.Version, expected)
		}
		return apply(p)
	}
}

// mustCreate creates a problem and fails the test on error.
func mustCreate(t *testing.T, s workflow.Store, title string, src workflow.Source, county string) *workflow.Problem {
	t.Helper()
	p, created, err := s.CreateProblem(t.Context(), "", Build(title, src, county))
	if err != nil || !created {
		t.Fatalf("CreateProblem(%q) = %v, %v; want created", title, created, err)
	}
	return p
}

// mustUpdate updates problem id and fails the test on error.
func mustUpdate(t *testing.T, s workflow.Store, id string, apply Apply) *workflow.Problem {
	t.Helper()
	p, err := s.UpdateProblem(t.Context(), id, apply)
	if err != nil {
		t.Fatalf("UpdateProblem(%s) = %v", id, err)
	}
	return p
}

func mustProblem(t *testing.T, s workflow.Store, id string) *workflow.Problem {
	t.Helper()
	p, err := s.Problem(t.Context(), id)
	if err != nil {
		t.Fatalf("Problem(%s) = %v", id, err)
	}
	return p
}

func mustHistory(t *testing.T, s workflow.Store, id string) []workflow.Entry {
	t.Helper()
	h, err := s.History(t.Context(), id)
	if err != nil {
		t.Fatalf("History(%s) = %v", id, err)
	}
	return h
}

// sameJSON fails the test unless got and want encode to the same JSON, the
// form every backend stores (it ignores time zones' pointers and monotonic
// clock readings).
func sameJSON(t testing.TB, what string, got, want any) {
	t.Helper()
	g, err := json.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	w, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	if string(g) != string(w) {
		t.Errorf("%s:\n got %s\nwant %s", what, g, w)
	}
}

// wantCode fails the test unless err is an *workflow.Error with code.
func wantCode(t *testing.T, what string, err error, code workflow.Code) {
	t.Helper()
	var e *workflow.Error
	if !errors.As(err, &e) || e.Code != code {
		t.Errorf("%s: error %v, want a *workflow.Error with code %s", what, err, code)
	}
}
