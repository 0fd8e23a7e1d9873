package etcd

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/jdz-eco/rectify/store/internal/index"
	"github.com/jdz-eco/rectify/workflow"
)

// Problem returns problem id; an id rectify did not issue is not found.
func (s *Store) Problem(ctx context.Context, id string) (*workflow.Problem, error) {
	n, ok := workflow.ParseProblemID(id)
	if !ok {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		return nil, notFound(id)
	}
	kv, err := s.get(ctx, problemKey(n))
	if err != nil {
		return nil, err
	}
	if kv == nil {
		return nil, notFound(id)
	}
	rec, err := decodeRecord(n, kv)
	if err != nil {
		return nil, err
	}
	return rec.p, nil
}

// Problems returns the problems matching f in creation order, at most f.Limit
// (workflow.DefaultLimit when not positive), after the problem f.Cursor, and
// the cursor of the next page. It walks the index of the one indexed
// filter f names, intersects those of several (filter.go), or walks the
// records when it names none, with range reads limited to what a page
// needs; the records an index names are read in read-only transactions and
// checked against every predicate (f.Match).
func (s *Store) Problems(ctx context.Context, f workflow.ProblemFilter) ([]*workflow.Problem, string, error) {
	if err := ctx.Err(); err != nil {
		return nil, "", err
	}
	limit, after, err := f.Page()
	if err != nil {
		return nil, "", err
	}
	items := []*workflow.Problem{}
	if after == math.MaxUint64 {
		return items, "", nil
	}
	// Read one more than the page to learn whether another follows.
	page := min(max(limit+1, 32), 1000)
	full := func() bool { return len(items) > limit }
	terms, err := s.filterTerms(ctx, &f)
	if err != nil {
		return nil, "", err
	}
	if len(terms) > 0 {
		var ns []uint64
		flush := func() error {
			keys := make([]string, len(ns))
			for i, n := range ns {
				keys[i] = s.k(problemKey(n))
			}
			kvs, err := s.getMany(ctx, keys)
			if err != nil {
				return err
			}
			for i, kv := range kvs {
				if kv == nil {
					return fmt.Errorf("etcd: an index names missing problem %d", ns[i])
				}
				rec, err := decodeRecord(ns[i], kv)
				if err != nil {
					return err
				}
				if f.Match(rec.p) && !full() {
					items = append(items, rec.p)
				}
			}
			ns = ns[:0]
			return nil
		}
		visit := func(n uint64) (bool, error) {
			ns = append(ns, n)
			if len(ns) < page {
				return false, nil
			}
			err := flush()
			return full(), err
		}
		var err error
		if len(terms) > 1 {
			err = s.intersectKeys(ctx, terms, after, visit)
		} else {
			ix := valuePrefix(terms[0].Index, terms[0].Value)
			_, err = s.rangeKeys(ctx, s.k(ix+pad(after+1)), s.prefixEnd(ix), 0, page, true, func(kv *kvPair) (bool, error) {
				n, ok := lastNumber(kv.Key)
				if !ok || len(kv.Key) != len(s.k(ix))+20 {
					return false, fmt.Errorf("etcd: bad index key %q", kv.Key)
				}
				return visit(n)
			})
		}
		if err == nil && len(ns) > 0 {
			err = flush()
		}
		if err != nil {
			return nil, "", err
		}
	} else {
		_, err := s.rangeKeys(ctx, s.k(problemKey(after+1)), s.prefixEnd("p/"), 0, page, false, func(kv *kvPair) (bool, error) {
			n, ok := lastNumber(kv.Key)
			if !ok {
				return false, fmt.Errorf("etcd: bad problem key %q", kv.Key)
			}
			rec, err := decodeRecord(n, kv)
			if err != nil {
				return false, err
			}
			if f.Match(rec.p) {
				items = append(items, rec.p)
			}
			return full(), nil
		})
		if err != nil {
			return nil, "", err
		}
	}
	next := ""
	if len(items) > limit {
		items = items[:limit]
		next = items[limit-1].ID
	}
	return items, next, nil
}

// History returns problem id's entries in order, sealed: if some were still
// pending when it read, it seals them first (sealThrough) and reads again.
func (s *Store) History(ctx context.Context, id string) ([]workflow.Entry, error) {
	entries, pending, rev, err := s.history(ctx, id, 0)
	if err != nil || len(pending) == 0 {
		return entries, err
	}
	if err := s.sealThrough(ctx, rev); err != nil {
		return nil, err
	}
	// Entries committed since the first read are as new as this call:
	// those still pending are left out.
	entries, _, _, err = s.history(ctx, id, 0)
	return entries, err
}

