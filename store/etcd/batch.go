package etcd

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/jdz-eco/rectify/workflow"
)

// Batches of problems, all or nothing (workflow.BatchCreator).
//
// etcd bounds one transaction (--max-txn-ops, 128 by default, and
// --max-request-bytes, 1.5 MiB): a ledger import of thousands of problems
// cannot be one Txn. It is made all or nothing in five steps:
//
//  1. Claim. The importer first seals what is pending, then one Txn, guarded
//     by the revisions of the chain head and the counter, writes both again
//     as a hold: the head as it was (what Head and audits read) with the
//     batch's claim (state "staging"), the counter as it was marked held.
//     A held key decodes with revision -1, which no compare matches: while
//     the hold lasts no chain writer (the sealer, appendOther) moves the head
//     and no create takes a number; they wait for the hold to go (the
//     committer sets its creates aside meanwhile). Updates of existing
//     problems do not wait: they compare only their records and write their
//     entries pending, sealed after the batch. The claim names an owner key
//     on a lease the importer keeps alive.
//  2. Stage. The importer builds every problem (numbers after the counter)
//     and seals every entry (after the head), checks the dedupe keys, and
//     writes the batch, gzipped, under P stage/<id>/<chunk>: nothing a
//     reader reads changes.
//  3. Decide. One Txn, guarded by the hold's revision, sets the hold's state
//     to "committed", with the final head and counter. Before it, a failure
//     rolls back (the stage deleted, head and counter written back as they
//     were): the batch leaves nothing. From it, the batch will be published.
//  4. Publish. The staged keys go to their places in Txns of at most
//     MaxTxnOps operations, each guarded by the hold's revision: records
//     (with their rollup facts), each chunk's rollup deltas (one key per
//     scope, which the folder leaves until the hold is released: a publish
//     finished again must not put back what was folded), indexes, dedupe
//     keys and history entries, then the outbox keys in
//     sequence order (an events reader never skips one). One last Txn writes
//     the final head and counter, releasing the hold, and deletes the stage.
//  5. Recover. If the owner's lease expires (its process died), whoever
//     meets the hold (the sealer, which runs on one replica all the time, a
//     read of the chain, a create, another batch) finishes the batch: a
//     staging one is rolled back, a committed one published from its stage.
//     Both are idempotent and guarded by the hold's revision.
//
// Readers see nothing of a batch before its decision; while it is
// published (seconds for thousands of problems) they may see part of it,
// never an event before its entry. Reads of the chain (History, Events,
// Head) wait for the hold to go, since they first seal what was committed.
//
// Keys: P stage/<id>/<chunk> (the staged batch), P batch/<id> (the owner,
// on its lease).

// publishConcurrency is how many of a publish's Txns are in flight at once
// (etcd commits concurrent proposals together, one fsync for several).
const publishConcurrency = 16

// batchLeaseTTL is the owner lease's time to live, in seconds: how long a
// dead importer holds the chain before another replica finishes its batch.
const batchLeaseTTL = 10

// batchHold is the claim a held head carries.
type batchHold struct {
	ID      string              `json:"id"`
	State   string              `json:"state"` // batchStaging or batchCommitted
	Counter uint64              `json:"counter"`
	Count   int                 `json:"count"`
	Chunks  int                 `json:"chunks,omitempty"`
	Final   *workflow.ChainHead `json:"final,omitempty"`
}

const (
	batchStaging   = "staging"
	batchCommitted = "committed"
)

// heldHead is the value of P meta/head while a batch holds it.
type heldHead struct {
	workflow.ChainHead
	Batch *batchHold `json:"batch,omitempty"`
}

func ownerKey(id string) string        { return "batch/" + id }
func stagePrefix(id string) string     { return "stage/" + id + "/" }
func stageKey(id string, i int) string { return stagePrefix(id) + pad(uint64(i)) }

