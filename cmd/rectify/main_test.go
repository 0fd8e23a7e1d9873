package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jdz-eco/rectify/store/blob"
)

// server is a running Main serve.
type server struct {
	url  string
	stop func() error
}

func startServer(t *testing.T, db string, extra ...string) *server {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	addrs := make(chan net.Addr, 1)
	done := make(chan error, 1)
	var logs bytes.Buffer
	env := Env{Stdout: io.Discard, Stderr: &syncWriter{w: &logs}, Getenv: func(string) string { return "" },
		Listening: func(a net.Addr) { addrs <- a }}
	args := append([]string{"serve", "--db", db, "--addr", "127.0.0.1:0"}, extra...)
	go func() { done <- Main(ctx, args, env) }()
	select {
	case a := <-addrs:
		s := &server{url: "http://" + a.String(), stop: func() error { cancel(); return <-done }}
		t.Cleanup(func() { cancel() })
		return s
	case err := <-done:
		cancel()
		t.Fatalf("serve exited: %v\n%s", err, logs.String())
	}
	return nil
}

func run(t *testing.T, args ...string) string {
	t.Helper()
	var out, errb bytes.Buffer
	if err := Main(context.Background(), args, Env{Stdout: &out, Stderr: &errb}); err != nil {
		t.Fatalf("rectify %s: %v\n%s", strings.Join(args, " "), err, errb.String())
	}
	return out.String()
}

// addUser adds a user to the bolt file db with `rectify user add` and
// returns the user's token.
func addUser(t *testing.T, db, name, role, unit string) string {
	t.Helper()
	return strings.TrimSpace(run(t, "user", "add", "--db", db, "--name", name, "--role", role, "--unit", unit))
}

type client struct {
	t     *testing.T
	base  string
	token string
}

// do sends a JSON request and decodes a JSON answer into out, checking the status.
func (c *client) do(method, path string, body any, want int, out any) http.Header {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, c.base+path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return c.send(req, want, out)
}

