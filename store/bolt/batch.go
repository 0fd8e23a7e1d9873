package bolt

import (
	"context"
	"encoding/binary"
	"fmt"

	bbolt "go.etcd.io/bbolt"

	"github.com/jdz-eco/rectify/workflow"
)

var _ workflow.BatchCreator = (*Store)(nil)

// CreateProblems writes count problems in one write transaction of their
// own (see workflow.BatchCreator): numbers from the counter on, each
// problem's record, entries (each at the version it carries), indexes and
// dedupe key, then the counter. A dedupe key already taken (or taken twice
// in the batch), an error from next, a storage failure or ctx ending before
// the commit rolls everything back. Other writers wait for the transaction,
// and it holds every page it writes in memory until it commits: both grow
// with count (figures in the README).
func (s *Store) CreateProblems(ctx context.Context, count int, next func(i int, n uint64) (workflow.BatchRecord, error), progress func(done int)) error {
	if err := s.writable(ctx); err != nil {
		return err
	}
	if count <= 0 {
		return nil
	}
	return s.writeAlone(ctx, func(tx *bbolt.Tx, st *txState) (bool, error) {
		meta := tx.Bucket(bucketMeta)
		var n0 uint64
		if v := meta.Get(keyProblemCounter); v != nil {
			n0 = binary.BigEndian.Uint64(v)
		}
		problems, dedupe := bucket(tx, bucketProblems), tx.Bucket(bucketDedupe)
		for i := 0; i < count; i++ {
			wrote := i > 0
			if i%1024 == 0 {
				if err := ctx.Err(); err != nil {
					return wrote, err
				}
				if progress != nil {
					progress(i)
				}
			}
			n := n0 + 1 + uint64(i)
			rec, err := next(i, n)
			if err != nil {
				return wrote, err
			}
			if err := rec.Check(n); err != nil {
				return wrote, fmt.Errorf("bolt: %w", err)
			}
			p := rec.Problem
			if rec.DedupeKey != "" {
				if v := dedupe.Get([]byte(rec.DedupeKey)); v != nil {
					return wrote, workflow.Errorf(workflow.CodeConflict, "problem %d already has dedupe key %q: nothing was written",
						binary.BigEndian.Uint64(v), rec.DedupeKey)
				}
			}
			value, err := encodeProblem(n, p)
			if err != nil {
				return wrote, err
			}
			var encoded []encodedEntry
			for _, e := range rec.Entries {
				ee, err := encodeEntries([]workflow.Entry{e}, n, e.Version)
				if err != nil {
					return wrote, err
				}
				encoded = append(encoded, ee...)
			}
			if err := problems.Put(u64(n), value); err != nil {
				return true, fmt.Errorf("bolt: write problem %d: %w", n, err)
			}
			if rec.DedupeKey != "" {
				if err := dedupe.Put([]byte(rec.DedupeKey), u64(n)); err != nil {
					return true, fmt.Errorf("bolt: write dedupe key of problem %d: %w", n, err)
				}
			}
			if err := updateIndexes(tx, n, nil, p); err != nil {
				return true, err
			}
			if err := appendEncoded(tx, st, n, encoded); err != nil {
				return true, err
			}
		}
		if err := ctx.Err(); err != nil {
			return true, err
		}
		if err := meta.Put(keyProblemCounter, u64(n0+uint64(count))); err != nil {
			return true, fmt.Errorf("bolt: write problem counter: %w", err)
		}
		if progress != nil {
			progress(count)
		}
		return true, nil
	})
}
