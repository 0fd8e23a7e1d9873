package etcd

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/jdz-eco/rectify/store/internal/index"
	"github.com/jdz-eco/rectify/store/internal/rollup"
	"github.com/jdz-eco/rectify/workflow"
)

// loadRollupPolicy learns the policy writes count levels under: the one the
// prefix's tallies follow, or (none yet) Config.Policy, which a new
// ledger's first create records (rollupPolicyOp). Replicas of one ledger
// must run with the same policy.
func (s *Store) loadRollupPolicy(ctx context.Context) error {
	pol := workflow.DefaultPolicy()
	if s.cfg.Policy != nil {
		pol = *s.cfg.Policy
	}
	kv, err := s.get(ctx, keyRollupPolicy)
	if err != nil {
		return err
	}
	if stored, ok := decodePolicy(kv); ok {
		pol = stored
	}
	s.rollPol.Store(&pol)
	return nil
}

// rollupPolicy is the policy writes count levels under.
func (s *Store) rollupPolicy() workflow.Policy { return *s.rollPol.Load() }

// rollupPolicyOp records pol as the policy of the tallies.
func (s *Store) rollupPolicyOp(pol workflow.Policy) clientv3.Op {
	v, _ := json.Marshal(pol)
	return clientv3.OpPut(s.k(keyRollupPolicy), string(v))
}

// AuditRollups counts the tallies afresh from the histories at the current
// revision and compares (workflow.RollupAuditor; see Snapshot.AuditRollups).
func (s *Store) AuditRollups(ctx context.Context) error {
	sn, err := s.Snapshot(ctx)
	if err != nil {
		return err
	}
	return sn.AuditRollups(ctx)
}

// AuditRollups counts the tallies afresh from every history at the
// snapshot's revision and compares them, and every problem's facts, with
// what the prefix keeps: its views plus the deltas not yet folded. A
// prefix whose tallies were never counted (no ro/policy) has nothing to
// compare: the statistics do not read them.
func (sn *Snapshot) AuditRollups(ctx context.Context) error {
	s := sn.s
	rctx, cancel := s.reqCtx(ctx)
	resp, err := s.cli.Get(rctx, s.k(keyRollupPolicy), clientv3.WithRev(sn.rev))
	cancel()
	if err != nil {
		return wrap("read the rollup policy", err)
	}
	var kv *kvPair
	if len(resp.Kvs) > 0 {
		kv = resp.Kvs[0]
	}
	pol, counted := decodePolicy(kv)
	if !counted {
		return nil
	}
	got, marks, err := s.dumpRollups(ctx, sn.rev)
	if err != nil {
		return err
	}
	want, err := rollup.Recount(ctx, s.eachHistoryAt(ctx, sn.rev), pol, marks, nil)
	if err != nil {
		return err
	}
	if err := s.checkFacts(ctx, sn.rev); err != nil {
		return err
	}
	if err := rollup.Diff(want, got); err != nil {
		return &workflow.AuditError{Reason: "rollups: " + err.Error()}
	}
	return nil
}

// checkFacts compares every record's rollup facts with its history's.
func (s *Store) checkFacts(ctx context.Context, rev int64) error {
	return s.eachRecordAt(ctx, rev, func(n uint64, p *workflow.Problem, f workflow.RollupFacts) error {
		hist, err := s.historyAt(ctx, p.ID, rev)
		if err != nil {
			return err
		}
		want, err := workflow.RollupFactsOf(hist)
		if err != nil {
			return &workflow.AuditError{ProblemID: p.ID, Reason: "history does not replay: " + err.Error()}
		}
		if want != f {
			return &workflow.AuditError{ProblemID: p.ID, Reason: fmt.Sprintf("its rollup facts %+v differ from its history's %+v", f, want)}
		}
		return nil
	})
}

// eachRecordAt calls fn with every record and its facts at revision rev.
func (s *Store) eachRecordAt(ctx context.Context, rev int64, fn func(n uint64, p *workflow.Problem, f workflow.RollupFacts) error) error {
	var fnErr error
	_, err := s.rangeKeys(ctx, s.k("p/"), s.prefixEnd("p/"), rev, 500, false, func(kv *kvPair) (bool, error) {
		n, ok := lastNumber(kv.Key)
		if !ok {
			return false, fmt.Errorf("etcd: bad problem key %q", kv.Key)
		}
		p, f, err := decodeStored(n, kv.Value)
		if err != nil {
			return false, err
		}
		fnErr = fn(n, p, f)
		return fnErr != nil, nil
	})
	if fnErr != nil {
		return fnErr
	}
	return err
}

