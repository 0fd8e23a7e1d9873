package etcd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/jdz-eco/rectify/store/storetest"
	"github.com/jdz-eco/rectify/workflow"
)

// pendingCount returns how many commands await the seal under s's prefix.
func pendingCount(t *testing.T, s *Store) int64 {
	t.Helper()
	resp, err := s.Client().Get(t.Context(), s.k(keyPending), clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil {
		t.Fatal(err)
	}
	return resp.Count
}

// TestSealLater: commands leave their entries pending, in no chain; a
// snapshot taken before the seal audits them as pending; the first read of
// the chain seals them all in commit order, each problem's in version
// order, and the chain is the one a store sealing in the command's
// transaction builds.
func TestSealLater(t *testing.T) {
	ctx := t.Context()
	a := openStore(t, nil, Config{})
	b := openStore(t, nil, Config{Prefix: a.Prefix()})
	p1, _, err := a.CreateProblem(ctx, "", storetest.Build("乐平市工业园区污水直排", workflow.SourceSelfInspection, storetest.Leping))
	if err != nil {
		t.Fatal(err)
	}
	p2, _, err := b.CreateProblem(ctx, "", storetest.Build("浮梁县砂场扬尘", workflow.SourceSelfInspection, storetest.Fuliang))
	if err != nil {
		t.Fatal(err)
	}
	// Interleaved commands of two replicas: the chain keeps this order.
	want := []string{p1.ID + "/1", p2.ID + "/1"}
	for i := range 3 {
		for _, c := range []struct {
			st *Store
			id string
		}{{a, p1.ID}, {b, p2.ID}} {
			p, err := c.st.UpdateProblem(ctx, c.id, storetest.Note(fmt.Sprintf("进展 %d", i)))
			if err != nil {
				t.Fatal(err)
			}
			want = append(want, fmt.Sprintf("%s/%d", c.id, p.Version))
		}
	}
	if n := pendingCount(t, a); n != 8 {
		t.Fatalf("%d commands pending, want 8 (none sealed yet)", n)
	}

	// A snapshot pinned before the seal: every entry is pending, the audit
	// replays them with their problems.
	rresp, err := a.Client().Get(ctx, a.k(keyHead))
	if err != nil {
		t.Fatal(err)
	}
	early := &Snapshot{s: a, rev: rresp.Header.Revision}
	rep, err := workflow.Audit(ctx, early, nil, nil)
	if err != nil {
		t.Fatalf("audit of the snapshot before the seal: %v", err)
	}
	if rep.Entries != 0 || rep.Pending != 8 || rep.Problems != 2 {
		t.Errorf("audit before the seal: %d entries, %d pending, %d problems; want 0, 8, 2", rep.Entries, rep.Pending, rep.Problems)
	}

	head, err := b.Head(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if head.Seq != 8 {
		t.Fatalf("head %s after the seal, want seq 8", head)
	}
	if n := pendingCount(t, a); n != 0 {
		t.Errorf("%d commands still pending after Head", n)
	}
	var got []string
	prev := workflow.GenesisHash
	err = a.ForEachEntry(ctx, func(e workflow.Entry, err error) error {
		if err != nil {
			return err
		}
		if e.PrevHash != prev {
			t.Errorf("entry %d does not link to the one before", e.Seq)
		}
		prev = e.Hash
		got = append(got, fmt.Sprintf("%s/%d", e.ProblemID, e.Version))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("chain order %v, want the commit order %v", got, want)
	}
	rep, err = workflow.Audit(ctx, a, nil, &head)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Pending != 0 || rep.Entries != 8 {
		t.Errorf("audit after the seal: %d entries, %d pending", rep.Entries, rep.Pending)
	}

	// History seals what it finds pending: a note just written has its
	// Seq and hash.
	if _, err := b.UpdateProblem(ctx, p1.ID, storetest.Note("整改完成")); err != nil {
		t.Fatal(err)
	}
	h, err := a.History(ctx, p1.ID)
	if err != nil {
		t.Fatal(err)
	}
	last := h[len(h)-1]
	if len(h) != 5 || last.Seq != 9 || last.Hash == "" || last.Params.Text != "整改完成" {
		t.Errorf("history has %d entries, the last %d %q sealed %v; want 5, the note sealed at 9", len(h), last.Seq, last.Params.Text, last.Hash != "")
	}
}

// TestSealer runs the sealer under the leader election on one store while
// another writes: the entries are sealed without any read asking for it,
// and a sealer whose leadership is gone seals nothing.
func TestSealer(t *testing.T) {
	ctx := t.Context()
	a := openStore(t, nil, Config{})
	b := openStore(t, nil, Config{Prefix: a.Prefix()})
	lctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- a.RunAsLeaderWith(lctx, "sealer", LeaderOptions{TTL: 2}, func(fctx context.Context) error {
			return a.RunSealer(fctx, 5*time.Millisecond, func(err error) { t.Errorf("sealer: %v", err) })
		})
	}()
	p, _, err := b.CreateProblem(ctx, "", storetest.Build("昌江区黑臭水体", workflow.SourceSelfInspection, storetest.Changjiang))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		if _, err := b.UpdateProblem(ctx, p.ID, storetest.Note(fmt.Sprintf("进展 %d", i))); err != nil {
			t.Fatal(err)
		}
	}
	// Wait for the sealer (a guard against hanging, not a measurement).
	deadline := time.Now().Add(20 * time.Second)
	for pendingCount(t, a) > 0 {
		if time.Now().After(deadline) {
			t.Fatal("the sealer did not seal the pending commands")
		}
		time.Sleep(5 * time.Millisecond)
	}
	kv, err := a.get(ctx, keyHead)
	if err != nil || kv == nil {
		t.Fatalf("head: %v, %v", kv, err)
	}
	if h, _ := decodeHead(kv); h.head.Seq != 21 {
		t.Errorf("head %s, want seq 21", h.head)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	// A fence that no longer holds: the sealer refuses to seal.
	if _, err := b.UpdateProblem(ctx, p.ID, storetest.Note("迟到")); err != nil {
		t.Fatal(err)
	}
	fctx := WithFence(ctx, a.k("election/sealer/gone"), 1)
	if err := a.RunSealer(fctx, time.Millisecond, nil); !errors.Is(err, ErrFenced) {
		t.Errorf("fenced-off sealer = %v, want ErrFenced", err)
	}
	if n := pendingCount(t, a); n != 1 {
		t.Errorf("%d commands pending after a fenced-off seal, want 1", n)
	}
}

// TestBackupWithPending: a backup read while commands were pending holds
// them; restored elsewhere they are sealed after the backup's head, which
// stays intact, each problem's entries in order.
func TestBackupWithPending(t *testing.T) {
	ctx := t.Context()
	s := openStore(t, nil, Config{})
	p, _, err := s.CreateProblem(ctx, "", storetest.Build("浮梁县尾矿库", workflow.SourceSelfInspection, storetest.Fuliang))
	if err != nil {
		t.Fatal(err)
	}
	head, err := s.Head(ctx) // sealed: the create
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err := s.UpdateProblem(ctx, p.ID, storetest.Note(fmt.Sprintf("进展 %d", i))); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := s.Client().Get(ctx, s.k(keyHead))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := (&Snapshot{s: s, rev: resp.Header.Revision}).backup(ctx, &buf); err != nil {
		t.Fatal(err)
	}
	r := openStore(t, nil, Config{})
	h, err := r.Restore(ctx, &buf)
	if err != nil {
		t.Fatal(err)
	}
	if h.Head != head {
		t.Fatalf("backup head %s, want %s", h.Head, head)
	}
	rep, err := workflow.Audit(ctx, r, nil, &h.Head)
	if err != nil {
		t.Fatalf("audit of the restored ledger: %v", err)
	}
	if rep.Entries != 4 || rep.Pending != 0 {
		t.Errorf("restored: %d entries, %d pending; want 4 sealed", rep.Entries, rep.Pending)
	}
	hist, err := r.History(ctx, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range hist {
		if e.Version != uint64(i+1) || e.Seq != uint64(i+1) {
			t.Errorf("entry %d: version %d seq %d", i, e.Version, e.Seq)
		}
	}
}
