package main

import (
	"archive/zip"
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jdz-eco/rectify/store/bolt/bolttest"
	"github.com/jdz-eco/rectify/workflow"
	"github.com/jdz-eco/rectify/workflow/dossier"
)

// TestHeadsExposeARewrite: heads kept outside the database expose a
// careful forgery. A server with a webhook sends the daily head anchor to
// the receiver; a case file downloaded then prints the head. Behind the
// server's back the chain is rewritten from an early entry on, every later
// hash recomputed and the head moved (bolttest.Rewrite): audit verify alone
// passes, but --expect-heads with the dossier's summary and the receiver's
// copy, pasted as they are, reports each head rewritten; a truncated copy
// reports them gone. The dossier itself still verifies offline: it is the
// document that proves what the ledger said.
func TestHeadsExposeARewrite(t *testing.T) {
	l := buildLedger(t)
	db := copyLedger(t, l)
	dir := filepath.Dir(db)
	token := addUser(t, db, "档案员", "bureau", "市生态环境局")

	var (
		mu     sync.Mutex
		bodies []string
	)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, string(b))
		mu.Unlock()
	}))
	defer recv.Close()
	srv := startServer(t, db, "--scan-interval", "0", "--webhook", recv.URL, "--webhook-secret", "s3cret",
		"--webhook-poll-interval", "20ms", "--evidence-dir", filepath.Join(dir, "evidence"))
	anchor := ""
	for deadline := time.Now().Add(20 * time.Second); anchor == "" && time.Now().Before(deadline); {
		mu.Lock()
		for _, b := range bodies {
			if strings.Contains(b, `"action":"head_anchor"`) {
				anchor = b
			}
		}
		mu.Unlock()
		if anchor == "" {
			time.Sleep(20 * time.Millisecond) // waiting for the delivery, not for time to pass
		}
	}
	if anchor == "" {
		t.Fatalf("the receiver got no head anchor among %d events", len(bodies))
	}
	req, _ := http.NewRequest("GET", srv.url+"/api/v1/problems/"+l.p1+"/dossier.zip", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	zipped, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("dossier: %d %s", res.StatusCode, zipped)
	}
	if err := srv.stop(); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, l.p1+".zip")
	if err := os.WriteFile(file, zipped, 0o600); err != nil {
		t.Fatal(err)
	}
	out := run(t, "audit", "verify-dossier", file)
	if !strings.Contains(out, "dossier verified") || !strings.Contains(out, res.Header.Get("X-Rectify-Head")) {
		t.Fatalf("verify-dossier:\n%s", out)
	}

	// The heads file: the summary printed from the dossier and the
	// receiver's copy of the anchor, as they are.
	summary := readZipFile(t, zipped, dossier.NameSummary)
	heads := filepath.Join(dir, "heads.txt")
	if err := os.WriteFile(heads, []byte("一案一档摘要：\n"+summary+"\n机器人收到的事件：\n"+anchor+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	listed, err := workflow.ParseHeadList(strings.NewReader(summary + anchor))
	if err != nil || len(listed) != 2 {
		t.Fatalf("heads in the summary and the anchor: %v %v", listed, err)
	}
	out, err = auditVerify(db, "--expect-heads", heads)
	if err != nil || strings.Count(out, ": intact") != 2 || !regexp.MustCompile(`expected heads\s+2, each found`).MatchString(out) {
		t.Fatalf("untouched, --expect-heads: %v\n%s", err, out)
	}

	// The list may come on standard input.
	var stdin bytes.Buffer
	stdin.WriteString(summary)
	var stdout bytes.Buffer
	if err := Main(context.Background(), []string{"audit", "verify", "--db", db, "--expect-heads", "-"}, Env{Stdin: &stdin, Stdout: &stdout, Stderr: io.Discard}); err != nil ||
		strings.Count(stdout.String(), ": intact") != 1 {
		t.Fatalf("--expect-heads - : %v\n%s", err, stdout.String())
	}

	// The forgery: p1's note, long before both heads, rewritten and every
	// later entry resealed.
	forged := copyFile(t, db)
	tamper(t, forged, func(f *bolttest.File) error {
		return f.Rewrite(l.p1Note, func(e *workflow.Entry) error {
			e.Params.Text = strings.Replace(e.Params.Text, noteMarker, "已全部整改", 1)
			return nil
		})
	})
	if out, err := auditVerify(forged); err != nil {
		t.Fatalf("the careful rewrite should pass an audit without heads: %v\n%s", err, out)
	}
	out, err = auditVerify(forged, "--expect-heads", heads)
	if err == nil || !strings.Contains(err.Error(), "2 of 2 expected heads are not in the chain as recorded") ||
		strings.Count(out, "REWRITTEN") != 2 || !regexp.MustCompile(`heads\.txt:\d+\): REWRITTEN`).MatchString(out) {
		t.Fatalf("the rewrite with the heads kept: %v\n%s", err, out)
	}
	// The dossier still verifies: it keeps what the ledger said.
	run(t, "audit", "verify-dossier", file)

	// Truncated before the heads: each is gone.
	cut := copyFile(t, db)
	tamper(t, cut, func(f *bolttest.File) error { return f.Truncate(l.mid.Seq) })
	out, err = auditVerify(cut, "--expect-heads", heads)
	if err == nil || strings.Count(out, "GONE") != 2 {
		t.Fatalf("the truncation with the heads kept: %v\n%s", err, out)
	}

	// A file with no head, or none at all, is refused.
	empty := filepath.Join(dir, "none.txt")
	os.WriteFile(empty, []byte("没有链头\n"), 0o600)
	for _, f := range []string{empty, filepath.Join(dir, "missing.txt")} {
		if _, err := auditVerify(db, "--expect-heads", f); err == nil || !strings.Contains(err.Error(), "--expect-heads") {
			t.Errorf("--expect-heads %s: %v", f, err)
		}
	}
	// A tampered dossier is refused, naming why.
	bad := bytes.Clone(zipped)
	bad[len(bad)/2] ^= 1
	os.WriteFile(file, bad, 0o600)
	stdout.Reset()
	if err := Main(context.Background(), []string{"audit", "verify-dossier", file}, Env{Stdout: &stdout, Stderr: io.Discard}); err == nil || !strings.Contains(err.Error(), "FAILED") {
		t.Errorf("verify-dossier of a changed file: %v", err)
	}
}

// readZipFile returns file name of the zip b.
func readZipFile(t *testing.T, b []byte, name string) string {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	rc, err := zr.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	s, _ := io.ReadAll(rc)
	return string(s)
}

// copyFile copies the database file db beside itself.
func copyFile(t *testing.T, db string) string {
	t.Helper()
	b, err := os.ReadFile(db)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "copy.db")
	if err := os.WriteFile(out, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return out
}
