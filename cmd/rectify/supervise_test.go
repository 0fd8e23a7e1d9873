package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jdz-eco/rectify/api"
	"github.com/jdz-eco/rectify/store/bolt"
	"github.com/jdz-eco/rectify/workflow"
	"github.com/jdz-eco/rectify/workflow/webhook"
)

var cliBureau = workflow.Actor{ID: "b1", Name: "局办", Role: workflow.RoleBureau, UnitID: "city-eeb"}

func slogTo(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func envOf(vars map[string]string) Env {
	return Env{Stdout: io.Discard, Stderr: io.Discard, Getenv: func(k string) string { return vars[k] }}
}

func TestServeFlagsFromEnvironment(t *testing.T) {
	cfg, err := parseServeFlags(nil, envOf(nil))
	if err != nil {
		t.Fatal(err)
	}
	if pol, err := cfg.policy(); err != nil || pol != workflow.DefaultPolicy() {
		t.Errorf("default flags: policy %+v, %v; want %+v", pol, err, workflow.DefaultPolicy())
	}
	if cfg.scanInterval != time.Minute || len(cfg.webhooks) != 0 {
		t.Errorf("defaults: scan every %v, webhooks %v", cfg.scanInterval, cfg.webhooks)
	}
	if cfg.evidenceDir != "evidence" || cfg.evidenceMaxBytes != 32<<20 {
		t.Errorf("defaults: evidence in %q, at most %d bytes; want evidence beside ./rectify.db, 32 MiB", cfg.evidenceDir, cfg.evidenceMaxBytes)
	}
	for db, dir := range map[string]string{"/data/rectify.db": "/data/evidence", "rectify.db": "evidence", "../x/y.db": "../x/evidence"} {
		if cfg, err := parseServeFlags([]string{"--db", db}, envOf(nil)); err != nil || cfg.evidenceDir != dir {
			t.Errorf("--db %s: evidence in %q, %v; want %s", db, cfg.evidenceDir, err, dir)
		}
	}
	if cfg, err := parseServeFlags([]string{"--db", "/data/rectify.db"}, envOf(map[string]string{"RECTIFY_EVIDENCE_DIR": "/blobs", "RECTIFY_EVIDENCE_MAX_BYTES": "1000"})); err != nil ||
		cfg.evidenceDir != "/blobs" || cfg.evidenceMaxBytes != 1000 {
		t.Errorf("evidence from the environment: %q, %d, %v", cfg.evidenceDir, cfg.evidenceMaxBytes, err)
	}

	env := envOf(map[string]string{
		"RECTIFY_SCAN_INTERVAL":        "30s",
		"RECTIFY_DUE_SOON_DAYS":        "10",
		"RECTIFY_RED_DAYS":             "20",
		"RECTIFY_LISTED_DAYS":          "45",
		"RECTIFY_ACCEPT_DAYS":          "5",
		"RECTIFY_VERIFY_DAYS":          "12",
		"RECTIFY_EXTENSION_GRACE_DAYS": "5",
		"RECTIFY_SEPARATION":           "lead-only",
		"RECTIFY_WEBHOOK":              " https://a.example/hook, ,https://b.example/hook ",
		"RECTIFY_WEBHOOK_SECRET":       "k",
		"RECTIFY_TRUSTED_PROXIES":      "10.0.0.0/8, 192.0.2.7",
	})
	cfg, err = parseServeFlags([]string{"--verify-days", "15"}, env) // the command line wins
	if err != nil {
		t.Fatal(err)
	}
	want := workflow.Policy{DueSoon: 10 * workflow.Day, Red: 20 * workflow.Day, Listed: 45 * workflow.Day,
		AcceptDays: 5, VerifyDays: 15, ExtensionGrace: 5 * workflow.Day, Separation: workflow.SeparationLeadOnly}
	if pol, err := cfg.policy(); err != nil || pol != want {
		t.Errorf("policy %+v, %v; want %+v", pol, err, want)
	}
	if cfg.scanInterval != 30*time.Second || strings.Join(cfg.webhooks, " ") != "https://a.example/hook https://b.example/hook" || cfg.webhookSecret != "k" {
		t.Errorf("scan every %v, webhooks %q, secret %q", cfg.scanInterval, cfg.webhooks, cfg.webhookSecret)
	}
	if len(cfg.trustedProxies) != 2 || cfg.trustedProxies[1].String() != "192.0.2.7/32" {
		t.Errorf("trusted proxies %v", cfg.trustedProxies)
	}
}

func TestServeFlagsRefused(t *testing.T) {
	for _, tc := range []struct {
		args []string
		env  map[string]string
		want string // in the error
	}{
		{[]string{"--webhook", "https://a.example/hook"}, nil, "--webhook-secret"},
		{nil, map[string]string{"RECTIFY_WEBHOOK": "https://a.example/hook"}, "--webhook-secret"},
		{[]string{"--red-days", "70"}, nil, "--red-days"},
		{[]string{"--listed-days", "0"}, nil, "--listed-days"},
		{[]string{"--due-soon-days", "-1"}, nil, "--due-soon-days"},
		{[]string{"--accept-days", "0"}, nil, "--accept-days"},
		{[]string{"--extension-grace-days", "-5"}, nil, "--extension-grace-days"},
		{[]string{"--separation", "lenient"}, nil, "--separation"},
		{[]string{"--scan-interval", "-1s"}, nil, "--scan-interval"},
		{[]string{"--evidence-max-bytes", "0"}, nil, "--evidence-max-bytes"},
		{nil, map[string]string{"RECTIFY_RED_DAYS": "thirty"}, "RECTIFY_RED_DAYS"},
		{[]string{"--trusted-proxies", "10.0.0.0/8,proxy.example"}, nil, "--trusted-proxies"},
		{nil, map[string]string{"RECTIFY_TRUSTED_PROXIES": "10.0.0.0/40"}, "--trusted-proxies"},
	} {
		db := filepath.Join(t.TempDir(), "never.db")
		args := append([]string{"serve", "--db", db}, tc.args...)
		err := Main(context.Background(), args, envOf(tc.env))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("serve %v %v: %v; want an error naming %s", tc.args, tc.env, err, tc.want)
		}
		if _, err := os.Stat(db); err == nil {
			t.Errorf("serve %v %v created the database before refusing", tc.args, tc.env)
		}
	}
}

