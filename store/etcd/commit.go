package etcd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/jdz-eco/rectify/workflow"
)

// Group commit of problem commands (see the package doc): callers prepare,
// one goroutine per Store commits what is queued in one Txn and, when a
// compare fails, re-decides the commands whose records moved and tries
// again. A command's history entries are written unsealed (P pe/…); the
// sealer (seal.go) appends them to the hash chain.

// maxAttempts bounds the transactions one group tries before its commands
// fail with ErrContention; after contendedAttempts they pause at random
// between tries.
const (
	maxAttempts       = 40
	contendedAttempts = 10
)

// counterState is the last problem number with its key's mod revision (-1
// and held while a batch holds it: see decodeCounter).
type counterState struct {
	n    uint64
	rev  int64
	held bool
}

// record is a problem record as read, with its mod revision. p is never
// changed: apply gets a clone.
type record struct {
	rev   int64
	p     *workflow.Problem
	facts workflow.RollupFacts // rollup.go
}

func decodeRecord(n uint64, kv *kvPair) (*record, error) {
	p, facts, err := decodeStored(n, kv.Value)
	if err != nil {
		return nil, err
	}
	return &record{rev: kv.ModRevision, p: p, facts: facts}, nil
}

// prepared is an update decided on a record.
type prepared struct {
	onRev   int64 // the revision of the record apply ran on
	p       *workflow.Problem
	entries []workflow.Entry
}

// prepare runs apply on a copy of old and sets the new version.
func prepare(old *workflow.Problem, apply func(p *workflow.Problem) ([]workflow.Entry, error)) (*workflow.Problem, []workflow.Entry, error) {
	p := old.Clone()
	entries, err := apply(p)
	if err != nil {
		return nil, nil, err
	}
	if p.ID != old.ID {
		return nil, nil, fmt.Errorf("etcd: apply changed the id of problem %s to %q", old.ID, p.ID)
	}
	p.Version = old.Version + 1
	return p, entries, nil
}

// job is one queued command.
type job struct {
	ctx   context.Context
	fence *fence

	// An update of problem n (id).
	n     uint64
	id    string
	apply func(p *workflow.Problem) ([]workflow.Entry, error)
	base  *record   // the newest record known to the job
	prep  *prepared // apply's result on base, or nil to decide again

	// A create.
	create bool
	dedupe string
	build  func(n uint64) (*workflow.Problem, []workflow.Entry, error)

	// Filled by the committer.
	result   *workflow.Problem // what the planned transaction writes for it
	refusal  error             // apply's refusal on what an earlier command of the batch left
	out      *workflow.Problem
	created  bool
	err      error
	panicked any
	stack    []byte
	done     chan struct{}
	finished bool
}

func (j *job) finish(p *workflow.Problem, created bool, err error) {
	if j.finished {
		return
	}
	j.out, j.created, j.err, j.finished = p, created, err, true
	close(j.done)
}

// committer is the queue of one Store.
type committer struct {
	s      *Store
	mu     sync.Mutex
	queue  []*job
	closed bool
	wake   chan struct{}
	exited chan struct{}

	// What the committer last learned of the counter.
	stateMu sync.Mutex
	counter counterState
}

func (c *committer) state() counterState {
	c.stateMu.Lock()
	defer c.stateMu.Unlock()
	return c.counter
}

func (c *committer) setState(cn counterState) {
	c.stateMu.Lock()
	c.counter = cn
	c.stateMu.Unlock()
}

func newCommitter(s *Store, c counterState) *committer {
	return &committer{s: s, wake: make(chan struct{}, 1), exited: make(chan struct{}), counter: c}
}

var errClosed = errors.New("etcd: the store is closed")

// do queues j and waits for its outcome. The caller waits even if its
// context ends once j is queued: a command taken into a transaction
// completes, and its caller learns how.
func (c *committer) do(j *job) {
	j.done = make(chan struct{})
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		j.finish(nil, false, errClosed)
		return
	}
	c.queue = append(c.queue, j)
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
	<-j.done
	if j.panicked != nil {
		panic(fmt.Sprintf("%v\n\n(re-raised from the etcd committer; its stack:)\n%s", j.panicked, j.stack))
	}
}

// requeue puts jobs back at the front of the queue.
func (c *committer) requeue(jobs []*job) {
	c.mu.Lock()
	c.queue = append(append([]*job(nil), jobs...), c.queue...)
	c.mu.Unlock()
}

