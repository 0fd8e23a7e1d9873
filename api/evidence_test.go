package api_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/jdz-eco/rectify/api"
	"github.com/jdz-eco/rectify/workflow"
)

// samplePDF is a PDF as far as sniffing goes.
var samplePDF = []byte("%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n")

// lastEvidence returns the newest evidence item of a problem response.
func lastEvidence(t *testing.T, p map[string]any) map[string]any {
	t.Helper()
	items, _ := p["evidence"].([]any)
	if len(items) == 0 {
		t.Fatalf("no evidence in %v", p)
	}
	return items[len(items)-1].(map[string]any)
}

// TestEvidenceUploadLimits: the evidence limit, not the JSON body limit,
// holds uploads; a file over it is 413 however it arrives, and leaves
// neither the problem nor the blob store changed.
func TestEvidenceUploadLimits(t *testing.T) {
	const max = 64 << 10
	v := newEnvWith(t, api.Config{BodyLimit: 4 << 10, EvidenceMaxBytes: max})
	id := v.assigned()
	path := "/api/v1/problems/" + id + "/evidence"
	before := v.snapshot(id)

	over := bytes.Repeat([]byte("a"), max+1)
	far := bytes.Repeat([]byte("b"), 1<<20)
	chunked, ct := multipartBody(t, formPart{name: "file", filename: "notes.txt", data: far})
	for _, tt := range []struct {
		name string
		data []byte
		send func() *httptest.ResponseRecorder
	}{
		{"one byte over", over, func() *httptest.ResponseRecorder { return v.upload(id, "fuliang", "notes.txt", over, "") }},
		{"far over, by Content-Length", far, func() *httptest.ResponseRecorder { return v.upload(id, "fuliang", "notes.txt", far, "") }},
		{"far over, chunked", far, func() *httptest.ResponseRecorder {
			return v.do("POST", path, "fuliang", io.MultiReader(bytes.NewReader(chunked)), "Content-Type", ct)
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			v.t = t
			p := v.fails(tt.send(), http.StatusRequestEntityTooLarge, "too_large")
			if p.Field != "file" || !strings.Contains(p.Detail, "64 KiB") {
				t.Errorf("field %q detail %q", p.Field, p.Detail)
			}
			if v.stored(tt.data) {
				t.Error("the refused file was stored")
			}
			if after := v.snapshot(id); after != before {
				t.Errorf("the problem changed: %+v → %+v", before, after)
			}
		})
	}
	v.t = t

	// Exactly at the limit, 16 times the JSON limit: accepted.
	at := bytes.Repeat([]byte("c"), max)
	p := v.ok(v.upload(id, "fuliang", "notes.txt", at, ""), http.StatusCreated)
	if ev := lastEvidence(t, p); ev["size"] != float64(max) || ev["sha256"] != sha256Hex(at) {
		t.Errorf("evidence %v", ev)
	}
	if !v.stored(at) {
		t.Error("the accepted file is not stored")
	}
	// The JSON limit still holds elsewhere.
	v.fails(v.do("POST", "/api/v1/problems/"+id+"/notes", "fuliang", `{"text":"`+strings.Repeat("x", 5000)+`"}`), 413, "too_large")
}

// TestEvidenceSniffing: the content decides the type, never the file name or
// the part's Content-Type; refused content is not stored.
func TestEvidenceSniffing(t *testing.T) {
	v := newEnv(t)
	id := v.assigned()
	before := v.snapshot(id)

	elf := append([]byte("\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\x3e\x00"), make([]byte, 700)...)
	pe := append([]byte("MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00"), make([]byte, 700)...)
	html := []byte("<!DOCTYPE html><html><script>alert(1)</script></html>")
	zip := append([]byte("PK\x03\x04\x14\x00\x00\x00\x08\x00payload.exe"), make([]byte, 100)...)
	for _, tt := range []struct {
		name, filename, claimed string
		data                    []byte
	}{
		{"ELF renamed", "photo.jpg", "image/jpeg", elf},
		{"PE renamed", "报告.pdf", "application/pdf", pe},
		{"HTML renamed", "photo.png", "image/png", html},
		{"zip renamed", "整改.docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", zip},
	} {
		t.Run(tt.name, func(t *testing.T) {
			v.t = t
			rec := v.uploadParts(id, "fuliang", []formPart{{name: "file", filename: tt.filename, ctype: tt.claimed, data: tt.data}})
			if p := v.fails(rec, http.StatusUnsupportedMediaType, "unsupported_type"); p.Field != "file" {
				t.Errorf("field %q", p.Field)
			}
			if v.stored(tt.data) {
				t.Error("the refused file was stored")
			}
			if after := v.snapshot(id); after != before {
				t.Errorf("the problem changed: %+v → %+v", before, after)
			}
		})
	}
	v.t = t

	// Accepted, typed by content.
	text := []byte("整改说明：已完成闭库。\n")
	for _, tt := range []struct {
		filename string
		data     []byte
		typ      string
	}{
		{"x.txt", samplePDF, "application/pdf"},
		{"说明.txt", text, "text/plain; charset=utf-8"},
		{"photo.png", v.jpeg(), "image/jpeg"},
		{"scan", v.png(), "image/png"},
	} {
		p := v.ok(v.upload(id, "fuliang", tt.filename, tt.data, ""), http.StatusCreated)
		if ev := lastEvidence(t, p); ev["type"] != tt.typ || ev["name"] != tt.filename {
			t.Errorf("%s: evidence %v, want type %s", tt.filename, ev, tt.typ)
		}
	}
}

