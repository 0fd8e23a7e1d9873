package api_test

import (
	"net/http"
	"testing"

	"github.com/jdz-eco/rectify/workflow"
	"github.com/jdz-eco/rectify/workflow/photocheck"
)

// TestSameFileAgainAfterRejection reproduces issue 16 over HTTP: the same
// photo.jpg uploaded again after a rejection let the unit submit again.
// Now the upload is 409 same_evidence and submit still needs a new file.
func TestSameFileAgainAfterRejection(t *testing.T) {
	v := newEnv(t)
	id := v.assigned()
	v.fire(id, "fuliang", "accept", map[string]any{"plan": "方案"})
	photo := v.jpeg()
	v.ok(v.upload(id, "fuliang", "photo.jpg", photo, ""), http.StatusCreated)
	v.fire(id, "fuliang", "submit", map[string]any{"summary": "完成"})
	v.fire(id, "inspector", "reject", map[string]any{"reason": "照片不清"})
	before := v.snapshot(id)
	p := v.fails(v.upload(id, "fuliang", "photo.jpg", photo, ""), http.StatusConflict, "conflict")
	if p.Reason != "same_evidence" || p.Field != "file" {
		t.Fatalf("refusal %+v", p)
	}
	if after := v.snapshot(id); after != before {
		t.Fatalf("the refused upload changed the problem: %+v → %+v", before, after)
	}
	body := map[string]any{"trigger": "submit", "summary": "再次提交"}
	if p := v.fails(v.do("POST", "/api/v1/problems/"+id+"/transitions", "fuliang", body), http.StatusConflict, "conflict"); p.Reason != "needs_new_evidence" {
		t.Fatalf("submit: %+v", p)
	}
}

// TestFlagsShownAndAcknowledgedAtVerify: with the photo checker, a damaged
// photo is kept with a flag the API shows; verify without acknowledging it
// is 409 listing it, and with it (and a note) passes, the acknowledgement
// in the verify entry.
func TestFlagsShownAndAcknowledgedAtVerify(t *testing.T) {
	v := newEnv(t)
	v.svc.SetPhotoChecker(photocheck.NewChecker(photocheck.Limits{}))
	id := v.assigned()
	v.fire(id, "fuliang", "accept", map[string]any{"plan": "方案"})
	damaged := v.jpeg()
	damaged = damaged[:len(damaged)/2]
	p := v.ok(v.uploadParts(id, "fuliang", []formPart{
		{name: "phase", data: []byte("after")},
		{name: "file", filename: "现场.jpg", ctype: "image/jpeg", data: damaged},
	}), http.StatusCreated)
	ev := lastEvidence(t, p)
	flags, _ := ev["flags"].([]any)
	if ev["phase"] != "after" || len(flags) == 0 || flags[len(flags)-1].(map[string]any)["code"] == nil {
		t.Fatalf("evidence %v", ev)
	}
	codes := map[string]bool{}
	for _, f := range flags {
		codes[f.(map[string]any)["code"].(string)] = true
	}
	if !codes[string(workflow.FlagUnchecked)] {
		t.Fatalf("flags %v, want unchecked", flags)
	}
	sha := ev["sha256"].(string)
	v.fire(id, "fuliang", "submit", map[string]any{"summary": "完成"})
	verify := map[string]any{"trigger": "verify", "opinion": "合格"}
	r := v.fails(v.do("POST", "/api/v1/problems/"+id+"/transitions", "inspector", verify), http.StatusConflict, "conflict")
	if r.Reason != "unacknowledged_flags" || len(r.Flags) != len(codes) || r.Flags[0].SHA256 != sha {
		t.Fatalf("verify without acknowledgement: %+v", r)
	}
	var acks []map[string]any
	for c := range codes {
		acks = append(acks, map[string]any{"sha256": sha, "code": c})
	}
	p = v.fire(id, "inspector", "verify", map[string]any{"opinion": "合格", "acknowledged_flags": acks, "acknowledgement_note": "现场核实无误"})
	if p["state"] != "verified" || len(p["acknowledged_flags"].([]any)) != len(codes) || len(p["unacknowledged_flags"].([]any)) != 0 {
		t.Fatalf("after verify: %v", p)
	}
	hist := v.ok(v.do("GET", "/api/v1/problems/"+id+"/history", "bureau", nil), http.StatusOK)["items"].([]any)
	var found bool
	for _, h := range hist {
		e := h.(map[string]any)
		if e["action"] == "verify" {
			prm := e["params"].(map[string]any)
			found = prm["acknowledgement_note"] == "现场核实无误" && len(prm["acknowledged_flags"].([]any)) == len(codes) && prm["signature"] != nil
		}
	}
	if !found {
		t.Fatalf("the verify entry lacks the acknowledgement: %v", hist)
	}
}