// hookReceiver is a webhook endpoint that checks signatures and passes on
// the events it accepts.
type hookReceiver struct {
	t      *testing.T
	secret []byte
	events chan workflow.Event

	mu  sync.Mutex
	bad []string
}

func newHookReceiver(t *testing.T, secret string) (*hookReceiver, *httptest.Server) {
	r := &hookReceiver{t: t, secret: []byte(secret), events: make(chan workflow.Event, 1000)}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		var ev workflow.Event
		if !webhook.Verify(r.secret, body, req.Header.Get(webhook.HeaderSignature)) || json.Unmarshal(body, &ev) != nil ||
			req.Header.Get(webhook.HeaderEventID) != ev.ID || ev.ID != workflow.EventID(ev.Seq) {
			r.mu.Lock()
			r.bad = append(r.bad, string(body))
			r.mu.Unlock()
			http.Error(w, "bad delivery", http.StatusBadRequest)
			return
		}
		r.events <- ev
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	return r, srv
}

// until receives events until one satisfies stop, and returns them all.
func (r *hookReceiver) until(stop func(workflow.Event) bool) []workflow.Event {
	r.t.Helper()
	var got []workflow.Event
	timeout := time.After(20 * time.Second)
	for {
		select {
		case ev := <-r.events:
			got = append(got, ev)
			if stop(ev) {
				return got
			}
		case <-timeout:
			r.t.Fatalf("no awaited webhook event after %d events", len(got))
		}
	}
}