// TestEvidenceBadUploads: malformed uploads are refused with their 4xx and
// change nothing.
func TestEvidenceBadUploads(t *testing.T) {
	v := newEnv(t)
	id := v.assigned()
	path := "/api/v1/problems/" + id + "/evidence"
	img := v.png()
	file := formPart{name: "file", filename: "a.png", data: img}
	body, ct := multipartBody(t, file)
	tests := []struct {
		name        string
		send        func() *httptest.ResponseRecorder
		status      int
		code, field string
	}{
		{"empty file", func() *httptest.ResponseRecorder { return v.upload(id, "fuliang", "empty.jpg", nil, "") }, 400, "invalid", "file"},
		{"no file part", func() *httptest.ResponseRecorder {
			return v.uploadParts(id, "fuliang", []formPart{{name: "description", data: []byte("说明")}})
		}, 400, "invalid", "file"},
		{"no parts", func() *httptest.ResponseRecorder { return v.uploadParts(id, "fuliang", nil) }, 400, "invalid", "file"},
		{"two files", func() *httptest.ResponseRecorder { return v.uploadParts(id, "fuliang", []formPart{file, file}) }, 400, "invalid", "file"},
		{"no filename", func() *httptest.ResponseRecorder {
			return v.uploadParts(id, "fuliang", []formPart{{name: "file", data: img}})
		}, 400, "invalid", "file"},
		{"unknown part", func() *httptest.ResponseRecorder {
			return v.uploadParts(id, "fuliang", []formPart{{name: "comment", data: []byte("x")}, file})
		}, 400, "invalid", "comment"},
		{"name too long", func() *httptest.ResponseRecorder {
			return v.upload(id, "fuliang", strings.Repeat("名", 197)+".png", img, "")
		}, 400, "invalid", "name"},
		{"description too long", func() *httptest.ResponseRecorder {
			return v.upload(id, "fuliang", "a.png", img, strings.Repeat("说", 10001))
		}, 400, "invalid", "description"},
		{"not multipart", func() *httptest.ResponseRecorder { return v.do("POST", path, "fuliang", `{"file":"x"}`) }, 415, "unsupported_type", "Content-Type"},
		{"no boundary", func() *httptest.ResponseRecorder {
			return v.do("POST", path, "fuliang", bytes.NewReader(body), "Content-Type", "multipart/form-data")
		}, 400, "invalid", "Content-Type"},
		{"truncated", func() *httptest.ResponseRecorder {
			return v.do("POST", path, "fuliang", bytes.NewReader(body[:len(body)/2]), "Content-Type", ct)
		}, 400, "invalid", ""},
		{"malformed If-Match", func() *httptest.ResponseRecorder { return v.upload(id, "fuliang", "a.png", img, "", "If-Match", "2") }, 400, "invalid", "If-Match"},
		{"stale If-Match", func() *httptest.ResponseRecorder { return v.upload(id, "fuliang", "a.png", img, "", "If-Match", `"1"`) }, 412, "precondition_failed", ""},
		{"no token", func() *httptest.ResponseRecorder { return v.upload(id, "", "a.png", img, "") }, 401, "unauthorized", ""},
		{"unknown problem", func() *httptest.ResponseRecorder { return v.upload("999", "fuliang", "a.png", img, "") }, 404, "not_found", ""},
	}
	before := v.snapshot(id)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v.t = t
			if p := v.fails(tt.send(), tt.status, tt.code); p.Field != tt.field {
				t.Errorf("field %q, want %q (%s)", p.Field, tt.field, p.Detail)
			}
			if after := v.snapshot(id); after != before {
				t.Errorf("the problem changed: %+v → %+v", before, after)
			}
		})
	}
	v.t = t
	// The same upload, well formed and with the current ETag, goes through.
	v.ok(v.upload(id, "fuliang", "a.png", img, "", "If-Match", before.etag), http.StatusCreated)
}

