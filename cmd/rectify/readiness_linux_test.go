package main

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/jdz-eco/rectify/seeds"
	"github.com/jdz-eco/rectify/workflow"
)

// TestDiskFullNotReady runs the server with a file size limit at its
// database file's size (what a full disk is to it: the file cannot grow).
// Writes fail cleanly once the file must grow, /readyz is 503 naming the
// failing writes, and once the limit is lifted the next write succeeds and
// the replica is ready again; nothing acknowledged is lost and the file
// passes audit verify.
func TestDiskFullNotReady(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the server in a child process")
	}
	db := filepath.Join(t.TempDir(), "rectify.db")
	run(t, "seed", "--db", db)
	token := addUser(t, db, "局办王", "bureau", seeds.BureauUnitID)
	srv := startChildServerEnv(t, []string{childFileSizeEnv + "=" + strconv.FormatInt(fileSize(t, db), 10)}, "--db", db)
	if srv.url == "" {
		t.Fatalf("serve exited:\n%s", srv.stderr.String())
	}
	api := srv.url + "/api/v1"
	create := func(i int) (int, string) {
		// A problem of about 4 KB, and, after the first failure, one of
		// about 30 KB: pages a failed commit gave back may hold a small
		// one, not one that needs many contiguous pages.
		repeat := 100
		if i < 0 {
			repeat = workflow.MaxText / 13
		}
		b, _ := json.Marshal(map[string]any{
			"title": "磁盘满 " + strconv.Itoa(i), "description": strings.Repeat("河道沿岸违规堆放建筑垃圾。", repeat),
			"source": "audit", "county_id": seeds.FuliangUnitID,
		})
		req, _ := http.NewRequest("POST", api+"/problems", strings.NewReader(string(b)))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var p problemJSON
		_ = json.NewDecoder(res.Body).Decode(&p)
		return res.StatusCode, p.ID
	}
	var acked []string
	failed := 0
	for i := range 5000 {
		code, id := create(i)
		if code == http.StatusCreated {
			acked = append(acked, id)
			continue
		}
		if code != http.StatusInternalServerError {
			t.Fatalf("create on a full disk = %d, want 500", code)
		}
		failed++
		break
	}
	if failed == 0 {
		t.Fatal("5000 problems fitted in the file: the limit did not bite")
	}
	code, checks := readyz(t, srv.url)
	if code != http.StatusServiceUnavailable || !strings.Contains(checks["bolt_writes"], "file too large") || checks["bolt_file"] != "ok" {
		t.Fatalf("/readyz with the disk full = %d %v, want 503 naming the failing writes", code, checks)
	}
	t.Logf("%d created, then /readyz: %v", len(acked), checks["bolt_writes"])
	if code, _ := create(-1); code != http.StatusInternalServerError {
		t.Errorf("a second create on the full disk = %d", code)
	}
	if code, _ := readyz(t, srv.url); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz still with the disk full = %d", code)
	}

	if err := srv.cmd.Process.Signal(syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	srv.waitLog(t, "file size limit lifted")
	// The first write that succeeds makes the replica ready again.
	code, id := create(-2)
	if code != http.StatusCreated {
		t.Fatalf("create after the limit was lifted = %d\n%s", code, srv.stderr.String())
	}
	acked = append(acked, id)
	if code, checks = readyz(t, srv.url); code != http.StatusOK {
		t.Errorf("/readyz after a write succeeded again = %d %v", code, checks)
	}
	for _, id := range acked {
		if code := status(t, "GET", api+"/problems/"+id, token, nil); code != http.StatusOK {
			t.Errorf("acknowledged problem %s: %d", id, code)
		}
	}
	srv.kill()
	if res := runChild(t, "", "audit", "verify", "--db", db); res.exitCode != 0 {
		t.Errorf("audit verify after the full disk: %d\n%s%s", res.exitCode, res.stdout, res.stderr)
	}
}
