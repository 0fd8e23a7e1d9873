package notify_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jdz-eco/rectify/workflow"
	"github.com/jdz-eco/rectify/workflow/notify"
)

// TestAssignmentSentAtOnce: an assignment reaches the unit's DingTalk and
// WeCom robots and its officer's mailbox, each once, in their formats,
// however often the jobs run and across a restart.
func TestAssignmentSentAtOnce(t *testing.T) {
	f := newFixture(t, 0)
	p := f.assigned("昌江河道非法采砂", "2027-03-31")
	f.run()
	f.run()
	f.restart()
	f.run()
	for _, r := range []*robot{f.ding, f.wecom} {
		texts := r.texts()
		if len(texts) != 1 || !strings.Contains(texts[0], p.Code) || !strings.Contains(texts[0], "新交办问题") ||
			!strings.Contains(texts[0], "2027-03-31") || !strings.Contains(texts[0], "按期完成整改") {
			t.Fatalf("%s got %q, want one assignment of %s", r.kind, texts, p.Code)
		}
	}
	msgs := f.box.messages()
	if len(msgs) != 1 || msgs[0].to[0] != "alice@example.cn" || msgs[0].from != "rectify@jdz.gov.cn" {
		t.Fatalf("mail = %+v", msgs)
	}
	subject, body := parseMail(t, msgs[0].data)
	if subject != "【整改提醒】新交办问题 "+p.Code || !strings.Contains(body, "昌江河道非法采砂 已交办贵单位牵头整改") {
		t.Fatalf("mail subject %q, body %q", subject, body)
	}
	log := f.log()
	if len(log) != 3 {
		t.Fatalf("delivery log has %d notices, want 3: %+v", len(log), log)
	}
	for _, n := range log {
		if n.State != workflow.NoticeSent || n.Attempts != 1 || n.Kind != workflow.NoticeAssigned || n.ProblemID != p.ID || n.SentAt == nil {
			t.Errorf("notice %+v: want sent at the first attempt", n)
		}
	}
}

// TestEventMessages: a rejection and an extension decision are told to
// the lead unit; other entries send nothing.
func TestEventMessages(t *testing.T) {
	f := newFixture(t, 0)
	p := f.assigned("尾矿库渗漏", "2027-03-31")
	ctx := context.Background()
	for _, tc := range []struct {
		e    workflow.Entry
		want []string
	}{
		{workflow.Entry{ProblemID: p.ID, Action: string(workflow.TriggerReject), Params: workflow.Params{Reason: "照片与现场不符"}}, []string{"整改被退回", p.Code, "照片与现场不符"}},
		{workflow.Entry{ProblemID: p.ID, Action: workflow.ActionExtensionDecision, Params: workflow.Params{Decision: "deny"}}, []string{"延期申请未获批准"}},
		{workflow.Entry{ProblemID: p.ID, Action: workflow.ActionNote}, nil},
		{workflow.Entry{ProblemID: p.ID, Action: string(workflow.TriggerAccept)}, nil},
	} {
		ms, err := f.svc.EventMessages(ctx, workflow.Event{Seq: 99, Entry: tc.e})
		if err != nil {
			t.Fatal(err)
		}
		if tc.want == nil {
			if len(ms) != 0 {
				t.Errorf("%s sends %+v, want nothing", tc.e.Action, ms)
			}
			continue
		}
		if len(ms) != 1 || ms[0].Unit != "fuliang" {
			t.Fatalf("%s: %+v, want one message to fuliang", tc.e.Action, ms)
		}
		for _, w := range tc.want {
			if !strings.Contains(ms[0].Text, w) && !strings.Contains(ms[0].Title, w) {
				t.Errorf("%s: %q lacks %q", tc.e.Action, ms[0].Text, w)
			}
		}
	}
}

