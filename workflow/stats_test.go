package workflow_test

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/jdz-eco/rectify/workflow"
)

// cst reads a Shanghai wall-clock time such as "2021-07-01 10:00".
func cst(s string) time.Time {
	t, err := time.ParseInLocation("2006-01-02 15:04", s, workflow.Shanghai)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

// scenario is a small ledger whose statistics are known (see buildScenario).
type scenario struct {
	*fixture
	ids map[string]string // name → problem id
}

// buildScenario logs, on 2021-06-24, six problems and moves them through
// July and August 2021:
//
//	onTime     fuliang  self_inspection  wp7  assigned 07-01 10:00, deadline 07-12; submitted 07-10,
//	                                           verified 07-15 (after the deadline: the clock was stopped),
//	                                           closed 07-16 10:00 → closed on time, 15 days
//	late       fuliang  central          wp7  assigned 06-25 10:00, deadline 07-01; submitted 07-20,
//	                                           closed 07-25 10:00 → closed late, 30 days
//	extended   leping   audit            —    assigned 07-01, deadline 07-15, extended to 09-30 → rectifying,
//	                                           not overdue on 08-20
//	overdue    leping   warning_film     wp8  lead city-water, deadline 07-10, never accepted → assigned,
//	                                           overdue (red) on 08-20; reassigned to leping on 08-10
//	dismissed  fuliang  other            —    dismissed 07-02
//	found      fuliang  self_inspection  —    nothing done
//
// The clock ends at 2021-08-20 10:00.
func buildScenario(t *testing.T) *scenario {
	t.Helper()
	f := newFixture(t)
	ctx := context.Background()
	err := f.svc.PutWorkPoints(ctx, []workflow.WorkPoint{
		{Number: 7, Title: "深入推进尾矿库污染治理", LeadUnits: []string{"fuliang"}},
		{Number: 8, Title: "深入推进水污染治理", LeadUnits: []string{"city-water"}},
		{Number: 9, Title: "深入推进农业面源污染治理", LeadUnits: []string{"leping"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	s := &scenario{fixture: f, ids: map[string]string{}}
	f.clock.Set(cst("2021-06-24 09:00"))
	for _, c := range []struct {
		name, county string
		src          workflow.Source
		wp           int
	}{
		{"onTime", "fuliang", workflow.SourceSelfInspection, 7},
		{"late", "fuliang", workflow.SourceCentralInspection, 7},
		{"extended", "leping", workflow.SourceAudit, 0},
		{"overdue", "leping", workflow.SourceWarningFilm, 8},
		{"dismissed", "fuliang", workflow.SourceOther, 0},
		{"found", "fuliang", workflow.SourceSelfInspection, 0},
	} {
		p, _, err := f.svc.CreateProblem(ctx, bureau, workflow.NewProblem{Title: "问题" + c.name, Description: "描述" + c.name,
			Source: c.src, CountyID: c.county, WorkPoint: c.wp})
		if err != nil {
			t.Fatal(err)
		}
		s.ids[c.name] = p.ID
	}
	s.do(t, "2021-06-25 10:00", bureau, "late", workflow.TriggerAssign, workflow.Params{LeadUnit: "fuliang", Deadline: deadline("2021-07-01")})
	s.do(t, "2021-06-26 10:00", officer, "late", workflow.TriggerAccept, workflow.Params{Plan: "方案"})
	s.do(t, "2021-07-01 10:00", bureau, "onTime", workflow.TriggerAssign, workflow.Params{LeadUnit: "fuliang", Deadline: deadline("2021-07-12")})
	s.do(t, "2021-07-01 11:00", bureau, "extended", workflow.TriggerAssign, workflow.Params{LeadUnit: "leping", Deadline: deadline("2021-07-15")})
	s.do(t, "2021-07-01 12:00", bureau, "overdue", workflow.TriggerAssign, workflow.Params{LeadUnit: "city-water", Deadline: deadline("2021-07-10")})
	s.do(t, "2021-07-02 09:00", officer, "onTime", workflow.TriggerAccept, workflow.Params{Plan: "整改方案：清理尾矿"})
	s.do(t, "2021-07-02 10:00", outsider, "extended", workflow.TriggerAccept, workflow.Params{Plan: "方案"})
	s.do(t, "2021-07-02 11:00", bureau, "dismissed", workflow.TriggerDismiss, workflow.Params{Reason: "不属实"})

	f.clock.Set(cst("2021-07-05 10:00"))
	if _, err := f.svc.RequestExtension(ctx, outsider, s.ids["extended"], workflow.ExtensionRequest{Deadline: *deadline("2021-09-30"), Reason: "汛期"}, 0); err != nil {
		t.Fatal(err)
	}
	f.clock.Set(cst("2021-07-06 10:00"))
	if _, err := f.svc.DecideExtension(ctx, bureau, s.ids["extended"], "1", "approve", "同意", 0); err != nil {
		t.Fatal(err)
	}

	f.clock.Set(cst("2021-07-10 11:00"))
	f.evidence(t, officer, s.ids["onTime"], "ontime")
	s.do(t, "2021-07-10 12:00", officer, "onTime", workflow.TriggerSubmit, workflow.Params{Summary: "已清理"})
	s.do(t, "2021-07-15 10:00", inspector, "onTime", workflow.TriggerVerify, workflow.Params{Opinion: "验收通过"})
	s.do(t, "2021-07-16 10:00", second, "onTime", workflow.TriggerClose, workflow.Params{Statement: "同意销号"})

	f.clock.Set(cst("2021-07-20 09:00"))
	f.evidence(t, officer, s.ids["late"], "late")
	s.do(t, "2021-07-20 10:00", officer, "late", workflow.TriggerSubmit, workflow.Params{Summary: "已整改"})
	s.do(t, "2021-07-22 10:00", inspector, "late", workflow.TriggerVerify, workflow.Params{Opinion: "通过"})
	s.do(t, "2021-07-25 10:00", bureau, "late", workflow.TriggerClose, workflow.Params{Statement: "销号"})

	s.do(t, "2021-08-10 10:00", bureau, "overdue", workflow.TriggerReassign, workflow.Params{LeadUnit: "leping", Reason: "职责调整"})
	f.clock.Set(cst("2021-08-20 10:00"))
	return s
}

func (s *scenario) do(t *testing.T, when string, a workflow.Actor, name string, trig workflow.Trigger, prm workflow.Params) {
	t.Helper()
	s.clock.Set(cst(when))
	if _, err := s.svc.Fire(context.Background(), a, s.ids[name], workflow.Command{Trigger: trig, Params: prm}); err != nil {
		t.Fatalf("%s %s: %v", trig, name, err)
	}
}

// want is a row's expected figures; rates and median < 0 mean nil.
type want struct {
	key                                                        string
	total, dismissed, rectified, overdue, onTime, late, extend int
	completion, onTimeRate, median                             float64
	states                                                     map[workflow.State]int
}

func checkRow(t *testing.T, groupBy string, got workflow.StatsRow, w want) {
	t.Helper()
	ints := []struct {
		name      string
		got, want int
	}{
		{"total", got.Total, w.total}, {"dismissed", got.Dismissed, w.dismissed}, {"closed_rectified", got.ClosedRectified, w.rectified},
		{"overdue", got.Overdue, w.overdue}, {"closed_on_time", got.ClosedOnTime, w.onTime}, {"closed_late", got.ClosedLate, w.late},
		{"extended", got.Extended, w.extend},
	}
	for _, c := range ints {
		if c.got != c.want {
			t.Errorf("%s %q: %s = %d, want %d", groupBy, w.key, c.name, c.got, c.want)
		}
	}
	floats := []struct {
		name string
		got  *float64
		want float64
	}{{"completion_rate", got.CompletionRate, w.completion}, {"on_time_rate", got.OnTimeRate, w.onTimeRate}, {"median_days", got.MedianDaysToClose, w.median}}
	for _, c := range floats {
		switch {
		case c.want < 0 && c.got != nil:
			t.Errorf("%s %q: %s = %v, want nil", groupBy, w.key, c.name, *c.got)
		case c.want >= 0 && c.got == nil:
			t.Errorf("%s %q: %s = nil, want %v", groupBy, w.key, c.name, c.want)
		case c.want >= 0 && math.Abs(*c.got-c.want) > 1e-9:
			t.Errorf("%s %q: %s = %v, want %v", groupBy, w.key, c.name, *c.got, c.want)
		}
	}
	if len(got.ByState) != len(workflow.States) {
		t.Errorf("%s %q: by_state has %d states, want all %d", groupBy, w.key, len(got.ByState), len(workflow.States))
	}
	for _, st := range workflow.States {
		if got.ByState[st] != w.states[st] {
			t.Errorf("%s %q: by_state[%s] = %d, want %d", groupBy, w.key, st, got.ByState[st], w.states[st])
		}
	}
}

type states = map[workflow.State]int

const none = -1.0

func TestStatsKnownAnswers(t *testing.T) {
	s := buildScenario(t)
	ctx := context.Background()
	const (
		found, assigned, rectifying, closed = workflow.StateFound, workflow.StateAssigned, workflow.StateRectifying, workflow.StateClosed
	)
	cases := map[string]struct {
		labels map[string]string // key → label, in row order
		order  []string
		rows   []want
	}{
		workflow.GroupByCounty: {
			order:  []string{"fuliang", "leping"},
			labels: map[string]string{"fuliang": "浮梁县", "leping": "乐平市"},
			rows: []want{
				{key: "fuliang", total: 4, dismissed: 1, rectified: 2, onTime: 1, late: 1, completion: 2.0 / 3, onTimeRate: 0.5, median: 22.5,
					states: states{found: 1, closed: 3}},
				{key: "leping", total: 2, overdue: 1, extend: 1, completion: 0, onTimeRate: none, median: none,
					states: states{assigned: 1, rectifying: 1}},
			},
		},
		workflow.GroupByLeadUnit: {
			order:  []string{"fuliang", "leping", ""},
			labels: map[string]string{"fuliang": "浮梁县", "leping": "乐平市", "": "（未交办）"},
			rows: []want{
				{key: "fuliang", total: 2, rectified: 2, onTime: 1, late: 1, completion: 1, onTimeRate: 0.5, median: 22.5, states: states{closed: 2}},
				{key: "leping", total: 2, overdue: 1, extend: 1, completion: 0, onTimeRate: none, median: none, states: states{assigned: 1, rectifying: 1}},
				{key: "", total: 2, dismissed: 1, completion: 0, onTimeRate: none, median: none, states: states{found: 1, closed: 1}},
			},
		},
		workflow.GroupBySource: {
			order: []string{"warning_film", "central_inspection", "provincial_inspection", "audit", "self_inspection", "other"},
			labels: map[string]string{"warning_film": "警示片", "central_inspection": "中央生态环境保护督察",
				"provincial_inspection": "省级生态环境保护督察", "audit": "审计", "self_inspection": "自查", "other": "其他"},
			rows: []want{
				{key: "warning_film", total: 1, overdue: 1, completion: 0, onTimeRate: none, median: none, states: states{assigned: 1}},
				{key: "central_inspection", total: 1, rectified: 1, late: 1, completion: 1, onTimeRate: 0, median: 30, states: states{closed: 1}},
				{key: "provincial_inspection", completion: none, onTimeRate: none, median: none},
				{key: "audit", total: 1, extend: 1, completion: 0, onTimeRate: none, median: none, states: states{rectifying: 1}},
				{key: "self_inspection", total: 2, rectified: 1, onTime: 1, completion: 0.5, onTimeRate: 1, median: 15, states: states{found: 1, closed: 1}},
				{key: "other", total: 1, dismissed: 1, completion: none, onTimeRate: none, median: none, states: states{closed: 1}},
			},
		},
		workflow.GroupByWorkPoint: {
			order:  []string{"7", "8", "9", ""},
			labels: map[string]string{"7": "深入推进尾矿库污染治理", "8": "深入推进水污染治理", "9": "深入推进农业面源污染治理", "": "（未关联工作要点）"},
			rows: []want{
				{key: "7", total: 2, rectified: 2, onTime: 1, late: 1, completion: 1, onTimeRate: 0.5, median: 22.5, states: states{closed: 2}},
				{key: "8", total: 1, overdue: 1, completion: 0, onTimeRate: none, median: none, states: states{assigned: 1}},
				{key: "9", completion: none, onTimeRate: none, median: none},
				{key: "", total: 3, dismissed: 1, extend: 1, completion: 0, onTimeRate: none, median: none, states: states{found: 1, rectifying: 1, closed: 1}},
			},
		},
		workflow.GroupByState: {
			order: []string{"found", "assigned", "rectifying", "submitted", "verified", "in_notice", "closed"},
			labels: map[string]string{"found": "待交办", "assigned": "已交办", "rectifying": "整改中", "submitted": "待验收",
				"verified": "已验收", "in_notice": "公示中", "closed": "已办结"},
			rows: []want{
				{key: "found", total: 1, completion: 0, onTimeRate: none, median: none, states: states{found: 1}},
				{key: "assigned", total: 1, overdue: 1, completion: 0, onTimeRate: none, median: none, states: states{assigned: 1}},
				{key: "rectifying", total: 1, extend: 1, completion: 0, onTimeRate: none, median: none, states: states{rectifying: 1}},
				{key: "submitted", completion: none, onTimeRate: none, median: none},
				{key: "verified", completion: none, onTimeRate: none, median: none},
				{key: "in_notice", completion: none, onTimeRate: none, median: none},
				{key: "closed", total: 3, dismissed: 1, rectified: 2, onTime: 1, late: 1, completion: 1, onTimeRate: 0.5, median: 22.5, states: states{closed: 3}},
			},
		},
	}
	total := want{key: "total", total: 6, dismissed: 1, rectified: 2, overdue: 1, onTime: 1, late: 1, extend: 1,
		completion: 2.0 / 5, onTimeRate: 0.5, median: 22.5, states: states{found: 1, assigned: 1, rectifying: 1, closed: 3}}
	for _, g := range workflow.GroupBys {
		c, ok := cases[g]
		if !ok {
			t.Fatalf("no case for group_by %s", g)
		}
		rep, err := s.svc.Stats(ctx, bureau, g, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		if rep.GroupBy != g || !rep.At.Equal(cst("2021-08-20 10:00")) {
			t.Errorf("%s: report %s at %v", g, rep.GroupBy, rep.At)
		}
		if len(rep.Rows) != len(c.order) {
			t.Fatalf("%s: %d rows %+v, want %v", g, len(rep.Rows), rep.Rows, c.order)
		}
		for i, row := range rep.Rows {
			if row.Key != c.order[i] || row.Label != c.labels[row.Key] {
				t.Errorf("%s row %d: %q %q, want %q %q", g, i, row.Key, row.Label, c.order[i], c.labels[c.order[i]])
			}
			checkRow(t, g, row, c.rows[i])
		}
		checkRow(t, g, rep.Total, total)
	}

	// One pass, several groupings, the same answers.
	reps, err := s.svc.StatsReports(ctx, bureau, workflow.ProblemFilter{}, time.Time{}, workflow.GroupBys...)
	if err != nil || len(reps) != len(workflow.GroupBys) {
		t.Fatalf("StatsReports: %v %v", len(reps), err)
	}
	for _, r := range reps {
		checkRow(t, r.GroupBy, r.Total, total)
	}
}

func TestStatsVisibilityFilterAndRefusals(t *testing.T) {
	s := buildScenario(t)
	ctx := context.Background()
	// The fuliang officer sees the problems fuliang leads: onTime and late.
	rep, err := s.svc.Stats(ctx, officer, workflow.GroupByCounty, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Rows) != 1 || rep.Rows[0].Key != "fuliang" {
		t.Fatalf("officer rows %+v", rep.Rows)
	}
	checkRow(t, "officer", rep.Total, want{key: "total", total: 2, rectified: 2, onTime: 1, late: 1, completion: 1, onTimeRate: 0.5,
		median: 22.5, states: states{workflow.StateClosed: 2}})
	// Work points are all listed, even for an officer who sees none of theirs.
	rep, err = s.svc.Stats(ctx, coop, workflow.GroupByWorkPoint, time.Time{})
	if err != nil || len(rep.Rows) != 3 || rep.Total.Total != 0 {
		t.Fatalf("city-water officer: %+v %v", rep, err)
	}
	// A filter narrows every grouping.
	reps, err := s.svc.StatsReports(ctx, bureau, workflow.ProblemFilter{County: "leping"}, time.Time{}, workflow.GroupByState)
	if err != nil || reps[0].Total.Total != 2 {
		t.Fatalf("filtered: %+v %v", reps, err)
	}
	for _, g := range []string{"", "unit", "county,state"} {
		_, err := s.svc.Stats(ctx, bureau, g, time.Time{})
		wantCode(t, err, workflow.CodeInvalid)
	}
}

func TestStatsAsOf(t *testing.T) {
	s := buildScenario(t)
	ctx := context.Background()
	// At the end of 2021-07-12: onTime submitted (not overdue: its clock
	// stopped on 07-10), late rectifying and overdue since 07-01, extended
	// rectifying (its deadline moved to 09-30), overdue assigned and overdue
	// since 07-10, dismissed closed, found found.
	at, err := workflow.ParseAsOf("2021-07-12")
	if err != nil {
		t.Fatal(err)
	}
	rep, err := s.svc.Stats(ctx, bureau, workflow.GroupByState, at)
	if err != nil {
		t.Fatal(err)
	}
	checkRow(t, "as_of", rep.Total, want{key: "total", total: 6, dismissed: 1, overdue: 2, extend: 1, completion: 0, onTimeRate: none, median: none,
		states: states{workflow.StateFound: 1, workflow.StateAssigned: 1, workflow.StateRectifying: 2, workflow.StateSubmitted: 1, workflow.StateClosed: 1}})
	// Before anything was logged the ledger is empty.
	rep, err = s.svc.Stats(ctx, bureau, workflow.GroupBySource, cst("2021-06-01 00:00"))
	if err != nil || rep.Total.Total != 0 || len(rep.Rows) != len(workflow.Sources) {
		t.Fatalf("empty: %+v %v", rep, err)
	}
}

func TestLabels(t *testing.T) {
	for _, st := range workflow.States {
		if st.Label() == string(st) {
			t.Errorf("state %s has no Chinese name", st)
		}
	}
	for _, src := range workflow.Sources {
		if src.Label() == string(src) {
			t.Errorf("source %s has no Chinese name", src)
		}
	}
	for _, l := range workflow.Levels {
		if l.Label() == string(l) || l.Label() == "" {
			t.Errorf("level %s has no Chinese name", l)
		}
	}
	if workflow.LevelNone.Label() != "" || workflow.LevelDueSoon.IsOverdue() || !workflow.LevelRed.IsOverdue() {
		t.Error("level helpers")
	}
	p := &workflow.Problem{State: workflow.StateClosed, Resolution: workflow.ResolutionDismissed}
	if p.StatusLabel() != "已撤销" {
		t.Error(p.StatusLabel())
	}
	p.Resolution = workflow.ResolutionRectified
	if p.StatusLabel() != "已销号" {
		t.Error(p.StatusLabel())
	}
}
