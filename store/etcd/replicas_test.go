package etcd

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jdz-eco/rectify/store/storetest"
	"github.com/jdz-eco/rectify/workflow"
)

// load drives commands through replicas from writers goroutines each until
// total commands are acknowledged, and returns what each replica
// acknowledged and every error. A writer adds a progress note to a random
// problem of ids, and every tenth command creates a problem instead.
type load struct {
	acks   [][]ack
	errs   []error
	counts []int
	lat    []time.Duration // every acknowledged command's latency
}

func driveLoad(t testing.TB, reps []*replica, ids []string, writers, total int) *load {
	t.Helper()
	officer := storetest.OfficerOf(storetest.Leping)
	var (
		mu   sync.Mutex
		done atomic.Int64
		wg   sync.WaitGroup
	)
	l := &load{acks: make([][]ack, len(reps)), counts: make([]int, len(reps))}
	for ri, r := range reps {
		for w := range writers {
			wg.Go(func() {
				rnd := rand.New(rand.NewPCG(uint64(ri), uint64(w)))
				for k := 0; done.Load() < int64(total); k++ {
					id := ids[rnd.IntN(len(ids))]
					text := fmt.Sprintf("%s-w%d-%d", r.name, w, k)
					ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
					start := time.Now()
					var (
						p   *workflow.Problem
						err error
					)
					if k%10 == 9 {
						p, _, err = r.svc.CreateProblem(ctx, storetest.BureauActor, workflow.NewProblem{
							Title: "并发新建 " + text, Description: "两个副本同时写入", Source: workflow.SourceSelfInspection, CountyID: storetest.Leping,
						})
						if err == nil {
							id, text = p.ID, ""
						}
					} else {
						p, err = r.svc.AddNote(ctx, officer, id, text, 0)
					}
					took := time.Since(start)
					cancel()
					mu.Lock()
					if err != nil {
						l.errs = append(l.errs, fmt.Errorf("%s: %w", r.name, err))
					} else {
						l.acks[ri] = append(l.acks[ri], ack{id: id, version: p.Version, text: text})
						l.counts[ri]++
						l.lat = append(l.lat, took)
					}
					mu.Unlock()
					if err == nil {
						done.Add(1)
					}
				}
			})
		}
	}
	wg.Wait()
	return l
}

// checkAcked checks that every acknowledged note is in its problem's history
// at the version it returned, once, with contiguous versions, and that the
// audit of the whole ledger passes.
func checkAcked(t *testing.T, st *Store, l *load) workflow.AuditReport {
	t.Helper()
	ctx := t.Context()
	byProblem := map[string]map[uint64]string{}
	for _, acks := range l.acks {
		for _, a := range acks {
			if _, ok := byProblem[a.id]; ok {
				continue
			}
			h, err := st.History(ctx, a.id)
			if err != nil {
				t.Fatal(err)
			}
			m := map[uint64]string{}
			for i, e := range h {
				if e.Version != uint64(i+1) {
					t.Errorf("problem %s: entry %d has version %d: versions are not contiguous", a.id, i, e.Version)
				}
				if i > 0 && e.Seq <= h[i-1].Seq {
					t.Errorf("problem %s: entry %d has seq %d after %d", a.id, i, e.Seq, h[i-1].Seq)
				}
				if e.Action == workflow.ActionNote {
					m[e.Version] = e.Params.Text
				}
			}
			byProblem[a.id] = m
		}
	}
	for _, acks := range l.acks {
		for _, a := range acks {
			if a.text == "" {
				continue // a create
			}
			if got := byProblem[a.id][a.version]; got != a.text {
				t.Errorf("acknowledged note %q of problem %s at version %d: history has %q", a.text, a.id, a.version, got)
			}
		}
	}
	rep, err := workflow.Audit(ctx, st, nil, nil)
	if err != nil {
		t.Fatalf("audit: %v", err)
	}
	return rep
}

// TestReplicasShareTheWork drives two replicas (stores) on one prefix of a
// three-member cluster with equal load at once, one writer each (where one
// replica used to starve the other) and eight each: each completes at least
// 40 % of the commands, none fails (no contention error), every
// acknowledged command is in the history once and the audit passes.
func TestReplicasShareTheWork(t *testing.T) {
	c := three(t)
	cases := []struct{ writers, total int }{{1, 400}, {8, 1600}}
	if raceDetector {
		cases = []struct{ writers, total int }{{1, 150}, {8, 400}}
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("writers=%d", tc.writers), func(t *testing.T) {
			reps := newReplicas(t, c, 2, workflow.NewManualClock(storetest.T0), Config{})
			ids := createAssigned(t, reps[0], 64, 365)
			// The elected sealer seals while both replicas write.
			sctx, stopSeal := context.WithCancel(t.Context())
			var swg sync.WaitGroup
			swg.Go(func() {
				_ = reps[0].st.RunAsLeader(sctx, "sealer", func(ctx context.Context) error {
					return reps[0].st.RunSealer(ctx, 0, func(err error) { t.Errorf("sealer: %v", err) })
				})
			})
			defer func() {
				stopSeal()
				swg.Wait()
			}()
			start := time.Now()
			l := driveLoad(t, reps, ids, tc.writers, tc.total)
			took := time.Since(start)
			for _, err := range l.errs[:min(len(l.errs), 5)] {
				t.Errorf("failed: %v", err)
			}
			if len(l.errs) > 0 {
				t.Errorf("%d commands failed", len(l.errs))
			}
			all := l.counts[0] + l.counts[1]
			for i, n := range l.counts {
				if share := float64(n) / float64(all); share < 0.4 {
					t.Errorf("%s completed %d of %d commands (%.1f %%), want at least 40 %%", reps[i].name, n, all, 100*share)
				}
			}
			rep := checkAcked(t, reps[1].st, l)
			var conflicts, txns, seals uint64
			for _, r := range reps {
				conflicts += r.st.Stats().Conflicts.Load()
				txns += r.st.Stats().Txns.Load()
				seals += r.st.Stats().SealTxns.Load()
			}
			t.Logf("%d commands in %v (%.0f/s): r0 %d, r1 %d; %d transactions, %d conflicts, %d seal transactions; audit: %d entries, head %s",
				all, took.Round(time.Millisecond), float64(all)/took.Seconds(), l.counts[0], l.counts[1], txns, conflicts, seals, rep.Entries, rep.Head)
		})
	}
}

