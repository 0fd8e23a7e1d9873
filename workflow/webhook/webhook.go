// Package webhook delivers the workflow's outbox events to HTTP endpoints.
//
// Each endpoint has its own cursor in the store ("webhook:" + URL), so each
// receives every event, in outbox (seq) order and hence in order per problem,
// at least once: an event is POSTed until the endpoint answers 2xx, and only
// then does the cursor move past it. A failure (non-2xx, network error,
// timeout) is retried with exponential backoff and the event is never skipped;
// a dispatcher started again on the same store carries on from the cursor.
// Where replicas share the outbox (the etcd store), the dispatcher runs on
// the elected leader only and claims every delivery attempt first
// (Claimer), so that one paused while a newer leader took over sends
// nothing stale when it resumes.
//
// The body is the event as JSON (workflow.Event: id, seq and the history
// entry: problem_id, version, at, actor, action, from, to, params; see Body).
// Receivers check the X-Rectify-Signature header with Verify and use
// X-Rectify-Event-Id to drop the duplicates at-least-once delivery allows.
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jdz-eco/rectify/workflow"
)

// Request headers.
const (
	HeaderEventID   = "X-Rectify-Event-Id"
	HeaderSignature = "X-Rectify-Signature"
	HeaderAttempt   = "X-Rectify-Attempt"
)

// Defaults of Config.
const (
	DefaultTimeout      = 10 * time.Second
	DefaultMinBackoff   = time.Second
	DefaultMaxBackoff   = 5 * time.Minute
	DefaultPollInterval = time.Second
	DefaultBatchSize    = 100
)

// Outbox is what the dispatcher needs from the store (workflow.Store has it).
type Outbox interface {
	// Events returns the events with Seq greater than after, in order, at
	// most limit.
	Events(ctx context.Context, after uint64, limit int) ([]workflow.Event, error)
	// Cursor returns the last seq consumer name has processed (0 if none).
	Cursor(ctx context.Context, name string) (uint64, error)
	// SetCursor records it.
	SetCursor(ctx context.Context, name string, seq uint64) error
}

// Claimer is an Outbox that several replicas share, whose dispatcher runs
// on an elected leader only (the etcd store). Before every delivery attempt
// the dispatcher asks ClaimDelivery whether it may still deliver the event
// after seq after to consumer name, and sends only before the time it
// returns: a dispatcher that was paused (a stopped process, a long GC, a
// partition) and resumes after a newer leader took over sends nothing that
// leader may have delivered already.
type Claimer interface {
	// ClaimDelivery returns until when the caller may deliver: an error
	// when it is not the leader any more, or when the consumer's cursor is
	// no longer after (another dispatcher moved it).
	ClaimDelivery(ctx context.Context, name string, after uint64) (until time.Time, err error)
}

// maxCursorName is the longest cursor name CursorName returns (the bolt
// store takes names up to 200 bytes).
const maxCursorName = 200

// CursorName is the name of url's cursor in the store: "webhook:" + url, or
// for a URL too long for that, "webhook:sha256:" and the hex SHA-256 of url.
func CursorName(url string) string {
	if name := "webhook:" + url; len(name) <= maxCursorName {
		return name
	}
	sum := sha256.Sum256([]byte(url))
	return "webhook:sha256:" + hex.EncodeToString(sum[:])
}

// Config configures a Dispatcher. Outbox, URLs and Secret are required.
type Config struct {
	Outbox Outbox
	URLs   []string
	Secret []byte

	// Client sends the requests; the default has DefaultTimeout.
	Client *http.Client
	// Logger receives delivery failures (warn) and progress (debug).
	Logger *slog.Logger

	// A failed attempt n (1, 2, …) is retried after MinBackoff·2^(n-1),
	// at most MaxBackoff; with Jitter, after a random duration between half
	// that and that.
	MinBackoff time.Duration
	MaxBackoff time.Duration
	Jitter     bool

	// PollInterval is how long Run waits once an endpoint has caught up.
	PollInterval time.Duration
	// BatchSize is how many events are read from the outbox at once.
	BatchSize int

	// Sleep waits d or until ctx ends (then returning its error); the
	// default uses a timer. Tests inject one that returns at once.
	Sleep func(ctx context.Context, d time.Duration) error

	// OnAttempt, if set, is called after every delivery attempt (metrics).
	OnAttempt func(Attempt)
}

// Attempt describes one delivery attempt, for Config.OnAttempt.
type Attempt struct {
	URL      string
	Event    string // event id
	Seq      uint64
	N        int // 1 for the first attempt at this event in this process
	Status   int // HTTP status; 0 if there was no response
	Err      error
	Duration time.Duration
}

// OK reports whether the attempt delivered the event.
func (a Attempt) OK() bool { return a.Err == nil }

// Dispatcher delivers outbox events to webhook endpoints. It is safe for
// concurrent use, but two dispatchers on one store must not share an
// endpoint.
type Dispatcher struct {
	cfg Config
	log *slog.Logger
}

