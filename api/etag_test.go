package api_test

import "testing"

// TestIfMatchStrongComparison reproduces the entity-tag defects of issues 12
// and 13: If-Match compares strongly (RFC 9110 section 13.1.1), so a weak tag
// never matches; a well-formed tag that is not the current one is 412; only
// a malformed header is 400. Nothing refused changes the problem.
func TestIfMatchStrongComparison(t *testing.T) {
	v := newEnv(t)
	id := v.assigned()
	before := v.snapshot(id) // version 2, ETag "2"
	path := "/api/v1/problems/" + id + "/notes"
	note := `{"text":"已组织排查"}`
	for _, c := range []struct {
		name, header string
		status       int
		code         string
	}{
		{"weak current tag", `W/"2"`, 412, "precondition_failed"},
		{"weak, lower-case w", `w/"2"`, 400, "invalid"},
		{"other version", `"1"`, 412, "precondition_failed"},
		{"version zero", `"0"`, 412, "precondition_failed"},
		{"opaque tag", `"abc"`, 412, "precondition_failed"},
		{"empty tag", `""`, 412, "precondition_failed"},
		{"list without the current", `"1", W/"2", "xyz"`, 412, "precondition_failed"},
		{"unquoted", `2`, 400, "invalid"},
		{"unterminated", `"2`, 400, "invalid"},
		{"quote inside", `"2"3"`, 400, "invalid"},
		{"space inside", `"2 3"`, 400, "invalid"},
		{"empty list items", `"1",,`, 412, "precondition_failed"}, // RFC 9110 section 5.6.1
		{"star in a list", `*, "2"`, 400, "invalid"},
		{"control character", "\"2\x01\"", 400, "invalid"},
	} {
		t.Run(c.name, func(t *testing.T) {
			v.t = t
			p := v.fails(v.do("POST", path, "fuliang", note, "If-Match", c.header), c.status, c.code)
			if c.status == 400 && p.Field != "If-Match" {
				t.Errorf("400 names field %q, want If-Match", p.Field)
			}
			if got := v.snapshot(id); got != before {
				t.Fatalf("a refused If-Match changed the problem: %+v, was %+v", got, before)
			}
		})
	}
	// A list that holds the current tag matches, as do "*" and the tag alone.
	v.t = t
	for _, c := range []struct {
		header string
		status int
	}{
		{`"7", "2"`, 200}, // now at 3
		{"*", 200},        // 4
		{`"3"`, 412},
		{`W/"4"`, 412},
		{`"4"`, 200}, // 5
		{`, "1" ,"5"`, 200},
	} {
		rec := v.do("POST", path, "fuliang", note, "If-Match", c.header)
		if rec.Code != c.status {
			t.Fatalf("If-Match %s: %d, want %d: %s", c.header, rec.Code, c.status, rec.Body)
		}
	}
	if got := v.snapshot(id); got.version != 6 {
		t.Fatalf("version %v after four notes on version 2", got.version)
	}
}
