package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/jdz-eco/rectify/workflow"
)

// Idempotency keys (workflow.IdempotencyKeys): three buckets beside the
// others, created by the first write that needs them, so that older files
// open unchanged and a read tolerates their absence:
//
//	idem_keys     scope ‖ 0x00 ‖ key → workflow.KeyRecord (JSON, without its Effect)
//	idem_expiry   Expires (unix seconds, 8 bytes) ‖ scope ‖ 0x00 ‖ key → empty
//	idem_effects  claim → workflow.Effect (JSON), written with the command
//
// Key records go through the commit groups like commands, so that a
// request's key costs no fsync of its own. An effect is written in the
// transaction of the command that had it (claimed, recordEffect).
var (
	bucketIdemKeys    = []byte("idem_keys")
	bucketIdemExpiry  = []byte("idem_expiry")
	bucketIdemEffects = []byte("idem_effects")
)

func idemKey(scope, key string) []byte {
	return append(append([]byte(scope), 0), key...)
}

func idemExpiryKey(expires time.Time, k []byte) []byte {
	sec := expires.Unix() // rounded up: a key past its second has expired
	if expires.Nanosecond() > 0 {
		sec++
	}
	if sec < 0 {
		sec = 0
	}
	return append(u64(uint64(sec)), k...)
}

// createdBucket returns bucket name of tx, creating it.
func createdBucket(tx *bbolt.Tx, name []byte) (*bbolt.Bucket, error) {
	b, err := tx.CreateBucketIfNotExists(name)
	if err != nil {
		return nil, fmt.Errorf("bolt: create bucket %s: %w", name, err)
	}
	return b, nil
}

// effectOf returns the effect recorded under claim, or nil.
func effectOf(tx *bbolt.Tx, claim string) (*workflow.Effect, error) {
	if claim == "" {
		return nil, nil
	}
	b := tx.Bucket(bucketIdemEffects)
	if b == nil {
		return nil, nil
	}
	v := b.Get([]byte(claim))
	if v == nil {
		return nil, nil
	}
	var e workflow.Effect
	if err := json.Unmarshal(v, &e); err != nil {
		return nil, fmt.Errorf("bolt: decode the effect of claim %s: %w", claim, err)
	}
	return &e, nil
}

// claimed refuses, with *workflow.AppliedError, a command of ctx's claim if
// the claim already has an effect. It writes nothing.
func claimed(ctx context.Context, tx *bbolt.Tx) error {
	e, err := effectOf(tx, workflow.ClaimOf(ctx))
	if err != nil {
		return err
	}
	if e != nil {
		return &workflow.AppliedError{Effect: *e}
	}
	return nil
}

// recordEffect records, under ctx's claim if it has one, that the command
// wrote version of problem id.
func recordEffect(ctx context.Context, tx *bbolt.Tx, id string, version uint64, created bool) error {
	claim := workflow.ClaimOf(ctx)
	if claim == "" {
		return nil
	}
	b, err := createdBucket(tx, bucketIdemEffects)
	if err != nil {
		return err
	}
	v, err := json.Marshal(workflow.Effect{ProblemID: id, Version: version, Created: created})
	if err != nil {
		return fmt.Errorf("bolt: encode an effect: %w", err)
	}
	return b.Put([]byte(claim), v)
}

// keyRecord reads the record stored under k, with its effect.
func keyRecord(tx *bbolt.Tx, k []byte) (*workflow.KeyRecord, error) {
	b := tx.Bucket(bucketIdemKeys)
	if b == nil {
		return nil, nil
	}
	v := b.Get(k)
	if v == nil {
		return nil, nil
	}
	var rec workflow.KeyRecord
	if err := json.Unmarshal(v, &rec); err != nil {
		return nil, fmt.Errorf("bolt: decode idempotency key %q: %w", k, err)
	}
	e, err := effectOf(tx, rec.Claim)
	if err != nil {
		return nil, err
	}
	rec.Effect = e
	return &rec, nil
}

