package etcd

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.etcd.io/etcd/client/v3/concurrency"

	"github.com/jdz-eco/rectify/store/storetest"
	"github.com/jdz-eco/rectify/workflow"
	"github.com/jdz-eco/rectify/workflow/webhook"
)

// delivery is one POST the receiver got.
type delivery struct {
	from  string // the replica that sent it
	event string
	seq   uint64
}

// receiver records the deliveries of the replicas' dispatchers.
type receiver struct {
	mu   sync.Mutex
	got  []delivery
	seen map[string]bool
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var seq uint64
	id := r.Header.Get(webhook.HeaderEventID)
	_, _ = fmt.Sscanf(id, "evt-%d", &seq)
	rc.mu.Lock()
	rc.got = append(rc.got, delivery{from: r.Header.Get("X-Test-Replica"), event: id, seq: seq})
	rc.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// has reports whether replica from delivered seq.
func (rc *receiver) has(from string, seq uint64) bool {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	for _, d := range rc.got {
		if d.from == from && d.seq == seq {
			return true
		}
	}
	return false
}

func (rc *receiver) deliveries() []delivery {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]delivery(nil), rc.got...)
}

// tagged is an http.RoundTripper that names the replica sending.
type tagged struct{ name string }

func (tg tagged) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("X-Test-Replica", tg.name)
	return http.DefaultTransport.RoundTrip(r)
}

// pausing is a replica's outbox whose dispatcher can be frozen right
// after it read a batch of events, as a process stopped (SIGSTOP) there.
type pausing struct {
	*Store
	armed   atomic.Bool
	held    chan struct{} // receives when a batch is held
	release chan struct{} // closed to let it go
	reads   atomic.Int64  // Events calls
}

func (p *pausing) Events(ctx context.Context, after uint64, limit int) ([]workflow.Event, error) {
	p.reads.Add(1)
	evs, err := p.Store.Events(ctx, after, limit)
	if len(evs) > 0 && p.armed.CompareAndSwap(true, false) {
		p.held <- struct{}{}
		<-p.release
	}
	return evs, err
}

// waitUntil polls cond (a guard of 20 s against hanging, not a measurement).
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestNoStaleDelivery freezes the leading dispatcher (r0) with a batch of
// events read, ends its leadership (its session's lease revoked: as a
// stopped process's expires) without its noticing, lets the new leader
// (r1) deliver the batch, then resumes r0: it sends nothing more, and the
// first deliveries of the events stay in order.
func TestNoStaleDelivery(t *testing.T) {
	ctx := t.Context()
	clock := workflow.NewManualClock(storetest.T0)
	reps := newReplicas(t, shared, 2, clock, Config{})
	rc := &receiver{}
	hook := httptest.NewServer(rc)
	defer hook.Close()
	quick := func(ctx context.Context, d time.Duration) error { return sleepCtx(ctx, min(d, 5*time.Millisecond)) }
	newDispatcher := func(name string, out webhook.Outbox) *webhook.Dispatcher {
		d, err := webhook.New(webhook.Config{Outbox: out, URLs: []string{hook.URL}, Secret: []byte("s"),
			Client: &http.Client{Transport: tagged{name}}, PollInterval: 5 * time.Millisecond, Sleep: quick})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}

	// r0 leads with a session of its own: revoking it ends the leadership
	// while r0's dispatcher, frozen, has not noticed (its context lives on).
	sess, err := concurrency.NewSession(reps[0].st.Client(), concurrency.WithTTL(2))
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	el := concurrency.NewElection(sess, reps[0].st.electionPrefix("webhook-dispatcher"))
	if err := el.Campaign(ctx, "r0"); err != nil {
		t.Fatal(err)
	}
	p0 := &pausing{Store: reps[0].st, held: make(chan struct{}), release: make(chan struct{})}
	d0ctx, stopD0 := context.WithCancel(WithFence(context.Background(), el.Key(), el.Rev()))
	var wg sync.WaitGroup
	wg.Go(func() { newDispatcher("r0", p0).Run(d0ctx) })
	defer func() {
		stopD0()
		wg.Wait()
	}()

	leads := make(chan struct{}, 1)
	lctx, stopLead := context.WithCancel(ctx)
	wg.Go(func() {
		opts := LeaderOptions{TTL: 2, ID: "r1", OnLead: func(string, int64) { leads <- struct{}{} }}
		_ = reps[1].st.RunAsLeaderWith(lctx, "webhook-dispatcher", opts, func(fctx context.Context) error {
			newDispatcher("r1", reps[1].st).Run(fctx)
			return nil
		})
	})
	defer stopLead()

	ids := createAssigned(t, reps[0], 2, 30) // 4 events: two creates, two assignments
	waitUntil(t, "r0 to deliver the first events", func() bool { return rc.has("r0", 4) })

	// Freeze r0 on its next batch, then write that batch.
	p0.armed.Store(true)
	officer := storetest.OfficerOf(storetest.Leping)
	for i := range 4 {
		if _, err := reps[1].svc.AddNote(ctx, officer, ids[i%2], fmt.Sprintf("进展 %d", i), 0); err != nil {
			t.Fatal(err)
		}
	}
	<-p0.held

	// r0's leadership ends; r1 takes over and delivers the batch.
	if _, err := reps[0].st.Client().Revoke(ctx, sess.Lease()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-leads:
	case <-time.After(20 * time.Second):
		t.Fatal("r1 did not take over")
	}
	waitUntil(t, "r1 to deliver the batch", func() bool { return rc.has("r1", 8) })

	// r0 resumes with the batch it read while it led.
	before := len(rc.deliveries())
	reads := p0.reads.Load()
	close(p0.release)
	waitUntil(t, "r0 to look at the outbox again", func() bool { return p0.reads.Load() > reads+1 })
	for _, d := range rc.deliveries()[before:] {
		if d.from == "r0" {
			t.Errorf("r0, no longer the leader, delivered %s after r1 took over", d.event)
		}
	}
	var last uint64
	seen := map[uint64]bool{}
	for _, d := range rc.deliveries() {
		if seen[d.seq] {
			continue
		}
		seen[d.seq] = true
		if d.seq < last {
			t.Errorf("first delivery of %s (from %s) after that of event %d", d.event, d.from, last)
		}
		last = d.seq
	}
	t.Logf("deliveries: %v", rc.deliveries())
}

var _ webhook.Claimer = (*Store)(nil)
