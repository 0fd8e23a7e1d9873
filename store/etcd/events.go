package etcd

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/jdz-eco/rectify/store/internal/check"
	"github.com/jdz-eco/rectify/workflow"
)

// Page sizes of Events, as the domain sets them.
const (
	DefaultEventLimit = workflow.DefaultEventLimit
	MaxEventLimit     = workflow.MaxEventLimit
)

// Events returns the outbox events with Seq greater than after, in order, at
// most limit (DefaultEventLimit when not positive, MaxEventLimit at most):
// a range read of the outbox keys, then the history entries they name, once
// what was pending when it began is sealed.
func (s *Store) Events(ctx context.Context, after uint64, limit int) ([]workflow.Event, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	limit = workflow.EventLimit(limit)
	events := []workflow.Event{}
	if after == ^uint64(0) {
		return events, nil
	}
	// Every command acknowledged before the call is an event of it.
	if err := s.sealPending(ctx); err != nil {
		return nil, err
	}
	rctx, cancel := s.reqCtx(ctx)
	resp, err := s.cli.Get(rctx, s.k(outboxKey(after+1)), clientv3.WithRange(s.prefixEnd("ob/")),
		clientv3.WithLimit(int64(limit)), clientv3.WithKeysOnly())
	cancel()
	if err != nil {
		return nil, wrap("read the outbox", err)
	}
	keys := make([]string, len(resp.Kvs))
	seqs := make([]uint64, len(resp.Kvs))
	for i, kv := range resp.Kvs {
		seq, ok := lastNumber(kv.Key)
		if !ok {
			return nil, fmt.Errorf("etcd: bad outbox key %q", kv.Key)
		}
		seqs[i], keys[i] = seq, s.k(historyKey(seq))
	}
	kvs, err := s.getMany(ctx, keys)
	if err != nil {
		return nil, err
	}
	for i, kv := range kvs {
		if kv == nil {
			return nil, fmt.Errorf("etcd: event %d has no history entry", seqs[i])
		}
		ev := workflow.Event{ID: workflow.EventID(seqs[i]), Seq: seqs[i]}
		if err := json.Unmarshal(kv.Value, &ev.Entry); err != nil {
			return nil, fmt.Errorf("etcd: decode history entry %d: %w", seqs[i], err)
		}
		events = append(events, ev)
	}
	return events, nil
}

func cursorKey(name string) string { return "cursors/" + esc(name) }

// Cursor returns the outbox sequence number consumer name last recorded, or 0.
func (s *Store) Cursor(ctx context.Context, name string) (uint64, error) {
	if err := check.CursorName(name); err != nil {
		return 0, err
	}
	kv, err := s.get(ctx, cursorKey(name))
	if err != nil || kv == nil {
		return 0, err
	}
	seq, err := strconv.ParseUint(string(kv.Value), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("etcd: bad cursor %q", name)
	}
	return seq, nil
}

// SetCursor records seq as consumer name's position in the outbox, whatever
// it was before. With a fenced context (the webhook dispatcher on the
// elected leader) it writes only while the fence holds.
func (s *Store) SetCursor(ctx context.Context, name string, seq uint64) error {
	if err := check.CursorName(name); err != nil {
		return err
	}
	_, _, err := s.write(ctx, nil, []clientv3.Op{clientv3.OpPut(s.k(cursorKey(name)), strconv.FormatUint(seq, 10))}, nil)
	return err
}

// claimMargin is taken off a leader's lease left when ClaimDelivery says
// until when the caller may deliver: clocks run at slightly different rates.
const claimMargin = 250 * time.Millisecond

// ClaimDelivery says until when the webhook dispatcher whose context
// carries a fence (RunAsLeader) may deliver the event after seq after to
// consumer name (webhook.Claimer): its leader key must still exist with its
// revision, the consumer's cursor must still be after (nobody delivered
// past it since), and the answer holds while the key's lease surely lives
// (its time left, read after the call began, less claimMargin): no other
// leader can be elected before. Without a fence (a single dispatcher) it
// allows delivery for a long time.
func (s *Store) ClaimDelivery(ctx context.Context, name string, after uint64) (time.Time, error) {
	start := time.Now()
	f := fenceFrom(ctx)
	if f == nil {
		return start.Add(time.Hour), nil
	}
	if err := check.CursorName(name); err != nil {
		return start, err
	}
	rctx, cancel := s.reqCtx(ctx)
	resp, err := s.cli.Txn(rctx).Then(clientv3.OpGet(f.Key), clientv3.OpGet(s.k(cursorKey(name)))).Commit()
	cancel()
	if err != nil {
		return start, wrap("claim a delivery", err)
	}
	kv := first(resp.Responses[0])
	if !f.holds(kv) {
		return start, fmt.Errorf("%w (%s)", ErrFenced, f.Key)
	}
	var cursor uint64
	if c := first(resp.Responses[1]); c != nil {
		if cursor, err = strconv.ParseUint(string(c.Value), 10, 64); err != nil {
			return start, fmt.Errorf("etcd: bad cursor %q", name)
		}
	}
	if cursor != after {
		return start, fmt.Errorf("etcd: cursor %s is at %d, not %d: another dispatcher delivered since", name, cursor, after)
	}
	if kv.Lease == 0 {
		return start.Add(time.Hour), nil // a key without a lease lives until deleted
	}
	rctx, cancel = s.reqCtx(ctx)
	ttl, err := s.cli.TimeToLive(rctx, clientv3.LeaseID(kv.Lease))
	cancel()
	if err != nil {
		return start, wrap("read the leader's lease", err)
	}
	if ttl.TTL <= 0 {
		return start, fmt.Errorf("%w (%s: its lease expired)", ErrFenced, f.Key)
	}
	return start.Add(time.Duration(ttl.TTL)*time.Second - claimMargin), nil
}

// Cursors returns every consumer's position, for migration and tools.
func (s *Store) Cursors(ctx context.Context) (map[string]uint64, error) {
	out := map[string]uint64{}
	_, err := s.rangeKeys(ctx, s.k("cursors/"), s.prefixEnd("cursors/"), 0, 1000, false, func(kv *kvPair) (bool, error) {
		name, err := unesc(string(kv.Key[len(s.k("cursors/")):]))
		if err != nil {
			return false, err
		}
		seq, err := strconv.ParseUint(string(kv.Value), 10, 64)
		if err != nil {
			return false, fmt.Errorf("etcd: bad cursor %q", name)
		}
		out[name] = seq
		return false, nil
	})
	return out, err
}
