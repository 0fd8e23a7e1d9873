package api_test

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestExtensions: the lead unit requests a later deadline, the bureau
// decides; who may, one pending at a time, history and deadline fields.
func TestExtensions(t *testing.T) {
	v := newEnv(t)
	id := v.assigned() // lead 浮梁县, 市水利局 cooperating, deadline 2021-12-31
	path := "/api/v1/problems/" + id + "/extensions"
	etag := v.do("GET", "/api/v1/problems/"+id, "fuliang", nil).Header().Get("ETag")
	req := map[string]any{"deadline": "2022-03-31", "reason": "汛期无法施工"}

	// Refusals change nothing.
	before := v.snapshot(id)
	for _, tt := range []struct {
		name, who string
		body      any
		hdr       []string
		status    int
		code      string
		field     string
	}{
		{"another unit", "leping", req, nil, 404, "not_found", ""},
		{"cooperating unit", "water", req, nil, 403, "forbidden", ""},
		{"bureau", "bureau", req, nil, 403, "forbidden", ""},
		{"viewer", "viewer", req, nil, 403, "forbidden", ""},
		{"stale If-Match", "fuliang", req, []string{"If-Match", `"1"`}, 412, "precondition_failed", ""},
		{"malformed If-Match", "fuliang", req, []string{"If-Match", "2"}, 400, "invalid", "If-Match"},
		{"unknown field", "fuliang", `{"deadline":"2022-03-31","reason":"r","days":90}`, nil, 400, "invalid", "days"},
		{"deadline wrong type", "fuliang", `{"deadline":20220331,"reason":"r"}`, nil, 400, "invalid", "deadline"},
		{"unparsable deadline", "fuliang", `{"deadline":"31/03/2022","reason":"r"}`, nil, 400, "invalid", "deadline"},
		{"missing deadline", "fuliang", `{"reason":"r"}`, nil, 400, "invalid", "deadline"},
		{"missing reason", "fuliang", `{"deadline":"2022-03-31","reason":"  "}`, nil, 400, "invalid", "reason"},
		{"earlier deadline", "fuliang", `{"deadline":"2021-12-30","reason":"r"}`, nil, 400, "invalid", "deadline"},
		{"malformed", "fuliang", `{"deadline":`, nil, 400, "invalid", ""},
		{"trailing data", "fuliang", `{"deadline":"2022-03-31","reason":"r"} {}`, nil, 400, "invalid", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			v.t = t
			p := v.fails(v.do("POST", path, tt.who, tt.body, tt.hdr...), tt.status, tt.code)
			if p.Field != tt.field {
				t.Errorf("field %q, want %q (%s)", p.Field, tt.field, p.Detail)
			}
		})
	}
	v.t = t
	if after := v.snapshot(id); after != before {
		t.Fatalf("refused requests changed the problem: %+v → %+v", before, after)
	}

	// The lead unit asks, conditioned on the ETag.
	v.clock.Advance(time.Hour)
	rec := v.do("POST", path, "fuliang", req, "If-Match", etag)
	p := v.ok(rec, http.StatusCreated)
	if loc := rec.Header().Get("Location"); loc != path+"/1" {
		t.Errorf("Location %q", loc)
	}
	if et := rec.Header().Get("ETag"); et != etagOf(p["version"].(float64)) || et == etag {
		t.Errorf("ETag %q after %q", et, etag)
	}
	exts := p["extensions"].([]any)
	if len(exts) != 1 {
		t.Fatalf("extensions %v", exts)
	}
	x := exts[0].(map[string]any)
	if x["id"] != "1" || x["status"] != "pending" || x["deadline"] != "2022-03-31T15:59:59Z" ||
		x["previous_deadline"] != "2021-12-31T15:59:59Z" || x["reason"] != "汛期无法施工" ||
		x["requested_by"] != v.users["fuliang"].ID || x["requested_at"] != "2021-06-24T11:00:00Z" {
		t.Errorf("extension %v", x)
	}
	for _, k := range []string{"decided_by", "decided_at", "note"} {
		if _, ok := x[k]; ok {
			t.Errorf("pending extension has %s: %v", k, x)
		}
	}
	if p["deadline"] != "2021-12-31T15:59:59Z" || p["extended"] != false {
		t.Errorf("a pending request moved the deadline: %v", p)
	}
	// The Location resolves, for whoever sees the problem.
	if got := v.ok(v.do("GET", path+"/1", "water", nil), 200); got["id"] != "1" || got["status"] != "pending" {
		t.Errorf("GET %s/1: %v", path, got)
	}
	v.fails(v.do("GET", path+"/1", "leping", nil), 404, "not_found")
	v.fails(v.do("GET", path+"/2", "bureau", nil), 404, "not_found")

	// One pending at a time.
	v.fails(v.do("POST", path, "fuliang", map[string]any{"deadline": "2022-06-30", "reason": "再次"}), 409, "conflict")

	// Decisions: the bureau only, on a known request.
	dec := path + "/1/decision"
	before = v.snapshot(id)
	for _, tt := range []struct {
		name, path, who, body string
		status                int
		code, field           string
	}{
		{"by the lead unit", dec, "fuliang", `{"decision":"approve"}`, 403, "forbidden", ""},
		{"by an inspector", dec, "inspector", `{"decision":"approve"}`, 403, "forbidden", ""},
		{"by another unit", dec, "leping", `{"decision":"approve"}`, 404, "not_found", ""},
		{"unknown request", path + "/9/decision", "bureau", `{"decision":"approve"}`, 404, "not_found", ""},
		{"unknown problem", "/api/v1/problems/99/extensions/1/decision", "bureau", `{"decision":"approve"}`, 404, "not_found", ""},
		{"bad decision", dec, "bureau", `{"decision":"maybe"}`, 400, "invalid", "decision"},
		{"missing decision", dec, "bureau", `{"note":"n"}`, 400, "invalid", "decision"},
		{"unknown field", dec, "bureau", `{"decision":"approve","deadline":"2022-12-31"}`, 400, "invalid", "deadline"},
		{"note wrong type", dec, "bureau", `{"decision":"approve","note":1}`, 400, "invalid", "note"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			v.t = t
			if p := v.fails(v.do("POST", tt.path, tt.who, tt.body), tt.status, tt.code); p.Field != tt.field {
				t.Errorf("field %q, want %q (%s)", p.Field, tt.field, p.Detail)
			}
		})
	}
	v.t = t
	if after := v.snapshot(id); after != before {
		t.Fatalf("refused decisions changed the problem: %+v → %+v", before, after)
	}
	v.fails(v.do("POST", dec, "bureau", `{"decision":"approve"}`, "If-Match", `"1"`), 412, "precondition_failed")

	// The bureau approves: the deadline moves, the original stays.
	v.clock.Advance(time.Hour)
	rec = v.do("POST", dec, "bureau", `{"decision":"approve","note":"同意延期"}`, "If-Match", before.etag)
	p = v.ok(rec, 200)
	if rec.Header().Get("ETag") != etagOf(p["version"].(float64)) {
		t.Errorf("ETag %q version %v", rec.Header().Get("ETag"), p["version"])
	}
	x = p["extensions"].([]any)[0].(map[string]any)
	if p["deadline"] != "2022-03-31T15:59:59Z" || p["original_deadline"] != "2021-12-31T15:59:59Z" || p["extended"] != true {
		t.Errorf("approved problem %v", p)
	}
	if x["status"] != "approved" || x["decided_by"] != v.users["bureau"].ID || x["decided_at"] != "2021-06-24T12:00:00Z" || x["note"] != "同意延期" {
		t.Errorf("approved extension %v", x)
	}
	v.fails(v.do("POST", dec, "bureau", `{"decision":"deny"}`), 409, "conflict")

	// A second request, denied.
	rec = v.do("POST", path, "fuliang", map[string]any{"deadline": "2022-06-30T18:00:00+08:00", "reason": "再次延期"})
	v.ok(rec, 201)
	if rec.Header().Get("Location") != path+"/2" {
		t.Errorf("Location %q", rec.Header().Get("Location"))
	}
	p = v.ok(v.do("POST", path+"/2/decision", "bureau", `{"decision":"deny"}`), 200)
	if x := p["extensions"].([]any)[1].(map[string]any); x["status"] != "denied" || x["previous_deadline"] != "2022-03-31T15:59:59Z" || p["deadline"] != "2022-03-31T15:59:59Z" {
		t.Errorf("denied: %v", p)
	}

	// Every step is in the history with its parameters.
	h := v.ok(v.do("GET", "/api/v1/problems/"+id+"/history", "fuliang", nil), 200)["items"].([]any)
	var steps []string
	for _, e := range h {
		e := e.(map[string]any)
		prm := e["params"].(map[string]any)
		switch e["action"] {
		case "extension_request":
			steps = append(steps, "request "+prm["extension_id"].(string)+" "+prm["deadline"].(string)+" "+prm["reason"].(string))
		case "extension_decision":
			note, _ := prm["note"].(string)
			steps = append(steps, "decision "+prm["extension_id"].(string)+" "+prm["decision"].(string)+" "+note)
		}
	}
	want := []string{
		"request 1 2022-03-31T15:59:59Z 汛期无法施工", "decision 1 approve 同意延期",
		"request 2 2022-06-30T10:00:00Z 再次延期", "decision 2 deny ",
	}
	if strings.Join(steps, "|") != strings.Join(want, "|") {
		t.Errorf("history %q, want %q", steps, want)
	}

	body := v.do("GET", "/metrics", "", nil).Body.String()
	for _, w := range []string{
		`rectify_extension_requests_total 2`,
		`rectify_extension_decisions_total{decision="approve"} 1`,
		`rectify_extension_decisions_total{decision="deny"} 1`,
	} {
		if !strings.Contains(body, w) {
			t.Errorf("/metrics lacks %s", w)
		}
	}
}

