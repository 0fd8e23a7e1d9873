package api_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestWalk takes one problem from found to closed through HTTP with bureau,
// unit and inspector tokens, through one rejection and one reopen, each step
// conditioned on the ETag of the step before.
func TestWalk(t *testing.T) {
	v := newEnv(t)
	rec := v.do("POST", "/api/v1/problems", "bureau", map[string]any{
		"title": "尾矿库污染隐患", "description": "浮梁县茅棚店锡矿尾矿库", "source": "self_inspection",
		"county_id": "fuliang", "work_point": 7,
	})
	p := v.ok(rec, http.StatusCreated)
	id, etag := p["id"].(string), rec.Header().Get("ETag")
	path := "/api/v1/problems/" + id

	step := func(who, trigger string, params map[string]any, state string, permitted ...string) map[string]any {
		t.Helper()
		body := map[string]any{"trigger": trigger}
		for k, x := range params {
			body[k] = x
		}
		v.clock.Advance(24 * time.Hour)
		rec := v.do("POST", path+"/transitions", who, body, "If-Match", etag)
		p := v.ok(rec, http.StatusOK)
		if p["state"] != state {
			t.Fatalf("%s by %s: state %v, want %s", trigger, who, p["state"], state)
		}
		if got := toStrings(p["permitted_triggers"]); !slices.Equal(got, permitted) {
			t.Errorf("%s by %s: permitted_triggers %v, want %v", trigger, who, got, permitted)
		}
		if next := rec.Header().Get("ETag"); next == etag || next != etagOf(p["version"].(float64)) {
			t.Errorf("%s: ETag %s after %s", trigger, next, etag)
		}
		etag = rec.Header().Get("ETag")
		return p
	}
	note := func(who, text string) {
		t.Helper()
		rec := v.do("POST", path+"/notes", who, map[string]any{"text": text}, "If-Match", etag)
		v.ok(rec, http.StatusOK)
		etag = rec.Header().Get("ETag")
	}

	step("bureau", "assign", map[string]any{"lead_unit": "fuliang", "deadline": "2021-12-31", "cooperating_units": []string{"city-water"}, "requirements": "年底前完成"}, "assigned", "reassign")
	step("fuliang", "accept", map[string]any{"plan": "闭库治理方案"}, "rectifying", "submit")
	note("water", "水利局已现场核查")
	note("fuliang", "完成50%")
	step("fuliang", "submit", map[string]any{"summary": "已完成闭库"}, "submitted", "withdraw")
	step("inspector", "reject", map[string]any{"reason": "佐证材料不足"}, "rectifying")
	step("fuliang", "submit", map[string]any{"summary": "补充佐证材料"}, "submitted", "withdraw")
	step("inspector", "verify", map[string]any{"opinion": "验收合格"}, "verified", "reopen")
	p = step("inspector2", "close", map[string]any{"statement": "同意销号"}, "closed", "reopen")
	if p["resolution"] != "rectified" || p["closed_by"] != v.users["inspector2"].ID || p["verified_by"] != v.users["inspector"].ID {
		t.Errorf("closed problem %v", p)
	}
	step("bureau", "reopen", map[string]any{"reason": "回头看发现反弹", "deadline": "2022-03-31T18:00:00+08:00"}, "rectifying")
	step("fuliang", "submit", map[string]any{"summary": "再次整改"}, "submitted", "withdraw")
	step("inspector2", "verify", map[string]any{"opinion": "复验合格"}, "verified", "reopen")
	p = step("bureau", "close", map[string]any{"statement": "销号"}, "closed", "reopen")
	if p["resolution"] != "rectified" || p["deadline"] != "2022-03-31T10:00:00Z" || p["original_deadline"] != "2022-03-31T10:00:00Z" {
		t.Errorf("final problem %v", p)
	}

	// The history holds every step in order, with its actor.
	h := v.ok(v.do("GET", path+"/history", "fuliang", nil), http.StatusOK)["items"].([]any)
	want := []struct{ action, who, from, to string }{
		{"create", "bureau", "", "found"},
		{"assign", "bureau", "found", "assigned"},
		{"accept", "fuliang", "assigned", "rectifying"},
		{"note", "water", "rectifying", "rectifying"},
		{"note", "fuliang", "rectifying", "rectifying"},
		{"submit", "fuliang", "rectifying", "submitted"},
		{"reject", "inspector", "submitted", "rectifying"},
		{"submit", "fuliang", "rectifying", "submitted"},
		{"verify", "inspector", "submitted", "verified"},
		{"close", "inspector2", "verified", "closed"},
		{"reopen", "bureau", "closed", "rectifying"},
		{"submit", "fuliang", "rectifying", "submitted"},
		{"verify", "inspector2", "submitted", "verified"},
		{"close", "bureau", "verified", "closed"},
	}
	if len(h) != len(want) {
		t.Fatalf("history has %d entries, want %d", len(h), len(want))
	}
	var lastSeq float64
	for i, w := range want {
		e := h[i].(map[string]any)
		actor := e["actor"].(map[string]any)
		from, _ := e["from"].(string)
		u := v.users[w.who]
		if e["action"] != w.action || actor["id"] != u.ID || actor["name"] != u.Name || actor["role"] != string(u.Role) ||
			actor["unit_id"] != u.UnitID || from != w.from || e["to"] != w.to {
			t.Errorf("entry %d: %v, want %+v", i, e, w)
		}
		if seq := e["seq"].(float64); seq <= lastSeq {
			t.Errorf("entry %d: seq %v after %v", i, seq, lastSeq)
		} else {
			lastSeq = seq
		}
		if at := e["at"].(string); !strings.HasSuffix(at, "Z") {
			t.Errorf("entry %d: at %q is not UTC", i, at)
		}
		if e["version"] != float64(i+1) {
			t.Errorf("entry %d: version %v", i, e["version"])
		}
	}
	prm := h[3].(map[string]any)["params"].(map[string]any)
	if prm["text"] != "水利局已现场核查" {
		t.Errorf("note params %v", prm)
	}
	prm = h[1].(map[string]any)["params"].(map[string]any)
	if prm["deadline"] != "2021-12-31T15:59:59Z" || prm["lead_unit"] != "fuliang" {
		t.Errorf("assign params %v", prm)
	}
}

