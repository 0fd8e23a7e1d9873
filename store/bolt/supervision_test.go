package bolt

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/jdz-eco/rectify/store/internal/check"
	"github.com/jdz-eco/rectify/store/internal/index"
	"github.com/jdz-eco/rectify/store/storetest"
	"github.com/jdz-eco/rectify/workflow"
)

// bulkChunk is how many problems one bulk transaction writes.
const bulkChunk = 5000

// bulkLoad writes problems 1..count as gen builds them, with their index keys
// but no history, a chunk per write transaction: fast setup for benchmarks and
// index tests, which need large ledgers but not their history.
func bulkLoad(tb testing.TB, s *Store, count uint64, gen func(n uint64) *workflow.Problem) {
	tb.Helper()
	for from := uint64(1); from <= count; from += bulkChunk {
		to := min(from+bulkChunk-1, count)
		err := s.db.Update(func(tx *bbolt.Tx) error {
			st := &txState{}
			for n := from; n <= to; n++ {
				p := gen(n)
				if err := putProblem(tx, n, p); err != nil {
					return err
				}
				if err := updateIndexes(tx, st, n, nil, p); err != nil {
					return err
				}
			}
			if err := st.flushPostings(tx); err != nil {
				return err
			}
			return tx.Bucket(bucketMeta).Put(keyProblemCounter, u64(to))
		})
		if err != nil {
			tb.Fatalf("bulk load of problems %d to %d: %v", from, to, err)
		}
	}
}

// bulkRewrite replaces the stored problems ns with what gen builds, moving
// their index keys.
func bulkRewrite(tb testing.TB, s *Store, ns []uint64, gen func(n uint64) *workflow.Problem) {
	tb.Helper()
	err := s.db.Update(func(tx *bbolt.Tx) error {
		st := &txState{}
		for _, n := range ns {
			old, err := getProblem(tx, n)
			if err != nil || old == nil {
				return fmt.Errorf("problem %d: %v", n, err)
			}
			p := gen(n)
			if err := putProblem(tx, n, p); err != nil {
				return err
			}
			if err := updateIndexes(tx, st, n, old, p); err != nil {
				return err
			}
		}
		return st.flushPostings(tx)
	})
	if err != nil {
		tb.Fatalf("bulk rewrite: %v", err)
	}
}

var (
	benchCounties = []string{storetest.Fuliang, storetest.Leping, storetest.Zhushan, storetest.Changjiang}
	benchLeads    = []string{storetest.Fuliang, storetest.Leping, storetest.Zhushan, storetest.Changjiang, storetest.Water, storetest.Housing, storetest.Guokong}
)

// rectifyingProblem returns problem number n as the domain leaves it once
// its lead unit accepted it: rectifying, with a deadline, no stage clock, no
// alert yet and the wake time supervise gives at level none (the start of
// the due-soon window). closed problems have no wake time.
func rectifyingProblem(n uint64, deadline time.Time, closed bool) *workflow.Problem {
	created := storetest.T0.Add(time.Duration(n%1000) * time.Minute)
	lead := benchLeads[n%uint64(len(benchLeads))]
	d, o := deadline, deadline
	wake := deadline.Add(-workflow.DefaultPolicy().DueSoon)
	p := &workflow.Problem{
		ID: workflow.ProblemID(n), Code: workflow.ProblemCode(n, created),
		Title:       fmt.Sprintf("第 %d 号问题：河道沿岸违规堆放建筑垃圾", n),
		Description: "2021 年排查发现，河道管理范围内堆放建筑垃圾和生活垃圾约 300 立方米，雨季存在入河风险，需限期清理并建立长效管护机制。",
		Source:      workflow.Sources[n%uint64(len(workflow.Sources))],
		CountyID:    benchCounties[n%uint64(len(benchCounties))],
		State:       workflow.StateRectifying, LeadUnit: lead, CooperatingUnits: []string{},
		Requirements: "限期清理，建立长效管护机制", Plan: "组织清运，设置围挡和警示牌，纳入河长制巡查",
		Deadline: &d, OriginalDeadline: &o,
		Supervision: workflow.Supervision{WakeAt: &wake},
		Version:     3, CreatedBy: storetest.BureauActor.ID, CreatedAt: created, UpdatedAt: created.Add(48 * time.Hour),
	}
	if n%3 == 0 {
		p.CooperatingUnits = []string{storetest.Water}
	}
	if closed {
		p.State, p.Resolution = workflow.StateClosed, workflow.ResolutionRectified
		p.Supervision = workflow.Supervision{}
	}
	return p
}