// historyAt is problem id's whole history at revision rev: its sealed
// entries, then those committed but not sealed yet, which its record
// already holds.
func (s *Store) historyAt(ctx context.Context, id string, rev int64) ([]workflow.Entry, error) {
	sealed, pending, _, err := s.history(ctx, id, rev)
	return append(sealed, pending...), err
}

// eachHistoryAt is what rollup.Recount walks: every problem's number and
// history at revision rev.
func (s *Store) eachHistoryAt(ctx context.Context, rev int64) func(fn func(n uint64, hist []workflow.Entry) error) error {
	return func(fn func(n uint64, hist []workflow.Entry) error) error {
		return s.eachRecordAt(ctx, rev, func(n uint64, p *workflow.Problem, _ workflow.RollupFacts) error {
			hist, err := s.historyAt(ctx, p.ID, rev)
			if err != nil {
				return err
			}
			return fn(n, hist)
		})
	}
}

// dumpRollups reads every tally the prefix keeps at revision rev, the
// deltas not yet folded placed as their scope's mark places them, and the
// marks.
func (s *Store) dumpRollups(ctx context.Context, rev int64) (*rollup.Content, rollup.Marks, error) {
	c := rollup.NewContent()
	marks := map[string]int64{}
	type view struct {
		scope, rest string
		value       []byte
	}
	var views []view
	_, err := s.rangeKeys(ctx, s.k("ro/s/"), s.prefixEnd("ro/s/"), rev, 500, false, func(kv *kvPair) (bool, error) {
		rel := string(kv.Key[len(s.k("ro/s/")):])
		seg, rest, ok := strings.Cut(rel, "/")
		scope, err := segScope(seg)
		if !ok || err != nil {
			return false, fmt.Errorf("etcd: bad rollup key %q", kv.Key)
		}
		if rest == "m" {
			m, err := decodeMark(kv)
			if err != nil {
				return false, err
			}
			marks[scope] = m
			return false, nil
		}
		views = append(views, view{scope, rest, kv.Value})
		return false, nil
	})
	if err != nil {
		return nil, nil, err
	}
	for _, v := range views {
		items, err := rollup.DecodeItems(v.value)
		if err != nil {
			return nil, nil, fmt.Errorf("etcd: rollup %s: %w", v.rest, err)
		}
		kind, period, _ := strings.Cut(v.rest, "/")
		var p int32
		if kind == "d" || kind == "n" {
			u, err := strconv.ParseUint(period, 10, 32)
			if err != nil {
				return nil, nil, fmt.Errorf("etcd: bad rollup period %q", v.rest)
			}
			p = int32(uint32(u) ^ 1<<31)
		}
		for _, it := range items {
			e := rollup.Entry{Key: it.Key}
			switch kind {
			case "l":
				e.View = rollup.Live
			case "x":
				e.View, e.At = rollup.Due, it.At
			case "d":
				e.View, e.Period = rollup.Days, p
			case "n":
				e.View, e.Period = rollup.Months, p
			default:
				return nil, nil, fmt.Errorf("etcd: bad rollup key %q", v.rest)
			}
			c.Add(e, it.Tally)
		}
	}
	markOf := func(scope string) int64 { return marks[scope] }
	_, err = s.rangeKeys(ctx, s.k("ro/b/"), s.prefixEnd("ro/b/"), rev, 200, false, func(kv *kvPair) (bool, error) {
		_, items, err := decodeBatch(kv.Value)
		if err != nil {
			return false, fmt.Errorf("etcd: rollup %s: %w", kv.Key, err)
		}
		for _, it := range items {
			c.AddDeltas([]workflow.TallyDelta{{At: timeNs(it.At), Key: it.Key, Tally: *it.Tally}}, markOf)
		}
		return false, nil
	})
	return c, markOf, err
}

func timeNs(ns int64) time.Time { return time.Unix(0, ns).UTC() }

func segScope(seg string) (string, error) {
	if seg == "-" {
		return "", nil
	}
	return unesc(seg)
}

