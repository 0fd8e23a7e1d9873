package bolt

import (
	"context"
	"fmt"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	bbolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/jdz-eco/rectify/store/internal/rollup"
	"github.com/jdz-eco/rectify/workflow"
)

// Group commit.
//
// Every write command is queued and run by one committer goroutine, which
// takes everything queued (up to Options.MaxGroup commands, in arrival order)
// and runs it in one bbolt write transaction with one commit, that is one
// pair of fdatasyncs for the whole group. The next group starts as soon as
// the previous commit returns: there is no timer, so a lone writer pays one
// commit and concurrent writers share theirs. A caller returns only once the
// commit of the transaction that holds its change has returned, so an HTTP
// response is sent only after its change is on disk.
//
// A command decides before it writes: it reads what it needs and runs the
// domain's apply first, and only then writes (see op.run). A command that
// fails before writing (a refused trigger, a stale If-Match, a problem not
// found) wrote nothing, so it fails alone and the group goes on. A command
// that fails after it started writing (an encoding or bbolt error, a panic)
// has left the transaction half-changed: the group is rolled back and each of
// its commands runs again alone, in order, in a transaction of its own, as
// bbolt's Batch does. A failed commit fails every command of the group.
//
// Within a group, commands run in arrival order (FIFO), each seeing the
// writes of those before it, exactly as if each had committed alone.

// DefaultMaxGroup bounds the commands of one commit group when
// Options.MaxGroup is zero.
const DefaultMaxGroup = 1000

// op is one write command of a commit group.
type op struct {
	ctx context.Context
	// run applies the command in tx. It reports whether it wrote to tx:
	// an error with wrote false is the command's own refusal and leaves tx
	// as it was; an error with wrote true spoils tx.
	run func(tx *bbolt.Tx, st *txState) (wrote bool, err error)
	// alone runs the command in a transaction of its own (a batch of many
	// problems: a failure rolls back only it, and it never runs twice).
	alone bool

	err      error
	wrote    bool
	panicked any // a panic of run, re-raised in the caller's goroutine
	stack    []byte
	done     chan struct{}
}

// txState is what the commands of one transaction share: the chain head,
// read once and written once, before the commit.
type txState struct {
	head       workflow.ChainHead
	headLoaded bool
	headDirty  bool
	roll       rollup.Changes           // the tallies' deltas (rollup.go)
	post       map[string][]postingEdit // chunk key → edits (postings.go)
}

// chainHead returns the chain head as the transaction's commands left it.
func (st *txState) chainHead(tx *bbolt.Tx) (workflow.ChainHead, error) {
	if !st.headLoaded {
		h, err := getHead(tx.Bucket(bucketMeta))
		if err != nil {
			return h, err
		}
		st.head, st.headLoaded = h, true
	}
	return st.head, nil
}

// setChainHead moves the chain head; flush writes it.
func (st *txState) setChainHead(h workflow.ChainHead) {
	st.head, st.headLoaded, st.headDirty = h, true, true
}

// flush writes what the commands left in st.
func (st *txState) flush(tx *bbolt.Tx) error {
	if err := st.flushRollups(tx); err != nil {
		return err
	}
	if err := st.flushPostings(tx); err != nil {
		return err
	}
	if !st.headDirty {
		return nil
	}
	return putHead(tx.Bucket(bucketMeta), st.head)
}

// call runs o.run on tx, turning a panic into a spoiled transaction.
func (o *op) call(tx *bbolt.Tx, st *txState) (wrote bool, err error) {
	defer func() {
		if r := recover(); r != nil {
			o.panicked, o.stack = r, debug.Stack()
			wrote, err = true, fmt.Errorf("bolt: write command panicked: %v", r)
		}
	}()
	o.panicked, o.stack = nil, nil
	if err := o.ctx.Err(); err != nil {
		return false, err // the caller gave up before its turn: nothing written
	}
	return o.run(tx, st)
}

// committer is the state of the group commit queue.
type committer struct {
	mu     sync.Mutex
	queue  []*op
	closed bool
	wake   chan struct{} // a token when the queue may be non-empty
	exited chan struct{} // closed when the committer goroutine returns

	groups   atomic.Uint64 // transactions committed
	commands atomic.Uint64 // commands in them that wrote

	// Test hooks, set before the store is used: enqueued is called after
	// a command joined the queue; beforeCommit and afterCommit around
	// tx.Commit with the number of commands in the transaction.
	enqueued     func()
	beforeCommit func(n int)
	afterCommit  func(n int)
}

func newCommitter() *committer {
	return &committer{wake: make(chan struct{}, 1), exited: make(chan struct{})}
}

// write runs one write command through the commit queue and returns its
// result once the transaction holding it has committed (or once it failed
// or was refused).
func (s *Store) write(ctx context.Context, run func(tx *bbolt.Tx, st *txState) (bool, error)) error {
	return s.enqueue(&op{ctx: ctx, run: run, done: make(chan struct{})})
}

// writeAlone is write in a transaction of the command's own.
func (s *Store) writeAlone(ctx context.Context, run func(tx *bbolt.Tx, st *txState) (bool, error)) error {
	return s.enqueue(&op{ctx: ctx, run: run, alone: true, done: make(chan struct{})})
}

