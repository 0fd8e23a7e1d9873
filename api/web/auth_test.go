package web_test

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jdz-eco/rectify/api/web"
	"github.com/jdz-eco/rectify/workflow"
)

func sessionCookie(res response) *http.Cookie {
	for _, c := range (&http.Response{Header: res.header}).Cookies() {
		if c.Name == "rectify_session" {
			return c
		}
	}
	return nil
}

func TestSignIn(t *testing.T) {
	v := newEnv(t)
	c := v.anon()

	// Pages need a session: GET goes to the sign-in page, and back after.
	res := c.get("/problems/1")
	wantStatus(t, "a page without a session", res, http.StatusSeeOther)
	if res.location != "/login?next=%2Fproblems%2F1" {
		t.Errorf("redirect to %q", res.location)
	}
	wantStatus(t, "the start page", c.get("/"), http.StatusSeeOther)

	res = c.login("局办", "wrong")
	wantStatus(t, "a wrong password", res, http.StatusUnauthorized)
	wantBody(t, "a wrong password", res, "用户名或密码错误")
	res = c.login("无此人", "pw-bureau")
	wantStatus(t, "an unknown name", res, http.StatusUnauthorized)
	wantBody(t, "an unknown name", res, "用户名或密码错误")

	res = c.login("局办", "pw-bureau")
	wantStatus(t, "the right password", res, http.StatusSeeOther)
	if res.location != "/" {
		t.Errorf("after sign-in: to %q", res.location)
	}
	ck := sessionCookie(res)
	if ck == nil || !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Secure || ck.Path != "/" || len(ck.Value) < 40 {
		t.Fatalf("session cookie %+v", ck)
	}
	res = c.get("/")
	wantStatus(t, "the start page", res, http.StatusOK)
	wantBody(t, "the start page", res, "局办", "新增问题", "退出")
	// Sessions are stored as hashes only.
	acc := v.svc.Store().(workflow.Accounts)
	if _, err := acc.Session(t.Context(), ck.Value); err == nil {
		t.Error("the session is stored under the cookie's value")
	}
	if _, err := acc.Session(t.Context(), workflow.HashToken(ck.Value)); err != nil {
		t.Errorf("the session is not stored under its hash: %v", err)
	}

	// next is honoured when it is a path of this site.
	for next, want := range map[string]string{
		"/problems/1?x=1": "/problems/1?x=1", "//evil.example/": "/", "https://evil.example/": "/", "/login": "/",
		// WHATWG URL parsers drop tabs and newlines and read a backslash
		// as a slash: each of these would leave the site.
		"/\t/evil.example": "/", "/\n/evil.example": "/", "/\r/evil.example": "/", "\t//evil.example": "/",
		"/\\evil.example": "/", "/x\\..\\\\evil.example": "/", "/\x00/evil.example": "/", "/\u0085/evil.example": "/",
		"/\x7f/evil.example": "/", "/ /evil.example": "/", "": "/", "ledger": "/", "/ledger?county=fuliang#top": "/ledger?county=fuliang#top",
	} {
		c := v.anon()
		page := c.get("/login")
		m := reCSRF.FindStringSubmatch(page.body)
		res := c.post("/login", url.Values{"csrf": {m[1]}, "name": {"局办"}, "password": {"pw-bureau"}, "next": {next}})
		if res.location != want {
			t.Errorf("next %q: to %q, want %q", next, res.location, want)
		}
	}
}

// TestLoginNextFromQuery: the redirect, next=%2F%09%2Fevil.example,
// reaches the sign-in form through the query string and goes nowhere but /.
func TestLoginNextFromQuery(t *testing.T) {
	v := newEnv(t)
	c := v.anon()
	page := c.get("/login?next=%2F%09%2Fevil.example")
	wantStatus(t, "the sign-in page", page, http.StatusOK)
	wantNot(t, "the sign-in page", page, "evil.example")
	m := reCSRF.FindStringSubmatch(page.body)
	next := regexp.MustCompile(`name="next" value="([^"]*)"`).FindStringSubmatch(page.body)
	form := url.Values{"csrf": {m[1]}, "name": {"局办"}, "password": {"pw-bureau"}, "next": {"/\t/evil.example"}}
	if next != nil {
		form.Set("next", html.UnescapeString(next[1]))
	}
	res := c.post("/login", form)
	wantStatus(t, "sign-in", res, http.StatusSeeOther)
	if res.location != "/" {
		t.Errorf("next=%%2F%%09%%2Fevil.example: to %q, want /", res.location)
	}
}

