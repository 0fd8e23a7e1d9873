package bolt

import (
	"context"
	"encoding/json"
	"fmt"

	bbolt "go.etcd.io/bbolt"

	"github.com/jdz-eco/rectify/store/internal/check"
	"github.com/jdz-eco/rectify/workflow"
)

// PutUnits inserts or replaces units by ID, all in one write transaction.
func (s *Store) PutUnits(ctx context.Context, units []workflow.Unit) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := check.Units(units); err != nil {
		return err
	}
	return s.update(ctx, func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketUnits)
		for _, u := range units {
			if err := putJSON(b, []byte(u.ID), u); err != nil {
				return fmt.Errorf("bolt: write unit %s: %w", u.ID, err)
			}
		}
		return nil
	})
}

// Units returns every unit, ordered by ID.
func (s *Store) Units(ctx context.Context) ([]workflow.Unit, error) {
	return list[workflow.Unit](ctx, s, bucketUnits)
}

// PutWorkPoints inserts or replaces work points by number, all in one write
// transaction.
func (s *Store) PutWorkPoints(ctx context.Context, wps []workflow.WorkPoint) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := check.WorkPoints(wps); err != nil {
		return err
	}
	return s.update(ctx, func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketWorkPoints)
		for _, wp := range wps {
			if err := putJSON(b, u64(uint64(wp.Number)), wp); err != nil {
				return fmt.Errorf("bolt: write work point %d: %w", wp.Number, err)
			}
		}
		return nil
	})
}

// WorkPoints returns every work point, ordered by number.
func (s *Store) WorkPoints(ctx context.Context) ([]workflow.WorkPoint, error) {
	return list[workflow.WorkPoint](ctx, s, bucketWorkPoints)
}

// putJSON stores v encoded as JSON under key.
func putJSON(b *bbolt.Bucket, key []byte, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put(key, data)
}

// list decodes every value of bucket name in key order.
func list[T any](ctx context.Context, s *Store, name []byte) ([]T, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out := []T{}
	err := s.view(func(tx *bbolt.Tx) error {
		return tx.Bucket(name).ForEach(func(k, v []byte) error {
			var x T
			if err := json.Unmarshal(v, &x); err != nil {
				return fmt.Errorf("bolt: decode %s %q: %w", name, k, err)
			}
			out = append(out, x)
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
