package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/jdz-eco/rectify/seeds"
)

// readyz returns /readyz's status and its checks.
func readyz(t *testing.T, base string) (int, map[string]string) {
	t.Helper()
	res, err := http.Get(base + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var body struct {
		Checks map[string]string `json:"checks"`
	}
	b, _ := io.ReadAll(res.Body)
	if err := json.Unmarshal(b, &body); err != nil {
		t.Fatalf("/readyz: %v: %s", err, b)
	}
	return res.StatusCode, body.Checks
}

// status sends a request with token and returns the status.
func status(t *testing.T, method, url, token string, body any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = strings.NewReader(string(b))
	}
	req, _ := http.NewRequest(method, url, rd)
	req.Header.Set("Authorization", "Bearer "+token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode
}

// TestDamagedWhileServing damages the file under a running server, as the
// issue's overwritten blocks would if they came while it ran: every page
// header after the meta pages is zeroed in place. bbolt panics on the
// pages it reads; the server answers 500, stays up, refuses writes, and
// /readyz turns 503 naming the damaged file. A restart refuses the file.
func TestDamagedWhileServing(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the server in a child process")
	}
	db := damageLedger(t)
	token := addUser(t, db, "局办王", "bureau", seeds.BureauUnitID)
	srv := startChildServer(t, "--db", db)
	if srv.url == "" {
		t.Fatalf("serve exited:\n%s", srv.stderr.String())
	}
	if code, checks := readyz(t, srv.url); code != http.StatusOK {
		t.Fatalf("/readyz before the damage = %d %v", code, checks)
	}

	f, err := os.OpenFile(db, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	fi, _ := f.Stat()
	zero := make([]byte, 16)
	for off := int64(2 * 4096); off < fi.Size(); off += 4096 {
		if _, err := f.WriteAt(zero, off); err != nil {
			t.Fatal(err)
		}
	}
	f.Close()

	api := srv.url + "/api/v1"
	if code := status(t, "GET", api+"/problems?limit=200", token, nil); code != http.StatusInternalServerError {
		t.Errorf("a list on damaged pages = %d, want 500", code)
	}
	code, checks := readyz(t, srv.url)
	if code != http.StatusServiceUnavailable || !strings.Contains(checks["bolt_file"], "damaged") || !strings.Contains(checks["bolt_file"], db) {
		t.Errorf("/readyz after the damage was read = %d %v, want 503 naming the damaged file", code, checks)
	}
	t.Logf("/readyz: %v", checks)
	if code := status(t, "POST", api+"/problems", token, map[string]any{
		"title": "损坏后新增", "description": "不应写入", "source": "audit", "county_id": seeds.FuliangUnitID,
	}); code/100 == 2 {
		t.Errorf("a write to the damaged file = %d, want a refusal", code)
	}
	res, err := http.Get(srv.url + "/healthz")
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("the server did not survive the damage: %v\n%s", err, srv.stderr.String())
	}
	res.Body.Close()
	logs := srv.stderr.String()
	if !strings.Contains(logs, "status=500") || strings.Contains(logs, "fatal error") {
		t.Errorf("the 500s are not logged, or the process faulted:\n%.3000s", logs)
	}
	srv.kill()

	again := startChildServer(t, "--db", db)
	if again.url != "" {
		t.Fatal("serve restarted on the damaged file")
	}
	checkRefusal(t, "serve after the damage", db, again.wait(t), again.stderr.String(), "damaged", "backup")
}