func TestSecureCookies(t *testing.T) {
	v := newEnv(t, func(c *web.Config) { c.SecureCookies = true })
	res := v.anon().login("局办", "pw-bureau")
	if ck := sessionCookie(res); ck == nil || !ck.Secure {
		t.Fatalf("session cookie %+v, want Secure", ck)
	}
}

// TestSignInNeedsItsToken: the sign-in form's CSRF token (cookie and
// field) is required; another site cannot sign a user in.
func TestSignInNeedsItsToken(t *testing.T) {
	v := newEnv(t)
	c := v.anon()
	res := c.post("/login", url.Values{"csrf": {"made-up"}, "name": {"局办"}, "password": {"pw-bureau"}})
	wantStatus(t, "sign-in without the form's cookie", res, http.StatusForbidden)
	wantBody(t, "sign-in without the form's cookie", res, "登录表单已失效")
	c.get("/login")
	res = c.post("/login", url.Values{"csrf": {"made-up"}, "name": {"局办"}, "password": {"pw-bureau"}})
	wantStatus(t, "sign-in with a wrong token", res, http.StatusForbidden)
}

func TestSignOut(t *testing.T) {
	v := newEnv(t)
	c := v.as("bureau")
	u, _ := url.Parse(v.srv.URL)
	kept := c.http.Jar.Cookies(u) // what a browser (or a thief) kept
	res := c.post("/logout", nil)
	wantStatus(t, "sign out", res, http.StatusSeeOther)
	if res.location != "/login" {
		t.Errorf("after sign-out: to %q", res.location)
	}
	if ck := sessionCookie(res); ck == nil || ck.MaxAge >= 0 {
		t.Errorf("sign-out does not clear the cookie: %+v", ck)
	}
	// The old cookie is worth nothing: the session ended in the store.
	stale := v.anon()
	stale.http.Jar.SetCookies(u, kept)
	stale.csrf = c.csrf
	res = stale.get("/ledger")
	wantStatus(t, "a page of a signed-out session", res, http.StatusSeeOther)
	if !strings.HasPrefix(res.location, "/login") {
		t.Errorf("redirect to %q", res.location)
	}
	res = stale.post("/problems", url.Values{"title": {"x"}})
	wantStatus(t, "a form of a signed-out session", res, http.StatusUnauthorized)
	wantBody(t, "a form of a signed-out session", res, "请重新登录")
	if ps, _, _ := v.svc.Problems(t.Context(), v.users["bureau"].Actor(), workflow.ProblemFilter{}); len(ps) != 0 {
		t.Errorf("a signed-out form created a problem")
	}
}

func TestSessionExpires(t *testing.T) {
	v := newEnv(t, func(c *web.Config) { c.Sessions = workflow.SessionPolicy{MaxAge: 8 * time.Hour, Idle: time.Hour} })
	c := v.as("viewer")
	v.clock.Advance(59 * time.Minute)
	wantStatus(t, "within the idle timeout", c.get("/stats"), http.StatusOK)
	v.clock.Advance(61 * time.Minute)
	res := c.get("/stats")
	wantStatus(t, "after the idle timeout", res, http.StatusSeeOther)
	if !strings.HasPrefix(res.location, "/login") {
		t.Errorf("redirect to %q", res.location)
	}
}

