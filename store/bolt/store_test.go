package bolt

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/jdz-eco/rectify/store/bolt/internal/pack"
	"github.com/jdz-eco/rectify/store/internal/index"
	"github.com/jdz-eco/rectify/store/storetest"
	"github.com/jdz-eco/rectify/workflow"
)

// open opens a store on a new file in t.TempDir and closes it with t.
func open(t testing.TB, opts Options) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "rectify.db")
	s, err := Open(path, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s, path
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) workflow.Store {
		s, _ := open(t, Options{})
		return s
	})
}

// fill creates problems with a few updates each, plus units and a user.
func fill(t *testing.T, s *Store, n int) {
	t.Helper()
	ctx := t.Context()
	counties := []string{storetest.Fuliang, storetest.Leping, storetest.Zhushan}
	for i := range n {
		county := counties[i%len(counties)]
		p, _, err := s.CreateProblem(ctx, fmt.Sprintf("seed-%d", i), storetest.Build(fmt.Sprintf("问题 %d", i+1), workflow.SourceWarningFilm, county))
		if err != nil {
			t.Fatal(err)
		}
		applies := []storetest.Apply{
			storetest.Assign(county, []string{storetest.Water}, storetest.Deadline(10*i)),
			storetest.Move(storetest.OfficerOf(county), workflow.TriggerAccept, workflow.StateAssigned, workflow.StateRectifying),
			storetest.Note("进展"),
		}
		for _, apply := range applies[:i%(len(applies)+1)] {
			if _, err := s.UpdateProblem(ctx, p.ID, apply); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := s.PutUnits(ctx, storetest.Units()); err != nil {
		t.Fatal(err)
	}
	u := workflow.User{ID: "u01", Name: "管理员", Role: workflow.RoleAdmin, UnitID: storetest.Bureau, CreatedAt: storetest.T0}
	if err := s.CreateUser(ctx, u, workflow.Token{Hash: workflow.HashToken("rt_admin"), UserID: u.ID}); err != nil {
		t.Fatal(err)
	}
}

// snapshot is everything a store holds about problems, as JSON.
type snapshot struct {
	Problems []*workflow.Problem
	History  map[string][]workflow.Entry
	Units    []workflow.Unit
	Users    []workflow.User
}

func take(t *testing.T, s *Store) snapshot {
	t.Helper()
	ctx := t.Context()
	var snap snapshot
	var err error
	if snap.Problems, _, err = s.Problems(ctx, workflow.ProblemFilter{Limit: workflow.MaxLimit}); err != nil {
		t.Fatal(err)
	}
	snap.History = map[string][]workflow.Entry{}
	for _, p := range snap.Problems {
		if snap.History[p.ID], err = s.History(ctx, p.ID); err != nil {
			t.Fatal(err)
		}
	}
	if snap.Units, err = s.Units(ctx); err != nil {
		t.Fatal(err)
	}
	if snap.Users, err = s.Users(ctx); err != nil {
		t.Fatal(err)
	}
	return snap
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// checkIndexes verifies that every index bucket holds exactly the keys the
// stored records call for, the postings exactly their problems, and the
// per-problem history index exactly the history bucket.
func checkIndexes(t *testing.T, s *Store) {
	t.Helper()
	err := s.db.View(func(tx *bbolt.Tx) error {
		type bk struct{ bucket, key string }
		want := map[bk]string{} // → value
		wantPost := map[string]*bitmap{}
		wantHist := map[string]bool{}
		err := tx.Bucket(bucketProblems).ForEach(func(k, v []byte) error {
			var p workflow.Problem
			if err := pack.Unmarshal(v, &p); err != nil {
				return err
			}
			n := binary.BigEndian.Uint64(k)
			for _, tm := range index.Terms(&p) {
				if isPosting(tm.Index) {
					k := string(chunkKey(postingPrefix(tm), uint32(n>>chunkShift)))
					if wantPost[k] == nil {
						wantPost[k] = &bitmap{}
					}
					wantPost[k].set(uint32(n&(chunkSize-1)), true)
					continue
				}
				want[bk{string(indexBucket(tm.Index)), string(termKey(tm, n))}] = tm.Facts
			}
			return nil
		})
		if err != nil {
			return err
		}
		posted := 0
		err = tx.Bucket(bucketPostings).ForEach(func(k, v []byte) error {
			posted++
			var got bitmap
			if err := decodeChunk(v, &got); err != nil {
				return err
			}
			if w := wantPost[string(k)]; w == nil || *w != got {
				t.Errorf("postings %q hold %v, want %v", k, got.count(), w)
			}
			return nil
		})
		if err != nil {
			return err
		}
		if posted != len(wantPost) {
			t.Errorf("postings hold %d chunks, want %d", posted, len(wantPost))
		}
		for _, name := range [][]byte{bucketByDeadline, bucketByWake, bucketByEvidence} {
			n := 0
			err := tx.Bucket(name).ForEach(func(k, v []byte) error {
				n++
				wv, ok := want[bk{string(name), string(k)}]
				switch {
				case !ok:
					t.Errorf("stale %s key %q", name, k)
				case wv != string(v):
					t.Errorf("%s key %q holds %x, want %x", name, k, v, wv)
				}
				return nil
			})
			if err != nil {
				return err
			}
			w := 0
			for e := range want {
				if e.bucket == string(name) {
					w++
				}
			}
			if n != w {
				t.Errorf("%s holds %d keys, want %d", name, n, w)
			}
		}
		err = tx.Bucket(bucketHistory).ForEach(func(k, v []byte) error {
			var e workflow.Entry
			if err := pack.Unmarshal(v, &e); err != nil {
				return err
			}
			n, ok := workflow.ParseProblemID(e.ProblemID)
			if !ok || e.Seq != binary.BigEndian.Uint64(k) {
				t.Errorf("history entry %x: %+v", k, e)
			}
			wantHist[string(historyKey(n, e.Seq))] = true
			return nil
		})
		if err != nil {
			return err
		}
		n := 0
		err = tx.Bucket(bucketProblemHistory).ForEach(func(k, _ []byte) error {
			n++
			if !wantHist[string(k)] {
				t.Errorf("stray problem_history key %x", k)
			}
			return nil
		})
		if n != len(wantHist) {
			t.Errorf("problem_history holds %d keys, want %d", n, len(wantHist))
		}
		if err != nil {
			return err
		}
		return checkOutbox(t, tx)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// checkOutbox verifies that the outbox holds the keys of a suffix of the
// history: every entry from the first event on (a database upgraded from
// schema version 1 has older entries without events), each exactly once,
// with an empty value (the event is the history entry) or, written before
// schema version 4, the event in full.
func checkOutbox(t *testing.T, tx *bbolt.Tx) error {
	t.Helper()
	hist := tx.Bucket(bucketHistory)
	c := tx.Bucket(bucketOutbox).Cursor()
	first, _ := c.First()
	if first == nil {
		return nil
	}
	hc := hist.Cursor()
	k, v := hc.Seek(first)
	for ek, ev := c.First(); ek != nil || k != nil; ek, ev = c.Next() {
		if ek == nil || k == nil || string(ek) != string(k) {
			t.Errorf("outbox key %x where history has %x", ek, k)
			return nil
		}
		if len(ev) > 0 {
			var got workflow.Event
			if err := json.Unmarshal(ev, &got); err != nil {
				return err
			}
			seq := binary.BigEndian.Uint64(k)
			if got.ID != workflow.EventID(seq) || got.Seq != seq {
				t.Errorf("event %d: id %q seq %d", seq, got.ID, got.Seq)
			}
			hv, err := pack.Unpack(v)
			if err != nil {
				return err
			}
			if e := mustJSON(t, got.Entry); e != string(hv) {
				t.Errorf("event %d holds entry\n%s\nhistory has\n%s", seq, e, hv)
			}
		}
		k, v = hc.Next()
	}
	return nil
}

func TestReopen(t *testing.T) {
	s, path := open(t, Options{})
	fill(t, s, 20)
	before := take(t, s)
	checkIndexes(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	after := take(t, s)
	if len(after.Problems) != 20 || mustJSON(t, after) != mustJSON(t, before) {
		t.Fatalf("after reopening:\n got %s\nwant %s", mustJSON(t, after), mustJSON(t, before))
	}
	checkIndexes(t, s)
	u, err := s.UserByToken(t.Context(), workflow.HashToken("rt_admin"))
	if err != nil || u.ID != "u01" {
		t.Errorf("UserByToken after reopening = %v, %v", u, err)
	}

	// The counters survive: numbers and sequence numbers continue.
	var lastSeq uint64
	for _, h := range before.History {
		for _, e := range h {
			lastSeq = max(lastSeq, e.Seq)
		}
	}
	p, created, err := s.CreateProblem(t.Context(), "", storetest.Build("重开后新增", workflow.SourceOther, storetest.Changjiang))
	if err != nil || !created || p.ID != "21" {
		t.Fatalf("CreateProblem after reopening = %v, %v, %v; want problem 21", p, created, err)
	}
	h, err := s.History(t.Context(), p.ID)
	if err != nil || len(h) != 1 || h[0].Seq != lastSeq+1 {
		t.Errorf("history of the new problem = %+v, %v; want seq %d", h, err, lastSeq+1)
	}
	// A dedupe key from before the reopen still deduplicates.
	p, created, err = s.CreateProblem(t.Context(), "seed-3", storetest.Build("重复", workflow.SourceOther, storetest.Changjiang))
	if err != nil || created || p.ID != "4" {
		t.Errorf("CreateProblem with an old dedupe key = %v, %v, %v; want problem 4", p, created, err)
	}
}

func TestTimeout(t *testing.T) {
	_, path := open(t, Options{})
	for _, opts := range []Options{{Timeout: 50 * time.Millisecond}, {Timeout: 50 * time.Millisecond, ReadOnly: true}} {
		s, err := Open(path, opts)
		if err == nil {
			_ = s.Close()
			t.Fatalf("a second Open(%+v) of a locked file succeeded", opts)
		}
		if !errors.Is(err, bolterrors.ErrTimeout) {
			t.Errorf("second Open(%+v) = %v, want a timeout", opts, err)
		}
	}
}

func TestReadOnly(t *testing.T) {
	ctx := t.Context()
	s, path := open(t, Options{})
	fill(t, s, 5)
	before := take(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// Read-only openers share the file.
	r1, err := Open(path, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r1.Close()
	r2, err := Open(path, Options{ReadOnly: true, Timeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatalf("second read-only Open = %v", err)
	}
	defer r2.Close()
	if got := take(t, r2); mustJSON(t, got) != mustJSON(t, before) {
		t.Errorf("read-only store:\n got %s\nwant %s", mustJSON(t, got), mustJSON(t, before))
	}

	writes := map[string]func() error{
		"CreateProblem": func() error {
			_, _, err := r1.CreateProblem(ctx, "", storetest.Build("只读", workflow.SourceOther, storetest.Leping))
			return err
		},
		"UpdateProblem": func() error {
			_, err := r1.UpdateProblem(ctx, "1", func(*workflow.Problem) ([]workflow.Entry, error) {
				t.Error("apply called on a read-only store")
				return nil, nil
			})
			return err
		},
		"PutUnits": func() error { return r1.PutUnits(ctx, storetest.Units()) },
	}
	for name, write := range writes {
		err := write()
		if !errors.Is(err, bolterrors.ErrDatabaseReadOnly) || workflow.ErrorCode(err) != workflow.CodeInternal {
			t.Errorf("%s on a read-only store = %v, want a wrapped ErrDatabaseReadOnly", name, err)
		}
	}

	// Read-only needs an existing rectify database.
	if s, err := Open(filepath.Join(t.TempDir(), "missing.db"), Options{ReadOnly: true}); err == nil {
		s.Close()
		t.Error("read-only Open of a missing file succeeded")
	}
	other := filepath.Join(t.TempDir(), "other.db")
	db, err := bbolt.Open(other, 0o600, &bbolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	if s, err := Open(other, Options{ReadOnly: true}); err == nil {
		s.Close()
		t.Error("read-only Open of an empty bbolt file succeeded")
	}
}

func TestObserveCommit(t *testing.T) {
	ctx := t.Context()
	var calls atomic.Int64
	s, _ := open(t, Options{ObserveCommit: func(d time.Duration) {
		if d < 0 {
			t.Errorf("negative commit duration %v", d)
		}
		calls.Add(1)
	}})
	steps := []struct {
		name  string
		do    func() error
		calls int64
	}{
		{"create", func() error {
			_, _, err := s.CreateProblem(ctx, "k", storetest.Build("观测", workflow.SourceOther, storetest.Leping))
			return err
		}, 1},
		{"deduplicated create", func() error {
			_, _, err := s.CreateProblem(ctx, "k", storetest.Build("观测", workflow.SourceOther, storetest.Leping))
			return err
		}, 1},
		{"update", func() error {
			_, err := s.UpdateProblem(ctx, "1", storetest.Assign(storetest.Leping, nil, storetest.Deadline(5)))
			return err
		}, 2},
		{"refused update", func() error {
			_, err := s.UpdateProblem(ctx, "1", storetest.IfVersion(1, storetest.Note("过期")))
			if workflow.ErrorCode(err) != workflow.CodePreconditionFailed {
				return fmt.Errorf("got %v, want precondition_failed", err)
			}
			return nil
		}, 2},
		{"read", func() error { _, err := s.Problem(ctx, "1"); return err }, 2},
		{"put units", func() error { return s.PutUnits(ctx, storetest.Units()) }, 3},
	}
	for _, st := range steps {
		if err := st.do(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if got := calls.Load(); got != st.calls {
			t.Errorf("after %s: %d observed commits, want %d", st.name, got, st.calls)
		}
	}
}

func TestDueBy(t *testing.T) {
	ctx := t.Context()
	s, _ := open(t, Options{})
	deadlines := []int{30, 10, -1, 20, 10}
	for i, days := range deadlines {
		p, _, err := s.CreateProblem(ctx, "", storetest.Build(fmt.Sprintf("问题 %d", i+1), workflow.SourceAudit, storetest.Fuliang))
		if err != nil {
			t.Fatal(err)
		}
		if days >= 0 {
			if _, err := s.UpdateProblem(ctx, p.ID, storetest.Assign(storetest.Fuliang, nil, storetest.Deadline(days))); err != nil {
				t.Fatal(err)
			}
		}
	}
	tests := []struct {
		by   time.Time
		want []string
	}{
		{storetest.T0, []string{}},
		{storetest.Deadline(10), []string{"2", "5"}},
		{storetest.Deadline(10).Add(-time.Second), []string{}},
		{storetest.Deadline(25), []string{"2", "5", "4"}},
		{storetest.Deadline(365), []string{"2", "5", "4", "1"}},
	}
	for _, tt := range tests {
		if got, err := s.DueBy(ctx, tt.by); err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("DueBy(%v) = %v, %v; want %v", tt.by, got, err, tt.want)
		}
	}
	// An extension moves the problem in the index.
	if _, err := s.UpdateProblem(ctx, "2", storetest.Assign(storetest.Fuliang, nil, storetest.Deadline(40))); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.DueBy(ctx, storetest.Deadline(35)); !slices.Equal(got, []string{"5", "4", "1"}) {
		t.Errorf("DueBy after an extension = %v", got)
	}
	checkIndexes(t, s)
}

func TestIndexesAfterUpdates(t *testing.T) {
	s, _ := open(t, Options{})
	fill(t, s, 12)
	ctx := t.Context()
	moves := []struct {
		id    string
		apply storetest.Apply
	}{
		{"2", storetest.Assign(storetest.Housing, []string{storetest.Leping, storetest.Guokong}, storetest.Deadline(70))},
		{"2", storetest.Assign(storetest.Guokong, []string{storetest.Housing}, storetest.Deadline(71))},
		{"3", storetest.Move(storetest.OfficerOf(storetest.Zhushan), workflow.TriggerSubmit, workflow.StateRectifying, workflow.StateSubmitted)},
		{"5", storetest.Move(storetest.BureauActor, workflow.TriggerDismiss, workflow.StateFound, workflow.StateClosed)},
	}
	for _, m := range moves {
		if _, err := s.UpdateProblem(ctx, m.id, m.apply); err != nil {
			t.Fatalf("update %s: %v", m.id, err)
		}
	}
	checkIndexes(t, s)
}

// BenchmarkUpdateProblem measures concurrent single-entry updates, one write
// transaction (and fsync) each, spread over 64 problems.
func BenchmarkUpdateProblem(b *testing.B) {
	s, _ := open(b, Options{})
	ctx := b.Context()
	const problems = 64
	for i := range problems {
		p, _, err := s.CreateProblem(ctx, "", storetest.Build(fmt.Sprintf("问题 %d", i+1), workflow.SourceSelfInspection, storetest.Fuliang))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.UpdateProblem(ctx, p.ID, storetest.Assign(storetest.Fuliang, nil, storetest.Deadline(30))); err != nil {
			b.Fatal(err)
		}
	}
	var next atomic.Uint64
	note := storetest.Note("进展情况")
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			id := workflow.ProblemID(next.Add(1)%problems + 1)
			if _, err := s.UpdateProblem(ctx, id, note); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// updateFile runs fn in a write transaction on the closed database file at
// path, as a tool writing its buckets directly would.
func updateFile(t *testing.T, path string, fn func(tx *bbolt.Tx) error) {
	t.Helper()
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(fn); err != nil {
		t.Fatal(err)
	}
}

// TestProblemsWithEvidence: the evidence index alone names the same
// problems as the evidence filter, and none for a file nobody holds.
func TestProblemsWithEvidence(t *testing.T) {
	ctx := t.Context()
	s, _ := open(t, Options{})
	storetest.BuildLedger(t, s)
	photo := storetest.FileSHA("沉淀池.jpg")
	items, _, err := s.Problems(ctx, workflow.ProblemFilter{Evidence: photo, Limit: workflow.MaxLimit})
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.ProblemsWithEvidence(ctx, photo)
	if err != nil || len(items) < 2 || !slices.Equal(got, ids(items)) {
		t.Fatalf("ProblemsWithEvidence = %v, %v; the filter gives %v", got, err, ids(items))
	}
	if got, err := s.ProblemsWithEvidence(ctx, storetest.FileSHA("无人持有.jpg")); err != nil || len(got) != 0 {
		t.Fatalf("ProblemsWithEvidence of an unknown file = %v, %v", got, err)
	}
}
