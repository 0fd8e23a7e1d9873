package etcd

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/jdz-eco/rectify/workflow"
)

// Idempotency keys (workflow.IdempotencyKeys):
//
//	P idem/k/<scope>/<key>            workflow.KeyRecord (JSON, without its Effect)
//	P idem/x/<unix s>/<scope>/<key>   empty: the expiry index (Expires rounded up to the second)
//	P idem/e/<claim>                  workflow.Effect, written in the command's transaction
//
// A record changes in a transaction guarded by its mod revision and by the
// revision of its claim's effect as decide saw them. An effect is written
// by the group committer in the transaction of its command, guarded by
// create_revision(P idem/e/<claim>) = 0, so that of the commands run under
// one claim exactly one ever commits (claimOps, absorbClaims).

func idemRecordKey(scope, key string) string { return "idem/k/" + esc(scope) + "/" + esc(key) }
func idemEffectKey(claim string) string      { return "idem/e/" + esc(claim) }

func idemExpiryKey(expires time.Time, scope, key string) string {
	sec := expires.Unix() // rounded up: a key past its second has expired
	if expires.Nanosecond() > 0 {
		sec++
	}
	return idemExpiryPrefix(max(sec, 0)) + esc(scope) + "/" + esc(key)
}

func idemExpiryPrefix(sec int64) string { return "idem/x/" + pad(uint64(sec)) + "/" }

// maxKeyAttempts bounds UpdateKey's tries against concurrent writers.
const maxKeyAttempts = 20

// UpdateKey reads the record of key in scope and its claim's effect, calls
// decide, and writes what it returns in a transaction guarded by what was
// read; when another writer changed either meanwhile, it reads and decides
// again.
func (s *Store) UpdateKey(ctx context.Context, scope, key string, decide func(cur *workflow.KeyRecord) (*workflow.KeyRecord, error)) error {
	rk := s.k(idemRecordKey(scope, key))
	for attempt := 0; attempt < maxKeyAttempts; attempt++ {
		if attempt >= 2 {
			_ = sleepCtx(ctx, backoff(attempt-2))
		}
		cur, recRev, effKey, effRev, err := s.readKeyRecord(ctx, idemRecordKey(scope, key))
		if err != nil {
			return err
		}
		var was *workflow.KeyRecord
		if cur != nil {
			c := *cur
			was = &c
		}
		next, err := decide(cur)
		if err != nil || next == nil {
			return err
		}
		if next.Scope != scope || next.Key != key {
			return fmt.Errorf("etcd: decide returned the record of %q/%q for %q/%q", next.Scope, next.Key, scope, key)
		}
		rec := *next
		rec.Effect = nil
		v, err := json.Marshal(&rec)
		if err != nil {
			return fmt.Errorf("etcd: encode idempotency key: %w", err)
		}
		cmps := []clientv3.Cmp{clientv3.Compare(clientv3.ModRevision(rk), "=", recRev)}
		if effKey != "" {
			cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(effKey), "=", effRev))
		}
		ops := []clientv3.Op{clientv3.OpPut(rk, string(v))}
		if was != nil && !was.Expires.Equal(rec.Expires) {
			ops = append(ops, clientv3.OpDelete(s.k(idemExpiryKey(was.Expires, scope, key))))
		}
		ops = append(ops, clientv3.OpPut(s.k(idemExpiryKey(rec.Expires, scope, key)), ""))
		if was != nil && was.Claim != rec.Claim {
			// The key is used anew: its old effect goes with its old claim.
			ops = append(ops, clientv3.OpDelete(s.k(idemEffectKey(was.Claim))))
		}
		ok, _, err := s.write(ctx, cmps, ops, nil)
		if err != nil || ok {
			return err
		}
		s.stats.Conflicts.Add(1)
	}
	return ErrContention
}

// readKeyRecord reads the record at rel (nil when absent) with the effect
// of its claim, and the revisions UpdateKey guards its write with.
func (s *Store) readKeyRecord(ctx context.Context, rel string) (rec *workflow.KeyRecord, recRev int64, effKey string, effRev int64, err error) {
	kv, err := s.get(ctx, rel)
	if err != nil || kv == nil {
		return nil, 0, "", 0, err
	}
	rec = new(workflow.KeyRecord)
	if err := json.Unmarshal(kv.Value, rec); err != nil {
		return nil, 0, "", 0, fmt.Errorf("etcd: decode idempotency key %s: %w", rel, err)
	}
	effKey = s.k(idemEffectKey(rec.Claim))
	ekv, err := s.get(ctx, idemEffectKey(rec.Claim))
	if err != nil {
		return nil, 0, "", 0, err
	}
	if ekv != nil {
		var e workflow.Effect
		if err := json.Unmarshal(ekv.Value, &e); err != nil {
			return nil, 0, "", 0, fmt.Errorf("etcd: decode the effect of claim %s: %w", rec.Claim, err)
		}
		rec.Effect, effRev = &e, ekv.ModRevision
	}
	return rec, kv.ModRevision, effKey, effRev, nil
}

