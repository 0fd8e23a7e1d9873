package web_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"image"
	"image/color"
	"image/png"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jdz-eco/rectify/api"
	"github.com/jdz-eco/rectify/api/web"
	"github.com/jdz-eco/rectify/store/blob"
	"github.com/jdz-eco/rectify/store/bolt"
	"github.com/jdz-eco/rectify/workflow"
)

var t0 = time.Date(2021, 6, 24, 9, 0, 0, 0, time.UTC)

// cheap are argon2 parameters for tests: the hashes are real, only fast.
var cheap = web.Argon2Params{Memory: 64, Time: 1, Threads: 1}

// env is one server (API and pages) on a fresh bolt file, with a user per
// role, each with the password "pw-" + key.
type env struct {
	t      *testing.T
	srv    *httptest.Server
	svc    *workflow.Service
	clock  *workflow.ManualClock
	blobs  *blob.Store
	users  map[string]*workflow.User
	tokens map[string]string
}

// envOption is a func(*web.Config) or a func(*api.Config).
type envOption any

func newEnv(t *testing.T, opts ...envOption) *env {
	t.Helper()
	st, err := bolt.Open(t.TempDir()+"/rectify.db", bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	v := &env{t: t, clock: workflow.NewManualClock(t0), users: map[string]*workflow.User{}, tokens: map[string]string{}}
	v.svc = workflow.NewService(st, v.clock)
	if v.blobs, err = blob.Open(t.TempDir() + "/evidence"); err != nil {
		t.Fatal(err)
	}
	v.svc.SetBlobs(v.blobs)
	ctx := context.Background()
	if err := v.svc.PutUnits(ctx, []workflow.Unit{
		{ID: "jdz", Name: "景德镇市", Kind: workflow.UnitCity},
		{ID: "fuliang", Name: "浮梁县", Kind: workflow.UnitCounty, Parent: "jdz"},
		{ID: "leping", Name: "乐平市", Kind: workflow.UnitCounty, Parent: "jdz"},
		{ID: "city-eeb", Name: "市生态环境局", Kind: workflow.UnitDepartment},
		{ID: "city-water", Name: "市水利局", Kind: workflow.UnitDepartment},
		{ID: "lg-office", Name: "领导小组办公室", Kind: workflow.UnitOffice},
	}); err != nil {
		t.Fatal(err)
	}
	if err := v.svc.PutWorkPoints(ctx, []workflow.WorkPoint{
		{Number: 7, Section: "三", Title: "深入推进尾矿库污染治理", LeadUnits: []string{"city-eeb"}},
		{Number: 8, Section: "三", Title: "持续推进非法采砂专项整治", LeadUnits: []string{"city-water"}},
	}); err != nil {
		t.Fatal(err)
	}
	sys := workflow.Actor{ID: "system", Name: "系统", Role: workflow.RoleSystem}
	for _, u := range []struct {
		key, name string
		role      workflow.Role
		unit      string
	}{
		{"admin", "管理员", workflow.RoleAdmin, "city-eeb"},
		{"bureau", "局办", workflow.RoleBureau, "city-eeb"},
		{"fuliang", "浮梁县干部", workflow.RoleUnit, "fuliang"},
		{"leping", "乐平市干部", workflow.RoleUnit, "leping"},
		{"water", "水利局干部", workflow.RoleUnit, "city-water"},
		{"inspector", "验收员", workflow.RoleInspector, "lg-office"},
		{"inspector2", "复核员", workflow.RoleInspector, "lg-office"},
		{"viewer", "市领导", workflow.RoleViewer, "lg-office"},
	} {
		user, token, err := v.svc.CreateUser(ctx, sys, workflow.NewUser{Name: u.name, Role: u.role, UnitID: u.unit})
		if err != nil {
			t.Fatal(err)
		}
		hash, err := web.HashPasswordParams("pw-"+u.key, cheap)
		if err != nil {
			t.Fatal(err)
		}
		if err := v.svc.SetPassword(ctx, sys, user.ID, hash); err != nil {
			t.Fatal(err)
		}
		v.users[u.key], v.tokens[u.key] = user, token
	}
	cfg := web.Config{Service: v.svc, Argon2: cheap, EvidenceMaxBytes: 64 << 10}
	acfg := api.Config{Service: v.svc, EvidenceMaxBytes: 64 << 10}
	for _, o := range opts {
		switch o := o.(type) {
		case func(*web.Config):
			o(&cfg)
		case func(*api.Config):
			o(&acfg)
		default:
			t.Fatalf("env option %T", o)
		}
	}
	pages, err := web.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	acfg.Web = pages
	v.srv = httptest.NewServer(api.New(acfg))
	t.Cleanup(v.srv.Close)
	return v
}

// client is a browser: a cookie jar, no automatic redirects.
type client struct {
	t    *testing.T
	v    *env
	http *http.Client
	csrf string
	// xff, if set, is sent as X-Forwarded-For: the client is behind a proxy.
	xff string
}

// anon returns a client that is not signed in.
func (v *env) anon() *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: v.t, v: v, http: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

// from returns a client that is not signed in, at address ip behind a proxy.
func (v *env) from(ip string) *client {
	c := v.anon()
	c.xff = ip
	return c
}

// as returns a client signed in as user key.
func (v *env) as(key string) *client {
	v.t.Helper()
	c := v.anon()
	res := c.login(v.users[key].Name, "pw-"+key)
	if res.status != http.StatusSeeOther {
		v.t.Fatalf("sign in as %s: %d\n%s", key, res.status, res.body)
	}
	c.refreshCSRF()
	return c
}

// response is what a request got.
type response struct {
	status   int
	body     string
	location string
	header   http.Header
}

func (c *client) do(req *http.Request) response {
	c.t.Helper()
	if c.xff != "" {
		req.Header.Set("X-Forwarded-For", c.xff)
	}
	res, err := c.http.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return response{status: res.StatusCode, body: string(b), location: res.Header.Get("Location"), header: res.Header}
}

func (c *client) get(path string) response {
	c.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, c.v.srv.URL+path, nil)
	return c.do(req)
}

