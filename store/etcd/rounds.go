package etcd

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/jdz-eco/rectify/workflow"
)

// Dispatch rounds (workflow.Rounds) and work points' histories
// (docs/design.md#dispatch-rounds):
//
//	P meta/round-counter              last round number (decimal)
//	P rounds/<n>                      workflow.Round without items
//	P round-items/<n>                 its items, fixed when it opened
//	P round-keys/<key>                round number (decimal) opened with that period key
//	P rr/<n>/<item>/<seq>             empty: the round index (workflow.RoundRef), item escaped
//	P wph/<point>/<seq>               empty: a work point's entries in order
//
// Entries of no problem (a round's opening, a work point's reports and
// alerts) are sealed at once by appendOther, in a Txn guarded by the chain
// head's mod revision as the sealer's are (seal.go), which every chain
// append moves: what it read at the head's revision (the round counter and
// keys, the round index, a point's last version) cannot have changed when
// it commits, and it races the sealer as two sealers race. It seals what
// is pending first, so that the chain keeps the order etcd committed in. The round index
// keys of a problem's entries are written by the sealer with the entries it
// seals (refOps in sealTxn).

const keyRoundCounter = "meta/round-counter"

func roundKey(n uint64) string      { return "rounds/" + pad(n) }
func roundItemsKey(n uint64) string { return "round-items/" + pad(n) }
func roundPeriodKey(key string) string {
	return "round-keys/" + esc(key)
}

// roundRefPrefix is the round index prefix of round n and item ("" for
// every item).
func roundRefPrefix(n uint64, item string) string {
	if item == "" {
		return "rr/" + pad(n) + "/"
	}
	return "rr/" + pad(n) + "/" + esc(item) + "/"
}

func pointHistPrefix(n int) string { return "wph/" + pad(uint64(n)) + "/" }

func roundNotFound(id string) error {
	return workflow.Refuse(workflow.ReasonRoundNotFound, "dispatch round %s not found", id)
}

// refKeys returns the index keys (relative) of entry e, sealed, besides the
// history, outbox and problem history keys: the round index and the work
// point's history.
func refKeys(e *workflow.Entry) ([]string, error) {
	var out []string
	if round, item, ok := workflow.RoundRef(e); ok {
		n, ok := workflow.ParseRoundID(round)
		if !ok {
			return nil, fmt.Errorf("etcd: entry %d names round %q", e.Seq, round)
		}
		out = append(out, roundRefPrefix(n, item)+pad(e.Seq))
	}
	if e.ProblemID == "" && e.WorkPoint > 0 {
		out = append(out, pointHistPrefix(e.WorkPoint)+pad(e.Seq))
	}
	return out, nil
}

// refOps returns the puts of refKeys.
func (s *Store) refOps(e *workflow.Entry) ([]clientv3.Op, error) {
	keys, err := refKeys(e)
	if err != nil {
		return nil, err
	}
	ops := make([]clientv3.Op, len(keys))
	for i, k := range keys {
		ops[i] = clientv3.OpPut(s.k(k), "")
	}
	return ops, nil
}

// otherPlan is what appendOther writes: entries of no problem (of work
// point point, at version) and other puts, or nothing (done).
type otherPlan struct {
	entries []workflow.Entry
	point   int
	version uint64
	ops     []clientv3.Op
	done    bool
}

