package nearindex

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// BenchmarkNear1M looks up a photo among 1,000,000 stored hashes shaped
// like pHashes (the DC bit set, 31 of the others), one in a hundred with a
// stored copy 1 to 12 bits away, at radius 12. Reported: ns/op,
// candidates/op (hashes verified) and matches/op, for 4 chunks, the
// default 5, and the textbook exact-match 13.
//
//	go test -run '^$' -bench Near1M ./store/internal/nearindex
func BenchmarkNear1M(b *testing.B) {
	const n = 1_000_000
	r := rand.New(rand.NewPCG(11, 12))
	hashes := make([]uint64, 0, n+n/100)
	for i := range n {
		h := phashLike(r)
		hashes = append(hashes, h)
		if i%100 == 0 {
			hashes = append(hashes, flip(r, h, 1+r.IntN(12)))
		}
	}
	queries := make([]uint64, 1024)
	for i := range queries {
		queries[i] = flip(r, hashes[r.IntN(len(hashes))], r.IntN(7))
	}
	for _, l := range []Layout{{Chunks: 4, Radius: 12}, {Chunks: 5, Radius: 12}, {Chunks: 13, Radius: 12}} {
		b.Run(fmt.Sprintf("chunks=%d", l.Chunks), func(b *testing.B) {
			x, err := New(l)
			if err != nil {
				b.Fatal(err)
			}
			for i, h := range hashes {
				x.Add(h, fmt.Sprint(i))
			}
			candidates, matches, i := 0, 0, 0
			for b.Loop() {
				m, c := x.near(queries[i%len(queries)], 12)
				candidates += c
				matches += len(m)
				i++
			}
			b.ReportMetric(float64(candidates)/float64(i), "candidates/op")
			b.ReportMetric(float64(matches)/float64(i), "matches/op")
		})
	}
}
