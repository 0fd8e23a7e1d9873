package bolt

import (
	"context"
	"encoding/binary"
	"fmt"

	bbolt "go.etcd.io/bbolt"

	"github.com/jdz-eco/rectify/store/internal/index"
	"github.com/jdz-eco/rectify/store/internal/nearindex"
	"github.com/jdz-eco/rectify/workflow"
)

// The near-duplicate photo index (workflow.PhotoIndex;
// docs/design.md#near-duplicate-photos): bucket idx_phash holds one posting
// list per chunk value of nearindex.Default, under its probe prefix
// (chunk number, value: 3 bytes), each record the hash (8 bytes) and the
// problem number (8 bytes, big-endian). A lookup reads the 447 lists its
// probes name and verifies each record's distance in place; storing a hash
// appends one record to 5 lists. Written in the transaction that writes the
// record (photoDiff, putPhotos), created on first use.

var bucketPhotos = []byte("idx_phash")

// photoRefLen is the length of a record's ref: the problem number.
const photoRefLen = 8

// photoDiff is the change of a problem's photo index entries.
type photoDiff struct{ gone, added []uint64 }

func newPhotoDiff(old, p *workflow.Problem) photoDiff {
	gone, added := index.PhotoDiff(old, p)
	return photoDiff{gone, added}
}

// putPhotos applies d to the photo index for problem number n.
func putPhotos(tx *bbolt.Tx, n uint64, d photoDiff) error {
	if len(d.gone) == 0 && len(d.added) == 0 {
		return nil
	}
	b, err := tx.CreateBucketIfNotExists(bucketPhotos)
	if err != nil {
		return fmt.Errorf("bolt: photo index: %w", err)
	}
	ref := u64(n)
	for _, h := range d.gone {
		for _, k := range nearindex.Default.PostingKeys(h) {
			list := nearindex.RemoveRecordHash(b.Get(k), h, ref, photoRefLen)
			if err := b.Put(k, list); err != nil {
				return fmt.Errorf("bolt: photo index of problem %d: %w", n, err)
			}
		}
	}
	for _, h := range d.added {
		if err := addPhoto(b, h, ref); err != nil {
			return fmt.Errorf("bolt: photo index of problem %d: %w", n, err)
		}
	}
	return nil
}

// addPhoto appends the record of hash h for ref to its posting lists.
func addPhoto(b *bbolt.Bucket, h uint64, ref []byte) error {
	for _, k := range nearindex.Default.PostingKeys(h) {
		old := b.Get(k)
		list := make([]byte, len(old), len(old)+8+len(ref))
		copy(list, old)
		if err := b.Put(k, nearindex.AppendRecord(list, h, ref)); err != nil {
			return err
		}
	}
	return nil
}

// NearPhotos returns the indexed photos within radius of h, nearest first
// (workflow.PhotoIndex).
func (s *Store) NearPhotos(ctx context.Context, h uint64, radius, limit int) ([]workflow.PhotoMatch, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	radius = min(max(radius, 0), nearindex.Default.Radius)
	var out []workflow.PhotoMatch
	err := s.view(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketPhotos)
		if b == nil {
			return nil
		}
		seen := map[[2]uint64]bool{}
		nearindex.Default.Probes(h, radius, func(p []byte) bool {
			nearindex.ScanRecords(b.Get(p), photoRefLen, func(x uint64, ref []byte) bool {
				d := nearindex.Distance(h, x)
				key := [2]uint64{x, binary.BigEndian.Uint64(ref)}
				if d <= radius && !seen[key] {
					seen[key] = true
					out = append(out, workflow.PhotoMatch{ProblemID: workflow.ProblemID(key[1]), PHash: x, Distance: d})
				}
				return true
			})
			return true
		})
		return nil
	})
	if err != nil {
		return nil, err
	}
	workflow.SortPhotoMatches(out)
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}
