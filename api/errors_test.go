package api_test

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// TestStatusCodes sends one request per status the API answers with and
// checks the problem+json body.
func TestStatusCodes(t *testing.T) {
	v := newEnv(t)
	found := v.create("待交办问题")
	assigned := v.assigned()
	big := `{"title":"` + strings.Repeat("x", 1<<20) + `"}`
	exe, exeType := multipartBody(t, formPart{name: "file", filename: "photo.jpg", ctype: "image/jpeg", data: []byte("\x7fELF\x02\x01\x01\x00\x00\x00")})

	tests := []struct {
		name               string
		method, path, who  string
		body               any
		hdr                []string
		status             int
		code, field, state string
		permitted          []string
		reason             string
	}{
		{name: "malformed JSON", method: "POST", path: "/api/v1/problems", who: "bureau", body: `{"title":`, status: 400, code: "invalid"},
		{name: "missing field", method: "POST", path: "/api/v1/problems", who: "bureau", body: `{"title":"t","source":"audit","county_id":"fuliang"}`, status: 400, code: "invalid", field: "description", reason: "required"},
		{name: "no token", method: "GET", path: "/api/v1/problems", status: 401, code: "unauthorized", reason: "no_credentials"},
		{name: "bad token", method: "GET", path: "/api/v1/problems", hdr: []string{"Authorization", "Bearer rt_nope"}, status: 401, code: "unauthorized", reason: "bad_token"},
		{name: "not bearer", method: "GET", path: "/api/v1/units", hdr: []string{"Authorization", "Basic YTpi"}, status: 401, code: "unauthorized", reason: "bad_token"},
		{name: "role may not create", method: "POST", path: "/api/v1/problems", who: "fuliang", body: `{"title":"t","description":"d","source":"audit","county_id":"fuliang"}`, status: 403, code: "forbidden", reason: "role"},
		{name: "non-admin creates user", method: "POST", path: "/api/v1/users", who: "bureau", body: `{"name":"n","role":"viewer","unit_id":"city-eeb"}`, status: 403, code: "forbidden", reason: "role"},
		{name: "unknown problem", method: "GET", path: "/api/v1/problems/999", who: "bureau", status: 404, code: "not_found", reason: "problem_not_found"},
		{name: "malformed id", method: "GET", path: "/api/v1/problems/abc", who: "bureau", status: 404, code: "not_found", reason: "problem_not_found"},
		{name: "unknown route", method: "GET", path: "/api/v1/nope", who: "bureau", status: 404, code: "not_found"},
		{name: "unknown route outside api", method: "GET", path: "/nope", status: 404, code: "not_found"},
		{name: "wrong method", method: "DELETE", path: "/api/v1/problems/" + found, who: "bureau", status: 405, code: "method_not_allowed"},
		{name: "not permitted in state", method: "POST", path: "/api/v1/problems/" + found + "/transitions", who: "bureau", body: `{"trigger":"accept","plan":"p"}`,
			status: 409, code: "conflict", state: "found", permitted: []string{"assign", "dismiss"}, reason: "not_permitted"},
		{name: "verify while assigned", method: "POST", path: "/api/v1/problems/" + assigned + "/transitions", who: "inspector", body: `{"trigger":"verify","opinion":"ok"}`,
			status: 409, code: "conflict", state: "assigned", permitted: []string{}, reason: "not_permitted"},
		{name: "stale If-Match", method: "POST", path: "/api/v1/problems/" + assigned + "/transitions", who: "fuliang", body: `{"trigger":"accept","plan":"p"}`,
			hdr: []string{"If-Match", `"1"`}, status: 412, code: "precondition_failed", reason: "stale_version"},
		{name: "too large", method: "POST", path: "/api/v1/problems", who: "bureau", body: big, status: 413, code: "too_large", reason: "body_too_large"},
		{name: "unsupported evidence type", method: "POST", path: "/api/v1/problems/" + assigned + "/evidence", who: "fuliang", body: string(exe),
			hdr: []string{"Content-Type", exeType}, status: 415, code: "unsupported_type", field: "file", reason: "file_type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v.t = t
			rec := v.do(tt.method, tt.path, tt.who, tt.body, tt.hdr...)
			p := v.fails(rec, tt.status, tt.code)
			if p.Field != tt.field || p.State != tt.state {
				t.Errorf("field %q state %q, want %q %q", p.Field, p.State, tt.field, tt.state)
			}
			if tt.permitted != nil && !slices.Equal(p.PermittedTriggers, tt.permitted) || tt.permitted == nil && p.PermittedTriggers != nil {
				t.Errorf("permitted_triggers %v, want %v", p.PermittedTriggers, tt.permitted)
			}
			if p.Reason != tt.reason {
				t.Errorf("reason %q, want %q", p.Reason, tt.reason)
			}
			if p.Instance != strings.Split(tt.path, "?")[0] {
				t.Errorf("instance %q", p.Instance)
			}
			if rec.Code == 401 && !strings.HasPrefix(rec.Header().Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("401 with WWW-Authenticate %q", rec.Header().Get("WWW-Authenticate"))
			}
			if rec.Code == 405 && !strings.Contains(rec.Header().Get("Allow"), "GET") {
				t.Errorf("405 Allow %q", rec.Header().Get("Allow"))
			}
		})
	}
}

// TestInternalError shows a generic message and logs the real error.
func TestInternalError(t *testing.T) {
	v := newEnv(t)
	id := v.create("问题")
	v.store.failProblem = errors.New("disk on fire")
	rec := v.do("GET", "/api/v1/problems/"+id, "bureau", nil, "X-Request-ID", "req-500")
	p := v.fails(rec, 500, "internal")
	if p.Detail != "internal error" || strings.Contains(rec.Body.String(), "disk") {
		t.Errorf("body leaks the fault: %s", rec.Body)
	}
	logs := v.logs.String()
	if !strings.Contains(logs, "disk on fire") || !strings.Contains(logs, `"request_id":"req-500"`) || !strings.Contains(logs, `"level":"ERROR"`) {
		t.Errorf("the real error is not logged: %s", logs)
	}
}

func TestHealthAndReadiness(t *testing.T) {
	v := newEnv(t)
	if m := v.ok(v.do("GET", "/healthz", "", nil), 200); m["status"] != "ok" {
		t.Errorf("healthz %v", m)
	}
	m := v.ok(v.do("GET", "/readyz", "", nil), 200)
	if m["status"] != "ready" || !reflect.DeepEqual(m["checks"], map[string]any{"store": "ok", "panics": "ok"}) {
		t.Errorf("readyz %v", m)
	}
	v.ready = errors.New("store closed")
	p := v.fails(v.do("GET", "/readyz", "", nil), 503, "unavailable")
	if p.Detail != "not ready: store: store closed" || p.Checks["store"] != "store closed" || p.Checks["panics"] != "ok" {
		t.Errorf("readyz while the store check fails: %+v", p)
	}
}