// latencies sums up request latencies.
func latencies(ds []time.Duration) string {
	if len(ds) == 0 {
		return "none"
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	q := func(f float64) time.Duration { return s[min(len(s)-1, int(f*float64(len(s))))].Round(time.Millisecond) }
	return fmt.Sprintf("%d requests, p50 %v, p99 %v, max %v", len(s), q(0.5), q(0.99), s[len(s)-1].Round(time.Millisecond))
}

// TestHungMember makes one etcd member unresponsive (a proxy in front of
// its client URL stops forwarding; the member and its Raft traffic carry
// on, as under SIGSTOP from the clients' side) for longer than the request
// timeout while two replicas write and read: no request fails. The latency
// is reported, not asserted.
func TestHungMember(t *testing.T) {
	c := three(t)
	lead, err := c.leader()
	if err != nil {
		t.Fatal(err)
	}
	var hung *member
	var eps []string
	for _, m := range c.members {
		if m != lead && hung == nil {
			hung = m
			continue
		}
		eps = append(eps, m.clientURL)
	}
	px, err := newProxy(strings.TrimPrefix(hung.clientURL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer px.close()
	eps = append(eps, px.url())
	reps := newReplicas(t, c, 2, workflow.NewManualClock(storetest.T0), Config{Endpoints: eps})
	ids := createAssigned(t, reps[0], 32, 365)

	// The sealer runs under the election on the first replica, as in serve.
	lctx, cancelLead := context.WithCancel(t.Context())
	var losses atomic.Int64
	var lwg sync.WaitGroup
	lwg.Go(func() {
		opts := LeaderOptions{OnLoss: func() { losses.Add(1) }}
		_ = reps[0].st.RunAsLeaderWith(lctx, "sealer", opts, func(ctx context.Context) error {
			return reps[0].st.RunSealer(ctx, 0, nil)
		})
	})

	officer := storetest.OfficerOf(storetest.Leping)
	var (
		mu               sync.Mutex
		all, during      []time.Duration
		errs             []error
		acks             atomic.Int64
		hanging, stopped atomic.Bool
		wg               sync.WaitGroup
	)
	for ri, r := range reps {
		for w := range 4 {
			wg.Go(func() {
				rnd := rand.New(rand.NewPCG(uint64(ri), uint64(w)))
				for k := 0; !stopped.Load(); k++ {
					id := ids[rnd.IntN(len(ids))]
					start := time.Now()
					var err error
					if k%2 == 0 {
						_, err = r.svc.AddNote(t.Context(), officer, id, fmt.Sprintf("%s-%d-%d", r.name, w, k), 0)
					} else {
						_, err = r.st.Problem(t.Context(), id)
					}
					d := time.Since(start)
					mu.Lock()
					if err != nil {
						errs = append(errs, fmt.Errorf("%s after %v: %w", r.name, d.Round(time.Millisecond), err))
					}
					all = append(all, d)
					if hanging.Load() {
						during = append(during, d)
					}
					mu.Unlock()
					if err == nil {
						acks.Add(1)
					}
				}
			})
		}
	}
	waitAcks := func(n int64) {
		deadline := time.Now().Add(60 * time.Second) // a guard, not a measurement
		for acks.Load() < n && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
	}
	before := int64(300)
	if raceDetector {
		before = 100
	}
	waitAcks(before)
	// Unresponsive for longer than the request timeout (the scenario's
	// length, not a measurement).
	hangFor := DefaultRequestTimeout + 2*time.Second
	px.pause()
	hanging.Store(true)
	time.Sleep(hangFor)
	hanging.Store(false)
	px.unpause()
	waitAcks(acks.Load() + before)
	stopped.Store(true)
	wg.Wait()
	lost := losses.Load() // before the resignation below
	cancelLead()
	lwg.Wait()

	for i, err := range errs {
		if i < 5 {
			t.Errorf("failed: %v", err)
		}
	}
	if len(errs) > 0 {
		t.Errorf("%d of %d requests failed while a member hung", len(errs), len(all))
	}
	if _, err := workflow.Audit(t.Context(), reps[1].st, nil, nil); err != nil {
		t.Fatalf("audit: %v", err)
	}
	t.Logf("member %s hung for %v: all: %s; while it hung: %s; the elected sealer lost its leadership %d times; the members' monitors changed their balancers %d and %d times",
		hung.name, hangFor, latencies(all), latencies(during), lost, reps[0].st.members.changes.Load(), reps[1].st.members.changes.Load())
}