// CountRollups counts the tallies afresh from every history under pol and
// replaces whatever the prefix kept: for a ledger written before rollups,
// or to follow another policy. It rewrites every record (their facts) and
// adds the source and work point index keys an older ledger lacks, so it
// must run while no replica writes: a record written meanwhile fails it.
func (s *Store) CountRollups(ctx context.Context, pol workflow.Policy) error {
	if _, _, err := s.write(ctx, nil, []clientv3.Op{clientv3.OpDelete(s.k(keyRollupPolicy))}, nil); err != nil {
		return err
	}
	sn, err := s.Snapshot(ctx)
	if err != nil {
		return err
	}
	head, err := sn.Head(ctx)
	if err != nil {
		return err
	}
	var mark int64
	if head.Seq > 0 {
		mark = head.At.UnixNano()
	}
	var ops []clientv3.Op
	flush := func(cmps ...clientv3.Cmp) error {
		if len(ops) == 0 {
			return nil
		}
		ok, _, err := s.write(ctx, cmps, ops, nil)
		if err == nil && !ok {
			err = fmt.Errorf("etcd: a record changed while the rollups were counted: stop every replica and count again")
		}
		ops = ops[:0]
		return err
	}
	// The old views and deltas go first.
	for _, p := range []string{"ro/s/", "ro/b/"} {
		ops = append(ops, clientv3.OpDelete(s.k(p), clientv3.WithPrefix()))
	}
	if err := flush(); err != nil {
		return err
	}
	var cmps []clientv3.Cmp
	c, err := rollup.Recount(ctx, func(fn func(n uint64, hist []workflow.Entry) error) error {
		return s.eachRecordAt(ctx, sn.rev, func(n uint64, p *workflow.Problem, _ workflow.RollupFacts) error {
			hist, err := s.historyAt(ctx, p.ID, sn.rev)
			if err != nil {
				return err
			}
			f, err := workflow.RollupFactsOf(hist)
			if err != nil {
				return fmt.Errorf("problem %s: %w", p.ID, err)
			}
			// The record with its facts, if it did not change since.
			key := s.k(problemKey(n))
			rctx, cancel := s.reqCtx(ctx)
			cur, err := s.cli.Get(rctx, key, clientv3.WithRev(sn.rev))
			cancel()
			if err != nil || len(cur.Kvs) == 0 {
				return fmt.Errorf("etcd: read problem %d: %v", n, err)
			}
			cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(key), "=", cur.Kvs[0].ModRevision))
			ops = append(ops, clientv3.OpPut(key, string(encodeRecord(p, f))))
			// The source and work point index keys, which older
			// ledgers lack (filter.go).
			for _, t := range index.Terms(p) {
				if t.Index == index.Source || t.Index == index.Work {
					ops = append(ops, clientv3.OpPut(s.k(termKey(t, n)), ""))
				}
			}
			if len(ops) >= s.cfg.MaxTxnOps/2 {
				if err := flush(cmps...); err != nil {
					return err
				}
				cmps = cmps[:0]
			}
			return fn(n, hist)
		})
	}, pol, func(string) int64 { return mark }, nil)
	if err != nil {
		return err
	}
	if err := flush(cmps...); err != nil {
		return err
	}
	if err := s.putContent(ctx, c, mark); err != nil {
		return err
	}
	s.rollPol.Store(&pol)
	_, _, err = s.write(ctx, nil, []clientv3.Op{s.rollupPolicyOp(pol), clientv3.OpPut(s.k(keyFilters), "1")}, nil)
	return err
}

// putContent writes counted views, and every scope's mark.
func (s *Store) putContent(ctx context.Context, c *rollup.Content, mark int64) error {
	keys, scopes := viewsOf(c)
	var ops []clientv3.Op
	flush := func() error {
		if len(ops) == 0 {
			return nil
		}
		_, _, err := s.write(ctx, nil, ops, nil)
		ops = ops[:0]
		return err
	}
	add := func(op clientv3.Op) error {
		ops = append(ops, op)
		if len(ops) >= s.cfg.MaxTxnOps-1 {
			return flush()
		}
		return nil
	}
	for k, items := range keys {
		if err := add(clientv3.OpPut(s.k(k), string(rollup.AppendItems(nil, items)))); err != nil {
			return err
		}
	}
	for sc := range scopes {
		if err := add(clientv3.OpPut(s.k(scopePrefix(sc)+"m"), strconv.FormatInt(mark, 10))); err != nil {
			return err
		}
	}
	return flush()
}

// viewsOf groups counted content by the keys of its views, and lists its
// scopes.
func viewsOf(c *rollup.Content) (map[string][]rollup.Item, map[string]bool) {
	keys := map[string][]rollup.Item{}
	scopes := map[string]bool{}
	for _, e := range c.Entries() {
		k := viewKey(scopePrefix(e.Key.Scope), e)
		it := rollup.Item{Key: e.Key, Tally: e.Tally}
		if e.View == rollup.Due {
			it.At = e.At
		}
		keys[k] = append(keys[k], it)
		scopes[e.Key.Scope] = true
	}
	return keys, scopes
}
