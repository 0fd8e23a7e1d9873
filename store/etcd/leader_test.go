package etcd

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jdz-eco/rectify/store/storetest"
	"github.com/jdz-eco/rectify/workflow"
)

// scanResult is what one scan recorded.
type scanResult struct {
	n   int
	err error
}

// leadEvent is a replica becoming leader.
type leadEvent struct {
	r   *replica
	key string
	rev int64
}

// waitFor receives from ch or fails the test after a generous bound (a
// guard against hanging, not a measurement).
func waitFor[T any](t *testing.T, what string, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(20 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

// TestLeaderHandover runs the deadline scanner under RunAsLeader on two
// replicas. Scans run on the leader and, at the same time, directly on both
// replicas; the leader's session is killed halfway; the other replica takes
// over; the deposed leader's late scan is fenced off. Each alert level is
// recorded exactly once per problem.
func TestLeaderHandover(t *testing.T) {
	clock := workflow.NewManualClock(storetest.T0)
	reps := newReplicas(t, shared, 2, clock, Config{})
	ids := createAssigned(t, reps[0], 6, 20)
	officer := storetest.OfficerOf(storetest.Leping)
	for _, id := range ids {
		// Accepted at once: no stage clock runs, only the deadline levels.
		if _, err := reps[1].svc.Fire(t.Context(), officer, id, workflow.Command{Trigger: workflow.TriggerAccept, Params: workflow.Params{Plan: "整改方案"}}); err != nil {
			t.Fatal(err)
		}
	}

	ctx, cancel := context.WithCancel(t.Context())
	leads := make(chan leadEvent, 4)
	losses := make(chan *replica, 4)
	requests := map[*replica]chan chan scanResult{}
	var wg sync.WaitGroup
	for _, r := range reps {
		req := make(chan chan scanResult)
		requests[r] = req
		wg.Go(func() {
			opts := LeaderOptions{TTL: 2, ID: r.name,
				OnLead: func(key string, rev int64) { leads <- leadEvent{r, key, rev} },
				OnLoss: func() { losses <- r },
			}
			err := r.st.RunAsLeaderWith(ctx, "scanner", opts, func(lctx context.Context) error {
				for {
					select {
					case <-lctx.Done():
						return nil
					case reply := <-req:
						n, err := r.svc.Scan(lctx)
						reply <- scanResult{n, err}
					}
				}
			})
			if err != nil {
				t.Error(err)
			}
		})
	}
	defer func() {
		cancel()
		wg.Wait()
	}()

	// step moves the clock and scans on the leader and directly on both
	// replicas at once.
	step := func(leader *replica, at time.Time) int {
		t.Helper()
		clock.Set(at)
		var (
			mu    sync.Mutex
			total int
			sw    sync.WaitGroup
		)
		record := func(res scanResult) {
			if res.err != nil {
				t.Errorf("scan: %v", res.err)
			}
			mu.Lock()
			total += res.n
			mu.Unlock()
		}
		sw.Go(func() {
			reply := make(chan scanResult, 1)
			requests[leader] <- reply
			record(waitFor(t, "the leader's scan", reply))
		})
		for _, r := range reps {
			sw.Go(func() {
				n, err := r.svc.Scan(context.Background())
				record(scanResult{n, err})
			})
		}
		sw.Wait()
		return total
	}

	first := waitFor(t, "a leader", leads)
	if got, err := first.r.st.Leader(t.Context(), "scanner"); err != nil || got != first.r.name {
		t.Errorf("Leader = %q, %v; want %s", got, err, first.r.name)
	}
	d := storetest.Deadline(20)
	if n := step(first.r, d.AddDate(0, 0, -3)); n != len(ids) {
		t.Errorf("due_soon scan recorded %d alerts, want %d", n, len(ids))
	}
	if n := step(first.r, d.Add(24*time.Hour)); n != len(ids) {
		t.Errorf("overdue scan recorded %d alerts, want %d", n, len(ids))
	}

	// Kill the leader's session (as a partitioned or frozen process loses
	// it): its election key goes with its lease.
	kv, err := first.r.st.getAbs(t.Context(), first.key)
	if err != nil || kv == nil {
		t.Fatalf("leader key: %v, %v", kv, err)
	}
	killed := time.Now()
	if _, err := first.r.st.Client().Revoke(t.Context(), leaseID(kv.Lease)); err != nil {
		t.Fatal(err)
	}
	second := waitFor(t, "the other replica to take over", leads)
	t.Logf("%s took over from %s %v after its session was killed", second.r.name, first.r.name, time.Since(killed).Round(time.Millisecond))
	if second.r == first.r {
		t.Fatalf("%s was elected again", first.r.name)
	}
	if lost := waitFor(t, "the deposed leader to stop", losses); lost != first.r {
		t.Errorf("%s lost the leadership, want %s", lost.name, first.r.name)
	}

	// The deposed leader's late scan (its fence still in hand) writes
	// nothing, although red cards are due: the scan that follows records
	// them all. (Scan's count may include the alerts it decided but could
	// not write.)
	red := d.AddDate(0, 0, 31)
	clock.Set(red)
	if _, err := first.r.svc.Scan(WithFence(context.Background(), first.key, first.rev)); !errors.Is(err, ErrFenced) {
		t.Errorf("deposed leader's scan = %v, want ErrFenced", err)
	}
	if n := step(second.r, red); n != len(ids) {
		t.Errorf("red scan recorded %d alerts, want %d", n, len(ids))
	}
	if n := step(second.r, d.AddDate(0, 0, 61)); n != len(ids) {
		t.Errorf("listed scan recorded %d alerts, want %d", n, len(ids))
	}
	if n := step(second.r, d.AddDate(0, 0, 90)); n != 0 {
		t.Errorf("a scan with nothing due recorded %d alerts", n)
	}

	for _, id := range ids {
		h, err := reps[0].st.History(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		count := map[string]int{}
		for _, e := range h {
			if e.Action == workflow.ActionAlert {
				count[e.Params.Level]++
			}
		}
		for _, l := range workflow.Levels {
			if count[string(l)] != 1 {
				t.Errorf("problem %s: level %s recorded %d times, want once", id, l, count[string(l)])
			}
		}
		if len(count) != len(workflow.Levels) {
			t.Errorf("problem %s: alerts %v", id, count)
		}
	}
	if _, err := workflow.Audit(t.Context(), reps[1].st, nil, nil); err != nil {
		t.Fatal(err)
	}
}

// TestResignOnShutdown: the leader's context ends (a clean shutdown, as on
// SIGTERM): it resigns, and the other replica leads at once, not when the
// session's lease expires. The time it took is reported.
func TestResignOnShutdown(t *testing.T) {
	reps := newReplicas(t, shared, 2, workflow.NewManualClock(storetest.T0), Config{})
	leads := make(chan *replica, 2)
	var logs [2]syncBuffer
	ctxs := make([]context.CancelFunc, 2)
	done := []chan struct{}{make(chan struct{}), make(chan struct{})}
	for i, r := range reps {
		ctx, cancel := context.WithCancel(t.Context())
		ctxs[i] = cancel
		go func() {
			defer close(done[i])
			opts := LeaderOptions{ID: r.name, Logger: slog.New(slog.NewTextHandler(&logs[i], nil)),
				OnLead: func(string, int64) { leads <- r }}
			_ = r.st.RunAsLeaderWith(ctx, "scanner", opts, func(lctx context.Context) error {
				<-lctx.Done()
				return nil
			})
		}()
		if i == 0 {
			if first := waitFor(t, "the first leader", leads); first != r {
				t.Fatalf("%s leads, want %s", first.name, r.name)
			}
		}
	}
	defer func() {
		for i, c := range ctxs {
			c()
			<-done[i]
		}
	}()
	stopped := time.Now()
	ctxs[0]()
	next := waitFor(t, "the other replica to take over", leads)
	took := time.Since(stopped)
	if next != reps[1] {
		t.Fatalf("%s took over, want %s", next.name, reps[1].name)
	}
	t.Logf("%s took over %v after %s's context ended (session TTL %d s)", next.name, took.Round(time.Millisecond), reps[0].name, DefaultLeaderTTL)
	<-done[0]
	if l := logs[0].String(); !strings.Contains(l, "resigned") || strings.Contains(l, "leadership lost") {
		t.Errorf("r0 did not resign cleanly:\n%s", l)
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
