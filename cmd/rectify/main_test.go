package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"
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
	req.Header.Set("Authorization", "Bearer "+c.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	if res.StatusCode != want {
		c.t.Fatalf("%s %s: status %d, want %d: %s", method, path, res.StatusCode, want, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			c.t.Fatalf("%s %s: %v: %s", method, path, err, data)
		}
	}
	return res.Header
}

type problemJSON struct {
	ID                string   `json:"id"`
	Code              string   `json:"code"`
	State             string   `json:"state"`
	Resolution        string   `json:"resolution"`
	Version           int      `json:"version"`
	LeadUnit          string   `json:"lead_unit"`
	Deadline          string   `json:"deadline"`
	PermittedTriggers []string `json:"permitted_triggers"`
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
	token := func(name, role, unit string) string {
		return strings.TrimSpace(run(t, "user", "add", "--db", db, "--name", name, "--role", role, "--unit", unit))
	}
	bureauTok := token("局办王", "bureau", "市生态环境局")
	unitTok := token("浮梁李", "unit", "浮梁县")
	lepingTok := token("乐平赵", "unit", "乐平市")
	inspTok := token("验收陈", "inspector", "领导小组办公室")
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
	fire(unit, map[string]any{"trigger": "submit", "summary": "整改完成"}, "submitted")
	fire(insp, map[string]any{"trigger": "reject", "reason": "缺少现场照片"}, "rectifying")
	fire(unit, map[string]any{"trigger": "submit", "summary": "补充现场照片"}, "submitted")
	fire(insp, map[string]any{"trigger": "verify", "opinion": "验收通过"}, "verified")
	insp.do("POST", path+"/transitions", map[string]any{"trigger": "close", "statement": "同意销号"}, 403, nil)
	fire(bureau, map[string]any{"trigger": "close", "statement": "同意销号"}, "closed")
	fire(bureau, map[string]any{"trigger": "reopen", "reason": "回头看发现反弹", "deadline": deadline2}, "rectifying")
	fire(unit, map[string]any{"trigger": "submit", "summary": "再次整改完成"}, "submitted")
	fire(insp, map[string]any{"trigger": "verify", "opinion": "复验通过"}, "verified")
	fire(bureau, map[string]any{"trigger": "close", "statement": "同意销号"}, "closed")
	if p.Resolution != "rectified" || p.Version != 13 {
		t.Fatalf("final: %+v", p)
	}

	var hist historyJSON
	bureau.do("GET", path+"/history", nil, 200, &hist)
	var actions []string
	for _, e := range hist.Items {
		actions = append(actions, e.Action)
	}
	want := []string{"create", "assign", "accept", "note", "submit", "reject", "submit", "verify", "close", "reopen", "submit", "verify", "close"}
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
	if err := srv.stop(); err != nil {
		t.Fatal(err)
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