// stagedProblem is one problem of a staged chunk, ready for its keys.
type stagedProblem struct {
	N       uint64          `json:"n"`
	Dedupe  string          `json:"dedupe,omitempty"`
	Record  json.RawMessage `json:"record"`
	Entries []stagedEntry   `json:"entries"`
}

// stagedChunk is one staged chunk: its problems, and their rollup deltas
// (rollup.go) by scope, merged, as a command's transaction writes them
// (encodeBatch).
type stagedChunk struct {
	Problems []stagedProblem     `json:"problems"`
	Rollups  map[string][][]byte `json:"rollups,omitempty"` // binary: base64 in JSON
}

// batchDeltaID is the id of the delta keys (ro/b/<scope>/<id>) of piece i
// of chunk c of batch id: the folder leaves them while the batch holds the
// chain (foldable), so that a publish finished again after a crash never
// puts back deltas already folded.
func batchDeltaID(id string, c, i int) string {
	return "batch-" + id + "-" + pad(uint64(c)) + "-" + strconv.Itoa(i)
}

type stagedEntry struct {
	Seq   uint64          `json:"seq"`
	Value json.RawMessage `json:"value"`
}

// chainState is the head and counter as read, the hold if any, and whether
// its owner lives.
type chainState struct {
	head    workflow.ChainHead
	headRev int64
	hold    *batchHold
	counter counterState
	owner   bool
}

// readChain reads the head, the counter and the owner key of a hold, at one
// revision, trying again a few times while etcd does not answer (a busy
// cluster during a batch's publish), as sealThrough does.
func (s *Store) readChain(ctx context.Context) (chainState, error) {
	for attempt := 0; ; attempt++ {
		cs, err := s.readChainOnce(ctx)
		if err == nil || !isUnavailable(err) || attempt >= 8 || ctx.Err() != nil {
			return cs, err
		}
		if serr := sleepCtx(ctx, backoff(attempt)); serr != nil {
			return cs, err
		}
	}
}

func (s *Store) readChainOnce(ctx context.Context) (chainState, error) {
	var cs chainState
	rctx, cancel := s.reqCtx(ctx)
	resp, err := s.cli.Txn(rctx).Then(clientv3.OpGet(s.k(keyHead)), clientv3.OpGet(s.k(keyCounter)), clientv3.OpGet(s.k("batch/"), clientv3.WithPrefix(), clientv3.WithKeysOnly())).Commit()
	cancel()
	if err != nil {
		return cs, wrap("read the chain head", err)
	}
	if kv := first(resp.Responses[0]); kv != nil {
		var hh heldHead
		if err := json.Unmarshal(kv.Value, &hh); err != nil {
			return cs, fmt.Errorf("etcd: decode chain head: %w", err)
		}
		cs.head, cs.hold, cs.headRev = hh.ChainHead, hh.Batch, kv.ModRevision
	}
	if cs.counter, err = decodeCounter(first(resp.Responses[1])); err != nil {
		return cs, err
	}
	if cs.hold != nil {
		for _, kv := range resp.Responses[2].GetResponseRange().Kvs {
			if string(kv.Key) == s.k(ownerKey(cs.hold.ID)) {
				cs.owner = true
			}
		}
	}
	return cs, nil
}

// guardedTxn sends ops if the head is still at rev, retrying an answer
// lost; it reports whether the compare held, and the revision then. Every
// caller's ops are idempotent or checked by reading the head again.
func (s *Store) guardedTxn(ctx context.Context, rev int64, ops ...clientv3.Op) (bool, error) {
	ok, _, err := s.guardedTxnRev(ctx, rev, ops...)
	return ok, err
}

func (s *Store) guardedTxnRev(ctx context.Context, rev int64, ops ...clientv3.Op) (bool, int64, error) {
	var err error
	for attempt := 0; attempt < 10; attempt++ {
		rctx, cancel := s.reqCtx(ctx)
		var resp *clientv3.TxnResponse
		resp, err = s.cli.Txn(rctx).If(clientv3.Compare(clientv3.ModRevision(s.k(keyHead)), "=", rev)).Then(ops...).Commit()
		cancel()
		s.stats.Txns.Add(1)
		if err == nil {
			return resp.Succeeded, resp.Header.Revision, nil
		}
		if definite(err) || ctx.Err() != nil {
			break
		}
		if serr := sleepCtx(ctx, backoff(attempt)); serr != nil {
			break
		}
	}
	return false, 0, wrap("batch", err)
}