// TestEvidenceAuthorization: members of the lead and cooperating units may
// upload; another county's officer gets 404 and other roles 403, before
// anything is stored. Downloads go to whoever may see a problem holding the
// file, with its sniffed type.
func TestEvidenceAuthorization(t *testing.T) {
	v := newEnv(t)
	id := v.assigned() // led by 浮梁县, 市水利局 cooperating; assigned at 10:00
	img := v.png()
	rec := v.upload(id, "fuliang", "现场 照片\"1\".png", img, "整改后现场")
	p := v.ok(rec, http.StatusCreated)
	sha := sha256Hex(img)
	if loc := rec.Header().Get("Location"); loc != "/api/v1/evidence/"+sha {
		t.Errorf("Location %q", loc)
	}
	if rec.Header().Get("ETag") != etagOf(p["version"].(float64)) || p["version"] != 3.0 {
		t.Errorf("ETag %q version %v", rec.Header().Get("ETag"), p["version"])
	}
	want := map[string]any{
		"sha256": sha, "name": "现场 照片\"1\".png", "size": float64(len(img)), "type": "image/png",
		"description": "整改后现场", "uploaded_by": v.users["fuliang"].ID, "uploader": "浮梁县干部",
		"unit_id": "fuliang", "at": "2021-06-24T10:00:00Z", "round": 0.0, "submitted": false,
		"phase": "after", "flags": []any{}, // an image is after unless told; no checker here
	}
	if ev := lastEvidence(t, p); !reflect.DeepEqual(ev, want) {
		t.Errorf("evidence\n%v, want\n%v", ev, want)
	}
	v.ok(v.upload(id, "water", "核查报告.pdf", samplePDF, ""), http.StatusCreated)

	before := v.snapshot(id)
	// An inspector adds site-check photos only while a submission waits: 409.
	for who, status := range map[string]int{"leping": 404, "inspector": 409, "bureau": 403, "viewer": 403, "admin": 403} {
		data := v.png()
		code := map[int]string{403: "forbidden", 404: "not_found", 409: "conflict"}[status]
		v.fails(v.upload(id, who, "x.png", data, ""), status, code)
		if v.stored(data) {
			t.Errorf("%s's refused upload was stored", who)
		}
	}
	if after := v.snapshot(id); after != before {
		t.Errorf("refused uploads changed the problem: %+v → %+v", before, after)
	}

	get := "/api/v1/evidence/" + sha
	for _, who := range []string{"fuliang", "water", "bureau", "inspector", "viewer", "admin"} {
		rec := v.do("GET", get, who, nil)
		if rec.Code != 200 || !bytes.Equal(rec.Body.Bytes(), img) {
			t.Fatalf("%s: %d %q", who, rec.Code, rec.Body)
		}
		h := rec.Header()
		if h.Get("Content-Type") != "image/png" || h.Get("Content-Length") != strconv.Itoa(len(img)) ||
			h.Get("X-Content-Type-Options") != "nosniff" || h.Get("ETag") != `"`+sha+`"` ||
			h.Get("Content-Disposition") != `inline; filename="__ ___1_.png"; filename*=UTF-8''%E7%8E%B0%E5%9C%BA%20%E7%85%A7%E7%89%87%221%22.png` {
			t.Errorf("%s: headers %v", who, h)
		}
	}
	// The quote is replaced in the ASCII fallback too.
	if cd := v.do("GET", get, "fuliang", nil).Header().Get("Content-Disposition"); strings.Count(cd, `"`) != 2 {
		t.Errorf("Content-Disposition %s", cd)
	}
	rec = v.do("GET", get, "bureau", nil, "If-None-Match", `"`+sha+`"`)
	if rec.Code != http.StatusNotModified || rec.Body.Len() != 0 {
		t.Errorf("If-None-Match: %d %q", rec.Code, rec.Body)
	}
	rec = v.do("GET", get, "bureau", nil, "Range", "bytes=0-7")
	if rec.Code != http.StatusPartialContent || !bytes.Equal(rec.Body.Bytes(), img[:8]) || rec.Header().Get("Content-Type") != "image/png" {
		t.Errorf("Range: %d %q %v", rec.Code, rec.Body, rec.Header())
	}
	rec = v.do("GET", "/api/v1/evidence/"+sha256Hex(samplePDF), "fuliang", nil)
	if rec.Code != 200 || rec.Header().Get("Content-Type") != "application/pdf" ||
		rec.Header().Get("Content-Disposition") != `attachment; filename="____.pdf"; filename*=UTF-8''%E6%A0%B8%E6%9F%A5%E6%8A%A5%E5%91%8A.pdf` {
		t.Errorf("PDF: %d %v", rec.Code, rec.Header())
	}

	// Another county's officer, an unknown or malformed hash, no token.
	v.fails(v.do("GET", get, "leping", nil), 404, "not_found")
	v.fails(v.do("GET", "/api/v1/evidence/"+sha256Hex([]byte("nothing")), "bureau", nil), 404, "not_found")
	v.fails(v.do("GET", "/api/v1/evidence/"+strings.ToUpper(sha), "bureau", nil), 404, "not_found")
	v.fails(v.do("GET", "/api/v1/evidence/abc", "bureau", nil), 404, "not_found")
	v.fails(v.do("GET", get, "", nil), 401, "unauthorized")
}

