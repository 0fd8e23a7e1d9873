package webhook

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"maps"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/jdz-eco/rectify/store/bolt"
	"github.com/jdz-eco/rectify/workflow"
)

var (
	bureau  = workflow.Actor{ID: "u-bureau", Name: "局办", Role: workflow.RoleBureau, UnitID: "city-eeb"}
	officer = workflow.Actor{ID: "u-fl", Name: "浮梁县干部", Role: workflow.RoleUnit, UnitID: "fuliang"}
)

// ledger is a workflow service on a bolt file that can be reopened.
type ledger struct {
	t     *testing.T
	path  string
	st    *bolt.Store
	svc   *workflow.Service
	clock *workflow.ManualClock
}

func openLedger(t *testing.T, path string, clock *workflow.ManualClock) *ledger {
	t.Helper()
	st, err := bolt.Open(path, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return &ledger{t: t, path: path, st: st, svc: workflow.NewService(st, clock), clock: clock}
}

func (l *ledger) restart() *ledger {
	l.t.Helper()
	if err := l.st.Close(); err != nil {
		l.t.Fatal(err)
	}
	return openLedger(l.t, l.path, l.clock)
}

// problem logs a problem and assigns it to fuliang with deadline; each
// command is at least one history entry, so one outbox event.
func (l *ledger) problem(title, deadline string) string {
	l.t.Helper()
	ctx := context.Background()
	p, _, err := l.svc.CreateProblem(ctx, bureau, workflow.NewProblem{Title: title, Description: title,
		Source: workflow.SourceSelfInspection, CountyID: "fuliang"})
	if err != nil {
		l.t.Fatal(err)
	}
	d, err := workflow.ParseDeadline(deadline)
	if err != nil {
		l.t.Fatal(err)
	}
	l.fire(p.ID, bureau, workflow.TriggerAssign, workflow.Params{LeadUnit: "fuliang", Deadline: &d})
	return p.ID
}

func (l *ledger) fire(id string, a workflow.Actor, t workflow.Trigger, prm workflow.Params) {
	l.t.Helper()
	l.clock.Advance(time.Hour)
	if _, err := l.svc.Fire(context.Background(), a, id, workflow.Command{Trigger: t, Params: prm}); err != nil {
		l.t.Fatalf("%s %s: %v", t, id, err)
	}
}

// history returns every history entry of the ledger by seq.
func (l *ledger) history(ids ...string) map[uint64]workflow.Entry {
	l.t.Helper()
	out := map[uint64]workflow.Entry{}
	for _, id := range ids {
		h, err := l.svc.History(context.Background(), bureau, id)
		if err != nil {
			l.t.Fatal(err)
		}
		for _, e := range h {
			out[e.Seq] = e
		}
	}
	return out
}

// TestBoltStore runs the dispatcher on a real store fed by the workflow
// service: a receiver that fails the first attempts gets every history
// entry, signed, in order; after a restart of store and dispatcher it gets
// the new entries and nothing it already had.
func TestBoltStore(t *testing.T) {
	ctx := context.Background()
	clock := workflow.NewManualClock(time.Date(2021, 7, 1, 9, 0, 0, 0, time.UTC))
	l := openLedger(t, filepath.Join(t.TempDir(), "rectify.db"), clock)
	if err := l.svc.PutUnits(ctx, []workflow.Unit{
		{ID: "fuliang", Name: "浮梁县", Kind: workflow.UnitCounty},
		{ID: "city-eeb", Name: "市生态环境局", Kind: workflow.UnitDepartment},
	}); err != nil {
		t.Fatal(err)
	}
	a := l.problem("尾矿库渗漏", "2021-12-31")
	b := l.problem("河道采砂", "2021-06-30") // already overdue: alerts too
	l.fire(a, officer, workflow.TriggerAccept, workflow.Params{Plan: "封堵"})

	rcv := newReceiver(t, func(n int, _ workflow.Event) action {
		switch n {
		case 1, 2:
			return fail500
		case 3, 6:
			return drop
		}
		return accept
	})
	d := newDispatcher(t, l.st, &sleeper{}, rcv.srv.URL)
	n, err := d.DeliverPending(ctx)
	if err != nil {
		t.Fatal(err)
	}
	hist := l.history(a, b)
	if n != len(hist) || len(rcv.accepted()) != len(hist) {
		t.Fatalf("delivered %d, accepted %d; the ledger has %d entries", n, len(rcv.accepted()), len(hist))
	}
	checkAgainst := func(hist map[uint64]workflow.Entry) {
		t.Helper()
		rcv.checkRequests(t)
		checkPerProblemOrder(t, rcv.requests())
		seen := map[uint64]bool{}
		for _, q := range rcv.requests() {
			if !q.accepted {
				continue
			}
			if seen[q.event.Seq] {
				t.Errorf("event %d delivered twice", q.event.Seq)
			}
			seen[q.event.Seq] = true
			if q.event.Entry.Supervision != nil {
				t.Errorf("event %d carries the supervision bookkeeping", q.event.Seq)
			}
			want, ok := hist[q.event.Seq]
			want.Supervision = nil // internal bookkeeping, not sent
			if !ok || !reflect.DeepEqual(q.event.Entry, want) {
				t.Errorf("event %d: entry %+v, history has %+v", q.event.Seq, q.event.Entry, want)
			}
		}
		if len(seen) != len(hist) {
			t.Errorf("%d events delivered; the history has %d entries", len(seen), len(hist))
		}
	}
	checkAgainst(hist)
	var actions []string
	for _, q := range rcv.requests() {
		if q.accepted && q.event.Entry.ProblemID == b {
			actions = append(actions, q.event.Entry.Action)
		}
	}
	if !slices.Contains(actions, workflow.ActionAlert) {
		t.Errorf("problem %s events %v; the overdue assignment must bring an alert", b, actions)
	}

	// Restart the store and the dispatcher; the ledger moves on meanwhile.
	l = l.restart()
	sum := sha256.Sum256([]byte("现场照片"))
	if _, err := l.svc.AddEvidence(ctx, officer, a, workflow.EvidenceInput{SHA256: hex.EncodeToString(sum[:]), Name: "现场照片.jpg", Size: 2048, Type: "image/jpeg"}, 0); err != nil {
		t.Fatal(err)
	}
	l.fire(a, officer, workflow.TriggerSubmit, workflow.Params{Summary: "已封堵"})
	c := l.problem("黑臭水体", "2022-06-30")
	d = newDispatcher(t, l.st, &sleeper{}, rcv.srv.URL)
	if n, err = d.DeliverPending(ctx); err != nil {
		t.Fatal(err)
	}
	before := len(hist)
	hist = l.history(a, b, c)
	if n != len(hist)-before || n != 4 {
		t.Errorf("after the restart delivered %d of %d new entries; want 4 (evidence, submit, create, assign)", n, len(hist)-before)
	}
	checkAgainst(hist)
	last := slices.Max(slices.Collect(maps.Keys(hist)))
	if cur, err := l.st.Cursor(ctx, CursorName(rcv.srv.URL)); err != nil || cur != last {
		t.Errorf("cursor %d, %v; want %d", cur, err, last)
	}
}