// CreateProblems writes count problems all or nothing (see the top of this
// file): claimed, staged, decided, published.
func (s *Store) CreateProblems(ctx context.Context, count int, next func(i int, n uint64) (workflow.BatchRecord, error), progress func(done int)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if count <= 0 {
		return nil
	}
	if progress == nil {
		progress = func(int) {}
	}
	b, err := s.claimBatch(ctx, count)
	if err != nil {
		return err
	}
	defer b.stop()
	// Past the claim, a failure is undone, or a decision carried out, even
	// if ctx ends.
	bg := context.WithoutCancel(ctx)
	if err := b.stage(ctx, next, progress); err != nil {
		if rerr := s.rollbackBatch(bg, b.hold, b.rev); rerr != nil {
			return fmt.Errorf("%w (and rolling the batch back: %v; another replica will)", err, rerr)
		}
		return err
	}
	if err := ctx.Err(); err != nil {
		if rerr := s.rollbackBatch(bg, b.hold, b.rev); rerr != nil {
			return fmt.Errorf("%w (and rolling the batch back: %v; another replica will)", err, rerr)
		}
		return err
	}
	if testBatchDies != nil && testBatchDies(s, batchStaging) {
		return errBatchDied
	}
	if err := b.decide(bg); err != nil {
		return err
	}
	if testBatchDies != nil && testBatchDies(s, batchCommitted) {
		return errBatchDied
	}
	if err := s.publishBatch(bg, b.hold, b.rev); err != nil {
		return fmt.Errorf("etcd: the batch is decided but not yet published (%v): any replica completes it once etcd answers", err)
	}
	progress(count)
	return nil
}

// testBatchDies, tests only, stops a batch after its stage ("staging") or
// its decision ("committed") as if its process died there (its lease is
// revoked on the way out).
var testBatchDies func(s *Store, step string) bool

var errBatchDied = errors.New("etcd: the batch's importer died (a test)")

// batchRun is a batch its importer holds.
type batchRun struct {
	s     *Store
	hold  *batchHold
	head0 workflow.ChainHead
	rev   int64 // the head's revision under the hold
	lease clientv3.LeaseID
	stop  func()
}