func (r *hookReceiver) checkNoBad() {
	r.t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.bad) > 0 {
		r.t.Errorf("%d deliveries with a bad signature or id, e.g. %s", len(r.bad), r.bad[0])
	}
}

// TestServeWebhooks runs the server with a webhook: the receiver gets every
// history event, signed, in seq order (the seed data's, then the problem's
// create, assign and its overdue alerts); after a restart it gets the new
// events and none of the old.
func TestServeWebhooks(t *testing.T) {
	const secret = "hook-secret"
	db := t.TempDir() + "/rectify.db"
	run(t, "seed", "--db", db)
	bureauTok := addUser(t, db, "局办王", "bureau", "市生态环境局")
	rcv, hook := newHookReceiver(t, secret)
	flags := []string{"--scan-interval", "0", "--webhook", hook.URL, "--webhook-secret", secret, "--webhook-poll-interval", "10ms"}

	srv := startServer(t, db, flags...)
	bureau := &client{t, srv.url, bureauTok}
	create := func(title string) problemJSON {
		var p problemJSON
		bureau.do("POST", "/api/v1/problems", map[string]any{
			"title": title, "description": title, "source": "self_inspection", "county_id": "fuliang",
		}, 201, &p)
		return p
	}
	p := create("河道非法采砂")
	bureau.do("POST", "/api/v1/problems/"+p.ID+"/transitions", map[string]any{
		"trigger": "assign", "lead_unit": "fuliang", "deadline": "2021-12-31",
	}, 200, &p)
	var scan struct {
		Changes *int `json:"changes"`
	}
	bureau.do("POST", "/api/v1/deadlines/scan", nil, 200, &scan)
	if scan.Changes == nil {
		t.Errorf("scan answered no change count")
	}
	// Events arrive in seq order, so once the marker's creation arrives
	// every earlier event has.
	marker := create("标记")
	got := rcv.until(func(ev workflow.Event) bool { return ev.Entry.ProblemID == marker.ID })

	var actions []string
	for i, ev := range got {
		if i > 0 && ev.Seq <= got[i-1].Seq {
			t.Errorf("event %d after %d", ev.Seq, got[i-1].Seq)
		}
		if ev.Entry.ProblemID == p.ID {
			actions = append(actions, ev.Entry.Action)
			if ev.Entry.Action == workflow.ActionAlert && ev.Entry.Params.Level == "" {
				t.Errorf("alert event without a level: %+v", ev.Entry)
			}
		}
	}
	if len(actions) < 3 || actions[0] != workflow.ActionCreate || actions[1] != "assign" || actions[len(actions)-1] != workflow.ActionAlert {
		t.Errorf("problem %s events %v; want create, assign, then its alerts", p.ID, actions)
	}
	if got[0].Seq != 1 {
		t.Errorf("first event delivered is %d; the endpoint must get the whole outbox", got[0].Seq)
	}
	last := got[len(got)-1].Seq
	if err := srv.stop(); err != nil {
		t.Fatal(err)
	}
	rcv.checkNoBad()

	// Restart: only what happened since is sent, and perhaps the marker
	// again if the shutdown caught its acknowledgement in flight.
	srv = startServer(t, db, flags...)
	bureau.base = srv.url
	again, marker2 := create("重启后"), create("标记2")
	got = rcv.until(func(ev workflow.Event) bool { return ev.Entry.ProblemID == marker2.ID })
	if len(got) == 3 && got[0].Seq == last {
		got = got[1:]
	}
	if len(got) != 2 || got[0].Seq != last+1 || got[0].Entry.ProblemID != again.ID || got[1].Seq != last+2 {
		t.Errorf("after the restart got %+v; want only the two new problems' creations, seqs %d and %d", got, last+1, last+2)
	}
	if err := srv.stop(); err != nil {
		t.Fatal(err)
	}
	rcv.checkNoBad()
	st, err := bolt.Open(db, bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if c, err := st.Cursor(context.Background(), webhook.CursorName(hook.URL)); err != nil || c < last+1 || c > last+2 {
		t.Errorf("stored cursor %d, %v; want %d or %d", c, err, last+1, last+2)
	}
}

func TestServeRefusesBadWebhookURL(t *testing.T) {
	db := t.TempDir() + "/rectify.db"
	var logs bytes.Buffer
	err := Main(context.Background(), []string{"serve", "--db", db, "--addr", "127.0.0.1:0", "--webhook", "ftp://x/hook", "--webhook-secret", "k"},
		Env{Stdout: io.Discard, Stderr: &logs, Listening: func(net.Addr) { t.Error("listening with a bad webhook URL") }})
	if err == nil || !strings.Contains(err.Error(), "--webhook") {
		t.Fatalf("serve with ftp:// webhook: %v", err)
	}
}

// TestScanner: the scanner scans at start and on its ticker, reports each
// scan and stops with its context.
func TestScanner(t *testing.T) {
	ctx := context.Background()
	st, err := bolt.Open(filepath.Join(t.TempDir(), "scan.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	clock := workflow.NewManualClock(time.Date(2021, 7, 1, 9, 0, 0, 0, time.UTC))
	svc := workflow.NewService(st, clock)
	if err := svc.PutUnits(ctx, []workflow.Unit{{ID: "fuliang", Name: "浮梁县", Kind: workflow.UnitCounty}}); err != nil {
		t.Fatal(err)
	}
	p, _, err := svc.CreateProblem(ctx, cliBureau, workflow.NewProblem{Title: "尾矿库", Description: "尾矿库", Source: workflow.SourceSelfInspection, CountyID: "fuliang"})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Date(2021, 7, 31, 15, 59, 59, 0, time.UTC)
	if _, err := svc.Fire(ctx, cliBureau, p.ID, workflow.Command{Trigger: workflow.TriggerAssign,
		Params: workflow.Params{LeadUnit: "fuliang", Deadline: &deadline}}); err != nil {
		t.Fatal(err)
	}
	clock.Set(deadline.Add(40 * workflow.Day)) // overdue, red, and the accept clock long breached

	type scan struct {
		n   int
		err error
	}
	scans := make(chan scan, 10)
	var logs syncWriter
	logs.w = &bytes.Buffer{}
	sc := &scanner{svc: svc, interval: time.Millisecond, log: slogTo(&logs),
		observe: func(n int, err error) { scans <- scan{n, err} }}
	runCtx, cancel := context.WithCancel(ctx)
	bg := startBackground(runCtx, &api.Panics{}, slogTo(&logs))
	bg.run(sc.run)
	first, second := <-scans, <-scans
	cancel()
	bg.stop()
	if first.err != nil || first.n == 0 || second.err != nil || second.n != 0 {
		t.Errorf("scans %+v then %+v; want alerts, then nothing new", first, second)
	}
	if !strings.Contains(logs.w.(*bytes.Buffer).String(), "deadline scan") {
		t.Errorf("no scan logged")
	}
}

// TestBackgroundPanic: a panic in a background task ends that task only,
// is logged with its stack and recorded, so that the replica is not ready.
func TestBackgroundPanic(t *testing.T) {
	var logs syncWriter
	logs.w = &bytes.Buffer{}
	panics := &api.Panics{}
	bg := startBackground(context.Background(), panics, slogTo(&logs))
	bg.run(func(context.Context) { panic("index out of range in the scan") })
	other := make(chan struct{})
	bg.run(func(ctx context.Context) { <-ctx.Done(); close(other) })
	bg.stop()
	<-other
	err := panics.Check(context.Background())
	if err == nil || !strings.Contains(err.Error(), "index out of range in the scan") {
		t.Errorf("panics after a background panic: %v", err)
	}
	if out := logs.w.(*bytes.Buffer).String(); !strings.Contains(out, "background task panicked") || !strings.Contains(out, "goroutine") {
		t.Errorf("the panic is not logged with its stack: %s", out)
	}
}
