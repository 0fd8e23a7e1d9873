package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jdz-eco/rectify/workflow"
)

// Cases of the Rounds capability (dispatch rounds and work points'
// histories); a store without it skips them.

func roundsOf(t *testing.T, s workflow.Store) workflow.Rounds {
	t.Helper()
	rs, ok := s.(workflow.Rounds)
	if !ok {
		t.Skip("the store has no Rounds")
	}
	return rs
}

// RoundDue is the due time of the suite's rounds.
var RoundDue = T0.Add(72 * time.Hour)

// BuildRound returns a CreateRound build function for a round with key
// asking unit for a report on problem id and on work point 8.
func BuildRound(key, problemID, unit string) func(id string) (*workflow.Round, error) {
	return func(id string) (*workflow.Round, error) {
		return &workflow.Round{ID: id, Title: "2021年7月调度", Period: "2021年7月", Key: key, Due: RoundDue,
			Scope: workflow.RoundScope{ProblemIDs: []string{problemID}, WorkPoints: []int{8}},
			Items: []workflow.RoundItem{
				{ProblemID: problemID, Code: "JDZ-2021-0001", Title: "问题", County: Fuliang, Unit: unit},
				{WorkPoint: 8, Title: "持续推进非法采砂专项整治", Unit: unit, Duty: workflow.DutyLead},
			},
			OpenedAt: T0, OpenedBy: BureauActor}, nil
	}
}

// Report returns an apply that files a report of round rid by the lead
// unit's officer.
func Report(rid, text string) Apply {
	return func(p *workflow.Problem) ([]workflow.Entry, error) {
		due := RoundDue
		e := workflow.Entry{At: T0.Add(4 * time.Hour), Actor: OfficerOf(p.LeadUnit), Action: workflow.ActionReport,
			From: p.State, To: p.State, Params: workflow.Params{Round: rid, Unit: p.LeadUnit, Due: &due, Progress: text}}
		p.UpdatedAt = e.At
		return []workflow.Entry{e}, nil
	}
}

// pointReport is a report on work point 8 by unit in round rid.
func pointReport(rid, unit, text string) workflow.Entry {
	due := RoundDue
	return workflow.Entry{At: T0.Add(5 * time.Hour), Actor: OfficerOf(unit), Action: workflow.ActionReport,
		Params: workflow.Params{Round: rid, Unit: unit, Due: &due, Progress: text}}
}

// testCreateRound: rounds are numbered 1, 2, …; a period key opens one
// round; a failing build writes nothing; only LateRecordedAt changes after
// opening; each opening is an entry of the chain.
func testCreateRound(t *testing.T, s workflow.Store) {
	rs := roundsOf(t, s)
	ctx := t.Context()
	p := mustCreate(t, s, "采砂", workflow.SourceSelfInspection, Fuliang)
	r1, created, err := rs.CreateRound(ctx, "monthly-25:2021-07", BuildRound("monthly-25:2021-07", p.ID, Fuliang))
	if err != nil || !created || r1.ID != "1" || len(r1.Items) != 2 {
		t.Fatalf("CreateRound = %+v, %v, %v", r1, created, err)
	}
	again, created, err := rs.CreateRound(ctx, "monthly-25:2021-07", func(string) (*workflow.Round, error) {
		t.Error("build called for a key already used")
		return nil, errors.New("no")
	})
	if err != nil || created || again.ID != "1" || len(again.Items) != 2 {
		t.Fatalf("second CreateRound with the key = %+v, %v, %v", again, created, err)
	}
	head, _ := s.Head(ctx)
	boom := errors.New("boom")
	if _, _, err := rs.CreateRound(ctx, "", func(string) (*workflow.Round, error) { return nil, boom }); !errors.Is(err, boom) {
		t.Fatalf("build error: %v", err)
	}
	if h, _ := s.Head(ctx); h != head {
		t.Fatalf("a failed build moved the chain")
	}
	r2, created, err := rs.CreateRound(ctx, "", BuildRound("", p.ID, Fuliang))
	if err != nil || !created || r2.ID != "2" {
		t.Fatalf("round 2 = %+v, %v, %v", r2, created, err)
	}
	got, err := rs.Round(ctx, "1")
	if err != nil {
		t.Fatal(err)
	}
	sameJSON(t, "round 1", got, r1)
	list, err := rs.Rounds(ctx)
	if err != nil || len(list) != 2 || list[0].ID != "1" || list[1].ID != "2" || list[0].Items != nil {
		t.Fatalf("Rounds = %+v, %v", list, err)
	}
	for _, id := range []string{"3", "0", "x"} {
		_, err := rs.Round(ctx, id)
		wantCode(t, "Round("+id+")", err, workflow.CodeNotFound)
	}
	at := T0.Add(100 * time.Hour)
	up, err := rs.UpdateRound(ctx, "1", func(r *workflow.Round) error {
		r.LateRecordedAt = &at
		r.Title = "改过的标题"
		return nil
	})
	if err != nil || up.LateRecordedAt == nil || !up.LateRecordedAt.Equal(at) || up.Title != r1.Title {
		t.Fatalf("UpdateRound = %+v, %v", up, err)
	}
	if got, _ := rs.Round(ctx, "1"); got.Title != r1.Title || got.LateRecordedAt == nil || len(got.Items) != 2 {
		t.Fatalf("after UpdateRound: %+v", got)
	}
	_, err = rs.UpdateRound(ctx, "9", func(*workflow.Round) error { return nil })
	wantCode(t, "UpdateRound(9)", err, workflow.CodeNotFound)
	// Each opening is a chain entry of no problem with the round's digest.
	var opens []workflow.Entry
	if l, ok := s.(workflow.Ledger); ok {
		_ = l.ForEachEntry(ctx, func(e workflow.Entry, err error) error {
			if e.Action == workflow.ActionRoundOpen {
				opens = append(opens, e)
			}
			return err
		})
		if len(opens) != 2 || opens[0].ProblemID != "" || opens[0].Params.Round != "1" || opens[0].Params.Digest != workflow.RoundDigest(r1) {
			t.Fatalf("round_open entries %+v", opens)
		}
	}
}

