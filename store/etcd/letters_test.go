package etcd

import (
	"slices"
	"sync"
	"testing"

	"github.com/jdz-eco/rectify/store/storetest"
	"github.com/jdz-eco/rectify/workflow"
)

func TestLetters(t *testing.T) {
	storetest.RunLetters(t, func(t *testing.T) workflow.Store { return openStore(t, nil, Config{}) })
}

// TestLetterNumbersTwoStores issues 100 letters at once through two stores
// (two replicas) on one prefix: their writes race in etcd, not behind one
// process's lock, and still take the numbers 1..100 exactly once.
func TestLetterNumbersTwoStores(t *testing.T) {
	ctx := t.Context()
	a := openStore(t, nil, Config{})
	b := openStore(t, nil, Config{Prefix: a.Prefix()})
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		numbers []int
	)
	for i := range 100 {
		st := []*Store{a, b}[i%2]
		wg.Go(func() {
			l, _, err := st.CreateLetter(ctx, "", 2026, func(id string, n int) (*workflow.Letter, error) {
				return &workflow.Letter{ID: id, State: workflow.LetterIssued, Year: 2026, Number: n}, nil
			})
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			numbers = append(numbers, l.Number)
			mu.Unlock()
		})
	}
	wg.Wait()
	slices.Sort(numbers)
	if len(numbers) != 100 || numbers[0] != 1 || numbers[99] != 100 || len(slices.Compact(slices.Clone(numbers))) != 100 {
		t.Fatalf("numbers %v: want 1..100 without gap or repeat", numbers)
	}
	t.Logf("conflicts retried: %d + %d", a.Stats().Conflicts.Load(), b.Stats().Conflicts.Load())
}

func TestServiceLetters(t *testing.T) {
	storetest.RunServiceLetters(t, openStore(t, nil, Config{}))
}
