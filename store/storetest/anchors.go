package storetest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/jdz-eco/rectify/workflow"
)

// testAnchors: the daily head anchor names the head before it, is sealed on
// the chain and in the outbox, is appended once per day however many
// callers race, again the next day, and the audit accepts it (and refuses
// an anchor that names another head).
func testAnchors(t *testing.T, s workflow.Store) {
	st, ok := s.(workflow.Anchors)
	if !ok {
		t.Skip("the store has no Anchors")
	}
	ctx := t.Context()
	svc, clock, _ := BuildLedger(t, s)
	before := mustHead(t, s)

	var wg sync.WaitGroup
	created := make(chan workflow.Entry, 8)
	for range 8 {
		wg.Go(func() {
			e, ok, err := svc.AnchorHead(ctx)
			if err != nil {
				t.Errorf("AnchorHead = %v", err)
			}
			if ok {
				created <- e
			}
		})
	}
	wg.Wait()
	close(created)
	var anchors []workflow.Entry
	for e := range created {
		anchors = append(anchors, e)
	}
	if len(anchors) != 1 {
		t.Fatalf("8 racing AnchorHead calls on one day appended %d anchors", len(anchors))
	}
	a := anchors[0]
	if a.Seq != before.Seq+1 || a.PrevHash != before.Hash || a.Params.Head != before.String() || a.Action != workflow.ActionHeadAnchor ||
		a.ProblemID != "" || a.Params.Day != clock.Now().In(workflow.Shanghai).Format(time.DateOnly) {
		t.Fatalf("anchor %+v after head %s", a, before)
	}
	if h := mustHead(t, s); h.Seq != a.Seq || h.Hash != a.Hash {
		t.Fatalf("head %s after anchor %d:%s", h, a.Seq, a.Hash)
	}
	evs, err := s.Events(ctx, before.Seq, 10)
	if err != nil || len(evs) != 1 || evs[0].Entry.Hash != a.Hash {
		t.Fatalf("outbox after the anchor: %v, %+v", err, evs)
	}

	// The next day: another; and a build error writes nothing.
	clock.Advance(24 * time.Hour)
	b, ok, err := svc.AnchorHead(ctx)
	if err != nil || !ok || b.Params.Head != (workflow.ChainHead{Seq: a.Seq, Hash: a.Hash}).String() {
		t.Fatalf("the next day's anchor: %v %v %+v", err, ok, b)
	}
	boom := errors.New("boom")
	if _, _, err := st.AppendAnchor(ctx, "other", func(workflow.ChainHead) (workflow.Entry, error) { return workflow.Entry{}, boom }); !errors.Is(err, boom) {
		t.Fatalf("AppendAnchor with a failing build = %v", err)
	}
	if h := mustHead(t, s); h.Seq != b.Seq {
		t.Fatalf("a failed anchor moved the head to %s", h)
	}
	if l, ok := s.(workflow.Ledger); ok {
		if _, err := workflow.Audit(ctx, l, nil, nil); err != nil {
			t.Fatalf("Audit with anchors = %v", err)
		}
		// An anchor that names another head than the one before it is
		// refused by the audit, though sealed properly.
		if _, _, err := st.AppendAnchor(ctx, "lie", func(h workflow.ChainHead) (workflow.Entry, error) {
			return workflow.HeadAnchorEntry(workflow.ChainHead{Seq: h.Seq - 1, Hash: h.Hash}, "2021-01-01", T0), nil
		}); err != nil {
			t.Fatal(err)
		}
		var ae *workflow.AuditError
		if _, err := workflow.Audit(context.WithoutCancel(ctx), l, nil, nil); !errors.As(err, &ae) || ae.Seq != b.Seq+1 {
			t.Fatalf("Audit of a lying anchor = %v", err)
		}
	}
}
