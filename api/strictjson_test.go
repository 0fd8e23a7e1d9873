package api_test

import (
	"net/http"
	"strings"
	"testing"
)

// TestStrictJSON reproduces issue 12 item 7's JSON defects: control
// characters in text, duplicate keys (also differing only in case, as
// encoding/json matches names case-insensitively) and invalid UTF-8 were
// accepted. Each is refused with 400 invalid naming the problem, and
// nothing is written.
func TestStrictJSON(t *testing.T) {
	v := newEnv(t)
	id := v.assigned()
	before := v.snapshot(id)
	create := func(title string) string {
		return `{"title":"` + title + `","description":"d","source":"audit","county_id":"fuliang"}`
	}
	tr := "/api/v1/problems/" + id + "/transitions"
	notes := "/api/v1/problems/" + id + "/notes"
	for _, c := range []struct {
		name, path, who, body string
		field, detail         string // what the refusal names
	}{
		{"NUL in a title", "/api/v1/problems", "bureau", create(`尾矿库\u0000污染`), "title", "control character"},
		{"escape in a title", "/api/v1/problems", "bureau", create(`尾矿库\u001b[31m`), "title", "control character"},
		{"DEL in a title", "/api/v1/problems", "bureau", create("尾矿库\x7f"), "title", "control character"},
		{"C1 control in a description", "/api/v1/problems", "bureau", `{"title":"t","description":"d\u0085","source":"audit","county_id":"fuliang"}`, "description", "control character"},
		{"bell in a note", notes, "fuliang", `{"text":"已排查\u0007"}`, "text", "control character"},
		{"NUL in a plan", tr, "fuliang", `{"trigger":"accept","plan":"方案\u0000"}`, "plan", "control character"},
		{"vertical tab in a reason", tr, "bureau", `{"trigger":"reassign","reason":"a\u000bb","deadline":"2022-01-01"}`, "reason", "control character"},
		{"NUL in a unit id", tr, "bureau", `{"trigger":"reassign","reason":"r","cooperating_units":["city-water\u0000"]}`, "cooperating_units", "control character"},
		{"duplicate key", "/api/v1/problems", "bureau", `{"title":"a","title":"b","description":"d","source":"audit","county_id":"fuliang"}`, "title", "duplicate"},
		{"duplicate key in case", "/api/v1/problems", "bureau", `{"title":"a","Title":"b","description":"d","source":"audit","county_id":"fuliang"}`, "Title", "duplicate"},
		{"duplicate key, Kelvin sign", "/api/v1/problems", "bureau", `{"title":"a","description":"d","source":"audit","county_id":"fuliang","wor\u212a_point":7,"work_point":7}`, "work_point", "duplicate"},
		{"duplicate trigger", tr, "fuliang", `{"trigger":"accept","plan":"p","trigger":"withdraw"}`, "trigger", "duplicate"},
		{"duplicate trigger in case", tr, "fuliang", `{"trigger":"accept","plan":"p","TRIGGER":"accept"}`, "TRIGGER", "duplicate"},
		{"duplicate parameter", tr, "fuliang", `{"trigger":"accept","plan":"p","plan":"q"}`, "plan", "duplicate"},
		{"duplicate note text", notes, "fuliang", `{"text":"a","Text":"b"}`, "Text", "duplicate"},
		{"invalid UTF-8", "/api/v1/problems", "bureau", create("尾矿库\xff\xfe"), "", "UTF-8"},
		{"truncated UTF-8", notes, "fuliang", "{\"text\":\"\xe5\xb0\"}", "", "UTF-8"},
		{"overlong UTF-8", notes, "fuliang", "{\"text\":\"\xc0\xaf\"}", "", "UTF-8"},
		{"surrogate in UTF-8", notes, "fuliang", "{\"text\":\"\xed\xa0\x80\"}", "", "UTF-8"},
		{"lone surrogate escape", notes, "fuliang", `{"text":"a\ud800b"}`, "", "surrogate"},
		{"reversed surrogate pair", notes, "fuliang", `{"text":"\udc00\ud800"}`, "", "surrogate"},
		{"invalid UTF-8 in a key", tr, "fuliang", "{\"trigger\":\"accept\",\"pl\xffan\":\"p\"}", "", "UTF-8"},
	} {
		t.Run(c.name, func(t *testing.T) {
			v.t = t
			p := v.fails(v.do("POST", c.path, c.who, c.body), http.StatusBadRequest, "invalid")
			if p.Field != c.field || !strings.Contains(p.Detail, c.detail) {
				t.Errorf("field %q detail %q; want field %q and %q", p.Field, p.Detail, c.field, c.detail)
			}
		})
	}
	v.t = t
	if after := v.snapshot(id); after != before {
		t.Fatalf("refusals changed the problem: %+v → %+v", before, after)
	}
	list := v.ok(v.do("GET", "/api/v1/problems", "bureau", nil), http.StatusOK)
	if n := len(list["items"].([]any)); n != 1 {
		t.Fatalf("refused creates wrote problems: %d listed", n)
	}
	// Line breaks and tabs are text; a valid surrogate pair is a character;
	// CRLF (as browsers send a textarea) is stored as LF.
	p := v.ok(v.do("POST", notes, "fuliang", `{"text":"第一行\r\n第二行\t完\ud83c\udf32"}`), http.StatusOK)
	_ = p
	h := v.ok(v.do("GET", "/api/v1/problems/"+id+"/history", "bureau", nil), http.StatusOK)
	items := h["items"].([]any)
	last := items[len(items)-1].(map[string]any)["params"].(map[string]any)["text"]
	if last != "第一行\n第二行\t完🌲" {
		t.Fatalf("note stored as %q", last)
	}
}