// awaitBatch waits, in a goroutine of its own, for a batch's hold on the
// counter to go, then queues jobs again (or fails them if the store is
// closing).
func (c *committer) awaitBatch(jobs []*job) {
	go func() {
		cn, err := c.s.awaitBatch()
		c.mu.Lock()
		if err == nil && c.closed {
			err = errClosed
		}
		if err != nil {
			c.mu.Unlock()
			for _, j := range jobs {
				j.finish(nil, false, err)
			}
			return
		}
		if !cn.held {
			c.setState(cn)
		}
		for _, j := range jobs {
			j.result, j.refusal = nil, nil
		}
		c.queue = append(append([]*job(nil), jobs...), c.queue...)
		c.mu.Unlock()
		select {
		case c.wake <- struct{}{}:
		default:
		}
	}()
}

func (c *committer) stop() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
	<-c.exited
}

func (c *committer) loop() {
	defer close(c.exited)
	for {
		c.mu.Lock()
		for len(c.queue) == 0 && !c.closed {
			c.mu.Unlock()
			<-c.wake
			c.mu.Lock()
		}
		if len(c.queue) == 0 {
			c.mu.Unlock()
			return
		}
		n := min(len(c.queue), c.s.cfg.MaxBatch)
		jobs := append([]*job(nil), c.queue[:n]...)
		c.queue = c.queue[n:]
		c.mu.Unlock()
		c.run(jobs)
	}
}

// run commits jobs: one transaction, tried again (deciding again what
// moved) until it commits, every job has failed, or maxAttempts.
func (c *committer) run(jobs []*job) {
	pending := jobs
	for attempt := 0; len(pending) > 0; attempt++ {
		if attempt == maxAttempts {
			for _, j := range pending {
				j.finish(nil, false, ErrContention)
			}
			return
		}
		if attempt >= contendedAttempts {
			// A refused transaction means another one committed: retrying
			// at once is progress for someone. Only a command that keeps
			// losing steps aside a little, so as not to spin; a loser that
			// waited at every refusal would fall further behind a winner
			// that never waits, and starve.
			_ = sleepCtx(c.s.bg, rand.N(backoff(attempt-contendedAttempts)))
		}
		b := c.plan(pending)
		if len(b.deferred) > 0 {
			c.requeue(b.deferred)
		}
		if len(b.jobs) == 0 {
			return
		}
		out, err := c.s.commit(c.s.bg, c.batchTxn(b))
		if err != nil {
			if len(b.jobs)+len(b.refused) > 1 && !errors.Is(err, ErrOutcomeUnknown) {
				// The request itself was refused (too many operations, too
				// large): each command alone, so that only the culprit fails.
				for _, j := range b.all() {
					j.refusal = nil
					c.run([]*job{j})
				}
				return
			}
			for _, j := range b.all() {
				j.finish(nil, false, err)
			}
			return
		}
		if out.committed {
			c.committed(b, out.rev)
			return
		}
		c.s.stats.Conflicts.Add(1)
		pending = c.absorb(b, out.elses)
	}
}

// batch is one planned transaction.
type batch struct {
	jobs     []*job
	refused  []*job // refused on the batch's own changes: final once it commits
	planned  []*job // jobs and refused, in queue order
	deferred []*job

	counter0 counterState // as known when planning
	counter  uint64

	order       []uint64                     // problems written, in first-touch order
	base        map[uint64]*record           // updated problems: the record compared
	cur         map[uint64]*workflow.Problem // every written problem as the batch leaves it
	created     map[uint64]bool
	pending     []clientv3.Op     // the commands' unsealed entries
	dedupes     map[string]uint64 // dedupe key → problem number created with it
	dedupeOrder []string          // the dedupe keys of the creates, in order
	fences      []*fence
	claims      []claimWrite // effects recorded under the jobs' claims (idempotency.go)

	ops, cmps, bytes int
	result           map[string]uint64 // problem id → version, the command key's value
	roll             *rollupBatch      // rollup.go
}

