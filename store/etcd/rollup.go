package etcd

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/jdz-eco/rectify/store/internal/rollup"
	"github.com/jdz-eco/rectify/workflow"
)

// Rollups (docs/design.md#rollups): the statistics' tallies. What a write
// changes is workflow.RollupWrite's, where each change is kept
// store/internal/rollup's. A command's transaction must not touch keys
// other replicas' commands touch too, or replicas would conflict on every
// command; so it only adds a key of its own per scope, holding its
// deltas, and a folder (rollup_fold.go) later sums those into the scope's
// views, one scope at a time, guarded by the scope's mark:
//
//	P ro/policy                       the workflow.Policy (JSON) the tallies follow; present once they
//	                                  count every write (a new prefix, a migration, CountRollups)
//	P ro/b/<scope>/<id>               one transaction's deltas of the scope, not yet folded:
//	                                  its latest write (unix ns, decimal), "/", rollup.AppendItems;
//	                                  <id> is its command key's, or batch-<batch>-<chunk> for a chunk
//	                                  of a batch create (batch.go), folded once the batch is done
//	P ro/s/<scope>/m                  the scope's mark (unix ns, decimal)
//	P ro/s/<scope>/l/<grouping>       the live tallies of the grouping's groups (items)
//	P ro/s/<scope>/x/<day>            the due deltas falling on that day (items with instants)
//	P ro/s/<scope>/d/<day>, …/n/<month>  the series of that day, month (items)
//
// <scope> is the unit id escaped, "-" for everyone; days and months are
// rollup.Day and rollup.Month, sign bit flipped, 10 decimal digits. A
// problem's facts ride in its record's JSON ("rollup_facts", the encoding
// of rollup.EncodeFacts), which plain readers of workflow.Problem ignore.
// The tallies of a scope are its views plus its unfolded deltas.

const keyRollupPolicy = "ro/policy"

// scopeSeg is a scope as a key segment.
func scopeSeg(scope string) string {
	if scope == "" {
		return "-"
	}
	return esc(scope)
}

// scopePrefix is the prefix of a scope's views; batchPrefix of its deltas
// not yet folded.
func scopePrefix(scope string) string { return "ro/s/" + scopeSeg(scope) + "/" }
func batchPrefix(scope string) string { return "ro/b/" + scopeSeg(scope) + "/" }

func periodStr(p int32) string { return fmt.Sprintf("%010d", uint32(p)^1<<31) }

// storedRecord is a problem record as stored: the problem's JSON and its
// rollup facts.
type storedRecord struct {
	*workflow.Problem
	RollupFacts []byte `json:"rollup_facts,omitempty"`
}

// encodeRecord returns the stored value of p with its facts.
func encodeRecord(p *workflow.Problem, f workflow.RollupFacts) []byte {
	v, _ := json.Marshal(storedRecord{Problem: p, RollupFacts: rollup.EncodeFacts(f)}) // a Problem always encodes
	return v
}

// decodeStored decodes a stored record and its facts.
func decodeStored(n uint64, v []byte) (*workflow.Problem, workflow.RollupFacts, error) {
	r := storedRecord{Problem: &workflow.Problem{}}
	if err := json.Unmarshal(v, &r); err != nil {
		return nil, workflow.NoRollupFacts, fmt.Errorf("etcd: decode problem %d: %w", n, err)
	}
	f, err := rollup.DecodeFacts(r.RollupFacts)
	if err != nil {
		return nil, f, fmt.Errorf("etcd: rollup facts of problem %d: %w", n, err)
	}
	return r.Problem, f, nil
}

// rollupBatch gathers the rollup changes of one planned transaction: the
// facts of each problem it writes and the deltas of each scope.
type rollupBatch struct {
	pol    workflow.Policy
	facts  map[uint64]workflow.RollupFacts
	scopes map[string]*rollup.Changes
}

func newRollupBatch(pol workflow.Policy) *rollupBatch {
	return &rollupBatch{pol: pol, facts: map[uint64]workflow.RollupFacts{}, scopes: map[string]*rollup.Changes{}}
}