// TestPositionsSiteChecksAndLookbacks: the bureau sets a position (GCJ-02
// converted), bad coordinates and datums are 400; an inspector records a
// site check of a submission; confirming a look-back without a task is 409.
func TestPositionsSiteChecksAndLookbacks(t *testing.T) {
	v := newEnv(t)
	id := v.assigned()
	path := "/api/v1/problems/" + id + "/position"
	p := v.ok(v.do("PUT", path, "bureau", map[string]any{"lat": 29.3527, "lng": 117.2475, "datum": "gcj02"}), http.StatusOK)
	pos := p["position"].(map[string]any)
	want := workflow.GCJ02ToWGS84(workflow.LatLng{Lat: 29.3527, Lng: 117.2475})
	if pos["lat"].(float64) != want.Lat || pos["lng"].(float64) != want.Lng {
		t.Fatalf("position %v, want %v", pos, want)
	}
	for _, c := range []struct {
		body   map[string]any
		field  string
		reason string
	}{
		{map[string]any{"lat": 91.0, "lng": 117.0}, "lat", "out_of_range"},
		{map[string]any{"lat": 29.0, "lng": 181.0}, "lng", "out_of_range"},
		{map[string]any{"lat": 29.0, "lng": 117.0, "datum": "bd09"}, "datum", "unknown_value"},
		{map[string]any{"lat": 29.0}, "lng", "required"},
	} {
		r := v.fails(v.do("PUT", path, "bureau", c.body), http.StatusBadRequest, "invalid")
		if r.Field != c.field || r.Reason != c.reason {
			t.Errorf("%v: %+v", c.body, r)
		}
	}
	v.fails(v.do("PUT", path, "fuliang", map[string]any{"lat": 29.0, "lng": 117.0}), http.StatusForbidden, "forbidden")
	created := v.ok(v.do("POST", "/api/v1/problems", "bureau", map[string]any{"title": "渗漏", "description": "描述", "source": "warning_film",
		"county_id": "fuliang", "position": map[string]any{"lat": 29.35, "lng": 117.25}}), http.StatusCreated)
	if created["position"].(map[string]any)["lat"] != 29.35 {
		t.Fatalf("created %v", created["position"])
	}

	checks := "/api/v1/problems/" + id + "/site-checks"
	body := map[string]any{"result": "passed", "findings": "现场已整改"}
	if r := v.fails(v.do("POST", checks, "inspector", body), http.StatusConflict, "conflict"); r.Reason != "site_check_closed" {
		t.Fatalf("site check before submission: %+v", r)
	}
	v.fire(id, "fuliang", "accept", map[string]any{"plan": "方案"})
	v.evidence(id, "fuliang")
	v.fire(id, "fuliang", "submit", map[string]any{"summary": "完成"})
	v.ok(v.upload(id, "inspector", "核查.png", v.png(), ""), http.StatusCreated)
	v.fails(v.do("POST", checks, "inspector", map[string]any{"result": "maybe", "findings": "x"}), http.StatusBadRequest, "invalid")
	v.fails(v.do("POST", checks, "fuliang", body), http.StatusForbidden, "forbidden")
	p = v.ok(v.do("POST", checks, "inspector", body), http.StatusOK)
	sc := p["site_checks"].([]any)
	if len(sc) != 1 || len(sc[0].(map[string]any)["photos"].([]any)) != 1 {
		t.Fatalf("site checks %v", sc)
	}
	r := v.fails(v.do("POST", "/api/v1/problems/"+id+"/lookback/confirmation", "inspector", map[string]any{"text": "复核"}), http.StatusConflict, "conflict")
	if r.Reason != "no_lookback" {
		t.Fatalf("confirm without a task: %+v", r)
	}
}