// TestCSRF: every form needs the session's token; a request another site
// sends is refused (403) and changes nothing.
func TestCSRF(t *testing.T) {
	v := newEnv(t)
	id := v.create("尾矿库渗漏", "fuliang")
	v.assign(id, "fuliang")
	b := v.as("bureau")
	u := v.as("fuliang")
	form := url.Values{"title": {"伪造"}, "description": {"x"}, "source": {"other"}, "county_id": {"fuliang"}}
	for name, csrf := range map[string][]string{"none": {}, "empty": {""}, "wrong": {"x" + b.csrf[1:]}, "another session's": {u.csrf}} {
		f := url.Values{}
		for k, vs := range form {
			f[k] = vs
		}
		f["csrf"] = csrf
		res := b.post("/problems", f)
		wantStatus(t, "new problem, "+name+" token", res, http.StatusForbidden)
		wantBody(t, "a refusal page", res, "表单已失效")
		wantNot(t, "a refusal page", res, "csrf:", "{")
	}
	for _, path := range []string{"/problems/" + id + "/fire", "/problems/" + id + "/notes", "/problems/" + id + "/extensions", "/logout", "/password"} {
		res := u.post(path, url.Values{"csrf": {"bad"}, "trigger": {"accept"}, "plan": {"x"}, "text": {"x"}})
		wantStatus(t, path+" with a bad token", res, http.StatusForbidden)
	}
	// Another origin is refused even with the token.
	req, _ := http.NewRequest(http.MethodPost, v.srv.URL+"/problems/"+id+"/notes", strings.NewReader(url.Values{"csrf": {u.csrf}, "text": {"x"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://evil.example")
	wantStatus(t, "a note from another origin", u.do(req), http.StatusForbidden)

	// An upload without the token (or with it after the file) stores nothing.
	u.mustFire(id, workflow.TriggerAccept, url.Values{"plan": {"整改"}})
	res := u.upload(id, "a.png", pngFile(1), "现场", [2]string{"version", u.version(id)})
	wantStatus(t, "an upload without a token", res, http.StatusForbidden)
	res = u.upload(id, "a.png", pngFile(1), "现场", [2]string{"csrf", "bad"})
	wantStatus(t, "an upload with a bad token", res, http.StatusForbidden)
	if p, _ := v.svc.Problem(t.Context(), v.users["fuliang"].Actor(), id); len(p.Evidence) != 0 || p.State != workflow.StateRectifying {
		t.Errorf("refused forms changed the problem: %+v", p)
	}
	if n, _ := v.blobs.Stat(t.Context(), sha(pngFile(1))); n != 0 {
		t.Error("a refused upload stored its file")
	}
	if ps, _, _ := v.svc.Problems(t.Context(), v.users["bureau"].Actor(), workflow.ProblemFilter{}); len(ps) != 1 {
		t.Fatalf("refused forms created problems: %d", len(ps))
	}
}

// TestThrottle: five wrong passwords for a name lock it for a minute, the
// next five for two, without checking the password meanwhile; the client's
// address is limited too.
func TestThrottle(t *testing.T) {
	v := newEnv(t, func(c *web.Config) { c.Throttle = web.ThrottleConfig{IPFailures: 12} })
	c := v.anon()
	for i := range 4 {
		res := c.login("局办", "wrong")
		wantStatus(t, "wrong password", res, http.StatusUnauthorized)
		wantNot(t, "wrong password "+string(rune('1'+i)), res, "次数过多")
	}
	res := c.login("局办", "wrong")
	wantStatus(t, "the fifth wrong password", res, http.StatusUnauthorized)
	wantBody(t, "the fifth wrong password", res, "失败次数过多，请 1 分钟后再试")
	res = c.login("局办", "pw-bureau")
	wantStatus(t, "the right password while locked", res, http.StatusTooManyRequests)
	wantBody(t, "locked", res, "登录失败次数过多，请 1 分钟后再试")
	// Another name from the same address is not locked yet.
	wantStatus(t, "another name", c.login("市领导", "pw-viewer"), http.StatusSeeOther)

	v.clock.Advance(61 * time.Second)
	for range 4 {
		c.login("局办", "wrong")
	}
	res = c.login("局办", "wrong")
	wantBody(t, "the second lockout", res, "请 2 分钟后再试")
	v.clock.Advance(90 * time.Second)
	wantStatus(t, "during the second lockout", c.login("局办", "pw-bureau"), http.StatusTooManyRequests)
	v.clock.Advance(31 * time.Second)
	wantStatus(t, "after the second lockout", c.login("局办", "pw-bureau"), http.StatusSeeOther)

	// The address: 12 failures over any names lock it for every name.
	v.clock.Advance(time.Hour)
	d := v.anon()
	for i := range 12 {
		d.login("名字"+string(rune('a'+i)), "wrong")
	}
	res = d.login("市领导", "pw-viewer")
	wantStatus(t, "a locked address", res, http.StatusTooManyRequests)
}

func TestChangePassword(t *testing.T) {
	v := newEnv(t)
	c := v.as("fuliang")
	other := v.as("fuliang") // another device
	wantStatus(t, "password page", c.get("/password"), http.StatusOK)
	res := c.post("/password", url.Values{"current": {"wrong"}, "new": {"new-password-1"}, "again": {"new-password-1"}})
	wantStatus(t, "a wrong current password", res, http.StatusUnauthorized)
	wantBody(t, "a wrong current password", res, "当前密码不正确")
	res = c.post("/password", url.Values{"current": {"pw-fuliang"}, "new": {"short"}, "again": {"short"}})
	wantStatus(t, "a short password", res, http.StatusBadRequest)
	wantBody(t, "a short password", res, "密码至少需要 8 个字符")
	res = c.post("/password", url.Values{"current": {"pw-fuliang"}, "new": {"new-password-1"}, "again": {"new-password-2"}})
	wantBody(t, "a mistyped password", res, "两次输入的新密码不一致")
	res = c.post("/password", url.Values{"current": {"pw-fuliang"}, "new": {"new-password-1"}, "again": {"new-password-1"}})
	wantStatus(t, "a new password", res, http.StatusSeeOther)
	if res.location != "/login?changed=1" {
		t.Errorf("to %q", res.location)
	}
	// Every session ended; the new password signs in, the old one not.
	wantStatus(t, "another device after the change", other.get("/"), http.StatusSeeOther)
	wantStatus(t, "the old password", v.anon().login("浮梁县干部", "pw-fuliang"), http.StatusUnauthorized)
	wantStatus(t, "the new password", v.anon().login("浮梁县干部", "new-password-1"), http.StatusSeeOther)
}

// TestAPITokensAndCookies: the API takes tokens as before and no cookie;
// the pages take cookies and no token.
func TestAPITokensAndCookies(t *testing.T) {
	v := newEnv(t)
	c := v.as("bureau")
	req, _ := http.NewRequest(http.MethodGet, v.srv.URL+"/api/v1/problems", nil)
	req.Header.Set("Authorization", "Bearer "+v.tokens["bureau"])
	wantStatus(t, "the API with a token", c.do(req), http.StatusOK)
	req, _ = http.NewRequest(http.MethodGet, v.srv.URL+"/api/v1/problems", nil)
	res := c.do(req) // the jar sends the session cookie
	wantStatus(t, "the API with a session cookie only", res, http.StatusUnauthorized)
	if ct := res.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("API error type %q", ct)
	}
	req, _ = http.NewRequest(http.MethodGet, v.srv.URL+"/ledger", nil)
	req.Header.Set("Authorization", "Bearer "+v.tokens["bureau"])
	wantStatus(t, "a page with a token only", v.anon().do(req), http.StatusSeeOther)
	// An unknown API path is still problem+json; an unknown page is a page.
	res = v.anon().get("/api/v1/nothing")
	if !strings.Contains(res.header.Get("Content-Type"), "problem+json") {
		t.Errorf("unknown API path: %d %s", res.status, res.header.Get("Content-Type"))
	}
	// With a valid token too: 404, not the pages' "not signed in".
	for _, path := range []string{"/api/v1/nothing", "/api/v1/problems/1/nothing", "/api/v2/problems", "/api/nothing", "/api"} {
		for _, method := range []string{http.MethodGet, http.MethodPost} {
			req, _ = http.NewRequest(method, v.srv.URL+path, nil)
			req.Header.Set("Authorization", "Bearer "+v.tokens["bureau"])
			res = v.anon().do(req)
			wantStatus(t, method+" "+path+" with a token", res, http.StatusNotFound)
			if ct := res.header.Get("Content-Type"); ct != "application/problem+json" || !strings.Contains(res.body, `"code":"not_found"`) {
				t.Errorf("%s %s: %s %s", method, path, ct, res.body)
			}
		}
	}
	// A known API path with a method it does not take is 405, whoever asks.
	req, _ = http.NewRequest(http.MethodDelete, v.srv.URL+"/api/v1/problems", nil)
	req.Header.Set("Authorization", "Bearer "+v.tokens["bureau"])
	wantStatus(t, "DELETE /api/v1/problems", v.anon().do(req), http.StatusMethodNotAllowed)
	res = c.get("/nothing")
	wantStatus(t, "an unknown page", res, http.StatusNotFound)
	wantBody(t, "an unknown page", res, "页面不存在", "<html")
	if ct := res.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("unknown page type %q", ct)
	}
}

func TestSecurityHeaders(t *testing.T) {
	v := newEnv(t)
	res := v.anon().get("/login")
	h := res.header
	if !strings.Contains(h.Get("Content-Security-Policy"), "default-src 'none'") || h.Get("X-Frame-Options") != "DENY" ||
		h.Get("Cache-Control") != "no-store" || h.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("headers %v", h)
	}
	if strings.Contains(res.body, "<script") || strings.Contains(res.body, "http://") || strings.Contains(res.body, "https://") {
		t.Error("the sign-in page loads a script or something from elsewhere")
	}
	res = v.anon().get("/static/style.css")
	wantStatus(t, "the stylesheet", res, http.StatusOK)
	if !strings.HasPrefix(res.header.Get("Content-Type"), "text/css") {
		t.Errorf("stylesheet type %q", res.header.Get("Content-Type"))
	}
}