// write decides what writing p over prev (nil: a new problem) with
// entries changes; baseFacts are prev's facts as stored, used when the
// batch has not written problem n yet. It returns the change and how many
// keys keeping it would add to the transaction (scopes the batch has no
// deltas of yet).
func (rb *rollupBatch) write(n uint64, prev *workflow.Problem, baseFacts workflow.RollupFacts, p *workflow.Problem, entries []workflow.Entry) (workflow.RollupChange, int, error) {
	facts, seen := rb.facts[n]
	if !seen {
		facts = baseFacts
		if prev == nil {
			facts = workflow.NoRollupFacts
		}
	}
	ch, err := workflow.RollupWrite(prev, facts, p, entries, rb.pol)
	if err != nil {
		return ch, 0, fmt.Errorf("etcd: rollups of problem %d: %w", n, err)
	}
	var added []string
	for _, d := range ch.Deltas {
		if _, ok := rb.scopes[d.Key.Scope]; !ok && !slices.Contains(added, d.Key.Scope) {
			added = append(added, d.Key.Scope)
		}
	}
	return ch, len(added), nil
}

// keep adds a decided change of problem n to the batch.
func (rb *rollupBatch) keep(n uint64, ch workflow.RollupChange) {
	rb.facts[n] = ch.Facts
	for _, d := range ch.Deltas {
		c := rb.scopes[d.Key.Scope]
		if c == nil {
			c = &rollup.Changes{}
			rb.scopes[d.Key.Scope] = c
		}
		c.Add(ch.At, []workflow.TallyDelta{d})
	}
}

// ops returns the puts of the batch's deltas, one key per scope.
func (rb *rollupBatch) ops(s *Store, id string) []clientv3.Op {
	var out []clientv3.Op
	for sc, c := range rb.scopes {
		if c.Empty() {
			continue
		}
		out = append(out, clientv3.OpPut(s.k(batchPrefix(sc)+id), encodeBatch(c)))
	}
	return out
}

// splitBatch cuts c into pieces whose deltas fall on at most days
// distinct days each, so that folding one piece (its days' due, daily and
// monthly views, and the live tallies) fits one transaction. A command's
// deltas fall on a few days; a batch's may fall on many.
func splitBatch(c *rollup.Changes, days int) []*rollup.Changes {
	items := c.Items() // in instant order
	var out []*rollup.Changes
	var piece []rollup.Item
	n, last := 0, int32(0)
	for _, it := range items {
		if d := rollup.Day(it.At); len(piece) == 0 || d != last {
			if n == days {
				p := &rollup.Changes{}
				p.AddItems(c.Last(), piece)
				out = append(out, p)
				piece, n = nil, 0
			}
			n, last = n+1, d
		}
		piece = append(piece, it)
	}
	if len(piece) > 0 || len(out) == 0 {
		p := &rollup.Changes{}
		p.AddItems(c.Last(), piece)
		out = append(out, p)
	}
	return out
}

func encodeBatch(c *rollup.Changes) string {
	b := strconv.AppendInt(nil, c.Last(), 10)
	b = append(b, '/')
	return string(rollup.AppendItems(b, c.Items()))
}

func decodeBatch(v []byte) (int64, []rollup.Item, error) {
	i := strings.IndexByte(string(v), '/')
	if i < 0 {
		return 0, nil, rollup.ErrCorrupt
	}
	last, err := strconv.ParseInt(string(v[:i]), 10, 64)
	if err != nil {
		return 0, nil, rollup.ErrCorrupt
	}
	items, err := rollup.DecodeItems(v[i+1:])
	return last, items, err
}

func decodeMark(kv *kvPair) (int64, error) {
	if kv == nil {
		return 0, nil
	}
	m, err := strconv.ParseInt(string(kv.Value), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("etcd: bad rollup mark %q", kv.Value)
	}
	return m, nil
}

func decodePolicy(kv *kvPair) (workflow.Policy, bool) {
	var p workflow.Policy
	return p, kv != nil && json.Unmarshal(kv.Value, &p) == nil
}