// TestEvidenceFrozenWhileSubmitted: nothing is added while the inspectors
// review; submit needs evidence, and after a rejection new evidence.
func TestEvidenceFrozenWhileSubmitted(t *testing.T) {
	v := newEnv(t)
	id := v.assigned()
	path := "/api/v1/problems/" + id
	v.fire(id, "fuliang", "accept", map[string]any{"plan": "方案"})
	submit := `{"trigger":"submit","summary":"完成"}`
	if p := v.fails(v.do("POST", path+"/transitions", "fuliang", submit), 409, "conflict"); !strings.Contains(p.Detail, "evidence") {
		t.Errorf("submit without evidence: %q", p.Detail)
	}

	v.evidence(id, "fuliang")
	p := v.fire(id, "fuliang", "submit", map[string]any{"summary": "完成"})
	if ev := lastEvidence(t, p); ev["submitted"] != true {
		t.Errorf("evidence after submit %v", ev)
	}
	before := v.snapshot(id)
	data := v.png()
	pb := v.fails(v.upload(id, "fuliang", "补充.png", data, ""), 409, "conflict")
	if pb.State != "submitted" || !slices.Equal(pb.PermittedTriggers, []string{"withdraw"}) {
		t.Errorf("upload while submitted: %+v", pb)
	}
	if v.stored(data) {
		t.Error("the frozen upload was stored")
	}
	v.fails(v.upload(id, "water", "补充.png", data, ""), 409, "conflict")
	v.fails(v.do("POST", path+"/notes", "fuliang", `{"text":"补充说明"}`), 409, "conflict")
	if after := v.snapshot(id); after != before {
		t.Errorf("refused requests changed the problem: %+v → %+v", before, after)
	}

	// Withdrawn, the unit may add more; the evidence already handed in still
	// counts for the next submission.
	v.fire(id, "fuliang", "withdraw", map[string]any{"reason": "补充材料"})
	v.evidence(id, "water")
	v.fire(id, "fuliang", "submit", map[string]any{"summary": "完成"})

	// Rejected: submit needs evidence added since.
	p = v.fire(id, "inspector", "reject", map[string]any{"reason": "照片不清晰"})
	if p["evidence_round"] != 1.0 {
		t.Errorf("evidence_round %v after a rejection", p["evidence_round"])
	}
	pb = v.fails(v.do("POST", path+"/transitions", "fuliang", submit), 409, "conflict")
	if !strings.Contains(pb.Detail, "since the last rejection") {
		t.Errorf("submit without new evidence: %q", pb.Detail)
	}
	p = v.evidence(id, "fuliang")
	if ev := lastEvidence(t, p); ev["round"] != 1.0 || ev["submitted"] != false {
		t.Errorf("new evidence %v", ev)
	}
	v.fire(id, "fuliang", "submit", map[string]any{"summary": "补充后提交"})
}

