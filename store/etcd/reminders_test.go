package etcd

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/jdz-eco/rectify/store/storetest"
	"github.com/jdz-eco/rectify/workflow"
	"github.com/jdz-eco/rectify/workflow/notify"
)

// TestRemindersOnACluster: two replicas racing to queue the same
// assignments and the same day's digest queue each notice once; the
// leader's sender delivers each once; a replica running the digest job
// again (a restart, a new leader) queues nothing more.
func TestRemindersOnACluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a three-member cluster")
	}
	c, err := startCluster(t.TempDir(), 3)
	if err != nil {
		t.Fatal(err)
	}
	defer c.stop()
	clock := workflow.NewManualClock(storetest.T0) // Thursday 09:30 in Shanghai
	reps := newReplicas(t, c, 2, clock, Config{})

	var mu sync.Mutex
	var got []string
	robot := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m notify.WeComMarkdown
		_ = json.NewDecoder(r.Body).Decode(&m)
		mu.Lock()
		got = append(got, m.Markdown.Content)
		mu.Unlock()
		_, _ = w.Write([]byte(`{"errcode":0,"errmsg":"ok"}`))
	}))
	defer robot.Close()
	guard := notify.Guard{AllowHTTP: true, AllowPrivate: true}
	var senders []*notify.Sender
	for _, r := range reps {
		r.svc.SetAddressCheck(guard.AddressCheck())
		s, err := notify.New(notify.Config{Service: r.svc, Guard: guard})
		if err != nil {
			t.Fatal(err)
		}
		senders = append(senders, s)
	}
	u := robot.URL + "/cgi-bin/webhook/send?key=k"
	admin := workflow.Actor{ID: "u-admin", Name: "管理员", Role: workflow.RoleAdmin, UnitID: storetest.Bureau}
	if _, err := reps[0].svc.SetUnitContact(t.Context(), admin, storetest.Leping, workflow.UnitContactInput{WeComURL: &u}); err != nil {
		t.Fatal(err)
	}
	createAssigned(t, reps[1], 2, 3) // due in 3 days: in the digest too

	var wg sync.WaitGroup
	for _, s := range senders {
		wg.Go(func() {
			for _, job := range []func(context.Context) (int, error){s.QueueEvents, s.QueueDigests} {
				if _, err := job(t.Context()); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	log, err := reps[1].svc.Deliveries(t.Context(), admin, 100)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	for _, n := range log {
		kinds[n.Kind]++
	}
	if len(log) != 3 || kinds[workflow.NoticeAssigned] != 2 || kinds[workflow.NoticeDigest] != 1 {
		t.Fatalf("queued %v, want two assignments and one digest for leping's robot", kinds)
	}

	ctx, cancel := context.WithCancel(t.Context())
	err = reps[0].st.RunAsLeaderWith(ctx, "routine", LeaderOptions{TTL: 2, ID: reps[0].name}, func(lctx context.Context) error {
		n, err := senders[0].SendDue(lctx)
		if err != nil || n != 3 {
			t.Errorf("the leader sent %d: %v", n, err)
		}
		cancel()
		<-lctx.Done()
		return nil
	})
	if err != nil && ctx.Err() == nil {
		t.Fatal(err)
	}
	for _, s := range senders {
		if n, err := s.QueueDigests(t.Context()); err != nil || n != 0 {
			t.Fatalf("the digest job again: %d, %v", n, err)
		}
		if n, err := s.SendDue(t.Context()); err != nil || n != 0 {
			t.Fatalf("sending again: %d, %v", n, err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 3 {
		t.Fatalf("the robot got %d messages: %q", len(got), got)
	}
}
