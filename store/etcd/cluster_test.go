package etcd

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jdz-eco/rectify/store/storetest"
	"github.com/jdz-eco/rectify/workflow"
)

// replica is one rectify replica of a test: a store and a service on it.
type replica struct {
	name string
	st   *Store
	svc  *workflow.Service
}

// newReplicas opens n stores on one prefix of c, each with a service on clock.
func newReplicas(t testing.TB, c *cluster, n int, clock workflow.Clock, cfg Config) []*replica {
	t.Helper()
	cfg.Prefix = newPrefix(t)
	var out []*replica
	for i := range n {
		st := openStore(t, c, cfg)
		out = append(out, &replica{name: fmt.Sprintf("r%d", i), st: st, svc: workflow.NewService(st, clock)})
	}
	if err := out[0].svc.PutUnits(context.Background(), storetest.Units()); err != nil {
		t.Fatal(err)
	}
	return out
}

// createAssigned creates n problems led by storetest.Leping with a deadline
// days after storetest.T0, through replica r.
func createAssigned(t testing.TB, r *replica, n, days int) []string {
	t.Helper()
	ctx := context.Background()
	var ids []string
	d := storetest.Deadline(days)
	for i := range n {
		p, _, err := r.svc.CreateProblem(ctx, storetest.BureauActor, workflow.NewProblem{
			Title: fmt.Sprintf("乐平市问题 %d", i+1), Description: "集群测试", Source: workflow.SourceCentralInspection, CountyID: storetest.Leping,
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.svc.Fire(ctx, storetest.BureauActor, p.ID, workflow.Command{Trigger: workflow.TriggerAssign,
			Params: workflow.Params{LeadUnit: storetest.Leping, CooperatingUnits: []string{storetest.Water}, Deadline: &d}}); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, p.ID)
	}
	return ids
}

// ack is a command a replica acknowledged: problem id, the version it
// returned, the note it wrote.
type ack struct {
	id      string
	version uint64
	text    string
}

// TestClusterReplicas drives notes through two replicas of a three-member
// cluster and stops the etcd leader in the middle of the load. Every
// acknowledged command is in the history at the version it returned, each
// problem's versions are contiguous, every note is there at most once and
// the hash chain has no fork (the audit passes).
func TestClusterReplicas(t *testing.T) {
	c := three(t)
	defer func() {
		if err := c.restartAll(); err != nil {
			t.Fatal(err)
		}
	}()
	clock := workflow.NewManualClock(storetest.T0)
	reps := newReplicas(t, c, 2, clock, Config{RequestTimeout: 2 * time.Second})
	ids := createAssigned(t, reps[0], 12, 365)

	const writersPerReplica = 8
	const target = 1200 // acknowledged notes, all told
	officer := storetest.OfficerOf(storetest.Leping)
	var (
		mu      sync.Mutex
		acks    []ack
		failed  []error
		total   atomic.Int64
		stopped = make(chan struct{})
		done    = make(chan struct{})
	)
	var wg sync.WaitGroup
	for _, r := range reps {
		for w := range writersPerReplica {
			wg.Go(func() {
				for k := 0; ; k++ {
					select {
					case <-done:
						return
					default:
					}
					id := ids[(w*7+k)%len(ids)]
					text := fmt.Sprintf("%s-w%d-%d", r.name, w, k)
					ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
					p, err := r.svc.AddNote(ctx, officer, id, text, 0)
					cancel()
					mu.Lock()
					if err != nil {
						failed = append(failed, err)
					} else {
						acks = append(acks, ack{id: id, version: p.Version, text: text})
					}
					mu.Unlock()
					if err == nil && total.Add(1) >= target {
						return
					}
				}
			})
		}
	}
	// Stop the Raft leader once a third of the load is acknowledged.
	go func() {
		for total.Load() < target/3 {
			time.Sleep(5 * time.Millisecond) // polling the load, not asserting on time
		}
		l, err := c.leader()
		if err == nil {
			t.Logf("killing the etcd leader %s after %d acknowledged notes", l.name, total.Load())
			l.crash()
		}
		close(stopped)
	}()
	wg.Wait()
	close(done)
	<-stopped

	// Check through a store of its own, on the surviving members.
	check := openStore(t, c, Config{Prefix: reps[0].st.Prefix()})
	ctx := t.Context()
	byProblem := map[string]map[uint64]string{}
	texts := map[string]int{}
	for _, id := range ids {
		h, err := check.History(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		m := map[uint64]string{}
		for i, e := range h {
			if e.Version != uint64(i+1) {
				t.Errorf("problem %s: entry %d has version %d: versions are not contiguous", id, i, e.Version)
			}
			if i > 0 && e.Seq <= h[i-1].Seq {
				t.Errorf("problem %s: entry %d has seq %d after %d", id, i, e.Seq, h[i-1].Seq)
			}
			if e.Action == workflow.ActionNote {
				m[e.Version] = e.Params.Text
				texts[e.Params.Text]++
			}
		}
		byProblem[id] = m
	}
	for text, n := range texts {
		if n > 1 {
			t.Errorf("note %q is in the history %d times", text, n)
		}
	}
	for _, a := range acks {
		if got := byProblem[a.id][a.version]; got != a.text {
			t.Errorf("acknowledged note %q of problem %s at version %d: history has %q", a.text, a.id, a.version, got)
		}
	}
	rep, err := workflow.Audit(ctx, check, nil, nil)
	if err != nil {
		t.Fatalf("audit after the leader stopped: %v", err)
	}
	var unknown, resolved, resent, conflicts uint64
	for _, r := range reps {
		st := r.st.Stats()
		unknown += st.Unknown.Load()
		resolved += st.Resolved.Load()
		resent += st.Resent.Load()
		conflicts += st.Conflicts.Load()
	}
	t.Logf("%d notes acknowledged, %d failed (unacknowledged); audit: %d entries, head %s; %d conflicts, %d unknown outcomes (%d found committed, %d resent)",
		len(acks), len(failed), rep.Entries, rep.Head, conflicts, unknown, resolved, resent)
	for i, err := range failed {
		if i < 5 {
			t.Logf("failed: %v", err)
		}
	}
}
