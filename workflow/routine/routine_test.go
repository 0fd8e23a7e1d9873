package routine_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/jdz-eco/rectify/store/bolt"
	"github.com/jdz-eco/rectify/store/storetest"
	"github.com/jdz-eco/rectify/workflow"
	"github.com/jdz-eco/rectify/workflow/routine"
)

// TestRunOnceGoesOn: a failing job is reported, named, and does not stop
// the jobs after it.
func TestRunOnceGoesOn(t *testing.T) {
	var ran []string
	boom := errors.New("boom")
	var observed []string
	r := routine.Runner{
		Jobs: []routine.Job{
			{Name: "a", Run: func(context.Context) (int, error) { ran = append(ran, "a"); return 0, boom }},
			{Name: "b", Run: func(context.Context) (int, error) { ran = append(ran, "b"); return 2, nil }},
		},
		Observe: func(job string, done int, err error) { observed = append(observed, job) },
	}
	err := r.RunOnce(t.Context())
	if !errors.Is(err, boom) || err.Error() != "a: boom" || len(ran) != 2 || len(observed) != 2 {
		t.Fatalf("err %v, ran %v, observed %v", err, ran, observed)
	}
}

// TestDispatchJobs: the routine opens the schedule's round once per period,
// records the late reports once the round falls due, and does nothing more
// when run again, also on a new runner after a restart.
func TestDispatchJobs(t *testing.T) {
	path := filepath.Join(t.TempDir(), "routine.db")
	st, err := bolt.Open(path, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { st.Close() }()
	ctx := t.Context()
	opens := time.Date(2021, 7, 26, 1, 0, 0, 0, time.UTC) // Monday 09:00 in Shanghai
	clock := workflow.NewManualClock(opens.Add(time.Minute))
	svc := workflow.NewService(st, clock)
	if err := svc.PutUnits(ctx, storetest.Units()); err != nil {
		t.Fatal(err)
	}
	p, _, err := svc.CreateProblem(ctx, storetest.BureauActor, workflow.NewProblem{Title: "问题", Description: "x", Source: workflow.SourceAudit, CountyID: storetest.Fuliang})
	if err != nil {
		t.Fatal(err)
	}
	d := storetest.Deadline(90)
	if _, err := svc.Fire(ctx, storetest.BureauActor, p.ID, workflow.Command{Trigger: workflow.TriggerAssign, Params: workflow.Params{LeadUnit: storetest.Fuliang, Deadline: &d}}); err != nil {
		t.Fatal(err)
	}
	sc, err := workflow.ParseRoundSchedule("weekly:1", 9*time.Hour, 2, workflow.ScopeProblems)
	if err != nil {
		t.Fatal(err)
	}
	runner := func(svc *workflow.Service) *routine.Runner {
		return &routine.Runner{Jobs: routine.Dispatch(svc, []workflow.RoundSchedule{sc}), Interval: time.Minute}
	}
	done := map[string]int{}
	r := runner(svc)
	r.Observe = func(job string, n int, err error) {
		if err != nil {
			t.Errorf("%s: %v", job, err)
		}
		done[job] += n
	}
	for range 3 {
		if err := r.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if done["dispatch-open"] != 1 || done["dispatch-late"] != 0 {
		t.Fatalf("done %v", done)
	}
	// Wednesday evening: due (two working days after Monday), nobody reported.
	clock.Set(time.Date(2021, 7, 28, 16, 30, 0, 0, time.UTC))
	for range 2 {
		if err := r.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if done["dispatch-open"] != 1 || done["dispatch-late"] != 1 {
		t.Fatalf("done %v", done)
	}
	// A restart: a new runner on the reopened file does nothing again.
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if st, err = bolt.Open(path, bolt.Options{}); err != nil {
		t.Fatal(err)
	}
	svc = workflow.NewService(st, clock)
	r2 := runner(svc)
	r2.Observe = r.Observe
	if err := r2.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if done["dispatch-open"] != 1 || done["dispatch-late"] != 1 {
		t.Fatalf("after a restart: done %v", done)
	}
	if list, _ := svc.Rounds(ctx, storetest.BureauActor); len(list) != 1 {
		t.Fatalf("%d rounds", len(list))
	}
}
