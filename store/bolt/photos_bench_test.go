package bolt

import (
	"math/rand/v2"
	"testing"

	bbolt "go.etcd.io/bbolt"
)

// BenchmarkNearPhotos1M measures the store's near-duplicate lookup
// (NearPhotos, issue 16: under 10 ms at 1,000,000 photos) on 1,000,000
// pHash-shaped hashes, one in a hundred with a copy 1 to 12 bits away,
// written by the store's own write path (addPhoto) in its setup (about a
// minute), and looked up warm at radius 12.
//
//	go test ./store/bolt -run '^$' -bench NearPhotos1M -benchtime 2000x
func BenchmarkNearPhotos1M(b *testing.B) {
	const n = 1_000_000
	s, _ := open(b, Options{})
	r := rand.New(rand.NewPCG(31, 32))
	var hashes []uint64
	for i := range n {
		h := phashShaped(r)
		hashes = append(hashes, h)
		if i%100 == 0 {
			hashes = append(hashes, flipBits(r, h, 1+r.IntN(12)))
		}
	}
	for start := 0; start < len(hashes); start += 100_000 {
		err := s.db.Update(func(tx *bbolt.Tx) error {
			bk, err := tx.CreateBucketIfNotExists(bucketPhotos)
			if err != nil {
				return err
			}
			for i, h := range hashes[start:min(start+100_000, len(hashes))] {
				if err := addPhoto(bk, h, u64(uint64(start+i)/3+1)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	queries := make([]uint64, 1024)
	for i := range queries {
		queries[i] = flipBits(r, hashes[r.IntN(len(hashes))], r.IntN(7))
	}
	matches, i := 0, 0
	for b.Loop() {
		m, err := s.NearPhotos(b.Context(), queries[i%len(queries)], 12, 0)
		if err != nil {
			b.Fatal(err)
		}
		matches += len(m)
		i++
	}
	b.ReportMetric(float64(matches)/float64(i), "matches/op")
}
