package bolt

import (
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/jdz-eco/rectify/store/storetest"
)

// TestFileSizeLimit fills the disk for real, as far as the file is
// concerned: with the process's file size limit (RLIMIT_FSIZE) at the
// file's size, the commit that must grow the file fails (EFBIG, what a
// full disk's ENOSPC is to bbolt), its command fails cleanly, and
// WriteFailure reports it until the limit is lifted; then writes succeed
// again, every acknowledged one is there and the file passes the full
// check.
func TestFileSizeLimit(t *testing.T) {
	ctx := t.Context()
	s, path := open(t, Options{})
	fill(t, s, 3)
	s.health.probeEvery = 0
	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &old); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	limited := old
	limited.Cur = uint64(fi.Size())
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &limited); err != nil {
		t.Skipf("cannot lower the file size limit: %v", err)
	}
	restore := func() {
		if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &old); err != nil {
			t.Fatal(err)
		}
	}
	defer restore()
	p, err := s.Problem(ctx, "1")
	if err != nil {
		t.Fatal(err)
	}
	version := p.Version
	var failed error
	for range 5000 {
		q, err := s.UpdateProblem(ctx, "1", storetest.Note(strings.Repeat("磁盘空间不足", 300)))
		if err != nil {
			failed = err
			break
		}
		version = q.Version
	}
	if failed == nil || !strings.Contains(failed.Error(), "file too large") {
		t.Fatalf("writes past the file size limit: %v, want the growth refused", failed)
	}
	werr := s.WriteFailure(ctx)
	if werr == nil {
		t.Fatal("WriteFailure = nil while the file cannot grow")
	}
	t.Logf("%d notes written, then: %v", version-p.Version, werr)
	restore()
	if err := s.WriteFailure(ctx); err != nil {
		t.Fatalf("WriteFailure once the file may grow = %v", err)
	}
	q, err := s.UpdateProblem(ctx, "1", storetest.Note("空间已释放"))
	if err != nil {
		t.Fatal(err)
	}
	if q.Version != version+1 {
		t.Errorf("problem 1 at version %d after the last acknowledged %d and one more", q.Version, version)
	}
	checkChain(t, s)
	s.Close()
	s, err = Open(path, Options{})
	if err != nil {
		t.Fatalf("the full check after the failed growth: %v", err)
	}
	s.Close()
}
