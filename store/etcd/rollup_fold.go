package etcd

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/jdz-eco/rectify/store/internal/rollup"
	"github.com/jdz-eco/rectify/workflow"
)

// Folding (rollup.go): each Store sums the deltas commands left under
// ro/b/ into the views of their scopes, every foldInterval, whoever wrote
// them (a replica that stopped leaves its deltas to the others). One fold
// takes up to foldBatches delta keys of one scope, reads the scope's mark
// and the views they touch at one revision, and writes the sums, deletes
// the keys and moves the mark in one transaction guarded by the mark's
// revision: two folders of a scope never both commit, and a reader sees a
// delta either in its key or in the views, never both, never neither.

const (
	foldInterval = 500 * time.Millisecond
	foldBatches  = 64
	// foldLag keeps the mark this far behind the latest write folded, so
	// that a replica whose clock is a little behind still reads the live
	// tallies at its now (Tallies refuses an instant before the mark).
	foldLag = time.Minute
)

// folder runs the folds of one Store.
type folder struct {
	s    *Store
	stop func()
	done chan struct{}

	mu     sync.Mutex
	folded int // delta keys folded, for tests
}

func (s *Store) startFolder() *folder {
	ctx, cancel := context.WithCancel(s.bg)
	f := &folder{s: s, done: make(chan struct{})}
	f.stop = func() { cancel(); <-f.done }
	go func() {
		defer close(f.done)
		t := time.NewTicker(foldInterval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				_, _ = s.FoldRollups(ctx) // a failed fold is tried again next tick
			}
		}
	}()
	return f
}

// FoldRollups folds every scope's deltas now (what the folder does every
// foldInterval) and returns how many delta keys it folded. A scope another
// replica is folding at the same time is left to it.
func (s *Store) FoldRollups(ctx context.Context) (int, error) {
	rctx, cancel := s.reqCtx(ctx)
	resp, err := s.cli.Get(rctx, s.k("ro/b/"), clientv3.WithPrefix(), clientv3.WithKeysOnly(), clientv3.WithLimit(10000))
	cancel()
	if err != nil {
		return 0, wrap("list the rollup deltas", err)
	}
	var segs []string
	for _, kv := range resp.Kvs {
		rel := string(kv.Key[len(s.k("ro/b/")):])
		seg, _, ok := strings.Cut(rel, "/")
		if ok && (len(segs) == 0 || segs[len(segs)-1] != seg) {
			segs = append(segs, seg)
		}
	}
	total := 0
	for _, seg := range segs {
		scope := ""
		if seg != "-" {
			if scope, err = unesc(seg); err != nil {
				return total, err
			}
		}
		for {
			n, more, err := s.foldScope(ctx, scope, foldBatches)
			total += n
			if err != nil {
				return total, err
			}
			if !more || n == 0 {
				break
			}
		}
	}
	if s.folder != nil {
		s.folder.mu.Lock()
		s.folder.folded += total
		s.folder.mu.Unlock()
	}
	return total, nil
}