// appendOther runs plan on what the store holds at one revision and
// appends its entries after the chain head of that revision, with its ops,
// in one Txn that commits only if the head has not moved; otherwise plan
// runs again on the new state. It returns the entries as sealed.
func (s *Store) appendOther(ctx context.Context, plan func(rev int64) (*otherPlan, error)) ([]workflow.Entry, error) {
	for attempt := 0; attempt < maxAttempts; attempt++ {
		if attempt >= 2 {
			if err := sleepCtx(ctx, rand.N(backoff(attempt-2))); err != nil {
				return nil, err
			}
		}
		// What was committed before goes on the chain first, so that the
		// chain keeps etcd's commit order here too.
		if err := s.sealPending(ctx); err != nil {
			return nil, err
		}
		rctx, cancel := s.reqCtx(ctx)
		resp, err := s.cli.Get(rctx, s.k(keyHead))
		cancel()
		if err != nil {
			return nil, wrap("read the chain head", err)
		}
		var kv *kvPair
		if len(resp.Kvs) > 0 {
			kv = resp.Kvs[0]
		}
		hs, err := decodeHead(kv)
		if err != nil {
			return nil, err
		}
		if hs.held {
			// A batch holds the chain (batch.go): wait for it to go.
			if err := s.awaitHold(ctx); err != nil {
				return nil, err
			}
			attempt--
			continue
		}
		p, err := plan(resp.Header.Revision)
		if err != nil || p.done {
			return nil, err
		}
		ops := slices.Clone(p.ops)
		head := hs.head
		sealed := make([]workflow.Entry, len(p.entries))
		for i, e := range p.entries {
			e.Seq, e.ProblemID, e.WorkPoint, e.Version = head.Seq+1, "", p.point, p.version
			prev := head.Hash
			if head.Seq == 0 {
				prev = workflow.GenesisHash
			}
			if err := workflow.SealEntry(&e, prev); err != nil {
				return nil, fmt.Errorf("etcd: %w", err)
			}
			v, err := json.Marshal(e)
			if err != nil {
				return nil, fmt.Errorf("etcd: encode history entry %d: %w", e.Seq, err)
			}
			refs, err := s.refOps(&e)
			if err != nil {
				return nil, err
			}
			ops = append(ops, clientv3.OpPut(s.k(historyKey(e.Seq)), string(v)), clientv3.OpPut(s.k(outboxKey(e.Seq)), ""))
			ops = append(ops, refs...)
			head = workflow.ChainHead{Seq: e.Seq, Hash: e.Hash, At: e.At}
			sealed[i] = e
		}
		if len(sealed) > 0 {
			v, _ := json.Marshal(head)
			ops = append(ops, clientv3.OpPut(s.k(keyHead), string(v)))
		}
		cmps := []clientv3.Cmp{clientv3.Compare(clientv3.ModRevision(s.k(keyHead)), "=", hs.rev)}
		if hs.rev == 0 {
			cmps = []clientv3.Cmp{clientv3.Compare(clientv3.CreateRevision(s.k(keyHead)), "=", 0)}
		}
		ok, _, err := s.write(ctx, cmps, ops, nil)
		if err != nil {
			return nil, err
		}
		if ok {
			return sealed, nil
		}
		s.stats.Conflicts.Add(1)
	}
	return nil, ErrContention
}

// getAt reads key rel at revision rev (0: the latest); nil when absent.
func (s *Store) getAt(ctx context.Context, rel string, rev int64, opts ...clientv3.OpOption) (*clientv3.GetResponse, error) {
	if rev != 0 {
		opts = append(opts, clientv3.WithRev(rev))
	}
	rctx, cancel := s.reqCtx(ctx)
	defer cancel()
	resp, err := s.cli.Get(rctx, s.k(rel), opts...)
	if err != nil {
		return nil, wrap("read "+rel, err)
	}
	return resp, nil
}

// seqsUnder returns the sequence numbers the keys under prefix rel end
// with, at revision rev, in increasing order.
func (s *Store) seqsUnder(ctx context.Context, rel string, rev int64) ([]uint64, error) {
	var seqs []uint64
	_, err := s.rangeKeys(ctx, s.k(rel), s.prefixEnd(rel), rev, 1000, true, func(kv *kvPair) (bool, error) {
		seq, ok := lastNumber(kv.Key)
		if !ok {
			return false, fmt.Errorf("etcd: bad index key %q", kv.Key)
		}
		seqs = append(seqs, seq)
		return false, nil
	})
	if err != nil {
		return nil, err
	}
	slices.Sort(seqs)
	return seqs, nil
}