// TestEvidenceDuplicates: the same file on two problems is flagged on both,
// for callers who see every problem, and warned of at verify.
func TestEvidenceDuplicates(t *testing.T) {
	v := newEnv(t)
	a, b := v.assigned(), v.assigned()
	shared := v.png()
	v.ok(v.upload(a, "fuliang", "照片.png", shared, ""), http.StatusCreated)
	v.ok(v.upload(b, "water", "同一张照片.png", shared, ""), http.StatusCreated)
	v.evidence(a, "fuliang") // a file of its own

	code := func(id string) string {
		return v.ok(v.do("GET", "/api/v1/problems/"+id, "bureau", nil), 200)["code"].(string)
	}
	codeA, codeB := code(a), code(b)
	for _, who := range []string{"bureau", "inspector", "viewer", "admin"} {
		pa := v.ok(v.do("GET", "/api/v1/problems/"+a, who, nil), 200)
		evs := pa["evidence"].([]any)
		if got := evs[0].(map[string]any)["duplicates"]; !reflect.DeepEqual(got, []any{codeB}) {
			t.Errorf("%s: duplicates of a's file %v, want [%s]", who, got, codeB)
		}
		if got, ok := evs[1].(map[string]any)["duplicates"]; ok {
			t.Errorf("%s: a file of a's own shows duplicates %v", who, got)
		}
		pb := v.ok(v.do("GET", "/api/v1/problems/"+b, who, nil), 200)
		if got := lastEvidence(t, pb)["duplicates"]; !reflect.DeepEqual(got, []any{codeA}) {
			t.Errorf("%s: duplicates of b's file %v, want [%s]", who, got, codeA)
		}
	}
	// In lists too.
	for _, x := range v.ok(v.do("GET", "/api/v1/problems", "bureau", nil), 200)["items"].([]any) {
		if _, ok := x.(map[string]any)["evidence"].([]any)[0].(map[string]any)["duplicates"]; !ok {
			t.Errorf("list item without duplicates: %v", x)
		}
	}
	// Unit officers do not learn other problems' codes.
	for _, who := range []string{"fuliang", "water"} {
		for _, id := range []string{a, b} {
			for _, x := range v.ok(v.do("GET", "/api/v1/problems/"+id, who, nil), 200)["evidence"].([]any) {
				if d, ok := x.(map[string]any)["duplicates"]; ok {
					t.Errorf("%s sees duplicates %v", who, d)
				}
			}
		}
	}

	// The inspector is warned at verify; the verify goes through.
	v.fire(a, "fuliang", "accept", map[string]any{"plan": "方案"})
	v.fire(a, "fuliang", "submit", map[string]any{"summary": "完成"})
	v.fire(a, "inspector", "verify", map[string]any{"opinion": "合格"})
	h := v.ok(v.do("GET", "/api/v1/problems/"+a+"/history", "bureau", nil), 200)["items"].([]any)
	var warnings []string
	for _, x := range h {
		e := x.(map[string]any)
		if e["action"] == "verify" {
			warnings = toStrings(e["params"].(map[string]any)["warnings"])
		}
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], codeB) || !strings.Contains(warnings[0], "照片.png") {
		t.Errorf("verify warnings %v, want one naming %s", warnings, codeB)
	}
}

// unseekable hides that the blob store's files can seek.
type unseekable struct{ workflow.Blobs }

func (u unseekable) Open(ctx context.Context, sha string) (io.ReadCloser, error) {
	rc, err := u.Blobs.Open(ctx, sha)
	if err != nil {
		return nil, err
	}
	return struct {
		io.Reader
		io.Closer
	}{rc, rc}, nil
}

// TestEvidenceDownloadStream: a blob store whose files cannot seek is
// streamed whole, with the same headers and If-None-Match.
func TestEvidenceDownloadStream(t *testing.T) {
	v := newEnv(t)
	id := v.assigned()
	v.ok(v.upload(id, "fuliang", "report.pdf", samplePDF, ""), http.StatusCreated)
	v.svc.SetBlobs(unseekable{v.blobs})
	get := "/api/v1/evidence/" + sha256Hex(samplePDF)
	rec := v.do("GET", get, "water", nil)
	h := rec.Header()
	if rec.Code != 200 || !bytes.Equal(rec.Body.Bytes(), samplePDF) || h.Get("Content-Type") != "application/pdf" ||
		h.Get("Content-Length") != strconv.Itoa(len(samplePDF)) || h.Get("X-Content-Type-Options") != "nosniff" ||
		h.Get("Content-Disposition") != `attachment; filename="report.pdf"; filename*=UTF-8''report.pdf` {
		t.Errorf("%d %v", rec.Code, h)
	}
	rec = v.do("GET", get, "water", nil, "If-None-Match", `W/"x", `+h.Get("ETag"))
	if rec.Code != http.StatusNotModified || rec.Body.Len() != 0 {
		t.Errorf("If-None-Match: %d %q", rec.Code, rec.Body)
	}
	v.fails(v.do("GET", get, "leping", nil), 404, "not_found")
}
