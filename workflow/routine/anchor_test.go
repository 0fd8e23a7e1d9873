package routine_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/jdz-eco/rectify/store/bolt"
	"github.com/jdz-eco/rectify/store/storetest"
	"github.com/jdz-eco/rectify/workflow"
	"github.com/jdz-eco/rectify/workflow/routine"
	"github.com/jdz-eco/rectify/workflow/webhook"
)

// TestAnchorReachesReceivers: the head-anchor job appends one anchor a day
// (also when run again, and on a runner after a restart), and the webhook
// dispatcher delivers it, so the receiver holds each day's head; the heads
// it holds are intact in an audit.
func TestAnchorReachesReceivers(t *testing.T) {
	path := filepath.Join(t.TempDir(), "anchor.db")
	open := func() *bolt.Store {
		st, err := bolt.Open(path, bolt.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	st := open()
	ctx := t.Context()
	clock := workflow.NewManualClock(time.Date(2026, 12, 2, 16, 30, 0, 0, time.UTC)) // 00:30 on 3 December in Shanghai
	svc := workflow.NewService(st, clock)
	r := &routine.Runner{Jobs: routine.Anchor(svc)}
	if err := r.RunOnce(ctx); err != nil {
		t.Fatal(err) // an empty chain: nothing to anchor, no error
	}
	if h, _ := st.Head(ctx); h.Seq != 0 {
		t.Fatalf("an anchor on an empty chain: head %s", h)
	}
	if err := svc.PutUnits(ctx, storetest.Units()); err != nil {
		t.Fatal(err)
	}
	if _, _, err := svc.CreateProblem(ctx, storetest.BureauActor, workflow.NewProblem{Title: "问题", Description: "x", Source: workflow.SourceAudit, CountyID: storetest.Fuliang}); err != nil {
		t.Fatal(err)
	}
	created, _ := st.Head(ctx)
	for range 3 {
		if err := r.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()
	st = open()
	defer func() { st.Close() }()
	svc = workflow.NewService(st, clock)
	r = &routine.Runner{Jobs: routine.Anchor(svc)}
	if err := r.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	clock.Advance(24 * time.Hour)
	if err := r.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	var got []workflow.Event
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		var ev workflow.Event
		if err := json.Unmarshal(body, &ev); err != nil {
			t.Errorf("body %s: %v", body, err)
		}
		mu.Lock()
		got = append(got, ev)
		mu.Unlock()
	}))
	defer srv.Close()
	d, err := webhook.New(webhook.Config{Outbox: st, URLs: []string{srv.URL}, Secret: []byte("s")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.DeliverPending(ctx); err != nil {
		t.Fatal(err)
	}
	var anchors []workflow.Entry
	for _, ev := range got {
		if ev.Entry.Action == workflow.ActionHeadAnchor {
			anchors = append(anchors, ev.Entry)
		}
	}
	if len(anchors) != 2 || anchors[0].Params.Day != "2026-12-03" || anchors[1].Params.Day != "2026-12-04" ||
		anchors[0].Params.Head != created.String() || anchors[1].Params.Head != (workflow.ChainHead{Seq: anchors[0].Seq, Hash: anchors[0].Hash}).String() {
		t.Fatalf("the receiver got anchors %+v (problem created at head %s)", anchors, created)
	}
	var heads []workflow.ChainHead
	for _, a := range anchors {
		h, err := workflow.ParseChainHead(a.Params.Head)
		if err != nil {
			t.Fatal(err)
		}
		heads = append(heads, h, workflow.ChainHead{Seq: a.Seq, Hash: a.Hash})
	}
	_, checks, err := workflow.AuditHeads(ctx, st, nil, heads)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range checks {
		if c.Status != workflow.HeadIntact {
			t.Errorf("head %s: %s", c.Head, c.Status)
		}
	}
}
