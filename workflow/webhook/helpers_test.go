package webhook

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jdz-eco/rectify/workflow"
)

var secret = []byte("s3cret-for-tests")

// memOutbox is an in-memory Outbox.
type memOutbox struct {
	mu      sync.Mutex
	events  []workflow.Event
	cursors map[string]uint64
	sets    int   // SetCursor calls
	fail    error // returned by Events when set
}

func newOutbox() *memOutbox { return &memOutbox{cursors: map[string]uint64{}} }

// add appends one event per problem id given, with the next seqs.
func (o *memOutbox) add(problems ...string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, p := range problems {
		seq := uint64(len(o.events)) + 1
		o.events = append(o.events, workflow.Event{ID: workflow.EventID(seq), Seq: seq, Entry: workflow.Entry{
			Seq: seq, ProblemID: p, Version: seq, Action: "note", At: time.Date(2021, 7, 1, 0, 0, int(seq), 0, time.UTC),
			Actor: workflow.Actor{ID: "u1", Role: workflow.RoleUnit}, Params: workflow.Params{Text: "note " + strconv.FormatUint(seq, 10)},
		}})
	}
}

func (o *memOutbox) Events(_ context.Context, after uint64, limit int) ([]workflow.Event, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.fail != nil {
		return nil, o.fail
	}
	var out []workflow.Event
	for _, e := range o.events {
		if e.Seq > after && len(out) < limit {
			out = append(out, e)
		}
	}
	return out, nil
}

func (o *memOutbox) Cursor(_ context.Context, name string) (uint64, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.cursors[name], nil
}

func (o *memOutbox) SetCursor(_ context.Context, name string, seq uint64) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.cursors[name] = seq
	o.sets++
	return nil
}

func (o *memOutbox) seqs() []uint64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []uint64
	for _, e := range o.events {
		out = append(out, e.Seq)
	}
	return out
}

// action is what the receiver does with one request.
type action int

const (
	accept  action = iota
	fail500        // answer 500
	drop           // close the connection without an answer
	hang           // answer nothing until the client gives up
)

// request is one request the receiver got.
type request struct {
	event    workflow.Event
	id       string
	attempt  int
	valid    bool // signature verifies
	ctype    string
	accepted bool
}

// receiver is a webhook endpoint that decides, per request number (1, 2, …),
// what to do.
type receiver struct {
	t      *testing.T
	srv    *httptest.Server
	decide func(n int, ev workflow.Event) action

	mu   sync.Mutex
	reqs []request
}

func newReceiver(t *testing.T, decide func(n int, ev workflow.Event) action) *receiver {
	t.Helper()
	r := &receiver{t: t, decide: decide}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		r.t.Errorf("receiver: %v", err)
		return
	}
	var ev workflow.Event
	if err := json.Unmarshal(body, &ev); err != nil {
		r.t.Errorf("receiver: body %s: %v", body, err)
	}
	attempt, _ := strconv.Atoi(req.Header.Get(HeaderAttempt))
	rec := request{event: ev, id: req.Header.Get(HeaderEventID), attempt: attempt, ctype: req.Header.Get("Content-Type"),
		valid: Verify(secret, body, req.Header.Get(HeaderSignature))}
	// Decided and recorded under one lock: a decision that cancels the
	// dispatcher (a crash) must find the request recorded when the
	// dispatcher returns.
	r.mu.Lock()
	n := len(r.reqs) + 1
	act := accept
	if r.decide != nil {
		act = r.decide(n, ev)
	}
	rec.accepted = act == accept
	r.reqs = append(r.reqs, rec)
	r.mu.Unlock()
	switch act {
	case accept:
		w.WriteHeader(http.StatusNoContent)
	case fail500:
		http.Error(w, "try later", http.StatusInternalServerError)
	case drop:
		conn, _, err := w.(http.Hijacker).Hijack()
		if err != nil {
			r.t.Errorf("hijack: %v", err)
			return
		}
		conn.Close()
	case hang:
		<-req.Context().Done()
	}
}

func (r *receiver) requests() []request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.reqs)
}

// accepted returns the seqs of the events the receiver answered 2xx, in order.
func (r *receiver) accepted() []uint64 {
	var out []uint64
	for _, q := range r.requests() {
		if q.accepted {
			out = append(out, q.event.Seq)
		}
	}
	return out
}

// checkRequests checks every request's headers and signature and that the
// attempts at one event count up from 1 and come before the next event.
func (r *receiver) checkRequests(t *testing.T) {
	t.Helper()
	var prev request
	for i, q := range r.requests() {
		if !q.valid || q.ctype != "application/json" || q.id != workflow.EventID(q.event.Seq) || q.id != q.event.ID {
			t.Errorf("request %d: valid signature %v, content type %q, id header %q, event %+v", i+1, q.valid, q.ctype, q.id, q.event)
		}
		switch {
		case i > 0 && q.event.Seq == prev.event.Seq && !prev.accepted:
			if q.attempt != prev.attempt+1 {
				t.Errorf("request %d: retry of %s is attempt %d after attempt %d", i+1, q.id, q.attempt, prev.attempt)
			}
		case i > 0 && !prev.accepted:
			t.Errorf("request %d: %s sent while %s was not delivered", i+1, q.id, prev.id)
		case q.attempt != 1:
			t.Errorf("request %d: first attempt at %s has attempt %d", i+1, q.id, q.attempt)
		}
		prev = q
	}
}

// sleeper records the durations the dispatcher asks to sleep and returns at
// once (or calls hook, if set, whose result it returns).
type sleeper struct {
	mu   sync.Mutex
	ds   []time.Duration
	hook func(ctx context.Context, d time.Duration) error
}

func (s *sleeper) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.ds = append(s.ds, d)
	hook := s.hook
	s.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return err
	}
	if hook != nil {
		return hook(ctx, d)
	}
	return nil
}

func (s *sleeper) durations() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.ds)
}

// checkPerProblemOrder checks that, per problem, the seqs of got increase.
func checkPerProblemOrder(t *testing.T, reqs []request) {
	t.Helper()
	last := map[string]uint64{}
	for _, q := range reqs {
		if !q.accepted {
			continue
		}
		p := q.event.Entry.ProblemID
		if q.event.Seq <= last[p] {
			t.Errorf("problem %s: event %d accepted after %d", p, q.event.Seq, last[p])
		}
		last[p] = q.event.Seq
	}
}
