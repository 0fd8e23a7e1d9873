package bolt

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"fmt"
	"slices"

	bbolt "go.etcd.io/bbolt"

	"github.com/jdz-eco/rectify/store/internal/index"
	"github.com/jdz-eco/rectify/workflow"
)

// CreateProblems writes count problems in one write transaction of their
// own (see workflow.BatchCreator): numbers from the counter on, each
// problem's record, entries (each at the version it carries), indexes,
// rollup deltas (rollupWrite, as a create writes them) and dedupe key,
// then the counter. A dedupe key already taken (or taken twice
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
		// Records and history go in as they come (their keys only grow);
		// index and dedupe keys are put afterwards in key order, or each
		// would shift every key after it in the one node that grows
		// within the transaction.
		var (
			terms []batchTerm
			keys  []dedupeEntry
		)
		for i := 0; i < count; i++ {
			wrote := i > 0
			if i%256 == 0 {
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
			if err := appendEncoded(tx, st, n, encoded); err != nil {
				return true, err
			}
			for _, t := range index.Terms(p) {
				if isPosting(t.Index) {
					st.editPosting(t, n, true)
					continue
				}
				terms = append(terms, batchTerm{bucket: indexBucket(t.Index), key: termKey(t, n), value: []byte(t.Facts)})
			}
			if err := putPhotos(tx, n, newPhotoDiff(nil, p)); err != nil {
				return true, err
			}
			if err := s.rollupWrite(tx, st, n, nil, p, rec.Entries); err != nil {
				return true, err
			}
			if (i+1)%chunkSize == 0 {
				// What the batch gathered so far goes to its keys, so that
				// the memory it holds stays bounded: each posting chunk
				// (numbers are consecutive) and rollup key once per flush.
				if err := st.flushRollups(tx); err != nil {
					return true, err
				}
				if err := st.flushPostings(tx); err != nil {
					return true, err
				}
			}
			if rec.DedupeKey != "" {
				keys = append(keys, dedupeEntry{rec.DedupeKey, n})
			}
		}
		if err := putDedupeKeys(dedupe, keys); err != nil {
			return true, err
		}
		slices.SortFunc(terms, func(a, b batchTerm) int {
			return cmp.Or(bytes.Compare(a.bucket, b.bucket), bytes.Compare(a.key, b.key))
		})
		for _, t := range terms {
			if err := bucket(tx, t.bucket).Put(t.key, t.value); err != nil {
				return true, fmt.Errorf("bolt: write index %s: %w", t.bucket, err)
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

// batchTerm is an index key of a batch, with its bucket and value.
type batchTerm struct {
	bucket, key, value []byte
}

type dedupeEntry struct {
	key string
	n   uint64
}

// putDedupeKeys puts a batch's dedupe keys in key order, refusing one taken
// before or named twice.
func putDedupeKeys(b *bbolt.Bucket, keys []dedupeEntry) error {
	slices.SortFunc(keys, func(a, b dedupeEntry) int { return cmp.Compare(a.key, b.key) })
	for i, k := range keys {
		if i > 0 && keys[i-1].key == k.key {
			return workflow.Refuse(workflow.ReasonExists, "problems %d and %d of the batch have the same dedupe key %q: nothing was written",
				keys[i-1].n, k.n, k.key)
		}
		if v := b.Get([]byte(k.key)); v != nil {
			return workflow.Refuse(workflow.ReasonExists, "problem %d already has dedupe key %q: nothing was written",
				binary.BigEndian.Uint64(v), k.key)
		}
		if err := b.Put([]byte(k.key), u64(k.n)); err != nil {
			return fmt.Errorf("bolt: write dedupe key of problem %d: %w", k.n, err)
		}
	}
	return nil
}
