package etcd

import (
	"context"
	"fmt"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/jdz-eco/rectify/store/internal/index"
	"github.com/jdz-eco/rectify/workflow"
)

// Filters (docs/design.md#indexes): a combination of indexed filters is a
// leapfrog over their keys (ix/<index>/<value>/<n>, in problem order):
// each term keeps a window of its next keys, read keys only; the largest
// head is the next candidate, and a term whose window falls short reads
// again from the candidate on. The reads are pinned to one revision. Its
// cost follows the jumps between the terms' keys, not the ledger.
//
// The source and work point indexes came after the first ledgers: a
// prefix holds them complete once meta/filters is there (every ledger
// created since, every migration; CountRollups adds them to an older one).
// Without it those two filters are checked on the records only.

const (
	keyFilters   = "meta/filters"
	filterWindow = 256
)

// filterTerms returns the indexed terms of f this prefix can walk.
func (s *Store) filterTerms(ctx context.Context, f *workflow.ProblemFilter) ([]index.Term, error) {
	terms := index.Filter(f)
	if !s.filtersIndexed.Load() {
		kv, err := s.get(ctx, keyFilters)
		if err != nil {
			return nil, err
		}
		if kv == nil {
			out := terms[:0:0]
			for _, t := range terms {
				if t.Index != index.Source && t.Index != index.Work {
					out = append(out, t)
				}
			}
			return out, nil
		}
		s.filtersIndexed.Store(true)
	}
	return terms, nil
}

// termWindow is one term's keys being walked.
type termWindow struct {
	prefix string // absolute
	ns     []uint64
	pos    int
	more   bool // keys after the window may exist
}

// intersectKeys calls fn with every problem number after after held by
// every term, ascending, until fn returns stop.
func (s *Store) intersectKeys(ctx context.Context, terms []index.Term, after uint64, fn func(n uint64) (bool, error)) error {
	ws := make([]*termWindow, len(terms))
	for i, t := range terms {
		ws[i] = &termWindow{prefix: s.k(valuePrefix(t.Index, t.Value)), more: true}
	}
	var rev int64
	fill := func(w *termWindow, from uint64) error {
		opts := []clientv3.OpOption{clientv3.WithRange(clientv3.GetPrefixRangeEnd(w.prefix)), clientv3.WithLimit(filterWindow), clientv3.WithKeysOnly()}
		if rev != 0 {
			opts = append(opts, clientv3.WithRev(rev))
		}
		rctx, cancel := s.reqCtx(ctx)
		resp, err := s.cli.Get(rctx, w.prefix+pad(from), opts...)
		cancel()
		if err != nil {
			return wrap("read an index", err)
		}
		if rev == 0 {
			rev = resp.Header.Revision
		}
		w.ns, w.pos, w.more = w.ns[:0], 0, resp.More
		for _, kv := range resp.Kvs {
			n, ok := lastNumber(kv.Key)
			if !ok || len(kv.Key) != len(w.prefix)+20 {
				return fmt.Errorf("etcd: bad index key %q", kv.Key)
			}
			w.ns = append(w.ns, n)
		}
		return nil
	}
	cand := after + 1
	for cand != 0 {
		top := cand
		for _, w := range ws {
			for w.pos < len(w.ns) && w.ns[w.pos] < cand {
				w.pos++
			}
			if w.pos == len(w.ns) {
				if !w.more {
					return nil
				}
				if err := fill(w, cand); err != nil {
					return err
				}
				if len(w.ns) == 0 {
					return nil
				}
			}
			top = max(top, w.ns[w.pos])
		}
		if top != cand {
			cand = top
			continue
		}
		if stop, err := fn(cand); err != nil || stop {
			return err
		}
		cand++
	}
	return nil
}
