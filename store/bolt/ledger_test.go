package bolt

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/jdz-eco/rectify/store/bolt/internal/pack"
	"github.com/jdz-eco/rectify/store/storetest"
	"github.com/jdz-eco/rectify/workflow"
)

// entriesOf returns every history entry of s in sequence order, through
// ForEachEntry, failing on any that does not decode.
func entriesOf(t *testing.T, s *Store) []workflow.Entry {
	t.Helper()
	var out []workflow.Entry
	err := s.ForEachEntry(t.Context(), func(e workflow.Entry, err error) error {
		if err != nil {
			t.Errorf("entry %d: %v", e.Seq, err)
		}
		out = append(out, e)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// checkChain verifies the hash chain of s and its head.
func checkChain(t *testing.T, s *Store) {
	t.Helper()
	storetest.CheckChain(t, s, entriesOf(t, s))
}

func mustAudit(t *testing.T, s *Store) workflow.AuditReport {
	t.Helper()
	rep, err := workflow.Audit(t.Context(), s, nil, nil)
	if err != nil {
		t.Fatalf("Audit = %v", err)
	}
	return rep
}

// rewriteBucket replaces every value of bucket name (if it exists) by what
// rewrite returns for it.
func rewriteBucket(tx *bbolt.Tx, name []byte, rewrite func(k, v []byte) ([]byte, error)) error {
	b := tx.Bucket(name)
	if b == nil {
		return nil
	}
	kvs := map[string][]byte{}
	err := b.ForEach(func(k, v []byte) error {
		nv, err := rewrite(k, v)
		kvs[string(k)] = nv
		return err
	})
	if err != nil {
		return err
	}
	for k, v := range kvs {
		if err := b.Put([]byte(k), v); err != nil {
			return err
		}
	}
	return nil
}

// unseal strips the hash chain from tx's database as schema version 2 left
// it: entries (in history and outbox) without prev_hash and hash, no head.
func unseal(tx *bbolt.Tx) error {
	strip := func(name []byte, rewrite func(k, v []byte) ([]byte, error)) error {
		return rewriteBucket(tx, name, rewrite)
	}
	err := strip(bucketHistory, func(_, v []byte) ([]byte, error) {
		var e workflow.Entry
		if err := pack.Unmarshal(v, &e); err != nil {
			return nil, err
		}
		e.PrevHash, e.Hash = "", ""
		return json.Marshal(e)
	})
	if err != nil {
		return err
	}
	// Before schema version 4 the outbox held each event in full.
	err = strip(bucketOutbox, func(k, _ []byte) ([]byte, error) {
		var e workflow.Entry
		if err := pack.Unmarshal(tx.Bucket(bucketHistory).Get(k), &e); err != nil {
			return nil, err
		}
		return json.Marshal(workflow.Event{ID: workflow.EventID(e.Seq), Seq: e.Seq, Entry: e})
	})
	if err != nil {
		return err
	}
	return tx.Bucket(bucketMeta).Delete(keyChainHead)
}

// downgradeTo2 turns the database at path into what schema version 2 left:
// no hash chain, no evidence index and no index_evidence flag.
func downgradeTo2(t *testing.T, path string) {
	t.Helper()
	updateFile(t, path, func(tx *bbolt.Tx) error {
		if err := unseal(tx); err != nil {
			return err
		}
		if err := tx.DeleteBucket(bucketByEvidence); err != nil {
			return err
		}
		meta := tx.Bucket(bucketMeta)
		if err := meta.Delete(keyIndexEvidence); err != nil {
			return err
		}
		return meta.Put(keySchema, u64(2))
	})
}

// rawHistory returns the stored history and outbox values by key.
func rawHistory(t *testing.T, s *Store) (hist, outbox map[string]string) {
	t.Helper()
	hist, outbox = map[string]string{}, map[string]string{}
	err := s.db.View(func(tx *bbolt.Tx) error {
		if err := tx.Bucket(bucketHistory).ForEach(func(k, v []byte) error { hist[string(k)] = string(v); return nil }); err != nil {
			return err
		}
		return tx.Bucket(bucketOutbox).ForEach(func(k, v []byte) error { outbox[string(k)] = string(v); return nil })
	})
	if err != nil {
		t.Fatal(err)
	}
	return hist, outbox
}

func TestUpgradeFromVersion2(t *testing.T) {
	ctx := t.Context()
	s, path := open(t, Options{})
	_, _, pids := storetest.BuildLedger(t, s)
	before := take(t, s)
	beforeHist, beforeOutbox := rawHistory(t, s)
	head := mustHead(t, s)
	if head.Seq == 0 || len(beforeOutbox) != len(beforeHist) {
		t.Fatalf("head %v, %d events for %d entries", head, len(beforeOutbox), len(beforeHist))
	}
	photo := storetest.FileSHA("沉淀池.jpg")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	downgradeTo2(t, path)

	// A read-only open cannot upgrade and says so.
	if r, err := Open(path, Options{ReadOnly: true}); err == nil || !strings.Contains(err.Error(), "must be upgraded") {
		if r != nil {
			r.Close()
		}
		t.Fatalf("read-only Open of a version 2 file = %v, want an upgrade error", err)
	}
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatalf("Open of a version 2 file = %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	if schema, _ := metaOf(t, s); schema != schemaVersion {
		t.Errorf("after the upgrade: schema %d", schema)
	}
	// Sealing is deterministic: the upgrade seals exactly as live writes did,
	// in the history and in the outbox alike.
	afterHist, afterOutbox := rawHistory(t, s)
	if !mapsEqual(afterHist, beforeHist) || !mapsEqual(afterOutbox, beforeOutbox) {
		t.Errorf("the sealed history differs from the history sealed as written")
	}
	if got := take(t, s); mustJSON(t, got) != mustJSON(t, before) {
		t.Errorf("the upgrade changed the records:\n got %s\nwant %s", mustJSON(t, got), mustJSON(t, before))
	}
	if got := mustHead(t, s); got.Seq != head.Seq || got.Hash != head.Hash || !got.At.Equal(head.At) {
		t.Errorf("head after the upgrade %v, want %v", got, head)
	}
	checkChain(t, s)
	checkIndexes(t, s)
	mustAudit(t, s)
	items, _, err := s.Problems(ctx, workflow.ProblemFilter{Evidence: photo})
	if err != nil || !slices.Equal(ids(items), []string{pids[0], pids[1]}) {
		t.Errorf("Problems(evidence) after the upgrade = %v, %v", ids(items), err)
	}

	// The chain goes on from the sealed history.
	svc2 := workflow.NewService(s, workflow.NewManualClock(storetest.T0.AddDate(0, 0, 30)))
	if err := svc2.PutUnits(ctx, storetest.Units()); err != nil {
		t.Fatal(err)
	}
	if _, err := svc2.AddNote(ctx, storetest.OfficerOf(storetest.Leping), pids[1], "升级后的进展", 0); err != nil {
		t.Fatal(err)
	}
	checkChain(t, s)
	mustAudit(t, s)
	if evs, err := s.Events(ctx, head.Seq, 0); err != nil || len(evs) != 1 || evs[0].Entry.PrevHash != head.Hash || evs[0].Entry.Hash == "" {
		t.Errorf("Events after the upgrade = %+v, %v", evs, err)
	}

	// A read-only open of the upgraded file audits.
	s.Close()
	r, err := Open(path, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	mustAudit(t, r)
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func mustHead(t *testing.T, s *Store) workflow.ChainHead {
	t.Helper()
	h, err := s.Head(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// TestUpgradeRefusesUndecodableHistory: an entry the upgrade cannot decode
// cannot be sealed faithfully, so the upgrade fails and writes nothing.
func TestUpgradeRefusesUndecodableHistory(t *testing.T) {
	s, path := open(t, Options{})
	fill(t, s, 3)
	s.Close()
	downgradeTo2(t, path)
	updateFile(t, path, func(tx *bbolt.Tx) error { return tx.Bucket(bucketHistory).Put(u64(2), []byte("{not json")) })
	if s, err := Open(path, Options{}); err == nil || !strings.Contains(err.Error(), "entry 2") {
		if s != nil {
			s.Close()
		}
		t.Fatalf("Open of a version 2 file with a damaged entry = %v", err)
	}
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: time.Second, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	_ = db.View(func(tx *bbolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if v := meta.Get(keySchema); !bytes.Equal(v, u64(2)) || meta.Get(keyChainHead) != nil || meta.Get(keyIndexEvidence) != nil {
			t.Errorf("a failed upgrade left schema %x, head %q, flag %v", v, meta.Get(keyChainHead), meta.Get(keyIndexEvidence) != nil)
		}
		return nil
	})
}

// TestMissingHeadNotResealed: in a file of the current version, a chain
// head gone missing is damage. Opening does not cover it with a fresh seal,
// the audit names it, and the store refuses to extend the chain.
func TestMissingHeadNotResealed(t *testing.T) {
	ctx := t.Context()
	s, path := open(t, Options{})
	storetest.BuildLedger(t, s)
	if err := s.db.Update(func(tx *bbolt.Tx) error { return tx.Bucket(bucketMeta).Delete(keyChainHead) }); err != nil {
		t.Fatal(err)
	}
	s.Close()
	var damaged *DamagedError
	if _, err := Open(path, Options{}); !errors.As(err, &damaged) || !strings.Contains(damaged.Reason, "chain head") {
		t.Fatalf("Open of a chain without head = %v, want it refused as damaged", err)
	}
	// Past the check of the chain at open, the store still refuses.
	s, err := Open(path, Options{SkipChainCheck: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if h := mustHead(t, s); h != (workflow.ChainHead{}) {
		t.Errorf("Head after the head was deleted = %v; the open resealed", h)
	}
	var ae *workflow.AuditError
	if _, err := workflow.Audit(ctx, s, nil, nil); !errors.As(err, &ae) || !strings.Contains(ae.Reason, "recorded head") {
		t.Errorf("Audit = %v, want the head named", err)
	}
	if _, err := s.UpdateProblem(ctx, "1", storetest.Note("不应写入")); err == nil || !strings.Contains(err.Error(), "chain head") {
		t.Errorf("UpdateProblem on a chain without head = %v, want a refusal", err)
	}
}

func TestLedgerReadOnly(t *testing.T) {
	ctx := t.Context()
	s, path := open(t, Options{})
	_, _, pids := storetest.BuildLedger(t, s)
	want := entriesOf(t, s)
	s.Close()

	r, err := Open(path, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	rep := mustAudit(t, r)
	if rep.Entries != uint64(len(want)) || rep.Problems != len(pids) {
		t.Errorf("Audit of a read-only store = %+v", rep)
	}
	sameJSONT(t, "entries read-only", entriesOf(t, r), want)
	r.Close()

	// A value that does not decode is passed with its Seq and an error.
	s, err = Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.db.Update(func(tx *bbolt.Tx) error { return tx.Bucket(bucketHistory).Put(u64(3), []byte("garbage")) }); err != nil {
		t.Fatal(err)
	}
	s.Close()
	var damaged *DamagedError
	if _, err := Open(path, Options{ReadOnly: true}); !errors.As(err, &damaged) || !strings.Contains(damaged.Reason, "history entry 3") {
		t.Fatalf("Open of a file with an entry that does not decode = %v, want it refused naming the entry", err)
	}
	// An audit opens it, and names the entry.
	r, err = Open(path, Options{ReadOnly: true, SkipChainCheck: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var bad []uint64
	n := 0
	err = r.ForEachEntry(ctx, func(e workflow.Entry, err error) error {
		n++
		if err != nil {
			bad = append(bad, e.Seq)
			if e.Hash != "" || e.ProblemID != "" {
				t.Errorf("undecodable entry passed as %+v", e)
			}
		}
		return nil
	})
	if err != nil || n != len(want) || !slices.Equal(bad, []uint64{3}) {
		t.Errorf("ForEachEntry over a damaged entry = %v after %d calls, bad %v", err, n, bad)
	}
	var ae *workflow.AuditError
	if _, err := workflow.Audit(ctx, r, nil, nil); !errors.As(err, &ae) || ae.Seq != 3 {
		t.Errorf("Audit of a damaged store = %v, want entry 3 named", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := r.ForEachEntry(cctx, func(workflow.Entry, error) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("ForEachEntry with a cancelled context = %v", err)
	}
	if err := r.ForEachProblem(cctx, func(*workflow.Problem) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("ForEachProblem with a cancelled context = %v", err)
	}
}

func sameJSONT(t *testing.T, what string, got, want any) {
	t.Helper()
	if g, w := mustJSON(t, got), mustJSON(t, want); g != w {
		t.Errorf("%s:\n got %s\nwant %s", what, g, w)
	}
}

// TestBackupUnderWrites takes a backup while writers keep committing notes:
// the backup opens, passes an audit and holds every note acknowledged before
// it began.
func TestBackupUnderWrites(t *testing.T) {
	ctx := t.Context()
	s, _ := open(t, Options{})
	svc, _, pids := storetest.BuildLedger(t, s)
	// Writers note on the problems still open; each is a lead-unit officer.
	writers := map[string]workflow.Actor{pids[1]: storetest.OfficerOf(storetest.Leping), pids[3]: storetest.OfficerOf(storetest.Changjiang)}
	for i := range 50 {
		for id, a := range writers {
			if _, err := svc.AddNote(ctx, a, id, fmt.Sprintf("进展 %d：%s", i, strings.Repeat("整改", 100)), 0); err != nil {
				t.Fatal(err)
			}
		}
	}

	type ack struct {
		id      string
		version uint64
		text    string
	}
	var (
		mu    sync.Mutex
		acked []ack
		stop  = make(chan struct{})
		wg    sync.WaitGroup
	)
	// Each note acknowledged after the backup began is counted and signalled
	// on grown;
	// the notes are long and do not compress, so that the file outgrows its
	// mapping while the backup holds its snapshot.
	grown := make(chan struct{}, 1)
	var (
		backingUp  atomic.Bool
		ackedBytes atomic.Int64
	)
	for w := range 4 {
		for id, a := range writers {
			wg.Go(func() {
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					text := fmt.Sprintf("写入者 %d 第 %d 条：%s", w, i, noise(w*1_000_000+i, 2000))
					p, err := svc.AddNote(ctx, a, id, text, 0)
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					acked = append(acked, ack{id, p.Version, text})
					mu.Unlock()
					if backingUp.Load() {
						ackedBytes.Add(int64(len(text)))
						select {
						case grown <- struct{}{}:
						default:
						}
					}
				}
			})
		}
	}
	// Let the writers get going, then back up while they go on.
	for {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= 20 {
			break
		}
		runtime.Gosched()
	}
	mu.Lock()
	before := slices.Clone(acked)
	mu.Unlock()
	path := filepath.Join(t.TempDir(), "backup.db")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	// A destination that stalls (a slow network client) keeps the snapshot
	// open until notes of three times the data's size at the start have been
	// acknowledged: more than bbolt's mapping of the file (at most twice the
	// data) holds, so that writers which needed the backup to end first, to
	// map the file afresh, would leave it waiting for a minute.
	var size int64
	if err := s.db.View(func(tx *bbolt.Tx) error { size = tx.Size(); return nil }); err != nil {
		t.Fatal(err)
	}
	backingUp.Store(true)
	gate := &gatedWriter{w: f, grown: grown, ready: func() bool { return ackedBytes.Load() >= 3*size }}
	n, err := s.Backup(ctx, gate)
	if err != nil {
		t.Fatalf("Backup = %v", err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if gate.timedOut {
		t.Errorf("%d bytes of notes acknowledged in a minute while the backup of %d bytes ran, not %d: the backup blocked the writers", ackedBytes.Load(), size, 3*size)
	}
	mu.Lock()
	during := len(acked) - len(before)
	mu.Unlock()
	close(stop)
	wg.Wait()
	if during == 0 {
		t.Error("no write committed while the backup ran: the backup blocked the writers")
	}
	if fi, err := os.Stat(path); err != nil || fi.Size() != n {
		t.Errorf("backup file: %v, %v; Backup reported %d bytes", fi, err, n)
	}
	t.Logf("backup of %d bytes; %d notes acknowledged before it, %d while it ran", n, len(before), during)

	b, err := Open(path, Options{ReadOnly: true})
	if err != nil {
		t.Fatalf("Open of the backup = %v", err)
	}
	defer b.Close()
	rep, err := workflow.Audit(ctx, b, nil, nil)
	if err != nil {
		t.Fatalf("Audit of the backup = %v", err)
	}
	histories := map[string][]workflow.Entry{}
	for id := range writers {
		if histories[id], err = b.History(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	for _, a := range before {
		h := histories[a.id]
		if !slices.ContainsFunc(h, func(e workflow.Entry) bool { return e.Version == a.version && e.Params.Text == a.text }) {
			t.Errorf("the backup lacks note %q (problem %s version %d), acknowledged before it began", a.text, a.id, a.version)
		}
	}
	live := mustHead(t, s)
	if rep.Head.Seq > live.Seq {
		t.Errorf("backup head %v past the live head %v", rep.Head, live)
	}

	// The backup also opens read-write, as a restored database.
	b.Close()
	rw, err := Open(path, Options{})
	if err != nil {
		t.Fatalf("read-write Open of the backup = %v", err)
	}
	defer rw.Close()
	checkIndexes(t, rw)
	checkChain(t, rw)

	// A cancelled context stops a backup.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.Backup(cctx, &bytes.Buffer{}); !errors.Is(err, context.Canceled) {
		t.Errorf("Backup with a cancelled context = %v", err)
	}
}

// noise is n CJK characters that do not compress, the same for the same seed.
func noise(seed, n int) string {
	r := rand.New(rand.NewPCG(uint64(seed), 0))
	var b strings.Builder
	for range n {
		b.WriteRune(rune(0x4e00 + r.IntN(0x5000)))
	}
	return b.String()
}

// gatedWriter holds its first write until ready says so, checking each time
// grown is signalled, for at most a minute.
type gatedWriter struct {
	w        *os.File
	grown    <-chan struct{}
	ready    func() bool
	opened   bool
	timedOut bool
}

func (g *gatedWriter) Write(p []byte) (int, error) {
	if !g.opened {
		g.opened = true
		deadline := time.NewTimer(time.Minute)
		defer deadline.Stop()
	wait:
		for !g.ready() {
			select {
			case <-g.grown:
			case <-deadline.C:
				g.timedOut = true
				break wait
			}
		}
	}
	return g.w.Write(p)
}
