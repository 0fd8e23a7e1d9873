package bolt

import (
	"errors"
	"strings"
	"syscall"
	"testing"

	bbolt "go.etcd.io/bbolt"

	"github.com/jdz-eco/rectify/store/storetest"
	"github.com/jdz-eco/rectify/workflow"
)

// TestWriteFailureReported: a commit that fails as on a full disk fails
// its commands, writes nothing and is reported by WriteFailure until a
// write succeeds again, which WriteFailure's own probe finds without a
// command.
func TestWriteFailureReported(t *testing.T) {
	ctx := t.Context()
	s, _ := open(t, Options{})
	fill(t, s, 3)
	s.health.probeEvery = 0
	if err := s.WriteFailure(ctx); err != nil {
		t.Fatalf("WriteFailure of a healthy store = %v", err)
	}
	full := true
	s.health.failCommit = func() error {
		if full {
			return syscall.ENOSPC
		}
		return nil
	}
	before, err := s.Problem(ctx, "1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateProblem(ctx, "1", storetest.Note("磁盘已满")); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("a note on a full disk = %v, want ENOSPC", err)
	}
	if after, _ := s.Problem(ctx, "1"); after.Version != before.Version {
		t.Errorf("the failed write moved problem 1 from version %d to %d", before.Version, after.Version)
	}
	err = s.WriteFailure(ctx)
	if err == nil || !strings.Contains(err.Error(), "no space left on device") {
		t.Fatalf("WriteFailure while the disk is full = %v, want the failure", err)
	}
	t.Logf("WriteFailure: %v", err)
	if s.Damage() != nil {
		t.Errorf("a full disk marked the file damaged: %v", s.Damage())
	}

	full = false
	if err := s.WriteFailure(ctx); err != nil {
		t.Fatalf("WriteFailure once writes succeed again = %v (its probe should have cleared it)", err)
	}
	// A command's success clears it as well.
	full = true
	_, _ = s.UpdateProblem(ctx, "1", storetest.Note("磁盘已满"))
	full = false
	s.health.probeEvery = 1 << 62 // no probe: only the command clears it
	if _, err := s.UpdateProblem(ctx, "1", storetest.Note("空间已释放")); err != nil {
		t.Fatal(err)
	}
	if err := s.WriteFailure(ctx); err != nil {
		t.Errorf("WriteFailure after a command committed = %v", err)
	}
	checkChain(t, s)
}

// TestReadPanicMarksDamaged: a panic inside a read transaction (bbolt's
// reaction to a damaged page) is an error, not a crash, and marks the
// store damaged: it refuses writes from then on.
func TestReadPanicMarksDamaged(t *testing.T) {
	ctx := t.Context()
	s, _ := open(t, Options{})
	fill(t, s, 3)
	err := s.view(func(tx *bbolt.Tx) error { panic("assertion failed: page 7 is not a leaf") })
	if err == nil || !strings.Contains(err.Error(), "assertion failed") {
		t.Fatalf("a read that panicked = %v, want the panic as an error", err)
	}
	if d := s.Damage(); d == nil || !strings.Contains(d.Error(), "assertion failed") || !strings.Contains(d.Error(), "audit verify") {
		t.Fatalf("Damage after a read panicked = %v", d)
	}
	if _, err := s.UpdateProblem(ctx, "1", storetest.Note("写入")); err == nil || !strings.Contains(err.Error(), "damaged") {
		t.Errorf("a write to a damaged store = %v, want it refused", err)
	}
	if _, err := s.Problem(ctx, "2"); err != nil {
		t.Errorf("reads go on after damage was found: %v", err)
	}
}

// TestUndecodableRecordMarksDamaged: a record that does not decode (damage
// inside a value, which no structural check sees) is an error when read
// and marks the store damaged.
func TestUndecodableRecordMarksDamaged(t *testing.T) {
	ctx := t.Context()
	s, path := open(t, Options{})
	fill(t, s, 200)
	s.Close()
	updateFile(t, path, func(tx *bbolt.Tx) error {
		// A packed value's first byte, then no token.
		return tx.Bucket(bucketProblems).Put(u64(2), []byte{0x01, 0xEE, 0xEE})
	})
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatalf("Open = %v (problem 2's record is not in the chain's tail)", err)
	}
	defer s.Close()
	if s.Damage() != nil {
		t.Fatalf("damaged before anything read it: %v", s.Damage())
	}
	if _, err := s.Problem(ctx, "2"); err == nil {
		t.Fatal("reading a record that does not decode succeeded")
	}
	if d := s.Damage(); d == nil || !strings.Contains(d.Error(), "does not decode") {
		t.Errorf("Damage after reading a bad record = %v", d)
	}
	if _, err := s.Problem(ctx, "3"); err != nil {
		t.Errorf("other records still read: %v", err)
	}
	if _, err := workflow.Audit(ctx, s, nil, nil); err == nil {
		t.Error("the audit passed a record that does not decode")
	}
}