// PurgeKeys removes at most limit records that expired at or before now,
// with their effects: a range read of the expiry index up to now, then one
// transaction per record, guarded by its revision.
func (s *Store) PurgeKeys(ctx context.Context, now time.Time, limit int) (int, error) {
	if limit <= 0 {
		limit = 1 << 30
	}
	type due struct{ index, scope, key string }
	var dues []due
	from, end := s.k("idem/x/"), s.k(idemExpiryPrefix(now.Unix()+1))
	_, err := s.rangeKeys(ctx, from, end, 0, min(limit, 1000), true, func(kv *kvPair) (bool, error) {
		rest := strings.TrimPrefix(string(kv.Key), s.k("idem/x/"))
		parts := strings.Split(rest, "/")
		if len(parts) != 3 {
			return false, fmt.Errorf("etcd: bad idempotency expiry key %q", kv.Key)
		}
		scope, err := unesc(parts[1])
		if err != nil {
			return false, err
		}
		key, err := unesc(parts[2])
		if err != nil {
			return false, err
		}
		dues = append(dues, due{string(kv.Key), scope, key})
		return len(dues) >= limit, nil
	})
	if err != nil {
		return 0, err
	}
	n := 0
	for _, d := range dues {
		rk := s.k(idemRecordKey(d.scope, d.key))
		rec, recRev, _, _, err := s.readKeyRecord(ctx, idemRecordKey(d.scope, d.key))
		if err != nil {
			return n, err
		}
		ops := []clientv3.Op{clientv3.OpDelete(d.index)}
		purged := rec != nil && !rec.Expires.After(now)
		if purged {
			ops = append(ops, clientv3.OpDelete(rk), clientv3.OpDelete(s.k(idemEffectKey(rec.Claim))))
		}
		ok, _, err := s.write(ctx, []clientv3.Cmp{clientv3.Compare(clientv3.ModRevision(rk), "=", recRev)}, ops, nil)
		if err != nil {
			return n, err
		}
		if ok && purged {
			n++
		}
	}
	return n, nil
}

// claimWrite is the effect a job of a batch records under its claim.
type claimWrite struct {
	claim  string
	effect workflow.Effect
	job    *job
}

// claimFits reports whether j may join b as far as its claim goes (no other
// job of b has it: after the first commits, the next finds its effect), and
// the operations and compares the claim adds.
func (b *batch) claimFits(j *job) (fits bool, ops, cmps int) {
	claim := workflow.ClaimOf(j.ctx)
	if claim == "" {
		return true, 0, 0
	}
	for _, w := range b.claims {
		if w.claim == claim {
			return false, 0, 0
		}
	}
	return true, 1, 1
}

// addClaim records the effect of j, added to b with version of problem id.
func (b *batch) addClaim(j *job, id string, version uint64) {
	if claim := workflow.ClaimOf(j.ctx); claim != "" {
		b.claims = append(b.claims, claimWrite{claim: claim, job: j,
			effect: workflow.Effect{ProblemID: id, Version: version, Created: j.create}})
	}
}

// claimOps adds to g, after everything else, each claim's guard (no effect
// yet), its effect and, for the Else branch, a Get of it.
func (b *batch) claimOps(s *Store, g *guarded) {
	for _, w := range b.claims {
		k := s.k(idemEffectKey(w.claim))
		v, _ := json.Marshal(w.effect) // an Effect always encodes
		g.cmps = append(g.cmps, clientv3.Compare(clientv3.CreateRevision(k), "=", 0))
		g.ops = append(g.ops, clientv3.OpPut(k, string(v)))
		g.elses = append(g.elses, clientv3.OpGet(k))
	}
}

// absorbClaims reads, from a refused transaction's Else branch (next), the
// effects of the batch's claims: a job whose claim has one fails with
// *workflow.AppliedError.
func (b *batch) absorbClaims(next func() *kvPair) {
	for _, w := range b.claims {
		kv := next()
		if kv == nil {
			continue
		}
		var e workflow.Effect
		if err := json.Unmarshal(kv.Value, &e); err != nil {
			w.job.finish(nil, false, fmt.Errorf("etcd: decode the effect of claim %s: %w", w.claim, err))
			continue
		}
		w.job.finish(nil, false, &workflow.AppliedError{Effect: e})
	}
}
