package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"

	bbolt "go.etcd.io/bbolt"

	"github.com/jdz-eco/rectify/store/internal/rollup"
	"github.com/jdz-eco/rectify/workflow"
)

// Rollups (docs/design.md#rollups): the statistics' tallies, kept in the
// transaction of every write. What a write changes is workflow.RollupWrite's;
// where each change is kept is store/internal/rollup's; this file maps the
// views to buckets:
//
//	rollup_facts   problem number → its facts (rollup.EncodeFacts)
//	rollup_live    group → tally of every delta at or before the mark
//	rollup_due     instant ‖ group → tally of the deltas at that instant, after the mark
//	rollup_series  scope ‖ 0 ‖ grouping ‖ 0 ‖ 'd' or 'm' ‖ day or month ‖ value → tally
//	               of the deltas of that day or month
//	meta           "rollup_policy" → the workflow.Policy (JSON) the tallies follow, present
//	               once they were counted; "rollup_mark" → the mark (unix nanoseconds)
//
// A group is scope ‖ 0 ‖ grouping ‖ 0 ‖ value; instants (unix nanoseconds)
// and periods are big-endian with the sign bit flipped, so that they sort.
// A tally that sums to nothing is deleted.

var (
	bucketRollupFacts  = []byte("rollup_facts")
	bucketRollupLive   = []byte("rollup_live")
	bucketRollupDue    = []byte("rollup_due")
	bucketRollupSeries = []byte("rollup_series")

	rollupBuckets = [][]byte{bucketRollupFacts, bucketRollupLive, bucketRollupDue, bucketRollupSeries}

	keyRollupPolicy = []byte("rollup_policy")
	keyRollupMark   = []byte("rollup_mark")
)

func groupPrefix(scope, grouping string) []byte {
	b := make([]byte, 0, len(scope)+len(grouping)+2)
	b = append(b, scope...)
	b = append(b, 0)
	b = append(b, grouping...)
	return append(b, 0)
}

func groupKey(k workflow.TallyKey) []byte {
	return append(groupPrefix(k.Scope, k.Grouping), k.Value...)
}

func instantKey(ns int64) []byte { return u64(uint64(ns) ^ 1<<63) }

func periodKey(view rollup.View, p int32) []byte {
	c := byte('d')
	if view == rollup.Months {
		c = 'm'
	}
	return binary.BigEndian.AppendUint32([]byte{c}, uint32(p)^1<<31)
}

// parseGroup reads a group from its key.
func parseGroup(b []byte) (workflow.TallyKey, bool) {
	i := bytes.IndexByte(b, 0)
	if i < 0 {
		return workflow.TallyKey{}, false
	}
	j := bytes.IndexByte(b[i+1:], 0)
	if j < 0 {
		return workflow.TallyKey{}, false
	}
	return workflow.TallyKey{Scope: string(b[:i]), Grouping: string(b[i+1 : i+1+j]), Value: string(b[i+2+j:])}, true
}

// entryPlace returns the bucket and key of a rollup entry.
func entryPlace(e rollup.Entry) ([]byte, []byte) {
	switch e.View {
	case rollup.Live:
		return bucketRollupLive, groupKey(e.Key)
	case rollup.Due:
		return bucketRollupDue, append(instantKey(e.At), groupKey(e.Key)...)
	}
	k := append(groupPrefix(e.Key.Scope, e.Key.Grouping), periodKey(e.View, e.Period)...)
	return bucketRollupSeries, append(k, e.Key.Value...)
}

// addTally adds t to the tally stored under key in b, deleting it when it
// comes to nothing.
func addTally(b *bbolt.Bucket, key []byte, t *workflow.Tally) error {
	sum := t.Clone()
	if v := b.Get(key); v != nil {
		if err := rollup.AddEncoded(sum, v, 1); err != nil {
			return fmt.Errorf("bolt: rollup %x: %w", key, err)
		}
	}
	if sum.IsZero() {
		return b.Delete(key)
	}
	return b.Put(key, rollup.EncodeTally(sum))
}

// getFacts returns problem number n's rollup facts.
func getFacts(tx *bbolt.Tx, n uint64) (workflow.RollupFacts, error) {
	f, err := rollup.DecodeFacts(tx.Bucket(bucketRollupFacts).Get(u64(n)))
	if err != nil {
		return f, fmt.Errorf("bolt: rollup facts of problem %d: %w", n, err)
	}
	return f, nil
}