// plan decides what pending can commit together: each job's change on the
// state the jobs before it leave, within the transaction limits, updates
// and creates apart. Jobs whose apply or build fails are finished with
// their error; jobs that do not fit, or are of the other kind, are
// deferred.
func (c *committer) plan(pending []*job) *batch {
	cn := c.state()
	b := &batch{
		counter0: cn, counter: cn.n,
		base: map[uint64]*record{}, cur: map[uint64]*workflow.Problem{}, created: map[uint64]bool{},
		dedupes: map[string]uint64{}, result: map[string]uint64{},
		cmps: 3, ops: 5, // counter, schema, rollup policy, filter marker, command key
		roll: newRollupBatch(c.s.rollupPolicy()),
	}
	kind := 0 // 1: the batch updates problems; 2: it creates them
	for i, j := range pending {
		if err := j.ctx.Err(); err != nil {
			j.finish(nil, false, err) // its caller gave up before anything was sent
			continue
		}
		// Creates compare the counter, which any replica's create moves:
		// they go in transactions of their own, so that updates, which
		// conflict only on their problems, never wait on them.
		k := 1
		if j.create {
			k = 2
		}
		if kind == 0 {
			kind = k
		}
		if k != kind {
			b.deferred = append(b.deferred, j)
			continue
		}
		var fits bool
		if j.create {
			fits = c.planCreate(b, j)
		} else {
			fits = c.planUpdate(b, j)
		}
		if !fits {
			b.deferred = append(b.deferred, pending[i:]...)
			break
		}
	}
	return b
}

// limit is the operations one branch of a Txn may hold.
func (c *committer) limit() int { return c.s.cfg.MaxTxnOps }

// call runs f, turning a panic into the job's (re-raised in its caller).
func call[T any](j *job, f func() (T, error)) (v T, err error) {
	defer func() {
		if r := recover(); r != nil {
			j.panicked, j.stack = r, debug.Stack()
			err = fmt.Errorf("etcd: command panicked: %v", r)
		}
	}()
	return f()
}

type decided struct {
	p       *workflow.Problem
	entries []workflow.Entry
}

func (c *committer) planUpdate(b *batch, j *job) bool {
	n := j.n
	prev, inBatch := b.cur[n]
	var (
		base *record
		d    decided
		err  error
	)
	if !inBatch {
		base = j.base
		if j.prep != nil && j.prep.onRev == base.rev {
			d = decided{j.prep.p, j.prep.entries}
		} else {
			c.s.stats.Reapplied.Add(1)
			d, err = call(j, func() (decided, error) {
				p, e, err := prepare(base.p, j.apply)
				return decided{p, e}, err
			})
			if err != nil {
				j.finish(nil, false, err)
				return true
			}
			j.prep = &prepared{onRev: base.rev, p: d.p, entries: d.entries}
		}
		prev = base.p
	} else {
		// An earlier command of this transaction changed the problem:
		// decide on what it left. A refusal stands only if that command
		// commits; until then it is provisional.
		d, err = call(j, func() (decided, error) {
			p, e, err := prepare(prev, j.apply)
			return decided{p, e}, err
		})
		if j.panicked != nil {
			j.finish(nil, false, err)
			return true
		}
		if err != nil {
			j.refusal = err
			b.refused = append(b.refused, j)
			b.planned = append(b.planned, j)
			return true
		}
	}
	dels, puts := indexDiff(n, prev, d.p)
	ops := len(dels) + len(puts) + min(len(d.entries), 1)
	cmps := 0
	if !inBatch {
		ops++
		cmps++
	}
	f := j.fence
	if f != nil && !b.hasFence(f) {
		cmps++
	}
	return c.add(b, j, n, d, ops, cmps, base, f, "")
}

func (c *committer) planCreate(b *batch, j *job) bool {
	if j.dedupe != "" {
		if _, dup := b.dedupes[j.dedupe]; dup {
			return false // after the first one commits, this one finds it
		}
	}
	n := b.counter + 1
	d, err := call(j, func() (decided, error) {
		built, entries, err := j.build(n)
		if err != nil {
			return decided{}, err
		}
		if built == nil {
			return decided{}, fmt.Errorf("etcd: build returned no problem for number %d", n)
		}
		if built.ID != workflow.ProblemID(n) {
			return decided{}, fmt.Errorf("etcd: build returned problem %q for number %d", built.ID, n)
		}
		p := built.Clone()
		p.Version = 1
		return decided{p, entries}, nil
	})
	if err != nil {
		j.finish(nil, false, err) // the number is not consumed
		return true
	}
	ops := 1 + len(indexPuts(d.p, n)) + min(len(d.entries), 1)
	cmps := 0
	if j.dedupe != "" {
		ops++
		cmps++
	}
	f := j.fence
	if f != nil && !b.hasFence(f) {
		cmps++
	}
	return c.add(b, j, n, d, ops, cmps, nil, f, j.dedupe)
}