func TestDueStopsAtTime(t *testing.T) {
	ctx := t.Context()
	s, _ := open(t, Options{})
	const count = 20000
	due := map[uint64]bool{7: true, 9999: true, 15000: true}
	far := storetest.T0.AddDate(1, 0, 0)
	bulkLoad(t, s, count, func(n uint64) *workflow.Problem {
		if due[n] {
			return rectifyingProblem(n, storetest.Deadline(10), false)
		}
		return rectifyingProblem(n, far.Add(time.Duration(n)*time.Minute), false)
	})
	checkIndexes(t, s)
	reads := func(at time.Time, limit int, want []string) {
		t.Helper()
		before := s.dueKeysRead.Load()
		got, err := s.Due(ctx, at, limit)
		if err != nil || !slices.Equal(got, want) {
			t.Fatalf("Due(%v, %d) = %v, %v; want %v", at, limit, got, err, want)
		}
		// The keys due, and the first one past the time unless the limit
		// stopped the walk first.
		wantReads := uint64(len(want))
		if len(want) < limit || limit <= 0 {
			wantReads++
		}
		if n := s.dueKeysRead.Load() - before; n != wantReads {
			t.Errorf("Due(%v, %d) read %d wake index keys, want %d", at, limit, n, wantReads)
		}
	}
	reads(storetest.T0, 0, []string{})
	reads(storetest.T0.AddDate(0, 0, 30), 0, []string{"7", "9999", "15000"})
	reads(storetest.T0.AddDate(0, 0, 30), 2, []string{"7", "9999"})

	// The scanner reads no more than that either, and a second scan reads
	// one key.
	svc := workflow.NewService(s, workflow.NewManualClock(storetest.T0.AddDate(0, 0, 5)))
	before := s.dueKeysRead.Load()
	n, err := svc.Scan(ctx)
	if err != nil || n != len(due) {
		t.Fatalf("Scan = %d, %v; want %d due-soon alerts", n, err, len(due))
	}
	if read := s.dueKeysRead.Load() - before; read > uint64(len(due)+1) {
		t.Errorf("Scan read %d wake index keys for %d problems due", read, len(due))
	}
	before = s.dueKeysRead.Load()
	if n, err := svc.Scan(ctx); err != nil || n != 0 {
		t.Fatalf("second Scan = %d, %v", n, err)
	}
	if read := s.dueKeysRead.Load() - before; read != 1 {
		t.Errorf("a scan with nothing due read %d wake index keys, want 1", read)
	}
	checkIndexes(t, s)
}

func TestDueSeconds(t *testing.T) {
	ctx := t.Context()
	s, _ := open(t, Options{})
	at := time.Date(2021, 7, 1, 10, 0, 0, 0, time.UTC)
	wakes := []time.Time{at.Add(500 * time.Millisecond), at, at.Add(time.Nanosecond), at.Add(-time.Nanosecond), time.Unix(-100, 0)}
	for i, w := range wakes {
		p, _, err := s.CreateProblem(ctx, "", storetest.Build(fmt.Sprintf("问题 %d", i+1), workflow.SourceOther, storetest.Leping))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.UpdateProblem(ctx, p.ID, storetest.WakeAt(&w)); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		t    time.Time
		want []string
	}{
		{time.Unix(-200, 0), []string{}},
		{time.Unix(-1, 999_999_999), []string{}},
		{time.Unix(0, 0), []string{"5"}},
		{at.Add(-time.Second), []string{"5"}},
		{at.Add(-time.Nanosecond), []string{"5"}},
		{at, []string{"5", "2", "4"}},
		{at.Add(999 * time.Millisecond), []string{"5", "2", "4"}},
		{at.Add(time.Second), []string{"5", "2", "4", "1", "3"}},
	}
	for _, tt := range tests {
		got, err := s.Due(ctx, tt.t, 0)
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("Due(%v) = %v, %v; want %v", tt.t, got, err, tt.want)
		}
		for _, id := range got {
			p, _ := s.Problem(ctx, id)
			if p.Supervision.WakeAt.After(tt.t) {
				t.Errorf("Due(%v) returned problem %s before its wake time %v", tt.t, id, p.Supervision.WakeAt)
			}
		}
	}
}

