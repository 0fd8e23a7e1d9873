package webhook

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jdz-eco/rectify/workflow"
)

func newDispatcher(t *testing.T, o Outbox, s *sleeper, urls ...string) *Dispatcher {
	t.Helper()
	d, err := New(Config{Outbox: o, URLs: urls, Secret: secret, Sleep: s.sleep, BatchSize: 4,
		MinBackoff: time.Second, MaxBackoff: time.Minute, Client: &http.Client{Timeout: 5 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestRetriesUntilDelivered: a receiver that fails the first attempts (500,
// dropped connections) and some later ones still gets every event once, in
// seq order, each signed.
func TestRetriesUntilDelivered(t *testing.T) {
	o := newOutbox()
	for range 5 {
		o.add("1", "2", "3") // interleaved problems
	}
	o.add("2", "2")
	rcv := newReceiver(t, func(n int, _ workflow.Event) action {
		switch {
		case n <= 2:
			return fail500
		case n == 3:
			return drop
		case n%5 == 0:
			return fail500
		case n%7 == 0:
			return drop
		}
		return accept
	})
	s := &sleeper{}
	d := newDispatcher(t, o, s, rcv.srv.URL)
	n, err := d.DeliverPending(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if want := o.seqs(); n != len(want) || !slices.Equal(rcv.accepted(), want) {
		t.Fatalf("delivered %d, receiver accepted %v; want each of %v once, in order", n, rcv.accepted(), want)
	}
	rcv.checkRequests(t)
	checkPerProblemOrder(t, rcv.requests())
	if reqs := rcv.requests(); reqs[3].attempt != 4 || reqs[3].event.Seq != 1 || !reqs[3].accepted {
		t.Errorf("fourth request %+v; want the fourth attempt at the first event, accepted", reqs[3])
	}
	if c, _ := o.Cursor(context.Background(), CursorName(rcv.srv.URL)); c != 17 {
		t.Errorf("cursor %d, want 17", c)
	}
	failures := len(rcv.requests()) - len(o.seqs())
	if got := len(s.durations()); got != failures {
		t.Errorf("%d sleeps for %d failures", got, failures)
	}

	// Nothing new: nothing is sent again.
	before := len(rcv.requests())
	if n, err := d.DeliverPending(context.Background()); n != 0 || err != nil || len(rcv.requests()) != before {
		t.Errorf("second DeliverPending: %d, %v, %d requests", n, err, len(rcv.requests())-before)
	}
}

// TestTimeoutIsRetried: an endpoint that does not answer in time is tried
// again.
func TestTimeoutIsRetried(t *testing.T) {
	o := newOutbox()
	o.add("1", "1")
	rcv := newReceiver(t, func(n int, _ workflow.Event) action {
		if n == 1 {
			return hang
		}
		return accept
	})
	d, err := New(Config{Outbox: o, URLs: []string{rcv.srv.URL}, Secret: secret, Sleep: (&sleeper{}).sleep,
		Client: &http.Client{Timeout: 50 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := d.DeliverPending(context.Background()); n != 2 || err != nil {
		t.Fatalf("DeliverPending: %d, %v", n, err)
	}
	reqs := rcv.requests()
	if len(reqs) != 3 || reqs[0].accepted || reqs[1].event.Seq != 1 || reqs[1].attempt != 2 {
		t.Errorf("requests %+v; want the first event timed out, then sent again", reqs)
	}
}

// TestRestart: a dispatcher stopped in the middle leaves its cursor in the
// store; a new one on the same store delivers the rest and sends again at
// most the event that was in flight.
func TestRestart(t *testing.T) {
	o := newOutbox()
	for range 4 {
		o.add("1", "2")
	}
	ctx, stop := context.WithCancel(context.Background())
	rcv := newReceiver(t, func(n int, _ workflow.Event) action {
		if n == 6 {
			stop() // the process dies while the sixth event is in flight
		}
		return accept
	})
	d1 := newDispatcher(t, o, &sleeper{}, rcv.srv.URL)
	if _, err := d1.DeliverPending(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("first dispatcher: %v, want it cancelled", err)
	}
	if got := len(rcv.requests()); got != 6 {
		t.Fatalf("%d requests before the crash, want 6", got)
	}
	cursor, _ := o.Cursor(context.Background(), CursorName(rcv.srv.URL))
	if cursor != 5 && cursor != 6 {
		t.Fatalf("cursor %d after the crash, want 5 or 6", cursor)
	}
	o.add("1", "3") // more events while it is down

	d2 := newDispatcher(t, o, &sleeper{}, rcv.srv.URL)
	n, err := d2.DeliverPending(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if want := 10 - int(cursor); n != want {
		t.Errorf("second dispatcher delivered %d, want %d", n, want)
	}
	got := rcv.accepted()
	if dedup := slices.Compact(slices.Clone(got)); !slices.Equal(dedup, o.seqs()) {
		t.Fatalf("receiver got %v; want every one of %v, in order", got, o.seqs())
	}
	switch {
	case len(got) == len(o.seqs()):
	case len(got) == len(o.seqs())+1 && got[5] == 6 && got[6] == 6:
		// the in-flight event, sent again: at least once allows that
	default:
		t.Errorf("receiver got %v; only the event in flight at the crash may come twice", got)
	}
	rcv.checkRequests(t)
}

// TestBackoff: waits double from MinBackoff up to MaxBackoff; with jitter
// they stay within [half, full].
func TestBackoff(t *testing.T) {
	for _, jitter := range []bool{false, true} {
		o := newOutbox()
		o.add("1", "2")
		rcv := newReceiver(t, func(n int, _ workflow.Event) action {
			if n <= 9 {
				return fail500
			}
			return accept
		})
		s := &sleeper{}
		d, err := New(Config{Outbox: o, URLs: []string{rcv.srv.URL}, Secret: secret, Sleep: s.sleep,
			MinBackoff: time.Second, MaxBackoff: 45 * time.Second, Jitter: jitter})
		if err != nil {
			t.Fatal(err)
		}
		if n, err := d.DeliverPending(context.Background()); n != 2 || err != nil {
			t.Fatalf("DeliverPending: %d, %v", n, err)
		}
		want := []time.Duration{1, 2, 4, 8, 16, 32, 45, 45, 45}
		got := s.durations()
		if len(got) != len(want) {
			t.Fatalf("jitter %v: sleeps %v, want %v seconds", jitter, got, want)
		}
		for i := range want {
			w := want[i] * time.Second
			if !jitter && got[i] != w || jitter && (got[i] < w/2 || got[i] > w) {
				t.Errorf("jitter %v: sleep %d is %v, want %v", jitter, i+1, got[i], w)
			}
		}
	}
}

// TestRun: Run polls every PollInterval, picks up new events and stops
// with its context.
func TestRun(t *testing.T) {
	o := newOutbox()
	o.add("1")
	rcv := newReceiver(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	polls := 0
	s := &sleeper{}
	s.hook = func(ctx context.Context, d time.Duration) error {
		if d != 250*time.Millisecond {
			t.Errorf("Run slept %v, want the poll interval", d)
		}
		polls++
		switch polls {
		case 1:
			o.add("2", "1")
		case 3:
			cancel()
			return ctx.Err()
		}
		return nil
	}
	d, err := New(Config{Outbox: o, URLs: []string{rcv.srv.URL}, Secret: secret, Sleep: s.sleep, PollInterval: 250 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	d.Run(ctx)
	if !slices.Equal(rcv.accepted(), []uint64{1, 2, 3}) {
		t.Errorf("accepted %v", rcv.accepted())
	}
}

// TestEndpointsIndependent: each URL has its own cursor; one that is down
// does not hold up the others.
func TestEndpointsIndependent(t *testing.T) {
	o := newOutbox()
	o.add("1", "2", "1")
	var down atomic.Bool
	down.Store(true)
	dead := newReceiver(t, func(int, workflow.Event) action {
		if down.Load() {
			return fail500
		}
		return accept
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	live := newReceiver(t, nil)
	s := &sleeper{hook: func(ctx context.Context, _ time.Duration) error {
		if c, _ := o.Cursor(ctx, CursorName(live.srv.URL)); c == 3 {
			cancel() // the live endpoint has everything
		}
		runtime.Gosched()
		return ctx.Err()
	}}
	d := newDispatcher(t, o, s, dead.srv.URL, live.srv.URL)
	d.Run(ctx)
	if !slices.Equal(live.accepted(), []uint64{1, 2, 3}) || len(dead.accepted()) != 0 {
		t.Fatalf("live accepted %v, dead %v", live.accepted(), dead.accepted())
	}
	if c, _ := o.Cursor(context.Background(), CursorName(dead.srv.URL)); c != 0 {
		t.Errorf("dead endpoint's cursor %d", c)
	}
	down.Store(false)
	if n, err := d.DeliverPending(context.Background()); n != 3 || err != nil {
		t.Errorf("once up: %d, %v", n, err)
	}
	// A request for event 1 that Run abandoned when it stopped may reach
	// the handler only now, at any point of the recovery: the dead
	// endpoint may log event 1 a second time (at least once), and nothing
	// else twice or out of order.
	got := dead.accepted()
	times := map[uint64]int{}
	var first []uint64
	for _, seq := range got {
		if times[seq] == 0 {
			first = append(first, seq)
		}
		times[seq]++
	}
	if !slices.Equal(first, []uint64{1, 2, 3}) || times[1] > 2 || times[2] != 1 || times[3] != 1 || len(live.accepted()) != 3 {
		t.Errorf("after recovery: dead %v, live %v", got, live.accepted())
	}
}

// TestOutboxError: DeliverPending reports a store failure; Run logs it and
// tries again after a backoff.
func TestOutboxError(t *testing.T) {
	o := newOutbox()
	o.add("1")
	o.fail = errors.New("disk on fire")
	rcv := newReceiver(t, nil)
	s := &sleeper{}
	d := newDispatcher(t, o, s, rcv.srv.URL)
	if _, err := d.DeliverPending(context.Background()); err == nil || !strings.Contains(err.Error(), "disk on fire") {
		t.Fatalf("DeliverPending: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var logs strings.Builder
	d.log = slog.New(slog.NewTextHandler(&logs, nil))
	calls := 0
	s.hook = func(ctx context.Context, d time.Duration) error {
		calls++
		switch calls {
		case 1, 2:
			if want := time.Duration(calls) * time.Second; d != want {
				t.Errorf("wait %d after a store error: %v, want %v", calls, d, want)
			}
			if calls == 2 {
				o.mu.Lock()
				o.fail = nil
				o.mu.Unlock()
			}
		default:
			cancel()
			return ctx.Err()
		}
		return nil
	}
	d.Run(ctx)
	if !slices.Equal(rcv.accepted(), []uint64{1}) || !strings.Contains(logs.String(), "disk on fire") {
		t.Errorf("accepted %v; logs %s", rcv.accepted(), logs.String())
	}
}

func TestSignVerify(t *testing.T) {
	body := []byte(`{"id":"evt-1","seq":1}`)
	sig := Sign(secret, body)
	// echo -n '{"id":"evt-1","seq":1}' | openssl dgst -sha256 -hmac s3cret-for-tests
	if sig != "sha256=58193f278c92a6dacbd016cd44caba75d82e6f486dc089cb8be04e84a0318191" {
		t.Fatalf("signature %q", sig)
	}
	if !Verify(secret, body, sig) {
		t.Error("Verify rejects Sign's signature")
	}
	for name, tc := range map[string]struct {
		secret, body []byte
		header       string
	}{
		"tampered body":  {secret, []byte(`{"id":"evt-1","seq":2}`), sig},
		"other secret":   {[]byte("other"), body, sig},
		"no prefix":      {secret, body, strings.TrimPrefix(sig, "sha256=")},
		"sha1 prefix":    {secret, body, "sha1=" + strings.TrimPrefix(sig, "sha256=")},
		"not hex":        {secret, body, "sha256=zz"},
		"truncated":      {secret, body, sig[:len(sig)-2]},
		"empty":          {secret, body, ""},
		"upper-case hex": {secret, body, "sha256=" + strings.ToUpper(strings.TrimPrefix(sig, "sha256="))},
	} {
		if want := name == "upper-case hex"; Verify(tc.secret, tc.body, tc.header) != want {
			t.Errorf("%s: Verify = %v", name, !want)
		}
	}
}

func TestNewRefuses(t *testing.T) {
	o := newOutbox()
	for name, cfg := range map[string]Config{
		"no outbox":     {URLs: []string{"http://x"}, Secret: secret},
		"no urls":       {Outbox: o, Secret: secret},
		"no secret":     {Outbox: o, URLs: []string{"http://x"}},
		"relative url":  {Outbox: o, URLs: []string{"/hook"}, Secret: secret},
		"ftp url":       {Outbox: o, URLs: []string{"ftp://x/hook"}, Secret: secret},
		"duplicate url": {Outbox: o, URLs: []string{"http://x/h", "http://x/h"}, Secret: secret},
		"negative":      {Outbox: o, URLs: []string{"http://x"}, Secret: secret, MinBackoff: -1},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	d, err := New(Config{Outbox: o, URLs: []string{"https://example.org/hook"}, Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	c := d.cfg
	if c.Client.Timeout != DefaultTimeout || c.MinBackoff != DefaultMinBackoff || c.MaxBackoff != DefaultMaxBackoff ||
		c.PollInterval != DefaultPollInterval || c.BatchSize != DefaultBatchSize || c.Sleep == nil || c.Logger == nil {
		t.Errorf("defaults: %+v", c)
	}
}

// TestDefaultSleep honours its context.
func TestDefaultSleep(t *testing.T) {
	if err := sleep(context.Background(), time.Millisecond); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := sleep(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled sleep: %v", err)
	}
}

func TestCursorNameAndRedact(t *testing.T) {
	if got := CursorName("https://hooks.example.org/rectify"); got != "webhook:https://hooks.example.org/rectify" {
		t.Errorf("CursorName = %q", got)
	}
	long := "https://hooks.example.org/rectify?token=" + strings.Repeat("x", 300)
	if got := CursorName(long); len(got) > maxCursorName || !strings.HasPrefix(got, "webhook:sha256:") || got == CursorName(long+"y") {
		t.Errorf("CursorName(long) = %q", got)
	}
	if got := Redact("https://user:pw@hooks.example.org:8443/a/b?token=t#f"); got != "https://hooks.example.org:8443/a/b" {
		t.Errorf("Redact = %q", got)
	}
}

// claimingOutbox is a memOutbox shared with other dispatchers, whose claims
// the test decides.
type claimingOutbox struct {
	*memOutbox
	claim  func() (time.Time, error)
	claims int
}

func (o *claimingOutbox) ClaimDelivery(_ context.Context, name string, after uint64) (time.Time, error) {
	o.claims++
	return o.claim()
}

// TestClaimBeforeDelivery: with a Claimer outbox, every attempt is claimed
// first; a refused claim, or one that keeps running out before it is used
// (the process paused in between), sends nothing.
func TestClaimBeforeDelivery(t *testing.T) {
	var posted atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { posted.Add(1) }))
	defer srv.Close()
	out := &claimingOutbox{memOutbox: newOutbox()}
	out.add("p1", "p2")
	posts := func() int64 { return posted.Load() }
	d, err := New(Config{Outbox: out, URLs: []string{srv.URL}, Secret: secret,
		Sleep: func(context.Context, time.Duration) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	out.claim = func() (time.Time, error) { return time.Time{}, errors.New("fenced off: no longer the leader") }
	if n, err := d.DeliverPending(context.Background()); err == nil || n != 0 || posts() != 0 {
		t.Fatalf("refused claim: delivered %d, %d posts, err %v", n, posts(), err)
	}
	out.claim = func() (time.Time, error) { return time.Now().Add(-time.Second), nil }
	if n, err := d.DeliverPending(context.Background()); err == nil || n != 0 || posts() != 0 || out.claims != 4 {
		t.Fatalf("claims that ran out: delivered %d, %d posts, %d claims, err %v", n, posts(), out.claims, err)
	}
	out.claim = func() (time.Time, error) { return time.Now().Add(time.Minute), nil }
	if n, err := d.DeliverPending(context.Background()); err != nil || n != 2 || posts() != 2 {
		t.Fatalf("granted claims: delivered %d, %d posts, err %v", n, posts(), err)
	}
}
