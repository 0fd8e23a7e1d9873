package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jdz-eco/rectify/workflow"
)

// RunIdempotency runs the conformance cases of workflow.IdempotencyKeys:
// key records, their expiry, and effects recorded with the commands run
// under a claim. open must return a new, empty store implementing
// workflow.IdempotencyKeys, closed when t ends.
func RunIdempotency(t *testing.T, open func(t *testing.T) workflow.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s workflow.Store, ks workflow.IdempotencyKeys)
	}{
		{"Records", testKeyRecords},
		{"Scopes", testKeyScopes},
		{"AtomicDecide", testKeyAtomicDecide},
		{"CreateEffect", testCreateEffect},
		{"UpdateEffect", testUpdateEffect},
		{"RefusedCommandNoEffect", testRefusedCommandNoEffect},
		{"ConcurrentClaim", testConcurrentClaim},
		{"Purge", testPurgeKeys},
		{"ServiceRetryAfterCrash", testServiceRetryAfterCrash},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := open(t)
			ks, ok := s.(workflow.IdempotencyKeys)
			if !ok {
				t.Fatalf("%T does not implement workflow.IdempotencyKeys", s)
			}
			tt.fn(t, s, ks)
		})
	}
}

// keyRecord returns a record of key in scope, begun at T0, with claim.
func keyRecord(scope, key, claim string) *workflow.KeyRecord {
	return &workflow.KeyRecord{Scope: scope, Key: key, Claim: claim, Fingerprint: "fp-" + key,
		Created: T0, Expires: T0.Add(workflow.KeyLife), Started: T0}
}

// readKey returns the stored record of key in scope (nil if none).
func readKey(t *testing.T, ks workflow.IdempotencyKeys, scope, key string) *workflow.KeyRecord {
	t.Helper()
	var got *workflow.KeyRecord
	if err := ks.UpdateKey(t.Context(), scope, key, func(cur *workflow.KeyRecord) (*workflow.KeyRecord, error) {
		got = cur
		return nil, nil
	}); err != nil {
		t.Fatalf("UpdateKey(%s, %s): %v", scope, key, err)
	}
	return got
}

// putKey stores rec.
func putKey(t *testing.T, ks workflow.IdempotencyKeys, rec *workflow.KeyRecord) {
	t.Helper()
	if err := ks.UpdateKey(t.Context(), rec.Scope, rec.Key, func(*workflow.KeyRecord) (*workflow.KeyRecord, error) { return rec, nil }); err != nil {
		t.Fatalf("UpdateKey(%s, %s): %v", rec.Scope, rec.Key, err)
	}
}

// testKeyRecords: a record is stored as decide returns it and read back
// whole; nil writes nothing; decide's error comes back as is.
func testKeyRecords(t *testing.T, _ workflow.Store, ks workflow.IdempotencyKeys) {
	if got := readKey(t, ks, "u1", "k1"); got != nil {
		t.Fatalf("an empty store has %+v", got)
	}
	rec := keyRecord("u1", "k1", "c1")
	putKey(t, ks, rec)
	sameJSON(t, "the record read back", readKey(t, ks, "u1", "k1"), rec)

	done := *rec
	done.Started, done.Answer = time.Time{}, []byte(`{"status":201}`)
	putKey(t, ks, &done)
	got := readKey(t, ks, "u1", "k1")
	sameJSON(t, "the record replaced", got, &done)
	if string(got.Answer) != `{"status":201}` || !got.Started.IsZero() || got.Effect != nil {
		t.Fatalf("replaced record %+v", got)
	}

	boom := errors.New("decide refuses")
	err := ks.UpdateKey(t.Context(), "u1", "k1", func(*workflow.KeyRecord) (*workflow.KeyRecord, error) { return rec, boom })
	if !errors.Is(err, boom) {
		t.Fatalf("decide's error came back as %v", err)
	}
	sameJSON(t, "the record after a refusal", readKey(t, ks, "u1", "k1"), &done)
}

// testKeyScopes: one key in two scopes is two records.
func testKeyScopes(t *testing.T, _ workflow.Store, ks workflow.IdempotencyKeys) {
	a, b := keyRecord("u1", "same", "ca"), keyRecord("u2", "same", "cb")
	putKey(t, ks, a)
	putKey(t, ks, b)
	sameJSON(t, "scope u1", readKey(t, ks, "u1", "same"), a)
	sameJSON(t, "scope u2", readKey(t, ks, "u2", "same"), b)
	if got := readKey(t, ks, "u3", "same"); got != nil {
		t.Fatalf("scope u3 has %+v", got)
	}
}

