package etcd

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jdz-eco/rectify/store/storetest"
	"github.com/jdz-eco/rectify/workflow"
)

// BenchmarkTransitions measures commands per second (progress notes through
// workflow.Service: a read, the domain's decision, one Txn with the record,
// the sealed entry, its outbox and history keys and the chain head) on the
// package's single-member server and on a three-member cluster, the
// sealer running on the first replica and every command sealed on the
// chain before the clock stops, from one
// client at a time and from 64 concurrent clients spread over one or two
// replicas (Stores) on 1,024 problems (maxOps, when set, needs a cluster
// started with a --max-txn-ops as large). With two replicas it reports the
// share of the commands the less served replica completed:
//
//	go test ./store/etcd -run '^$' -bench Transitions -benchtime 5s
func BenchmarkTransitions(b *testing.B) {
	cases := []struct {
		members, replicas, clients, maxOps int
	}{
		{1, 1, 1, 0}, {1, 1, 64, 0}, {1, 2, 64, 0},
		{3, 1, 1, 0}, {3, 1, 64, 0}, {3, 2, 64, 0},
	}
	for _, bc := range cases {
		name := fmt.Sprintf("members=%d/replicas=%d/clients=%d", bc.members, bc.replicas, bc.clients)
		if bc.maxOps != 0 {
			name += fmt.Sprintf("/max-txn-ops=%d", bc.maxOps)
		}
		b.Run(name, func(b *testing.B) {
			c := shared
			if bc.members == 3 {
				c = three(b)
			}
			reps := newReplicas(b, c, bc.replicas, workflow.NewManualClock(storetest.T0), Config{MaxTxnOps: bc.maxOps})
			ids := createAssigned(b, reps[0], 1024, 365)
			officer := storetest.OfficerOf(storetest.Leping)
			var next, turn atomic.Uint64
			done := make([]atomic.Uint64, len(reps)) // commands each replica completed
			// The sealer runs on the first replica, as the elected one does
			// in serve; what the setup left is sealed before the clock starts.
			sctx, stopSeal := context.WithCancel(b.Context())
			sealerDone := make(chan struct{})
			go func() {
				defer close(sealerDone)
				_ = reps[0].st.RunSealer(sctx, 0, nil)
			}()
			defer func() {
				stopSeal()
				<-sealerDone
			}()
			if _, err := reps[0].st.Head(b.Context()); err != nil {
				b.Fatal(err)
			}
			var txns0, seals0 uint64
			for _, r := range reps {
				txns0 += r.st.Stats().Txns.Load()
				seals0 += r.st.Stats().SealTxns.Load()
			}
			b.SetParallelism(max(1, (bc.clients+runtime.GOMAXPROCS(0)-1)/runtime.GOMAXPROCS(0)))
			start := time.Now()
			b.ResetTimer()
			if bc.clients == 1 {
				for i := 0; b.Loop(); i++ {
					if _, err := reps[0].svc.AddNote(b.Context(), officer, ids[i%len(ids)], "已完成清运方案审批", 0); err != nil {
						b.Fatal(err)
					}
				}
			} else {
				b.RunParallel(func(pb *testing.PB) {
					ri := turn.Add(1) % uint64(len(reps))
					r := reps[ri]
					for pb.Next() {
						done[ri].Add(1)
						id := ids[next.Add(1)%uint64(len(ids))]
						if _, err := r.svc.AddNote(b.Context(), officer, id, "已完成清运方案审批", 0); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			// Every command is on the chain before the clock stops.
			if _, err := reps[0].st.Head(b.Context()); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			elapsed := time.Since(start)
			var txns, conflicts, seals uint64
			for _, r := range reps {
				txns += r.st.Stats().Txns.Load()
				conflicts += r.st.Stats().Conflicts.Load()
				seals += r.st.Stats().SealTxns.Load()
			}
			b.ReportMetric(float64(seals-seals0)/float64(b.N), "seals/op")
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "transitions/s")
			b.ReportMetric(float64(txns-txns0)/float64(b.N), "txns/op")
			b.ReportMetric(float64(conflicts)/float64(b.N), "conflicts/op")
			if len(reps) > 1 {
				least := done[0].Load()
				for i := range done {
					least = min(least, done[i].Load())
				}
				b.ReportMetric(100*float64(least)/float64(b.N), "%least-replica")
			}
		})
	}
}
