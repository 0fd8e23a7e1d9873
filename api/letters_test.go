package api_test

import (
	"archive/zip"
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestLettersAPI: a letter issued over HTTP with its number, the refusals
// with their codes and reasons (changing nothing), the list by unit and
// state, visibility, the .docx parsed back, one reply and a refused second.
func TestLettersAPI(t *testing.T) {
	v := newEnv(t)
	p1 := v.assigned() // 浮梁县 leads, 市水利局 cooperates
	p2 := v.assigned()
	other := v.assignTo("乐平市排污口", "leping", "leping", "2021-12-31")
	good := map[string]any{"to_unit": "fuliang", "problem_ids": []string{p1, p2}, "kind": "督办函",
		"demands": "一是立即整改；\n二是举一反三。", "reply_due": "2021-07-10"}
	with := func(k string, val any) map[string]any {
		m := map[string]any{}
		for kk, vv := range good {
			m[kk] = vv
		}
		m[k] = val
		return m
	}
	before := v.snapshot(p1)
	for _, c := range []struct {
		who    string
		body   any
		status int
		reason string
	}{
		{"fuliang", good, 403, "role"},
		{"bureau", with("kind", "通报"), 400, "unknown_value"},
		{"bureau", with("to_unit", "nowhere"), 400, "unknown_unit"},
		{"bureau", with("problem_ids", []string{p1, "999"}), 404, "problem_not_found"},
		{"bureau", with("problem_ids", []string{p1, other}), 400, "unit_not_involved"},
		{"bureau", with("problem_ids", []string{p1, p1}), 400, "problem_listed_twice"},
		{"bureau", with("reply_due", "2021-06-01"), 400, "due_not_future"},
		{"bureau", with("reply_due", "下周"), 400, "bad_date"},
		{"bureau", with("demands", ""), 400, "required"},
		{"bureau", with("colour", "red"), 400, ""},
	} {
		rec := v.do("POST", "/api/v1/letters", c.who, c.body)
		if rec.Code != c.status || c.reason != "" && !strings.Contains(rec.Body.String(), `"reason":"`+c.reason+`"`) {
			t.Errorf("%v: %d %s, want %d %s", c.body, rec.Code, rec.Body, c.status, c.reason)
		}
	}
	if after := v.snapshot(p1); after != before {
		t.Errorf("refused letters changed the problem: %+v → %+v", before, after)
	}
	if m := v.ok(v.do("GET", "/api/v1/letters", "bureau", nil), 200); len(m["items"].([]any)) != 0 {
		t.Fatalf("refused letters were written: %v", m)
	}
	rec := v.do("POST", "/api/v1/letters", "bureau", good)
	l := v.ok(rec, http.StatusCreated)
	id := l["id"].(string)
	if rec.Header().Get("Location") != "/api/v1/letters/"+id || l["doc_no"] != "景长江办督〔2021〕1号" || l["number"] != float64(1) || l["state"] != "issued" {
		t.Fatalf("issued %v", l)
	}
	hist := v.ok(v.do("GET", "/api/v1/problems/"+p2+"/history", "bureau", nil), 200)
	items := hist["items"].([]any)
	last := items[len(items)-1].(map[string]any)
	if last["action"] != "letter" || last["params"].(map[string]any)["doc_no"] != "景长江办督〔2021〕1号" {
		t.Errorf("the problem's last entry: %v", last)
	}
	l2 := v.ok(v.do("POST", "/api/v1/letters", "bureau", map[string]any{"to_unit": "乐平市", "problem_ids": []string{other},
		"kind": "提醒函", "demands": "请加快整改。", "reply_due": "2021-07-10"}), 201)
	if l2["number"] != float64(2) {
		t.Errorf("the second letter: %v", l2)
	}

	// Lists and visibility.
	count := func(path, who string) int {
		return len(v.ok(v.do("GET", path, who, nil), 200)["items"].([]any))
	}
	for _, c := range []struct {
		path, who string
		want      int
	}{
		{"/api/v1/letters", "bureau", 2}, {"/api/v1/letters?unit=fuliang", "bureau", 1}, {"/api/v1/letters?unit=乐平市", "bureau", 1},
		{"/api/v1/letters?state=replied", "bureau", 0}, {"/api/v1/letters", "fuliang", 1}, {"/api/v1/letters", "leping", 1},
	} {
		if got := count(c.path, c.who); got != c.want {
			t.Errorf("%s as %s: %d letters, want %d", c.path, c.who, got, c.want)
		}
	}
	v.fails(v.do("GET", "/api/v1/letters?state=lost", "bureau", nil), 400, "invalid")
	v.fails(v.do("GET", "/api/v1/letters?unit=nowhere", "bureau", nil), 400, "invalid")
	v.fails(v.do("GET", "/api/v1/letters/"+id, "leping", nil), 404, "not_found")
	v.fails(v.do("GET", "/api/v1/letters/"+id+".docx", "leping", nil), 404, "not_found")
	v.fails(v.do("GET", "/api/v1/letters/999", "bureau", nil), 404, "not_found")

	// The document.
	rec = v.do("GET", "/api/v1/letters/"+id+".docx", "fuliang", nil)
	if rec.Code != 200 || rec.Header().Get("Content-Type") != "application/vnd.openxmlformats-officedocument.wordprocessingml.document" ||
		!strings.Contains(rec.Header().Get("Content-Disposition"), "letter-"+id+".docx") {
		t.Fatalf("docx: %d %v", rec.Code, rec.Header())
	}
	doc := documentXML(t, rec.Body.Bytes())
	for _, want := range []string{"景长江办督〔2021〕1号", "浮梁县：", v.snapshotCode(p1), v.snapshotCode(p2), "二是举一反三。", "请于2021年7月10日前", "账本审计链头："} {
		if !strings.Contains(doc, want) {
			t.Errorf("document.xml lacks %q", want)
		}
	}

	// Replies.
	reply := "/api/v1/letters/" + id + "/reply"
	v.fails(v.do("POST", reply, "leping", map[string]any{"text": "x"}), 404, "not_found")
	v.fails(v.do("POST", reply, "bureau", map[string]any{"text": "x"}), 403, "forbidden")
	v.fails(v.do("POST", reply, "fuliang", map[string]any{"text": ""}), 400, "invalid")
	v.clock.Advance(time.Hour)
	r := v.ok(v.do("POST", reply, "fuliang", map[string]any{"text": "已完成截污纳管。"}), 201)
	if r["state"] != "replied" || r["reply"].(map[string]any)["text"] != "已完成截污纳管。" {
		t.Fatalf("replied %v", r)
	}
	p := v.fails(v.do("POST", reply, "fuliang", map[string]any{"text": "再次回复"}), 409, "conflict")
	if p.Reason != "letter_replied" {
		t.Errorf("a second reply: %+v", p)
	}
	if got := count("/api/v1/letters?state=replied", "bureau"); got != 1 {
		t.Errorf("%d replied letters, want 1", got)
	}
}

// snapshotCode returns problem id's code.
func (v *env) snapshotCode(id string) string {
	return v.ok(v.do("GET", "/api/v1/problems/"+id, "bureau", nil), 200)["code"].(string)
}

// documentXML unzips a .docx and returns its word/document.xml.
func documentXML(t *testing.T, data []byte) string {
	t.Helper()
	z, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatalf("not a zip: %v", err)
	}
	for _, f := range z.File {
		if f.Name == "word/document.xml" {
			r, _ := f.Open()
			b, _ := io.ReadAll(r)
			r.Close()
			return string(b)
		}
	}
	t.Fatal("no word/document.xml")
	return ""
}
