package api_test

import (
	"io"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jdz-eco/rectify/workflow"
)

// TestVisibility: a unit officer of 乐平市 cannot see a problem led by 浮梁县.
func TestVisibility(t *testing.T) {
	v := newEnv(t)
	id := v.assigned()
	before := v.snapshot(id)
	path := "/api/v1/problems/" + id
	v.fails(v.do("GET", path, "leping", nil), 404, "not_found")
	v.fails(v.do("GET", path+"/history", "leping", nil), 404, "not_found")
	v.fails(v.do("POST", path+"/transitions", "leping", `{"trigger":"accept","plan":"p"}`), 404, "not_found")
	v.fails(v.do("POST", path+"/notes", "leping", `{"text":"进展"}`), 404, "not_found")
	if after := v.snapshot(id); after != before {
		t.Errorf("refused requests changed the problem: %+v → %+v", before, after)
	}
	for _, q := range []string{"", "?lead_unit=fuliang", "?county=fuliang", "?state=assigned"} {
		if items := v.ok(v.do("GET", "/api/v1/problems"+q, "leping", nil), 200)["items"].([]any); len(items) != 0 {
			t.Errorf("leping lists %v with %q", items, q)
		}
	}
	// The lead and the cooperating unit see it, and so does the viewer.
	for _, who := range []string{"fuliang", "water", "viewer"} {
		v.ok(v.do("GET", path, who, nil), 200)
		if items := v.ok(v.do("GET", "/api/v1/problems", who, nil), 200)["items"].([]any); len(items) != 1 {
			t.Errorf("%s lists %d problems, want 1", who, len(items))
		}
	}
}

// TestBadInputChangesNothing: every malformed request is refused with its
// 4xx and leaves the problem's version and history as they were.
func TestBadInputChangesNothing(t *testing.T) {
	v := newEnv(t)
	id := v.assigned()
	tr := "/api/v1/problems/" + id + "/transitions"
	notes := "/api/v1/problems/" + id + "/notes"
	huge := `{"trigger":"accept","plan":"` + strings.Repeat("计", 400_000) + `"}`
	tests := []struct {
		name, path, who string
		body            any
		hdr             []string
		status          int
		code, field     string
	}{
		{"malformed JSON", tr, "fuliang", `{"trigger":"accept",`, nil, 400, "invalid", ""},
		{"not JSON", tr, "fuliang", `trigger=accept`, nil, 400, "invalid", ""},
		{"empty body", tr, "fuliang", ``, nil, 400, "invalid", ""},
		{"array body", tr, "fuliang", `[]`, nil, 400, "invalid", ""},
		{"trailing data", tr, "fuliang", `{"trigger":"accept","plan":"p"} {"trigger":"accept"}`, nil, 400, "invalid", ""},
		{"unknown field", tr, "fuliang", `{"trigger":"accept","plan":"p","bogus":1}`, nil, 400, "invalid", "bogus"},
		{"field of another trigger", tr, "fuliang", `{"trigger":"accept","plan":"p","deadline":"2021-12-31"}`, nil, 400, "invalid", "deadline"},
		{"wrong type", tr, "fuliang", `{"trigger":"accept","plan":5}`, nil, 400, "invalid", "plan"},
		{"wrong type list", tr, "bureau", `{"trigger":"reassign","reason":"r","cooperating_units":"leping"}`, nil, 400, "invalid", "cooperating_units"},
		{"wrong type trigger", tr, "fuliang", `{"trigger":["accept"],"plan":"p"}`, nil, 400, "invalid", "trigger"},
		{"missing trigger", tr, "fuliang", `{"plan":"p"}`, nil, 400, "invalid", "trigger"},
		{"unknown trigger", tr, "fuliang", `{"trigger":"explode"}`, nil, 400, "invalid", "trigger"},
		{"missing param", tr, "fuliang", `{"trigger":"accept"}`, nil, 400, "invalid", "plan"},
		{"unparsable deadline", tr, "bureau", `{"trigger":"reassign","reason":"r","deadline":"31/12/2021"}`, nil, 400, "invalid", "deadline"},
		{"deadline wrong type", tr, "bureau", `{"trigger":"reassign","reason":"r","deadline":20211231}`, nil, 400, "invalid", "deadline"},
		{"unknown unit", tr, "bureau", `{"trigger":"reassign","reason":"r","lead_unit":"atlantis"}`, nil, 400, "invalid", "lead_unit"},
		{"oversized body", tr, "fuliang", huge, nil, 413, "too_large", ""},
		{"oversized chunked body", tr, "fuliang", io.MultiReader(strings.NewReader(huge)), nil, 413, "too_large", ""},
		{"malformed If-Match", tr, "fuliang", `{"trigger":"accept","plan":"p"}`, []string{"If-Match", "2"}, 400, "invalid", "If-Match"},
		{"If-Match list without the version", tr, "fuliang", `{"trigger":"accept","plan":"p"}`, []string{"If-Match", `"1", "3"`}, 412, "precondition_failed", ""},
		{"If-Match list with a malformed tag", tr, "fuliang", `{"trigger":"accept","plan":"p"}`, []string{"If-Match", `"2", 3`}, 400, "invalid", "If-Match"},
		{"current weak If-Match", tr, "fuliang", `{"trigger":"accept","plan":"p"}`, []string{"If-Match", `W/"2"`}, 412, "precondition_failed", ""},
		{"stale If-Match", tr, "fuliang", `{"trigger":"accept","plan":"p"}`, []string{"If-Match", `"1"`}, 412, "precondition_failed", ""},
		{"stale weak If-Match", tr, "fuliang", `{"trigger":"accept","plan":"p"}`, []string{"If-Match", `W/"9"`}, 412, "precondition_failed", ""},
		{"note unknown field", notes, "fuliang", `{"text":"t","at":"now"}`, nil, 400, "invalid", "at"},
		{"note wrong type", notes, "fuliang", `{"text":true}`, nil, 400, "invalid", "text"},
		{"note empty", notes, "fuliang", `{"text":"  "}`, nil, 400, "invalid", "text"},
		{"note malformed", notes, "fuliang", `{"text":"t"`, nil, 400, "invalid", ""},
		{"note stale If-Match", notes, "fuliang", `{"text":"t"}`, []string{"If-Match", `"1"`}, 412, "precondition_failed", ""},
		{"note oversized", notes, "fuliang", `{"text":"` + strings.Repeat("x", 2<<20) + `"}`, nil, 413, "too_large", ""},
	}
	before := v.snapshot(id)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v.t = t
			p := v.fails(v.do("POST", tt.path, tt.who, tt.body, tt.hdr...), tt.status, tt.code)
			if p.Field != tt.field {
				t.Errorf("field %q, want %q (%s)", p.Field, tt.field, p.Detail)
			}
			if after := v.snapshot(id); after != before {
				t.Errorf("the problem changed: %+v → %+v", before, after)
			}
		})
	}
	v.t = t
	// The same request with a good If-Match goes through; a weak tag of the
	// current version never matches (RFC 9110 strong comparison).
	v.ok(v.do("POST", tr, "fuliang", `{"trigger":"accept","plan":"p"}`, "If-Match", before.etag), 200)
	v.fails(v.do("POST", notes, "fuliang", `{"text":"t"}`, "If-Match", "W/"+etagOf(before.version+1)), 412, "precondition_failed")
	v.ok(v.do("POST", notes, "fuliang", `{"text":"t"}`, "If-Match", etagOf(before.version+1)), 200)
}

