package etcd

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/jdz-eco/rectify/store/internal/check"
	"github.com/jdz-eco/rectify/workflow"
)

// putAll writes values under the relative keys, in transactions of at most
// MaxTxnOps operations (one when they fit, as seed data does).
func (s *Store) putAll(ctx context.Context, keys []string, values [][]byte) error {
	chunk := s.cfg.MaxTxnOps - 1 // room for the command key
	for len(keys) > 0 {
		m := min(len(keys), chunk)
		ops := make([]clientv3.Op, m)
		for i := range m {
			ops[i] = clientv3.OpPut(s.k(keys[i]), string(values[i]))
		}
		if _, _, err := s.write(ctx, nil, ops, nil); err != nil {
			return err
		}
		keys, values = keys[m:], values[m:]
	}
	return nil
}

// PutUnits inserts or replaces units by ID (one transaction, up to
// MaxTxnOps-1 units).
func (s *Store) PutUnits(ctx context.Context, units []workflow.Unit) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := check.Units(units); err != nil {
		return err
	}
	keys := make([]string, len(units))
	values := make([][]byte, len(units))
	for i, u := range units {
		keys[i] = "units/" + esc(u.ID)
		values[i], _ = json.Marshal(u)
	}
	return s.putAll(ctx, keys, values)
}

// Units returns every unit, ordered by ID.
func (s *Store) Units(ctx context.Context) ([]workflow.Unit, error) {
	out, err := list[workflow.Unit](ctx, s, "units/")
	slices.SortFunc(out, func(a, b workflow.Unit) int { return cmp.Compare(a.ID, b.ID) })
	return out, err
}

// PutWorkPoints inserts or replaces work points by number.
func (s *Store) PutWorkPoints(ctx context.Context, wps []workflow.WorkPoint) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := check.WorkPoints(wps); err != nil {
		return err
	}
	keys := make([]string, len(wps))
	values := make([][]byte, len(wps))
	for i, wp := range wps {
		keys[i] = "wp/" + pad(uint64(wp.Number))
		values[i], _ = json.Marshal(wp)
	}
	return s.putAll(ctx, keys, values)
}

// WorkPoints returns every work point, ordered by number.
func (s *Store) WorkPoints(ctx context.Context) ([]workflow.WorkPoint, error) {
	return list[workflow.WorkPoint](ctx, s, "wp/")
}

// list decodes every value under the relative prefix, in key order, read at
// one revision.
func list[T any](ctx context.Context, s *Store, rel string) ([]T, error) {
	out := []T{}
	_, err := s.rangeKeys(ctx, s.k(rel), s.prefixEnd(rel), 0, 1000, false, func(kv *kvPair) (bool, error) {
		var x T
		if err := json.Unmarshal(kv.Value, &x); err != nil {
			return false, fmt.Errorf("etcd: decode %s: %w", kv.Key, err)
		}
		out = append(out, x)
		return false, nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
