package api_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jdz-eco/rectify/workflow"
)

// TestAccountLifecycleAPI: an admin disables and enables users, lists,
// issues, rotates and revokes their tokens and resets their passwords;
// the changes take effect at once and each is in the account log.
func TestAccountLifecycleAPI(t *testing.T) {
	v := newEnv(t)
	fl := v.users["fuliang"].ID
	users := v.ok(v.do("GET", "/api/v1/users", "admin", nil), http.StatusOK)["items"].([]any)
	if len(users) != len(v.users) {
		t.Errorf("GET /users: %d users", len(users))
	}
	u := v.ok(v.do("GET", "/api/v1/users/"+fl, "admin", nil), http.StatusOK)
	if u["name"] != "浮梁县干部" || u["disabled"] != false {
		t.Errorf("GET /users/{id} = %v", u)
	}
	v.fails(v.do("GET", "/api/v1/users/u-nobody", "admin", nil), http.StatusNotFound, "not_found")

	// Disable: the token answers 401 at once; enable: it works again.
	if u := v.ok(v.do("POST", "/api/v1/users/"+fl+"/disable", "admin", nil), http.StatusOK); u["disabled"] != true {
		t.Errorf("disable = %v", u)
	}
	p := v.fails(v.do("GET", "/api/v1/problems", "fuliang", nil), http.StatusUnauthorized, "unauthorized")
	if !strings.Contains(p.Detail, "disabled") {
		t.Errorf("a disabled user's token: %q", p.Detail)
	}
	v.fails(v.do("POST", "/api/v1/users/"+v.users["admin"].ID+"/disable", "admin", nil), http.StatusForbidden, "forbidden")
	v.fails(v.do("POST", "/api/v1/users/"+fl+"/tokens", "admin", nil), http.StatusConflict, "conflict")
	v.ok(v.do("POST", "/api/v1/users/"+fl+"/enable", "admin", nil), http.StatusOK)
	v.ok(v.do("GET", "/api/v1/problems", "fuliang", nil), http.StatusOK)

	// Issue with an expiry, use, expire.
	v.fails(v.do("POST", "/api/v1/users/"+fl+"/tokens", "admin", map[string]any{"expires_at": "soon"}), http.StatusBadRequest, "invalid")
	v.fails(v.do("POST", "/api/v1/users/"+fl+"/tokens", "admin", map[string]any{"expires_at": "2020-01-01"}), http.StatusBadRequest, "invalid")
	v.fails(v.do("POST", "/api/v1/users/"+fl+"/tokens", "admin", map[string]any{"expires": "2099-01-01"}), http.StatusBadRequest, "invalid")
	v.clock.Advance(time.Minute)
	rec := v.do("POST", "/api/v1/users/"+fl+"/tokens", "admin", map[string]any{"expires_at": t0.Add(24 * time.Hour).Format(time.RFC3339)})
	issued := v.ok(rec, http.StatusCreated)
	if rec.Header().Get("Cache-Control") != "no-store" {
		t.Error("an issued token may be cached")
	}
	secret := issued["token"].(string)
	item := issued["item"].(map[string]any)
	v.tokens["fl2"] = secret
	v.ok(v.do("GET", "/api/v1/units", "fl2", nil), http.StatusOK)
	v.clock.Advance(24*time.Hour - time.Minute)
	if p := v.fails(v.do("GET", "/api/v1/units", "fl2", nil), http.StatusUnauthorized, "unauthorized"); !strings.Contains(p.Detail, "expired") {
		t.Errorf("an expired token: %q", p.Detail)
	}
	list := v.ok(v.do("GET", "/api/v1/users/"+fl+"/tokens", "admin", nil), http.StatusOK)["items"].([]any)
	if len(list) != 2 || list[1].(map[string]any)["id"] != item["id"] || list[1].(map[string]any)["expired"] != true {
		t.Errorf("tokens = %v", list)
	}
	if strings.Contains(v.do("GET", "/api/v1/users/"+fl+"/tokens", "admin", nil).Body.String(), workflow.HashToken(secret)) {
		t.Error("the token list shows a hash")
	}

	// Rotate the first token: the old one stops, the new one works.
	first := list[0].(map[string]any)["id"].(string)
	rot := v.ok(v.do("POST", "/api/v1/users/"+fl+"/tokens/"+first+"/rotate", "admin", nil), http.StatusCreated)
	if rot["revoked"] != first {
		t.Errorf("rotate = %v", rot)
	}
	v.fails(v.do("GET", "/api/v1/units", "fuliang", nil), http.StatusUnauthorized, "unauthorized")
	v.tokens["fuliang"] = rot["token"].(string)
	v.ok(v.do("GET", "/api/v1/units", "fuliang", nil), http.StatusOK)
	v.fails(v.do("POST", "/api/v1/users/"+fl+"/tokens/"+first+"/rotate", "admin", nil), http.StatusNotFound, "not_found")

	// Revoke one; then a password reset revoking the rest.
	rec = v.do("DELETE", "/api/v1/users/"+fl+"/tokens/"+item["id"].(string), "admin", nil)
	if rec.Code != http.StatusNoContent {
		t.Fatalf("DELETE a token: %d %s", rec.Code, rec.Body)
	}
	v.fails(v.do("PUT", "/api/v1/users/"+fl+"/password", "admin", map[string]any{"password": "short"}), http.StatusBadRequest, "invalid")
	res := v.ok(v.do("PUT", "/api/v1/users/"+fl+"/password", "admin", map[string]any{"password": "一个足够长的新密码", "revoke_tokens": true}), http.StatusOK)
	if r := res["revoked"].([]any); len(r) != 1 {
		t.Errorf("password reset revoked %v", r)
	}
	v.fails(v.do("GET", "/api/v1/units", "fuliang", nil), http.StatusUnauthorized, "unauthorized")
	if r := v.ok(v.do("DELETE", "/api/v1/users/"+fl+"/tokens", "admin", nil), http.StatusOK)["revoked"].([]any); len(r) != 0 {
		t.Errorf("revoking all of none: %v", r)
	}

	// The account log: who, when, what; the head beside the history's.
	evs := v.ok(v.do("GET", "/api/v1/audit/accounts?after=0&limit=1000", "admin", nil), http.StatusOK)
	items := evs["items"].([]any)
	var actions []string
	for _, it := range items[len(v.users):] {
		e := it.(map[string]any)
		actions = append(actions, e["action"].(string))
		if e["actor"].(map[string]any)["id"] != v.users["admin"].ID || e["user_id"] != fl || e["hash"] == "" {
			t.Errorf("event %v", e)
		}
	}
	want := "user.disable user.enable token.issue token.rotate token.revoke user.password"
	if strings.Join(actions, " ") != want {
		t.Errorf("account log %v, want %s", actions, want)
	}
	head := v.ok(v.do("GET", "/api/v1/audit/head", "viewer", nil), http.StatusOK)
	if acc := head["accounts"].(map[string]any); acc["seq"] != float64(len(items)) || acc["hash"] != items[len(items)-1].(map[string]any)["hash"] {
		t.Errorf("audit head %v", head)
	}
	page := v.ok(v.do("GET", "/api/v1/audit/accounts?after=2&limit=3", "admin", nil), http.StatusOK)
	if page["next_after"] != 5.0 || len(page["items"].([]any)) != 3 {
		t.Errorf("a page of the account log: %v", page)
	}
	v.fails(v.do("GET", "/api/v1/audit/accounts?limit=0", "admin", nil), http.StatusBadRequest, "invalid")
	for _, secret := range []string{secret, rot["token"].(string), "一个足够长的新密码"} {
		if strings.Contains(v.logs.String(), secret) || strings.Contains(v.do("GET", "/api/v1/audit/accounts?limit=1000", "admin", nil).Body.String(), secret) {
			t.Errorf("a secret is in the request log or the account log")
		}
	}
}

