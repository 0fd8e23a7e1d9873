package bolt

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	bbolt "go.etcd.io/bbolt"

	"github.com/jdz-eco/rectify/store/storetest"
	"github.com/jdz-eco/rectify/workflow"
)

// gate blocks the store's commits on demand: while closed, a commit waits
// before tx.Commit until the test lets it through. It records what happened
// around each commit.
type gate struct {
	t        *testing.T
	enqueued chan struct{} // one token per command that joined the queue
	arrived  chan int      // the size of a group about to commit
	release  chan struct{} // lets one waiting commit through
	returned func() int    // how many callers have returned so far
	mu       sync.Mutex    //
	sizes    []int         // sizes of the groups committed
}

// hold installs a gate on s: every commit waits for a release.
func hold(t *testing.T, s *Store, returned func() int) *gate {
	g := &gate{t: t, enqueued: make(chan struct{}, 1000), arrived: make(chan int, 100), release: make(chan struct{}), returned: returned}
	s.gc.enqueued = func() { g.enqueued <- struct{}{} }
	s.gc.beforeCommit = func(n int) {
		// No caller of this group, nor of any later one, may have
		// returned: the commit holding their changes has not run.
		g.mu.Lock()
		committed := 0
		for _, k := range g.sizes {
			committed += k
		}
		g.mu.Unlock()
		if r := returned(); r > committed {
			t.Errorf("%d callers returned before the commit of group %d; only %d commands were committed", r, len(g.sizes)+1, committed)
		}
		g.arrived <- n
		<-g.release
	}
	s.gc.afterCommit = func(n int) {
		g.mu.Lock()
		g.sizes = append(g.sizes, n)
		g.mu.Unlock()
	}
	return g
}

// waitEnqueued waits until n more commands joined the queue.
func (g *gate) waitEnqueued(n int) {
	for range n {
		<-g.enqueued
	}
}

