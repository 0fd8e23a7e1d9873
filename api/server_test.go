package api_test

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/jdz-eco/rectify/api"
)

// TestMetrics: /metrics exposes the request, transition, refusal and commit
// metrics after requests, labelled by route pattern, never by raw URL.
func TestMetrics(t *testing.T) {
	v := newEnv(t)
	id := v.assigned()
	v.ok(v.do("GET", "/api/v1/problems/"+id, "bureau", nil), 200)
	v.fails(v.do("GET", "/api/v1/problems/"+id, "leping", nil), 404, "not_found")
	v.fails(v.do("POST", "/api/v1/problems/"+id+"/transitions", "fuliang", `{"trigger":"verify","opinion":"o"}`), 409, "conflict")
	v.fails(v.do("GET", "/no/such/route-12345", "", nil), 404, "not_found")

	rec := v.do("GET", "/metrics", "", nil)
	if rec.Code != 200 {
		t.Fatalf("/metrics: %d", rec.Code)
	}
	body := rec.Body.String()
	for _, want := range []string{
		`rectify_http_requests_total{method="GET",route="/api/v1/problems/:id",status="200"} 1`,
		`rectify_http_requests_total{method="GET",route="/api/v1/problems/:id",status="404"} 1`,
		`rectify_http_requests_total{method="POST",route="/api/v1/problems",status="201"} 1`,
		`rectify_http_requests_total{method="GET",route="unmatched",status="404"} 1`,
		`rectify_http_request_duration_seconds_count{method="POST",route="/api/v1/problems/:id/transitions",status="409"} 1`,
		`rectify_transitions_total{trigger="assign"} 1`,
		`rectify_refusals_total{code="not_found"} 2`,
		`rectify_refusals_total{code="conflict"} 1`,
		`rectify_store_commit_seconds_count`,
		`rectify_store_commit_group_size_count`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(body, "route-12345") {
		t.Error("a raw URL became a label")
	}
	// A nil *Metrics records nothing and does not panic.
	var m *api.Metrics
	m.ObserveCommit(0)
	m.ObserveGroup(1)
}

func TestUsersAndUnits(t *testing.T) {
	v := newEnv(t)
	units := v.ok(v.do("GET", "/api/v1/units", "viewer", nil), 200)["items"].([]any)
	if len(units) != 5 || units[0].(map[string]any)["id"] != "city-eeb" {
		t.Fatalf("units %v", units)
	}
	found := false
	for _, u := range units {
		m := u.(map[string]any)
		found = found || m["id"] == "fuliang" && m["name"] == "浮梁县" && m["kind"] == "county"
	}
	if !found {
		t.Errorf("浮梁县 missing from %v", units)
	}

	rec := v.do("POST", "/api/v1/users", "admin", `{"name":"新干部","role":"unit","unit_id":"leping"}`)
	m := v.ok(rec, http.StatusCreated)
	user := m["user"].(map[string]any)
	token := m["token"].(string)
	if user["name"] != "新干部" || user["role"] != "unit" || user["unit_id"] != "leping" || user["id"] == "" || !strings.HasPrefix(token, "rt_") {
		t.Errorf("created %v", m)
	}
	if rec.Header().Get("Cache-Control") != "no-store" {
		t.Error("the token response may be cached")
	}
	v.tokens["new"] = token
	v.ok(v.do("GET", "/api/v1/units", "new", nil), 200)

	for body, field := range map[string]string{
		`{"name":"x","role":"god","unit_id":"leping"}`:        "role",
		`{"name":"x","role":"unit","unit_id":"atlantis"}`:     "unit_id",
		`{"name":"","role":"unit","unit_id":"leping"}`:        "name",
		`{"name":"x","role":"unit","unit_id":"leping","a":1}`: "a",
		`{"name":"x","role":1,"unit_id":"leping"}`:            "role",
	} {
		if p := v.fails(v.do("POST", "/api/v1/users", "admin", body), 400, "invalid"); p.Field != field {
			t.Errorf("%s: field %q, want %q", body, p.Field, field)
		}
	}
}

func TestWorkflowDocument(t *testing.T) {
	v := newEnv(t)
	m := v.ok(v.do("GET", "/api/v1/workflow", "viewer", nil), 200)
	if len(m["states"].([]any)) != 7 || len(m["triggers"].([]any)) != 12 || len(m["transitions"].([]any)) < 10 {
		t.Errorf("workflow %v", m)
	}
	if !strings.Contains(m["dot"].(string), "digraph") || !strings.HasPrefix(m["mermaid"].(string), "stateDiagram-v2") {
		t.Errorf("dot/mermaid %v %v", m["dot"], m["mermaid"])
	}
	assign := m["params"].(map[string]any)["assign"].(map[string]any)
	if got := toStrings(assign["required"]); len(got) != 2 || got[0] != "lead_unit" {
		t.Errorf("assign params %v", assign)
	}
	if m["substates"].(map[string]any)["submitted"] != "rectifying" {
		t.Errorf("substates %v", m["substates"])
	}
}

// TestRequestLog: one line per request with method, route, status, latency
// and request id; a client's well-formed X-Request-ID is kept, anything else
// replaced; the client IP is the peer's, not X-Forwarded-For.
func TestRequestLog(t *testing.T) {
	v := newEnv(t)
	rec := v.do("GET", "/api/v1/units", "viewer", nil, "X-Request-ID", "abc-123", "X-Forwarded-For", "6.6.6.6")
	if rec.Header().Get("X-Request-ID") != "abc-123" {
		t.Errorf("X-Request-ID %q", rec.Header().Get("X-Request-ID"))
	}
	rec = v.do("GET", "/healthz", "", nil, "X-Request-ID", "bad\nid")
	// A made-up ID is 24 hex digits (which may well spell "bad").
	if id := rec.Header().Get("X-Request-ID"); !regexp.MustCompile(`^[0-9a-f]{24}$`).MatchString(id) {
		t.Errorf("X-Request-ID %q", id)
	}
	lines := strings.Split(strings.TrimSpace(v.logs.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d log lines: %s", len(lines), v.logs)
	}
	var l map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &l); err != nil {
		t.Fatal(err)
	}
	if l["method"] != "GET" || l["route"] != "/api/v1/units" || l["status"] != 200.0 || l["request_id"] != "abc-123" ||
		l["latency"] == nil || l["ip"] != "192.0.2.1" || l["level"] != "INFO" {
		t.Errorf("log line %v", l)
	}
}
