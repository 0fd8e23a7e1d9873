package web_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

// apiStatus is the status of GET /api/v1/units with token.
func (v *env) apiStatus(token string) int {
	v.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, v.srv.URL+"/api/v1/units", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	return v.anon().do(req).status
}

var reNewToken = regexp.MustCompile(`<code class="secret">(rt_[A-Za-z0-9_-]+)</code>`)
var reTokenID = regexp.MustCompile(`<td class="code">([0-9a-f]{16})</td>`)

// TestUserPages: an admin disables and enables a user, issues, rotates and
// revokes tokens and resets a password on the pages; each takes effect at
// once and is listed in the account log. Nobody else sees the pages.
func TestUserPages(t *testing.T) {
	v := newEnv(t)
	admin := v.as("admin")
	officer := v.as("fuliang")
	fl := v.users["fuliang"].ID
	res := admin.get("/users")
	wantStatus(t, "用户管理", res, http.StatusOK)
	wantBody(t, "用户管理", res, "浮梁县干部", "整改专员", "账号变更记录", `href="/users"`)
	for _, key := range []string{"bureau", "fuliang", "inspector", "viewer"} {
		c := v.as(key)
		wantNot(t, key+"'s pages", c.get("/"), `href="/users"`)
		wantStatus(t, key+" on 用户管理", c.get("/users"), http.StatusForbidden)
		wantStatus(t, key+" on a user's page", c.get("/users/"+fl), http.StatusForbidden)
		res := c.post("/users/"+fl+"/disable", nil)
		wantStatus(t, key+" disabling a user", res, http.StatusForbidden)
		wantBody(t, key+" disabling a user", res, "您的角色无权执行此操作")
	}
	wantStatus(t, "an unknown user", admin.get("/users/u-nobody"), http.StatusNotFound)

	// Disable: the officer's session and token stop at once; the right
	// password says the account is disabled.
	wantStatus(t, "a form without its token", admin.post("/users/"+fl+"/disable", url.Values{"csrf": {"x"}}), http.StatusForbidden)
	res = admin.post("/users/"+fl+"/disable", nil)
	wantStatus(t, "disable", res, http.StatusSeeOther)
	wantBody(t, "after disabling", admin.get(res.location), "用户已停用", "已停用", "启用该用户")
	res = officer.get("/ledger")
	if res.status != http.StatusSeeOther || !strings.HasPrefix(res.location, "/login") {
		t.Errorf("a disabled user's session: %d %s", res.status, res.location)
	}
	if got := v.apiStatus(v.tokens["fuliang"]); got != http.StatusUnauthorized {
		t.Errorf("a disabled user's token: %d", got)
	}
	res = v.anon().login("浮梁县干部", "pw-fuliang")
	wantStatus(t, "a disabled user signing in", res, http.StatusForbidden)
	wantBody(t, "a disabled user signing in", res, "该账号已停用")
	wantStatus(t, "a disabled user's wrong password", v.anon().login("浮梁县干部", "wrong"), http.StatusUnauthorized)
	res = admin.post("/users/"+fl+"/tokens", nil)
	wantStatus(t, "a token for a disabled user", res, http.StatusConflict)
	wantBody(t, "a token for a disabled user", res, "该用户已停用，请先启用")
	wantStatus(t, "enable", admin.post("/users/"+fl+"/enable", nil), http.StatusSeeOther)
	if got := v.apiStatus(v.tokens["fuliang"]); got != http.StatusOK {
		t.Errorf("an enabled user's token: %d", got)
	}

	// An admin cannot disable themself (no button, and the form is refused).
	self := admin.get("/users/" + v.users["admin"].ID)
	wantNot(t, "the admin's own page", self, "停用该用户")
	res = admin.post("/users/"+v.users["admin"].ID+"/disable", nil)
	wantStatus(t, "disabling oneself", res, http.StatusForbidden)
	wantBody(t, "disabling oneself", res, "不能停用自己的账号")

	// A new token, shown once; rotated; revoked.
	res = admin.post("/users/"+fl+"/tokens", url.Values{"expires": {"2021-01-01"}})
	wantStatus(t, "a token expiring in the past", res, http.StatusBadRequest)
	wantBody(t, "a token expiring in the past", res, "令牌的有效期须为今后的日期")
	v.clock.Advance(time.Minute) // the new token is the later one
	res = admin.post("/users/"+fl+"/tokens", url.Values{"expires": {"2031-12-31"}})
	wantStatus(t, "a new token", res, http.StatusCreated)
	m := reNewToken.FindStringSubmatch(res.body)
	if m == nil || res.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("the new token is not shown, or may be cached:\n%s", res.body)
	}
	wantBody(t, "a new token", res, "只显示这一次", "2031-12-31")
	if strings.Contains(admin.get("/users/"+fl).body, m[1]) {
		t.Error("the token is shown again")
	}
	if got := v.apiStatus(m[1]); got != http.StatusOK {
		t.Errorf("the new token: %d", got)
	}
	ids := reTokenID.FindAllStringSubmatch(res.body, -1)
	if len(ids) != 2 {
		t.Fatalf("%d tokens listed", len(ids))
	}
	second := ids[1][1]
	res = admin.post("/users/"+fl+"/tokens/"+ids[0][1]+"/rotate", nil)
	wantStatus(t, "rotate", res, http.StatusCreated)
	rotated := reNewToken.FindStringSubmatch(res.body)
	if rotated == nil || v.apiStatus(v.tokens["fuliang"]) != http.StatusUnauthorized || v.apiStatus(rotated[1]) != http.StatusOK {
		t.Errorf("after a rotation: old %d, new %v", v.apiStatus(v.tokens["fuliang"]), rotated)
	}
	wantStatus(t, "revoke", admin.post("/users/"+fl+"/tokens/"+second+"/revoke", nil), http.StatusSeeOther)
	if got := v.apiStatus(m[1]); got != http.StatusUnauthorized {
		t.Errorf("a revoked token: %d", got)
	}
	res = admin.post("/users/"+fl+"/tokens/"+second+"/revoke", nil)
	wantStatus(t, "revoking twice", res, http.StatusNotFound)
	wantBody(t, "revoking twice", res, "未找到该令牌")

	// A password reset revoking every token; the officer signs in anew.
	officer = v.as("fuliang")
	res = admin.post("/users/"+fl+"/password", url.Values{"new": {"new-password-1"}, "again": {"new-password-2"}})
	wantStatus(t, "a mistyped password", res, http.StatusBadRequest)
	wantBody(t, "a mistyped password", res, "两次输入的新密码不一致")
	res = admin.post("/users/"+fl+"/password", url.Values{"new": {"new-password-1"}, "again": {"new-password-1"}, "revoke_tokens": {"1"}})
	wantStatus(t, "a password reset", res, http.StatusSeeOther)
	if got := v.apiStatus(rotated[1]); got != http.StatusUnauthorized {
		t.Errorf("a token after a reset revoking tokens: %d", got)
	}
	wantStatus(t, "the officer's old session", officer.get("/"), http.StatusSeeOther)
	wantStatus(t, "the new password", v.anon().login("浮梁县干部", "new-password-1"), http.StatusSeeOther)

	// The account log on the pages, newest first.
	res = admin.get("/users/" + fl)
	for _, what := range []string{"设置密码，吊销 ", "吊销令牌，吊销 " + second, "轮换令牌，新令牌 ", "发放令牌，新令牌 " + second, "启用", "停用"} {
		wantBody(t, "the user's account log", res, what)
	}
	if strings.Index(res.body, "设置密码") > strings.Index(res.body, "停用</td>") {
		t.Error("the account log is not newest first")
	}
}

