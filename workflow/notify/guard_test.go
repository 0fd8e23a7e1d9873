package notify_test

import (
	"context"
	"net/netip"
	"strings"
	"testing"

	"github.com/jdz-eco/rectify/workflow"
	"github.com/jdz-eco/rectify/workflow/notify"
)

// TestCheckURL: robot URLs set through the API must be https and never
// lead to this machine, its network or a cloud's metadata service.
func TestCheckURL(t *testing.T) {
	ctx := context.Background()
	strict := notify.Guard{}
	for _, tc := range []struct {
		url    string
		reason workflow.Reason
	}{
		{"http://93.184.216.34/robot/send?access_token=x", workflow.ReasonBadWebhookURL},
		{"ftp://93.184.216.34/x", workflow.ReasonBadWebhookURL},
		{"https://", workflow.ReasonBadWebhookURL},
		{"oapi.dingtalk.com/robot/send", workflow.ReasonBadWebhookURL},
		{"https://user:pw@93.184.216.34/x", workflow.ReasonBadWebhookURL},
		{"https://93.184.216.34/x#frag", workflow.ReasonBadWebhookURL},
		{"https://93.184.216.34/a b", workflow.ReasonBadWebhookURL},
		{"https://127.0.0.1/robot", workflow.ReasonPrivateAddress},
		{"https://127.8.9.10:8443/robot", workflow.ReasonPrivateAddress},
		{"https://[::1]/robot", workflow.ReasonPrivateAddress},
		{"https://localhost/robot", workflow.ReasonPrivateAddress},
		{"https://api.localhost./robot", workflow.ReasonPrivateAddress},
		{"https://169.254.169.254/latest/meta-data", workflow.ReasonPrivateAddress},
		{"https://100.100.100.200/latest/meta-data", workflow.ReasonPrivateAddress},
		{"https://[fd00:ec2::254]/latest", workflow.ReasonPrivateAddress},
		{"https://10.1.2.3/robot", workflow.ReasonPrivateAddress},
		{"https://172.16.0.1/robot", workflow.ReasonPrivateAddress},
		{"https://192.168.1.1/robot", workflow.ReasonPrivateAddress},
		{"https://0.0.0.0/robot", workflow.ReasonPrivateAddress},
		{"https://[::ffff:127.0.0.1]/robot", workflow.ReasonPrivateAddress},
		{"https://[fe80::1]/robot", workflow.ReasonPrivateAddress},
	} {
		if got := workflow.ErrorReason(strict.CheckURL(ctx, tc.url)); got != tc.reason {
			t.Errorf("%s: reason %q, want %q", tc.url, got, tc.reason)
		}
	}
	if err := strict.CheckURL(ctx, "https://93.184.216.34/robot/send?access_token=x"); err != nil {
		t.Errorf("a public https URL: %v", err)
	}
	if err := (notify.Guard{AllowHTTP: true}).CheckURL(ctx, "http://93.184.216.34/x"); err != nil {
		t.Errorf("http with AllowHTTP: %v", err)
	}
	if err := (notify.Guard{AllowHTTP: true}).CheckURL(ctx, "http://127.0.0.1/x"); workflow.ErrorReason(err) != workflow.ReasonPrivateAddress {
		t.Errorf("AllowHTTP does not allow loopback: %v", err)
	}
	if err := (notify.Guard{AllowPrivate: true}).CheckURL(ctx, "https://10.1.2.3/x"); err != nil {
		t.Errorf("a private address with AllowPrivate: %v", err)
	}
	for _, ip := range []string{"8.8.8.8", "2400:3200::1", "59.52.1.1"} {
		if notify.Blocked(netip.MustParseAddr(ip)) {
			t.Errorf("%s is public", ip)
		}
	}
}

