package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jdz-eco/rectify/store/bolt"
)

// postJSON posts body to url with token and decodes the problem it answers,
// for goroutines, which may not call t.Fatal.
func postJSON(url, token string, body any, want int) (problemJSON, error) {
	var p problemJSON
	b, _ := json.Marshal(body)
	req, err := http.NewRequest("POST", url, bytes.NewReader(b))
	if err != nil {
		return p, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return p, err
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	if res.StatusCode != want {
		return p, fmt.Errorf("POST %s: status %d, want %d: %s", url, res.StatusCode, want, data)
	}
	return p, json.Unmarshal(data, &p)
}

// acks records the writes the server acknowledged: each problem's highest
// version answered with a 2xx.
type acks struct {
	mu       sync.Mutex
	versions map[string]int
	n        int
	progress chan struct{} // a value after each ack, dropped if one is waiting
}

func (a *acks) add(p problemJSON) {
	a.mu.Lock()
	a.versions[p.ID] = max(a.versions[p.ID], p.Version)
	a.n++
	a.mu.Unlock()
	select {
	case a.progress <- struct{}{}:
	default:
	}
}

func (a *acks) snapshot() (map[string]int, int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return maps.Clone(a.versions), a.n
}

// TestBackupUnderConcurrentWrites takes a backup with rectify backup while
// writers create and assign problems through the API: the backup opens,
// passes audit verify, holds every write acknowledged before the backup
// began and is a prefix of the live chain.
func TestBackupUnderConcurrentWrites(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "rectify.db")
	run(t, "seed", "--db", db)
	bureauTok := addUser(t, db, "局办王", "bureau", "市生态环境局")
	adminTok := addUser(t, db, "管理员", "admin", "市生态环境局")
	srv := startServer(t, db, "--scan-interval", "0")
	api := srv.url + "/api/v1/problems"

	done := &acks{versions: map[string]int{}, progress: make(chan struct{}, 1)}
	stop, failed := make(chan struct{}), make(chan struct{})
	var failOnce sync.Once
	var writeErr error
	var wg sync.WaitGroup
	deadline := time.Now().AddDate(1, 0, 0).Format(time.DateOnly)
	for w := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				title := fmt.Sprintf("并发问题 %d-%d", w, i)
				p, err := postJSON(api, bureauTok, map[string]any{
					"title": title, "description": title, "source": "self_inspection", "county_id": "fuliang",
				}, http.StatusCreated)
				if err == nil {
					done.add(p)
					p, err = postJSON(api+"/"+p.ID+"/transitions", bureauTok, map[string]any{
						"trigger": "assign", "lead_unit": "fuliang", "deadline": deadline,
					}, http.StatusOK)
				}
				if err != nil {
					failOnce.Do(func() { writeErr = err; close(failed) })
					return
				}
				done.add(p)
			}
		})
	}
	stopWriters := sync.OnceFunc(func() { close(stop); wg.Wait() })
	defer stopWriters()
	// waitAcks waits until at least n writes were acknowledged.
	waitAcks := func(n int) {
		t.Helper()
		for {
			if _, got := done.snapshot(); got >= n {
				return
			}
			select {
			case <-done.progress:
			case <-failed:
				t.Fatalf("writer: %v", writeErr)
			}
		}
	}

	waitAcks(40)
	// Everything acknowledged now was acknowledged before the backup's
	// request began.
	before, n := done.snapshot()
	out := filepath.Join(t.TempDir(), "backup.db")
	var stdout, stderr bytes.Buffer
	if err := Main(context.Background(), []string{"backup", "--addr", srv.url, "--token", adminTok, "--out", out},
		Env{Stdout: &stdout, Stderr: &stderr}); err != nil {
		t.Fatalf("rectify backup: %v\n%s", err, stderr.String())
	}
	waitAcks(n + 20) // the writers went on meanwhile
	stopWriters()
	if err := srv.stop(); err != nil {
		t.Fatal(err)
	}

	m := regexp.MustCompile(`saved (\d+) bytes to .*\naudit head (\d+:[0-9a-f]{64})\n`).FindStringSubmatch(stdout.String())
	if m == nil {
		t.Fatalf("rectify backup printed:\n%s", stdout.String())
	}
	if fi, err := os.Stat(out); err != nil || fmt.Sprint(fi.Size()) != m[1] {
		t.Errorf("backup file: %v, %v; printed %s bytes", fi, err, m[1])
	}
	if _, err := os.Stat(out + ".tmp"); err == nil {
		t.Error("the temporary file is left behind")
	}

	// The backup passes the audit, its head is the one printed, and the
	// live chain goes on from it unchanged.
	report, err := auditVerify(out, "--evidence-dir", filepath.Join(dir, "evidence"))
	if err != nil {
		t.Fatalf("audit verify of the backup: %v\n%s", err, report)
	}
	if !regexp.MustCompile(`head\s+` + m[2]).MatchString(report) {
		t.Errorf("the backup's audit head is not the printed %s:\n%s", m[2], report)
	}
	if report, err := auditVerify(db, "--expect-head", m[2]); err != nil {
		t.Errorf("the live database does not extend the backup's chain: %v\n%s", err, report)
	}

	st, err := bolt.Open(out, bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	for id, v := range before {
		p, err := st.Problem(ctx, id)
		if err != nil {
			t.Errorf("problem %s (version %d acknowledged before the backup) is not in it: %v", id, v, err)
			continue
		}
		if int(p.Version) < v {
			t.Errorf("problem %s is at version %d in the backup; version %d was acknowledged before it", id, p.Version, v)
		}
	}
	if len(before) < 10 {
		t.Errorf("only %d problems written before the backup", len(before))
	}
}

