package bolt

import (
	"math/rand/v2"
	"testing"

	"pgregory.net/rapid"

	"github.com/jdz-eco/rectify/store/storetest"
	"github.com/jdz-eco/rectify/workflow"
)

// TestFilterCombinationsAcrossChunks: on a ledger of several posting chunks
// (4096 problems each), some of them rewritten, any combination of filters
// lists, page by page, exactly what a filter over every record finds.
func TestFilterCombinationsAcrossChunks(t *testing.T) {
	s, _ := open(t, Options{})
	r := rand.New(rand.NewPCG(3, 4))
	const count = 3*chunkSize + 77
	bulkLoad(t, s, count, func(n uint64) *workflow.Problem { return storetest.RandomProblem(n, r) })
	var ns []uint64
	for n := uint64(1); n <= count; n += 1 + uint64(r.IntN(9)) {
		ns = append(ns, n)
	}
	bulkRewrite(t, s, ns, func(n uint64) *workflow.Problem { return storetest.RandomProblem(n, r) })
	checkIndexes(t, s)
	ctx := t.Context()
	all, err := storetest.AllProblems(ctx, s)
	if err != nil || len(all) != count {
		t.Fatalf("%d problems, %v", len(all), err)
	}
	rapid.Check(t, func(rt *rapid.T) {
		f := storetest.DrawFilter(rt)
		f.Limit = rapid.SampledFrom([]int{13, 200, 500}).Draw(rt, "page")
		if err := storetest.CheckFilter(ctx, s, all, f); err != nil {
			rt.Fatal(err)
		}
	})
}

// TestChunkEncoding: a chunk keeps its members, sparse or dense, and an
// empty one is no value.
func TestChunkEncoding(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		members := rapid.SliceOfDistinct(rapid.Uint32Range(0, chunkSize-1), rapid.ID).Draw(rt, "members")
		var b, got bitmap
		for _, m := range members {
			b.set(m, true)
		}
		v := encodeChunk(&b)
		if len(members) == 0 {
			if v != nil {
				rt.Fatalf("an empty chunk encodes to %x", v)
			}
			return
		}
		if err := decodeChunk(v, &got); err != nil || got != b {
			rt.Fatalf("%d members round trip to %d (%v)", len(members), got.count(), err)
		}
		if len(members) <= sparseMax && len(v) != 2*len(members) || len(members) > sparseMax && len(v) != denseBytes {
			rt.Fatalf("%d members take %d bytes", len(members), len(v))
		}
	})
}
