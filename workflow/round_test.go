package workflow_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/jdz-eco/rectify/store/bolt"
	"github.com/jdz-eco/rectify/workflow"
)

// roundFixture is a ledger on a bbolt file that a test can close and open
// again (a restart), with a service on a manual clock.
type roundFixture struct {
	t     *testing.T
	path  string
	st    *bolt.Store
	svc   *workflow.Service
	clock *workflow.ManualClock
}

var (
	water    = workflow.Actor{ID: "u-water", Name: "水利局干部", Role: workflow.RoleUnit, UnitID: "city-water"}
	ecoUnit  = workflow.Actor{ID: "u-eeb", Name: "生态环境局干部", Role: workflow.RoleUnit, UnitID: "city-eeb"}
	viewer   = workflow.Actor{ID: "u-view", Name: "领导", Role: workflow.RoleViewer, UnitID: "inspect"}
	pointsWP = []workflow.WorkPoint{
		{Number: 8, Title: "持续推进非法采砂专项整治", LeadUnits: []string{"city-water", "fuliang"}, ResponsibleUnits: []string{"leping"}, CooperatingUnits: []string{"city-eeb"}},
		{Number: 9, Title: "持续开展入河排污口专项整治", ResponsibleUnits: []string{"city-eeb"}},
		{Number: 10, Title: "加强森林生态修复和保护", ResponsibleUnits: []string{"fuliang"},
			Targets: []workflow.Target{{Name: "营造林", Amount: 28.91, Unit: "万亩"}}},
		{Number: 25, Title: "加强宣传引导"},
	}
)

func newRoundFixture(t *testing.T) *roundFixture {
	t.Helper()
	f := &roundFixture{t: t, path: filepath.Join(t.TempDir(), "rounds.db"), clock: workflow.NewManualClock(t0)}
	f.open()
	t.Cleanup(func() { f.st.Close() })
	ctx := context.Background()
	if err := f.svc.PutUnits(ctx, testUnits); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.PutWorkPoints(ctx, pointsWP); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *roundFixture) open() {
	st, err := bolt.Open(f.path, bolt.Options{})
	if err != nil {
		f.t.Fatal(err)
	}
	f.st, f.svc = st, workflow.NewService(st, f.clock)
}

// restart closes the store and opens it again with a new service.
func (f *roundFixture) restart() {
	if err := f.st.Close(); err != nil {
		f.t.Fatal(err)
	}
	f.open()
}

// assigned logs a problem in county and assigns it to lead (with coop
// cooperating).
func (f *roundFixture) assigned(title, county, lead string, coop ...string) *workflow.Problem {
	f.t.Helper()
	ctx := context.Background()
	p, _, err := f.svc.CreateProblem(ctx, bureau, workflow.NewProblem{Title: title, Description: title, Source: workflow.SourceWarningFilm, CountyID: county})
	if err != nil {
		f.t.Fatal(err)
	}
	if lead == "" {
		return p
	}
	p, err = f.svc.Fire(ctx, bureau, p.ID, workflow.Command{Trigger: workflow.TriggerAssign,
		Params: workflow.Params{LeadUnit: lead, CooperatingUnits: coop, Deadline: deadline("2021-12-31")}})
	if err != nil {
		f.t.Fatal(err)
	}
	return p
}

func (f *roundFixture) report(a workflow.Actor, rid string, in workflow.ReportInput) (*workflow.Entry, error) {
	return f.svc.FileReport(context.Background(), a, rid, in)
}

func wantReason(t *testing.T, err error, r workflow.Reason) {
	t.Helper()
	if workflow.ErrorReason(err) != r {
		t.Fatalf("got %v (reason %q), want reason %s", err, workflow.ErrorReason(err), r)
	}
}

func tally(b *workflow.RoundBoard, unit string) workflow.RoundTally {
	for _, u := range b.Units {
		if u.Key == unit {
			return u
		}
	}
	return workflow.RoundTally{}
}