// TestExtensionAfterDeadline: once the deadline has passed the lead unit may
// no longer ask (no grace by default); an approved extension ends the
// overdue level.
func TestExtensionAfterDeadline(t *testing.T) {
	v := newEnv(t)
	id := v.assignTo("逾期延期", "fuliang", "fuliang", "2021-07-05")
	path := "/api/v1/problems/" + id + "/extensions"
	req := map[string]any{"deadline": "2021-09-30", "reason": "原因"}

	v.clock.Set(time.Date(2021, 7, 5, 15, 59, 59, 0, time.UTC)) // the last second
	v.ok(v.do("POST", path, "fuliang", req), 201)
	v.clock.Set(time.Date(2021, 7, 6, 0, 0, 0, 0, time.UTC))
	if p := v.get(id, "fuliang"); p["level"] != "overdue" || p["days_overdue"] != 1.0 {
		t.Errorf("before the decision: %v %v", p["level"], p["days_overdue"])
	}
	p := v.ok(v.do("POST", path+"/1/decision", "bureau", `{"decision":"approve"}`), 200)
	if _, ok := p["level"]; ok || p["days_left"] != 86.0 || p["extended"] != true {
		t.Errorf("after approval: level %v days_left %v extended %v", p["level"], p["days_left"], p["extended"])
	}

	// Past the new deadline: too late to ask again.
	v.clock.Set(time.Date(2021, 10, 1, 0, 0, 0, 0, time.UTC))
	p2 := v.fails(v.do("POST", path, "fuliang", map[string]any{"deadline": "2021-12-31", "reason": "再次"}), 403, "forbidden")
	if !strings.Contains(p2.Detail, "passed") {
		t.Errorf("detail %q", p2.Detail)
	}
	// Not in a state that may be extended.
	found := v.create("未交办")
	v.fails(v.do("POST", "/api/v1/problems/"+found+"/extensions", "bureau", req), 403, "forbidden")
}
