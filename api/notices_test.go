package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/jdz-eco/rectify/api"
	"github.com/jdz-eco/rectify/workflow"
)

// inNotice sets the default notice policy and takes a new warning-film
// problem of 浮梁县 through to close, with an after photo and a document:
// it is then in public notice. It returns the problem and the photo's hash.
func (v *env) inNotice() (*workflow.Problem, string) {
	v.t.Helper()
	ctx := context.Background()
	if err := v.svc.SetNoticePolicy(workflow.DefaultNoticePolicy()); err != nil {
		v.t.Fatal(err)
	}
	b, l, insp := v.users["bureau"].Actor(), v.users["fuliang"].Actor(), v.users["inspector"].Actor()
	p, _, err := v.svc.CreateProblem(ctx, b, workflow.NewProblem{Title: "警示片：河道采砂", Description: "内部描述，不公开", Source: workflow.SourceWarningFilm, CountyID: "fuliang"})
	if err != nil {
		v.t.Fatal(err)
	}
	fire := func(a workflow.Actor, t workflow.Trigger, prm workflow.Params) {
		v.t.Helper()
		if _, err := v.svc.Fire(ctx, a, p.ID, workflow.Command{Trigger: t, Params: prm}); err != nil {
			v.t.Fatalf("%s: %v", t, err)
		}
	}
	d := t0.AddDate(0, 3, 0)
	fire(b, workflow.TriggerAssign, workflow.Params{LeadUnit: "fuliang", Deadline: &d})
	fire(l, workflow.TriggerAccept, workflow.Params{Plan: "内部方案"})
	var photo string
	for i, f := range []struct{ name, typ string }{{"整改后.png", "image/png"}, {"报告.pdf", "application/pdf"}} {
		data := append(pngBytes(byte(40+i)), 'x')
		sha, size, err := v.blobs.Put(ctx, bytes.NewReader(data), 1<<20)
		if err != nil {
			v.t.Fatal(err)
		}
		if i == 0 {
			photo = sha
		}
		if _, err := v.svc.AddEvidence(ctx, l, p.ID, workflow.EvidenceInput{SHA256: sha, Name: f.name, Size: size, Type: f.typ, Phase: workflow.PhaseAfter}, 0); err != nil {
			v.t.Fatal(err)
		}
	}
	if _, err := v.svc.AddNote(ctx, l, p.ID, "内部进展", 0); err != nil {
		v.t.Fatal(err)
	}
	fire(l, workflow.TriggerSubmit, workflow.Params{Summary: "已清理砂堆"})
	fire(insp, workflow.TriggerVerify, workflow.Params{Opinion: "内部验收意见"})
	fire(b, workflow.TriggerClose, workflow.Params{Statement: "同意销号"})
	p, _ = v.svc.Problem(ctx, b, p.ID)
	if p.State != workflow.StateInNotice {
		v.t.Fatalf("state %s", p.State)
	}
	return p, photo
}