func (b *batch) hasFence(f *fence) bool {
	for _, g := range b.fences {
		if *g == *f {
			return true
		}
	}
	return false
}

// add adds the job to the batch with d's entries, unsealed, if the
// transaction stays within its limits (or fails the job when it would not
// fit even alone, or its entries would not fit one seal transaction).
func (c *committer) add(b *batch, j *job, n uint64, d decided, ops, cmps int, base *record, f *fence, dedupe string) bool {
	fits, claimOps, claimCmps := b.claimFits(j)
	if !fits {
		return false
	}
	ops, cmps = ops+claimOps, cmps+claimCmps
	id := workflow.ProblemID(n)
	var pendingOp []clientv3.Op
	size := 0
	if len(d.entries) > 0 {
		v, err := encodePending(d.entries, id, d.p.Version)
		if err != nil {
			j.finish(nil, false, err)
			return true
		}
		size += len(v)
		pendingOp = append(pendingOp, clientv3.OpPut(c.s.k(pendingKey(n, d.p.Version)), string(v)))
		if err := c.s.sealable(id, len(d.entries), len(v)); err != nil {
			j.finish(nil, false, err)
			return true
		}
	}
	size += 2048 // the record, roughly; the exact size is known at encoding
	if recSize, err := json.Marshal(d.p); err == nil {
		size += len(recSize)
	}
	prev, baseFacts := b.cur[n], workflow.NoRollupFacts
	if _, seen := b.cur[n]; !seen && base != nil {
		prev, baseFacts = base.p, base.facts
	}
	roll, rollOps, err := b.roll.write(n, prev, baseFacts, d.p, d.entries)
	if err != nil {
		j.finish(nil, false, err)
		return true
	}
	ops += rollOps
	size += 48 * len(roll.Deltas)
	lim := c.limit()
	if b.ops+ops > lim || b.cmps+cmps > lim || b.bytes+size > c.s.cfg.MaxTxnBytes {
		if len(b.jobs) > 0 {
			return false
		}
		j.finish(nil, false, fmt.Errorf("etcd: the command on problem %s needs %d operations and %d bytes in one transaction, more than the limits (%d operations, %d bytes: etcd's --max-txn-ops and --max-request-bytes)",
			id, b.ops+ops, b.bytes+size, lim, c.s.cfg.MaxTxnBytes))
		return true
	}
	b.ops += ops
	b.cmps += cmps
	b.bytes += size
	if _, seen := b.cur[n]; !seen {
		b.order = append(b.order, n)
		if base != nil {
			b.base[n] = base
		} else {
			b.created[n] = true
		}
	}
	b.cur[n] = d.p
	if j.create {
		b.counter = n
		if dedupe != "" {
			b.dedupes[dedupe] = n
			b.dedupeOrder = append(b.dedupeOrder, dedupe)
		}
	}
	if f != nil && !b.hasFence(f) {
		b.fences = append(b.fences, f)
	}
	b.pending = append(b.pending, pendingOp...)
	b.roll.keep(n, roll)
	b.result[id] = d.p.Version
	b.addClaim(j, id, d.p.Version)
	j.result = d.p
	b.jobs = append(b.jobs, j)
	b.planned = append(b.planned, j)
	return true
}

