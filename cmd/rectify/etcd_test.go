package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"

	"github.com/jdz-eco/rectify/workflow"
)

// startEtcd starts a single-member embedded etcd on a free loopback port,
// with its data in t.TempDir(), and returns its client URL. (The server is
// linked into this test binary only.)
func startEtcd(t *testing.T) string {
	t.Helper()
	var urls []url.URL
	for range 2 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		urls = append(urls, url.URL{Scheme: "http", Host: l.Addr().String()})
		l.Close() // free again for etcd (another process could take it: the test would fail, not lie)
	}
	cfg := embed.NewConfig()
	cfg.Name = "m0"
	cfg.Dir = filepath.Join(t.TempDir(), "etcd")
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = urls[:1], urls[:1]
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = urls[1:], urls[1:]
	cfg.InitialCluster = "m0=" + urls[1].String()
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.NewNop())
	cfg.LogLevel = "error"
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		t.Fatal(err)
	case <-time.After(60 * time.Second):
		t.Fatal("embedded etcd did not become ready")
	}
	return urls[0].String()
}

// getJSON fetches path with token and decodes the answer as generic JSON.
func getJSON(t *testing.T, base, token, path string) any {
	t.Helper()
	req, _ := http.NewRequest("GET", base+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 {
		t.Fatalf("GET %s%s: %d %s", base, path, res.StatusCode, data)
	}
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	return v
}

// TestMigrateBoltToEtcd migrates a ledger built by a real scenario (through
// the API of a bbolt server, with every kind of data a file holds:
// addCarried) into an embedded etcd, audits it there, and checks that a
// server on etcd answers as the bbolt server does. It is also the guard of
// bbolt's layout (checkExportPlan): a bucket or meta key that migrate
// neither carries nor leaves out with a reason fails it.
func TestMigrateBoltToEtcd(t *testing.T) {
	l := buildLedger(t)
	db := l.db()
	evidence := filepath.Join(l.dir, "evidence")
	token := addUser(t, db, "迁移核对", "bureau", "市生态环境局")
	x := addCarried(t, l) // the routine's head anchor: an entry of no problem migrates too
	checkExportPlan(t, db)
	ep := startEtcd(t)
	const prefix = "/jdz/"
	accountHead := regexp.MustCompile(`account head\s+(\S+)`)
	before := accountHead.FindStringSubmatch(run(t, "audit", "verify", "--db", db))
	if before == nil {
		t.Fatal("audit verify of the source shows no account head")
	}

	out := run(t, "migrate", "--from", "bolt:"+db, "--to", "etcd:"+ep, "--etcd-prefix", prefix, "--evidence-dir", evidence)
	if !strings.Contains(out, "migration done") || !strings.Contains(out, l.end.String()) {
		t.Fatalf("migrate printed:\n%s", out)
	}
	// Into a prefix that holds a ledger: refused.
	var errb bytes.Buffer
	err := Main(context.Background(), []string{"migrate", "--from", "bolt:" + db, "--to", "etcd:" + ep, "--etcd-prefix", prefix}, Env{Stdout: io.Discard, Stderr: &errb})
	if err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("a second migrate into %s: %v", prefix, err)
	}
	out = run(t, "audit", "verify", "--store", "etcd", "--etcd-endpoints", ep, "--etcd-prefix", prefix,
		"--evidence-dir", evidence, "--expect-head", l.mid.String())
	if !strings.Contains(out, "audit passed") || !strings.Contains(out, l.end.String()) {
		t.Fatalf("audit verify --store etcd printed:\n%s", out)
	}
	if after := accountHead.FindStringSubmatch(out); after == nil || after[1] != before[1] {
		t.Errorf("the account log's head: %s before the migration, %v after", before[1], after)
	}

	boltSrv := startServer(t, db, "--scan-interval", "0", "--routine-interval", "0", "--evidence-dir", evidence)
	etcdSrv := startServer(t, filepath.Join(t.TempDir(), "unused.db"), "--store", "etcd", "--etcd-endpoints", ep, "--etcd-prefix", prefix,
		"--scan-interval", "0", "--routine-interval", "0", "--evidence-dir", evidence)
	paths := []string{"/api/v1/dispatch-rounds", "/api/v1/workpoints/10/history", "/api/v1/stats/reporting", "/api/v1/problems", "/api/v1/problems?state=closed", "/api/v1/problems?county=fuliang&limit=2", "/api/v1/problems?lead_unit=fuliang&state=submitted",
		"/api/v1/audit/head", "/api/v1/events?after=0&limit=1000", "/api/v1/alerts", "/api/v1/units", "/api/v1/calendars",
		// Statistics from the copied rollups, now and as of days before and
		// after the ledger's first entries.
		"/api/v1/stats?group_by=county", "/api/v1/stats?group_by=state", "/api/v1/stats?group_by=lead_unit&as_of=2020-01-01",
		"/api/v1/stats?group_by=source&as_of=" + time.Now().Format(time.DateOnly), "/api/v1/stats?group_by=work_point&as_of=2030-12-31"}
	for _, id := range []string{l.p1, l.p2, l.p3} {
		paths = append(paths, "/api/v1/problems/"+id, "/api/v1/problems/"+id+"/history")
	}
	for _, id := range l.rounds {
		paths = append(paths, "/api/v1/dispatch-rounds/"+id)
	}
	paths = append(paths, "/api/v1/letters", "/api/v1/letters/"+l.letter, "/api/v1/letters?state=draft", "/api/v1/letters/"+x.draft,
		"/api/v1/objections", "/api/v1/public/notices", "/api/v1/problems/"+x.p5)
	// An admin's: the contacts (masked) and the delivery log.
	adminPaths := map[string]bool{"/api/v1/admin/contacts": true, "/api/v1/admin/deliveries?limit=500": true}
	for p := range adminPaths {
		paths = append(paths, p)
	}
	for _, p := range paths {
		tok := token
		if adminPaths[p] {
			tok = x.admin
		}
		a, b := getJSON(t, boltSrv.url, tok, p), getJSON(t, etcdSrv.url, tok, p)
		if strings.HasPrefix(p, "/api/v1/dispatch-rounds/") || strings.HasPrefix(p, "/api/v1/stats?") && !strings.Contains(p, "as_of") {
			// A board is as of its request; now is a moment later on the
			// second server.
			delete(a.(map[string]any), "at")
			delete(b.(map[string]any), "at")
		}
		if !reflect.DeepEqual(a, b) {
			ja, _ := json.Marshal(a)
			jb, _ := json.Marshal(b)
			t.Errorf("GET %s differs:\nbolt %.600s\netcd %.600s", p, ja, jb)
		}
	}
	// What the file held besides the ledger works on etcd: the objection
	// is in the bureau's queue, the Idempotency-Key replays its answer, the
	// web session is still signed in.
	var queue struct {
		Items []map[string]any `json:"items"`
	}
	(&client{t, etcdSrv.url, token}).do("GET", "/api/v1/objections", nil, 200, &queue)
	if len(queue.Items) != 1 {
		t.Errorf("the objections on etcd: %v", queue.Items)
	}
	x.replayNote(t, etcdSrv.url, l.p4)
	if got := pageStatus(t, etcdSrv.url, "/", x.session); got != http.StatusOK {
		t.Errorf("the web session on etcd: GET / is %d", got)
	}
	// The evidence files are served from the shared directory.
	req, _ := http.NewRequest("GET", etcdSrv.url+"/api/v1/evidence/"+l.shaP3, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != 200 {
		t.Errorf("evidence from the etcd server: %v %v", res, err)
	} else {
		res.Body.Close()
	}
	// The etcd ledger carries on where the file stopped: the same create on
	// both gives the same number.
	c := &client{t, etcdSrv.url, token}
	newProblem := map[string]any{"title": "迁移后新问题", "description": "迁移后登记", "source": "self_inspection", "county_id": "fuliang"}
	var p, q problemJSON
	c.do("POST", "/api/v1/problems", newProblem, 201, &p)
	(&client{t, boltSrv.url, token}).do("POST", "/api/v1/problems", newProblem, 201, &q)
	if p.ID != q.ID || p.Code != q.Code {
		t.Errorf("created after the migration: %s %s on etcd, %s %s on bbolt", p.ID, p.Code, q.ID, q.Code)
	}
	var h workflow.ChainHead
	c.do("GET", "/api/v1/audit/head", nil, 200, &h)
	if h.Seq != l.end.Seq+1 {
		t.Errorf("head after one create on etcd is %s, want seq %d", h, l.end.Seq+1)
	}
	// And so does the letter numbering.
	letter := map[string]any{"to_unit": "浮梁县", "problem_ids": []string{l.p4}, "kind": "提醒函", "demands": "请巩固整改成效。",
		"reply_due": time.Now().AddDate(0, 1, 0).Format(time.DateOnly)}
	var la, lb struct {
		ID    string `json:"id"`
		DocNo string `json:"doc_no"`
	}
	c.do("POST", "/api/v1/letters", letter, 201, &la)
	(&client{t, boltSrv.url, token}).do("POST", "/api/v1/letters", letter, 201, &lb)
	if la != lb || la.DocNo == "" {
		t.Errorf("a letter issued after the migration: %+v on etcd, %+v on bbolt", la, lb)
	}
	if err := etcdSrv.stop(); err != nil {
		t.Fatal(err)
	}
	if err := boltSrv.stop(); err != nil {
		t.Fatal(err)
	}
	out = run(t, "audit", "verify", "--store", "etcd", "--etcd-endpoints", ep, "--etcd-prefix", prefix, "--evidence-dir", evidence, "--expect-head", l.end.String())
	if !strings.Contains(out, "audit passed") {
		t.Fatalf("audit after writing on etcd:\n%s", out)
	}
	checkCarriedOnEtcd(t, db, ep, prefix, x)
	// Counted afresh under other thresholds, the rollups still audit.
	out = run(t, "rollups", "count", "--store", "etcd", "--etcd-endpoints", ep, "--etcd-prefix", prefix, "--red-days", "10", "--listed-days", "20")
	if !strings.Contains(out, "counted") {
		t.Fatalf("rollups count printed:\n%s", out)
	}
	out = run(t, "audit", "verify", "--store", "etcd", "--etcd-endpoints", ep, "--etcd-prefix", prefix)
	if !strings.Contains(out, "audit passed") {
		t.Fatalf("audit after counting the rollups:\n%s", out)
	}
}

// TestServeReplicasEtcd runs two replicas on one etcd prefix: what one
// writes the other serves at once, both seed nothing twice, and the ledger
// they wrote together passes the audit.
func TestServeReplicasEtcd(t *testing.T) {
	ep := startEtcd(t)
	dir := t.TempDir()
	evidence := filepath.Join(dir, "evidence")
	args := []string{"--store", "etcd", "--etcd-endpoints", ep, "--etcd-prefix", "/two/", "--evidence-dir", evidence, "--scan-interval", "100ms"}
	var out bytes.Buffer
	a := startServerOut(t, filepath.Join(dir, "a.db"), &out, append(args, "--demo")...)
	b := startServer(t, filepath.Join(dir, "b.db"), args...)
	tokens := map[string]string{}
	for _, line := range strings.Split(out.String(), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && strings.HasPrefix(f[1], "rt_") {
			tokens[f[0]] = f[1]
		}
	}
	if tokens["bureau"] == "" || tokens["unit"] == "" {
		t.Fatalf("no demo tokens in:\n%s", out.String())
	}
	// A user added from the command line while the replicas run.
	tok := strings.TrimSpace(run(t, "user", "add", "--store", "etcd", "--etcd-endpoints", ep, "--etcd-prefix", "/two/",
		"--name", "局办新人", "--role", "bureau", "--unit", "市生态环境局"))
	tokens["bureau"] = tok
	bureauA, bureauB := &client{t, a.url, tokens["bureau"]}, &client{t, b.url, tokens["bureau"]}
	unitB := &client{t, b.url, tokens["unit"]}
	var p problemJSON
	bureauA.do("POST", "/api/v1/problems", map[string]any{"title": "双副本问题", "description": "在 A 登记", "source": "self_inspection", "county_id": "fuliang"}, 201, &p)
	past := time.Now().AddDate(0, 0, -1).Format(time.DateOnly)
	bureauB.do("POST", "/api/v1/problems/"+p.ID+"/transitions", map[string]any{"trigger": "assign", "lead_unit": "fuliang", "deadline": past}, 200, &p)
	unitB.do("POST", "/api/v1/problems/"+p.ID+"/notes", map[string]any{"text": "在 B 记录进展"}, 200, &p)
	var got problemJSON
	bureauA.do("GET", "/api/v1/problems/"+p.ID, nil, 200, &got)
	if got.State != "assigned" || got.Version != p.Version {
		t.Errorf("A serves %s at version %d, B wrote %s at %d", got.State, got.Version, p.State, p.Version)
	}
	var hist historyJSON
	bureauA.do("GET", "/api/v1/problems/"+p.ID+"/history", nil, 200, &hist)
	alerts := 0
	for _, e := range hist.Items {
		if e.Action == "alert" {
			alerts++
		}
	}
	if alerts != 1 {
		t.Errorf("%d alerts recorded for a past deadline, want one (overdue, at assignment)", alerts)
	}
	// A backup through replica B, restored into another prefix.
	backup := filepath.Join(dir, "ledger.backup")
	out3 := run(t, "backup", "--addr", b.url, "--token", tokens["admin"], "--out", backup)
	var head workflow.ChainHead
	bureauA.do("GET", "/api/v1/audit/head", nil, 200, &head)
	if !strings.Contains(out3, "audit head "+head.String()) {
		t.Errorf("backup printed %q, want the head %s", out3, head)
	}
	for _, s := range []*server{a, b} {
		if err := s.stop(); err != nil {
			t.Fatal(err)
		}
	}
	out2 := run(t, "audit", "verify", "--store", "etcd", "--etcd-endpoints", ep, "--etcd-prefix", "/two/", "--evidence-dir", evidence)
	if !strings.Contains(out2, "audit passed") {
		t.Fatalf("audit of the replicas' ledger:\n%s", out2)
	}
	out4 := run(t, "migrate", "--from", "backup:"+backup, "--to", "etcd:"+ep, "--etcd-prefix", "/restored/")
	if !strings.Contains(out4, "migration done") || !strings.Contains(out4, head.String()) {
		t.Errorf("restore of the backup printed:\n%s", out4)
	}
}