// claimBatch takes the chain for a batch of count problems, waiting for
// another batch's hold to go.
func (s *Store) claimBatch(ctx context.Context, count int) (*batchRun, error) {
	var id [8]byte
	_, _ = rand.Read(id[:])
	hold := &batchHold{ID: hex.EncodeToString(id[:]), State: batchStaging, Count: count}
	lctx, cancel := s.reqCtx(ctx)
	lease, err := s.cli.Grant(lctx, batchLeaseTTL)
	cancel()
	if err != nil {
		return nil, wrap("grant the batch's lease", err)
	}
	kctx, stopKeep := context.WithCancel(context.WithoutCancel(ctx))
	keep, err := s.cli.KeepAlive(kctx, lease.ID)
	if err != nil {
		stopKeep()
		return nil, wrap("keep the batch's lease", err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for range keep {
		}
	})
	b := &batchRun{s: s, hold: hold, lease: lease.ID, stop: func() {
		stopKeep()
		wg.Wait()
		rctx, cancel := s.reqCtx(context.WithoutCancel(ctx))
		_, _ = s.cli.Revoke(rctx, lease.ID)
		cancel()
	}}
	for attempt := 0; ; attempt++ {
		// What was committed before goes on the chain before the batch.
		if err := s.sealPending(ctx); err != nil {
			b.stop()
			return nil, err
		}
		cs, err := s.readChain(ctx)
		if err != nil {
			b.stop()
			return nil, err
		}
		if cs.hold != nil {
			if err := s.awaitRelease(ctx, cs); err != nil {
				b.stop()
				return nil, err
			}
			continue
		}
		hold.Counter = cs.counter.n
		v, _ := json.Marshal(heldHead{ChainHead: cs.head, Batch: hold})
		cmpCounter := clientv3.Compare(clientv3.ModRevision(s.k(keyCounter)), "=", cs.counter.rev)
		if cs.counter.rev == 0 {
			cmpCounter = clientv3.Compare(clientv3.CreateRevision(s.k(keyCounter)), "=", 0)
		}
		cmpHead := clientv3.Compare(clientv3.ModRevision(s.k(keyHead)), "=", cs.headRev)
		if cs.headRev == 0 {
			cmpHead = clientv3.Compare(clientv3.CreateRevision(s.k(keyHead)), "=", 0)
		}
		rctx, cancel := s.reqCtx(ctx)
		resp, err := s.cli.Txn(rctx).If(cmpHead, cmpCounter).Then(
			clientv3.OpPut(s.k(keyHead), string(v)),
			clientv3.OpPut(s.k(keyCounter), heldCounter(hold)),
			clientv3.OpPut(s.k(ownerKey(hold.ID)), "", clientv3.WithLease(lease.ID)),
		).Commit()
		cancel()
		s.stats.Txns.Add(1)
		switch {
		case err == nil && resp.Succeeded:
			b.head0, b.rev = cs.head, resp.Header.Revision
			return b, nil
		case err != nil && definite(err):
			b.stop()
			return nil, wrap("claim the chain for a batch", err)
		case err != nil:
			// Lost answer: the next reading tells whether the claim is ours.
			if cs2, rerr := s.readChain(ctx); rerr == nil && cs2.hold != nil && cs2.hold.ID == hold.ID {
				b.head0, b.rev = cs2.head, cs2.headRev
				return b, nil
			}
		}
		// Another writer moved the head or the counter: try again.
		if err := sleepCtx(ctx, backoff(min(attempt, 3))); err != nil {
			b.stop()
			return nil, err
		}
	}
}