// guarded returns the batch's transaction (see the package doc). The Else
// branch reads, in order: the counter, each updated problem (in b.order),
// each dedupe key (b.dedupeOrder), each fence key, each claim's effect
// (b.claims).
func (b *batch) guardedOps(s *Store) *guarded {
	g := &guarded{cmdKey: s.newCmdKey()}
	g.result, _ = json.Marshal(map[string]any{"problems": b.result})
	creates := b.counter != b.counter0.n
	if creates {
		g.cmps = append(g.cmps, clientv3.Compare(clientv3.ModRevision(s.k(keyCounter)), "=", b.counter0.rev))
	}
	g.elses = append(g.elses, clientv3.OpGet(s.k(keyCounter)))
	for _, n := range b.order {
		p := b.cur[n]
		v := encodeRecord(p, b.roll.facts[n])
		g.ops = append(g.ops, clientv3.OpPut(s.k(problemKey(n)), string(v)))
		var old *workflow.Problem
		if base, ok := b.base[n]; ok {
			old = base.p
			g.cmps = append(g.cmps, clientv3.Compare(clientv3.ModRevision(s.k(problemKey(n))), "=", base.rev))
			g.elses = append(g.elses, clientv3.OpGet(s.k(problemKey(n))))
		}
		dels, puts := indexDiff(n, old, p)
		for _, k := range dels {
			g.ops = append(g.ops, clientv3.OpDelete(s.k(k)))
		}
		for _, k := range puts {
			g.ops = append(g.ops, clientv3.OpPut(s.k(k.key), k.value))
		}
	}
	for _, key := range b.dedupeOrder {
		g.cmps = append(g.cmps, clientv3.Compare(clientv3.CreateRevision(s.k(dedupeKey(key))), "=", 0))
		g.ops = append(g.ops, clientv3.OpPut(s.k(dedupeKey(key)), strconv.FormatUint(b.dedupes[key], 10)))
		g.elses = append(g.elses, clientv3.OpGet(s.k(dedupeKey(key))))
	}
	for _, f := range b.fences {
		g.cmps = append(g.cmps, f.cmp())
		g.elses = append(g.elses, clientv3.OpGet(f.Key))
	}
	b.claimOps(s, g)
	g.ops = append(g.ops, b.pending...)
	g.ops = append(g.ops, b.roll.ops(s, strings.TrimPrefix(g.cmdKey, s.k("cmd/")))...)
	if creates {
		g.ops = append(g.ops, clientv3.OpPut(s.k(keyCounter), strconv.FormatUint(b.counter, 10)))
		if b.counter0.n == 0 {
			g.ops = append(g.ops, clientv3.OpPut(s.k(keySchema), schemaVersion), s.rollupPolicyOp(b.roll.pol), clientv3.OpPut(s.k(keyFilters), "1"))
		}
	}
	return g
}

func (c *committer) batchTxn(b *batch) *guarded { return b.guardedOps(c.s) }

// committed records a committed batch: the new counter, and each job's
// result.
func (c *committer) committed(b *batch, rev int64) {
	if b.counter != b.counter0.n {
		c.setState(counterState{n: b.counter, rev: rev})
	}
	c.s.stats.Commands.Add(uint64(len(b.jobs)))
	for _, j := range b.jobs {
		j.finish(j.result, j.create, nil)
	}
	for _, j := range b.refused {
		j.finish(nil, false, j.refusal)
	}
}

// all returns the batch's jobs, refused ones included, in no particular order.
func (b *batch) all() []*job { return append(append([]*job(nil), b.jobs...), b.refused...) }

// absorb learns from a refused transaction's Else branch what moved: the
// counter, the records (whose jobs decide again), the dedupe keys taken
// (whose creates return the existing problem) and the fences lost (whose
// jobs fail). It returns the jobs still to commit.
func (c *committer) absorb(b *batch, elses []*pbResponseOp) []*job {
	fail := func(err error) []*job {
		for _, j := range b.all() {
			j.finish(nil, false, err)
		}
		return nil
	}
	i := 0
	next := func() *kvPair { kv := first(elses[i]); i++; return kv }
	cn, err := decodeCounter(next())
	if err != nil {
		return fail(err)
	}
	if cn.held {
		// A batch holds the counter (batch.go): its creates wait aside for
		// it to go, so that the updates queued behind them go on.
		c.awaitBatch(b.all())
		return nil
	}
	c.setState(cn)
	for _, n := range b.order {
		base, ok := b.base[n]
		if !ok {
			continue
		}
		kv := next()
		if kv == nil {
			for _, j := range b.planned {
				if !j.create && j.n == n {
					j.finish(nil, false, notFound(j.id))
				}
			}
			continue
		}
		if kv.ModRevision == base.rev {
			continue
		}
		rec, err := decodeRecord(n, kv)
		if err != nil {
			return fail(err)
		}
		for _, j := range b.planned {
			if !j.create && j.n == n {
				j.base, j.prep = rec, nil
			}
		}
	}
	for _, key := range b.dedupeOrder {
		kv := next()
		if kv == nil {
			continue
		}
		var p *workflow.Problem
		n, perr := strconv.ParseUint(string(kv.Value), 10, 64)
		if perr == nil {
			p, err = c.s.Problem(c.s.bg, workflow.ProblemID(n))
		}
		for _, j := range b.planned {
			if !j.create || j.dedupe != key {
				continue
			}
			switch {
			case perr != nil:
				j.finish(nil, false, fmt.Errorf("etcd: dedupe key %q holds %q", key, kv.Value))
			case err != nil:
				j.finish(nil, false, fmt.Errorf("etcd: dedupe key %q names problem %d: %w", key, n, err))
			default:
				j.finish(p, false, nil)
			}
		}
	}
	for _, f := range b.fences {
		if f.holds(next()) {
			continue
		}
		for _, j := range b.planned {
			if j.fence != nil && *j.fence == *f {
				j.finish(nil, false, fmt.Errorf("%w (%s)", ErrFenced, f.Key))
			}
		}
	}
	b.absorbClaims(next)
	// The refused jobs decide again, in their places.
	var rest []*job
	for _, j := range b.planned {
		if !j.finished {
			j.result, j.refusal = nil, nil
			rest = append(rest, j)
		}
	}
	return rest
}

