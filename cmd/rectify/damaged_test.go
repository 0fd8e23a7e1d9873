package main

import (
	"context"
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jdz-eco/rectify/seeds"
	"github.com/jdz-eco/rectify/store/bolt"
	"github.com/jdz-eco/rectify/store/bolt/bolttest"
	"github.com/jdz-eco/rectify/workflow"
)

// damageLedger builds a database of the seed data and 400 problems with a
// note each (about 1,200 history entries) and returns its path.
func damageLedger(t *testing.T) string {
	t.Helper()
	db := filepath.Join(t.TempDir(), "rectify.db")
	run(t, "seed", "--db", db)
	st, err := bolt.Open(db, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	svc := workflow.NewService(st, workflow.SystemClock{})
	bureau := workflow.Actor{ID: "u-test", Name: "测试", Role: workflow.RoleBureau, UnitID: seeds.BureauUnitID}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := range 8 {
		wg.Go(func() {
			for i := range 50 {
				p, _, err := svc.CreateProblem(ctx, bureau, workflow.NewProblem{
					Title: fmt.Sprintf("河道垃圾 %d-%d", w, i), Description: "河道沿岸违规堆放建筑垃圾，群众举报",
					Source: workflow.SourceAudit, CountyID: seeds.FuliangUnitID})
				if err == nil {
					d := time.Now().AddDate(0, 6, 0)
					_, err = svc.Fire(ctx, bureau, p.ID, workflow.Command{Trigger: workflow.TriggerAssign,
						Params: workflow.Params{LeadUnit: seeds.FuliangUnitID, Deadline: &d}})
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	return db
}

// damage is a way a database file gets damaged.
type damage struct {
	name string
	do   func(t *testing.T, db string)
	// audit is what audit verify says, when the file's structure is sound
	// and the audit itself names what is wrong.
	audit []string
}

var damages = []damage{
	{"20 overwritten 512-byte blocks", func(t *testing.T, db string) {
		b := readFile(t, db)[:dataSize(t, db)]
		// Keep the meta pages (the first two 4 KiB pages): the damage is
		// inside the tree, where nothing looks at it before a read.
		rng := rand.New(rand.NewPCG(12, 3))
		blocks := (len(b) - 8192) / 512
		for range 20 {
			off := 8192 + rng.IntN(blocks)*512
			for i := range 512 {
				b[off+i] = byte(rng.Uint32())
			}
		}
		writeFile(t, db, b)
	}, nil},
	{"truncated to half", func(t *testing.T, db string) {
		if err := os.Truncate(db, dataSize(t, db)/2); err != nil {
			t.Fatal(err)
		}
	}, nil},
	{"both meta pages overwritten", func(t *testing.T, db string) {
		b := readFile(t, db)
		for i := range 8192 {
			b[i] = byte(i * 7)
		}
		writeFile(t, db, b)
	}, nil},
	{"newest history entry altered", func(t *testing.T, db string) {
		st, err := bolt.Open(db, bolt.Options{ReadOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		head, err := st.Head(context.Background())
		st.Close()
		if err != nil {
			t.Fatal(err)
		}
		tamper(t, db, func(f *bolttest.File) error {
			e, err := f.Entry(head.Seq)
			if err != nil {
				return err
			}
			e.Params.Reason = "悄悄改写"
			return f.PutEntry(e)
		})
	}, []string{"FAILED", "content does not match its hash"}},
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// dataSize is the bytes the database file's pages take; the file runs on
// past them (bbolt allocates ahead).
func dataSize(t *testing.T, path string) int64 {
	t.Helper()
	n, err := bolttest.DataSize(path)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// damagedCommands are the commands that open a database file, each with
// what it needs besides --db.
func damagedCommands(t *testing.T) [][]string {
	out := filepath.Join(t.TempDir(), "ledger.xlsx")
	return [][]string{
		{"audit", "verify"},
		{"units"},
		{"export", "--out", out},
		{"calendar", "list"},
		{"seed"},
		{"user", "add", "--name", "新用户", "--role", "viewer", "--unit", seeds.BureauUnitID},
		{"user", "passwd", "--name", "新用户", "--password-stdin"},
	}
}

// checkRefusal checks that a command refused the file db: a non-zero exit
// status, a message naming the file and each of want, and no panic or
// fault.
func checkRefusal(t *testing.T, what, db string, exitCode int, stderr string, want ...string) {
	t.Helper()
	if exitCode == 0 {
		t.Errorf("%s: exit status 0; want a refusal\n%s", what, stderr)
		return
	}
	for _, bad := range []string{"panic", "fatal error", "goroutine ", "SIGBUS", "SIGSEGV"} {
		if strings.Contains(stderr, bad) {
			t.Errorf("%s: %q in the output; want a refusal, not a crash:\n%.3000s", what, bad, stderr)
			return
		}
	}
	for _, w := range append([]string{db}, want...) {
		if !strings.Contains(stderr, w) {
			t.Errorf("%s: the message does not say %q:\n%.3000s", what, w, stderr)
		}
	}
}

// TestDamagedFilesRefused damages a database file in each way the issue
// saw (and two more), then runs every command that opens a file on it: each
// refuses it with a message naming the file and what to do, exits non-zero,
// neither panics nor faults, and leaves the file as it was.
func TestDamagedFilesRefused(t *testing.T) {
	if testing.Short() {
		t.Skip("runs commands in child processes")
	}
	clean := damageLedger(t)
	for _, d := range damages {
		t.Run(d.name, func(t *testing.T) {
			db := filepath.Join(t.TempDir(), "rectify.db")
			writeFile(t, db, readFile(t, clean))
			d.do(t, db)
			sum := sha256.Sum256(readFile(t, db))

			srv := startChildServer(t, "--db", db)
			if srv.url != "" {
				res, err := http.Get(srv.url + "/readyz")
				status := 0
				if err == nil {
					status = res.StatusCode
					res.Body.Close()
				}
				srv.kill()
				t.Fatalf("serve started on the damaged file (/readyz %d, %v):\n%.3000s", status, err, srv.stderr.String())
			}
			checkRefusal(t, "serve", db, srv.wait(t), srv.stderr.String(), "damaged", "backup", "audit verify")
			t.Logf("serve: %s", lastLine(srv.stderr.String()))
			for _, args := range damagedCommands(t) {
				res := runChild(t, "一个足够长的密码\n", append(args, "--db", db)...)
				want := []string{"damaged", "backup"}
				if args[0] == "audit" && d.audit != nil {
					want = d.audit
				}
				checkRefusal(t, strings.Join(args[:min(2, len(args))], " "), db, res.exitCode, res.stderr, want...)
			}
			if sha256.Sum256(readFile(t, db)) != sum {
				t.Error("the damaged file was changed")
			}
		})
	}
}

// TestEmptyFileRefused: a 0-byte file is not made a new ledger unless
// serve is asked to (--init); a missing file still is.
func TestEmptyFileRefused(t *testing.T) {
	if testing.Short() {
		t.Skip("runs commands in child processes")
	}
	db := filepath.Join(t.TempDir(), "rectify.db")
	writeFile(t, db, nil)
	srv := startChildServer(t, "--db", db)
	if srv.url != "" {
		srv.kill()
		t.Fatalf("serve made the empty file a new ledger:\n%s", srv.stderr.String())
	}
	checkRefusal(t, "serve", db, srv.wait(t), srv.stderr.String(), "empty", "--init", "backup")
	for _, args := range damagedCommands(t) {
		res := runChild(t, "一个足够长的密码\n", append(args, "--db", db)...)
		checkRefusal(t, strings.Join(args[:min(2, len(args))], " "), db, res.exitCode, res.stderr, "empty", "--init")
	}
	if fileSize(t, db) != 0 {
		t.Fatal("the empty file was written")
	}

	// Asked to, serve makes it a new ledger.
	srv = startChildServer(t, "--db", db, "--init")
	if srv.url == "" {
		t.Fatalf("serve --init on an empty file exited:\n%s", srv.stderr.String())
	}
	res, err := http.Get(srv.url + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Errorf("/readyz of serve --init = %d", res.StatusCode)
	}
	srv.kill()
	if out := runChild(t, "", "units", "--db", db); out.exitCode != 0 || !strings.Contains(out.stdout, seeds.FuliangUnitID) {
		t.Errorf("units after serve --init: %d\n%s%s", out.exitCode, out.stdout, out.stderr)
	}

	// A missing file is created, as the README's first command does.
	missing := filepath.Join(t.TempDir(), "new.db")
	srv = startChildServer(t, "--db", missing)
	if srv.url == "" {
		t.Fatalf("serve on a missing file exited:\n%s", srv.stderr.String())
	}
	srv.kill()
}

// lastLine is the last line of s.
func lastLine(s string) string {
	s = strings.TrimRight(s, "\n")
	return s[strings.LastIndex(s, "\n")+1:]
}