// post sends a form; the session's CSRF token is added unless form has a
// csrf field already.
func (c *client) post(path string, form url.Values) response {
	c.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	if _, ok := form["csrf"]; !ok && c.csrf != "" {
		form.Set("csrf", c.csrf)
	}
	req, _ := http.NewRequest(http.MethodPost, c.v.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return c.do(req)
}

var reCSRF = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// login fetches the sign-in form (its token) and sends it.
func (c *client) login(name, password string) response {
	c.t.Helper()
	page := c.get("/login")
	m := reCSRF.FindStringSubmatch(page.body)
	if m == nil {
		c.t.Fatalf("sign-in form without a token:\n%s", page.body)
	}
	return c.post("/login", url.Values{"csrf": {m[1]}, "name": {name}, "password": {password}})
}

// refreshCSRF reads the session's token from the start page.
func (c *client) refreshCSRF() {
	c.t.Helper()
	res := c.get("/ledger")
	m := reCSRF.FindStringSubmatch(res.body)
	if m == nil {
		c.t.Fatalf("no CSRF token on the ledger page (%d):\n%s", res.status, res.body)
	}
	c.csrf = m[1]
}

var reVersion = regexp.MustCompile(`name="version" value="(\d+)"`)

// version is the problem version the problem page's forms carry.
func (c *client) version(id string) string {
	c.t.Helper()
	res := c.get("/problems/" + id)
	m := reVersion.FindStringSubmatch(res.body)
	if m == nil {
		c.t.Fatalf("problem %s: no form with a version (%d %s)", id, res.status, res.location)
	}
	return m[1]
}

// fire sends trigger t's form with fields, at the page's current version.
func (c *client) fire(id string, t workflow.Trigger, fields url.Values) response {
	c.t.Helper()
	form := url.Values{"trigger": {string(t)}, "version": {c.version(id)}}
	for k, v := range fields {
		form[k] = v
	}
	return c.post("/problems/"+id+"/fire", form)
}

// mustFire fires t and expects the redirect of a success.
func (c *client) mustFire(id string, t workflow.Trigger, fields url.Values) {
	c.t.Helper()
	res := c.fire(id, t, fields)
	if res.status != http.StatusSeeOther || !strings.Contains(res.location, "done="+string(t)) {
		c.t.Fatalf("%s on %s: %d %s\n%s", t, id, res.status, res.location, res.body)
	}
}

// upload sends an evidence form: csrf and version first, then description
// and the file, as a browser sends the page's form.
func (c *client) upload(id, name string, data []byte, description string, fields ...[2]string) response {
	c.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	if fields == nil {
		fields = [][2]string{{"csrf", c.csrf}, {"version", c.version(id)}}
	}
	for _, f := range fields {
		_ = mw.WriteField(f[0], f[1])
	}
	_ = mw.WriteField("description", description)
	fw, _ := mw.CreateFormFile("file", name)
	_, _ = fw.Write(data)
	_ = mw.Close()
	req, _ := http.NewRequest(http.MethodPost, c.v.srv.URL+"/problems/"+id+"/evidence", &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return c.do(req)
}

func sha(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// pngFile returns a small PNG whose pixels depend on seed.
func pngFile(seed uint8) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 8, 8))
	for i := range 64 {
		img.Set(i%8, i/8, color.RGBA{R: seed, G: uint8(i), B: 100, A: 255})
	}
	var b bytes.Buffer
	_ = png.Encode(&b, img)
	return b.Bytes()
}

// create logs a problem through the bureau's form and returns its id.
func (v *env) create(title, county string) string {
	v.t.Helper()
	p, _, err := v.svc.CreateProblem(context.Background(), v.users["bureau"].Actor(), workflow.NewProblem{
		Title: title, Description: title + "的描述", Source: workflow.SourceSelfInspection, CountyID: county, WorkPoint: 7,
	})
	if err != nil {
		v.t.Fatal(err)
	}
	return p.ID
}

// assign assigns problem id to lead through the service.
func (v *env) assign(id, lead string, coop ...string) {
	v.t.Helper()
	d := t0.Add(90 * 24 * time.Hour)
	_, err := v.svc.Fire(context.Background(), v.users["bureau"].Actor(), id, workflow.Command{
		Trigger: workflow.TriggerAssign, Params: workflow.Params{LeadUnit: lead, CooperatingUnits: coop, Deadline: &d},
	})
	if err != nil {
		v.t.Fatal(err)
	}
}

// wantStatus checks a response's status.
func wantStatus(t *testing.T, what string, res response, status int) {
	t.Helper()
	if res.status != status {
		t.Fatalf("%s: status %d, want %d\n%s", what, res.status, status, res.body)
	}
}

// wantBody checks that a page says each of texts.
func wantBody(t *testing.T, what string, res response, texts ...string) {
	t.Helper()
	for _, s := range texts {
		if !strings.Contains(res.body, s) {
			t.Errorf("%s: the page lacks %q", what, s)
		}
	}
}

// wantNot checks that a page says none of texts.
func wantNot(t *testing.T, what string, res response, texts ...string) {
	t.Helper()
	for _, s := range texts {
		if strings.Contains(res.body, s) {
			t.Errorf("%s: the page has %q", what, s)
		}
	}
}