// TestBackupRefused: a non-admin token gets the server's reason and no file.
func TestBackupRefused(t *testing.T) {
	db := filepath.Join(t.TempDir(), "rectify.db")
	run(t, "seed", "--db", db)
	bureauTok := addUser(t, db, "局办王", "bureau", "市生态环境局")
	srv := startServer(t, db, "--scan-interval", "0")
	out := filepath.Join(t.TempDir(), "backup.db")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--addr", srv.url, "--token", bureauTok, "--out", out}, "403"},
		{[]string{"--addr", srv.url, "--token", "rt_nonsense", "--out", out}, "401"},
		{[]string{"--addr", srv.url, "--token", bureauTok}, "--out"},
		{[]string{"--addr", srv.url, "--out", out}, "--token"},
		{[]string{"--addr", "ftp://x", "--token", bureauTok, "--out", out}, "--addr"},
	} {
		err := Main(context.Background(), append([]string{"backup"}, tc.args...), Env{Stdout: io.Discard, Stderr: io.Discard})
		t.Logf("backup %v: %v", tc.args, err)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("backup %v: %v; want an error naming %s", tc.args, err, tc.want)
		}
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("a refused backup left a file")
	}
	if _, err := os.Stat(out + ".tmp"); err == nil {
		t.Error("a refused backup left a temporary file")
	}
	if err := srv.stop(); err != nil {
		t.Fatal(err)
	}
}

// TestBackupBadStreams: a stream cut short or one that is not a database
// leaves no file, and an existing backup in its place untouched.
func TestBackupBadStreams(t *testing.T) {
	for _, tc := range []struct {
		name    string
		handler http.HandlerFunc
		want    string
	}{
		{"cut short", func(w http.ResponseWriter, r *http.Request) {
			w.Write(bytes.Repeat([]byte{0}, 4096))
			w.(http.Flusher).Flush()
			panic(http.ErrAbortHandler)
		}, "receiving"},
		{"short of its length", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "8192")
			w.Write(bytes.Repeat([]byte{0}, 4096))
		}, "receiving"},
		{"not a database", func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte("<html>hello</html>"))
		}, "not a rectify database"},
		{"a problem", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte(`{"title":"Service Unavailable","detail":"the database is closing","code":"unavailable"}`))
		}, "503 Service Unavailable: the database is closing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/api/v1/admin/backup" || r.Header.Get("Authorization") != "Bearer tok" {
					http.Error(w, "wrong request", http.StatusBadRequest)
					return
				}
				tc.handler(w, r)
			}))
			defer srv.Close()
			out := filepath.Join(t.TempDir(), "backup.db")
			if err := os.WriteFile(out, []byte("the previous backup"), 0o600); err != nil {
				t.Fatal(err)
			}
			err := Main(context.Background(), []string{"backup", "--addr", srv.URL, "--token", "tok", "--out", out}, Env{Stdout: io.Discard, Stderr: io.Discard})
			t.Logf("backup: %v", err)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("backup: %v; want an error naming %q", err, tc.want)
			}
			if b, _ := os.ReadFile(out); string(b) != "the previous backup" {
				t.Errorf("the previous backup was replaced")
			}
			if _, err := os.Stat(out + ".tmp"); err == nil {
				t.Error("the temporary file is left behind")
			}
		})
	}
}
