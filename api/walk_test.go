package api_test

import (
	"context"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jdz-eco/rectify/workflow"
)

// TestWalk takes one problem from found to closed through HTTP with bureau,
// unit and inspector tokens, through one rejection and one reopen, each step
// conditioned on the ETag of the step before; evidence is uploaded before
// each submission, and verify and close record signatures.
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
	upload := func(who, name string, data []byte) {
		t.Helper()
		v.clock.Advance(time.Hour)
		rec := v.upload(id, who, name, data, "整改佐证", "If-Match", etag)
		v.ok(rec, http.StatusCreated)
		if loc := rec.Header().Get("Location"); loc != "/api/v1/evidence/"+sha256Hex(data) {
			t.Errorf("upload %s: Location %q", name, loc)
		}
		etag = rec.Header().Get("ETag")
	}
	pdf := []byte("%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n")

	step("bureau", "assign", map[string]any{"lead_unit": "fuliang", "deadline": "2021-12-31", "cooperating_units": []string{"city-water"}, "requirements": "年底前完成"}, "assigned", "reassign")
	step("fuliang", "accept", map[string]any{"plan": "闭库治理方案"}, "rectifying") // submit waits for evidence
	note("water", "水利局已现场核查")
	note("fuliang", "完成50%")
	upload("fuliang", "闭库照片.png", v.png())
	step("fuliang", "submit", map[string]any{"summary": "已完成闭库"}, "submitted", "withdraw")
	step("inspector", "reject", map[string]any{"reason": "佐证材料不足"}, "rectifying")
	upload("water", "水利局核查报告.pdf", pdf)
	step("fuliang", "submit", map[string]any{"summary": "补充佐证材料"}, "submitted", "withdraw")
	verified := step("inspector", "verify", map[string]any{"opinion": "验收合格"}, "verified", "reopen")
	p = step("inspector2", "close", map[string]any{"statement": "同意销号"}, "closed", "reopen")
	if p["resolution"] != "rectified" || p["closed_by"] != v.users["inspector2"].ID || p["verified_by"] != v.users["inspector"].ID {
		t.Errorf("closed problem %v", p)
	}
	sigs := p["signatures"].([]any)
	if len(sigs) != 2 {
		t.Fatalf("signatures after close: %v", sigs)
	}
	vs, cs := sigs[0].(map[string]any), sigs[1].(map[string]any)
	wantSignature(t, vs, "verify", v.users["inspector"], "验收通过", verified["version"].(float64)-1)
	wantSignature(t, cs, "close", v.users["inspector2"], "同意销号", verified["version"].(float64))
	if vs["digest"] == cs["digest"] {
		t.Errorf("verify and close signed the same digest %v", vs["digest"])
	}
	step("bureau", "reopen", map[string]any{"reason": "回头看发现反弹", "deadline": "2022-03-31T18:00:00+08:00"}, "rectifying")
	upload("fuliang", "回头看.jpg", v.jpeg())
	step("fuliang", "submit", map[string]any{"summary": "再次整改"}, "submitted", "withdraw")
	step("inspector2", "verify", map[string]any{"opinion": "复验合格"}, "verified", "reopen")
	p = step("bureau", "close", map[string]any{"statement": "销号"}, "closed", "reopen")
	if p["resolution"] != "rectified" || p["deadline"] != "2022-03-31T10:00:00Z" || p["original_deadline"] != "2022-03-31T10:00:00Z" {
		t.Errorf("final problem %v", p)
	}
	if sigs = p["signatures"].([]any); len(sigs) != 4 || !reflect.DeepEqual(sigs[0], vs) || !reflect.DeepEqual(sigs[1], cs) {
		t.Errorf("signatures after the second close: %v", sigs)
	}
	wantSignature(t, sigs[2].(map[string]any), "verify", v.users["inspector2"], "验收通过", p["version"].(float64)-2)
	wantSignature(t, sigs[3].(map[string]any), "close", v.users["bureau"], "同意销号", p["version"].(float64)-1)
	var names []string
	for _, x := range p["evidence"].([]any) {
		ev := x.(map[string]any)
		names = append(names, ev["name"].(string))
		if ev["submitted"] != true || ev["description"] != "整改佐证" {
			t.Errorf("evidence %v", ev)
		}
	}
	if want := []string{"闭库照片.png", "水利局核查报告.pdf", "回头看.jpg"}; !slices.Equal(names, want) {
		t.Errorf("evidence %v, want %v", names, want)
	}

	// The history holds every step in order, with its actor.
	h := v.ok(v.do("GET", path+"/history", "fuliang", nil), http.StatusOK)["items"].([]any)
	want := []struct{ action, who, from, to string }{
		{"create", "bureau", "", "found"},
		{"assign", "bureau", "found", "assigned"},
		{"accept", "fuliang", "assigned", "rectifying"},
		{"note", "water", "rectifying", "rectifying"},
		{"note", "fuliang", "rectifying", "rectifying"},
		{"evidence", "fuliang", "rectifying", "rectifying"},
		{"submit", "fuliang", "rectifying", "submitted"},
		{"reject", "inspector", "submitted", "rectifying"},
		{"evidence", "water", "rectifying", "rectifying"},
		{"submit", "fuliang", "rectifying", "submitted"},
		{"verify", "inspector", "submitted", "verified"},
		{"close", "inspector2", "verified", "closed"},
		{"reopen", "bureau", "closed", "rectifying"},
		{"evidence", "fuliang", "rectifying", "rectifying"},
		{"submit", "fuliang", "rectifying", "submitted"},
		{"verify", "inspector2", "submitted", "verified"},
		{"close", "bureau", "verified", "closed"},
	}
	if len(h) != len(want) {
		t.Fatalf("history has %d entries, want %d", len(h), len(want))
	}
	var lastSeq float64
	prevHash := strings.Repeat("0", 64) // the problem's entries are the whole ledger
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
		if hash, _ := e["hash"].(string); e["prev_hash"] != prevHash || len(hash) != 64 {
			t.Errorf("entry %d: prev_hash %v hash %v, want prev_hash %s", i, e["prev_hash"], e["hash"], prevHash)
		} else {
			prevHash = hash
		}
	}
	// Each sign-off is in the history of its command, and its digest is that
	// of the problem as replayed up to the version signed.
	for i, x := range p["signatures"].([]any) {
		sg := x.(map[string]any)
		var entry map[string]any
		for _, y := range h {
			if e := y.(map[string]any); e["action"] == sg["action"] && e["version"] == sg["version"].(float64)+1 {
				entry = e
			}
		}
		if entry == nil || !reflect.DeepEqual(entry["params"].(map[string]any)["signature"], sg) {
			t.Errorf("signature %d %v is not in the history entry %v", i, sg, entry)
		}
		if d := digestAt(t, v, id, uint64(sg["version"].(float64))); sg["digest"] != d {
			t.Errorf("signature %d: digest %v, replayed %s", i, sg["digest"], d)
		}
	}
	prm := h[5].(map[string]any)["params"].(map[string]any)
	if ev, _ := prm["evidence"].(map[string]any); ev["name"] != "闭库照片.png" || ev["type"] != "image/png" || ev["uploaded_by"] != v.users["fuliang"].ID {
		t.Errorf("evidence params %v", prm)
	}
	prm = h[3].(map[string]any)["params"].(map[string]any)
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
	v.evidence(id, "fuliang")
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