// downgrade turns the database at path into what schema version 1 left: no
// outbox, wake, postings, evidence, cursor, calendar or rollup buckets, no
// index_v2, index_evidence or index_postings flag, no hash chain, no
// rollups. (Version 1's idx_state and the like are not made again: the
// upgrade drops them anyway.)
func downgrade(t *testing.T, path string) {
	t.Helper()
	updateFile(t, path, func(tx *bbolt.Tx) error {
		if err := unseal(tx); err != nil {
			return err
		}
		for _, name := range append([][]byte{bucketOutbox, bucketByWake, bucketPostings, bucketByEvidence, bucketCursors, bucketCalendars}, rollupBuckets...) {
			if err := tx.DeleteBucket(name); err != nil {
				return err
			}
		}
		meta := tx.Bucket(bucketMeta)
		for _, k := range [][]byte{keyIndexV2, keyIndexEvidence, keyIndexPostings, keyRollupPolicy, keyRollupMark} {
			if err := meta.Delete(k); err != nil {
				return err
			}
		}
		return meta.Put(keySchema, u64(1))
	})
}

func metaOf(t *testing.T, s *Store) (schema uint64, indexV2 bool) {
	t.Helper()
	err := s.db.View(func(tx *bbolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		schema = binary.BigEndian.Uint64(meta.Get(keySchema))
		indexV2 = meta.Get(keyIndexV2) != nil
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return schema, indexV2
}

func TestUpgradeFromVersion1(t *testing.T) {
	ctx := t.Context()
	s, path := open(t, Options{})
	if schema, flag := metaOf(t, s); schema != schemaVersion || !flag {
		t.Fatalf("a new database has schema %d, index_v2 %v", schema, flag)
	}
	fill(t, s, 9)
	wake := storetest.T0.Add(time.Hour)
	for _, id := range []string{"2", "6", "8"} {
		if _, err := s.UpdateProblem(ctx, id, storetest.WakeAt(&wake)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.UpdateProblem(ctx, "6", storetest.Supervise(func(sv *workflow.Supervision) {
		sv.Level, sv.Stage, sv.StageLate = workflow.LevelRed, workflow.StageAccept, true
	})); err != nil {
		t.Fatal(err)
	}
	before := take(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	downgrade(t, path)

	// A read-only open cannot upgrade and says so.
	if r, err := Open(path, Options{ReadOnly: true}); err == nil || !strings.Contains(err.Error(), "must be upgraded") {
		if r != nil {
			r.Close()
		}
		t.Fatalf("read-only Open of a version 1 file = %v, want an upgrade error", err)
	}

	s, err := Open(path, Options{})
	if err != nil {
		t.Fatalf("Open of a version 1 file = %v", err)
	}
	if schema, flag := metaOf(t, s); schema != schemaVersion || !flag {
		t.Errorf("after the upgrade: schema %d, index_v2 %v", schema, flag)
	}
	if got := take(t, s); mustJSON(t, got) != mustJSON(t, before) {
		t.Errorf("the upgrade changed the records:\n got %s\nwant %s", mustJSON(t, got), mustJSON(t, before))
	}
	checkIndexes(t, s)
	// The history was sealed as it would have been when written.
	checkChain(t, s)
	if due, err := s.Due(ctx, wake, 0); err != nil || !slices.Equal(due, []string{"2", "6", "8"}) {
		t.Errorf("Due after the upgrade = %v, %v", due, err)
	}
	for tag, want := range map[string][]string{workflow.TagLate: {"6"}, workflow.AlertAcceptLate: {"6"}, string(workflow.LevelRed): {"6"}} {
		items, _, err := s.Problems(ctx, workflow.ProblemFilter{Tag: tag})
		if got := ids(items); err != nil || !slices.Equal(got, want) {
			t.Errorf("Problems(tag %s) after the upgrade = %v, %v; want %v", tag, got, err, want)
		}
	}
	// History written before the outbox existed has no events; new entries do.
	if evs, err := s.Events(ctx, 0, 0); err != nil || len(evs) != 0 {
		t.Errorf("Events after the upgrade = %v, %v; want none", evs, err)
	}
	p, err := s.UpdateProblem(ctx, "2", storetest.WakeAt(nil))
	if err != nil {
		t.Fatal(err)
	}
	h, _ := s.History(ctx, "2")
	if evs, err := s.Events(ctx, 0, 0); err != nil || len(evs) != 1 || evs[0].Seq != h[len(h)-1].Seq || evs[0].Entry.Version != p.Version {
		t.Errorf("Events after an update = %+v, %v", evs, err)
	}
	checkIndexes(t, s)
	checkChain(t, s)

	// Without the flag, the backfill rebuilds the indexes, dropping keys
	// no record calls for.
	err = s.db.Update(func(tx *bbolt.Tx) error {
		st := &txState{}
		st.editPosting(index.Term{Index: index.Tag, Value: string(workflow.LevelListed)}, 3, true)
		if err := st.flushPostings(tx); err != nil {
			return err
		}
		if err := tx.Bucket(bucketByWake).Put(timeKey(index.WakeSeconds(wake), 4), []byte{}); err != nil {
			return err
		}
		return tx.Bucket(bucketMeta).Delete(keyIndexV2)
	})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if s, err = Open(path, Options{}); err != nil {
		t.Fatal(err)
	}
	checkIndexes(t, s)

	// The backfill runs once: a reopen trusts the flag.
	err = s.db.Update(func(tx *bbolt.Tx) error { return tx.Bucket(bucketByWake).Delete(timeKey(index.WakeSeconds(wake), 8)) })
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if due, _ := s.Due(ctx, wake, 0); !slices.Equal(due, []string{"6"}) {
		t.Errorf("Due after a second open = %v; the backfill ran again", due)
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	s, path := open(t, Options{})
	err := s.db.Update(func(tx *bbolt.Tx) error { return tx.Bucket(bucketMeta).Put(keySchema, u64(schemaVersion+1)) })
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	for _, opts := range []Options{{}, {ReadOnly: true}} {
		if s, err := Open(path, opts); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("schema version %d", schemaVersion+1)) {
			if s != nil {
				s.Close()
			}
			t.Errorf("Open(%+v) of a version %d file = %v", opts, schemaVersion+1, err)
		}
	}
}

// TestScanRestart scans, reopens the file and scans again: alerts are
// recorded once, and the outbox, cursors and calendars survive.
func TestScanRestart(t *testing.T) {
	ctx := t.Context()
	s, path := open(t, Options{})
	clock := workflow.NewManualClock(storetest.T0)
	svc := workflow.NewService(s, clock)
	if err := svc.PutUnits(ctx, storetest.Units()); err != nil {
		t.Fatal(err)
	}
	for i, days := range []int{3, 10, 40, 75} {
		p, _, err := svc.CreateProblem(ctx, storetest.BureauActor, workflow.NewProblem{
			Title: fmt.Sprintf("问题 %d", i+1), Description: "逾期未整改", Source: workflow.SourceAudit, CountyID: storetest.Leping,
		})
		if err != nil {
			t.Fatal(err)
		}
		d := storetest.Deadline(days)
		if _, err := svc.Fire(ctx, storetest.BureauActor, p.ID, workflow.Command{Trigger: workflow.TriggerAssign,
			Params: workflow.Params{LeadUnit: storetest.Leping, Deadline: &d}}); err != nil {
			t.Fatal(err)
		}
	}
	clock.Set(storetest.T0.AddDate(0, 0, 80))
	n, err := svc.Scan(ctx)
	if err != nil || n == 0 {
		t.Fatalf("Scan = %d, %v", n, err)
	}
	if err := s.SetCursor(ctx, "webhook", 3); err != nil {
		t.Fatal(err)
	}
	if err := s.PutCalendar(ctx, 2021, []byte(`{"year":2021}`)); err != nil {
		t.Fatal(err)
	}
	events, err := s.Events(ctx, 0, MaxEventLimit)
	if err != nil {
		t.Fatal(err)
	}
	before := take(t, s)
	s.Close()

	s, err = Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	svc = workflow.NewService(s, clock)
	if n, err := svc.Scan(ctx); err != nil || n != 0 {
		t.Errorf("Scan after a restart = %d, %v; want 0", n, err)
	}
	if got := take(t, s); mustJSON(t, got) != mustJSON(t, before) {
		t.Errorf("a scan after a restart changed the ledger")
	}
	if got, err := s.Events(ctx, 0, MaxEventLimit); err != nil || mustJSON(t, got) != mustJSON(t, events) {
		t.Errorf("events after a restart differ: %v", err)
	}
	if c, err := s.Cursor(ctx, "webhook"); err != nil || c != 3 {
		t.Errorf("Cursor after a restart = %d, %v", c, err)
	}
	if cals, err := s.Calendars(ctx); err != nil || string(cals[2021]) != `{"year":2021}` {
		t.Errorf("Calendars after a restart = %v, %v", cals, err)
	}
	checkIndexes(t, s)
}

func TestEventLimits(t *testing.T) {
	ctx := t.Context()
	s, _ := open(t, Options{})
	p, _, err := s.CreateProblem(ctx, "", storetest.Build("问题", workflow.SourceOther, storetest.Leping))
	if err != nil {
		t.Fatal(err)
	}
	// One command with more entries than the largest page.
	if _, err := s.UpdateProblem(ctx, p.ID, func(p *workflow.Problem) ([]workflow.Entry, error) {
		var out []workflow.Entry
		for i := range MaxEventLimit + 50 {
			out = append(out, workflow.Entry{At: storetest.T0, Action: workflow.ActionNote, Params: workflow.Params{Text: fmt.Sprint(i)}})
		}
		return out, nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ limit, want int }{{0, DefaultEventLimit}, {-5, DefaultEventLimit}, {10, 10}, {MaxEventLimit, MaxEventLimit}, {MaxEventLimit + 1, MaxEventLimit}, {math.MaxInt, MaxEventLimit}} {
		if evs, err := s.Events(ctx, 0, tt.limit); err != nil || len(evs) != tt.want {
			t.Errorf("Events(0, %d) = %d events, %v; want %d", tt.limit, len(evs), err, tt.want)
		}
	}
	if _, err := s.Cursor(ctx, ""); workflow.ErrorCode(err) != workflow.CodeInvalid {
		t.Errorf("Cursor(\"\") = %v, want invalid", err)
	}
	long := strings.Repeat("x", check.MaxCursorName+1)
	if err := s.SetCursor(ctx, long, 1); workflow.ErrorCode(err) != workflow.CodeInvalid {
		t.Errorf("SetCursor with a long name = %v, want invalid", err)
	}
}

func TestReadOnlySupervision(t *testing.T) {
	ctx := t.Context()
	s, path := open(t, Options{})
	fill(t, s, 3)
	wake := storetest.T0
	if _, err := s.UpdateProblem(ctx, "1", storetest.WakeAt(&wake)); err != nil {
		t.Fatal(err)
	}
	if err := s.PutCalendar(ctx, 2021, []byte("{}")); err != nil {
		t.Fatal(err)
	}
	s.Close()
	r, err := Open(path, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if due, err := r.Due(ctx, wake, 0); err != nil || !slices.Equal(due, []string{"1"}) {
		t.Errorf("read-only Due = %v, %v", due, err)
	}
	if evs, err := r.Events(ctx, 0, 0); err != nil || len(evs) == 0 {
		t.Errorf("read-only Events = %d, %v", len(evs), err)
	}
	if cals, err := r.Calendars(ctx); err != nil || len(cals) != 1 {
		t.Errorf("read-only Calendars = %v, %v", cals, err)
	}
	for name, write := range map[string]func() error{
		"SetCursor":   func() error { return r.SetCursor(ctx, "x", 1) },
		"PutCalendar": func() error { return r.PutCalendar(ctx, 2022, []byte("{}")) },
	} {
		if err := write(); !errors.Is(err, bolterrors.ErrDatabaseReadOnly) {
			t.Errorf("%s on a read-only store = %v", name, err)
		}
	}
}

// ids returns the IDs of ps.
func ids(ps []*workflow.Problem) []string {
	out := []string{}
	for _, p := range ps {
		out = append(out, p.ID)
	}
	return out
}

// Scan benchmark layout: scanBatches batches of scanDue problems become due
// scanSpacing apart; every other problem's wake time is a year away or it
// has none. Each iteration moves the clock to the next batch, so that every
// scan has the same fresh work whatever the ledger's size. scanBatches ×
// scanSpacing stays below the due-soon window, so that no problem alerted by
// an earlier iteration comes due again (its next wake is its deadline).
const (
	scanDue     = 100
	scanBatches = 200
	scanSpacing = 30 * time.Minute
)

var scanBase = time.Date(2022, 1, 3, 0, 0, 0, 0, time.UTC)

// scanLedger is one benchmark ledger, built once per size and shared by the
// benchmark's runs.
type scanLedger struct {
	s     *Store
	gen   func(n uint64) *workflow.Problem
	due   [][]uint64 // problem numbers of each batch
	clock *workflow.ManualClock
	svc   *workflow.Service
	next  int // the batch the next iteration scans
}

func newScanLedger(b *testing.B, dir string, size uint64) *scanLedger {
	path := filepath.Join(dir, fmt.Sprintf("scan-%d.db", size))
	s, err := Open(path, Options{})
	if err != nil {
		b.Fatal(err)
	}
	// Spread each batch over the ledger, as real deadlines are.
	stride := size / (scanBatches * scanDue)
	batch := map[uint64]int{}
	l := &scanLedger{s: s, due: make([][]uint64, scanBatches)}
	for i := range uint64(scanBatches * scanDue) {
		n := 1 + i*stride
		j := int(i % scanBatches)
		batch[n] = j
		l.due[j] = append(l.due[j], n)
	}
	dueSoon := workflow.DefaultPolicy().DueSoon
	far := scanBase.AddDate(1, 0, 0)
	l.gen = func(n uint64) *workflow.Problem {
		if j, ok := batch[n]; ok {
			return rectifyingProblem(n, scanBase.Add(time.Duration(j)*scanSpacing+dueSoon), false)
		}
		return rectifyingProblem(n, far.Add(time.Duration(n)*time.Second), n%10 == 0)
	}
	start := time.Now()
	bulkLoad(b, s, size, l.gen)
	b.Logf("ledger of %d problems (%d scheduled due) built in %v", size, len(batch), time.Since(start).Round(time.Millisecond))
	l.clock = workflow.NewManualClock(scanBase)
	l.svc = workflow.NewService(s, l.clock)
	return l
}

// close closes the ledger's store and removes its file.
func (l *scanLedger) close(b *testing.B) {
	path := l.s.db.Path()
	if err := l.s.Close(); err != nil {
		b.Error(err)
	}
	if err := os.Remove(path); err != nil {
		b.Error(err)
	}
}

// rewind puts every scheduled problem back as it was before any scan.
func (l *scanLedger) rewind(b *testing.B) {
	for _, ns := range l.due {
		bulkRewrite(b, l.s, ns, l.gen)
	}
	l.next = 0
}

// BenchmarkScan measures one deadline scan (workflow.Service.Scan) that finds
// and alerts scanDue problems, on ledgers of 100,000 and 1,000,000 problems.
// Its cost is the due problems' updates (one write transaction each), so it
// should not depend on the ledger's size. The 1,000,000 ledger takes about a
// minute to build and is skipped with -short.
func BenchmarkScan(b *testing.B) {
	dir := b.TempDir()
	for _, size := range []uint64{100_000, 1_000_000} {
		var l *scanLedger
		b.Run(fmt.Sprintf("ledger=%d", size), func(b *testing.B) {
			if size > 100_000 && testing.Short() {
				b.Skip("the 1,000,000 ledger is skipped with -short")
			}
			if l == nil {
				l = newScanLedger(b, dir, size) // shared by this size's runs
			}
			ctx := context.Background()
			keys := l.s.dueKeysRead.Load()
			alerts := 0
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if l.next == scanBatches {
					b.StopTimer()
					l.rewind(b)
					b.StartTimer()
				}
				l.clock.Set(scanBase.Add(time.Duration(l.next) * scanSpacing))
				l.next++
				n, err := l.svc.Scan(ctx)
				if err != nil {
					b.Fatal(err)
				}
				if n != scanDue {
					b.Fatalf("scan of batch %d recorded %d alerts, want %d", l.next-1, n, scanDue)
				}
				alerts += n
			}
			b.StopTimer()
			b.ReportMetric(float64(alerts)/float64(b.N), "alerts/op")
			b.ReportMetric(float64(l.s.dueKeysRead.Load()-keys)/float64(b.N), "wakekeys/op")
		})
		if l != nil {
			l.close(b)
		}
	}
}

// BenchmarkDue measures the scanner's index query alone, Due finding scanDue
// problems, on the Scan benchmark's ledgers: it reads scanDue+1 keys of the
// wake index whatever the ledger's size.
func BenchmarkDue(b *testing.B) {
	dir := b.TempDir()
	for _, size := range []uint64{100_000, 1_000_000} {
		var l *scanLedger
		b.Run(fmt.Sprintf("ledger=%d", size), func(b *testing.B) {
			if size > 100_000 && testing.Short() {
				b.Skip("the 1,000,000 ledger is skipped with -short")
			}
			if l == nil {
				l = newScanLedger(b, dir, size)
			}
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				ids, err := l.s.Due(ctx, scanBase, 0)
				if err != nil || len(ids) != scanDue {
					b.Fatalf("Due = %d problems, %v; want %d", len(ids), err, scanDue)
				}
			}
		})
		if l != nil {
			l.close(b)
		}
	}
}
