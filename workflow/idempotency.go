package workflow

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Idempotent requests (the IETF httpapi draft "The Idempotency-Key HTTP
// Header Field"): a client that may retry a write sends a key of its
// choosing with it; the first request with a key is processed and its
// answer kept, and a retry with the same key and the same request gets that
// answer again instead of a second effect.
//
// The rules, per user (the key's scope): a key is kept for KeyLife after
// its first use, then forgotten (PurgeKeys removes it); another request
// under a kept key is refused with CodeKeyReused; a retry while the first
// request is still being processed is refused with CodeKeyInFlight. A
// request that holds a key and ends without an answer worth keeping (a
// fault) lets it go (ReleaseKey), so that a retry runs again.
//
// One effect: a problem command run with a claim in its context
// (WithClaim) has its effect (the problem and the version it wrote)
// recorded by the store in the command's own transaction, under the claim,
// the random ID of the key's record; a second command under the claim is
// refused with *AppliedError and writes nothing. So a crash between the
// effect and the saved answer leaves the effect on record, and the retry
// answers from it (BeginKey returns it) instead of applying the command
// again.

// Codes of the idempotency refusals.
const (
	// CodeKeyReused refuses a request whose key was used with another
	// request (another route or body): 422.
	CodeKeyReused Code = "idempotency_key_reused"
	// CodeKeyInFlight refuses a retry while the first request with its key is
	// still being processed: 409.
	CodeKeyInFlight Code = "idempotency_key_in_flight"
)

const (
	// KeyLife is how long a key is kept after its first use.
	KeyLife = 24 * time.Hour
	// KeyLease is how long a request may hold its key unfinished before a
	// retry may take it over (the first request's server may have died); a
	// takeover cannot apply the effect twice, since the claim records it.
	KeyLease = time.Minute
	// MaxKeyLength bounds a key.
	MaxKeyLength = 255
	// purgeEvery is how often BeginKey purges expired keys, at most.
	purgeEvery = time.Minute
	// purgeBatch is how many expired keys one purge removes at most.
	purgeBatch = 1000
)

// KeyRecord is what a store keeps of one key of one scope (a user).
type KeyRecord struct {
	Scope string `json:"scope"`
	Key   string `json:"key"`
	// Claim is a random ID, new for each first use of the key: the effect of
	// a problem command run for it is recorded under it (WithClaim).
	Claim string `json:"claim"`
	// Fingerprint identifies the request: a retry must carry the same.
	Fingerprint string    `json:"fingerprint"`
	Created     time.Time `json:"created"`
	Expires     time.Time `json:"expires"`
	// Started is when the request now holding the key began; zero when no
	// request holds it.
	Started time.Time `json:"started,omitzero"`
	// Answer is the kept answer, opaque to the domain; nil until saved.
	Answer []byte `json:"answer,omitempty"`
	// Effect is the effect recorded under Claim, if any. Stores fill it in
	// when they read the record and never store it with it.
	Effect *Effect `json:"-"`
}

// Effect is what a problem command run under a claim wrote.
type Effect struct {
	ProblemID string `json:"problem_id"`
	Version   uint64 `json:"version"`
	Created   bool   `json:"created,omitempty"`
}

// AppliedError refuses a problem command whose claim already has an
// effect: the request it belongs to was applied before.
type AppliedError struct {
	Effect Effect
}

func (e *AppliedError) Error() string {
	return fmt.Sprintf("the request was already applied: problem %s, version %d", e.Effect.ProblemID, e.Effect.Version)
}

// IdempotencyKeys is the store capability behind idempotent requests (see
// store.go's list of capabilities). A
// store that has it also honours claims (WithClaim) in CreateProblem and
// UpdateProblem: with a claim in the context, a command that writes records
// its Effect under the claim in the same transaction, and a command whose
// claim already has an effect writes nothing and fails with *AppliedError.
type IdempotencyKeys interface {
	// UpdateKey reads the record of key in scope (nil when there is none)
	// with the effect recorded under its claim, and calls decide with it in
	// one atomic step: if decide returns a record, it replaces the stored one
	// (Effect aside); if it returns nil, nothing is written. decide's error
	// is returned as is. decide may be called more than once and must decide
	// from its argument alone.
	UpdateKey(ctx context.Context, scope, key string, decide func(cur *KeyRecord) (*KeyRecord, error)) error
	// PurgeKeys removes at most limit records whose Expires is at or before
	// now, with the effects recorded under their claims, and returns how
	// many it removed.
	PurgeKeys(ctx context.Context, now time.Time, limit int) (int, error)
}

// claimKey is the context key of a command's claim.
type claimKey struct{}

// WithClaim returns ctx carrying claim: the problem command run with it
// records its effect under the claim (see IdempotencyKeys).
func WithClaim(ctx context.Context, claim string) context.Context {
	return context.WithValue(ctx, claimKey{}, claim)
}

// ClaimOf returns the claim ctx carries, or "".
func ClaimOf(ctx context.Context) string {
	c, _ := ctx.Value(claimKey{}).(string)
	return c
}

// idempotency is the service's purge bookkeeping.
type idempotency struct {
	mu        sync.Mutex
	lastPurge time.Time
}

// keys returns the store's IdempotencyKeys, or an error saying it has none.
func (s *Service) keys() (IdempotencyKeys, error) {
	k, ok := s.store.(IdempotencyKeys)
	if !ok {
		return nil, errors.New("workflow: the store keeps no idempotency keys")
	}
	return k, nil
}

// KeepsKeys reports whether the store keeps idempotency keys (see
// IdempotencyKeys); without them a request's key is not honoured.
func (s *Service) KeepsKeys() bool {
	_, ok := s.store.(IdempotencyKeys)
	return ok
}

// CheckKey refuses a key that is empty, longer than MaxKeyLength or holds
// anything but printable ASCII.
func CheckKey(key string) error {
	if key == "" || len(key) > MaxKeyLength {
		return RefuseField(ReasonMalformed, "Idempotency-Key", "an idempotency key has 1 to %d characters", MaxKeyLength)
	}
	for i := 0; i < len(key); i++ {
		if key[i] < 0x20 || key[i] > 0x7E {
			return RefuseField(ReasonMalformed, "Idempotency-Key", "an idempotency key holds printable ASCII only")
		}
	}
	return nil
}

// BeginKey starts a request of actor a with key and fingerprint. It returns
// the key's record and what to do:
//   - rec.Answer not nil: the request was answered before; send that again.
//   - rec.Effect not nil: it was applied but its answer is lost; answer from
//     the effect.
//   - otherwise the request now holds the key: process it with
//     WithClaim(ctx, rec.Claim), then FinishKey or ReleaseKey.
//
// A key kept for another fingerprint is CodeKeyReused; one held by a
// request begun less than KeyLease ago is CodeKeyInFlight. Expired keys are
// purged now and then (at most once a minute, a batch at a time).
func (s *Service) BeginKey(ctx context.Context, a Actor, key, fingerprint string) (*KeyRecord, error) {
	if err := CheckKey(key); err != nil {
		return nil, err
	}
	ks, err := s.keys()
	if err != nil {
		return nil, err
	}
	now := s.clock.Now()
	s.purgeKeys(ctx, ks, now)
	var out *KeyRecord
	err = ks.UpdateKey(ctx, a.ID, key, func(cur *KeyRecord) (*KeyRecord, error) {
		out = nil
		if cur == nil || !now.Before(cur.Expires) {
			rec := &KeyRecord{Scope: a.ID, Key: key, Claim: hex.EncodeToString(randomBytes(16)), Fingerprint: fingerprint,
				Created: now, Expires: now.Add(KeyLife), Started: now}
			out = rec
			return rec, nil
		}
		if cur.Fingerprint != fingerprint {
			return nil, RefuseField(ReasonKeyReused, "Idempotency-Key", "this idempotency key was used with another request; use a new key for a new request")
		}
		if cur.Answer != nil || cur.Effect != nil {
			out = cur
			return nil, nil
		}
		if !cur.Started.IsZero() && now.Sub(cur.Started) < KeyLease {
			return nil, RefuseField(ReasonKeyInFlight, "Idempotency-Key", "a request with this idempotency key is still being processed; retry later")
		}
		rec := *cur
		rec.Started = now
		out = &rec
		return &rec, nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// FinishKey keeps answer as the answer to key's request, if the key's record
// is still the one of claim.
func (s *Service) FinishKey(ctx context.Context, a Actor, key, claim string, answer []byte) error {
	if answer == nil {
		answer = []byte{}
	}
	return s.settleKey(ctx, a, key, claim, func(rec *KeyRecord) {
		rec.Answer, rec.Started = answer, time.Time{}
	})
}

// ReleaseKey lets key go without an answer, so that a retry runs again (an
// effect already recorded under claim stays, and answers the retry).
func (s *Service) ReleaseKey(ctx context.Context, a Actor, key, claim string) error {
	return s.settleKey(ctx, a, key, claim, func(rec *KeyRecord) { rec.Started = time.Time{} })
}

func (s *Service) settleKey(ctx context.Context, a Actor, key, claim string, change func(rec *KeyRecord)) error {
	ks, err := s.keys()
	if err != nil {
		return err
	}
	return ks.UpdateKey(ctx, a.ID, key, func(cur *KeyRecord) (*KeyRecord, error) {
		if cur == nil || cur.Claim != claim || cur.Answer != nil {
			return nil, nil // purged, taken anew after expiry, or answered by a takeover
		}
		rec := *cur
		change(&rec)
		return &rec, nil
	})
}

// KeyEffect returns the effect recorded under claim, if key's record of
// actor a still has that claim; nil otherwise.
func (s *Service) KeyEffect(ctx context.Context, a Actor, key, claim string) (*Effect, error) {
	ks, err := s.keys()
	if err != nil {
		return nil, err
	}
	var eff *Effect
	err = ks.UpdateKey(ctx, a.ID, key, func(cur *KeyRecord) (*KeyRecord, error) {
		eff = nil
		if cur != nil && cur.Claim == claim {
			eff = cur.Effect
		}
		return nil, nil
	})
	return eff, err
}

// purgeKeys removes a batch of expired keys if the last purge was a while
// ago. A failure is left for the next one: expired keys are ignored anyway.
func (s *Service) purgeKeys(ctx context.Context, ks IdempotencyKeys, now time.Time) {
	s.idem.mu.Lock()
	due := now.Sub(s.idem.lastPurge) >= purgeEvery || now.Before(s.idem.lastPurge)
	if due {
		s.idem.lastPurge = now
	}
	s.idem.mu.Unlock()
	if due {
		_, _ = ks.PurgeKeys(ctx, now, purgeBatch)
	}
}

// ProblemAtVersion returns problem id as it stood at version v, rebuilt from
// its history, if a may see it now.
func (s *Service) ProblemAtVersion(ctx context.Context, a Actor, id string, v uint64) (*Problem, error) {
	hist, err := s.History(ctx, a, id)
	if err != nil {
		return nil, err
	}
	n := 0
	for n < len(hist) && hist[n].Version <= v {
		n++
	}
	if n == 0 || hist[n-1].Version != v {
		return nil, Refuse(ReasonProblemNotFound, "problem %s has no version %d", id, v)
	}
	return Replay(hist[:n])
}