// testKeyAtomicDecide: concurrent decides on one key each see what the one
// before wrote: of writers that take the key only when it is free, exactly
// one does.
func testKeyAtomicDecide(t *testing.T, _ workflow.Store, ks workflow.IdempotencyKeys) {
	const writers = 20
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		taken []string
	)
	for w := range writers {
		wg.Go(func() {
			claim := fmt.Sprintf("c%d", w)
			err := ks.UpdateKey(t.Context(), "u1", "race", func(cur *workflow.KeyRecord) (*workflow.KeyRecord, error) {
				if cur != nil {
					return nil, nil
				}
				return keyRecord("u1", "race", claim), nil
			})
			if err != nil {
				t.Error(err)
				return
			}
			if got := readKey(t, ks, "u1", "race"); got != nil && got.Claim == claim {
				mu.Lock()
				taken = append(taken, claim)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(taken) != 1 {
		t.Fatalf("the free key was taken by %v", taken)
	}
}

// testCreateEffect: a create under a claim records its effect with it; a
// second create under the claim writes nothing and fails with the effect.
func testCreateEffect(t *testing.T, s workflow.Store, ks workflow.IdempotencyKeys) {
	putKey(t, ks, keyRecord("u1", "k", "claim-create"))
	ctx := workflow.WithClaim(t.Context(), "claim-create")
	p, created, err := s.CreateProblem(ctx, "", Build("昌江区黑臭水体", workflow.SourceAudit, Changjiang))
	if err != nil || !created {
		t.Fatalf("create under a claim: %v, %v", created, err)
	}
	rec := readKey(t, ks, "u1", "k")
	sameJSON(t, "the effect", rec.Effect, &workflow.Effect{ProblemID: p.ID, Version: 1, Created: true})

	_, _, err = s.CreateProblem(ctx, "", Build("昌江区黑臭水体", workflow.SourceAudit, Changjiang))
	var applied *workflow.AppliedError
	if !errors.As(err, &applied) || applied.Effect.ProblemID != p.ID || applied.Effect.Version != 1 {
		t.Fatalf("second create under the claim: %v, want an AppliedError naming problem %s", err, p.ID)
	}
	if q := mustCreate(t, s, "另一个问题", workflow.SourceAudit, Changjiang); q.ID != workflow.ProblemID(2) {
		t.Fatalf("the refused create consumed a number: next is %s", q.ID)
	}
}

// testUpdateEffect: an update under a claim records the version it wrote;
// a second update under the claim writes nothing, even on another problem.
func testUpdateEffect(t *testing.T, s workflow.Store, ks workflow.IdempotencyKeys) {
	p := mustCreate(t, s, "浮梁县尾矿库", workflow.SourceAudit, Fuliang)
	q := mustCreate(t, s, "乐平市化工园区", workflow.SourceAudit, Leping)
	putKey(t, ks, keyRecord("u1", "k", "claim-update"))
	ctx := workflow.WithClaim(t.Context(), "claim-update")
	got, err := s.UpdateProblem(ctx, p.ID, Assign(Fuliang, nil, Deadline(30)))
	if err != nil || got.Version != 2 {
		t.Fatalf("update under a claim: %v, %v", got, err)
	}
	sameJSON(t, "the effect", readKey(t, ks, "u1", "k").Effect, &workflow.Effect{ProblemID: p.ID, Version: 2})
	for _, id := range []string{p.ID, q.ID} {
		_, err = s.UpdateProblem(ctx, id, Note("重复提交"))
		var applied *workflow.AppliedError
		if !errors.As(err, &applied) || applied.Effect.Version != 2 {
			t.Fatalf("second update of %s under the claim: %v, want an AppliedError", id, err)
		}
	}
	if v := mustProblem(t, s, p.ID).Version; v != 2 {
		t.Fatalf("problem %s at version %d after a refused second update", p.ID, v)
	}
	if v := mustProblem(t, s, q.ID).Version; v != 1 || len(mustHistory(t, s, q.ID)) != 1 {
		t.Fatalf("problem %s changed by a refused update under a used claim", q.ID)
	}
	// Without the claim, commands go on as ever.
	mustUpdate(t, s, p.ID, Note("继续整改"))
}

// testRefusedCommandNoEffect: a command refused under a claim records
// nothing, and the claim stays free for the next one.
func testRefusedCommandNoEffect(t *testing.T, s workflow.Store, ks workflow.IdempotencyKeys) {
	p := mustCreate(t, s, "珠山区油烟扰民", workflow.SourceAudit, Zhushan)
	putKey(t, ks, keyRecord("u1", "k", "claim-refused"))
	ctx := workflow.WithClaim(t.Context(), "claim-refused")
	_, err := s.UpdateProblem(ctx, p.ID, Move(InspectorActor, workflow.TriggerVerify, workflow.StateSubmitted, workflow.StateVerified))
	wantCode(t, "a refused command", err, workflow.CodeConflict)
	if e := readKey(t, ks, "u1", "k").Effect; e != nil {
		t.Fatalf("a refused command recorded %+v", e)
	}
	if _, err := s.UpdateProblem(ctx, p.ID, Assign(Zhushan, nil, Deadline(10))); err != nil {
		t.Fatalf("the claim after a refusal: %v", err)
	}
}

// testConcurrentClaim: commands racing under one claim apply once.
func testConcurrentClaim(t *testing.T, s workflow.Store, ks workflow.IdempotencyKeys) {
	const writers = 20
	p := mustCreate(t, s, "昌江区工地扬尘", workflow.SourceAudit, Changjiang)
	putKey(t, ks, keyRecord("u1", "k", "claim-race"))
	ctx := workflow.WithClaim(t.Context(), "claim-race")
	var (
		wg               sync.WaitGroup
		mu               sync.Mutex
		applied, refused int
	)
	for w := range writers {
		wg.Go(func() {
			var err error
			if w%2 == 0 {
				_, err = s.UpdateProblem(ctx, p.ID, Note(fmt.Sprintf("writer %d", w)))
			} else {
				_, _, err = s.CreateProblem(ctx, "", Build(fmt.Sprintf("writer %d", w), workflow.SourceAudit, Changjiang))
			}
			var ae *workflow.AppliedError
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				applied++
			case errors.As(err, &ae):
				refused++
			default:
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if applied != 1 || refused != writers-1 {
		t.Fatalf("%d applied and %d refused under one claim, want 1 and %d", applied, refused, writers-1)
	}
	items, _, err := s.Problems(t.Context(), workflow.ProblemFilter{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	total := uint64(0)
	for _, q := range items {
		total += q.Version
	}
	if total != 2 { // problem 1 at version 1 and one more effect
		t.Fatalf("%d problems summing to version %d: more than one effect", len(items), total)
	}
}

// testPurgeKeys: records expired at or before now go, with their effects,
// at most limit a call; later ones stay.
func testPurgeKeys(t *testing.T, s workflow.Store, ks workflow.IdempotencyKeys) {
	for i := range 5 {
		rec := keyRecord("u1", fmt.Sprintf("k%d", i), fmt.Sprintf("c%d", i))
		rec.Expires = T0.Add(time.Duration(i+1) * time.Hour).Add(500 * time.Millisecond)
		putKey(t, ks, rec)
	}
	// An effect for k0's claim, to be purged with it.
	if _, _, err := s.CreateProblem(workflow.WithClaim(t.Context(), "c0"), "", Build("purged", workflow.SourceAudit, Fuliang)); err != nil {
		t.Fatal(err)
	}
	// A key taken anew later expires later: its old expiry is no longer due.
	moved := keyRecord("u1", "k4", "c4")
	moved.Expires = T0.Add(30 * time.Hour)
	putKey(t, ks, moved)

	n, err := ks.PurgeKeys(t.Context(), T0.Add(time.Hour), 0)
	if err != nil || n != 0 {
		t.Fatalf("purge before any expiry (a half second early): %d, %v", n, err)
	}
	n, err = ks.PurgeKeys(t.Context(), T0.Add(3*time.Hour+time.Second), 2)
	if err != nil || n != 2 {
		t.Fatalf("purge of three expired keys, at most 2: %d, %v", n, err)
	}
	n, err = ks.PurgeKeys(t.Context(), T0.Add(6*time.Hour), 10)
	if err != nil || n != 2 {
		t.Fatalf("purge of the third and fourth (not k4, taken anew): %d, %v", n, err)
	}
	for i := range 4 {
		if got := readKey(t, ks, "u1", fmt.Sprintf("k%d", i)); got != nil {
			t.Fatalf("k%d survived its expiry: %+v", i, got)
		}
	}
	if got := readKey(t, ks, "u1", "k4"); got == nil {
		t.Fatal("k4, expiring later, was purged")
	}
	// k0's claim, reused, has no effect: it went with its record.
	putKey(t, ks, keyRecord("u1", "k0", "c0"))
	if e := readKey(t, ks, "u1", "k0").Effect; e != nil {
		t.Fatalf("the effect of a purged key survived: %+v", e)
	}
}

// testServiceRetryAfterCrash: the request whose server died after the
// effect and before saving its answer is answered from the effect when
// retried, and its command never applies twice.
func testServiceRetryAfterCrash(t *testing.T, s workflow.Store, _ workflow.IdempotencyKeys) {
	ctx := t.Context()
	clock := workflow.NewManualClock(T0)
	svc := workflow.NewService(s, clock)
	if err := svc.PutUnits(ctx, Units()); err != nil {
		t.Fatal(err)
	}
	in := workflow.NewProblem{Title: "浮梁县采砂", Description: "昌江浮梁段", Source: workflow.SourceAudit, CountyID: Fuliang}
	rec, err := svc.BeginKey(ctx, BureauActor, "key-1", "fp")
	if err != nil || rec.Answer != nil || rec.Effect != nil {
		t.Fatalf("first use: %+v, %v", rec, err)
	}
	first := rec.Claim
	p, _, err := svc.CreateProblem(workflow.WithClaim(ctx, rec.Claim), BureauActor, in)
	if err != nil {
		t.Fatal(err)
	}
	// The server dies here: no FinishKey. A retry within the lease finds the
	// effect at once.
	clock.Advance(time.Second)
	again, err := svc.BeginKey(ctx, BureauActor, "key-1", "fp")
	if err != nil || again.Effect == nil || again.Effect.ProblemID != p.ID || !again.Effect.Created {
		t.Fatalf("retry: %+v, %v; want the effect on problem %s", again, err, p.ID)
	}
	// Another request under the key is refused.
	_, err = svc.BeginKey(ctx, BureauActor, "key-1", "other")
	wantCode(t, "the key with another request", err, workflow.CodeKeyReused)

	// A request whose server died before its effect: in flight for the
	// lease, then taken over, and applied once.
	rec, err = svc.BeginKey(ctx, BureauActor, "key-2", "fp")
	if err != nil {
		t.Fatal(err)
	}
	_, err = svc.BeginKey(ctx, BureauActor, "key-2", "fp")
	wantCode(t, "a retry in flight", err, workflow.CodeKeyInFlight)
	clock.Advance(workflow.KeyLease)
	took, err := svc.BeginKey(ctx, BureauActor, "key-2", "fp")
	if err != nil || took.Claim != rec.Claim || took.Effect != nil {
		t.Fatalf("takeover: %+v, %v; want the same claim, no effect", took, err)
	}
	q, _, err := svc.CreateProblem(workflow.WithClaim(ctx, took.Claim), BureauActor, in)
	if err != nil {
		t.Fatal(err)
	}
	// The first request wakes up and tries its command: refused.
	_, _, err = svc.CreateProblem(workflow.WithClaim(ctx, rec.Claim), BureauActor, in)
	var applied *workflow.AppliedError
	if !errors.As(err, &applied) || applied.Effect.ProblemID != q.ID {
		t.Fatalf("the first request after the takeover: %v", err)
	}
	if err := svc.FinishKey(ctx, BureauActor, "key-2", took.Claim, []byte("answer")); err != nil {
		t.Fatal(err)
	}
	done, err := svc.BeginKey(ctx, BureauActor, "key-2", "fp")
	if err != nil || string(done.Answer) != "answer" {
		t.Fatalf("after the answer: %+v, %v", done, err)
	}
	items, _, err := s.Problems(ctx, workflow.ProblemFilter{Limit: 10})
	if err != nil || len(items) != 2 {
		t.Fatalf("%d problems (%v), want 2: one per key", len(items), err)
	}

	// After KeyLife the key is forgotten: the same key makes a new request.
	clock.Advance(workflow.KeyLife)
	fresh, err := svc.BeginKey(ctx, BureauActor, "key-1", "other")
	if err != nil || fresh.Effect != nil || fresh.Answer != nil || fresh.Claim == first {
		t.Fatalf("the key a day later: %+v, %v", fresh, err)
	}
}
