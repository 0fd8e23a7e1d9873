package bolt

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"

	bbolt "go.etcd.io/bbolt"

	"github.com/jdz-eco/rectify/store/internal/nearindex"
)

// BenchmarkNearPhotoBolt1M is the prototype of a persisted near-duplicate
// index (issue 16): 1,000,000 pHash-shaped hashes, one in a hundred with a
// copy 1 to 12 bits away, each stored for a ref of the problem number
// (8 bytes) and the evidence SHA-256 (32 bytes), looked up at radius 12.
// Two layouts of store/internal/nearindex: "keys" writes one key per
// hash and chunk and scans each probe prefix with a cursor; "lists" keeps
// one posting list per chunk value and reads one value per probe. Each
// sub-benchmark builds its file in its setup (under a minute, up to 0.3 GB
// in a temporary directory) and reads it warm. Not part of the store yet.
//
//	go test ./store/bolt -run '^$' -bench NearPhotoBolt1M -benchtime 2000x
func BenchmarkNearPhotoBolt1M(b *testing.B) {
	const n = 1_000_000
	r := rand.New(rand.NewPCG(21, 22))
	var hashes []uint64
	for i := range n {
		h := phashShaped(r)
		hashes = append(hashes, h)
		if i%100 == 0 {
			hashes = append(hashes, flipBits(r, h, 1+r.IntN(12)))
		}
	}
	refs := make([][]byte, len(hashes))
	for i := range hashes {
		sum := sha256.Sum256(binary.BigEndian.AppendUint64(nil, uint64(i)))
		refs[i] = append(binary.BigEndian.AppendUint64(nil, uint64(i/3+1)), sum[:]...)
	}
	queries := make([]uint64, 1024)
	for i := range queries {
		queries[i] = flipBits(r, hashes[r.IntN(len(hashes))], r.IntN(7))
	}
	four := nearindex.Layout{Chunks: 4, Radius: 12}
	for _, c := range []struct {
		name  string
		l     nearindex.Layout
		lists bool
	}{{"keys/chunks=4", four, false}, {"lists/chunks=4", four, true}, {"lists/chunks=5", nearindex.Default, true}} {
		b.Run(c.name, func(b *testing.B) {
			kv := map[string][]byte{}
			for i, h := range hashes {
				if c.lists {
					for _, k := range c.l.PostingKeys(h) {
						kv[string(k)] = nearindex.AppendRecord(kv[string(k)], h, refs[i])
					}
				} else {
					for _, k := range c.l.Keys(h, refs[i]) {
						kv[string(k)] = nil
					}
				}
			}
			db := buildNearDB(b, kv)
			candidates, matches, i := 0, 0, 0
			for b.Loop() {
				q := queries[i%len(queries)]
				i++
				err := db.View(func(tx *bbolt.Tx) error {
					bk := tx.Bucket(nearBucket)
					cur := bk.Cursor()
					seen := map[string]bool{}
					verify := func(h uint64, ref []byte) bool {
						candidates++
						if nearindex.Distance(q, h) <= 12 && !seen[string(ref)] {
							seen[string(ref)] = true
							matches++
						}
						return true
					}
					c.l.Probes(q, 12, func(p []byte) bool {
						if c.lists {
							nearindex.ScanRecords(bk.Get(p), 40, verify)
							return true
						}
						for k, _ := cur.Seek(p); k != nil && bytes.HasPrefix(k, p); k, _ = cur.Next() {
							h, ref, _ := nearindex.ParseKey(k)
							verify(h, ref)
						}
						return true
					})
					return nil
				})
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(candidates)/float64(i), "candidates/op")
			b.ReportMetric(float64(matches)/float64(i), "matches/op")
		})
	}
}

var nearBucket = []byte("idx_phash")

// buildNearDB writes kv, in key order, into one bucket of a new file.
func buildNearDB(b *testing.B, kv map[string][]byte) *bbolt.DB {
	keys := make([]string, 0, len(kv))
	for k := range kv {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	db, err := bbolt.Open(filepath.Join(b.TempDir(), "near.db"), 0o600, &bbolt.Options{NoSync: true, NoFreelistSync: true})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	for start := 0; start < len(keys); start += 200_000 {
		err := db.Update(func(tx *bbolt.Tx) error {
			bk, err := tx.CreateBucketIfNotExists(nearBucket)
			if err != nil {
				return err
			}
			bk.FillPercent = 1
			for _, k := range keys[start:min(start+200_000, len(keys))] {
				if err := bk.Put([]byte(k), kv[k]); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	return db
}

// phashShaped returns a random hash with a pHash's shape: the DC bit set
// and 31 of the other 63.
func phashShaped(r *rand.Rand) uint64 {
	h := uint64(1) << 63
	for _, b := range r.Perm(63)[:31] {
		h |= 1 << b
	}
	return h
}

// flipBits returns h with k distinct random bits flipped.
func flipBits(r *rand.Rand, h uint64, k int) uint64 {
	for _, b := range r.Perm(64)[:k] {
		h ^= 1 << b
	}
	return h
}