// entriesOf reads the history entries seqs (they never change once
// written).
func (s *Store) entriesOf(ctx context.Context, seqs []uint64) ([]workflow.Entry, error) {
	keys := make([]string, len(seqs))
	for i, seq := range seqs {
		keys[i] = s.k(historyKey(seq))
	}
	kvs, err := s.getMany(ctx, keys)
	if err != nil {
		return nil, err
	}
	out := make([]workflow.Entry, len(kvs))
	for i, kv := range kvs {
		if kv == nil {
			return nil, fmt.Errorf("etcd: an index names missing history entry %d", seqs[i])
		}
		if err := json.Unmarshal(kv.Value, &out[i]); err != nil {
			return nil, fmt.Errorf("etcd: decode history entry %d: %w", seqs[i], err)
		}
	}
	return out, nil
}

// CreateRound allocates the next round number, calls build with its id and
// writes the round with its round_open entry; a key already used returns
// that round with created false.
func (s *Store) CreateRound(ctx context.Context, key string, build func(id string) (*workflow.Round, error)) (*workflow.Round, bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	var out *workflow.Round
	entries, err := s.appendOther(ctx, func(rev int64) (*otherPlan, error) {
		out = nil
		if key != "" {
			resp, err := s.getAt(ctx, roundPeriodKey(key), rev)
			if err != nil {
				return nil, err
			}
			if len(resp.Kvs) > 0 {
				n, err := strconv.ParseUint(string(resp.Kvs[0].Value), 10, 64)
				if err != nil {
					return nil, fmt.Errorf("etcd: round key %q holds %q", key, resp.Kvs[0].Value)
				}
				out, err = s.round(ctx, n, rev)
				return &otherPlan{done: true}, err
			}
		}
		resp, err := s.getAt(ctx, keyRoundCounter, rev)
		if err != nil {
			return nil, err
		}
		var n uint64 = 1
		if len(resp.Kvs) > 0 {
			last, err := strconv.ParseUint(string(resp.Kvs[0].Value), 10, 64)
			if err != nil {
				return nil, fmt.Errorf("etcd: bad round counter %q", resp.Kvs[0].Value)
			}
			n = last + 1
		}
		r, err := build(workflow.RoundID(n))
		if err != nil {
			return nil, err
		}
		if r == nil || r.ID != workflow.RoundID(n) || r.Key != key {
			return nil, fmt.Errorf("etcd: build returned no round %d with key %q", n, key)
		}
		out = r.Clone()
		ops, err := s.roundOps(out)
		if err != nil {
			return nil, err
		}
		ops = append(ops, clientv3.OpPut(s.k(keyRoundCounter), strconv.FormatUint(n, 10)))
		return &otherPlan{entries: []workflow.Entry{workflow.RoundOpenEntry(out)}, ops: ops}, nil
	})
	if err != nil {
		return nil, false, err
	}
	return out, len(entries) > 0, nil
}

// roundOps returns the puts of round r: header, items and period key.
func (s *Store) roundOps(r *workflow.Round) ([]clientv3.Op, error) {
	n, ok := workflow.ParseRoundID(r.ID)
	if !ok {
		return nil, fmt.Errorf("etcd: round id %q", r.ID)
	}
	h, err := json.Marshal(r.Header())
	if err != nil {
		return nil, err
	}
	items, err := json.Marshal(r.Items)
	if err != nil {
		return nil, err
	}
	ops := []clientv3.Op{clientv3.OpPut(s.k(roundKey(n)), string(h)), clientv3.OpPut(s.k(roundItemsKey(n)), string(items))}
	if r.Key != "" {
		ops = append(ops, clientv3.OpPut(s.k(roundPeriodKey(r.Key)), strconv.FormatUint(n, 10)))
	}
	return ops, nil
}