// TestSeparationOfDuties over HTTP: the submitter and an inspector of the
// lead unit cannot verify; the verifier cannot close. Refusals change nothing.
func TestSeparationOfDuties(t *testing.T) {
	v := newEnv(t)
	id := v.assigned()
	path := "/api/v1/problems/" + id + "/transitions"
	v.fire(id, "fuliang", "accept", map[string]any{"plan": "方案"})
	v.fire(id, "fuliang", "submit", map[string]any{"summary": "完成"})

	before := v.snapshot(id)
	for _, who := range []string{"fuliang", "fl-inspector", "bureau"} {
		p := v.fails(v.do("POST", path, who, `{"trigger":"verify","opinion":"合格"}`), http.StatusForbidden, "forbidden")
		if who == "fl-inspector" && !strings.Contains(p.Detail, "separation of duties") {
			t.Errorf("%s: detail %q", who, p.Detail)
		}
	}
	if after := v.snapshot(id); after != before {
		t.Errorf("refused verify changed the problem: %+v → %+v", before, after)
	}

	v.fire(id, "inspector", "verify", map[string]any{"opinion": "合格"})
	before = v.snapshot(id)
	p := v.fails(v.do("POST", path, "inspector", `{"trigger":"close","statement":"销号"}`), http.StatusForbidden, "forbidden")
	if !strings.Contains(p.Detail, "verifier") {
		t.Errorf("detail %q", p.Detail)
	}
	v.fails(v.do("POST", path, "fuliang", `{"trigger":"close","statement":"销号"}`), http.StatusForbidden, "forbidden")
	if after := v.snapshot(id); after != before {
		t.Errorf("refused close changed the problem: %+v → %+v", before, after)
	}
	// Another inspector may.
	v.fire(id, "inspector2", "close", map[string]any{"statement": "销号"})
}

func toStrings(x any) []string {
	out := []string{}
	for _, s := range x.([]any) {
		out = append(out, s.(string))
	}
	return out
}
