package storetest

import (
	"testing"
	"time"

	"github.com/jdz-eco/rectify/workflow"
)

// testServiceNotice drives a problem through a public notice (公示) with
// workflow.Service on the store: the close starts the notice, the state
// index finds it in_notice, an objection holds the notice open until the
// bureau dismisses it, the scanner then closes it once (from the wake
// index), and the history replays to the stored record.
func testServiceNotice(t *testing.T, s workflow.Store) {
	ctx := t.Context()
	clock := workflow.NewManualClock(T0)
	svc := workflow.NewService(s, clock)
	if err := svc.PutUnits(ctx, Units()); err != nil {
		t.Fatal(err)
	}
	if err := svc.SetNoticePolicy(workflow.DefaultNoticePolicy()); err != nil {
		t.Fatal(err)
	}
	p, _, err := svc.CreateProblem(ctx, BureauActor, workflow.NewProblem{Title: "乐平市河道非法采砂", Description: "省级督察反馈", Source: workflow.SourceProvincialInspection, CountyID: Leping})
	if err != nil {
		t.Fatal(err)
	}
	d := Deadline(90)
	lead := OfficerOf(Leping)
	fire := func(a workflow.Actor, trig workflow.Trigger, prm workflow.Params) *workflow.Problem {
		t.Helper()
		clock.Advance(time.Hour)
		q, err := svc.Fire(ctx, a, p.ID, workflow.Command{Trigger: trig, Params: prm})
		if err != nil {
			t.Fatalf("%s: %v", trig, err)
		}
		return q
	}
	fire(BureauActor, workflow.TriggerAssign, workflow.Params{LeadUnit: Leping, Deadline: &d})
	fire(lead, workflow.TriggerAccept, workflow.Params{Plan: "清运砂堆"})
	if _, err := svc.AddEvidence(ctx, lead, p.ID, EvidenceInput("清运后.jpg"), 0); err != nil {
		t.Fatal(err)
	}
	fire(lead, workflow.TriggerSubmit, workflow.Params{Summary: "已清运"})
	fire(InspectorActor, workflow.TriggerVerify, workflow.Params{Opinion: "合格"})
	p = fire(BureauActor, workflow.TriggerClose, workflow.Params{Statement: "同意销号"})
	if p.State != workflow.StateInNotice || p.Notice == nil {
		t.Fatalf("after close: %s, notice %+v", p.State, p.Notice)
	}
	items, _, err := s.Problems(ctx, workflow.ProblemFilter{State: workflow.StateInNotice})
	if err != nil || len(items) != 1 || items[0].ID != p.ID {
		t.Fatalf("Problems(in_notice) = %v, %v", items, err)
	}
	if _, err := svc.FileObjection(ctx, p.ID, workflow.ObjectionInput{Text: "砂堆仍在"}); err != nil {
		t.Fatal(err)
	}
	clock.Set(p.Notice.End.Add(time.Hour))
	if n, err := svc.Scan(ctx); err != nil || n != 0 {
		t.Fatalf("scan with an objection open: %d, %v", n, err)
	}
	if _, err := svc.DismissObjection(ctx, BureauActor, p.ID, "1", "经核实已清运", 0); err != nil {
		t.Fatal(err)
	}
	for want := 1; want >= 0; want-- {
		if n, err := svc.Scan(ctx); err != nil || n != want {
			t.Fatalf("scan: %d, %v; want %d", n, err, want)
		}
	}
	p, err = s.Problem(ctx, p.ID)
	if err != nil || p.State != workflow.StateClosed {
		t.Fatalf("after the notice: %+v, %v", p, err)
	}
	if list, _, err := svc.PublicNotices(ctx, "", 0); err != nil || len(list) != 1 || list[0].State != workflow.StateClosed {
		t.Fatalf("public notices: %+v, %v", list, err)
	}
	h, err := s.History(ctx, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	replayed, err := workflow.Replay(h)
	if err != nil {
		t.Fatal(err)
	}
	if replayed.State != p.State || replayed.Version != p.Version || replayed.Notice == nil || len(replayed.Objections) != 1 {
		t.Fatalf("replayed %+v, stored %+v", replayed, p)
	}
}