// TestPasswordPageRevokesTokens: the 修改密码 page offers to revoke the
// user's API tokens with the change.
func TestPasswordPageRevokesTokens(t *testing.T) {
	v := newEnv(t)
	c := v.as("water")
	wantBody(t, "修改密码", c.get("/password"), "同时吊销我的全部 API 令牌")
	res := c.post("/password", url.Values{"current": {"pw-water"}, "new": {"new-password-1"}, "again": {"new-password-1"}})
	wantStatus(t, "a change keeping the tokens", res, http.StatusSeeOther)
	if got := v.apiStatus(v.tokens["water"]); got != http.StatusOK {
		t.Errorf("the token after a change without revoking: %d", got)
	}
	c = v.anon()
	wantStatus(t, "sign in", c.login("水利局干部", "new-password-1"), http.StatusSeeOther)
	c.refreshCSRF()
	res = c.post("/password", url.Values{"current": {"new-password-1"}, "new": {"new-password-2"}, "again": {"new-password-2"}, "revoke_tokens": {"1"}})
	wantStatus(t, "a change revoking the tokens", res, http.StatusSeeOther)
	if res.location != "/login?changed=tokens" {
		t.Errorf("to %q", res.location)
	}
	wantBody(t, "the notice", c.get(res.location), "您的全部 API 令牌已吊销")
	if got := v.apiStatus(v.tokens["water"]); got != http.StatusUnauthorized {
		t.Errorf("the token after a change revoking them: %d", got)
	}
}