// testRoundIndex: a problem's entries that name a round are listed by the
// round index, by item and all together, in sequence order.
func testRoundIndex(t *testing.T, s workflow.Store) {
	rs := roundsOf(t, s)
	ctx := t.Context()
	a := mustCreate(t, s, "甲", workflow.SourceSelfInspection, Fuliang)
	b := mustCreate(t, s, "乙", workflow.SourceSelfInspection, Leping)
	mustUpdate(t, s, a.ID, Assign(Fuliang, nil, Deadline(30)))
	mustUpdate(t, s, b.ID, Assign(Leping, nil, Deadline(30)))
	r, _, err := rs.CreateRound(ctx, "", BuildRound("", a.ID, Fuliang))
	if err != nil {
		t.Fatal(err)
	}
	other, _, err := rs.CreateRound(ctx, "", BuildRound("", b.ID, Leping))
	if err != nil {
		t.Fatal(err)
	}
	mustUpdate(t, s, a.ID, Report(r.ID, "第一次"))
	mustUpdate(t, s, b.ID, Report(other.ID, "另一轮"))
	mustUpdate(t, s, a.ID, Note("不是报送"))
	mustUpdate(t, s, a.ID, Report(r.ID, "修改"))
	got, err := rs.RoundEntries(ctx, r.ID, "p/"+a.ID)
	if err != nil || len(got) != 2 || got[0].Params.Progress != "第一次" || got[1].Params.Progress != "修改" || got[0].Seq >= got[1].Seq || got[1].Hash == "" {
		t.Fatalf("RoundEntries(item) = %+v, %v", got, err)
	}
	if _, err := rs.AppendWorkPoint(ctx, 8, r.ID, "w/8/"+Fuliang, func([]workflow.Entry) ([]workflow.Entry, error) {
		return []workflow.Entry{pointReport(r.ID, Fuliang, "要点")}, nil
	}); err != nil {
		t.Fatal(err)
	}
	all, err := rs.RoundEntries(ctx, r.ID, "")
	if err != nil || len(all) != 3 || all[2].WorkPoint != 8 {
		t.Fatalf("RoundEntries(all) = %+v, %v", all, err)
	}
	for i := 1; i < len(all); i++ {
		if all[i-1].Seq >= all[i].Seq {
			t.Fatalf("not in sequence order: %d, %d", all[i-1].Seq, all[i].Seq)
		}
	}
	if got, _ := rs.RoundEntries(ctx, other.ID, ""); len(got) != 1 || got[0].ProblemID != b.ID {
		t.Fatalf("round %s: %+v", other.ID, got)
	}
	if got, _ := rs.RoundEntries(ctx, r.ID, "p/"+b.ID); len(got) != 0 {
		t.Fatalf("an item of no entry: %+v", got)
	}
}

