package bolt

import (
	"errors"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/jdz-eco/rectify/store/storetest"
	"github.com/jdz-eco/rectify/workflow"
)

// rollupClock is where fill's ledger stands: after its deadlines begin to
// pass.
var rollupClock = workflow.NewManualClock(storetest.T0.AddDate(0, 0, 25))

// TestRollupsCountedOnUpgrade: a file of schema version 5 (no rollups) is
// refused read-only, and opened read-write gets its tallies counted from the
// histories: a recount agrees and the statistics they give equal the
// records'.
func TestRollupsCountedOnUpgrade(t *testing.T) {
	s, path := open(t, Options{})
	fill(t, s, 30)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	updateFile(t, path, func(tx *bbolt.Tx) error {
		for _, name := range rollupBuckets {
			if err := tx.DeleteBucket(name); err != nil {
				return err
			}
		}
		meta := tx.Bucket(bucketMeta)
		for _, k := range [][]byte{keyRollupPolicy, keyRollupMark} {
			if err := meta.Delete(k); err != nil {
				return err
			}
		}
		return meta.Put(keySchema, u64(5))
	})
	if _, err := Open(path, Options{ReadOnly: true}); !errors.Is(err, ErrNeedsUpgrade) {
		t.Fatalf("read-only open of a version 5 file = %v, want ErrNeedsUpgrade", err)
	}
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := storetest.CheckRollups(t.Context(), s, rollupClock); err != nil {
		t.Fatal(err)
	}
	rep, err := workflow.NewService(s, rollupClock).Stats(t.Context(), storetest.BureauActor, workflow.GroupByState, time.Time{})
	if err != nil || rep.Total.Total != 30 {
		t.Fatalf("stats after the upgrade: %+v, %v", rep, err)
	}
}

// TestRollupsFollowThePolicy: the tallies count levels under the policy the
// store was opened with; opened with another, they are counted afresh,
// opened with none they keep theirs, and a query under a policy they do not
// follow is refused (the service then counts from the records).
func TestRollupsFollowThePolicy(t *testing.T) {
	strict := workflow.DefaultPolicy()
	strict.Red, strict.Listed = 5*workflow.Day, 10*workflow.Day
	s, path := open(t, Options{Policy: &strict})
	fill(t, s, 30)
	ctx := t.Context()
	ask := func(s *Store, pol workflow.Policy) bool {
		_, ok, err := s.Tallies(ctx, workflow.TallyQuery{Grouping: workflow.GroupByCounty, At: rollupClock.Now(), Policy: pol})
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if !ask(s, strict) || ask(s, workflow.DefaultPolicy()) {
		t.Fatal("a store opened with a policy answers for it and only for it")
	}
	svc := workflow.NewService(s, rollupClock)
	if err := svc.SetPolicy(strict); err != nil {
		t.Fatal(err)
	}
	reds := func(svc *workflow.Service) int {
		rep, err := svc.Stats(ctx, storetest.BureauActor, workflow.GroupByCounty, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		return rep.Total.ByLevel[workflow.LevelRed] + rep.Total.ByLevel[workflow.LevelListed]
	}
	if reds(svc) == 0 {
		t.Fatal("the strict policy finds no red or listed problem: the test proves nothing")
	}
	slow := workflow.NewService(storetest.RecordsOnly{Store: s}, rollupClock)
	if err := slow.SetPolicy(strict); err != nil {
		t.Fatal(err)
	}
	if got, want := reds(svc), reds(slow); got != want {
		t.Fatalf("red or listed problems from the rollups %d, from the records %d", got, want)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// Opened without a policy (a one-shot command), the file keeps its own.
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !ask(s, strict) || ask(s, workflow.DefaultPolicy()) {
		t.Fatal("reopened without a policy, the rollups keep theirs")
	}
	s.Close()
	def := workflow.DefaultPolicy()
	s, err = Open(path, Options{Policy: &def})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if ask(s, strict) || !ask(s, workflow.DefaultPolicy()) {
		t.Fatal("reopened with the default policy, the rollups follow it")
	}
	if err := storetest.CheckRollups(ctx, s, rollupClock); err != nil {
		t.Fatal(err)
	}
}