// TestGroupCommit holds the first commit while more commands queue up: they
// form the next group, commit together with one fsync, and none of their
// callers returns before that commit returned. A command of the group whose
// apply fails fails alone: the others are committed, it is not.
func TestGroupCommit(t *testing.T) {
	ctx := t.Context()
	s, _ := open(t, Options{})
	const n = 6
	for i := range n + 1 {
		p, _, err := s.CreateProblem(ctx, "", storetest.Build(fmt.Sprintf("问题 %d", i+1), workflow.SourceAudit, storetest.Leping))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.UpdateProblem(ctx, p.ID, storetest.Assign(storetest.Leping, nil, storetest.Deadline(30))); err != nil {
			t.Fatal(err)
		}
	}
	var returned atomic.Int64
	g := hold(t, s, func() int { return int(returned.Load()) })
	before := s.WriteStats()

	// The first command commits alone; hold it.
	first := make(chan error, 1)
	go func() {
		_, err := s.UpdateProblem(ctx, "7", storetest.Note("先行"))
		returned.Add(1)
		first <- err
	}()
	g.waitEnqueued(1)
	if size := <-g.arrived; size != 1 {
		t.Fatalf("the first group holds %d commands, want 1", size)
	}

	// Meanwhile n commands queue up. The fourth expects problem 3 at the
	// version it read, but the third, ahead of it in the group, moves it
	// on: decided again in the transaction, the fourth fails there, after
	// changing its copy of the record.
	results := make([]chan error, n)
	targets := []uint64{1, 2, 3, 3, 4, 5}
	const failing = 3
	for i := range n {
		results[i] = make(chan error, 1)
		id := workflow.ProblemID(targets[i])
		apply := storetest.Note(fmt.Sprintf("第 %d 条", i+1))
		if i == failing {
			apply = func(p *workflow.Problem) ([]workflow.Entry, error) {
				p.Title = "不应写入"
				p.LeadUnit = storetest.Water
				return storetest.IfVersion(2, storetest.Note("过期"))(p)
			}
		}
		go func() {
			_, err := s.UpdateProblem(ctx, id, apply)
			returned.Add(1)
			results[i] <- err
		}()
		g.waitEnqueued(1)
	}
	if r := returned.Load(); r != 0 {
		t.Fatalf("%d callers returned while the first commit was held", r)
	}

	// Let the first commit through: its caller returns, and the others
	// arrive as one group, which is held in turn.
	g.release <- struct{}{}
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if size := <-g.arrived; size != n {
		t.Fatalf("the second group holds %d commands, want %d", size, n)
	}
	for i := range n {
		select {
		case err := <-results[i]:
			t.Fatalf("command %d returned (%v) before its group committed", i+1, err)
		default:
		}
	}
	g.release <- struct{}{}
	for i := range n {
		err := <-results[i]
		switch {
		case i == failing && workflow.ErrorCode(err) != workflow.CodePreconditionFailed:
			t.Errorf("the failing command returned %v, want its own refusal", err)
		case i != failing && err != nil:
			t.Errorf("command %d: %v", i+1, err)
		}
	}

	// Two transactions, one per group; the failing command rolled back.
	after := s.WriteStats()
	if groups, cmds := after.Groups-before.Groups, after.Commands-before.Commands; groups != 2 || cmds != n {
		t.Errorf("%d commits of %d commands, want 2 of %d", groups, cmds, n)
	}
	for _, id := range []string{"1", "2", "3", "4", "5"} {
		p, err := s.Problem(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		h, err := s.History(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if p.Version != 3 || len(h) != 3 || h[2].Action != workflow.ActionNote || h[2].Params.Text == "过期" {
			t.Errorf("problem %s: version %d with %d entries, want 3 with 3", id, p.Version, len(h))
		}
		if p.Title == "不应写入" || p.LeadUnit != storetest.Leping {
			t.Errorf("the failing command's change was written: %+v", p)
		}
	}
	checkIndexes(t, s)
	checkChain(t, s)
}

// TestGroupOrder: the commands of a group are applied in the order they
// arrived (FIFO), so their history entries follow that order.
func TestGroupOrder(t *testing.T) {
	ctx := t.Context()
	s, _ := open(t, Options{})
	p, _, err := s.CreateProblem(ctx, "", storetest.Build("顺序", workflow.SourceAudit, storetest.Leping))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateProblem(ctx, p.ID, storetest.Assign(storetest.Leping, nil, storetest.Deadline(30))); err != nil {
		t.Fatal(err)
	}
	var returned atomic.Int64
	g := hold(t, s, func() int { return int(returned.Load()) })
	var wg sync.WaitGroup
	wg.Go(func() {
		_, _ = s.UpdateProblem(ctx, p.ID, storetest.Note("先行"))
		returned.Add(1)
	})
	g.waitEnqueued(1)
	<-g.arrived
	const n = 8
	for i := range n {
		wg.Go(func() {
			if _, err := s.UpdateProblem(ctx, p.ID, storetest.Note(fmt.Sprintf("note %d", i))); err != nil {
				t.Error(err)
			}
			returned.Add(1)
		})
		g.waitEnqueued(1) // the next starts once this one is queued
	}
	g.release <- struct{}{}
	if size := <-g.arrived; size != n {
		t.Fatalf("group of %d, want %d", size, n)
	}
	g.release <- struct{}{}
	wg.Wait()
	h, err := s.History(ctx, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range h[3:] {
		got = append(got, e.Params.Text)
	}
	var want []string
	for i := range n {
		want = append(want, fmt.Sprintf("note %d", i))
	}
	if !slices.Equal(got, want) {
		t.Errorf("notes in history order %v, want %v", got, want)
	}
	// All read version 2 while the first note was held: each was decided
	// again on the record its predecessors left.
	if r := s.redecided.Load(); r != n {
		t.Errorf("%d updates decided again, want %d", r, n)
	}
	checkChain(t, s)
}

// TestGroupSpoiled: a command that fails after it began writing spoils the
// transaction; the group is rolled back and each command runs again alone,
// so the others commit and the failing one leaves nothing.
func TestGroupSpoiled(t *testing.T) {
	ctx := t.Context()
	s, _ := open(t, Options{})
	var returned atomic.Int64
	g := hold(t, s, func() int { return int(returned.Load()) })
	put := func(key string, fail error) func() error {
		return func() error {
			return s.write(ctx, func(tx *bbolt.Tx, _ *txState) (bool, error) {
				if err := tx.Bucket(bucketCalendars).Put([]byte(key), []byte("v")); err != nil {
					return true, err
				}
				return true, fail
			})
		}
	}
	var runs atomic.Int64
	broken := errors.New("broken after writing")
	cmds := []func() error{
		put("a", nil), // commits alone, held
		put("b", nil),
		func() error { runs.Add(1); return put("c", broken)() },
		put("d", nil),
	}
	errs := make([]chan error, len(cmds))
	for i, cmd := range cmds {
		errs[i] = make(chan error, 1)
		go func() {
			err := cmd()
			if err == nil { // a failure returns without waiting for a commit
				returned.Add(1)
			}
			errs[i] <- err
		}()
		g.waitEnqueued(1)
		if i == 0 {
			<-g.arrived
		}
	}
	g.release <- struct{}{}
	// b, c, d form a group that c spoils: no commit of it is attempted;
	// b, c and d then run alone, b and d commit.
	for range 2 {
		if size := <-g.arrived; size != 1 {
			t.Errorf("a command retried in a group of %d", size)
		}
		g.release <- struct{}{}
	}
	for i := range cmds {
		err := <-errs[i]
		if (i == 2) != errors.Is(err, broken) {
			t.Errorf("command %d: %v", i, err)
		}
	}
	err := s.db.View(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketCalendars)
		for _, k := range []string{"a", "b", "d"} {
			if b.Get([]byte(k)) == nil {
				t.Errorf("%s was not committed", k)
			}
		}
		if b.Get([]byte("c")) != nil {
			t.Error("the failing command's write was committed")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestGroupPanic: a panic in a command comes back in its caller's
// goroutine; the store goes on.
func TestGroupPanic(t *testing.T) {
	ctx := t.Context()
	s, _ := open(t, Options{})
	p, _, err := s.CreateProblem(ctx, "", storetest.Build("恐慌", workflow.SourceAudit, storetest.Leping))
	if err != nil {
		t.Fatal(err)
	}
	func() {
		defer func() {
			if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "boom") {
				t.Errorf("recovered %v, want the command's panic", r)
			}
		}()
		_ = s.write(ctx, func(*bbolt.Tx, *txState) (bool, error) { panic("boom") })
	}()
	if _, err := s.UpdateProblem(ctx, p.ID, storetest.Assign(storetest.Leping, nil, storetest.Deadline(3))); err != nil {
		t.Fatalf("after a panic: %v", err)
	}
}

// TestCanceledBeforeItsTurn: a command whose context ends while it waits
// in the queue is not applied.
func TestCanceledBeforeItsTurn(t *testing.T) {
	s, _ := open(t, Options{})
	p, _, err := s.CreateProblem(t.Context(), "", storetest.Build("取消", workflow.SourceAudit, storetest.Leping))
	if err != nil {
		t.Fatal(err)
	}
	var returned atomic.Int64
	g := hold(t, s, func() int { return int(returned.Load()) })
	go func() { _ = s.PutUnits(t.Context(), storetest.Units()); returned.Add(1) }()
	g.waitEnqueued(1)
	<-g.arrived
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		_, err := s.UpdateProblem(ctx, p.ID, storetest.Assign(storetest.Leping, nil, storetest.Deadline(3)))
		done <- err
	}()
	g.waitEnqueued(1)
	cancel()
	g.release <- struct{}{}
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("UpdateProblem = %v, want context.Canceled", err)
	}
	if got, _ := s.Problem(t.Context(), p.ID); got.Version != 1 {
		t.Errorf("version %d: the canceled command was applied", got.Version)
	}
}

// TestWriteAfterClose: writes after Close fail; Close waits for the queue.
func TestWriteAfterClose(t *testing.T) {
	s, _ := open(t, Options{})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.write(context.Background(), func(*bbolt.Tx, *txState) (bool, error) { return true, nil }); err == nil {
		t.Error("a write after Close succeeded")
	}
}

// TestMaxGroupOne: with MaxGroup 1 every command commits alone.
func TestMaxGroupOne(t *testing.T) {
	ctx := t.Context()
	s, _ := open(t, Options{MaxGroup: 1})
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			if _, _, err := s.CreateProblem(ctx, "", storetest.Build(fmt.Sprint(i), workflow.SourceAudit, storetest.Leping)); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if st := s.WriteStats(); st.Groups != st.Commands || st.Commands != 8 {
		t.Errorf("%+v: want 8 commits of one command", st)
	}
}
