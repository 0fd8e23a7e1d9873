package etcd

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jdz-eco/rectify/store/storetest"
	"github.com/jdz-eco/rectify/workflow"
)

// TestNoticeEndsOnceOnTwoReplicas: problems in public notice (公示) on two
// replicas of one prefix; when the notices have ended, both replicas scan
// at once, several times: each problem is closed by the system exactly
// once (one end_notice in its history), and the audit passes.
func TestNoticeEndsOnceOnTwoReplicas(t *testing.T) {
	clock := workflow.NewManualClock(storetest.T0)
	reps := newReplicas(t, nil, 2, clock, Config{})
	for _, r := range reps {
		if err := r.svc.SetNoticePolicy(workflow.DefaultNoticePolicy()); err != nil {
			t.Fatal(err)
		}
	}
	sctx, stopSeal := context.WithCancel(t.Context())
	var swg sync.WaitGroup
	swg.Go(func() {
		_ = reps[0].st.RunAsLeader(sctx, "sealer", func(ctx context.Context) error {
			return reps[0].st.RunSealer(ctx, 0, func(err error) { t.Errorf("sealer: %v", err) })
		})
	})
	defer func() {
		stopSeal()
		swg.Wait()
	}()

	ctx := context.Background()
	ids := createAssigned(t, reps[0], 6, 365)
	officer := storetest.OfficerOf(storetest.Leping)
	var end time.Time
	for i, id := range ids {
		r := reps[i%2]
		fire := func(a workflow.Actor, trig workflow.Trigger, prm workflow.Params) *workflow.Problem {
			t.Helper()
			p, err := r.svc.Fire(ctx, a, id, workflow.Command{Trigger: trig, Params: prm})
			if err != nil {
				t.Fatalf("%s %s: %v", id, trig, err)
			}
			return p
		}
		fire(officer, workflow.TriggerAccept, workflow.Params{Plan: "方案"})
		sum := sha256.Sum256([]byte("notice-" + id))
		if _, err := r.svc.AddEvidence(ctx, officer, id, workflow.EvidenceInput{SHA256: hex.EncodeToString(sum[:]), Name: "整改后.jpg", Size: 10, Type: "image/jpeg"}, 0); err != nil {
			t.Fatal(err)
		}
		fire(officer, workflow.TriggerSubmit, workflow.Params{Summary: "已整改"})
		fire(storetest.InspectorActor, workflow.TriggerVerify, workflow.Params{Opinion: "合格"})
		p := fire(storetest.BureauActor, workflow.TriggerClose, workflow.Params{Statement: "同意销号"})
		if p.State != workflow.StateInNotice {
			t.Fatalf("%s: %s after close", id, p.State)
		}
		end = p.Notice.End
	}
	// Before the end, nothing; after it, both replicas at once.
	clock.Set(end)
	if n, err := reps[1].svc.Scan(ctx); err != nil || n != 0 {
		t.Fatalf("scan before the end: %d, %v", n, err)
	}
	clock.Set(end.Add(time.Second))
	var recorded atomic.Int64
	var wg sync.WaitGroup
	for _, r := range reps {
		for range 3 {
			wg.Go(func() {
				n, err := r.svc.Scan(ctx)
				if err != nil {
					t.Errorf("%s: scan: %v", r.name, err)
				}
				recorded.Add(int64(n))
			})
		}
	}
	wg.Wait()
	if got := recorded.Load(); got != int64(len(ids)) {
		t.Errorf("the scans recorded %d entries, want one write-off per problem (%d)", got, len(ids))
	}
	for _, id := range ids {
		p, err := reps[0].st.Problem(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if p.State != workflow.StateClosed || p.Resolution != workflow.ResolutionRectified {
			t.Errorf("%s: %s/%s", id, p.State, p.Resolution)
		}
		h, err := reps[1].st.History(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		ends := 0
		for _, e := range h {
			if e.Action == string(workflow.TriggerEndNotice) {
				ends++
				if e.Actor.Role != workflow.RoleSystem || e.Params.Notice == nil || !e.Params.Notice.End.Equal(end) {
					t.Errorf("%s: end_notice entry %+v", id, e)
				}
			}
		}
		if ends != 1 {
			t.Errorf("%s: %d end_notice entries, want 1", id, ends)
		}
	}
	if _, err := workflow.Audit(ctx, reps[0].st, nil, nil); err != nil {
		t.Fatalf("audit: %v", err)
	}
}
