package etcd

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/jdz-eco/rectify/store/storetest"
	"github.com/jdz-eco/rectify/workflow"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) workflow.Store { return openStore(t, nil, Config{}) })
}

func TestConformanceUnbatched(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	storetest.Run(t, func(t *testing.T) workflow.Store { return openStore(t, nil, Config{MaxBatch: 1}) })
}

func TestAccounts(t *testing.T) {
	storetest.RunAccounts(t, func(t *testing.T) workflow.Store { return openStore(t, nil, Config{}) })
}

// TestTwoStoresOnePrefix runs the conformance suite's concurrency case with
// the writers split over two stores (two replicas) on one prefix.
func TestTwoStoresOnePrefix(t *testing.T) {
	ctx := t.Context()
	a := openStore(t, nil, Config{})
	b := openStore(t, nil, Config{Prefix: a.Prefix()})
	const problems, writers, notes = 4, 8, 10
	var ids []string
	for i := range problems {
		st := []*Store{a, b}[i%2]
		p, _, err := st.CreateProblem(ctx, "", storetest.Build(fmt.Sprintf("问题 %d", i), workflow.SourceSelfInspection, storetest.Leping))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, p.ID)
	}
	var wg sync.WaitGroup
	errs := make(chan error, writers*notes*problems)
	for w := range writers {
		st := []*Store{a, b}[w%2]
		wg.Go(func() {
			for i := range notes {
				for _, id := range ids {
					if _, err := st.UpdateProblem(ctx, id, storetest.Note(fmt.Sprintf("w%d n%d", w, i))); err != nil {
						errs <- err
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for _, id := range ids {
		h, err := a.History(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if len(h) != 1+writers*notes {
			t.Errorf("problem %s has %d entries, want %d", id, len(h), 1+writers*notes)
		}
		for i, e := range h {
			if e.Version != uint64(i+1) {
				t.Errorf("problem %s entry %d at version %d", id, i, e.Version)
			}
		}
	}
	if _, err := workflow.Audit(ctx, a, nil, nil); err != nil {
		t.Fatalf("audit: %v", err)
	}
	t.Logf("a: %d txns, %d conflicts, %d re-applied; b: %d txns, %d conflicts", a.stats.Txns.Load(), a.stats.Conflicts.Load(), a.stats.Reapplied.Load(), b.stats.Txns.Load(), b.stats.Conflicts.Load())
}

// TestUnknownOutcome makes the store lose the answers of transactions that
// did commit (and of some that did not), as a timeout or a leader change
// does: each command is resolved by its command key and applied once.
func TestUnknownOutcome(t *testing.T) {
	ctx := t.Context()
	s := openStore(t, nil, Config{})
	var mu sync.Mutex
	n := 0
	unavailable := status.Error(codes.Unavailable, "injected: connection lost")
	s.testAfterTxn = func(resp *clientv3.TxnResponse, err error) error {
		mu.Lock()
		defer mu.Unlock()
		n++
		if err == nil && n%3 != 0 {
			return unavailable // committed (or refused), but the caller does not hear it
		}
		return err
	}
	p, _, err := s.CreateProblem(ctx, "k1", storetest.Build("昌江区黑臭水体", workflow.SourceSelfInspection, storetest.Changjiang))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		if _, err := s.UpdateProblem(ctx, p.ID, storetest.Note(fmt.Sprintf("进展 %d", i))); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.SetCursor(ctx, "webhook:x", 7); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateUser(ctx, workflow.User{ID: "u1", Name: "甲"}, workflow.Token{Hash: "h1"}); err != nil {
		t.Fatalf("CreateUser after a lost answer: %v", err)
	}
	s.testAfterTxn = nil
	h, err := s.History(ctx, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != 21 {
		t.Fatalf("history has %d entries, want 21 (each command once)", len(h))
	}
	for i, e := range h[1:] {
		if e.Params.Text != fmt.Sprintf("进展 %d", i) || e.Version != uint64(i+2) {
			t.Errorf("entry %d: %q at version %d", i+1, e.Params.Text, e.Version)
		}
	}
	if _, err := workflow.Audit(ctx, s, nil, nil); err != nil {
		t.Fatal(err)
	}
	st := s.Stats()
	if st.Unknown.Load() == 0 || st.Resolved.Load() == 0 {
		t.Errorf("unknown %d, resolved %d: the injection did not happen", st.Unknown.Load(), st.Resolved.Load())
	}
	t.Logf("unknown %d, resolved as committed %d, resent %d", st.Unknown.Load(), st.Resolved.Load(), st.Resent.Load())
}

// TestFence: a write with a fence commits while the fence key exists with
// its revision, and fails with ErrFenced once it is gone.
func TestFence(t *testing.T) {
	ctx := t.Context()
	s := openStore(t, nil, Config{})
	p, _, err := s.CreateProblem(ctx, "", storetest.Build("乐平市养殖场废水外排", workflow.SourceSelfInspection, storetest.Leping))
	if err != nil {
		t.Fatal(err)
	}
	key := s.Prefix() + "election/test/1"
	resp, err := s.Client().Put(ctx, key, "me")
	if err != nil {
		t.Fatal(err)
	}
	fctx := WithFence(ctx, key, resp.Header.Revision)
	if _, err := s.UpdateProblem(fctx, p.ID, storetest.Note("领导者写入")); err != nil {
		t.Fatalf("fenced write while leading: %v", err)
	}
	if err := s.SetCursor(fctx, "c", 1); err != nil {
		t.Fatalf("fenced cursor while leading: %v", err)
	}
	if _, err := s.Client().Delete(ctx, key); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateProblem(fctx, p.ID, storetest.Note("迟到的写入")); !errors.Is(err, ErrFenced) {
		t.Fatalf("fenced write after the key is gone = %v, want ErrFenced", err)
	}
	if err := s.SetCursor(fctx, "c", 2); !errors.Is(err, ErrFenced) {
		t.Fatalf("fenced cursor after the key is gone = %v, want ErrFenced", err)
	}
	// Re-created, the key has another revision: still fenced.
	if _, err := s.Client().Put(ctx, key, "someone else"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.CreateProblem(fctx, "", storetest.Build("x", workflow.SourceOther, storetest.Leping)); !errors.Is(err, ErrFenced) {
		t.Fatalf("fenced create after the key was re-created = %v, want ErrFenced", err)
	}
	if h, _ := s.History(ctx, p.ID); len(h) != 2 {
		t.Errorf("history has %d entries, want 2", len(h))
	}
	if c, _ := s.Cursor(ctx, "c"); c != 1 {
		t.Errorf("cursor %d, want 1", c)
	}
}

// TestBackupRestore dumps a store, restores it under another prefix and
// checks both hold the same keys and pass the audit.
func TestBackupRestore(t *testing.T) {
	ctx := t.Context()
	// The stores fold their rollup deltas only when told: a background
	// fold between the backup and the comparison of the keys would change
	// them (it did, on a loaded machine).
	s := openStore(t, nil, Config{})
	s.folder.stop()
	svc := workflow.NewService(s, workflow.NewManualClock(storetest.T0))
	if err := svc.PutUnits(ctx, storetest.Units()); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if i == 3 {
			// The backup holds folded views and deltas still to fold.
			if n, err := s.FoldRollups(ctx); err != nil || n == 0 {
				t.Fatalf("FoldRollups = %d, %v", n, err)
			}
		}
		p, _, err := svc.CreateProblem(ctx, storetest.BureauActor, workflow.NewProblem{Title: fmt.Sprintf("问题 %d", i), Description: "描述",
			Source: workflow.SourceAudit, CountyID: storetest.Leping, DedupeKey: fmt.Sprintf("d%d", i)})
		if err != nil {
			t.Fatal(err)
		}
		d := storetest.Deadline(10)
		if _, err := svc.Fire(ctx, storetest.BureauActor, p.ID, workflow.Command{Trigger: workflow.TriggerAssign, Params: workflow.Params{LeadUnit: storetest.Leping, Deadline: &d}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.SetCursor(ctx, "webhook:a", 3); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	n, err := s.Backup(ctx, &buf)
	if err != nil || n != int64(buf.Len()) {
		t.Fatalf("Backup = %d, %v (buffer %d)", n, err, buf.Len())
	}
	if !strings.HasPrefix(buf.String(), `{"format":"rectify-etcd-backup"`) {
		t.Fatalf("backup starts %.60q", buf.String())
	}
	r := openStore(t, nil, Config{})
	r.folder.stop()
	h, err := r.Restore(ctx, bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := workflow.Audit(ctx, r, nil, &h.Head)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Problems != 5 || rep.Entries != h.Head.Seq {
		t.Errorf("restored audit %+v, head %v", rep, h.Head)
	}
	keys := func(st *Store) []string {
		var out []string
		_, err := st.rangeKeys(ctx, st.pfx, clientv3.GetPrefixRangeEnd(st.pfx), 0, 1000, false, func(kv *kvPair) (bool, error) {
			rel := string(kv.Key[len(st.pfx):])
			if !transient(rel) {
				out = append(out, rel+"="+string(kv.Value))
			}
			return false, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	if a, b := keys(s), keys(r); !slices.Equal(a, b) {
		t.Errorf("restored keys differ: %d vs %d", len(a), len(b))
	} else if !slices.ContainsFunc(a, func(k string) bool { return strings.HasPrefix(k, "ro/b/") }) {
		t.Error("the backup held no rollup deltas still to fold")
	}
	// The restored store works on: the dedupe keys and the counter came along.
	p, created, err := r.CreateProblem(ctx, "d2", storetest.Build("x", workflow.SourceOther, storetest.Leping))
	if err != nil || created || p.ID != "3" {
		t.Errorf("dedupe after restore = %v, %v, %v", p, created, err)
	}
	p, created, err = r.CreateProblem(ctx, "", storetest.Build("y", workflow.SourceOther, storetest.Leping))
	if err != nil || !created || p.ID != "6" {
		t.Errorf("create after restore = %v, %v, %v", p, created, err)
	}
	// Restoring into a prefix that holds a ledger is refused.
	if _, err := r.Restore(ctx, bytes.NewReader(buf.Bytes())); err == nil {
		t.Error("Restore into a non-empty prefix succeeded")
	}
}

// TestOpenRefusesUnfinishedMigration: a prefix with the migration marker is
// not served.
func TestOpenRefusesUnfinishedMigration(t *testing.T) {
	s := openStore(t, nil, Config{})
	if _, err := s.BeginImport(t.Context()); err != nil {
		t.Fatal(err)
	}
	_, err := Open(t.Context(), Config{Endpoints: shared.endpoints(), Prefix: s.Prefix()})
	if err == nil || !strings.Contains(err.Error(), "migration") {
		t.Fatalf("Open of a prefix being migrated = %v", err)
	}
}

// TestTooLargeCommand: a command over the transaction limits fails alone,
// with a message naming them.
func TestTooLargeCommand(t *testing.T) {
	ctx := t.Context()
	s := openStore(t, nil, Config{MaxTxnOps: 16})
	p, _, err := s.CreateProblem(ctx, "", storetest.Build("x", workflow.SourceOther, storetest.Leping))
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.UpdateProblem(ctx, p.ID, func(p *workflow.Problem) ([]workflow.Entry, error) {
		var es []workflow.Entry
		for range 10 {
			e, _ := storetest.Note("n")(p)
			es = append(es, e...)
		}
		return es, nil
	})
	if err == nil || !strings.Contains(err.Error(), "max-txn-ops") {
		t.Fatalf("UpdateProblem with 30 operations on a 16-op limit = %v", err)
	}
	if _, err := s.UpdateProblem(ctx, p.ID, storetest.Note("n")); err != nil {
		t.Fatal(err)
	}
}

// TestImportCarries: what an export sends besides the ledger (contacts with
// their secrets, the delivery log, idempotency keys with their effects, the
// last anchor's key, a draft with its key; store/bolt's TestExport checks
// a file sends them) arrives whole, and the copy behaves as the source:
// pending notices queued, the key's expiry indexed, no second anchor that
// day, the draft held by its key.
func TestImportCarries(t *testing.T) {
	ctx := t.Context()
	src := openStore(t, nil, Config{})
	svc, _, _ := storetest.BuildLedger(t, src)
	c := storetest.AddReminderData(t, svc, src)

	dst := openStore(t, nil, Config{})
	im, err := dst.BeginImport(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, ct := range c.Contacts {
		if err := im.Contact(ctx, ct); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range c.Notices {
		if err := im.Notice(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	for _, k := range c.Keys {
		if err := im.IdempotencyKey(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	for claim, e := range c.Effects {
		if err := im.Effect(ctx, claim, e); err != nil {
			t.Fatal(err)
		}
	}
	if err := im.AnchorKey(ctx, c.AnchorKey); err != nil {
		t.Fatal(err)
	}
	if err := im.Letter(ctx, c.Draft); err != nil {
		t.Fatal(err)
	}
	if _, err := im.Finish(ctx); err != nil {
		t.Fatal(err)
	}
	c.CheckCopy(t, workflow.NewService(dst, svc.Clock()), dst)
}
