package etcd

import (
	"context"
	"fmt"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/jdz-eco/rectify/store/internal/index"
	"github.com/jdz-eco/rectify/workflow"
)

// Sweep returns the problems whose wake time is due at now, earliest first
// (ties in creation order), at most limit (DefaultDueLimit when not
// positive), each with the alerts now due under pol
// (workflow.PendingAlerts): one range read of the wake index up to now's
// second, whose values carry the facts the level computation needs
// (index.WakeFacts). Only a problem whose entry has no readable facts (one
// written before the facts were, until its next change) has its record read.
func (s *Store) Sweep(ctx context.Context, now time.Time, pol workflow.Policy, limit int) ([]workflow.DueAlert, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if limit <= 0 {
		limit = DefaultDueLimit
	}
	out := []workflow.DueAlert{}
	until, ok := index.DueUntil(now)
	if !ok {
		return out, nil
	}
	rctx, cancel := s.reqCtx(ctx)
	resp, err := s.cli.Get(rctx, s.k("ix/"+string(index.Wake)+"/"), clientv3.WithRange(s.k(timePrefix(index.Wake, until+1))),
		clientv3.WithLimit(int64(limit)))
	cancel()
	if err != nil {
		return nil, wrap("read the wake index", err)
	}
	sw := index.Sweeper{Now: now, Policy: pol}
	var (
		missing []int // positions in out whose records must be read
		keys    []string
		nums    []uint64
	)
	for _, kv := range resp.Kvs {
		n, ok := lastNumber(kv.Key)
		if !ok {
			return nil, fmt.Errorf("etcd: bad wake index key %q", kv.Key)
		}
		alerts, ok := sw.Alerts(kv.Value)
		if !ok {
			missing = append(missing, len(out))
			keys = append(keys, s.k(problemKey(n)))
			nums = append(nums, n)
		}
		out = append(out, workflow.DueAlert{ID: workflow.ProblemID(n), Alerts: alerts})
	}
	if len(missing) == 0 {
		return out, nil
	}
	kvs, err := s.getMany(ctx, keys)
	if err != nil {
		return nil, err
	}
	for i, kv := range kvs {
		if kv == nil {
			return nil, fmt.Errorf("etcd: the wake index names missing problem %d", nums[i])
		}
		rec, err := decodeRecord(nums[i], kv)
		if err != nil {
			return nil, err
		}
		out[missing[i]].Alerts = workflow.PendingAlerts(rec.p, now, pol)
	}
	return out, nil
}

// ProblemsWithEvidence returns the ids of the problems whose evidence
// includes file sha, in creation order, from the evidence index alone (a
// range read of its keys).
func (s *Store) ProblemsWithEvidence(ctx context.Context, sha string) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ids := []string{}
	prefix := valuePrefix(index.Evidence, sha)
	_, err := s.rangeKeys(ctx, s.k(prefix), s.prefixEnd(prefix), 0, 1000, true, func(kv *kvPair) (bool, error) {
		n, ok := lastNumber(kv.Key)
		if !ok || len(kv.Key) != len(s.k(prefix))+20 {
			return false, fmt.Errorf("etcd: bad evidence index key %q", kv.Key)
		}
		ids = append(ids, workflow.ProblemID(n))
		return false, nil
	})
	if err != nil {
		return nil, err
	}
	return ids, nil
}
