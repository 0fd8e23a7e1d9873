package etcd

import (
	"context"
	"encoding/json"
	"fmt"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/jdz-eco/rectify/workflow"
)

// NewestEntries implements workflow.NewestEntries. One transaction per
// MaxTxnOps/2 problems reads, at one revision, each problem's history index
// (keys only) and its pending entries (pe/, not sealed yet, the newest);
// then rounds of batched gets read the problems still without a match one
// entry each, newest first, until a match or the oldest. A page of
// problems costs a few round trips, not one per problem, and most entries
// passed over are never read.
func (s *Store) NewestEntries(ctx context.Context, action string, probs []*workflow.Problem) ([]*workflow.Entry, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out := make([]*workflow.Entry, len(probs))
	type walk struct {
		i    int      // of probs
		seqs []uint64 // entries not looked at yet, oldest first
	}
	var left []walk
	var rev int64
	per := max(1, s.cfg.MaxTxnOps/2)
	for start := 0; start < len(probs); start += per {
		chunk := probs[start:min(len(probs), start+per)]
		keyOpts := []clientv3.OpOption{clientv3.WithPrefix(), clientv3.WithKeysOnly()}
		pendOpts := []clientv3.OpOption{clientv3.WithPrefix()}
		if rev != 0 {
			keyOpts = append(keyOpts, clientv3.WithRev(rev))
			pendOpts = append(pendOpts, clientv3.WithRev(rev))
		}
		ops := make([]clientv3.Op, 0, 2*len(chunk))
		for _, p := range chunk {
			n, ok := workflow.ParseProblemID(p.ID)
			if !ok {
				return nil, notFound(p.ID)
			}
			ops = append(ops, clientv3.OpGet(s.k(problemHistPrefix(n)), keyOpts...), clientv3.OpGet(s.k(pendingPrefix(n)), pendOpts...))
		}
		rctx, cancel := s.reqCtx(ctx)
		resp, err := s.cli.Txn(rctx).Then(ops...).Commit()
		cancel()
		if err != nil {
			return nil, wrap("read the histories' index", err)
		}
		if rev == 0 {
			rev = resp.Header.Revision
		}
		for j, p := range chunk {
			i := start + j
			pending := resp.Responses[2*j+1].GetResponseRange().Kvs // in version order
			for k := len(pending) - 1; k >= 0 && out[i] == nil; k-- {
				c, err := s.decodePending(pending[k])
				if err != nil {
					return nil, err
				}
				out[i] = newestOf(c.entries, action, p.Version)
			}
			if out[i] != nil {
				continue
			}
			keys := resp.Responses[2*j].GetResponseRange().Kvs
			w := walk{i: i, seqs: make([]uint64, len(keys))}
			for m, kv := range keys {
				seq, ok := lastNumber(kv.Key)
				if !ok {
					return nil, fmt.Errorf("etcd: bad history index key %q", kv.Key)
				}
				w.seqs[m] = seq
			}
			if len(w.seqs) > 0 {
				left = append(left, w)
			}
		}
	}
	for len(left) > 0 {
		keys := make([]string, len(left))
		for j, w := range left {
			keys[j] = s.k(historyKey(w.seqs[len(w.seqs)-1]))
		}
		kvs, err := s.getMany(ctx, keys)
		if err != nil {
			return nil, err
		}
		next := left[:0]
		for j, w := range left {
			seq := w.seqs[len(w.seqs)-1]
			if kvs[j] == nil {
				return nil, fmt.Errorf("etcd: history entry %d of problem %s is missing", seq, probs[w.i].ID)
			}
			var e workflow.Entry
			if err := json.Unmarshal(kvs[j].Value, &e); err != nil {
				return nil, fmt.Errorf("etcd: decode history entry %d: %w", seq, err)
			}
			if e.Action == action && e.Version <= probs[w.i].Version {
				out[w.i] = &e
				continue
			}
			if w.seqs = w.seqs[:len(w.seqs)-1]; len(w.seqs) > 0 {
				next = append(next, w)
			}
		}
		left = next
	}
	return out, nil
}

// newestOf is the newest of entries (in order) with action and a version at
// most version (a copy), or nil.
func newestOf(entries []workflow.Entry, action string, version uint64) *workflow.Entry {
	for i := len(entries) - 1; i >= 0; i-- {
		if entries[i].Action == action && entries[i].Version <= version {
			e := entries[i]
			return &e
		}
	}
	return nil
}