// putFacts stores problem number n's facts when they changed from old.
func putFacts(tx *bbolt.Tx, n uint64, old, f workflow.RollupFacts) error {
	if f == old {
		return nil
	}
	if err := tx.Bucket(bucketRollupFacts).Put(u64(n), rollup.EncodeFacts(f)); err != nil {
		return fmt.Errorf("bolt: write rollup facts of problem %d: %w", n, err)
	}
	return nil
}

// rollupWrite keeps what writing p (over old, nil for a new problem) with
// entries changes: p's facts now, the tallies when the transaction's
// commands are done (flushRollups). Every path that writes a record calls
// it.
func (s *Store) rollupWrite(tx *bbolt.Tx, st *txState, n uint64, old, p *workflow.Problem, entries []workflow.Entry) error {
	facts := workflow.NoRollupFacts
	if old != nil {
		var err error
		if facts, err = getFacts(tx, n); err != nil {
			return err
		}
	}
	ch, err := workflow.RollupWrite(old, facts, p, entries, s.pol)
	if err != nil {
		return fmt.Errorf("bolt: rollups of problem %d: %w", n, err)
	}
	return st.keepRollup(tx, n, facts, ch)
}

// keepRollup keeps a change decided for problem number n, whose facts were
// old.
func (st *txState) keepRollup(tx *bbolt.Tx, n uint64, old workflow.RollupFacts, ch workflow.RollupChange) error {
	if err := putFacts(tx, n, old, ch.Facts); err != nil {
		return err
	}
	st.roll.Add(ch.At, ch.Deltas)
	return nil
}

// flushRollups writes the tallies the transaction's commands changed: the
// mark moves to their latest write, due deltas it passed fold into the live
// tallies, and every change goes to its views.
func (st *txState) flushRollups(tx *bbolt.Tx) error {
	if st.roll.Empty() {
		return nil
	}
	meta := tx.Bucket(bucketMeta)
	mark := getMark(meta)
	next := st.roll.Mark(mark)
	if next != mark {
		if err := foldDue(tx, next); err != nil {
			return err
		}
		if err := meta.Put(keyRollupMark, u64(uint64(next))); err != nil {
			return fmt.Errorf("bolt: write rollup mark: %w", err)
		}
	}
	for _, e := range st.roll.Route(next) {
		name, key := entryPlace(e)
		if err := addTally(tx.Bucket(name), key, e.Tally); err != nil {
			return fmt.Errorf("bolt: write rollup: %w", err)
		}
	}
	st.roll.Reset()
	return nil
}

func getMark(meta *bbolt.Bucket) int64 {
	if v := meta.Get(keyRollupMark); len(v) == 8 {
		return int64(binary.BigEndian.Uint64(v))
	}
	return 0
}

// foldDue moves the due deltas at or before mark into the live tallies.
func foldDue(tx *bbolt.Tx, mark int64) error {
	due, live := tx.Bucket(bucketRollupDue), tx.Bucket(bucketRollupLive)
	until := instantKey(mark)
	var keys [][]byte
	c := due.Cursor()
	for k, v := c.First(); k != nil && bytes.Compare(k[:8], until) <= 0; k, v = c.Next() {
		t, err := rollup.DecodeTally(v)
		if err != nil {
			return fmt.Errorf("bolt: due rollup %x: %w", k, err)
		}
		if err := addTally(live, k[8:], t); err != nil {
			return err
		}
		keys = append(keys, bytes.Clone(k))
	}
	for _, k := range keys {
		if err := due.Delete(k); err != nil {
			return fmt.Errorf("bolt: fold due rollup: %w", err)
		}
	}
	return nil
}

// openRollups settles, at a read-write Open, the policy the tallies follow:
// pol, or the one they were counted under (workflow.DefaultPolicy for a
// file without them). Tallies missing or following other level thresholds
// are counted afresh.
func (s *Store) openRollups(tx *bbolt.Tx, pol *workflow.Policy) error {
	s.pol = workflow.DefaultPolicy()
	stored, counted := rollupPolicy(tx.Bucket(bucketMeta))
	switch {
	case pol != nil:
		s.pol = *pol
	case counted:
		s.pol = stored
	}
	if !counted || stored.Levels() != s.pol.Levels() {
		return countRollups(tx, s.pol)
	}
	return nil
}

