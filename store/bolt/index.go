package bolt

import (
	"bytes"
	"encoding/binary"
	"fmt"

	bbolt "go.etcd.io/bbolt"

	"github.com/jdz-eco/rectify/store/internal/index"
	"github.com/jdz-eco/rectify/workflow"
)

// What is indexed, and which index serves a filter, is store/internal/index;
// this file maps its terms to buckets and keys.

// u64 returns n as an 8-byte big-endian key.
func u64(n uint64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, n)
	return b
}

// indexPrefix returns the key prefix of every problem indexed under value.
func indexPrefix(value string) []byte {
	b := make([]byte, 0, len(value)+1+8)
	b = append(b, value...)
	return append(b, 0)
}

// indexKey returns value ‖ 0x00 ‖ n, so that the problems indexed under one
// value sort in creation order.
func indexKey(value string, n uint64) []byte {
	return binary.BigEndian.AppendUint64(indexPrefix(value), n)
}

// timeKey returns secs ‖ n, the key of a time index (deadline, wake).
func timeKey(secs, n uint64) []byte {
	b := make([]byte, 0, 16)
	b = binary.BigEndian.AppendUint64(b, secs)
	return binary.BigEndian.AppendUint64(b, n)
}

// historyKey returns problem number ‖ seq, the key of the per-problem history
// index.
func historyKey(n, seq uint64) []byte {
	b := make([]byte, 0, 16)
	b = binary.BigEndian.AppendUint64(b, n)
	return binary.BigEndian.AppendUint64(b, seq)
}

// indexBucket returns the bucket of index name, one of the indexes kept as
// keys: evidence, deadline, wake. The others are postings (postings.go).
func indexBucket(name index.Name) []byte {
	switch name {
	case index.Evidence:
		return bucketByEvidence
	case index.Deadline:
		return bucketByDeadline
	case index.Wake:
		return bucketByWake
	}
	panic("bolt: no bucket for index " + string(name))
}

// termKey returns the key of problem number n's entry t in its bucket.
func termKey(t index.Term, n uint64) []byte {
	if t.Index.Timed() {
		return timeKey(t.Secs, n)
	}
	return indexKey(t.Value, n)
}

// updateIndexes moves problem number n's index entries from those of old to
// those of p, deleting and putting only the entries that changed. old is nil
// for a new problem.
func updateIndexes(tx *bbolt.Tx, st *txState, n uint64, old, p *workflow.Problem) error {
	dels, puts := index.Diff(old, p)
	return applyIndexDiff(tx, st, n, dels, puts)
}

// applyIndexDiff deletes and puts the index entries of problem number n:
// keys now, postings when the transaction's commands are done.
func applyIndexDiff(tx *bbolt.Tx, st *txState, n uint64, dels, puts []index.Term) error {
	for _, t := range dels {
		if isPosting(t.Index) {
			st.editPosting(t, n, false)
			continue
		}
		if err := bucket(tx, indexBucket(t.Index)).Delete(termKey(t, n)); err != nil {
			return fmt.Errorf("bolt: delete %s index key of problem %d: %w", t.Index, n, err)
		}
	}
	for _, t := range puts {
		if isPosting(t.Index) {
			st.editPosting(t, n, true)
			continue
		}
		if err := bucket(tx, indexBucket(t.Index)).Put(termKey(t, n), []byte(t.Facts)); err != nil {
			return fmt.Errorf("bolt: put %s index key of problem %d: %w", t.Index, n, err)
		}
	}
	return nil
}

// scanIndex calls fn with the number of every problem indexed under prefix,
// in creation order, starting after problem number after, until fn returns
// stop or an error.
func scanIndex(b *bbolt.Bucket, prefix []byte, after uint64, fn func(n uint64) (stop bool, err error)) error {
	c := b.Cursor()
	seek := binary.BigEndian.AppendUint64(bytes.Clone(prefix), after+1)
	for k, _ := c.Seek(seek); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		// A longer key belongs to another value that merely starts with
		// this one's bytes and separator.
		if len(k) != len(prefix)+8 {
			continue
		}
		stop, err := fn(binary.BigEndian.Uint64(k[len(prefix):]))
		if err != nil || stop {
			return err
		}
	}
	return nil
}
