package etcd

import (
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
// package's single-member server and on a three-member cluster, from one
// client at a time and from 64 concurrent clients spread over one or two
// replicas (Stores) on 1,024 problems (maxOps, when set, needs a cluster
// started with a --max-txn-ops as large):
//
//	go test ./store/etcd -run '^$' -bench Transitions -benchtime 5s
func BenchmarkTransitions(b *testing.B) {
	var three *cluster
	dir := b.TempDir() // the cluster outlives the sub-benchmark that starts it
	defer func() {
		if three != nil {
			three.stop()
		}
	}()
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
				if three == nil {
					var err error
					if three, err = startCluster(dir, 3); err != nil {
						b.Fatal(err)
					}
				}
				c = three
			}
			reps := newReplicas(b, c, bc.replicas, workflow.NewManualClock(storetest.T0), Config{MaxTxnOps: bc.maxOps})
			ids := createAssigned(b, reps[0], 1024, 365)
			officer := storetest.OfficerOf(storetest.Leping)
			var next, turn atomic.Uint64
			var txns0 uint64
			for _, r := range reps {
				txns0 += r.st.Stats().Txns.Load()
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
					r := reps[turn.Add(1)%uint64(len(reps))]
					for pb.Next() {
						id := ids[next.Add(1)%uint64(len(ids))]
						if _, err := r.svc.AddNote(b.Context(), officer, id, "已完成清运方案审批", 0); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			b.StopTimer()
			elapsed := time.Since(start)
			var txns, conflicts uint64
			for _, r := range reps {
				txns += r.st.Stats().Txns.Load()
				conflicts += r.st.Stats().Conflicts.Load()
			}
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "transitions/s")
			b.ReportMetric(float64(txns-txns0)/float64(b.N), "txns/op")
			b.ReportMetric(float64(conflicts)/float64(b.N), "conflicts/op")
		})
	}
}