// rollupPolicy returns the policy the file's tallies follow, and false when
// they were never counted.
func rollupPolicy(meta *bbolt.Bucket) (workflow.Policy, bool) {
	var p workflow.Policy
	v := meta.Get(keyRollupPolicy)
	return p, v != nil && json.Unmarshal(v, &p) == nil
}

// Tallies returns the tallies of one grouping of one scope at q.At
// (workflow.Rollups): at the end of a day, from the monthly and daily
// series; at or after the latest write, from the live tallies and the due
// deltas up to q.At. Its cost follows the groups and periods read, not the
// problems.
func (s *Store) Tallies(ctx context.Context, q workflow.TallyQuery) (map[string]*workflow.Tally, bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	out := map[string]*workflow.Tally{}
	ok := false
	err := s.view(func(tx *bbolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if pol, built := rollupPolicy(meta); !built || pol.Levels() != q.Policy.Levels() {
			return nil
		}
		prefix := groupPrefix(q.Scope, q.Grouping)
		add := func(value []byte, v []byte) error {
			t := out[string(value)]
			if t == nil {
				t = &workflow.Tally{}
				out[string(value)] = t
			}
			return rollup.AddEncoded(t, v, 1)
		}
		if day, end := rollup.DayEnd(q.At); end {
			ok = true
			return readSeries(tx.Bucket(bucketRollupSeries), prefix, day, add)
		}
		mark := getMark(meta)
		if q.At.UnixNano() < mark {
			return nil
		}
		ok = true
		c := tx.Bucket(bucketRollupLive).Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			if err := add(k[len(prefix):], v); err != nil {
				return err
			}
		}
		until := instantKey(q.At.UnixNano())
		c = tx.Bucket(bucketRollupDue).Cursor()
		for k, v := c.Seek(instantKey(mark + 1)); k != nil && bytes.Compare(k[:8], until) <= 0; k, v = c.Next() {
			if bytes.HasPrefix(k[8:], prefix) {
				if err := add(k[8+len(prefix):], v); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil || !ok {
		return nil, false, err
	}
	for k, t := range out {
		if t.IsZero() {
			delete(out, k)
		}
	}
	return out, true, nil
}

// readSeries adds the series of one group prefix up to the end of day: the
// months before its month, then its month's days up to it.
func readSeries(b *bbolt.Bucket, prefix []byte, day int32, add func(value, v []byte) error) error {
	month := rollup.MonthOfDay(day)
	ranges := []struct {
		view     rollup.View
		from, to int32 // inclusive
	}{{rollup.Months, -1 << 31, month - 1}, {rollup.Days, rollup.FirstDay(month), day}}
	for _, r := range ranges {
		if r.from > r.to {
			continue
		}
		start := append(bytes.Clone(prefix), periodKey(r.view, r.from)...)
		end := append(bytes.Clone(prefix), periodKey(r.view, r.to)...)
		c := b.Cursor()
		for k, v := c.Seek(start); k != nil && len(k) >= len(end) && bytes.Compare(k[:len(end)], end) <= 0; k, v = c.Next() {
			if err := add(k[len(end):], v); err != nil {
				return err
			}
		}
	}
	return nil
}

// countRollups counts the tallies afresh from every problem's history
// under pol, replacing whatever the rollup buckets held: a file from
// before them, or one whose tallies follow another policy (Options.Policy).
// The mark is the chain head's time. It reads the whole ledger once.
func countRollups(tx *bbolt.Tx, pol workflow.Policy) error {
	for _, name := range rollupBuckets {
		if err := tx.DeleteBucket(name); err != nil {
			return fmt.Errorf("count rollups: empty %s: %w", name, err)
		}
		if _, err := tx.CreateBucket(name); err != nil {
			return fmt.Errorf("count rollups: create %s: %w", name, err)
		}
	}
	meta := tx.Bucket(bucketMeta)
	head, err := getHead(meta)
	if err != nil {
		return err
	}
	var mark int64
	if head.Seq > 0 {
		mark = head.At.UnixNano()
	}
	content, err := rollup.Recount(context.Background(), eachHistory(tx), pol, func(string) int64 { return mark },
		func(n uint64, f workflow.RollupFacts) error { return putFacts(tx, n, workflow.NoRollupFacts, f) })
	if err != nil {
		return fmt.Errorf("count rollups: %w", err)
	}
	for _, e := range content.Entries() {
		name, key := entryPlace(e)
		if err := tx.Bucket(name).Put(key, rollup.EncodeTally(e.Tally)); err != nil {
			return fmt.Errorf("count rollups: %w", err)
		}
	}
	if err := meta.Put(keyRollupMark, u64(uint64(mark))); err != nil {
		return fmt.Errorf("count rollups: write mark: %w", err)
	}
	v, _ := json.Marshal(pol)
	if err := meta.Put(keyRollupPolicy, v); err != nil {
		return fmt.Errorf("count rollups: write policy: %w", err)
	}
	return nil
}

// eachHistory calls fn with every problem's number and history, in
// problem order.
func eachHistory(tx *bbolt.Tx) func(fn func(n uint64, hist []workflow.Entry) error) error {
	return func(fn func(n uint64, hist []workflow.Entry) error) error {
		return tx.Bucket(bucketProblems).ForEach(func(k, _ []byte) error {
			n := binary.BigEndian.Uint64(k)
			hist, err := readHistory(tx, n)
			if err != nil {
				return err
			}
			return fn(n, hist)
		})
	}
}

// AuditRollups counts the tallies afresh from every history and compares
// them, and every problem's facts, with what the file keeps
// (workflow.RollupAuditor), in one read transaction.
func (s *Store) AuditRollups(ctx context.Context) error {
	return s.view(func(tx *bbolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		pol, built := rollupPolicy(meta)
		if !built {
			return &workflow.AuditError{Reason: "the rollups were never counted"}
		}
		mark := getMark(meta)
		want, err := rollup.Recount(ctx, eachHistory(tx), pol, func(string) int64 { return mark },
			func(n uint64, f workflow.RollupFacts) error {
				got, err := getFacts(tx, n)
				if err != nil || got != f {
					return &workflow.AuditError{ProblemID: workflow.ProblemID(n), Reason: fmt.Sprintf("its rollup facts %+v differ from its history's %+v", got, f)}
				}
				return nil
			})
		if err != nil {
			return err
		}
		got, err := dumpRollups(tx)
		if err != nil {
			return err
		}
		if err := rollup.Diff(want, got); err != nil {
			return &workflow.AuditError{Reason: "rollups: " + err.Error()}
		}
		return nil
	})
}

// dumpRollups reads every tally the file keeps.
func dumpRollups(tx *bbolt.Tx) (*rollup.Content, error) {
	c := rollup.NewContent()
	err := tx.Bucket(bucketRollupLive).ForEach(func(k, v []byte) error {
		key, ok := parseGroup(k)
		if !ok {
			return fmt.Errorf("bolt: bad live rollup key %x", k)
		}
		return c.AddEncoded(rollup.Entry{View: rollup.Live, Key: key}, v)
	})
	if err != nil {
		return nil, err
	}
	err = tx.Bucket(bucketRollupDue).ForEach(func(k, v []byte) error {
		key, ok := parseGroup(k[min(8, len(k)):])
		if !ok || len(k) < 8 {
			return fmt.Errorf("bolt: bad due rollup key %x", k)
		}
		return c.AddEncoded(rollup.Entry{View: rollup.Due, Key: key, At: int64(binary.BigEndian.Uint64(k) ^ 1<<63)}, v)
	})
	if err != nil {
		return nil, err
	}
	err = tx.Bucket(bucketRollupSeries).ForEach(func(k, v []byte) error {
		g, ok := parseGroup(k)
		if !ok || len(g.Value) < 5 {
			return fmt.Errorf("bolt: bad series rollup key %x", k)
		}
		view := rollup.Days
		if g.Value[0] == 'm' {
			view = rollup.Months
		}
		p := int32(binary.BigEndian.Uint32([]byte(g.Value[1:5])) ^ 1<<31)
		g.Value = g.Value[5:]
		return c.AddEncoded(rollup.Entry{View: view, Key: g, Period: p}, v)
	})
	return c, err
}
