package etcd

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/jdz-eco/rectify/store/storetest"
	"github.com/jdz-eco/rectify/workflow"
	"github.com/jdz-eco/rectify/workflow/routine"
)

// TestScheduledRoundOnACluster runs the dispatch routine under RunAsLeader
// on two replicas of a three-member cluster, while both replicas also open
// the schedule's round directly, at once: one round opens. The leader then
// steps down and the other replica, leading, runs the routine again: still
// one round, and its late reports are recorded once.
func TestScheduledRoundOnACluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a three-member cluster")
	}
	c, err := startCluster(t.TempDir(), 3)
	if err != nil {
		t.Fatal(err)
	}
	defer c.stop()
	// Sunday 25 July 2021, 10:00 in Shanghai.
	clock := workflow.NewManualClock(time.Date(2021, 7, 25, 2, 0, 0, 0, time.UTC))
	reps := newReplicas(t, c, 2, clock, Config{})
	createAssigned(t, reps[0], 3, 90)
	sc, err := workflow.ParseRoundSchedule("monthly:25", 9*time.Hour, 5, workflow.ScopeProblems)
	if err != nil {
		t.Fatal(err)
	}

	type run struct {
		replica string
		opened  int
		late    int
	}
	runs := make(chan run, 4)
	cancels := map[string]context.CancelFunc{}
	var wg sync.WaitGroup
	for _, r := range reps {
		ctx, cancel := context.WithCancel(t.Context())
		cancels[r.name] = cancel
		wg.Go(func() {
			err := r.st.RunAsLeaderWith(ctx, "routine", LeaderOptions{TTL: 2, ID: r.name}, func(lctx context.Context) error {
				res := run{replica: r.name}
				rn := routine.Runner{Jobs: routine.Dispatch(r.svc, []workflow.RoundSchedule{sc}), Observe: func(job string, n int, err error) {
					if err != nil {
						t.Errorf("%s on %s: %v", job, r.name, err)
					}
					if job == "dispatch-open" {
						res.opened += n
					} else {
						res.late += n
					}
				}}
				_ = rn.RunOnce(lctx)
				runs <- res
				<-lctx.Done()
				return nil
			})
			if err != nil {
				t.Error(err)
			}
		})
	}
	defer func() {
		for _, cancel := range cancels {
			cancel()
		}
		wg.Wait()
	}()
	// Both replicas race the leader's routine for the same period.
	var direct sync.WaitGroup
	ids := make(chan string, 2)
	for _, r := range reps {
		direct.Go(func() {
			got, _, err := r.svc.OpenScheduledRound(context.Background(), sc)
			if err != nil {
				t.Error(err)
				return
			}
			ids <- got.ID
		})
	}
	first := waitFor(t, "the leader's routine", runs)
	direct.Wait()
	close(ids)
	for id := range ids {
		if id != "1" {
			t.Errorf("a replica opened round %s", id)
		}
	}
	rounds, err := reps[1].svc.Rounds(t.Context(), storetest.BureauActor)
	if err != nil || len(rounds) != 1 {
		t.Fatalf("%d rounds, %v", len(rounds), err)
	}

	// Past the due time (five working days after Sunday: Friday 30 July),
	// the leader steps down; the other replica leads and runs the routine.
	clock.Set(time.Date(2021, 7, 31, 2, 0, 0, 0, time.UTC))
	cancels[first.replica]()
	second := waitFor(t, "the second leader's routine", runs)
	if second.replica == first.replica || second.opened != 0 || second.late != 3 {
		t.Fatalf("first run %+v, second run %+v", first, second)
	}
	if rounds, _ := reps[0].svc.Rounds(t.Context(), storetest.BureauActor); len(rounds) != 1 {
		t.Fatalf("%d rounds after the handover", len(rounds))
	}
	if n, err := reps[0].svc.RecordLateReports(t.Context()); err != nil || n != 0 {
		t.Fatalf("late reports again: %d %v", n, err)
	}
	check := openStore(t, c, Config{Prefix: reps[0].st.Prefix()})
	rep, err := workflow.Audit(t.Context(), check, nil, nil)
	if err != nil || rep.Rounds != 1 {
		t.Fatalf("audit %+v %v", rep, err)
	}
}