// round reads round n with its items at revision rev (0: the latest), in
// one read; nil when absent.
func (s *Store) round(ctx context.Context, n uint64, rev int64) (*workflow.Round, error) {
	var opts []clientv3.OpOption
	if rev != 0 {
		opts = append(opts, clientv3.WithRev(rev))
	}
	rctx, cancel := s.reqCtx(ctx)
	defer cancel()
	resp, err := s.cli.Txn(rctx).Then(clientv3.OpGet(s.k(roundKey(n)), opts...), clientv3.OpGet(s.k(roundItemsKey(n)), opts...)).Commit()
	if err != nil {
		return nil, wrap("read round", err)
	}
	h := first(resp.Responses[0])
	if h == nil {
		return nil, nil
	}
	var r workflow.Round
	if err := json.Unmarshal(h.Value, &r); err != nil {
		return nil, fmt.Errorf("etcd: decode round %d: %w", n, err)
	}
	if items := first(resp.Responses[1]); items != nil {
		if err := json.Unmarshal(items.Value, &r.Items); err != nil {
			return nil, fmt.Errorf("etcd: decode the items of round %d: %w", n, err)
		}
	}
	return &r, nil
}

// Round returns round id with its items.
func (s *Store) Round(ctx context.Context, id string) (*workflow.Round, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	n, ok := workflow.ParseRoundID(id)
	if !ok {
		return nil, roundNotFound(id)
	}
	r, err := s.round(ctx, n, 0)
	if err == nil && r == nil {
		err = roundNotFound(id)
	}
	return r, err
}

// Rounds returns every round without its items, in opening order.
func (s *Store) Rounds(ctx context.Context) ([]*workflow.Round, error) {
	out := []*workflow.Round{}
	_, err := s.rangeKeys(ctx, s.k("rounds/"), s.prefixEnd("rounds/"), 0, 500, false, func(kv *kvPair) (bool, error) {
		var r workflow.Round
		if err := json.Unmarshal(kv.Value, &r); err != nil {
			return false, fmt.Errorf("etcd: decode round %q: %w", kv.Key, err)
		}
		out = append(out, &r)
		return false, nil
	})
	return out, err
}

// UpdateRound lets apply change round id's LateRecordedAt (nothing else
// changes after a round opens) and writes it, guarded by the header's
// revision.
func (s *Store) UpdateRound(ctx context.Context, id string, apply func(r *workflow.Round) error) (*workflow.Round, error) {
	n, ok := workflow.ParseRoundID(id)
	if !ok {
		return nil, roundNotFound(id)
	}
	for attempt := 0; attempt < maxAttempts; attempt++ {
		kv, err := s.get(ctx, roundKey(n))
		if err != nil {
			return nil, err
		}
		if kv == nil {
			return nil, roundNotFound(id)
		}
		var old workflow.Round
		if err := json.Unmarshal(kv.Value, &old); err != nil {
			return nil, fmt.Errorf("etcd: decode round %d: %w", n, err)
		}
		c := old.Clone()
		if err := apply(c); err != nil {
			return nil, err
		}
		h := old.Header()
		h.LateRecordedAt = c.LateRecordedAt
		v, _ := json.Marshal(h)
		ok, _, err := s.write(ctx,
			[]clientv3.Cmp{clientv3.Compare(clientv3.ModRevision(s.k(roundKey(n))), "=", kv.ModRevision)},
			[]clientv3.Op{clientv3.OpPut(s.k(roundKey(n)), string(v))}, nil)
		if err != nil {
			return nil, err
		}
		if ok {
			return h, nil
		}
	}
	return nil, ErrContention
}

// RoundEntries returns the entries the round index lists for round id and
// item ("" for every item), in sequence order. The sealer writes a
// problem's index keys when it seals its entries: what was committed
// before the call is sealed first, so that none is missing.
func (s *Store) RoundEntries(ctx context.Context, id, item string) ([]workflow.Entry, error) {
	if err := s.sealPending(ctx); err != nil {
		return nil, err
	}
	return s.roundEntries(ctx, id, item, 0)
}

func (s *Store) roundEntries(ctx context.Context, id, item string, rev int64) ([]workflow.Entry, error) {
	n, ok := workflow.ParseRoundID(id)
	if !ok {
		return nil, roundNotFound(id)
	}
	seqs, err := s.seqsUnder(ctx, roundRefPrefix(n, item), rev)
	if err != nil {
		return nil, err
	}
	return s.entriesOf(ctx, seqs)
}