// wantSignature checks a sign-off shown on a problem.
func wantSignature(t *testing.T, sg map[string]any, action string, u *workflow.User, meaning string, version float64) {
	t.Helper()
	digest, _ := sg["digest"].(string)
	at, _ := sg["at"].(string)
	if sg["action"] != action || sg["signer_id"] != u.ID || sg["signer_name"] != u.Name || sg["unit_id"] != u.UnitID ||
		sg["role"] != string(u.Role) || sg["meaning"] != meaning || sg["version"] != version || len(digest) != 64 || !strings.HasSuffix(at, "Z") {
		t.Errorf("signature %v, want %s by %s (%s) of version %v", sg, action, u.Name, meaning, version)
	}
}

// digestAt replays problem id's stored history up to version and returns
// the sign-off digest of the problem as it then stood.
func digestAt(t *testing.T, v *env, id string, version uint64) string {
	t.Helper()
	entries, err := v.svc.History(context.Background(), v.users["bureau"].Actor(), id)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for n < len(entries) && entries[n].Version <= version {
		n++
	}
	p, err := workflow.Replay(entries[:n])
	if err != nil {
		t.Fatal(err)
	}
	if p.Version != version {
		t.Fatalf("replayed to version %d, want %d", p.Version, version)
	}
	return workflow.SignoffDigest(p)
}

func toStrings(x any) []string {
	out := []string{}
	for _, s := range x.([]any) {
		out = append(out, s.(string))
	}
	return out
}