// history reads problem id's sealed entries and its pending ones (unsealed,
// in version order) at revision rev (0: now), and returns the revision read.
// Entries are never rewritten, so only the index keys need the revision.
func (s *Store) history(ctx context.Context, id string, rev int64) (sealed, pending []workflow.Entry, at int64, err error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, 0, err
	}
	n, ok := workflow.ParseProblemID(id)
	if !ok {
		return nil, nil, 0, notFound(id)
	}
	pfx := s.k(problemHistPrefix(n))
	pend := s.k(pendingPrefix(n))
	opts := []clientv3.OpOption{}
	if rev != 0 {
		opts = append(opts, clientv3.WithRev(rev))
	}
	var keys [][]byte
	var pkvs []*kvPair
	if rev == 0 {
		// One read transaction: the record, the index of its sealed entries
		// and its pending ones, all at one revision.
		rctx, cancel := s.reqCtx(ctx)
		resp, err := s.cli.Txn(rctx).Then(
			clientv3.OpGet(s.k(problemKey(n)), clientv3.WithCountOnly()),
			clientv3.OpGet(pfx, clientv3.WithPrefix(), clientv3.WithKeysOnly()),
			clientv3.OpGet(pend, clientv3.WithPrefix()),
		).Commit()
		cancel()
		if err != nil {
			return nil, nil, 0, wrap("read the history of problem "+id, err)
		}
		if resp.Responses[0].GetResponseRange().Count == 0 {
			return nil, nil, 0, notFound(id)
		}
		for _, kv := range resp.Responses[1].GetResponseRange().Kvs {
			keys = append(keys, kv.Key)
		}
		pkvs = resp.Responses[2].GetResponseRange().Kvs
		at = resp.Header.Revision
	} else {
		_, err := s.rangeKeys(ctx, pfx, clientv3.GetPrefixRangeEnd(pfx), rev, 1000, true, func(kv *kvPair) (bool, error) {
			keys = append(keys, kv.Key)
			return false, nil
		})
		if err != nil {
			return nil, nil, 0, err
		}
		_, err = s.rangeKeys(ctx, pend, clientv3.GetPrefixRangeEnd(pend), rev, 100, false, func(kv *kvPair) (bool, error) {
			pkvs = append(pkvs, kv)
			return false, nil
		})
		if err != nil {
			return nil, nil, 0, err
		}
		at = rev
	}
	hkeys := make([]string, len(keys))
	seqs := make([]uint64, len(keys))
	for i, k := range keys {
		seq, ok := lastNumber(k)
		if !ok {
			return nil, nil, 0, fmt.Errorf("etcd: bad history index key %q", k)
		}
		seqs[i], hkeys[i] = seq, s.k(historyKey(seq))
	}
	kvs, err := s.getMany(ctx, hkeys)
	if err != nil {
		return nil, nil, 0, err
	}
	sealed = make([]workflow.Entry, 0, len(kvs))
	for i, kv := range kvs {
		if kv == nil {
			return nil, nil, 0, fmt.Errorf("etcd: history entry %d of problem %s is missing", seqs[i], id)
		}
		var e workflow.Entry
		if err := json.Unmarshal(kv.Value, &e); err != nil {
			return nil, nil, 0, fmt.Errorf("etcd: decode history entry %d: %w", seqs[i], err)
		}
		sealed = append(sealed, e)
	}
	for _, kv := range pkvs {
		c, err := s.decodePending(kv)
		if err != nil {
			return nil, nil, 0, err
		}
		pending = append(pending, c.entries...)
	}
	return sealed, pending, at, nil
}

// DefaultDueLimit is how many problems Due returns when its limit is not
// positive.
const DefaultDueLimit = 1000

// Due returns the IDs of the problems whose Supervision.WakeAt is due at t,
// earliest first (ties in creation order), at most limit (DefaultDueLimit
// when not positive): one range read of the wake index up to t's second.
func (s *Store) Due(ctx context.Context, t time.Time, limit int) ([]string, error) {
	return s.timeIndex(ctx, index.Wake, t, limit)
}

// DueBy returns the IDs of the problems whose deadline is at or before t,
// earliest first, at most limit (DefaultDueLimit when not positive).
func (s *Store) DueBy(ctx context.Context, t time.Time, limit int) ([]string, error) {
	return s.timeIndex(ctx, index.Deadline, t, limit)
}

func (s *Store) timeIndex(ctx context.Context, name index.Name, t time.Time, limit int) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if limit <= 0 {
		limit = DefaultDueLimit
	}
	ids := []string{}
	until, ok := index.DueUntil(t)
	if !ok {
		return ids, nil
	}
	from := s.k("ix/" + string(name) + "/")
	end := s.k(timePrefix(name, until+1))
	rctx, cancel := s.reqCtx(ctx)
	defer cancel()
	resp, err := s.cli.Get(rctx, from, clientv3.WithRange(end), clientv3.WithLimit(int64(limit)), clientv3.WithKeysOnly())
	if err != nil {
		return nil, wrap("read the "+string(name)+" index", err)
	}
	for _, kv := range resp.Kvs {
		n, ok := lastNumber(kv.Key)
		if !ok {
			return nil, fmt.Errorf("etcd: bad %s index key %q", string(name), kv.Key)
		}
		ids = append(ids, workflow.ProblemID(n))
	}
	return ids, nil
}