// Tallies returns the tallies of one grouping of one scope at q.At
// (workflow.Rollups): at the end of a day, from the scope's monthly and
// daily series; at or after its mark, from its live tallies and the due
// deltas up to q.At; either way plus its deltas not yet folded. Two reads
// at one revision; their size follows the groups, the periods and what is
// not folded yet, not the problems.
func (s *Store) Tallies(ctx context.Context, q workflow.TallyQuery) (map[string]*workflow.Tally, bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	sp := scopePrefix(q.Scope)
	ops := []clientv3.Op{
		clientv3.OpGet(s.k(keyRollupPolicy)),
		clientv3.OpGet(s.k(sp + "m")),
		clientv3.OpGet(s.k(batchPrefix(q.Scope)), clientv3.WithPrefix()),
	}
	day, dayEnd := rollup.DayEnd(q.At)
	if dayEnd {
		month := rollup.MonthOfDay(day)
		ops = append(ops,
			clientv3.OpGet(s.k(sp+"n/"), clientv3.WithRange(s.k(sp+"n/"+periodStr(month)))),
			clientv3.OpGet(s.k(sp+"d/"+periodStr(rollup.FirstDay(month))), clientv3.WithRange(s.k(sp+"d/"+periodStr(day+1)))))
	} else {
		ops = append(ops, clientv3.OpGet(s.k(sp+"l/"+esc(q.Grouping))))
	}
	rctx, cancel := s.reqCtx(ctx)
	resp, err := s.cli.Txn(rctx).Then(ops...).Commit()
	cancel()
	if err != nil {
		return nil, false, wrap("read the rollups", err)
	}
	if pol, ok := decodePolicy(first(resp.Responses[0])); !ok || pol.Levels() != q.Policy.Levels() {
		return nil, false, nil
	}
	mark, err := decodeMark(first(resp.Responses[1]))
	if err != nil {
		return nil, false, err
	}
	at := q.At.UnixNano()
	if !dayEnd && at < mark {
		return nil, false, nil
	}
	out := map[string]*workflow.Tally{}
	add := func(it rollup.Item) {
		if it.Key.Grouping != q.Grouping {
			return
		}
		t := out[it.Key.Value]
		if t == nil {
			t = &workflow.Tally{}
			out[it.Key.Value] = t
		}
		t.Add(it.Tally, 1)
	}
	addValues := func(kvs []*kvPair, keep func(rollup.Item) bool) error {
		for _, kv := range kvs {
			items, err := rollup.DecodeItems(kv.Value)
			if err != nil {
				return fmt.Errorf("etcd: rollup %s: %w", kv.Key, err)
			}
			for _, it := range items {
				if keep == nil || keep(it) {
					add(it)
				}
			}
		}
		return nil
	}
	for _, kv := range resp.Responses[2].GetResponseRange().Kvs {
		_, items, err := decodeBatch(kv.Value)
		if err != nil {
			return nil, false, fmt.Errorf("etcd: rollup %s: %w", kv.Key, err)
		}
		for _, it := range items {
			if it.At <= at {
				add(it)
			}
		}
	}
	if dayEnd {
		for _, r := range resp.Responses[3:] {
			if err := addValues(r.GetResponseRange().Kvs, nil); err != nil {
				return nil, false, err
			}
		}
	} else {
		if err := addValues(resp.Responses[3].GetResponseRange().Kvs, nil); err != nil {
			return nil, false, err
		}
		// The due deltas after the mark up to q.At, at the same revision.
		rctx, cancel := s.reqCtx(ctx)
		due, err := s.cli.Get(rctx, s.k(sp+"x/"+periodStr(rollup.Day(mark))), clientv3.WithRange(s.k(sp+"x/"+periodStr(rollup.Day(at)+1))),
			clientv3.WithRev(resp.Header.Revision))
		cancel()
		if err != nil {
			return nil, false, wrap("read the due rollups", err)
		}
		if err := addValues(due.Kvs, func(it rollup.Item) bool { return it.At > mark && it.At <= at }); err != nil {
			return nil, false, err
		}
	}
	for k, t := range out {
		if t.IsZero() {
			delete(out, k)
		}
	}
	return out, true, nil
}