// testWorkPointHistory: a work point's entries get the point's versions,
// the round entries of their item are what decide sees, a refusal writes
// nothing, and the chain covers them.
func testWorkPointHistory(t *testing.T, s workflow.Store) {
	rs := roundsOf(t, s)
	ctx := t.Context()
	p := mustCreate(t, s, "甲", workflow.SourceSelfInspection, Fuliang)
	r, _, err := rs.CreateRound(ctx, "", BuildRound("", p.ID, Fuliang))
	if err != nil {
		t.Fatal(err)
	}
	item := "w/8/" + Fuliang
	var seen []int
	appendOne := func(text string) []workflow.Entry {
		t.Helper()
		out, err := rs.AppendWorkPoint(ctx, 8, r.ID, item, func(prior []workflow.Entry) ([]workflow.Entry, error) {
			seen = append(seen, len(prior))
			return []workflow.Entry{pointReport(r.ID, Fuliang, text)}, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	e1 := appendOne("一")
	e2 := appendOne("二")
	if e1[0].Version != 1 || e2[0].Version != 2 || e1[0].WorkPoint != 8 || e1[0].ProblemID != "" || e2[0].PrevHash != e1[0].Hash {
		t.Fatalf("appended %+v then %+v", e1, e2)
	}
	if len(seen) < 2 || seen[len(seen)-2] != 0 || seen[len(seen)-1] != 1 {
		t.Fatalf("decide saw %v prior entries", seen)
	}
	head, _ := s.Head(ctx)
	boom := errors.New("boom")
	if _, err := rs.AppendWorkPoint(ctx, 8, r.ID, item, func([]workflow.Entry) ([]workflow.Entry, error) { return nil, boom }); !errors.Is(err, boom) {
		t.Fatalf("decide error: %v", err)
	}
	if h, _ := s.Head(ctx); h != head || h.Seq != e2[0].Seq {
		t.Fatalf("head %v after a refusal, want %v at entry %d", h, head, e2[0].Seq)
	}
	// Another point's history is its own; a problem's entries come after.
	mustUpdate(t, s, p.ID, Note("备注"))
	hist, err := rs.WorkPointHistory(ctx, 8)
	if err != nil || len(hist) != 2 || hist[1].Params.Progress != "二" {
		t.Fatalf("WorkPointHistory(8) = %+v, %v", hist, err)
	}
	if hist, _ := rs.WorkPointHistory(ctx, 9); len(hist) != 0 {
		t.Fatalf("WorkPointHistory(9) = %+v", hist)
	}
	if evs, _ := s.Events(ctx, e1[0].Seq-1, 1); len(evs) != 1 || evs[0].Entry.WorkPoint != 8 {
		t.Fatalf("the outbox does not hold the point's entry: %+v", evs)
	}
	if l, ok := s.(workflow.Ledger); ok {
		if _, err := workflow.Audit(ctx, l, nil, nil); err != nil {
			t.Fatalf("audit: %v", err)
		}
	}
}

// testRoundsConcurrent: concurrent openings with one key open one round,
// and concurrent appends that each decide "only if none yet" write one.
func testRoundsConcurrent(t *testing.T, s workflow.Store) {
	rs := roundsOf(t, s)
	ctx := t.Context()
	p := mustCreate(t, s, "甲", workflow.SourceSelfInspection, Fuliang)
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		created int
		ids     = map[string]bool{}
	)
	for range 8 {
		wg.Go(func() {
			r, c, err := rs.CreateRound(ctx, "weekly-1:2021-W27", BuildRound("weekly-1:2021-W27", p.ID, Fuliang))
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				t.Error(err)
				return
			}
			ids[r.ID] = true
			if c {
				created++
			}
		})
	}
	wg.Wait()
	if created != 1 || len(ids) != 1 {
		t.Fatalf("%d rounds created, ids %v", created, ids)
	}
	written := 0
	for i := range 8 {
		wg.Go(func() {
			out, err := rs.AppendWorkPoint(ctx, 8, "1", "w/8/"+Fuliang, func(prior []workflow.Entry) ([]workflow.Entry, error) {
				if len(prior) > 0 {
					return nil, workflow.Refuse(workflow.ReasonReportClosed, "already")
				}
				return []workflow.Entry{pointReport("1", Fuliang, fmt.Sprint(i))}, nil
			})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				written += len(out)
			case workflow.ErrorReason(err) != workflow.ReasonReportClosed:
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if hist, _ := rs.WorkPointHistory(ctx, 8); written != 1 || len(hist) != 1 {
		t.Fatalf("%d appends written, history %+v", written, hist)
	}
}

// testServiceRounds: a round through workflow.Service on the store: a
// report on time, one late, one missing with its alert recorded once, and
// the audit passes.
func testServiceRounds(t *testing.T, s workflow.Store) {
	roundsOf(t, s)
	ctx := t.Context()
	clock := workflow.NewManualClock(T0)
	svc := workflow.NewService(s, clock)
	if err := svc.PutUnits(ctx, Units()); err != nil {
		t.Fatal(err)
	}
	if err := svc.PutWorkPoints(ctx, []workflow.WorkPoint{{Number: 8, Title: "持续推进非法采砂专项整治", LeadUnits: []string{Water, Leping}}}); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, lead := range []string{Fuliang, Leping, Zhushan} {
		p, _, err := svc.CreateProblem(ctx, BureauActor, workflow.NewProblem{Title: lead + "的问题", Description: "x", Source: workflow.SourceWarningFilm, CountyID: lead})
		if err != nil {
			t.Fatal(err)
		}
		d := Deadline(60)
		if _, err := svc.Fire(ctx, BureauActor, p.ID, workflow.Command{Trigger: workflow.TriggerAssign, Params: workflow.Params{LeadUnit: lead, Deadline: &d}}); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, p.ID)
	}
	r, _, err := svc.OpenRound(ctx, BureauActor, workflow.NewRound{Title: "调度", Due: RoundDue, Scope: workflow.RoundScope{AllProblems: true, WorkPoints: []int{8}}})
	if err != nil || len(r.Items) != 5 {
		t.Fatalf("OpenRound = %+v, %v", r, err)
	}
	if _, err := svc.FileReport(ctx, OfficerOf(Fuliang), r.ID, workflow.ReportInput{ProblemID: ids[0], Progress: "按时"}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.FileReport(ctx, OfficerOf(Water), r.ID, workflow.ReportInput{WorkPoint: 8, Progress: "按时"}); err != nil {
		t.Fatal(err)
	}
	clock.Set(RoundDue.Add(time.Hour))
	if _, err := svc.FileReport(ctx, OfficerOf(Leping), r.ID, workflow.ReportInput{ProblemID: ids[1], Progress: "逾期"}); err != nil {
		t.Fatal(err)
	}
	for i, want := range []int{2, 0} {
		n, err := svc.RecordLateReports(ctx)
		if err != nil || n != want {
			t.Fatalf("RecordLateReports #%d = %d, %v; want %d", i+1, n, err, want)
		}
	}
	b, err := svc.RoundBoard(ctx, BureauActor, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if b.Total.Expected != 5 || b.Total.Reported != 3 || b.Total.Late != 1 || b.Total.Missing != 2 {
		t.Fatalf("total %+v", b.Total)
	}
	alerted := 0
	for _, row := range b.Rows {
		if row.Alerted {
			alerted++
		}
	}
	if alerted != 2 {
		t.Fatalf("%d rows alerted, want 2", alerted)
	}
	if l, ok := s.(workflow.Ledger); ok {
		rep, err := workflow.Audit(ctx, l, nil, nil)
		if err != nil || rep.Rounds != 1 || rep.WorkPoints != 1 {
			t.Fatalf("audit %+v %v", rep, err)
		}
	}
}

// AddRounds opens two rounds through svc on a ledger BuildLedger built
// (its clock at T0 plus 20 days): one over the open problems, one over work
// point 8 (stored here), with a report on time, an amended one, a late one,
// and the report_late alerts of the missing ones. It returns the rounds.
func AddRounds(t testing.TB, svc *workflow.Service) []*workflow.Round {
	t.Helper()
	ctx := t.Context()
	clock, ok := svc.Clock().(*workflow.ManualClock)
	if !ok {
		t.Fatal("AddRounds needs a service on a manual clock")
	}
	if err := svc.PutWorkPoints(ctx, []workflow.WorkPoint{{Number: 8, Title: "持续推进非法采砂专项整治", LeadUnits: []string{Water, Changjiang}}}); err != nil {
		t.Fatal(err)
	}
	due := clock.Now().Add(48 * time.Hour)
	problems, _, err := svc.OpenRound(ctx, BureauActor, workflow.NewRound{Title: "问题整改进展调度", Due: due})
	if err != nil {
		t.Fatalf("OpenRound = %v", err)
	}
	points, _, err := svc.OpenRound(ctx, BureauActor, workflow.NewRound{Title: "工作要点落实情况调度", Due: due, Scope: workflow.RoundScope{WorkPoints: []int{8}}})
	if err != nil {
		t.Fatalf("OpenRound = %v", err)
	}
	file := func(a workflow.Actor, r *workflow.Round, in workflow.ReportInput) {
		t.Helper()
		clock.Advance(time.Hour)
		if _, err := svc.FileReport(ctx, a, r.ID, in); err != nil {
			t.Fatalf("FileReport = %v", err)
		}
	}
	first := problems.Items[0]
	file(OfficerOf(first.Unit), problems, workflow.ReportInput{ProblemID: first.ProblemID, Progress: "已完成主体工程"})
	file(OfficerOf(first.Unit), problems, workflow.ReportInput{ProblemID: first.ProblemID, Progress: "已完成主体工程和验收准备"})
	file(OfficerOf(Water), points, workflow.ReportInput{WorkPoint: 8, Progress: "开展河湖卫士行动"})
	clock.Set(due.Add(time.Hour))
	file(OfficerOf(Changjiang), points, workflow.ReportInput{WorkPoint: 8, Progress: "逾期报送"})
	if _, err := svc.RecordLateReports(ctx); err != nil {
		t.Fatalf("RecordLateReports = %v", err)
	}
	return []*workflow.Round{problems, points}
}
