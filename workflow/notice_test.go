package workflow_test

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/jdz-eco/rectify/store/bolt"
	"github.com/jdz-eco/rectify/workflow"
)

// noticeCalendar has a holiday on Monday 2021-06-28, inside the notice of
// a problem closed on Thursday 2021-06-24.
const noticeCalendar = `{"year":2021,"holidays":[{"name":"测试假日","from":"2021-06-28","to":"2021-06-28"}],"workdays":[]}`

// noticeEnd is the end of that notice: 5 working days after 2021-06-24
// are 25, 29, 30 June, 1 and 2 July (the 28th is a holiday), so the
// notice ends at 23:59:59 of 2 July in Shanghai.
var noticeEnd = time.Date(2021, 7, 2, 15, 59, 59, 0, time.UTC)

// inNotice sets the default notice policy and the holiday, and takes a new
// central-inspection problem through to close: it is then in notice.
func (f *fixture) inNotice(t *testing.T) *workflow.Problem {
	t.Helper()
	ctx := context.Background()
	if err := f.svc.SetNoticePolicy(workflow.DefaultNoticePolicy()); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.PutCalendar(ctx, bureau, []byte(noticeCalendar)); err != nil {
		t.Fatal(err)
	}
	p, _, err := f.svc.CreateProblem(ctx, bureau, workflow.NewProblem{
		Title: "昌江河道非法采砂", Description: "中央督察反馈问题", Source: workflow.SourceCentralInspection, CountyID: "fuliang",
	})
	if err != nil {
		t.Fatal(err)
	}
	id := p.ID
	f.fire(t, bureau, id, workflow.TriggerAssign, workflow.Params{LeadUnit: "fuliang", Deadline: deadline("2021-12-31")})
	f.fire(t, officer, id, workflow.TriggerAccept, workflow.Params{Plan: "方案"})
	f.evidence(t, officer, id, "notice-"+id)
	f.fire(t, officer, id, workflow.TriggerSubmit, workflow.Params{Summary: "已清理砂堆，恢复河道"})
	f.fire(t, inspector, id, workflow.TriggerVerify, workflow.Params{Opinion: "整改到位"})
	p = f.fire(t, bureau, id, workflow.TriggerClose, workflow.Params{Statement: "同意销号"})
	if p.State != workflow.StateInNotice || p.Resolution != workflow.ResolutionNone || p.Notice == nil {
		t.Fatalf("close of a central-inspection problem: %s/%s notice %+v, want in_notice", p.State, p.Resolution, p.Notice)
	}
	if !p.Notice.End.Equal(noticeEnd) || p.Notice.Days != 5 || p.Notice.By != workflow.RoleSystem {
		t.Fatalf("notice %+v, want 5 working days ending %v (across the holiday), closed by the system", p.Notice, noticeEnd)
	}
	return p
}

func actionsOf(t *testing.T, svc *workflow.Service, id string) []string {
	t.Helper()
	hist, err := svc.History(context.Background(), bureau, id)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range hist {
		out = append(out, e.Action)
	}
	return out
}

func checkReplay(t *testing.T, svc *workflow.Service, id string) {
	t.Helper()
	ctx := context.Background()
	hist, err := svc.History(ctx, bureau, id)
	if err != nil {
		t.Fatal(err)
	}
	replayed, err := workflow.Replay(hist)
	if err != nil {
		t.Fatal(err)
	}
	stored, _ := svc.Problem(ctx, bureau, id)
	if !reflect.DeepEqual(replayed, stored) {
		t.Fatalf("replay differs from the stored record:\nreplay %+v\nstored %+v", replayed, stored)
	}
}

