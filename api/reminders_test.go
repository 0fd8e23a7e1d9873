package api_test

import (
	"strings"
	"testing"

	"github.com/jdz-eco/rectify/workflow/notify"
)

// TestRemindersAPI: an admin sets a unit's robots and a user's e-mail
// address; malformed, plain-http and private addresses are 400 with their
// reasons and change nothing; secrets and tokens are never shown back; the
// delivery log is admins' only.
func TestRemindersAPI(t *testing.T) {
	v := newEnv(t)
	v.svc.SetAddressCheck(notify.Guard{}.AddressCheck())
	for _, c := range []struct {
		body   map[string]any
		reason string
	}{
		{map[string]any{"dingtalk_url": "oapi.dingtalk.com/robot/send"}, "bad_webhook_url"},
		{map[string]any{"dingtalk_url": "http://93.184.216.34/robot/send?access_token=t"}, "bad_webhook_url"},
		{map[string]any{"wecom_url": "https://127.0.0.1/cgi-bin/webhook/send?key=k"}, "private_address"},
		{map[string]any{"wecom_url": "https://169.254.169.254/latest/meta-data/"}, "private_address"},
		{map[string]any{"wecom_url": "https://100.100.100.200/latest/meta-data/"}, "private_address"},
		{map[string]any{"dingtalk_secret": "SECabc"}, "secret_without_url"},
	} {
		p := v.fails(v.do("PUT", "/api/v1/units/fuliang/contact", "admin", c.body), 400, "invalid")
		if p.Reason != c.reason {
			t.Errorf("%v: reason %q, want %s", c.body, p.Reason, c.reason)
		}
	}
	v.fails(v.do("PUT", "/api/v1/units/fuliang/contact", "bureau", map[string]any{"wecom_url": ""}), 403, "forbidden")
	v.fails(v.do("PUT", "/api/v1/units/nowhere/contact", "admin", map[string]any{"wecom_url": ""}), 404, "not_found")
	if p := v.fails(v.do("PUT", "/api/v1/users/"+v.users["fuliang"].ID+"/email", "admin", map[string]any{"email": "张三 <zs@jdz.gov.cn>"}), 400, "invalid"); p.Reason != "bad_email" {
		t.Errorf("reason %q", p.Reason)
	}
	if got := v.ok(v.do("GET", "/api/v1/admin/contacts", "admin", nil), 200); len(got["items"].([]any)) != 0 {
		t.Fatalf("refusals changed the contacts: %v", got)
	}

	body := v.ok(v.do("PUT", "/api/v1/units/fuliang/contact", "admin", map[string]any{
		"dingtalk_url": "https://93.184.216.34/robot/send?access_token=tok-secret", "dingtalk_secret": "SECsecret"}), 200)
	if body["dingtalk_url"] != "https://93.184.216.34/robot/send?…" || body["dingtalk_secret_set"] != true {
		t.Fatalf("contact = %v", body)
	}
	v.ok(v.do("PUT", "/api/v1/users/"+v.users["fuliang"].ID+"/email", "admin", map[string]any{"email": "zs@jdz.gov.cn"}), 200)
	rec := v.do("GET", "/api/v1/admin/contacts", "admin", nil)
	if s := rec.Body.String(); strings.Contains(s, "tok-secret") || strings.Contains(s, "SECsecret") || !strings.Contains(s, "zs@jdz.gov.cn") {
		t.Fatalf("contacts show a secret or lack the address: %s", s)
	}
	v.fails(v.do("GET", "/api/v1/admin/contacts", "bureau", nil), 403, "forbidden")

	v.assigned()
	log := v.ok(v.do("GET", "/api/v1/admin/deliveries?limit=10", "admin", nil), 200)
	if items := log["items"].([]any); len(items) != 0 {
		t.Fatalf("the API queues nothing itself (the leader's sender does): %v", items)
	}
	v.fails(v.do("GET", "/api/v1/admin/deliveries?limit=0", "admin", nil), 400, "invalid")
	v.fails(v.do("GET", "/api/v1/admin/deliveries?limit=501", "admin", nil), 400, "invalid")
	v.fails(v.do("GET", "/api/v1/admin/deliveries", "fuliang", nil), 403, "forbidden")
}