// foldScope folds up to limit delta keys of scope: how many it folded (0
// when another folder won, or when the tallies were never counted), and
// whether more are waiting.
func (s *Store) foldScope(ctx context.Context, scope string, limit int) (int, bool, error) {
	sp, bp := scopePrefix(scope), batchPrefix(scope)
	rctx, cancel := s.reqCtx(ctx)
	resp, err := s.cli.Txn(rctx).Then(
		clientv3.OpGet(s.k(keyRollupPolicy)),
		clientv3.OpGet(s.k(sp+"m")),
		clientv3.OpGet(s.k(bp), clientv3.WithPrefix(), clientv3.WithLimit(int64(limit))),
		clientv3.OpGet(s.k(keyHead)),
	).Commit()
	cancel()
	if err != nil {
		return 0, false, wrap("read the rollup deltas", err)
	}
	if _, ok := decodePolicy(first(resp.Responses[0])); !ok {
		return 0, false, nil // not counted yet (CountRollups)
	}
	markKV := first(resp.Responses[1])
	mark, err := decodeMark(markKV)
	if err != nil {
		return 0, false, err
	}
	batches := resp.Responses[2].GetResponseRange()
	kvs := foldable(batches.Kvs, first(resp.Responses[3]))
	if len(kvs) == 0 {
		return 0, false, nil
	}
	var ch rollup.Changes
	for _, kv := range kvs {
		last, items, err := decodeBatch(kv.Value)
		if err != nil {
			return 0, false, fmt.Errorf("etcd: rollup %s: %w", kv.Key, err)
		}
		ch.AddItems(last, items)
	}
	next := max(mark, ch.Last()-int64(foldLag))
	entries := ch.Route(next)

	// The views the fold changes, read at the same revision: every
	// grouping's live tallies, the due deltas up to the new mark's day, and
	// the days and months the deltas fall on.
	rev := resp.Header.Revision
	keys := map[string]bool{}
	for _, e := range entries {
		keys[viewKey(sp, e)] = true
	}
	for _, g := range workflow.GroupBys {
		keys[sp+"l/"+esc(g)] = true
	}
	ops := []clientv3.Op{clientv3.OpGet(s.k(sp+"x/"), clientv3.WithRange(s.k(sp+"x/"+periodStr(rollup.Day(next)+1))), clientv3.WithRev(rev))}
	for k := range keys {
		if !strings.HasPrefix(k, sp+"x/") {
			ops = append(ops, clientv3.OpGet(s.k(k), clientv3.WithRev(rev)))
		}
	}
	views := map[string]*rollup.Changes{}
	read := func(kvs []*kvPair) error {
		for _, kv := range kvs {
			items, err := rollup.DecodeItems(kv.Value)
			if err != nil {
				return fmt.Errorf("etcd: rollup %s: %w", kv.Key, err)
			}
			c := &rollup.Changes{}
			c.AddItems(0, items)
			views[string(kv.Key[len(s.pfx):])] = c
		}
		return nil
	}
	for len(ops) > 0 {
		chunk := ops[:min(len(ops), s.cfg.MaxTxnOps)]
		ops = ops[len(chunk):]
		rctx, cancel := s.reqCtx(ctx)
		vr, err := s.cli.Txn(rctx).Then(chunk...).Commit()
		cancel()
		if err != nil {
			return 0, false, wrap("read the rollup views", err)
		}
		for _, r := range vr.Responses {
			if err := read(r.GetResponseRange().Kvs); err != nil {
				return 0, false, err
			}
		}
	}
	view := func(k string) *rollup.Changes {
		c := views[k]
		if c == nil {
			c = &rollup.Changes{}
			views[k] = c
		}
		return c
	}
	changed := map[string]bool{}
	// Due deltas the mark passes move to the live tallies.
	for k, c := range views {
		if !strings.HasPrefix(k, sp+"x/") {
			continue
		}
		rest := &rollup.Changes{}
		for _, it := range c.Items() {
			if it.At <= next {
				view(sp+"l/"+esc(it.Key.Grouping)).AddItems(0, []rollup.Item{{Key: it.Key, Tally: it.Tally}})
				changed[sp+"l/"+esc(it.Key.Grouping)] = true
			} else {
				rest.AddItems(0, []rollup.Item{it})
			}
		}
		if len(rest.Items()) != len(c.Items()) {
			views[k], changed[k] = rest, true
		}
	}
	for _, e := range entries {
		k := viewKey(sp, e)
		it := rollup.Item{Key: e.Key, Tally: e.Tally}
		if e.View == rollup.Due {
			it.At = e.At
		}
		if e.View == rollup.Due && views[k] == nil {
			// A day of due deltas not read (after the mark's day): read
			// it now, pinned to the same revision.
			rctx, cancel := s.reqCtx(ctx)
			r, err := s.cli.Get(rctx, s.k(k), clientv3.WithRev(rev))
			cancel()
			if err != nil {
				return 0, false, wrap("read the due rollups", err)
			}
			if err := read(r.Kvs); err != nil {
				return 0, false, err
			}
		}
		view(k).AddItems(0, []rollup.Item{it})
		changed[k] = true
	}

	cmp := clientv3.Compare(clientv3.ModRevision(s.k(sp+"m")), "=", 0)
	if markKV != nil {
		cmp = clientv3.Compare(clientv3.ModRevision(s.k(sp+"m")), "=", markKV.ModRevision)
	}
	txOps := []clientv3.Op{clientv3.OpPut(s.k(sp+"m"), strconv.FormatInt(next, 10))}
	for k := range changed {
		items := views[k].Items()
		if len(items) == 0 {
			txOps = append(txOps, clientv3.OpDelete(s.k(k)))
		} else {
			txOps = append(txOps, clientv3.OpPut(s.k(k), string(rollup.AppendItems(nil, items))))
		}
	}
	for _, kv := range kvs {
		txOps = append(txOps, clientv3.OpDelete(string(kv.Key)))
	}
	if len(txOps) > s.cfg.MaxTxnOps {
		if limit == 1 {
			return 0, false, fmt.Errorf("etcd: folding one rollup delta of scope %q needs %d operations, more than %d", scope, len(txOps), s.cfg.MaxTxnOps)
		}
		return s.foldScope(ctx, scope, limit/2)
	}
	rctx, cancel = s.reqCtx(ctx)
	out, err := s.cli.Txn(rctx).If(cmp).Then(txOps...).Commit()
	cancel()
	if err != nil {
		return 0, false, wrap("fold the rollups", err)
	}
	if !out.Succeeded {
		return 0, false, nil
	}
	return len(kvs), batches.More, nil
}

// foldable leaves out of kvs (delta keys, read at one revision with head,
// the chain head) those of a batch that still holds the chain: while it is
// published they may be put again (batch.go), so they are folded once it
// is done. The hold is released only once every key of the batch is
// written, so a read that sees a batch's keys and no hold sees them all.
func foldable(kvs []*kvPair, head *kvPair) []*kvPair {
	if head == nil {
		return kvs
	}
	var hh heldHead
	if json.Unmarshal(head.Value, &hh) != nil || hh.Batch == nil {
		return kvs
	}
	held := "/" + "batch-" + hh.Batch.ID + "-"
	out := kvs[:0:0]
	for _, kv := range kvs {
		if !strings.Contains(string(kv.Key), held) {
			out = append(out, kv)
		}
	}
	return out
}

// viewKey is the key (relative) of the view an entry goes to.
func viewKey(sp string, e rollup.Entry) string {
	switch e.View {
	case rollup.Live:
		return sp + "l/" + esc(e.Key.Grouping)
	case rollup.Due:
		return sp + "x/" + periodStr(rollup.Day(e.At))
	case rollup.Days:
		return sp + "d/" + periodStr(e.Period)
	}
	return sp + "n/" + periodStr(e.Period)
}