// TestExtensionDecisionSent: a real extension request decided by the
// bureau reaches the lead unit at once with the decision and the new
// deadline.
func TestExtensionDecisionSent(t *testing.T) {
	f := newFixture(t, 0)
	p := f.assigned("尾矿库渗漏", "2027-03-31")
	f.run()
	ctx := context.Background()
	officer := workflow.Actor{ID: "u-fl", Name: "浮梁县干部", Role: workflow.RoleUnit, UnitID: "fuliang"}
	later, _ := workflow.ParseDeadline("2027-06-30")
	p, err := f.svc.RequestExtension(ctx, officer, p.ID, workflow.ExtensionRequest{Deadline: later, Reason: "雨季施工受限"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.DecideExtension(ctx, bureau, p.ID, p.Extensions[0].ID, "approve", "同意延期三个月", 0); err != nil {
		t.Fatal(err)
	}
	f.run()
	texts := f.wecom.texts()
	if len(texts) != 2 || !strings.Contains(texts[1], "延期申请已获批准") || !strings.Contains(texts[1], "2027-06-30") ||
		!strings.Contains(texts[1], "同意延期三个月") {
		t.Fatalf("WeCom got %q; want the assignment, then the approval with the new deadline", texts)
	}
}

// TestDigestContent: the digest of a fixture lists the overdue and the
// due-soon problems and the round report owed, and nothing else; a unit
// nothing concerns gets none.
func TestDigestContent(t *testing.T) {
	f := newFixture(t, 0)
	ctx := context.Background()
	f.clock.Set(thursday.AddDate(0, 0, -30))
	late := f.assigned("废水直排昌江", "2026-11-23") // 10 days overdue on thursday
	f.clock.Set(thursday)
	soon := f.assigned("扬尘污染", "2026-12-06") // 3 days left
	f.assigned("远期整改项目", "2027-06-30")       // not due
	r, _, err := f.svc.OpenRound(ctx, bureau, workflow.NewRound{Title: "2026年11月整改进展调度", Period: "2026年11月",
		Due: thursday.Add(48 * time.Hour), Scope: workflow.RoundScope{LeadUnits: []string{"fuliang"}}})
	if err != nil {
		t.Fatal(err)
	}
	fuliang, _ := f.svc.Unit(ctx, "fuliang")
	m, ok, err := f.svc.Digest(ctx, fuliang, thursday.Add(time.Hour))
	if err != nil || !ok {
		t.Fatalf("digest: %v, %v", ok, err)
	}
	want := "## 浮梁县 每日提醒（2026-12-03）\n" +
		"\n### 整改期限\n\n" +
		"**逾期未完成（1 项）**\n" +
		"- **" + late.Code + "** 废水直排昌江，期限 2026-11-23（已逾期 10 天）\n" +
		"**即将到期（1 项）**\n" +
		"- **" + soon.Code + "** 扬尘污染，期限 2026-12-06（剩 3 天）\n" +
		"\n### 调度报送\n\n" +
		"- 「" + r.Title + "」尚有 3 项未报送（截止 2026-12-05 08:00）\n"
	if m.Text != want {
		t.Fatalf("digest:\n%s\nwant:\n%s", m.Text, want)
	}
	if m.Title != "每日提醒 2026-12-03" || m.Kind != workflow.NoticeDigest {
		t.Errorf("title %q kind %q", m.Title, m.Kind)
	}
	leping, _ := f.svc.Unit(ctx, "leping")
	if m, ok, err := f.svc.Digest(ctx, leping, thursday); err != nil || ok {
		t.Fatalf("leping's digest = %q, %v, %v; want none", m.Text, ok, err)
	}
}

// TestDigestOncePerWorkingDay: nothing before the configured time, one
// digest per channel after it however often the job runs (and after a
// restart), nothing on a weekend or a holiday, the next one the next
// working day.
func TestDigestOncePerWorkingDay(t *testing.T) {
	f := newFixture(t, 0)
	ctx := context.Background()
	f.clock.Set(thursday.AddDate(0, 0, -30))
	f.assigned("废水直排昌江", "2026-11-23")
	f.clock.Set(thursday) // 08:00: the assignment is a month old, so it is not sent now
	cal := `{"year":2026,"holidays":[{"name":"测试假日","from":"2026-12-07","to":"2026-12-07"}],"workdays":[]}`
	if _, err := f.svc.PutCalendar(ctx, admin, []byte(cal)); err != nil {
		t.Fatal(err)
	}
	f.run()
	if n := len(f.ding.texts()) + len(f.wecom.texts()) + len(f.box.messages()); n != 0 {
		t.Fatalf("%d messages before 08:30", n)
	}
	f.clock.Set(thursday.Add(45 * time.Minute)) // 08:45
	f.run()
	f.run()
	f.restart()
	f.run()
	if len(f.ding.texts()) != 1 || len(f.wecom.texts()) != 1 || len(f.box.messages()) != 1 {
		t.Fatalf("after 08:30 on a working day: %d, %d, %d messages; want one each", len(f.ding.texts()), len(f.wecom.texts()), len(f.box.messages()))
	}
	if !strings.Contains(f.ding.texts()[0], "浮梁县 每日提醒（2026-12-03）") {
		t.Fatalf("digest = %q", f.ding.texts()[0])
	}
	// Saturday, Sunday and Monday the 7th (a holiday by the calendar): none.
	for d := 2; d <= 4; d++ {
		f.clock.Set(thursday.AddDate(0, 0, d).Add(3 * time.Hour))
		f.run()
	}
	if got := len(f.ding.texts()); got != 1 {
		t.Fatalf("%d digests after a weekend and a holiday, want still 1", got)
	}
	f.clock.Set(thursday.AddDate(0, 0, 5).Add(3 * time.Hour)) // Tuesday the 8th
	f.run()
	texts := f.ding.texts()
	if len(texts) != 2 || !strings.Contains(texts[1], "2026-12-08") {
		t.Fatalf("the next working day's digest: %q", texts)
	}
}

// TestFailingMailServerRetried: an SMTP server that refuses three times is
// retried after a growing backoff until it accepts; the delivery log shows
// each failure and then the delivery; the mail arrives once.
func TestFailingMailServerRetried(t *testing.T) {
	f := newFixture(t, 3)
	p := f.assigned("畜禽养殖污染", "2027-03-31")
	mailNotice := func() workflow.Notice {
		for _, n := range f.log() {
			if n.Channel == workflow.ChannelEmail {
				return n
			}
		}
		t.Fatal("no e-mail notice")
		return workflow.Notice{}
	}
	waits := []time.Duration{time.Minute, 2 * time.Minute, 4 * time.Minute}
	for i, wait := range waits {
		f.run()
		n := mailNotice()
		if n.State != workflow.NoticePending || n.Attempts != i+1 || !strings.Contains(n.LastError, "451") ||
			!n.NextAt.Equal(f.clock.Now().Add(wait)) {
			t.Fatalf("after failure %d: %+v; want pending, retried in %v", i+1, n, wait)
		}
		f.run() // not due yet: not tried
		if f.box.attempts() != i+1 {
			t.Fatalf("tried %d times after failure %d", f.box.attempts(), i+1)
		}
		f.clock.Advance(wait)
	}
	f.run()
	n := mailNotice()
	if n.State != workflow.NoticeSent || n.Attempts != 4 || n.LastError != "" {
		t.Fatalf("after the server accepted: %+v", n)
	}
	msgs := f.box.messages()
	if _, body := parseMail(t, msgs[0].data); len(msgs) != 1 || !strings.Contains(body, p.Code+"** 畜禽养殖污染") {
		t.Fatalf("mail = %+v", msgs)
	}
}

// TestRemovedContactDropsNotice: a notice whose robot was removed before
// it could be sent is dropped, with the reason in the log.
func TestRemovedContactDropsNotice(t *testing.T) {
	f := newFixture(t, 0)
	f.assigned("秸秆焚烧", "2027-03-31")
	empty := ""
	if _, err := f.svc.SetUnitContact(context.Background(), admin, "fuliang", workflow.UnitContactInput{WeComURL: &empty}); err != nil {
		t.Fatal(err)
	}
	f.run()
	for _, n := range f.log() {
		want := workflow.NoticeSent
		if n.Channel == workflow.ChannelWeCom {
			want = workflow.NoticeDropped
		}
		if n.State != want {
			t.Errorf("%s notice %s, want %s (%s)", n.Channel, n.State, want, n.LastError)
		}
	}
	_ = notify.MaxEventAge
}

// TestOneAttemptPerFailingAddress: a mail server that keeps refusing costs
// one attempt per pass, not one per notice, while the robots get every
// notice (read in pages of two).
func TestOneAttemptPerFailingAddress(t *testing.T) {
	f := newFixture(t, 1000)
	f.batch = 2
	f.restart()
	for _, title := range []string{"问题甲", "问题乙", "问题丙"} {
		f.assigned(title, "2027-03-31")
	}
	f.run()
	if f.box.attempts() != 1 {
		t.Fatalf("%d attempts at the failing mail server in one pass, want 1", f.box.attempts())
	}
	if len(f.ding.texts()) != 3 || len(f.wecom.texts()) != 3 {
		t.Fatalf("robots got %d and %d messages, want 3 each", len(f.ding.texts()), len(f.wecom.texts()))
	}
	pending := 0
	for _, n := range f.log() {
		if n.State == workflow.NoticePending {
			pending++
		}
	}
	if pending != 3 {
		t.Fatalf("%d e-mails pending, want 3", pending)
	}
	f.clock.Advance(time.Minute)
	f.run()
	if f.box.attempts() != 2 {
		t.Fatalf("%d attempts after the second pass, want 2", f.box.attempts())
	}
}

// TestUnreachableAddressRests: an address that did not answer at all (here
// no connection; a robot that hangs costs a timeout) is not tried again,
// with another of its notices, in the passes of the next minute: the
// deliveries' runner passes every few seconds. One that answers with a
// failure (the mail server) costs one attempt a pass as before. After the
// minute the unreachable one is tried again.
func TestUnreachableAddressRests(t *testing.T) {
	f := newFixture(t, 1000)
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close()
	url := gone.URL + "/cgi-bin/webhook/send?key=k-123"
	if _, err := f.svc.SetUnitContact(context.Background(), admin, "fuliang", workflow.UnitContactInput{WeComURL: &url}); err != nil {
		t.Fatal(err)
	}
	for _, title := range []string{"问题甲", "问题乙", "问题丙"} {
		f.assigned(title, "2027-03-31")
	}
	wecomAttempts := func() (n int) {
		for _, d := range f.log() {
			if d.Channel == workflow.ChannelWeCom {
				n += d.Attempts
			}
		}
		return n
	}
	for range 3 {
		f.run()
	}
	if n := wecomAttempts(); n != 1 {
		t.Fatalf("%d attempts at the unreachable robot in three passes within a minute, want 1", n)
	}
	if f.box.attempts() != 3 || len(f.ding.texts()) != 3 {
		t.Fatalf("%d attempts at the refusing mail server in three passes (want 3), DingTalk got %d messages (want 3)", f.box.attempts(), len(f.ding.texts()))
	}
	f.clock.Advance(time.Minute)
	f.run()
	if n := wecomAttempts(); n != 2 {
		t.Fatalf("%d attempts at the unreachable robot after a minute, want 2", n)
	}
}