// stage builds and seals every problem and writes the batch under its
// stage prefix, in chunks of at most half MaxTxnBytes before compression.
func (b *batchRun) stage(ctx context.Context, next func(i int, n uint64) (workflow.BatchRecord, error), progress func(int)) error {
	s, hold := b.s, b.hold
	head := b.head0
	var (
		chunk   []stagedProblem
		roll    = newRollupBatch(s.rollupPolicy())
		size    int
		dedupes = map[string]uint64{}
		pending []string // the chunk's dedupe keys, checked before it is written
	)
	flush := func() error {
		if len(chunk) == 0 {
			return nil
		}
		if err := s.checkDedupes(ctx, pending, dedupes); err != nil {
			return err
		}
		sc := stagedChunk{Problems: chunk, Rollups: map[string][][]byte{}}
		for scope, c := range roll.scopes {
			if c.Empty() {
				continue
			}
			// A fold of one piece changes at most 3 keys per day (due,
			// daily, monthly), the live tallies and the mark.
			for _, piece := range splitBatch(c, max(1, (s.cfg.MaxTxnOps-len(workflow.GroupBys)-4)/3)) {
				sc.Rollups[scope] = append(sc.Rollups[scope], []byte(encodeBatch(piece)))
			}
		}
		v, err := encodeChunk(sc)
		if err != nil {
			return err
		}
		ok, err := s.guardedTxn(ctx, b.rev, clientv3.OpPut(s.k(stageKey(hold.ID, hold.Chunks)), string(v)))
		if err != nil {
			return err
		}
		if !ok {
			return errors.New("etcd: the batch lost its hold on the chain (its lease expired)")
		}
		hold.Chunks++
		chunk, size, pending = chunk[:0], 0, pending[:0]
		roll = newRollupBatch(roll.pol)
		return nil
	}
	for i := 0; i < hold.Count; i++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		if i%256 == 0 {
			progress(i)
		}
		n := hold.Counter + 1 + uint64(i)
		rec, err := next(i, n)
		if err != nil {
			return err
		}
		if err := rec.Check(n); err != nil {
			return fmt.Errorf("etcd: %w", err)
		}
		sp := stagedProblem{N: n, Dedupe: rec.DedupeKey}
		ch, _, err := roll.write(n, nil, workflow.NoRollupFacts, rec.Problem, rec.Entries)
		if err != nil {
			return err
		}
		roll.keep(n, ch)
		sp.Record = encodeRecord(rec.Problem, ch.Facts)
		size += 24 * len(ch.Deltas) // merged by instant and group: less
		for _, e := range rec.Entries {
			prev := head.Hash
			if head.Seq == 0 {
				prev = workflow.GenesisHash
			}
			e.Seq, e.ProblemID = head.Seq+1, rec.Problem.ID
			if err := workflow.SealEntry(&e, prev); err != nil {
				return fmt.Errorf("etcd: %w", err)
			}
			v, err := json.Marshal(e)
			if err != nil {
				return err
			}
			sp.Entries = append(sp.Entries, stagedEntry{Seq: e.Seq, Value: v})
			head = workflow.ChainHead{Seq: e.Seq, Hash: e.Hash, At: e.At}
			size += len(v)
		}
		if k := sp.Dedupe; k != "" {
			if other, dup := dedupes[k]; dup {
				return workflow.Refuse(workflow.ReasonExists, "problems %d and %d of the batch have the same dedupe key %q: nothing was written", other, n, k)
			}
			dedupes[k] = n
			pending = append(pending, k)
		}
		chunk = append(chunk, sp)
		size += len(sp.Record) + len(sp.Dedupe)
		if size >= s.cfg.MaxTxnBytes/2 {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := flush(); err != nil {
		return err
	}
	final := head
	hold.Final = &final
	return nil
}

// checkDedupes refuses a dedupe key a problem already has.
func (s *Store) checkDedupes(ctx context.Context, keys []string, batch map[string]uint64) error {
	abs := make([]string, len(keys))
	for i, k := range keys {
		abs[i] = s.k(dedupeKey(k))
	}
	kvs, err := s.getMany(ctx, abs)
	if err != nil {
		return err
	}
	for i, kv := range kvs {
		if kv != nil {
			return workflow.Refuse(workflow.ReasonExists, "problem %s already has dedupe key %q (problem %d of the batch): nothing was written",
				kv.Value, keys[i], batch[keys[i]])
		}
	}
	return nil
}

func encodeChunk(chunk stagedChunk) ([]byte, error) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if err := json.NewEncoder(zw).Encode(chunk); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func decodeChunk(v []byte) (stagedChunk, error) {
	var chunk stagedChunk
	zr, err := gzip.NewReader(bytes.NewReader(v))
	if err != nil {
		return chunk, fmt.Errorf("etcd: a staged batch chunk: %w", err)
	}
	if err := json.NewDecoder(io.LimitReader(zr, 64<<20)).Decode(&chunk); err != nil {
		return chunk, fmt.Errorf("etcd: a staged batch chunk: %w", err)
	}
	return chunk, nil
}

// decide commits the batch: from here it will be published.
func (b *batchRun) decide(ctx context.Context) error {
	s := b.s
	b.hold.State = batchCommitted
	v, _ := json.Marshal(heldHead{ChainHead: b.head0, Batch: b.hold})
	ok, rev, err := s.guardedTxnRev(ctx, b.rev, clientv3.OpPut(s.k(keyHead), string(v)))
	if err == nil && ok {
		b.rev = rev
		return nil
	}
	// Refused, or the answer lost: the head tells.
	cs, rerr := s.readChain(ctx)
	if rerr == nil && cs.hold != nil && cs.hold.ID == b.hold.ID && cs.hold.State == batchCommitted {
		b.rev = cs.headRev
		return nil
	}
	if err != nil {
		return err
	}
	return errors.New("etcd: the batch lost its hold on the chain before its commit (its lease expired): nothing was written")
}

// rollbackBatch undoes a staging batch: the stage deleted, the head
// written back as it was, the owner key deleted; if the head is no longer
// at rev, someone else did it.
func (s *Store) rollbackBatch(ctx context.Context, hold *batchHold, rev int64) error {
	cs, err := s.readChain(ctx)
	if err != nil {
		return err
	}
	if cs.hold == nil || cs.hold.ID != hold.ID || cs.headRev != rev {
		return nil
	}
	v, _ := json.Marshal(cs.head)
	_, err = s.guardedTxn(ctx, rev,
		clientv3.OpPut(s.k(keyHead), string(v)),
		clientv3.OpPut(s.k(keyCounter), strconv.FormatUint(hold.Counter, 10)),
		clientv3.OpDelete(s.k(stagePrefix(hold.ID)), clientv3.WithPrefix()),
		clientv3.OpDelete(s.k(ownerKey(hold.ID))))
	return err
}

// publishBatch writes a committed batch's keys from its stage and releases
// the chain (see the top of this file).
func (s *Store) publishBatch(ctx context.Context, hold *batchHold, rev int64) error {
	if hold.Final == nil {
		return errors.New("etcd: a committed batch without its final head")
	}
	lost := errors.New("lost")
	var (
		ops   []clientv3.Op
		bytes int
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
		slots = make(chan struct{}, publishConcurrency)
	)
	fail := func(err error) {
		mu.Lock()
		if first == nil {
			first = err
		}
		mu.Unlock()
	}
	send := func(ops []clientv3.Op) {
		slots <- struct{}{}
		wg.Go(func() {
			defer func() { <-slots }()
			if ok, err := s.guardedTxn(ctx, rev, ops...); err != nil {
				fail(err)
			} else if !ok {
				fail(lost)
			}
		})
	}
	put := func(op clientv3.Op, size int) {
		if len(ops)+1 > s.cfg.MaxTxnOps || bytes+size > s.cfg.MaxTxnBytes {
			send(ops)
			ops, bytes = nil, 0
		}
		ops = append(ops, op)
		bytes += size
	}
	var seqs []uint64
	for c := 0; c < hold.Chunks; c++ {
		kv, err := s.get(ctx, stageKey(hold.ID, c))
		if err != nil {
			return err
		}
		if kv == nil {
			return s.releasedBy(ctx, hold, fmt.Errorf("etcd: staged chunk %d of batch %s is missing", c, hold.ID))
		}
		chunk, err := decodeChunk(kv.Value)
		if err != nil {
			return err
		}
		for scope, pieces := range chunk.Rollups {
			for i, v := range pieces {
				k := batchPrefix(scope) + batchDeltaID(hold.ID, c, i)
				put(clientv3.OpPut(s.k(k), string(v)), len(k)+len(v))
			}
		}
		for _, sp := range chunk.Problems {
			var p workflow.Problem
			if err := json.Unmarshal(sp.Record, &p); err != nil {
				return fmt.Errorf("etcd: a staged problem %d: %w", sp.N, err)
			}
			put(clientv3.OpPut(s.k(problemKey(sp.N)), string(sp.Record)), len(sp.Record))
			for _, ip := range indexPuts(&p, sp.N) {
				put(clientv3.OpPut(s.k(ip.key), ip.value), len(ip.key)+len(ip.value))
			}
			if sp.Dedupe != "" {
				put(clientv3.OpPut(s.k(dedupeKey(sp.Dedupe)), strconv.FormatUint(sp.N, 10)), len(sp.Dedupe))
			}
			for _, e := range sp.Entries {
				put(clientv3.OpPut(s.k(historyKey(e.Seq)), string(e.Value)), len(e.Value))
				put(clientv3.OpPut(s.k(problemHistPrefix(sp.N)+pad(e.Seq)), ""), 64)
				seqs = append(seqs, e.Seq)
			}
		}
	}
	if len(ops) > 0 {
		send(ops)
		ops, bytes = nil, 0
	}
	wg.Wait()
	if first != nil {
		return s.releasedBy(ctx, hold, first)
	}
	// The outbox last, in order, one Txn after another.
	for len(seqs) > 0 {
		n := min(len(seqs), s.cfg.MaxTxnOps)
		batch := make([]clientv3.Op, n)
		for i, seq := range seqs[:n] {
			batch[i] = clientv3.OpPut(s.k(outboxKey(seq)), "")
		}
		seqs = seqs[n:]
		if ok, err := s.guardedTxn(ctx, rev, batch...); err != nil || !ok {
			return s.releasedBy(ctx, hold, orErr(err, lost))
		}
	}
	v, _ := json.Marshal(hold.Final)
	release := []clientv3.Op{
		clientv3.OpPut(s.k(keyHead), string(v)),
		clientv3.OpPut(s.k(keyCounter), strconv.FormatUint(hold.Counter+uint64(hold.Count), 10)),
		clientv3.OpDelete(s.k(stagePrefix(hold.ID)), clientv3.WithPrefix()),
		clientv3.OpDelete(s.k(ownerKey(hold.ID))),
	}
	if hold.Counter == 0 {
		// The ledger's first problems: as the first create's transaction,
		// the layout, the rollups' policy and the filter indexes' mark.
		release = append(release, clientv3.OpPut(s.k(keySchema), schemaVersion), s.rollupPolicyOp(s.rollupPolicy()), clientv3.OpPut(s.k(keyFilters), "1"))
	}
	if ok, err := s.guardedTxn(ctx, rev, release...); err != nil || !ok {
		return s.releasedBy(ctx, hold, orErr(err, lost))
	}
	return nil
}

func orErr(err, otherwise error) error {
	if err != nil {
		return err
	}
	return otherwise
}

// releasedBy reports a publish that could not go on: nil if the hold is
// gone (another replica published the batch), err otherwise.
func (s *Store) releasedBy(ctx context.Context, hold *batchHold, err error) error {
	cs, rerr := s.readChain(ctx)
	if rerr == nil && (cs.hold == nil || cs.hold.ID != hold.ID) {
		return nil
	}
	return err
}

// awaitRelease waits until no batch holds the chain, finishing a batch
// whose owner died.
func (s *Store) awaitRelease(ctx context.Context, cs chainState) error {
	for attempt := 0; cs.hold != nil; attempt++ {
		if !cs.owner {
			var err error
			if cs.hold.State == batchCommitted {
				err = s.publishBatch(ctx, cs.hold, cs.headRev)
			} else {
				err = s.rollbackBatch(ctx, cs.hold, cs.headRev)
			}
			if err != nil {
				return err
			}
		} else if err := sleepCtx(ctx, min(50*time.Millisecond<<min(attempt, 4), 500*time.Millisecond)); err != nil {
			return err
		}
		var err error
		if cs, err = s.readChain(ctx); err != nil {
			return err
		}
	}
	return nil
}

// awaitBatch is the committer's: it found the counter held; it waits for
// the hold to go and returns the counter then (held again if another batch
// took it meanwhile: the creates wait again).
func (s *Store) awaitBatch() (counterState, error) {
	if err := s.awaitHold(s.bg); err != nil {
		return counterState{}, err
	}
	cs, err := s.readChain(s.bg)
	return cs.counter, err
}

// awaitHold waits until no batch holds the chain, finishing one whose
// owner died.
func (s *Store) awaitHold(ctx context.Context) error {
	cs, err := s.readChain(ctx)
	if err != nil {
		return err
	}
	return s.awaitRelease(ctx, cs)
}

// heldCounter is the counter's value while hold holds it: the number as it
// was, then the batch (see decodeCounter).
func heldCounter(hold *batchHold) string {
	return strconv.FormatUint(hold.Counter, 10) + heldMark + hold.ID
}

// heldMark separates a held counter's number from its batch.
const heldMark = ";batch="