func TestCheckEmail(t *testing.T) {
	for _, ok := range []string{"alice@example.cn", "li.si+rectify@jdz.gov.cn"} {
		if err := notify.CheckEmail(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "alice", "alice@", "@example.cn", "Alice <alice@example.cn>", "a@b", "alice@example.cn, bob@example.cn", "alice@exa mple.cn"} {
		if workflow.ErrorReason(notify.CheckEmail(bad)) != workflow.ReasonBadEmail {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestDeliveryGuard: a robot URL that leads to a loopback address at
// delivery (here stored directly, as one whose name resolved elsewhere
// when it was set would) is refused by the dialer: nothing reaches the
// receiver, the notice stays pending with the reason logged.
func TestDeliveryGuard(t *testing.T) {
	f := newFixture(t, 0)
	f.guard = notify.Guard{AllowHTTP: true} // private addresses not allowed
	f.restart()
	rs := workflow.Store(f.st).(workflow.Reminders)
	ctx := context.Background()
	c := workflow.Contact{Key: workflow.ContactKeyUnit("fuliang"), WeComURL: f.wecom.srv.URL + "/cgi-bin/webhook/send?key=k-123",
		DingTalkURL: strings.Replace(f.ding.srv.URL, "127.0.0.1", "localhost", 1) + "/robot/send?access_token=tok", DingTalkSecret: dingSecret}
	if err := rs.PutContact(ctx, c); err != nil {
		t.Fatal(err)
	}
	f.assigned("非法排污", "2027-03-31")
	f.run()
	if n := len(f.ding.texts()) + len(f.wecom.texts()); n != 0 {
		t.Fatalf("%d robot messages reached a loopback receiver", n)
	}
	robots := 0
	for _, n := range f.log() {
		if n.Channel == workflow.ChannelEmail {
			continue // the mail server is the operator's, not a URL an admin set
		}
		robots++
		if n.State != workflow.NoticePending || !strings.Contains(n.LastError, "loopback, link-local, private or metadata") {
			t.Errorf("%s notice: %s, %q; want pending, refused by the guard", n.Channel, n.State, n.LastError)
		}
	}
	if robots != 2 {
		t.Fatalf("%d robot notices", robots)
	}
}

// TestSetContactRefusals: only admins set contacts; a malformed URL or
// address, a private one, a secret without its robot, an unknown unit or
// user are refused and change nothing; secrets are never shown back.
func TestSetContactRefusals(t *testing.T) {
	f := newFixture(t, 0)
	f.guard = notify.Guard{}
	f.restart()
	ctx := context.Background()
	before, err := f.svc.Contacts(ctx, admin)
	if err != nil {
		t.Fatal(err)
	}
	s := func(v string) *string { return &v }
	for _, tc := range []struct {
		a      workflow.Actor
		unit   string
		in     workflow.UnitContactInput
		reason workflow.Reason
		field  string
	}{
		{bureau, "fuliang", workflow.UnitContactInput{WeComURL: s("https://93.184.216.34/x")}, workflow.ReasonRole, ""},
		{admin, "nowhere", workflow.UnitContactInput{WeComURL: s("https://93.184.216.34/x")}, workflow.ReasonUnitNotFound, ""},
		{admin, "fuliang", workflow.UnitContactInput{WeComURL: s("qyapi.weixin.qq.com/cgi-bin/webhook/send")}, workflow.ReasonBadWebhookURL, "wecom_url"},
		{admin, "fuliang", workflow.UnitContactInput{DingTalkURL: s("http://93.184.216.34/robot/send")}, workflow.ReasonBadWebhookURL, "dingtalk_url"},
		{admin, "fuliang", workflow.UnitContactInput{DingTalkURL: s("https://169.254.169.254/latest")}, workflow.ReasonPrivateAddress, "dingtalk_url"},
		{admin, "leping", workflow.UnitContactInput{DingTalkSecret: s("SECxyz")}, workflow.ReasonSecretWithoutURL, "dingtalk_secret"},
		{admin, "leping", workflow.UnitContactInput{DingTalkURL: s("https://93.184.216.34/x"), DingTalkSecret: s("bad secret\n")}, workflow.ReasonMalformed, "dingtalk_secret"},
	} {
		_, err := f.svc.SetUnitContact(ctx, tc.a, tc.unit, tc.in)
		if workflow.ErrorReason(err) != tc.reason {
			t.Errorf("%+v: %v, want reason %s", tc.in, err, tc.reason)
			continue
		}
		var e *workflow.Error
		if tc.field != "" && (!asError(err, &e) || e.Field != tc.field) {
			t.Errorf("%+v: field of %v, want %s", tc.in, err, tc.field)
		}
	}
	for _, tc := range []struct {
		a      workflow.Actor
		user   string
		email  string
		reason workflow.Reason
	}{
		{bureau, "u-x", "a@example.cn", workflow.ReasonRole},
		{admin, "nobody", "a@example.cn", workflow.ReasonUserNotFound},
	} {
		if _, err := f.svc.SetUserEmail(ctx, tc.a, tc.user, tc.email); workflow.ErrorReason(err) != tc.reason {
			t.Errorf("email %s for %s: %v, want %s", tc.email, tc.user, err, tc.reason)
		}
	}
	users, _ := f.st.Users(ctx)
	if _, err := f.svc.SetUserEmail(ctx, admin, users[0].ID, "not an address"); workflow.ErrorReason(err) != workflow.ReasonBadEmail {
		t.Errorf("a bad address: %v", err)
	}
	after, err := f.svc.Contacts(ctx, admin)
	if err != nil || len(after) != len(before) {
		t.Fatalf("contacts changed: %+v -> %+v (%v)", before, after, err)
	}
	for i := range after {
		if after[i] != before[i] {
			t.Errorf("contact changed: %+v -> %+v", before[i], after[i])
		}
	}
	for _, c := range after {
		if c.Key == workflow.ContactKeyUnit("fuliang") {
			if !c.DingTalkSecretSet || strings.Contains(c.DingTalkURL, "tok") || strings.Contains(c.WeComURL, "k-123") {
				t.Errorf("the view shows a secret or token: %+v", c)
			}
		}
	}
	if _, err := f.svc.Contacts(ctx, bureau); workflow.ErrorReason(err) != workflow.ReasonRole {
		t.Errorf("bureau reads contacts: %v", err)
	}
	if _, err := f.svc.Deliveries(ctx, bureau, 10); workflow.ErrorReason(err) != workflow.ReasonRole {
		t.Errorf("bureau reads the delivery log: %v", err)
	}
}