// TestRoundEndToEnd: a round over the open problems with a lead unit; one
// unit reports on time (and amends), one late, one not at all. The board
// counts them per unit, each unit sees only its own rows, the bad reports
// are refused changing nothing, a report_late alert is recorded once for
// the missing report, also after a restart, and the audit passes.
func TestRoundEndToEnd(t *testing.T) {
	f := newRoundFixture(t)
	ctx := context.Background()
	p1 := f.assigned("浮梁县尾矿库渗漏", "fuliang", "fuliang", "leping")
	p2 := f.assigned("乐平市排污口", "leping", "leping")
	p3 := f.assigned("昌江采砂", "fuliang", "city-water")
	found := f.assigned("未交办问题", "fuliang", "")

	due := t0.Add(72 * time.Hour)
	open := workflow.NewRound{Title: "2021年6月问题整改进展调度", Period: "2021年6月", Due: due}
	before, _ := f.st.Head(ctx)
	for _, c := range []struct {
		name   string
		a      workflow.Actor
		in     workflow.NewRound
		reason workflow.Reason
	}{
		{"unit opens", officer, open, workflow.ReasonRole},
		{"no title", bureau, workflow.NewRound{Due: due}, workflow.ReasonRequired},
		{"due passed", bureau, workflow.NewRound{Title: "x", Due: t0.Add(-time.Hour)}, workflow.ReasonDueNotFuture},
		{"unknown unit", bureau, workflow.NewRound{Title: "x", Due: due, Scope: workflow.RoundScope{LeadUnits: []string{"nowhere"}}}, workflow.ReasonUnknownUnit},
		{"unknown source", bureau, workflow.NewRound{Title: "x", Due: due, Scope: workflow.RoundScope{Sources: []workflow.Source{"rumour"}}}, workflow.ReasonUnknownValue},
		{"unknown problem", bureau, workflow.NewRound{Title: "x", Due: due, Scope: workflow.RoundScope{ProblemIDs: []string{"999"}}}, workflow.ReasonProblemNotFound},
		{"not assigned", bureau, workflow.NewRound{Title: "x", Due: due, Scope: workflow.RoundScope{ProblemIDs: []string{found.ID}}}, workflow.ReasonNotReportable},
		{"unknown point", bureau, workflow.NewRound{Title: "x", Due: due, Scope: workflow.RoundScope{WorkPoints: []int{99}}}, workflow.ReasonUnknownWorkPoint},
		{"empty", bureau, workflow.NewRound{Title: "x", Due: due, Scope: workflow.RoundScope{Counties: []string{"city-eeb"}}}, workflow.ReasonEmptyScope},
		{"only an unstaffed point", bureau, workflow.NewRound{Title: "x", Due: due, Scope: workflow.RoundScope{WorkPoints: []int{25}}}, workflow.ReasonEmptyScope},
	} {
		_, _, err := f.svc.OpenRound(ctx, c.a, c.in)
		if workflow.ErrorReason(err) != c.reason {
			t.Errorf("%s: got %v, want %s", c.name, err, c.reason)
		}
	}
	if rounds, _ := f.svc.Rounds(ctx, bureau); len(rounds) != 0 {
		t.Fatalf("refused openings left rounds: %+v", rounds)
	}
	if after, _ := f.st.Head(ctx); after != before {
		t.Fatalf("refused openings moved the chain: %v → %v", before, after)
	}

	r, created, err := f.svc.OpenRound(ctx, bureau, open)
	if err != nil || !created {
		t.Fatalf("open: %v %v", created, err)
	}
	if len(r.Items) != 3 || r.Items[0].ProblemID != p1.ID || r.Items[1].Unit != "leping" || r.Items[2].Unit != "city-water" {
		t.Fatalf("items %+v", r.Items)
	}
	// A problem assigned after the round opened is not in it.
	late := f.assigned("后交办的问题", "fuliang", "fuliang")

	f.clock.Advance(time.Hour)
	if _, err := f.report(officer, r.ID, workflow.ReportInput{ProblemID: p1.ID, Progress: "已完成围挡", Percent: ptr(40)}); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(time.Hour)
	amended, err := f.report(officer, r.ID, workflow.ReportInput{ProblemID: p1.ID, Progress: "已完成围挡和清淤", Percent: ptr(60), Difficulties: "资金不足"})
	if err != nil || amended.Params.Late || amended.Params.Round != r.ID || amended.ProblemID != p1.ID || amended.Seq == 0 {
		t.Fatalf("amend: %+v %v", amended, err)
	}

	// Refusals change nothing.
	before, _ = f.st.Head(ctx)
	for _, c := range []struct {
		name   string
		a      workflow.Actor
		in     workflow.ReportInput
		reason workflow.Reason
	}{
		{"bureau reports", bureau, workflow.ReportInput{ProblemID: p1.ID, Progress: "x"}, workflow.ReasonRole},
		{"no progress", officer, workflow.ReportInput{ProblemID: p1.ID}, workflow.ReasonRequired},
		{"percent", officer, workflow.ReportInput{ProblemID: p1.ID, Progress: "x", Percent: ptr(101)}, workflow.ReasonOutOfRange},
		{"nothing named", officer, workflow.ReportInput{Progress: "x"}, workflow.ReasonRequired},
		{"invisible problem", officer, workflow.ReportInput{ProblemID: p2.ID, Progress: "x"}, workflow.ReasonProblemNotFound},
		{"unknown problem", officer, workflow.ReportInput{ProblemID: "999", Progress: "x"}, workflow.ReasonProblemNotFound},
		{"outside the round", officer, workflow.ReportInput{ProblemID: late.ID, Progress: "x"}, workflow.ReasonNotInRound},
		{"cooperating unit", outsider, workflow.ReportInput{ProblemID: p1.ID, Progress: "x"}, workflow.ReasonNotReportingUnit},
		{"figures on a problem", officer, workflow.ReportInput{ProblemID: p1.ID, Progress: "x", Figures: []workflow.Figure{{Target: "营造林", Value: 1}}}, workflow.ReasonUnknownTarget},
		{"not its round", ecoUnit, workflow.ReportInput{ProblemID: p1.ID, Progress: "x"}, workflow.ReasonRoundNotFound},
	} {
		_, err := f.report(c.a, r.ID, c.in)
		if workflow.ErrorReason(err) != c.reason {
			t.Errorf("%s: got %v, want %s", c.name, err, c.reason)
		}
	}
	_, err = f.report(officer, "77", workflow.ReportInput{ProblemID: p1.ID, Progress: "x"})
	wantReason(t, err, workflow.ReasonRoundNotFound)
	if after, _ := f.st.Head(ctx); after != before {
		t.Fatalf("refused reports moved the chain: %v → %v", before, after)
	}

	// After the due time: leping reports late, fuliang can no longer amend.
	f.clock.Set(due.Add(2 * time.Hour))
	lateReport, err := f.report(outsider, r.ID, workflow.ReportInput{ProblemID: p2.ID, Progress: "排污口已封堵", NextSteps: "水质监测"})
	if err != nil || !lateReport.Params.Late {
		t.Fatalf("late report: %+v %v", lateReport, err)
	}
	_, err = f.report(officer, r.ID, workflow.ReportInput{ProblemID: p1.ID, Progress: "再改"})
	wantReason(t, err, workflow.ReasonReportClosed)
	_, err = f.report(outsider, r.ID, workflow.ReportInput{ProblemID: p2.ID, Progress: "再报一次"})
	wantReason(t, err, workflow.ReasonReportClosed)

	// The bureau's board.
	b, err := f.svc.RoundBoard(ctx, bureau, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !b.Due || len(b.Rows) != 3 {
		t.Fatalf("board %+v", b)
	}
	want := map[string]string{p1.ID: workflow.ReportOnTime, p2.ID: workflow.ReportLate, p3.ID: workflow.ReportMissing}
	for _, row := range b.Rows {
		if row.Status != want[row.Item.ProblemID] {
			t.Errorf("problem %s: %s, want %s", row.Item.ProblemID, row.Status, want[row.Item.ProblemID])
		}
	}
	if row := b.Rows[0]; row.Reports != 2 || row.Report.Params.Progress != "已完成围挡和清淤" || *row.Report.Params.Percent != 60 || !row.FirstAt.Equal(t0.Add(time.Hour)) {
		t.Fatalf("amended row %+v", row)
	}
	for unit, w := range map[string]workflow.RoundTally{
		"fuliang":    {Expected: 1, Reported: 1},
		"leping":     {Expected: 1, Reported: 1, Late: 1},
		"city-water": {Expected: 1, Missing: 1},
	} {
		got := tally(b, unit)
		if got.Expected != w.Expected || got.Reported != w.Reported || got.Late != w.Late || got.Missing != w.Missing {
			t.Errorf("%s: %+v, want %+v", unit, got, w)
		}
	}
	if b.Total.Expected != 3 || b.Total.Missing != 1 || b.Total.Late != 1 {
		t.Errorf("total %+v", b.Total)
	}
	if vb, err := f.svc.RoundBoard(ctx, viewer, r.ID); err != nil || len(vb.Rows) != 3 {
		t.Errorf("viewer: %v", err)
	}

	// A unit sees its own rows only; a unit owing nothing sees no round.
	ub, err := f.svc.RoundBoard(ctx, water, r.ID)
	if err != nil || len(ub.Rows) != 1 || ub.Rows[0].Item.ProblemID != p3.ID || len(ub.Units) != 1 || ub.Units[0].Key != "city-water" {
		t.Fatalf("unit board %+v %v", ub, err)
	}
	_, err = f.svc.RoundBoard(ctx, ecoUnit, r.ID)
	wantReason(t, err, workflow.ReasonRoundNotFound)
	if list, _ := f.svc.Rounds(ctx, ecoUnit); len(list) != 0 {
		t.Errorf("an uninvolved unit lists %d rounds", len(list))
	}
	if list, _ := f.svc.Rounds(ctx, water); len(list) != 1 || list[0].Items != nil {
		t.Errorf("the unit lists %+v", list)
	}

	// report_late: once for the missing report, not again, not after a
	// restart, not even when the round is not marked (a crash between the
	// alerts and the mark).
	n, err := f.svc.RecordLateReports(ctx)
	if err != nil || n != 1 {
		t.Fatalf("record late: %d %v", n, err)
	}
	if n, err := f.svc.RecordLateReports(ctx); err != nil || n != 0 {
		t.Fatalf("again: %d %v", n, err)
	}
	f.restart()
	if _, err := f.st.UpdateRound(ctx, r.ID, func(r *workflow.Round) error { r.LateRecordedAt = nil; return nil }); err != nil {
		t.Fatal(err)
	}
	if n, err := f.svc.RecordLateReports(ctx); err != nil || n != 0 {
		t.Fatalf("after a restart: %d %v", n, err)
	}
	hist, _ := f.svc.History(ctx, bureau, p3.ID)
	alerts := 0
	for _, e := range hist {
		if e.Action == workflow.ActionAlert && e.Params.Level == workflow.AlertReportLate {
			alerts++
			if e.Params.Round != r.ID || e.Params.Unit != "city-water" || e.Params.Against != workflow.AgainstLeadUnit {
				t.Errorf("alert %+v", e.Params)
			}
		}
	}
	if alerts != 1 {
		t.Fatalf("%d report_late alerts on problem %s", alerts, p3.ID)
	}
	b, _ = f.svc.RoundBoard(ctx, bureau, r.ID)
	if !b.Rows[2].Alerted || b.Rows[0].Alerted {
		t.Errorf("alerted rows %+v", b.Rows)
	}
	// Reports are in the problems' histories.
	hist, _ = f.svc.History(ctx, bureau, p1.ID)
	if reports := count(hist, workflow.ActionReport); reports != 2 {
		t.Errorf("%d reports in problem %s's history", reports, p1.ID)
	}

	rates, err := f.svc.ReportingRates(ctx, bureau)
	if err != nil || len(rates) != 3 {
		t.Fatalf("rates %+v %v", rates, err)
	}
	for _, rt := range rates {
		wantRate := map[string]float64{"fuliang": 1, "leping": 0, "city-water": 0}[rt.Unit]
		if rt.Rate == nil || *rt.Rate != wantRate || rt.Expected != 1 {
			t.Errorf("rate %+v", rt)
		}
	}
	if own, _ := f.svc.ReportingRates(ctx, officer); len(own) != 1 || own[0].Unit != "fuliang" {
		t.Errorf("a unit's rates %+v", own)
	}
	if _, err := workflow.Audit(ctx, f.st, nil, nil); err != nil {
		t.Fatalf("audit: %v", err)
	}
}

func count(hist []workflow.Entry, action string) int {
	n := 0
	for _, e := range hist {
		if e.Action == action {
			n++
		}
	}
	return n
}

func ptr[T any](v T) *T { return &v }

// TestWorkPointRound: a round over work points asks each lead and
// responsible unit of each point (not the cooperating ones); their reports
// and alerts are the points' histories, with versions, and the audit checks
// them.
func TestWorkPointRound(t *testing.T) {
	f := newRoundFixture(t)
	ctx := context.Background()
	due := t0.Add(48 * time.Hour)
	r, _, err := f.svc.OpenRound(ctx, bureau, workflow.NewRound{Title: "工作要点落实情况调度", Due: due, Scope: workflow.RoundScope{WorkPoints: []int{8, 10, 25}}})
	if err != nil {
		t.Fatal(err)
	}
	if r.Period != "2021年6月" || len(r.Items) != 4 || len(r.Unstaffed) != 1 || r.Unstaffed[0] != 25 {
		t.Fatalf("round %+v", r)
	}
	for i, w := range []struct {
		n          int
		unit, duty string
	}{{8, "city-water", workflow.DutyLead}, {8, "fuliang", workflow.DutyLead}, {8, "leping", workflow.DutyResponsible}, {10, "fuliang", workflow.DutyResponsible}} {
		if it := r.Items[i]; it.WorkPoint != w.n || it.Unit != w.unit || it.Duty != w.duty {
			t.Errorf("item %d: %+v, want %+v", i, it, w)
		}
	}
	before, _ := f.st.Head(ctx)
	for _, c := range []struct {
		name   string
		a      workflow.Actor
		in     workflow.ReportInput
		reason workflow.Reason
	}{
		{"cooperating unit", ecoUnit, workflow.ReportInput{WorkPoint: 8, Progress: "x"}, workflow.ReasonRoundNotFound},
		{"point outside the round", officer, workflow.ReportInput{WorkPoint: 9, Progress: "x"}, workflow.ReasonNotInRound},
		{"unknown point", officer, workflow.ReportInput{WorkPoint: 99, Progress: "x"}, workflow.ReasonWorkPointNotFound},
		{"not its point", water, workflow.ReportInput{WorkPoint: 10, Progress: "x"}, workflow.ReasonNotReportingUnit},
		{"unknown target", officer, workflow.ReportInput{WorkPoint: 10, Progress: "x", Figures: []workflow.Figure{{Target: "造林", Value: 3}}}, workflow.ReasonUnknownTarget},
		{"both", officer, workflow.ReportInput{WorkPoint: 10, ProblemID: "1", Progress: "x"}, workflow.ReasonMalformed},
	} {
		_, err := f.report(c.a, r.ID, c.in)
		if workflow.ErrorReason(err) != c.reason {
			t.Errorf("%s: got %v, want %s", c.name, err, c.reason)
		}
	}
	if after, _ := f.st.Head(ctx); after != before {
		t.Fatalf("refused reports moved the chain")
	}
	f.clock.Advance(time.Hour)
	e, err := f.report(officer, r.ID, workflow.ReportInput{WorkPoint: 10, Progress: "完成营造林12万亩", Percent: ptr(41),
		Figures: []workflow.Figure{{Target: "营造林", Value: 12}}})
	if err != nil || e.WorkPoint != 10 || e.ProblemID != "" || e.Version != 1 || e.Params.Unit != "fuliang" || e.Seq == 0 {
		t.Fatalf("point report %+v %v", e, err)
	}
	f.clock.Advance(time.Hour)
	if e, err = f.report(officer, r.ID, workflow.ReportInput{WorkPoint: 10, Progress: "完成营造林13万亩"}); err != nil || e.Version != 2 {
		t.Fatalf("amend %+v %v", e, err)
	}
	if _, err := f.report(officer, r.ID, workflow.ReportInput{WorkPoint: 8, Progress: "开展河湖卫士行动"}); err != nil {
		t.Fatal(err)
	}
	f.clock.Set(due.Add(time.Minute))
	if _, err := f.report(water, r.ID, workflow.ReportInput{WorkPoint: 8, Progress: "逾期报送"}); err != nil {
		t.Fatal(err)
	}
	b, err := f.svc.RoundBoard(ctx, bureau, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Points) != 2 || b.Points[0].Key != "8" || b.Points[0].Expected != 3 || b.Points[0].Late != 1 || b.Points[0].Missing != 1 || b.Points[1].Reported != 1 {
		t.Fatalf("points %+v", b.Points)
	}
	if n, err := f.svc.RecordLateReports(ctx); err != nil || n != 1 {
		t.Fatalf("late: %d %v", n, err)
	}
	hist, err := f.svc.WorkPointHistory(ctx, bureau, 8)
	if err != nil || len(hist) != 3 || hist[2].Params.Level != workflow.AlertReportLate || hist[2].Params.Unit != "leping" || hist[2].Version != 3 {
		t.Fatalf("history of point 8: %+v %v", hist, err)
	}
	if own, _ := f.svc.WorkPointHistory(ctx, outsider, 8); len(own) != 1 || own[0].Params.Unit != "leping" {
		t.Errorf("leping sees %+v", own)
	}
	rep, err := workflow.Audit(ctx, f.st, nil, nil)
	if err != nil || rep.Rounds != 1 || rep.WorkPoints != 2 {
		t.Fatalf("audit %+v %v", rep, err)
	}
}

// TestRoundsNeedTheCapability: a store without Rounds refuses rounds.
func TestRoundsNeedTheCapability(t *testing.T) {
	f := newFixture(t)
	svc := workflow.NewService(struct{ workflow.Store }{f.store}, f.clock)
	_, _, err := svc.OpenRound(context.Background(), bureau, workflow.NewRound{Title: "x", Due: t0.Add(time.Hour)})
	if err == nil || errors.Is(err, context.Canceled) || svc.HasRounds() {
		t.Fatalf("got %v", err)
	}
}
