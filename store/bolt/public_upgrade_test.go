package bolt

import (
	"bytes"
	"errors"
	"slices"
	"testing"

	bbolt "go.etcd.io/bbolt"

	"github.com/jdz-eco/rectify/store/internal/index"
	"github.com/jdz-eco/rectify/store/storetest"
	"github.com/jdz-eco/rectify/workflow"
)

// TestUpgradeTagsPublicProblems: a file of version 6 (no public tags, no
// index_public flag) is refused read-only and, opened read-write, gets the
// tag of every problem the public sees, so that the public notice list
// finds them again.
func TestUpgradeTagsPublicProblems(t *testing.T) {
	s, path := open(t, Options{})
	_, early, late, _ := storetest.BuildPublicNotices(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	updateFile(t, path, func(tx *bbolt.Tx) error {
		prefix := postingPrefix(index.Term{Index: index.Tag, Value: workflow.TagPublic})
		var keys [][]byte
		c := tx.Bucket(bucketPostings).Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			keys = append(keys, bytes.Clone(k))
		}
		if len(keys) == 0 {
			return errors.New("no public tag postings to remove")
		}
		for _, k := range keys {
			if err := tx.Bucket(bucketPostings).Delete(k); err != nil {
				return err
			}
		}
		meta := tx.Bucket(bucketMeta)
		if err := meta.Delete(keyIndexPublic); err != nil {
			return err
		}
		return meta.Put(keySchema, u64(6))
	})

	if r, err := Open(path, Options{ReadOnly: true}); !errors.Is(err, ErrNeedsUpgrade) {
		if r != nil {
			r.Close()
		}
		t.Fatalf("read-only Open of a version 6 file = %v, want ErrNeedsUpgrade", err)
	}
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	storetest.CheckPublicNotices(t, workflow.NewService(s, workflow.NewManualClock(storetest.T0)), append(slices.Clone(late), early...))
	checkIndexes(t, s)
}