func etagOf(version float64) string {
	return `"` + strconv.FormatFloat(version, 'f', -1, 64) + `"`
}

// TestCreateBadInputCreatesNothing: a refused create logs no problem.
func TestCreateBadInputCreatesNothing(t *testing.T) {
	v := newEnv(t)
	for _, tt := range []struct{ body, field string }{
		{`{"title":"t","description":"d","source":"audit","county_id":"fuliang","extra":1}`, "extra"},
		{`{"title":"t","description":"d","source":"audit","county_id":"fuliang","work_point":"7"}`, "work_point"},
		{`{"title":"t","description":"d","source":"rumour","county_id":"fuliang"}`, "source"},
		{`{"title":"t","description":"d","source":"audit","county_id":"city-eeb"}`, "county_id"},
		{`{"title":"t","description":"d","source":"audit","county_id":"fuliang","dedupe_key":"k"}`, "dedupe_key"},
		{`{"title":"t","description":"d","source":"audit","county_id":"fuliang","work_point":99}`, "work_point"},
		{`{"title":"","description":"d","source":"audit","county_id":"fuliang"}`, "title"},
	} {
		p := v.fails(v.do("POST", "/api/v1/problems", "bureau", tt.body), 400, "invalid")
		if p.Field != tt.field {
			t.Errorf("%s: field %q, want %q", tt.body, p.Field, tt.field)
		}
	}
	if items := v.ok(v.do("GET", "/api/v1/problems", "bureau", nil), 200)["items"].([]any); len(items) != 0 {
		t.Errorf("refused creates left %d problems", len(items))
	}
}

func TestCreateAndGet(t *testing.T) {
	v := newEnv(t)
	rec := v.do("POST", "/api/v1/problems", "bureau", map[string]any{
		"title": "黑臭水体", "description": "城区黑臭水体整治", "source": "warning_film",
		"county_id": "fuliang", "source_ref": "2021年警示片", "location": "浮梁县城",
	})
	p := v.ok(rec, 201)
	if loc := rec.Header().Get("Location"); loc != "/api/v1/problems/"+p["id"].(string) {
		t.Errorf("Location %q", loc)
	}
	if et := rec.Header().Get("ETag"); et != `"1"` || p["version"] != 1.0 {
		t.Errorf("ETag %q version %v", et, p["version"])
	}
	if p["code"] != "JDZ-2021-0001" || p["state"] != "found" || p["created_at"] != "2021-06-24T09:00:00Z" {
		t.Errorf("problem %v", p)
	}
	if _, ok := p["dedupe_key"]; ok {
		t.Error("dedupe_key is exposed")
	}
	if got := p["permitted_triggers"].([]any); len(got) != 2 || got[0] != "assign" || got[1] != "dismiss" {
		t.Errorf("bureau's permitted_triggers %v", got)
	}
	get := v.do("GET", "/api/v1/problems/"+p["id"].(string), "viewer", nil)
	g := v.ok(get, 200)
	if get.Header().Get("ETag") != `"1"` || len(g["permitted_triggers"].([]any)) != 0 {
		t.Errorf("viewer gets ETag %q triggers %v", get.Header().Get("ETag"), g["permitted_triggers"])
	}
	// The deadline of an assignment is the end of the day in Shanghai, in UTC.
	a := v.fire(p["id"].(string), "bureau", "assign", map[string]any{"lead_unit": "fuliang", "deadline": "2021-12-31"})
	if a["deadline"] != "2021-12-31T15:59:59Z" || a["original_deadline"] != "2021-12-31T15:59:59Z" {
		t.Errorf("deadline %v original %v", a["deadline"], a["original_deadline"])
	}
}