// UpdateProblem reads problem id, calls apply with a private copy and, if it
// succeeds, writes the record at its version plus one with the returned
// entries (unsealed: the sealer appends them to the chain, with their outbox
// events) and the index keys that changed, in one transaction guarded by the
// record's revision. If another
// writer changed the record meanwhile, apply runs again on the current one:
// apply may run more than once and must have no effect beyond p and its
// result. If apply fails, nothing is written and its error is returned as
// is. A context carrying a fence (WithFence) writes only while the fence
// holds (ErrFenced otherwise).
func (s *Store) UpdateProblem(ctx context.Context, id string, apply func(p *workflow.Problem) ([]workflow.Entry, error)) (*workflow.Problem, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	n, ok := workflow.ParseProblemID(id)
	if !ok {
		return nil, notFound(id)
	}
	kv, err := s.get(ctx, problemKey(n))
	if err != nil {
		return nil, err
	}
	if kv == nil {
		return nil, notFound(id)
	}
	rec, err := decodeRecord(n, kv)
	if err != nil {
		return nil, err
	}
	// A refusal on the record as read stands: that record was the current
	// one after this call began.
	p, entries, err := prepare(rec.p, apply)
	if err != nil {
		return nil, err
	}
	j := &job{ctx: ctx, fence: fenceFrom(ctx), n: n, id: id, apply: apply, base: rec,
		prep: &prepared{onRev: rec.rev, p: p, entries: entries}}
	s.gc.do(j)
	return j.out, unavailable(j.err)
}

// CreateProblem allocates the next problem number, calls build with it and
// writes the problem at version 1 with its entries (unsealed), indexes and
// dedupe key in one transaction guarded by the counter's revision. build may be called again with another number if a concurrent
// create took the first. A dedupe key already used returns that problem
// with created false; an error from build is returned as is.
func (s *Store) CreateProblem(ctx context.Context, dedupeKey string, build func(n uint64) (*workflow.Problem, []workflow.Entry, error)) (*workflow.Problem, bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	if dedupeKey != "" {
		p, err := s.byDedupe(ctx, dedupeKey)
		if err != nil || p != nil {
			return p, false, err
		}
	}
	j := &job{ctx: ctx, fence: fenceFrom(ctx), create: true, dedupe: dedupeKey, build: build}
	s.gc.do(j)
	if j.err != nil {
		return nil, false, unavailable(j.err)
	}
	return j.out, j.created, nil
}

// byDedupe returns the problem created with dedupe key, or nil.
func (s *Store) byDedupe(ctx context.Context, key string) (*workflow.Problem, error) {
	kv, err := s.get(ctx, dedupeKey(key))
	if err != nil || kv == nil {
		return nil, err
	}
	n, err := strconv.ParseUint(string(kv.Value), 10, 64)
	if err != nil {
		return nil, fmt.Errorf("etcd: dedupe key %q holds %q", key, kv.Value)
	}
	return s.Problem(ctx, workflow.ProblemID(n))
}

func notFound(id string) error {
	return workflow.Refuse(workflow.ReasonProblemNotFound, "problem %s not found", id)
}
