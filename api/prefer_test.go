package api_test

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
)

// minimal checks an answer to Prefer: return=minimal: status, no body, the
// ETag of version and Preference-Applied.
func (v *env) minimal(rec *httptest.ResponseRecorder, status int, version int) {
	v.t.Helper()
	if rec.Code != status {
		v.t.Fatalf("status %d, want %d: %s", rec.Code, status, rec.Body)
	}
	if rec.Body.Len() != 0 {
		v.t.Errorf("body %q, want none", rec.Body)
	}
	if got, want := rec.Header().Get("ETag"), `"`+strconv.Itoa(version)+`"`; got != want {
		v.t.Errorf("ETag %s, want %s", got, want)
	}
	if got := rec.Header().Get("Preference-Applied"); got != "return=minimal" {
		v.t.Errorf("Preference-Applied %q", got)
	}
}

// TestPreferReturnMinimal: writes answered with Prefer: return=minimal carry
// no problem, only its ETag (204 for 200, an empty 201), and do the same
// work; the default, and every read, is the full problem.
func TestPreferReturnMinimal(t *testing.T) {
	v := newEnv(t)
	min := []string{"Prefer", "return=minimal"}

	rec := v.do("POST", "/api/v1/problems", "bureau", map[string]any{
		"title": "尾矿库渗滤液外溢", "description": "浮梁县", "source": "self_inspection", "county_id": "fuliang",
	}, min...)
	v.minimal(rec, http.StatusCreated, 1)
	loc := rec.Header().Get("Location")
	if loc == "" {
		t.Fatal("no Location")
	}
	id := loc[len("/api/v1/problems/"):]
	path := "/api/v1/problems/" + id

	// The client carries the version from ETag to If-Match.
	tr := path + "/transitions"
	rec = v.do("POST", tr, "bureau", `{"trigger":"assign","lead_unit":"fuliang","deadline":"2021-12-31"}`, "Prefer", "return=minimal", "If-Match", `"1"`)
	v.minimal(rec, http.StatusNoContent, 2)
	rec = v.do("POST", tr, "fuliang", `{"trigger":"accept","plan":"清运"}`, "Prefer", "handling=lenient, return=minimal", "If-Match", rec.Header().Get("ETag"))
	v.minimal(rec, http.StatusNoContent, 3)
	rec = v.do("POST", path+"/notes", "fuliang", `{"text":"已开工"}`, "Prefer", `RETURN="minimal"; x=y`, "If-Match", `"3"`)
	v.minimal(rec, http.StatusNoContent, 4)
	rec = v.upload(id, "fuliang", "现场.png", v.png(), "", "Prefer", "return=minimal", "If-Match", `"4"`)
	v.minimal(rec, http.StatusCreated, 5)
	if loc := rec.Header().Get("Location"); loc == "" {
		t.Error("evidence upload without Location")
	}

	// Refusals are problem details as ever.
	v.fails(v.do("POST", tr, "fuliang", `{"trigger":"accept","plan":"again"}`, min...), http.StatusConflict, "conflict")
	v.fails(v.do("POST", tr, "fuliang", `{"trigger":"submit","summary":"s"}`, "Prefer", "return=minimal", "If-Match", `"4"`), http.StatusPreconditionFailed, "precondition_failed")

	// The default, return=representation (the first return preference decides)
	// and reads are the full problem.
	m := v.ok(v.do("POST", tr, "fuliang", `{"trigger":"submit","summary":"已整改"}`), http.StatusOK)
	if m["version"].(float64) != 6 || m["state"] != "submitted" || len(m["evidence"].([]any)) != 1 {
		t.Errorf("full answer: %v", m)
	}
	m = v.ok(v.do("POST", tr, "inspector", `{"trigger":"verify","opinion":"到位"}`, "Prefer", "return=representation, return=minimal"), http.StatusOK)
	if m["state"] != "verified" || m["permitted_triggers"] == nil {
		t.Errorf("return=representation: %v", m)
	}
	m = v.ok(v.do("GET", path, "bureau", nil, min...), http.StatusOK)
	if m["version"].(float64) != 7 {
		t.Errorf("GET with return=minimal: %v", m)
	}
}
