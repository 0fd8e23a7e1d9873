package bolt

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

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

// BenchmarkFilteredPage lists the first page of 50 (and, for a third of
// the calls, a page further on) for combinations of two to six filters on
// ledgers of random problems (storetest.RandomProblem: every field
// uniform, so that the matches of a combination spread over the whole
// ledger, the worst case for an intersection), and reports the 99th
// percentile besides the mean.
func BenchmarkFilteredPage(b *testing.B) {
	filters := []workflow.ProblemFilter{
		{County: storetest.Fuliang, State: workflow.StateClosed},
		{Source: workflow.SourceAudit, State: workflow.StateSubmitted, LeadUnit: storetest.Water},
		{County: storetest.Leping, Tag: workflow.TagLate, WorkPoint: 3},
		{County: storetest.Zhushan, LeadUnit: storetest.Housing, State: workflow.StateRectifying, Source: workflow.SourceOther, WorkPoint: 2},
		{County: storetest.Fuliang, LeadUnit: storetest.Fuliang, State: workflow.StateAssigned, Source: workflow.SourceAudit, WorkPoint: 4, Tag: string(workflow.LevelRed)},
		{Unit: storetest.Guokong, State: workflow.StateVerified},
	}
	for _, size := range []uint64{100_000, 1_000_000} {
		b.Run(fmt.Sprintf("ledger=%d", size), func(b *testing.B) {
			s, _ := open(b, Options{})
			r := rand.New(rand.NewPCG(1, 2))
			bulkLoad(b, s, size, func(n uint64) *workflow.Problem { return storetest.RandomProblem(n, r) })
			ctx := context.Background()
			lats := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for i := range b.N {
				f := filters[i%len(filters)]
				f.Limit = 50
				if i%3 == 2 {
					f.Cursor = workflow.ProblemID(size / 2)
				}
				t0 := time.Now()
				if _, _, err := s.Problems(ctx, f); err != nil {
					b.Fatal(err)
				}
				lats = append(lats, time.Since(t0))
			}
			b.StopTimer()
			slices.Sort(lats)
			b.ReportMetric(float64(lats[len(lats)*99/100])/float64(time.Millisecond), "p99-ms")
		})
	}
}