func (s *Store) enqueue(o *op) error {
	c := s.gc
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return fmt.Errorf("bolt: write transaction: %w", bolterrors.ErrDatabaseNotOpen)
	}
	c.queue = append(c.queue, o)
	select {
	case c.wake <- struct{}{}:
	default: // a token is already waiting
	}
	c.mu.Unlock()
	if c.enqueued != nil {
		c.enqueued()
	}
	<-o.done
	if o.panicked != nil {
		if strings.Contains(string(o.stack), "go.etcd.io/bbolt.") {
			// bbolt panics on pages that are not what it expects.
			s.markDamaged(fmt.Sprintf("a write command panicked in bbolt: %v", o.panicked))
		}
		panic(fmt.Sprintf("%v\n\ngoroutine of the write command:\n%s", o.panicked, o.stack))
	}
	return o.err
}

// commitLoop runs commit groups until the store closes and its queue is
// empty.
func (s *Store) commitLoop() {
	c := s.gc
	defer close(c.exited)
	// A fault reading the mapped file panics (and is recovered as damage)
	// instead of ending the process.
	debug.SetPanicOnFault(true)
	for range c.wake {
		for {
			group, closed := c.take(s.maxGroup)
			if len(group) == 0 {
				if closed {
					return
				}
				break
			}
			s.runGroup(group)
		}
	}
}

// take removes up to max commands from the head of the queue: a command
// that runs alone ends the group before it, or is the group.
func (c *committer) take(max int) (group []*op, closed bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := min(len(c.queue), max)
	for i, o := range c.queue[:n] {
		if o.alone {
			n = i
			if i == 0 {
				n = 1
			}
			break
		}
	}
	if n == len(c.queue) {
		group, c.queue = c.queue, nil
	} else {
		group = make([]*op, n)
		copy(group, c.queue)
		c.queue = append(c.queue[:0:0], c.queue[n:]...)
	}
	return group, c.closed
}

// stop lets the committer finish the queue and waits for it to return.
func (c *committer) stop() {
	c.mu.Lock()
	if !c.closed {
		c.closed = true
		close(c.wake)
	}
	c.mu.Unlock()
	<-c.exited
}

// runGroup runs group in one write transaction. If a command spoils the
// transaction, the group is rolled back and each of its commands runs again
// alone, in order.
func (s *Store) runGroup(group []*op) {
	// finish hands every command its result; err, a failure of the
	// transaction itself, replaces the result of those that wrote.
	finish := func(err error) {
		for _, o := range group {
			if err != nil && (o.wrote || o.err == nil) {
				o.err = err
			}
			close(o.done)
		}
	}
	tx, err := s.db.Begin(true)
	if err != nil {
		finish(fmt.Errorf("bolt: write transaction: %w", err))
		return
	}
	start := time.Now()
	// spoiled rolls the transaction back after a failure that left it
	// half-written: a lone command gets the error, a group runs again one
	// command at a time.
	spoiled := func(o *op, err error) {
		_ = tx.Rollback()
		if len(group) == 1 {
			o.err = err
			close(o.done)
			return
		}
		for _, o := range group {
			s.runGroup([]*op{o})
		}
	}
	st := &txState{}
	wrote := 0
	for _, o := range group {
		w, err := o.call(tx, st)
		if w && err != nil {
			spoiled(o, err)
			return
		}
		o.err, o.wrote = err, w
		if w {
			wrote++
		}
	}
	if wrote == 0 {
		// Every command was refused or had nothing to write: no commit,
		// no fsync.
		_ = tx.Rollback()
		finish(nil)
		return
	}
	if err := st.flush(tx); err != nil {
		spoiled(group[0], err)
		return
	}
	c := s.gc
	if c.beforeCommit != nil {
		c.beforeCommit(len(group))
	}
	err = s.commitGuarded(tx)
	s.committed(err)
	if c.afterCommit != nil {
		c.afterCommit(len(group))
	}
	if err != nil {
		// Nothing of the group is on disk, whatever each command decided.
		finish(fmt.Errorf("bolt: write transaction: %w", err))
		return
	}
	c.groups.Add(1)
	c.commands.Add(uint64(wrote))
	if s.observe != nil {
		s.observe(time.Since(start))
	}
	if s.observeGroup != nil {
		s.observeGroup(wrote)
	}
	finish(nil)
}

// WriteStats are cumulative figures of the store's write transactions.
type WriteStats struct {
	// Groups is the number of write transactions committed, Commands the
	// write commands they held (a command refused or with nothing to write
	// is not counted).
	Groups, Commands uint64
	// Pages is the number of pages written: those the transactions
	// allocated (tree and freelist pages, bbolt's TxStats.PageCount) plus one
	// meta page per commit. Writes counts bbolt's write calls (one per
	// contiguous run of pages and one per meta page).
	Pages, Writes int64
}

// WriteStats returns the store's cumulative write figures. The difference
// of two readings divided by the difference of Commands is the cost of one
// command in pages and the size of the average commit group.
func (s *Store) WriteStats() WriteStats {
	st := s.db.Stats()
	groups := s.gc.groups.Load()
	return WriteStats{
		Groups:   groups,
		Commands: s.gc.commands.Load(),
		Pages:    st.TxStats.GetPageCount() + int64(groups),
		Writes:   st.TxStats.GetWrite(),
	}
}

// commitGuarded commits tx; a panic in bbolt's commit (damaged pages) fails
// the group, rolls tx back and marks the store damaged.
func (s *Store) commitGuarded(tx *bbolt.Tx) (err error) {
	defer func() {
		r := recover()
		if r == nil {
			return
		}
		reason := fmt.Sprintf("a commit panicked: %v", r)
		s.markDamaged(reason)
		func() {
			defer func() { _ = recover() }()
			_ = tx.Rollback()
		}()
		err = fmt.Errorf("bolt: %s", reason)
	}()
	return s.commit(tx)
}