// New checks cfg and fills in its defaults.
func New(cfg Config) (*Dispatcher, error) {
	if cfg.Outbox == nil {
		return nil, errors.New("webhook: no outbox")
	}
	if len(cfg.URLs) == 0 {
		return nil, errors.New("webhook: no URLs")
	}
	if len(cfg.Secret) == 0 {
		return nil, errors.New("webhook: a secret is required to sign deliveries")
	}
	seen := map[string]bool{}
	for _, u := range cfg.URLs {
		if err := checkURL(u); err != nil {
			return nil, err
		}
		if seen[u] {
			return nil, fmt.Errorf("webhook: %s is listed twice", Redact(u))
		}
		seen[u] = true
	}
	if cfg.MinBackoff < 0 || cfg.MaxBackoff < 0 || cfg.PollInterval < 0 || cfg.BatchSize < 0 {
		return nil, errors.New("webhook: negative backoff, poll interval or batch size")
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: DefaultTimeout}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MinBackoff == 0 {
		cfg.MinBackoff = DefaultMinBackoff
	}
	if cfg.MaxBackoff == 0 {
		cfg.MaxBackoff = DefaultMaxBackoff
	}
	if cfg.MaxBackoff < cfg.MinBackoff {
		cfg.MaxBackoff = cfg.MinBackoff
	}
	if cfg.PollInterval == 0 {
		cfg.PollInterval = DefaultPollInterval
	}
	if cfg.BatchSize == 0 {
		cfg.BatchSize = DefaultBatchSize
	}
	if cfg.Sleep == nil {
		cfg.Sleep = sleep
	}
	cfg.URLs = append([]string(nil), cfg.URLs...)
	cfg.Secret = append([]byte(nil), cfg.Secret...)
	return &Dispatcher{cfg: cfg, log: cfg.Logger}, nil
}

func checkURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("webhook: bad URL %q: %w", Redact(s), err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("webhook: bad URL %q: want http(s)://host/…", Redact(s))
	}
	return nil
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Redact returns u without credentials, query or fragment, for logs: a
// webhook URL may carry a token.
func Redact(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "(bad URL)"
	}
	return p.Scheme + "://" + p.Host + p.Path
}

// URLs returns the endpoints.
func (d *Dispatcher) URLs() []string { return append([]string(nil), d.cfg.URLs...) }

// DeliverPending delivers every event now in the outbox to every endpoint,
// retrying each failure until it succeeds or ctx ends, and returns how many
// deliveries succeeded. Endpoints are served concurrently, so a failing one
// does not hold up the others. The error is ctx's or the store's.
func (d *Dispatcher) DeliverPending(ctx context.Context) (delivered int, err error) {
	var (
		mu   sync.Mutex
		wg   sync.WaitGroup
		errs []error
	)
	for _, u := range d.cfg.URLs {
		wg.Go(func() {
			n, err := d.deliverURL(ctx, u)
			mu.Lock()
			defer mu.Unlock()
			delivered += n
			if err != nil {
				errs = append(errs, err)
			}
		})
	}
	wg.Wait()
	return delivered, errors.Join(errs...)
}

// Run delivers events until ctx ends. Each endpoint runs its own loop —
// deliver what is pending, Sleep(PollInterval), again — so that an endpoint
// that is down does not delay the others. A store error is logged and
// retried after a backoff.
func (d *Dispatcher) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, u := range d.cfg.URLs {
		wg.Go(func() { d.runURL(ctx, u) })
	}
	wg.Wait()
}

func (d *Dispatcher) runURL(ctx context.Context, u string) {
	failures := 0
	for ctx.Err() == nil {
		wait := d.cfg.PollInterval
		if _, err := d.deliverURL(ctx, u); err != nil && ctx.Err() == nil {
			failures++
			wait = d.backoff(failures)
			d.log.Error("webhook: reading the outbox failed", "url", Redact(u), "err", err, "retry_in", wait)
		} else {
			failures = 0
		}
		if d.cfg.Sleep(ctx, wait) != nil {
			return
		}
	}
}

// deliverURL delivers the events after u's cursor to u, in order, until the
// outbox has no more.
func (d *Dispatcher) deliverURL(ctx context.Context, u string) (int, error) {
	name := CursorName(u)
	after, err := d.cfg.Outbox.Cursor(ctx, name)
	if err != nil {
		return 0, fmt.Errorf("webhook %s: cursor: %w", Redact(u), err)
	}
	delivered := 0
	for {
		evs, err := d.cfg.Outbox.Events(ctx, after, d.cfg.BatchSize)
		if err != nil {
			return delivered, fmt.Errorf("webhook %s: events after %d: %w", Redact(u), after, err)
		}
		for _, ev := range evs {
			if ev.Seq <= after {
				return delivered, fmt.Errorf("webhook %s: outbox returned seq %d after %d", Redact(u), ev.Seq, after)
			}
			if err := d.deliverEvent(ctx, u, name, after, ev); err != nil {
				return delivered, err
			}
			delivered++
			// Record an acknowledged delivery even if ctx just ended, so
			// that a shutdown does not cause a needless re-send.
			if err := d.cfg.Outbox.SetCursor(context.WithoutCancel(ctx), name, ev.Seq); err != nil {
				// Delivered but not recorded: it will be sent again, which
				// at-least-once allows.
				return delivered, fmt.Errorf("webhook %s: set cursor to %d: %w", Redact(u), ev.Seq, err)
			}
			after = ev.Seq
		}
		if len(evs) == 0 { // (a store may cap a batch below BatchSize)
			return delivered, nil
		}
	}
}