// AppendWorkPoint appends what decide returns to work point n's history,
// deciding on the round entries of item as of the chain head it appends
// after.
func (s *Store) AppendWorkPoint(ctx context.Context, n int, round, item string, decide func(prior []workflow.Entry) ([]workflow.Entry, error)) ([]workflow.Entry, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	rn, ok := workflow.ParseRoundID(round)
	if !ok || n <= 0 || item == "" {
		return nil, fmt.Errorf("etcd: append to work point %d: round %q item %q", n, round, item)
	}
	return s.appendOther(ctx, func(rev int64) (*otherPlan, error) {
		seqs, err := s.seqsUnder(ctx, roundRefPrefix(rn, item), rev)
		if err != nil {
			return nil, err
		}
		prior, err := s.entriesOf(ctx, seqs)
		if err != nil {
			return nil, err
		}
		entries, err := decide(prior)
		if err != nil {
			return nil, err
		}
		resp, err := s.getAt(ctx, pointHistPrefix(n), rev, clientv3.WithLastKey()...)
		if err != nil {
			return nil, err
		}
		var version uint64 = 1
		if len(resp.Kvs) > 0 {
			seq, ok := lastNumber(resp.Kvs[0].Key)
			if !ok || !strings.HasPrefix(string(resp.Kvs[0].Key), s.k(pointHistPrefix(n))) {
				return nil, fmt.Errorf("etcd: bad work point history key %q", resp.Kvs[0].Key)
			}
			last, err := s.entriesOf(ctx, []uint64{seq})
			if err != nil {
				return nil, err
			}
			version = last[0].Version + 1
		}
		return &otherPlan{entries: entries, point: n, version: version}, nil
	})
}

// WorkPointHistory returns work point n's entries in order.
func (s *Store) WorkPointHistory(ctx context.Context, n int) ([]workflow.Entry, error) {
	return s.workPointHistory(ctx, n, 0)
}

func (s *Store) workPointHistory(ctx context.Context, n int, rev int64) ([]workflow.Entry, error) {
	if n <= 0 {
		return []workflow.Entry{}, nil
	}
	seqs, err := s.seqsUnder(ctx, pointHistPrefix(n), rev)
	if err != nil {
		return nil, err
	}
	return s.entriesOf(ctx, seqs)
}

// ForEachRound calls fn with every round and its items, in opening order.
func (s *Store) ForEachRound(ctx context.Context, fn func(r *workflow.Round) error) error {
	return s.forEachRound(ctx, 0, fn)
}

func (s *Store) forEachRound(ctx context.Context, rev int64, fn func(r *workflow.Round) error) error {
	var ns []uint64
	rev, err := s.rangeKeys(ctx, s.k("rounds/"), s.prefixEnd("rounds/"), rev, 500, true, func(kv *kvPair) (bool, error) {
		n, ok := lastNumber(kv.Key)
		if !ok {
			return false, fmt.Errorf("etcd: bad round key %q", kv.Key)
		}
		ns = append(ns, n)
		return false, nil
	})
	if err != nil {
		return err
	}
	for _, n := range ns {
		r, err := s.round(ctx, n, rev)
		if err != nil {
			return err
		}
		if r == nil {
			return fmt.Errorf("etcd: round %d vanished", n)
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	return nil
}

// ForEachRound, RoundEntries and WorkPointHistory at the snapshot's
// revision (workflow.RoundLedger).
func (sn *Snapshot) ForEachRound(ctx context.Context, fn func(r *workflow.Round) error) error {
	return sn.s.forEachRound(ctx, sn.rev, fn)
}

func (sn *Snapshot) RoundEntries(ctx context.Context, id, item string) ([]workflow.Entry, error) {
	return sn.s.roundEntries(ctx, id, item, sn.rev)
}

func (sn *Snapshot) WorkPointHistory(ctx context.Context, n int) ([]workflow.Entry, error) {
	return sn.s.workPointHistory(ctx, n, sn.rev)
}

// refCount is how many round index keys sealing entries writes.
func refCount(entries []workflow.Entry) int {
	n := 0
	for i := range entries {
		if _, _, ok := workflow.RoundRef(&entries[i]); ok {
			n++
		}
	}
	return n
}