// TestAccountRoutesNeedAdmin: every account route refuses every other role
// (403) and changes nothing; the password is not even hashed.
func TestAccountRoutesNeedAdmin(t *testing.T) {
	v := newEnv(t)
	fl := v.users["fuliang"].ID
	routes := [][2]string{
		{"GET", "/api/v1/users"}, {"GET", "/api/v1/users/" + fl}, {"POST", "/api/v1/users/" + fl + "/disable"},
		{"POST", "/api/v1/users/" + fl + "/enable"}, {"PUT", "/api/v1/users/" + fl + "/password"},
		{"GET", "/api/v1/users/" + fl + "/tokens"}, {"POST", "/api/v1/users/" + fl + "/tokens"},
		{"DELETE", "/api/v1/users/" + fl + "/tokens"}, {"DELETE", "/api/v1/users/" + fl + "/tokens/0123456789abcdef"},
		{"POST", "/api/v1/users/" + fl + "/tokens/0123456789abcdef/rotate"}, {"GET", "/api/v1/audit/accounts"},
	}
	for _, who := range []string{"bureau", "fuliang", "inspector", "viewer"} {
		for _, r := range routes {
			var body any
			if r[0] == "PUT" {
				body = map[string]any{"password": "一个足够长的新密码", "revoke_tokens": true}
			}
			v.fails(v.do(r[0], r[1], who, body), http.StatusForbidden, "forbidden")
		}
	}
	v.ok(v.do("GET", "/api/v1/units", "fuliang", nil), http.StatusOK)
}