// deliverEvent posts ev, the event after seq after, to u until u accepts it
// or ctx ends, each attempt claimed first when the outbox is a Claimer.
func (d *Dispatcher) deliverEvent(ctx context.Context, u, name string, after uint64, ev workflow.Event) error {
	if ev.ID == "" {
		ev.ID = workflow.EventID(ev.Seq)
	}
	body, err := Body(ev)
	if err != nil {
		return fmt.Errorf("webhook: encode event %s: %w", ev.ID, err)
	}
	sig := Sign(d.cfg.Secret, body)
	claimer, _ := d.cfg.Outbox.(Claimer)
	for n := 1; ; n++ {
		if claimer != nil {
			if err := d.claim(ctx, claimer, u, name, after); err != nil {
				return err
			}
		}
		start := time.Now()
		status, err := d.post(ctx, u, ev.ID, sig, n, body)
		a := Attempt{URL: u, Event: ev.ID, Seq: ev.Seq, N: n, Status: status, Err: err, Duration: time.Since(start)}
		if d.cfg.OnAttempt != nil {
			d.cfg.OnAttempt(a)
		}
		if err == nil {
			d.log.Debug("webhook delivered", "url", Redact(u), "event", ev.ID, "attempt", n)
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		wait := d.backoff(n)
		d.log.Warn("webhook delivery failed", "url", Redact(u), "event", ev.ID, "attempt", n, "status", status, "err", err, "retry_in", wait)
		if err := d.cfg.Sleep(ctx, wait); err != nil {
			return err
		}
	}
}

// claim asks c until when the dispatcher may deliver the event after seq
// after to u, and asks again if that time passed before the answer is used
// (the process was paused in between).
func (d *Dispatcher) claim(ctx context.Context, c Claimer, u, name string, after uint64) error {
	for try := 1; ; try++ {
		until, err := c.ClaimDelivery(ctx, name, after)
		if err != nil {
			return fmt.Errorf("webhook %s: may not deliver the event after %d: %w", Redact(u), after, err)
		}
		if time.Now().Before(until) {
			return nil
		}
		if try == 3 {
			return fmt.Errorf("webhook %s: the claim to deliver the event after %d keeps running out before it is used", Redact(u), after)
		}
		if err := d.cfg.Sleep(ctx, 100*time.Millisecond); err != nil {
			return err
		}
	}
}

// post sends one attempt; a nil error means a 2xx answer.
func (d *Dispatcher) post(ctx context.Context, u, id, sig string, n int, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "rectify-webhook/1")
	req.Header.Set(HeaderEventID, id)
	req.Header.Set(HeaderSignature, sig)
	req.Header.Set(HeaderAttempt, strconv.Itoa(n))
	res, err := d.cfg.Client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			ue.URL = Redact(ue.URL) // errors are logged
		}
		return 0, err
	}
	// Drain a little so the connection can be reused.
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
	res.Body.Close()
	if res.StatusCode < 200 || res.StatusCode > 299 {
		return res.StatusCode, fmt.Errorf("status %s", res.Status)
	}
	return res.StatusCode, nil
}

// backoff is the wait after failed attempt n (1, 2, …).
func (d *Dispatcher) backoff(n int) time.Duration {
	b := d.cfg.MinBackoff
	for i := 1; i < n && b < d.cfg.MaxBackoff; i++ {
		b *= 2
	}
	b = min(b, d.cfg.MaxBackoff)
	if d.cfg.Jitter && b > 1 {
		b = b/2 + rand.N(b/2+1)
	}
	return b
}

// Body is the JSON body delivered for ev: its id, seq and history entry,
// without the entry's internal supervision bookkeeping.
func Body(ev workflow.Event) ([]byte, error) {
	if ev.ID == "" {
		ev.ID = workflow.EventID(ev.Seq)
	}
	ev.Entry.Supervision = nil // ev is a copy; the pointee is not touched
	return json.Marshal(ev)
}

// Sign returns the X-Rectify-Signature of body: "sha256=" and the hex
// HMAC-SHA256 of body under secret.
func Sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Verify reports whether header is body's valid X-Rectify-Signature under
// secret, comparing in constant time.
func Verify(secret, body []byte, header string) bool {
	hexSum, ok := strings.CutPrefix(header, "sha256=")
	if !ok {
		return false
	}
	got, err := hex.DecodeString(hexSum)
	if err != nil {
		return false
	}
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return hmac.Equal(got, m.Sum(nil))
}
