package storetest

import (
	"fmt"
	"sync"
	"testing"

	"github.com/jdz-eco/rectify/workflow"
)

// testConcurrentUpdates runs writers that all read version 1 and race to
// update the same problem with the domain's version check, retrying with the
// version they find after each refusal. Exactly one wins each version, and
// the history holds exactly the winners' entries in version order.
func testConcurrentUpdates(t *testing.T, s workflow.Store) {
	const writers = 50
	ctx := t.Context()
	p := mustCreate(t, s, "乐平市工业园区 VOCs 治理", workflow.SourceCentralInspection, Leping)
	mustUpdate(t, s, p.ID, Assign(Leping, []string{Water}, Deadline(60)))
	start := mustProblem(t, s, p.ID).Version

	type win struct {
		writer  int
		version uint64
		first   bool // won with the version every writer read at the start
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		wins  []win
		fails []error
		go1   = make(chan struct{})
	)
	for w := range writers {
		wg.Go(func() {
			<-go1
			expected := start
			for try := 0; try <= writers; try++ {
				got, err := s.UpdateProblem(ctx, p.ID, IfVersion(expected, Note(fmt.Sprintf("writer %d", w))))
				if err == nil {
					mu.Lock()
					wins = append(wins, win{writer: w, version: got.Version, first: expected == start})
					mu.Unlock()
					return
				}
				if workflow.ErrorCode(err) != workflow.CodePreconditionFailed {
					mu.Lock()
					fails = append(fails, err)
					mu.Unlock()
					return
				}
				cur, err := s.Problem(ctx, p.ID)
				if err != nil {
					mu.Lock()
					fails = append(fails, err)
					mu.Unlock()
					return
				}
				expected = cur.Version
			}
			mu.Lock()
			fails = append(fails, fmt.Errorf("writer %d never won", w))
			mu.Unlock()
		})
	}
	close(go1)
	wg.Wait()
	for _, err := range fails {
		t.Error(err)
	}
	if len(wins) != writers {
		t.Fatalf("%d writers won, want %d", len(wins), writers)
	}
	byVersion := map[uint64]int{}
	firsts := 0
	for _, w := range wins {
		if _, dup := byVersion[w.version]; dup {
			t.Errorf("version %d won twice", w.version)
		}
		byVersion[w.version] = w.writer
		if w.first {
			firsts++
		}
	}
	if firsts != 1 {
		t.Errorf("%d writers won with the version all of them read, want exactly 1", firsts)
	}
	final := mustProblem(t, s, p.ID)
	if final.Version != start+writers {
		t.Errorf("final version %d, want %d", final.Version, start+writers)
	}
	h := mustHistory(t, s, p.ID)
	if len(h) != int(start)+writers {
		t.Fatalf("history has %d entries, want %d", len(h), int(start)+writers)
	}
	for i, e := range h {
		if e.Version != uint64(i+1) || (i > 0 && e.Seq <= h[i-1].Seq) {
			t.Errorf("entry %d: version %d seq %d", i, e.Version, e.Seq)
		}
		if e.Version <= start {
			continue
		}
		w, ok := byVersion[e.Version]
		if want := fmt.Sprintf("writer %d", w); !ok || e.Action != workflow.ActionNote || e.Params.Text != want {
			t.Errorf("entry of version %d: %s %q, want the note of %s", e.Version, e.Action, e.Params.Text, want)
		}
	}
}