// send sends req with the client's token and decodes a JSON answer into
// out, checking the status.
func (c *client) send(req *http.Request, want int, out any) http.Header {
	c.t.Helper()
	req.Header.Set("Authorization", "Bearer "+c.token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	if res.StatusCode != want {
		c.t.Fatalf("%s %s: status %d, want %d: %s", req.Method, req.URL.Path, res.StatusCode, want, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			c.t.Fatalf("%s %s: %v: %s", req.Method, req.URL.Path, err, data)
		}
	}
	return res.Header
}

// upload posts file as evidence of problem id (multipart, field file) and
// returns the problem as it answers.
func (c *client) upload(id, name string, file []byte, description string) problemJSON {
	c.t.Helper()
	req := evidenceRequest(c.t, c.base, id, name, file, description)
	var p problemJSON
	c.send(req, http.StatusCreated, &p)
	return p
}

// evidenceRequest is a multipart evidence upload of file to problem id.
func evidenceRequest(t testing.TB, base, id, name string, file []byte, description string) *http.Request {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	if description != "" {
		if err := mw.WriteField("description", description); err != nil {
			t.Fatal(err)
		}
	}
	fw, err := mw.CreateFormFile("file", name)
	if err != nil {
		t.Fatal(err)
	}
	fw.Write(file)
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest("POST", base+"/api/v1/problems/"+id+"/evidence", &body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return req
}

// download fetches evidence file sha and returns its content and type.
func (c *client) download(sha string, want int) ([]byte, string) {
	c.t.Helper()
	req, _ := http.NewRequest("GET", c.base+"/api/v1/evidence/"+sha, nil)
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	if res.StatusCode != want {
		c.t.Fatalf("GET evidence %s: status %d, want %d: %s", sha, res.StatusCode, want, data)
	}
	return data, res.Header.Get("Content-Type")
}

// pngFile returns a small real PNG image, different for each n.
func pngFile(t testing.TB, n int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 8, 8))
	for x := range 8 {
		for y := range 8 {
			img.Set(x, y, color.RGBA{R: uint8(n), G: uint8(x * 32), B: uint8(y * 32), A: 255})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// sha256Hex is the hex SHA-256 of b, the evidence file's name in the API.
func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

type problemJSON struct {
	ID                string         `json:"id"`
	Code              string         `json:"code"`
	State             string         `json:"state"`
	Resolution        string         `json:"resolution"`
	Version           int            `json:"version"`
	LeadUnit          string         `json:"lead_unit"`
	Deadline          string         `json:"deadline"`
	PermittedTriggers []string       `json:"permitted_triggers"`
	Evidence          []evidenceJSON `json:"evidence"`
}

type evidenceJSON struct {
	SHA256    string `json:"sha256"`
	Name      string `json:"name"`
	Size      int64  `json:"size"`
	Type      string `json:"type"`
	Submitted bool   `json:"submitted"`
}

type historyJSON struct {
	Items []struct {
		Seq    int    `json:"seq"`
		Action string `json:"action"`
		From   string `json:"from"`
		To     string `json:"to"`
		Actor  struct {
			ID string `json:"id"`
		} `json:"actor"`
	} `json:"items"`
}

func TestEndToEnd(t *testing.T) {
	db := t.TempDir() + "/rectify.db"
	run(t, "seed", "--db", db)
	bureauTok := addUser(t, db, "局办王", "bureau", "市生态环境局")
	unitTok := addUser(t, db, "浮梁李", "unit", "浮梁县")
	lepingTok := addUser(t, db, "乐平赵", "unit", "乐平市")
	inspTok := addUser(t, db, "验收陈", "inspector", "领导小组办公室")
	if !strings.Contains(run(t, "units", "--db", db), "浮梁县") {
		t.Fatal("rectify units does not list 浮梁县")
	}

	srv := startServer(t, db)
	bureau := &client{t, srv.url, bureauTok}
	unit := &client{t, srv.url, unitTok}
	leping := &client{t, srv.url, lepingTok}
	insp := &client{t, srv.url, inspTok}

	var units []struct{ ID, Name, Kind string }
	var unitsBody struct {
		Items []struct{ ID, Name, Kind string } `json:"items"`
	}
	raw := json.RawMessage{}
	bureau.do("GET", "/api/v1/units", nil, 200, &raw)
	if json.Unmarshal(raw, &units) != nil {
		if err := json.Unmarshal(raw, &unitsBody); err != nil {
			t.Fatalf("units: %s", raw)
		}
		units = unitsBody.Items
	}
	ids := map[string]string{}
	for _, u := range units {
		ids[u.Name] = u.ID
	}
	fuliang := ids["浮梁县"]
	if fuliang == "" {
		t.Fatalf("no 浮梁县 among %d units", len(units))
	}

	var p problemJSON
	h := bureau.do("POST", "/api/v1/problems", map[string]any{
		"title": "河道非法采砂", "description": "昌江浮梁段发现非法采砂点", "source": "self_inspection", "county_id": fuliang,
	}, 201, &p)
	if h.Get("Location") != "/api/v1/problems/"+p.ID || h.Get("ETag") == "" || p.State != "found" {
		t.Fatalf("create: %+v %v", p, h)
	}
	path := "/api/v1/problems/" + p.ID
	fire := func(c *client, body map[string]any, wantState string) {
		t.Helper()
		body = acknowledgeAll(c, path, body)
		c.do("POST", path+"/transitions", body, 200, &p)
		if p.State != wantState {
			t.Fatalf("%v: state %s, want %s", body["trigger"], p.State, wantState)
		}
	}
	// Deadlines in the future: an overdue assignment would add alerts to the history.
	deadline1 := time.Now().AddDate(1, 0, 0).Format(time.DateOnly)
	deadline2 := time.Now().AddDate(2, 0, 0).Format(time.DateOnly)
	fire(bureau, map[string]any{"trigger": "assign", "lead_unit": fuliang, "deadline": deadline1}, "assigned")
	leping.do("GET", path, nil, 404, nil)
	fire(unit, map[string]any{"trigger": "accept", "plan": "拆除采砂设备，恢复河道"}, "rectifying")
	unit.do("POST", path+"/notes", map[string]any{"text": "设备已拆除"}, 200, &p)
	// Submit needs evidence: a photo (a real PNG) for each submission, a new
	// one after the rejection.
	photos := [][]byte{pngFile(t, 1), pngFile(t, 2), pngFile(t, 3)}
	evidence := func(i int) {
		t.Helper()
		p = unit.upload(p.ID, fmt.Sprintf("现场照片%d.png", i+1), photos[i], "整改后现场")
		last := p.Evidence[len(p.Evidence)-1]
		if len(p.Evidence) != i+1 || last.SHA256 != sha256Hex(photos[i]) || last.Type != "image/png" ||
			last.Size != int64(len(photos[i])) || last.Submitted {
			t.Fatalf("evidence after upload %d: %+v", i+1, p.Evidence)
		}
	}
	evidence(0)
	fire(unit, map[string]any{"trigger": "submit", "summary": "整改完成"}, "submitted")
	fire(insp, map[string]any{"trigger": "reject", "reason": "缺少现场照片"}, "rectifying")
	unit.do("POST", path+"/transitions", map[string]any{"trigger": "submit", "summary": "未补充材料"}, 409, nil)
	evidence(1)
	fire(unit, map[string]any{"trigger": "submit", "summary": "补充现场照片"}, "submitted")
	fire(insp, map[string]any{"trigger": "verify", "opinion": "验收通过"}, "verified")
	insp.do("POST", path+"/transitions", map[string]any{"trigger": "close", "statement": "同意销号"}, 403, nil)
	fire(bureau, map[string]any{"trigger": "close", "statement": "同意销号"}, "closed")
	fire(bureau, map[string]any{"trigger": "reopen", "reason": "回头看发现反弹", "deadline": deadline2}, "rectifying")
	evidence(2)
	fire(unit, map[string]any{"trigger": "submit", "summary": "再次整改完成"}, "submitted")
	fire(insp, map[string]any{"trigger": "verify", "opinion": "复验通过"}, "verified")
	fire(bureau, map[string]any{"trigger": "close", "statement": "同意销号"}, "closed")
	if p.Resolution != "rectified" || p.Version != 16 {
		t.Fatalf("final: %+v", p)
	}
	for i, e := range p.Evidence {
		if !e.Submitted {
			t.Errorf("evidence %d not marked submitted: %+v", i+1, e)
		}
	}
	// Each photo comes back as uploaded; another county's officer may not
	// have it.
	for _, photo := range photos {
		if got, typ := bureau.download(sha256Hex(photo), 200); !bytes.Equal(got, photo) || typ != "image/png" {
			t.Fatalf("GET evidence: %d bytes of %s, want the %d bytes of the PNG", len(got), typ, len(photo))
		}
	}
	leping.download(sha256Hex(photos[0]), 404)

	var hist historyJSON
	bureau.do("GET", path+"/history", nil, 200, &hist)
	var actions []string
	for _, e := range hist.Items {
		actions = append(actions, e.Action)
	}
	want := []string{"create", "assign", "accept", "note", "evidence", "submit", "reject", "evidence", "submit", "verify", "close",
		"reopen", "evidence", "submit", "verify", "close"}
	if !reflect.DeepEqual(actions, want) {
		t.Fatalf("history %v, want %v", actions, want)
	}

	var list struct {
		Items []problemJSON `json:"items"`
	}
	bureau.do("GET", "/api/v1/problems?limit=500", nil, 200, &list)
	before := map[string]problemJSON{}
	for _, q := range list.Items {
		before[q.ID] = q
	}
	if len(before) < 8 {
		t.Fatalf("only %d problems listed; the seed data alone has eight", len(before))
	}
	if err := srv.stop(); err != nil {
		t.Fatalf("graceful shutdown: %v", err)
	}

	// Restart on the same file: every problem and history entry is still there.
	srv = startServer(t, db)
	bureau.base = srv.url
	var again struct {
		Items []problemJSON `json:"items"`
	}
	bureau.do("GET", "/api/v1/problems?limit=500", nil, 200, &again)
	if len(again.Items) != len(before) {
		t.Fatalf("%d problems after restart, %d before", len(again.Items), len(before))
	}
	for _, q := range again.Items {
		if !reflect.DeepEqual(q, before[q.ID]) {
			t.Fatalf("problem %s changed across restart:\n%+v\n%+v", q.ID, q, before[q.ID])
		}
	}
	var hist2 historyJSON
	bureau.do("GET", path+"/history", nil, 200, &hist2)
	if !reflect.DeepEqual(hist, hist2) {
		t.Fatalf("history changed across restart")
	}
	for _, photo := range photos {
		if got, typ := bureau.download(sha256Hex(photo), 200); !bytes.Equal(got, photo) || typ != "image/png" {
			t.Fatalf("GET evidence after restart: %d bytes of %s, want the %d bytes of the PNG", len(got), typ, len(photo))
		}
	}
	if err := srv.stop(); err != nil {
		t.Fatal(err)
	}

	// The stopped server's file passes the audit, evidence included.
	out := run(t, "audit", "verify", "--db", db)
	if !strings.Contains(out, "audit passed") || !regexp.MustCompile(`evidence files\s+3 in `).MatchString(out) {
		t.Fatalf("audit verify:\n%s", out)
	}
}

func TestDemoPrintsTokens(t *testing.T) {
	db := t.TempDir() + "/demo.db"
	var out bytes.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	env := Env{Stdout: &out, Stderr: io.Discard, Listening: func(net.Addr) { cancel() }}
	if err := Main(ctx, []string{"serve", "--db", db, "--addr", "127.0.0.1:0", "--demo"}, env); err != nil {
		t.Fatal(err)
	}
	for _, role := range []string{"bureau", "unit", "inspector", "viewer", "admin"} {
		if !strings.Contains(out.String(), role) {
			t.Errorf("demo output lacks %s:\n%s", role, out.String())
		}
	}
	if n := strings.Count(out.String(), "rt_"); n != 5 {
		t.Errorf("demo printed %d tokens, want 5:\n%s", n, out.String())
	}
}

func TestEnvironmentFlags(t *testing.T) {
	db := t.TempDir() + "/env.db"
	var out bytes.Buffer
	env := Env{Stdout: &out, Stderr: io.Discard, Getenv: func(k string) string {
		if k == "RECTIFY_DB" {
			return db
		}
		return ""
	}}
	if err := Main(context.Background(), []string{"seed"}, env); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := Main(context.Background(), []string{"units"}, env); err != nil || !strings.Contains(out.String(), "乐平市") {
		t.Fatalf("units from RECTIFY_DB: %v\n%s", err, out.String())
	}
	if err := Main(context.Background(), []string{"frobnicate"}, Env{Stdout: io.Discard, Stderr: io.Discard}); err == nil {
		t.Fatal("unknown command accepted")
	}
	if err := Main(context.Background(), []string{"user", "add", "--db", db, "--name", "x", "--role", "unit", "--unit", "火星"}, Env{Stdout: io.Discard, Stderr: io.Discard}); err == nil {
		t.Fatal("unknown unit accepted")
	}
}

// TestServeEvidenceFlags: --evidence-dir and --evidence-max-bytes reach the
// server: files land in the directory given, a file over the limit is
// refused with 413, and audit verify finds the files there.
func TestServeEvidenceFlags(t *testing.T) {
	dir := t.TempDir()
	db, blobs := filepath.Join(dir, "rectify.db"), filepath.Join(t.TempDir(), "blobs")
	run(t, "seed", "--db", db)
	bureauTok := addUser(t, db, "局办王", "bureau", "市生态环境局")
	unitTok := addUser(t, db, "浮梁李", "unit", "浮梁县")
	srv := startServer(t, db, "--scan-interval", "0", "--evidence-dir", blobs, "--evidence-max-bytes", "100")
	bureau, unit := &client{t, srv.url, bureauTok}, &client{t, srv.url, unitTok}

	var p problemJSON
	bureau.do("POST", "/api/v1/problems", map[string]any{
		"title": "扬尘", "description": "工地扬尘", "source": "self_inspection", "county_id": "fuliang",
	}, 201, &p)
	path := "/api/v1/problems/" + p.ID + "/transitions"
	bureau.do("POST", path, map[string]any{"trigger": "assign", "lead_unit": "fuliang", "deadline": time.Now().AddDate(1, 0, 0).Format(time.DateOnly)}, 200, nil)
	unit.do("POST", path, map[string]any{"trigger": "accept", "plan": "洒水降尘"}, 200, nil)

	small := []byte(strings.Repeat("已洒水", 11)) // 99 bytes of text
	p = unit.upload(p.ID, "说明.txt", small, "")
	if len(p.Evidence) != 1 || !strings.HasPrefix(p.Evidence[0].Type, "text/plain") {
		t.Fatalf("evidence after a text upload: %+v", p.Evidence)
	}
	unit.send(evidenceRequest(t, srv.url, p.ID, "说明2.txt", []byte(strings.Repeat("x", 101)), ""), 413, nil)
	if err := srv.stop(); err != nil {
		t.Fatal(err)
	}

	st, err := blob.Open(blobs)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := st.Stat(context.Background(), sha256Hex(small)); err != nil || n != int64(len(small)) {
		t.Errorf("the file in --evidence-dir: %d bytes, %v", n, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "evidence")); err == nil {
		t.Error("an evidence directory was made beside the database although --evidence-dir was given")
	}
	out := run(t, "audit", "verify", "--db", db, "--evidence-dir", blobs)
	if !regexp.MustCompile(`evidence files\s+1 in `).MatchString(out) {
		t.Errorf("audit verify with --evidence-dir:\n%s", out)
	}
	if out := run(t, "audit", "verify", "--db", db); !strings.Contains(out, "NOT CHECKED") {
		t.Errorf("audit verify without the evidence directory:\n%s", out)
	}
}

// TestServeTakenPort: serve binds its address before it touches the
// database, so a port already in use stops it with nothing done: no
// database file, no evidence directory, no demo tokens printed.
func TestServeTakenPort(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	dir := t.TempDir()
	db := filepath.Join(dir, "rectify.db")
	var out, errb bytes.Buffer
	env := Env{Stdout: &out, Stderr: &errb, Listening: func(net.Addr) { t.Error("serve listened on a taken port") }}
	err = Main(context.Background(), []string{"serve", "--db", db, "--addr", ln.Addr().String(), "--demo", "--scan-interval", "0"}, env)
	if err == nil || !strings.Contains(err.Error(), ln.Addr().String()) {
		t.Fatalf("serve on a taken port: %v, want an error naming the address", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) > 0 {
		t.Errorf("serve on a taken port left %v in the database's directory", entries)
	}
	if strings.Contains(out.String(), "rt_") || strings.Contains(errb.String(), "rt_") {
		t.Errorf("serve on a taken port printed tokens:\n%s%s", out.String(), errb.String())
	}
}
