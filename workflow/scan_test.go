package workflow_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jdz-eco/rectify/store/bolt"
	"github.com/jdz-eco/rectify/workflow"
)

// countingStore counts the problem reads and writes a scan makes.
type countingStore struct {
	workflow.Store
	reads, updates, due atomic.Int64
}

func (c *countingStore) Problem(ctx context.Context, id string) (*workflow.Problem, error) {
	c.reads.Add(1)
	return c.Store.Problem(ctx, id)
}

func (c *countingStore) UpdateProblem(ctx context.Context, id string, fn func(*workflow.Problem) ([]workflow.Entry, error)) (*workflow.Problem, error) {
	c.updates.Add(1)
	return c.Store.UpdateProblem(ctx, id, fn)
}

func (c *countingStore) Due(ctx context.Context, t time.Time, limit int) ([]string, error) {
	ids, err := c.Store.Due(ctx, t, limit)
	c.due.Add(int64(len(ids)))
	return ids, err
}

func alertsOf(t *testing.T, svc *workflow.Service, id string) []string {
	t.Helper()
	hist, err := svc.History(context.Background(), bureau, id)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range hist {
		if e.Action == workflow.ActionAlert {
			out = append(out, e.Params.Level)
		}
	}
	return out
}

func TestScannerExactAlertsIdempotentAcrossRestarts(t *testing.T) {
	ctx := context.Background()
	path := t.TempDir() + "/scan.db"
	st, err := bolt.Open(path, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2021, 7, 1, 4, 0, 0, 0, time.UTC)
	clock := workflow.NewManualClock(t0)
	counting := &countingStore{Store: st}
	svc := workflow.NewService(counting, clock)
	if err := svc.PutUnits(ctx, testUnits); err != nil {
		t.Fatal(err)
	}

	// Deadlines k days from t0; levels at t0 are recorded by the assign itself.
	offsets := []int{-65, -61, -40, -31, -25, -5, 0, 3, 8, 12, 16, 17, 18, 30, 100}
	ids := map[int]string{}
	for _, k := range offsets {
		p, _, err := svc.CreateProblem(ctx, bureau, workflow.NewProblem{Title: "t", Description: "d", Source: workflow.SourceAudit, CountyID: "fuliang"})
		if err != nil {
			t.Fatal(err)
		}
		d := t0.Add(time.Duration(k) * workflow.Day)
		for _, cmd := range []workflow.Command{
			{Trigger: workflow.TriggerAssign, Params: workflow.Params{LeadUnit: "fuliang", Deadline: &d}},
			{Trigger: workflow.TriggerAccept, Params: workflow.Params{Plan: "方案"}},
		} {
			a := bureau
			if cmd.Trigger == workflow.TriggerAccept {
				a = officer
			}
			if _, err := svc.Fire(ctx, a, p.ID, cmd); err != nil {
				t.Fatal(err)
			}
		}
		ids[k] = p.ID
	}
	atAssign := map[int][]string{-65: {"listed"}, -61: {"listed"}, -40: {"red"}, -31: {"red"}, -25: {"overdue"}, -5: {"overdue"}, 0: {"due_soon"}, 3: {"due_soon"}}
	for _, k := range offsets {
		if got := alertsOf(t, svc, ids[k]); !equal(got, atAssign[k]) {
			t.Fatalf("deadline %+d days: alerts at assign %v, want %v", k, got, atAssign[k])
		}
	}

	clock.Set(t0.Add(10 * workflow.Day))
	counting.updates.Store(0)
	n, err := svc.Scan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	scanned := map[int]string{-25: "red", 0: "overdue", 3: "overdue", 8: "overdue", 12: "due_soon", 16: "due_soon", 17: "due_soon"}
	if n != len(scanned) {
		t.Fatalf("scan recorded %d changes, want %d", n, len(scanned))
	}
	if got := counting.updates.Load(); got != int64(len(scanned)) {
		t.Fatalf("scan wrote %d problems; only the %d due should be touched", got, len(scanned))
	}
	if got := counting.due.Load(); got != int64(len(scanned)) {
		t.Fatalf("the wake index gave %d problems, want %d", got, len(scanned))
	}
	for _, k := range offsets {
		want := append(append([]string{}, atAssign[k]...), scanned[k])
		if scanned[k] == "" {
			want = atAssign[k]
		}
		if got := alertsOf(t, svc, ids[k]); !equal(got, want) {
			t.Errorf("deadline %+d days: alerts %v, want %v", k, got, want)
		}
	}

	// Again: nothing new, nothing read.
	counting.updates.Store(0)
	if n, err := svc.Scan(ctx); err != nil || n != 0 || counting.updates.Load() != 0 {
		t.Fatalf("second scan: %d changes, %d writes, %v", n, counting.updates.Load(), err)
	}

	// The alert list, most severe first, as recorded.
	alerts, err := svc.Alerts(ctx, bureau, workflow.AlertFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, a := range alerts {
		kinds = append(kinds, a.Kind)
	}
	wantKinds := []string{"listed", "listed", "red", "red", "red", "overdue", "overdue", "overdue", "overdue", "due_soon", "due_soon", "due_soon"}
	if !equal(kinds, wantKinds) {
		t.Fatalf("alert list %v, want %v", kinds, wantKinds)
	}

	// Restart on the same file: still nothing new.
	st.Close()
	st, err = bolt.Open(path, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	svc = workflow.NewService(st, clock)
	if n, err := svc.Scan(ctx); err != nil || n != 0 {
		t.Fatalf("scan after restart: %d changes, %v", n, err)
	}
	// A day later the next problem comes due, and only it.
	clock.Set(t0.Add(11*workflow.Day + time.Second))
	if n, err := svc.Scan(ctx); err != nil || n != 1 {
		t.Fatalf("scan a day later: %d changes, %v", n, err)
	}
	if got := alertsOf(t, svc, ids[18]); !equal(got, []string{"due_soon"}) {
		t.Fatalf("deadline +18: %v", got)
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestPausedWhileSubmittedAndStageClocks(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	t0 := f.clock.Now() // 2021-06-24 (Thursday) 17:00 Shanghai
	id := f.create(t).ID
	due := t0.Add(20 * workflow.Day)
	f.fire(t, bureau, id, workflow.TriggerAssign, workflow.Params{LeadUnit: "fuliang", Deadline: &due})
	p := mustGet(t, f, id)
	// 3 working days after Thursday 24 June: Fri 25, Mon 28, Tue 29.
	if p.Supervision.Stage != workflow.StageAccept || p.Supervision.StageDue.In(workflow.Shanghai).Format(time.DateOnly) != "2021-06-29" {
		t.Fatalf("accept clock: %+v", p.Supervision)
	}
	f.clock.Set(*p.Supervision.StageDue)
	if n, _ := f.svc.Scan(ctx); n != 0 {
		t.Fatal("accept alert at the stage due time itself")
	}
	f.clock.Advance(time.Second)
	if n, _ := f.svc.Scan(ctx); n != 1 {
		t.Fatal("no accept_late alert one second after the stage clock ran out")
	}
	if got := alertsOf(t, f.svc, id); !equal(got, []string{"accept_late"}) {
		t.Fatalf("alerts %v", got)
	}
	h, _ := f.svc.History(ctx, bureau, id)
	if last := h[len(h)-1]; last.Params.Against != "lead_unit" {
		t.Fatalf("accept_late against %q", last.Params.Against)
	}
	f.fire(t, officer, id, workflow.TriggerAccept, workflow.Params{Plan: "方案"})

	// Submit two days before the deadline and let the inspectors sit on it for a month.
	f.clock.Set(due.Add(-2 * workflow.Day))
	f.evidence(t, officer, id, "photo")
	f.fire(t, officer, id, workflow.TriggerSubmit, workflow.Params{Summary: "完成"})
	submittedAt := f.clock.Now()
	f.clock.Set(due.Add(30 * workflow.Day))
	n, err := f.svc.Scan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Only the inspectors' clock ran out: the unit's deadline clock is paused.
	got := alertsOf(t, f.svc, id)
	if n != 1 || !equal(got, []string{"accept_late", "due_soon", "verify_late"}) {
		t.Fatalf("while submitted: %d changes, alerts %v", n, got)
	}
	if p := mustGet(t, f, id); p.LevelAt(f.clock.Now(), f.svc.Policy()) != workflow.LevelDueSoon {
		t.Fatalf("level while paused: %s", p.LevelAt(f.clock.Now(), f.svc.Policy()))
	}
	// Rejected: the clock resumes with the 32 paused days credited.
	f.fire(t, inspector, id, workflow.TriggerReject, workflow.Params{Reason: "不充分"})
	p = mustGet(t, f, id)
	paused := f.clock.Now().Sub(submittedAt)
	if got := time.Duration(p.Supervision.PausedSeconds) * time.Second; got != paused {
		t.Fatalf("paused %s, want %s", got, paused)
	}
	if !p.EffectiveDeadline().Equal(due.Add(paused)) {
		t.Fatalf("effective deadline %s", p.EffectiveDeadline())
	}
	f.clock.Set(p.EffectiveDeadline().Add(time.Second))
	if n, _ := f.svc.Scan(ctx); n != 1 {
		t.Fatalf("overdue after the resumed clock ran out: %d", n)
	}
	replayMatches(t, f, id)
}

func replayMatches(t *testing.T, f *fixture, id string) {
	t.Helper()
	hist, err := f.svc.History(context.Background(), bureau, id)
	if err != nil {
		t.Fatal(err)
	}
	got, err := workflow.Replay(hist)
	if err != nil {
		t.Fatal(err)
	}
	want := mustGet(t, f, id)
	if !deepEqual(got, want) {
		t.Fatalf("replay differs:\n%+v\n%+v", got, want)
	}
}