// TestPublicNoticeFields: the public list has exactly the allowed fields,
// only photos marked public, and nothing of a problem not in notice.
func TestPublicNoticeFields(t *testing.T) {
	v := newEnv(t)
	p, photo := v.inNotice()
	other := v.create("bureau") // not in notice: never public

	m := v.ok(v.do("GET", "/api/v1/public/notices", "", nil), 200)
	head, err := v.svc.PublicHead(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if m["audit_head"] != head.String() || head.Seq == 0 {
		t.Fatalf("audit_head %v, want %s", m["audit_head"], head)
	}
	notices := m["notices"].([]any)
	if len(notices) != 1 {
		t.Fatalf("%d notices, want 1: %v", len(notices), notices)
	}
	n := notices[0].(map[string]any)
	var keys []string
	for k := range n {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	want := []string{"code", "county", "id", "notice_end", "notice_start", "photos", "state", "statement", "summary", "title"}
	if !slices.Equal(keys, want) {
		t.Fatalf("fields %v, want exactly %v", keys, want)
	}
	if n["county"] != "浮梁县" || n["summary"] != "已清理砂堆" || n["statement"] != "同意销号" || n["state"] != "in_notice" || n["code"] != p.Code {
		t.Fatalf("notice %v", n)
	}
	if len(n["photos"].([]any)) != 0 {
		t.Fatalf("photos before any was marked public: %v", n["photos"])
	}
	body := v.do("GET", "/api/v1/public/notices", "", nil).Body.String()
	for _, secret := range []string{"局办", "浮梁县干部", "验收员", "内部", "u-", ".pdf", v.users["bureau"].ID} {
		if strings.Contains(body, secret) {
			t.Errorf("the public list leaks %q: %s", secret, body)
		}
	}
	photoURL := api.PublicPhotoURL(p.ID, photo)
	v.fails(v.do("GET", photoURL, "", nil), 404, "not_found")

	// The bureau marks the photo public; a document cannot be.
	doc := p.Evidence[1].SHA256
	v.fails(v.do("PUT", "/api/v1/problems/"+p.ID+"/evidence/"+doc+"/public", "bureau", `{"public":true}`), 400, "invalid")
	v.fails(v.do("PUT", "/api/v1/problems/"+p.ID+"/evidence/"+photo+"/public", "inspector", `{"public":true}`), 403, "forbidden")
	v.fails(v.do("PUT", "/api/v1/problems/"+p.ID+"/evidence/"+photo+"/public", "bureau", `{}`), 400, "invalid")
	v.ok(v.do("PUT", "/api/v1/problems/"+p.ID+"/evidence/"+photo+"/public", "bureau", `{"public":true}`), 200)
	m = v.ok(v.do("GET", "/api/v1/public/notices", "", nil), 200)
	photos := m["notices"].([]any)[0].(map[string]any)["photos"].([]any)
	if len(photos) != 1 || photos[0].(map[string]any)["url"] != photoURL {
		t.Fatalf("photos %v", photos)
	}
	if rec := v.do("GET", photoURL, "", nil); rec.Code != 200 || rec.Header().Get("Content-Type") != "image/png" {
		t.Fatalf("public photo: %d %s", rec.Code, rec.Header().Get("Content-Type"))
	}
	// Nothing else through the public routes: the document, another
	// problem's id, a malformed hash.
	v.fails(v.do("GET", api.PublicPhotoURL(p.ID, doc), "", nil), 404, "not_found")
	v.fails(v.do("GET", api.PublicPhotoURL(other, photo), "", nil), 404, "not_found")
	v.fails(v.do("GET", api.PublicPhotoURL(p.ID, "../../evidence"), "", nil), 404, "not_found")
}

// TestObjectionsLimitedAndHoneypot: objections are limited per client
// address (the proxy's client from the configured trusted proxies only),
// a filled honeypot files nothing, bad objections change nothing.
func TestObjectionsLimitedAndHoneypot(t *testing.T) {
	_, proxy, _ := net.ParseCIDR("10.0.0.1/32")
	v := newEnvWith(t, api.Config{TrustedProxies: []*net.IPNet{proxy}})
	p, _ := v.inNotice()
	path := "/api/v1/public/notices/" + p.ID + "/objections"
	post := func(peer, xff, body string) *httptest.ResponseRecorder {
		t.Helper()
		req := httptest.NewRequest("POST", path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.RemoteAddr = peer + ":1234"
		if xff != "" {
			req.Header.Set("X-Forwarded-For", xff)
		}
		rec := httptest.NewRecorder()
		v.e.ServeHTTP(rec, req)
		checkContract(t, req, rec)
		return rec
	}
	count := func() int {
		q, _ := v.svc.Problem(context.Background(), v.users["bureau"].Actor(), p.ID)
		return len(q.Objections)
	}

	// Refused and not recorded: empty, too long, unknown fields, not in notice.
	for _, body := range []string{`{"text":""}`, `{"text":"` + strings.Repeat("长", workflow.MaxObjectionText+1) + `"}`, `{"text":"x","admin":true}`} {
		if rec := post("192.0.2.7", "", body); rec.Code != 400 {
			t.Errorf("%.30s: %d, want 400", body, rec.Code)
		}
	}
	if rec := post("192.0.2.7", "", `{"text":"`+strings.Repeat("x", 20<<10)+`"}`); rec.Code != 413 {
		t.Errorf("a 20 KiB body: %d, want 413", rec.Code)
	}
	other := v.create("bureau")
	v.fails(v.do("POST", "/api/v1/public/notices/"+other+"/objections", "", `{"text":"x"}`), 404, "not_found")
	if count() != 0 {
		t.Fatalf("refused objections were recorded: %d", count())
	}

	// The honeypot: the same answer, nothing filed.
	rec := post("192.0.2.8", "", `{"text":"广告","website":"http://spam.example"}`)
	if rec.Code != 202 || count() != 0 {
		t.Fatalf("honeypot: %d, %d objections", rec.Code, count())
	}

	// The limit: 10 an hour per client; the client behind the trusted
	// proxy is the address the proxy names, a header from anyone else is
	// ignored.
	for i := range api.DefaultObjectionsPerHour {
		if rec := post("10.0.0.1", "198.51.100.1", `{"text":"异议"}`); rec.Code != 202 {
			t.Fatalf("objection %d: %d %s", i+1, rec.Code, rec.Body)
		}
	}
	rec = post("10.0.0.1", "198.51.100.1", `{"text":"异议"}`)
	if rec.Code != 429 || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("over the limit: %d %s", rec.Code, rec.Body)
	}
	var pb problemBody
	_ = json.Unmarshal(rec.Body.Bytes(), &pb)
	if pb.Reason != "rate_limited" {
		t.Fatalf("reason %q", pb.Reason)
	}
	if rec := post("10.0.0.1", "198.51.100.2", `{"text":"另一位"}`); rec.Code != 202 {
		t.Fatalf("another client behind the proxy: %d", rec.Code)
	}
	// 192.0.2.9 is no proxy: its X-Forwarded-For does not make it another client.
	for i := range api.DefaultObjectionsPerHour {
		post("192.0.2.9", "203.0.113."+string(rune('0'+i)), `{"text":"异议"}`)
	}
	if rec := post("192.0.2.9", "203.0.113.99", `{"text":"异议"}`); rec.Code != 429 {
		t.Fatalf("a forged X-Forwarded-For escaped the limit: %d", rec.Code)
	}
	if got := count(); got != 2*api.DefaultObjectionsPerHour+1 {
		t.Fatalf("%d objections recorded, want %d", got, 2*api.DefaultObjectionsPerHour+1)
	}
	// An hour later the client may object again.
	v.clock.Advance(61 * 60e9)
	if rec := post("10.0.0.1", "198.51.100.1", `{"text":"异议"}`); rec.Code != 202 {
		t.Fatalf("after an hour: %d", rec.Code)
	}

	// The bureau's queue, a dismissal and an uphold.
	m := v.ok(v.do("GET", "/api/v1/objections", "bureau", nil), 200)
	if items := m["items"].([]any); len(items) != count() {
		t.Fatalf("queue of %d, want %d", len(items), count())
	}
	v.fails(v.do("GET", "/api/v1/objections", "viewer", nil), 403, "forbidden")
	v.fails(v.do("POST", "/api/v1/problems/"+p.ID+"/objections/1/dismissal", "bureau", `{"reason":""}`), 400, "invalid")
	v.ok(v.do("POST", "/api/v1/problems/"+p.ID+"/objections/1/dismissal", "bureau", `{"reason":"经核实不成立"}`), 200)
	v.fails(v.do("POST", "/api/v1/problems/"+p.ID+"/objections/1/dismissal", "bureau", `{"reason":"再次"}`), 409, "conflict")
	up := v.ok(v.do("POST", "/api/v1/problems/"+p.ID+"/transitions", "bureau", `{"trigger":"uphold_objection","objection_id":"2","deadline":"2022-06-30"}`), 200)
	if up["state"] != "rectifying" {
		t.Fatalf("after the uphold: %v", up["state"])
	}
	if rec := post("192.0.2.10", "", `{"text":"x"}`); rec.Code != 404 {
		t.Fatalf("objection after the uphold: %d", rec.Code)
	}
}

// TestObjectorHiddenFromUnits: the bureau reads who objected; the unit
// the objection is about reads the objection without name and contact, on
// the problem, in its history and in the events.
func TestObjectorHiddenFromUnits(t *testing.T) {
	v := newEnv(t)
	p, _ := v.inNotice()
	if _, err := v.svc.FileObjection(context.Background(), p.ID, workflow.ObjectionInput{Text: "砂堆仍在", Name: "李四", Contact: "13900000000"}); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/api/v1/problems/" + p.ID, "/api/v1/problems/" + p.ID + "/history", "/api/v1/events?limit=1000"} {
		body := v.do("GET", path, "bureau", nil).Body.String()
		if !strings.Contains(body, "李四") || !strings.Contains(body, "13900000000") {
			t.Errorf("bureau, %s: no objector", path)
		}
		body = v.do("GET", path, "fuliang", nil).Body.String()
		if !strings.Contains(body, "砂堆仍在") || strings.Contains(body, "李四") || strings.Contains(body, "13900000000") {
			t.Errorf("unit officer, %s: %s", path, body)
		}
	}
}

// TestPublicNoticePages: the public list comes in pages with next_cursor,
// each notice once; a bad limit or cursor is a 400 that names it.
func TestPublicNoticePages(t *testing.T) {
	v := newEnv(t)
	var want []string
	for range 3 {
		p, _ := v.inNotice()
		want = append(want, p.ID)
	}
	var got []string
	cursor, pages := "", 0
	for {
		path := "/api/v1/public/notices?limit=2"
		if cursor != "" {
			path += "&cursor=" + url.QueryEscape(cursor)
		}
		m := v.ok(v.do("GET", path, "", nil), 200)
		pages++
		for _, n := range m["notices"].([]any) {
			got = append(got, n.(map[string]any)["id"].(string))
		}
		if cursor = m["next_cursor"].(string); cursor == "" {
			break
		}
	}
	if !slices.Equal(got, want) || pages != 2 {
		t.Fatalf("%d pages list %v, want %v in 2", pages, got, want)
	}
	for q, field := range map[string]string{"limit=0": "limit", "limit=501": "limit", "limit=x": "limit", "cursor=zz": "cursor", "page=2": "page"} {
		if e := v.fails(v.do("GET", "/api/v1/public/notices?"+q, "", nil), 400, "invalid"); e.Field != field {
			t.Errorf("%s: field %q, want %s", q, e.Field, field)
		}
	}
}