// UpdateKey reads the record of key in scope with its effect, lets decide
// replace it, and writes what decide returns, in one write transaction
// shared with concurrent commands.
func (s *Store) UpdateKey(ctx context.Context, scope, key string, decide func(cur *workflow.KeyRecord) (*workflow.KeyRecord, error)) error {
	if err := s.writable(ctx); err != nil {
		return err
	}
	k := idemKey(scope, key)
	return s.write(ctx, func(tx *bbolt.Tx, _ *txState) (bool, error) {
		cur, err := keyRecord(tx, k)
		if err != nil {
			return false, err
		}
		var was *workflow.KeyRecord
		if cur != nil {
			c := *cur
			was = &c
		}
		next, err := decide(cur)
		if err != nil || next == nil {
			return false, err
		}
		if next.Scope != scope || next.Key != key {
			return false, fmt.Errorf("bolt: decide returned the record of %q/%q for %q/%q", next.Scope, next.Key, scope, key)
		}
		rec := *next
		rec.Effect = nil
		v, err := json.Marshal(&rec)
		if err != nil {
			return false, fmt.Errorf("bolt: encode idempotency key: %w", err)
		}
		// Write.
		keys, err := createdBucket(tx, bucketIdemKeys)
		if err != nil {
			return true, err
		}
		expiry, err := createdBucket(tx, bucketIdemExpiry)
		if err != nil {
			return true, err
		}
		if was != nil && !was.Expires.Equal(rec.Expires) {
			if err := expiry.Delete(idemExpiryKey(was.Expires, k)); err != nil {
				return true, err
			}
		}
		if was != nil && was.Claim != rec.Claim {
			// The key is used anew: its old effect goes with its old claim.
			if b := tx.Bucket(bucketIdemEffects); b != nil {
				if err := b.Delete([]byte(was.Claim)); err != nil {
					return true, err
				}
			}
		}
		if err := expiry.Put(idemExpiryKey(rec.Expires, k), nil); err != nil {
			return true, err
		}
		if err := keys.Put(k, v); err != nil {
			return true, err
		}
		return true, nil
	})
}

// PurgeKeys removes at most limit records that expired at or before now,
// with their effects, walking the expiry index from its start.
func (s *Store) PurgeKeys(ctx context.Context, now time.Time, limit int) (int, error) {
	if err := s.writable(ctx); err != nil {
		return 0, err
	}
	if limit <= 0 {
		limit = math.MaxInt
	}
	n := 0
	err := s.write(ctx, func(tx *bbolt.Tx, _ *txState) (bool, error) {
		n = 0
		expiry := tx.Bucket(bucketIdemExpiry)
		if expiry == nil {
			return false, nil
		}
		var dead [][]byte
		c := expiry.Cursor()
		for ek, _ := c.First(); ek != nil && len(dead) < limit; ek, _ = c.Next() {
			if len(ek) < 8 || int64(binary.BigEndian.Uint64(ek[:8])) > now.Unix() {
				break
			}
			dead = append(dead, bytes.Clone(ek))
		}
		if len(dead) == 0 {
			return false, nil
		}
		keys, effects := tx.Bucket(bucketIdemKeys), tx.Bucket(bucketIdemEffects)
		for _, ek := range dead {
			k := ek[8:]
			rec, err := keyRecord(tx, k)
			if err != nil {
				return true, err
			}
			if err := expiry.Delete(ek); err != nil {
				return true, err
			}
			if rec == nil || rec.Expires.After(now) {
				continue // an index entry left behind, or a later expiry
			}
			if err := keys.Delete(k); err != nil {
				return true, err
			}
			if effects != nil {
				if err := effects.Delete([]byte(rec.Claim)); err != nil {
					return true, err
				}
			}
			n++
		}
		return true, nil
	})
	return n, err
}

// idempotency sends every key record, then every effect; the expiry index
// follows from the records.
func (x *exporter) idempotency() error {
	err := x.each(bucketIdemKeys, func(k, v []byte) error {
		var rec workflow.KeyRecord
		if err := decodeJSON(bucketIdemKeys, k, v, &rec); err != nil {
			return err
		}
		return x.sink.IdempotencyKey(x.ctx, rec)
	})
	if err != nil {
		return err
	}
	return x.each(bucketIdemEffects, func(k, v []byte) error {
		var e workflow.Effect
		if err := decodeJSON(bucketIdemEffects, k, v, &e); err != nil {
			return err
		}
		return x.sink.Effect(x.ctx, string(k), e)
	})
}
