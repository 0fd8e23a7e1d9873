package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/jdz-eco/rectify/workflow"
)

// testServiceLifecycle drives one problem through the whole workflow with
// workflow.Service on the store, then replays its history: the store must
// record what the domain needs to rebuild the problem exactly.
func testServiceLifecycle(t *testing.T, s workflow.Store) {
	ctx := t.Context()
	clock := workflow.NewManualClock(T0)
	svc := workflow.NewService(s, clock)
	if err := svc.PutUnits(ctx, Units()); err != nil {
		t.Fatal(err)
	}
	p, created, err := svc.CreateProblem(ctx, BureauActor, workflow.NewProblem{
		Title:       "浮梁县某陶瓷企业废水未经处理直排",
		Description: "2020 年全省生态环境警示片披露：企业沉淀池破损，废水经雨水沟排入昌江支流。",
		Source:      workflow.SourceWarningFilm, CountyID: Fuliang,
		SourceRef: "景府办字〔2020〕57 号", Location: "浮梁县湘湖镇",
	})
	if err != nil || !created || p.Version != 1 {
		t.Fatalf("CreateProblem = %+v, %v, %v", p, created, err)
	}
	deadline := Deadline(90)
	newDeadline := Deadline(150)
	lead := OfficerOf(Fuliang)
	// Submit needs evidence added since the last rejection.
	steps := []struct {
		a        workflow.Actor
		cmd      workflow.Command
		note     string
		evidence string
		want     workflow.State
	}{
		{a: BureauActor, cmd: workflow.Command{Trigger: workflow.TriggerAssign, Params: workflow.Params{LeadUnit: Fuliang, CooperatingUnits: []string{Water}, Deadline: &deadline, Requirements: "三个月内完成截污"}}, want: workflow.StateAssigned},
		{a: lead, cmd: workflow.Command{Trigger: workflow.TriggerAccept, Params: workflow.Params{Plan: "修复沉淀池，接入园区污水管网"}}, want: workflow.StateRectifying},
		{a: OfficerOf(Water), note: "市水利局已完成支流水质监测", want: workflow.StateRectifying},
		{a: lead, evidence: "沉淀池修复后.jpg", want: workflow.StateRectifying},
		{a: lead, cmd: workflow.Command{Trigger: workflow.TriggerSubmit, Params: workflow.Params{Summary: "沉淀池已修复，管网已接通"}}, want: workflow.StateSubmitted},
		{a: InspectorActor, cmd: workflow.Command{Trigger: workflow.TriggerReject, Params: workflow.Params{Reason: "缺少出水水质检测报告"}}, want: workflow.StateRectifying},
		{a: OfficerOf(Water), evidence: "出水水质检测报告.jpg", want: workflow.StateRectifying},
		{a: lead, cmd: workflow.Command{Trigger: workflow.TriggerSubmit, Params: workflow.Params{Summary: "补充第三方检测报告"}}, want: workflow.StateSubmitted},
		{a: InspectorActor, cmd: workflow.Command{Trigger: workflow.TriggerVerify, Params: workflow.Params{Opinion: "现场核查，整改到位"}}, want: workflow.StateVerified},
		{a: BureauActor, cmd: workflow.Command{Trigger: workflow.TriggerClose, Params: workflow.Params{Statement: "同意销号"}}, want: workflow.StateClosed},
		{a: BureauActor, cmd: workflow.Command{Trigger: workflow.TriggerReopen, Params: workflow.Params{Reason: "回头看发现反弹", Deadline: &newDeadline}}, want: workflow.StateRectifying},
	}
	for i, st := range steps {
		clock.Advance(24 * time.Hour)
		var got *workflow.Problem
		switch {
		case st.note != "":
			got, err = svc.AddNote(ctx, st.a, p.ID, st.note, p.Version)
		case st.evidence != "":
			got, err = svc.AddEvidence(ctx, st.a, p.ID, EvidenceInput(st.evidence), p.Version)
		default:
			st.cmd.IfVersion = p.Version
			got, err = svc.Fire(ctx, st.a, p.ID, st.cmd)
		}
		if err != nil {
			t.Fatalf("step %d (%s): %v", i, st.cmd.Trigger, err)
		}
		if got.Version != p.Version+1 || got.State != st.want {
			t.Errorf("step %d (%s): version %d state %s, want %d %s", i, st.cmd.Trigger, got.Version, got.State, p.Version+1, st.want)
		}
		p = got
	}

	// Refusals from the domain pass through the store unchanged and write nothing.
	refusals := []struct {
		a    workflow.Actor
		cmd  workflow.Command
		code workflow.Code
	}{
		{BureauActor, workflow.Command{Trigger: workflow.TriggerDismiss, Params: workflow.Params{Reason: "x"}, IfVersion: 1}, workflow.CodePreconditionFailed},
		{BureauActor, workflow.Command{Trigger: workflow.TriggerVerify, Params: workflow.Params{Opinion: "x"}}, workflow.CodeConflict},
		{OfficerOf(Water), workflow.Command{Trigger: workflow.TriggerSubmit, Params: workflow.Params{Summary: "x"}}, workflow.CodeForbidden},
		{OfficerOf(Leping), workflow.Command{Trigger: workflow.TriggerSubmit, Params: workflow.Params{Summary: "x"}}, workflow.CodeNotFound},
	}
	before := mustHistory(t, s, p.ID)
	for _, r := range refusals {
		_, err := svc.Fire(ctx, r.a, p.ID, r.cmd)
		wantCode(t, string(r.cmd.Trigger)+" by "+r.a.ID, err, r.code)
	}
	sameJSON(t, "problem after refusals", mustProblem(t, s, p.ID), p)
	sameJSON(t, "history after refusals", mustHistory(t, s, p.ID), before)

	// The history replays to the stored record.
	h := mustHistory(t, s, p.ID)
	if len(h) != len(steps)+1 {
		t.Fatalf("history has %d entries, want %d", len(h), len(steps)+1)
	}
	replayed, err := workflow.Replay(h)
	if err != nil {
		t.Fatalf("Replay: %v", err)
	}
	sameJSON(t, "replayed problem", replayed, mustProblem(t, s, p.ID))
	CheckChain(t, s, h)

	// The evidence is listed, both files of it, and finds the problem.
	if len(p.Evidence) != 2 || p.Evidence[0].SHA256 != FileSHA("沉淀池修复后.jpg") || !p.Evidence[0].Submitted || p.Evidence[1].Round != 1 {
		t.Errorf("evidence of the problem = %+v", p.Evidence)
	}
	for _, name := range []string{"沉淀池修复后.jpg", "出水水质检测报告.jpg"} {
		items, _, err := s.Problems(ctx, workflow.ProblemFilter{Evidence: FileSHA(name)})
		if err != nil || !slices.Equal(ids(items), []string{p.ID}) {
			t.Errorf("Problems(evidence %s) = %v, %v", name, ids(items), err)
		}
	}

	// Visibility: a cooperating unit sees the problem, an uninvolved one does not.
	for _, tt := range []struct {
		a    workflow.Actor
		want []string
	}{
		{OfficerOf(Water), []string{p.ID}},
		{OfficerOf(Fuliang), []string{p.ID}},
		{OfficerOf(Leping), []string{}},
		{InspectorActor, []string{p.ID}},
	} {
		items, _, err := svc.Problems(ctx, tt.a, workflow.ProblemFilter{})
		if err != nil || !slices.Equal(ids(items), tt.want) {
			t.Errorf("Problems as %s = %v, %v; want %v", tt.a.ID, ids(items), err, tt.want)
		}
	}
}