// computedFields are the Problem fields the API adds to workflow.Problem's.
var computedFields = []string{
	"permitted_triggers", "level", "days_overdue", "days_left", "effective_deadline",
	"stage_due", "paused", "extended", "unacknowledged_flags", "site_check_needed",
}

// TestProblemFields: the API shows every field of workflow.Problem except
// dedupe_key and the internal supervision record, and the OpenAPI schema lists
// exactly those plus the computed fields.
func TestProblemFields(t *testing.T) {
	want := map[string]bool{}
	for _, f := range computedFields {
		want[f] = true
	}
	rt := reflect.TypeFor[workflow.Problem]()
	for i := range rt.NumField() {
		name, _, _ := strings.Cut(rt.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" && name != "dedupe_key" && name != "supervision" {
			want[name] = true
		}
	}
	schema := openapiDoc(t)["components"].(map[string]any)["schemas"].(map[string]any)["Problem"].(map[string]any)
	props := schema["properties"].(map[string]any)
	for name := range want {
		if props[name] == nil {
			t.Errorf("the OpenAPI Problem schema lacks %s", name)
		}
	}
	for name := range props {
		if !want[name] {
			t.Errorf("the OpenAPI Problem schema has %s, which the API does not send", name)
		}
	}
	// A problem walked to closed carries every field.
	v := newEnv(t)
	id := v.assigned()
	v.fire(id, "fuliang", "accept", map[string]any{"plan": "方案"})
	v.evidence(id, "fuliang")
	v.fire(id, "fuliang", "submit", map[string]any{"summary": "完成"})
	v.fire(id, "inspector", "verify", map[string]any{"opinion": "合格"})
	p := v.fire(id, "inspector2", "close", map[string]any{"statement": "销号"})
	for name := range p {
		if !want[name] {
			t.Errorf("the API sends %s, which is not in the schema", name)
		}
	}
	for _, name := range schema["required"].([]any) {
		if _, ok := p[name.(string)]; !ok {
			t.Errorf("required %s missing from %v", name, p)
		}
	}
}

func TestListProblems(t *testing.T) {
	v := newEnv(t)
	var ids []string
	for i := range 3 {
		ids = append(ids, v.create("问题"+string(rune('A'+i))))
		v.clock.Advance(time.Minute)
	}
	v.fire(ids[1], "bureau", "assign", map[string]any{"lead_unit": "fuliang", "deadline": "2021-12-31"})

	page := v.ok(v.do("GET", "/api/v1/problems?limit=2", "bureau", nil), 200)
	items := page["items"].([]any)
	next, _ := page["next_cursor"].(string)
	if len(items) != 2 || next == "" {
		t.Fatalf("first page %d items, next %q", len(items), next)
	}
	page = v.ok(v.do("GET", "/api/v1/problems?limit=2&cursor="+next, "bureau", nil), 200)
	if items := page["items"].([]any); len(items) != 1 || items[0].(map[string]any)["id"] != ids[2] || page["next_cursor"] != "" {
		t.Errorf("second page %v", page)
	}
	for q, n := range map[string]int{"state=found": 2, "state=assigned": 1, "lead_unit=fuliang": 1, "county=fuliang": 3, "source=self_inspection": 3, "source=audit": 0,
		"work_point=7": 3, "work_point=8": 0, "work_point=7&state=assigned&county=fuliang&source=self_inspection": 1} {
		if items := v.ok(v.do("GET", "/api/v1/problems?"+q, "bureau", nil), 200)["items"].([]any); len(items) != n {
			t.Errorf("%s: %d items, want %d", q, len(items), n)
		}
	}
	for q, field := range map[string]string{
		"limit=0": "limit", "limit=x": "limit", "limit=501": "limit", "state=lost": "state",
		"source=rumour": "source", "cursor=zz": "cursor", "page=2": "page", "state=found&state=closed": "state",
		"work_point=0": "work_point", "work_point=x": "work_point",
	} {
		if p := v.fails(v.do("GET", "/api/v1/problems?"+q, "bureau", nil), http.StatusBadRequest, "invalid"); p.Field != field {
			t.Errorf("%s: field %q, want %q", q, p.Field, field)
		}
	}
}