// TestNoticeClosedByTheScanner: with no objection, the scanner closes the
// problem as the system actor exactly when its 5 working days (across a
// holiday) have ended, once, also after a restart.
func TestNoticeClosedByTheScanner(t *testing.T) {
	dir := t.TempDir()
	st, err := bolt.Open(dir+"/notice.db", bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	clock := workflow.NewManualClock(t0)
	f := &fixture{svc: workflow.NewService(st, clock), clock: clock, store: st}
	ctx := context.Background()
	if err := f.svc.PutUnits(ctx, testUnits); err != nil {
		t.Fatal(err)
	}
	id := f.inNotice(t).ID

	// Nobody closes it by hand: the scanner does.
	_, err = f.svc.Fire(ctx, bureau, id, workflow.Command{Trigger: workflow.TriggerEndNotice})
	if e := wantCode(t, err, workflow.CodeForbidden); e.Reason != workflow.ReasonNoticeBySystem {
		t.Fatalf("bureau end_notice: reason %s", e.Reason)
	}
	// Closing again, or reopening, is no trigger of a problem in notice.
	for _, trig := range []workflow.Trigger{workflow.TriggerClose, workflow.TriggerReopen} {
		_, err = f.svc.Fire(ctx, bureau, id, workflow.Command{Trigger: trig, Params: workflow.Params{Statement: "x", Reason: "x", Deadline: deadline("2022-01-31")}})
		wantCode(t, err, workflow.CodeConflict)
	}

	// The last second of the notice: nothing happens.
	clock.Set(noticeEnd)
	if n, err := f.svc.Scan(ctx); err != nil || n != 0 {
		t.Fatalf("scan at the notice's end: %d, %v", n, err)
	}
	// A restart before it ends loses nothing: the wake index has it.
	st.Close()
	if st, err = bolt.Open(dir+"/notice.db", bolt.Options{}); err != nil {
		t.Fatal(err)
	}
	f.svc = workflow.NewService(st, clock)
	if p, _ := f.svc.Problem(ctx, bureau, id); p.State != workflow.StateInNotice {
		t.Fatalf("after a restart: %s", p.State)
	}
	clock.Set(noticeEnd.Add(time.Second))
	if n, err := f.svc.Scan(ctx); err != nil || n != 1 {
		t.Fatalf("scan after the notice ended: %d, %v; want the write-off", n, err)
	}
	p, _ := f.svc.Problem(ctx, bureau, id)
	if p.State != workflow.StateClosed || p.Resolution != workflow.ResolutionRectified {
		t.Fatalf("after the notice: %s/%s", p.State, p.Resolution)
	}
	hist, _ := f.svc.History(ctx, bureau, id)
	last := hist[len(hist)-1]
	if last.Action != string(workflow.TriggerEndNotice) || last.Actor.Role != workflow.RoleSystem ||
		last.Params.Notice == nil || !last.Params.Notice.End.Equal(noticeEnd) || last.From != workflow.StateInNotice {
		t.Fatalf("the write-off entry: %+v", last)
	}
	// Once: again, and after another restart, nothing more.
	if n, err := f.svc.Scan(ctx); err != nil || n != 0 {
		t.Fatalf("second scan: %d, %v", n, err)
	}
	st.Close()
	if st, err = bolt.Open(dir+"/notice.db", bolt.Options{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f.svc = workflow.NewService(st, clock)
	clock.Advance(30 * workflow.Day)
	if n, err := f.svc.Scan(ctx); err != nil || n != 0 {
		t.Fatalf("scan after a restart: %d, %v", n, err)
	}
	if got := strings.Join(actionsOf(t, f.svc, id), " "); strings.Count(got, "end_notice") != 1 {
		t.Fatalf("history %s: want one end_notice", got)
	}
	checkReplay(t, f.svc, id)
}

// TestNoticeObjectionUpheld: close → in notice → objection upheld →
// rectifying with the objection as reason and a new deadline.
func TestNoticeObjectionUpheld(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	id := f.inNotice(t).ID

	o, err := f.svc.FileObjection(ctx, id, workflow.ObjectionInput{Text: " 河道里仍有砂堆 ", Name: "李四", Contact: "13800000000"})
	if err != nil || o.ID != "1" || o.Text != "河道里仍有砂堆" || o.Status != workflow.ObjectionOpen {
		t.Fatalf("objection: %+v, %v", o, err)
	}
	// The uphold needs the objection and a new deadline.
	_, err = f.svc.Fire(ctx, bureau, id, workflow.Command{Trigger: workflow.TriggerUphold, Params: workflow.Params{ObjectionID: "1"}})
	wantCode(t, err, workflow.CodeInvalid)
	_, err = f.svc.Fire(ctx, bureau, id, workflow.Command{Trigger: workflow.TriggerUphold, Params: workflow.Params{ObjectionID: "9", Deadline: deadline("2022-03-31")}})
	wantCode(t, err, workflow.CodeNotFound)
	_, err = f.svc.Fire(ctx, officer, id, workflow.Command{Trigger: workflow.TriggerUphold, Params: workflow.Params{ObjectionID: "1", Deadline: deadline("2022-03-31")}})
	wantCode(t, err, workflow.CodeForbidden)

	p := f.fire(t, bureau, id, workflow.TriggerUphold, workflow.Params{ObjectionID: "1", Deadline: deadline("2022-03-31"), Note: "经核实，异议属实"})
	if p.State != workflow.StateRectifying || p.Notice != nil || p.Objections[0].Status != workflow.ObjectionUpheld ||
		p.Deadline == nil || !p.Deadline.Equal(*deadline("2022-03-31")) || p.EvidenceRound != 1 || p.VerifiedBy != "" {
		t.Fatalf("after the uphold: %+v", p)
	}
	hist, _ := f.svc.History(ctx, bureau, id)
	last := hist[len(hist)-1]
	if last.Action != string(workflow.TriggerUphold) || last.Params.Reason != "河道里仍有砂堆" || last.To != workflow.StateRectifying {
		t.Fatalf("the uphold entry: %+v", last)
	}
	// No longer in notice: no objection, and nothing public.
	_, err = f.svc.FileObjection(ctx, id, workflow.ObjectionInput{Text: "再次反映"})
	if e := wantCode(t, err, workflow.CodeNotFound); e.Reason != workflow.ReasonNotInNotice {
		t.Fatalf("objection after the uphold: %s", e.Reason)
	}
	if list, _, err := f.svc.PublicNotices(ctx, "", 0); err != nil || len(list) != 0 {
		t.Fatalf("public notices after the uphold: %+v, %v", list, err)
	}
	checkReplay(t, f.svc, id)
}

// TestNoticeWaitsForObjections: a notice cannot end while an objection is
// open; once the bureau dismisses it (with a reason), the scanner closes.
func TestNoticeWaitsForObjections(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	id := f.inNotice(t).ID

	for _, bad := range []workflow.ObjectionInput{
		{Text: "   "},
		{Text: strings.Repeat("长", workflow.MaxObjectionText+1)},
		{Text: "ok", Name: strings.Repeat("名", workflow.MaxObjectionName+1)},
		{Text: "ok", Contact: strings.Repeat("1", workflow.MaxObjectionContact+1)},
		{Text: "bad\x00byte"},
	} {
		if _, err := f.svc.FileObjection(ctx, id, bad); workflow.ErrorCode(err) != workflow.CodeInvalid {
			t.Errorf("objection %.20q: %v, want invalid", bad.Text, err)
		}
	}
	if _, err := f.svc.FileObjection(ctx, "999", workflow.ObjectionInput{Text: "x"}); workflow.ErrorCode(err) != workflow.CodeNotFound {
		t.Errorf("objection to an unknown problem: %v", err)
	}
	other := f.create(t) // not in notice
	if _, err := f.svc.FileObjection(ctx, other.ID, workflow.ObjectionInput{Text: "x"}); workflow.ErrorCode(err) != workflow.CodeNotFound {
		t.Errorf("objection to a problem not in notice: %v", err)
	}
	if got := actionsOf(t, f.svc, id); got[len(got)-1] != "close" {
		t.Fatalf("refused objections were recorded: %v", got)
	}

	if _, err := f.svc.FileObjection(ctx, id, workflow.ObjectionInput{Text: "砂堆只是被覆盖了"}); err != nil {
		t.Fatal(err)
	}
	f.clock.Set(noticeEnd.Add(time.Hour))
	if n, err := f.svc.Scan(ctx); err != nil || n != 0 {
		t.Fatalf("scan with an open objection: %d, %v", n, err)
	}
	if p, _ := f.svc.Problem(ctx, bureau, id); p.State != workflow.StateInNotice {
		t.Fatalf("closed with an objection open: %s", p.State)
	}
	// Too late to object now.
	_, err := f.svc.FileObjection(ctx, id, workflow.ObjectionInput{Text: "迟到的异议"})
	if e := wantCode(t, err, workflow.CodeConflict); e.Reason != workflow.ReasonNoticeOver {
		t.Fatalf("objection after the end: %s", e.Reason)
	}
	// The dismissal: the bureau only, with a reason, once.
	if _, err := f.svc.DismissObjection(ctx, inspector, id, "1", "理由", 0); workflow.ErrorCode(err) != workflow.CodeForbidden {
		t.Errorf("inspector dismisses: %v", err)
	}
	if _, err := f.svc.DismissObjection(ctx, bureau, id, "1", " ", 0); workflow.ErrorCode(err) != workflow.CodeInvalid {
		t.Errorf("dismissal without a reason: %v", err)
	}
	if _, err := f.svc.DismissObjection(ctx, bureau, id, "2", "理由", 0); workflow.ErrorCode(err) != workflow.CodeNotFound {
		t.Errorf("dismissal of an unknown objection: %v", err)
	}
	p, err := f.svc.DismissObjection(ctx, bureau, id, "1", "经现场核查，砂堆已清运", 0)
	if err != nil || p.Objections[0].Status != workflow.ObjectionDismissed || p.Objections[0].Reason != "经现场核查，砂堆已清运" {
		t.Fatalf("dismissal: %+v, %v", p, err)
	}
	if _, err := f.svc.DismissObjection(ctx, bureau, id, "1", "理由", 0); workflow.ErrorCode(err) != workflow.CodeConflict {
		t.Errorf("second dismissal: %v", err)
	}
	if n, err := f.svc.Scan(ctx); err != nil || n != 1 {
		t.Fatalf("scan after the dismissal: %d, %v", n, err)
	}
	want := "create assign accept evidence submit verify close objection objection_dismissed end_notice"
	if got := strings.Join(actionsOf(t, f.svc, id), " "); got != want {
		t.Fatalf("history %s, want %s", got, want)
	}
	checkReplay(t, f.svc, id)
}

// TestNoticeClosedByTheBureau: configured so, the scanner leaves the
// problem to the bureau, which may close it only once the notice ended
// with no objection open.
func TestNoticeClosedByTheBureau(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	np := workflow.DefaultNoticePolicy()
	np.By = workflow.RoleBureau
	np.Sources = append(np.Sources, workflow.SourceSelfInspection)
	if err := f.svc.SetNoticePolicy(np); err != nil {
		t.Fatal(err)
	}
	id := f.closeOne(t, "fuliang")
	p, _ := f.svc.Problem(ctx, bureau, id)
	if p.State != workflow.StateInNotice || p.Notice.By != workflow.RoleBureau {
		t.Fatalf("%s %+v", p.State, p.Notice)
	}
	_, err := f.svc.Fire(ctx, bureau, id, workflow.Command{Trigger: workflow.TriggerEndNotice})
	if e := wantCode(t, err, workflow.CodeConflict); e.Reason != workflow.ReasonNoticeRunning {
		t.Fatalf("end_notice while it runs: %s", e.Reason)
	}
	if _, err := f.svc.FileObjection(ctx, id, workflow.ObjectionInput{Text: "异议"}); err != nil {
		t.Fatal(err)
	}
	f.clock.Set(p.Notice.End.Add(time.Minute))
	if n, err := f.svc.Scan(ctx); err != nil || n != 0 {
		t.Fatalf("scan: %d, %v; the bureau closes", n, err)
	}
	_, err = f.svc.Fire(ctx, bureau, id, workflow.Command{Trigger: workflow.TriggerEndNotice})
	if e := wantCode(t, err, workflow.CodeConflict); e.Reason != workflow.ReasonObjectionOpen {
		t.Fatalf("end_notice with an objection open: %s", e.Reason)
	}
	if _, err := f.svc.DismissObjection(ctx, bureau, id, "1", "不成立", 0); err != nil {
		t.Fatal(err)
	}
	if n, _ := f.svc.Scan(ctx); n != 0 {
		t.Fatalf("the scanner closed a notice the bureau closes")
	}
	p = f.fire(t, bureau, id, workflow.TriggerEndNotice, workflow.Params{})
	if p.State != workflow.StateClosed || p.Resolution != workflow.ResolutionRectified {
		t.Fatalf("%s/%s", p.State, p.Resolution)
	}
	checkReplay(t, f.svc, id)
}

// TestPublicNotices: the public sees exactly the notice's fields and the
// photos the bureau marked public, of problems in notice or written off
// after one, and nothing of any other problem.
func TestPublicNotices(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	p := f.inNotice(t)
	f.closeOne(t, "fuliang") // closed without a notice (self-inspection)
	photo := p.Evidence[0].SHA256

	list, _, err := f.svc.PublicNotices(ctx, "", 0)
	if err != nil || len(list) != 1 {
		t.Fatalf("public notices: %+v, %v", list, err)
	}
	want := workflow.PublicNotice{ID: p.ID, Code: p.Code, Title: p.Title, County: "浮梁县", State: workflow.StateInNotice,
		Summary: "已清理砂堆，恢复河道", Statement: "同意销号", NoticeStart: p.Notice.Start, NoticeEnd: noticeEnd, Photos: []workflow.PublicPhoto{}}
	if !reflect.DeepEqual(list[0], want) {
		t.Fatalf("public notice\n%+v\nwant\n%+v", list[0], want)
	}
	if _, err := f.svc.PublicPhoto(ctx, p.ID, photo); workflow.ErrorCode(err) != workflow.CodeNotFound {
		t.Fatalf("a photo not marked public: %v", err)
	}
	// Only the bureau marks photos public, and only photos.
	if _, err := f.svc.SetEvidencePublic(ctx, inspector, p.ID, photo, true, 0); workflow.ErrorCode(err) != workflow.CodeForbidden {
		t.Fatalf("inspector marks public: %v", err)
	}
	if _, err := f.svc.SetEvidencePublic(ctx, bureau, p.ID, strings.Repeat("0", 64), true, 0); workflow.ErrorCode(err) != workflow.CodeNotFound {
		t.Fatalf("unknown evidence: %v", err)
	}
	if _, err := f.svc.SetEvidencePublic(ctx, bureau, p.ID, photo, true, 0); err != nil {
		t.Fatal(err)
	}
	list, _, _ = f.svc.PublicNotices(ctx, "", 0)
	if len(list[0].Photos) != 1 || list[0].Photos[0].SHA256 != photo {
		t.Fatalf("photos %+v", list[0].Photos)
	}
	if e, err := f.svc.PublicPhoto(ctx, p.ID, photo); err != nil || e.SHA256 != photo {
		t.Fatalf("public photo: %v", err)
	}
	// Written off after the notice: still public, as closed.
	f.clock.Set(noticeEnd.Add(time.Second))
	if _, err := f.svc.Scan(ctx); err != nil {
		t.Fatal(err)
	}
	list, _, _ = f.svc.PublicNotices(ctx, "", 0)
	if len(list) != 1 || list[0].State != workflow.StateClosed {
		t.Fatalf("after the write-off: %+v", list)
	}
	if _, err := f.svc.SetEvidencePublic(ctx, bureau, p.ID, photo, false, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.PublicPhoto(ctx, p.ID, photo); workflow.ErrorCode(err) != workflow.CodeNotFound {
		t.Fatalf("a photo no longer public: %v", err)
	}
	checkReplay(t, f.svc, p.ID)
}

func TestNoticePolicyRefusals(t *testing.T) {
	for _, np := range []workflow.NoticePolicy{
		{Sources: []workflow.Source{"nowhere"}, Days: 5, By: workflow.RoleSystem},
		{Days: 0, By: workflow.RoleSystem},
		{Days: workflow.MaxNoticeDays + 1, By: workflow.RoleSystem},
		{Days: 5, By: workflow.RoleInspector},
	} {
		if err := np.Validate(); workflow.ErrorCode(err) != workflow.CodeInvalid {
			t.Errorf("%+v: %v", np, err)
		}
	}
}
