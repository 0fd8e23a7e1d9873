package etcd

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
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

// TestAuditCatchesLetterTampering: a letter's key rewritten or deleted
// behind the store's back, its entries left as they were, fails the audit
// of a snapshot with a finding that names the letter (store/bolt's test of
// the same name forges a file).
func TestAuditCatchesLetterTampering(t *testing.T) {
	ctx := t.Context()
	s := openStore(t, nil, Config{})
	svc, _, ids := storetest.BuildLedger(t, s)
	forgeries := storetest.AddLetters(t, svc, ids)
	audit := func() (workflow.AuditReport, error) {
		t.Helper()
		sn, err := s.Snapshot(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return workflow.Audit(ctx, sn, nil, nil)
	}
	if rep, err := audit(); err != nil || rep.Letters != 2 {
		t.Fatalf("the untouched ledger: %+v %v", rep, err)
	}
	for _, c := range forgeries {
		t.Run(c.Name, func(t *testing.T) {
			n, _ := workflow.ParseLetterID(c.Letter)
			key := s.k(letterKey(n))
			kv, err := s.get(ctx, letterKey(n))
			if err != nil || kv == nil {
				t.Fatalf("letter %s: %v %v", c.Letter, kv, err)
			}
			orig := string(kv.Value)
			defer func() {
				if _, err := s.cli.Put(ctx, key, orig); err != nil {
					t.Fatal(err)
				}
			}()
			if c.Delete {
				_, err = s.cli.Delete(ctx, key)
			} else {
				var fields map[string]any
				if err := json.Unmarshal(kv.Value, &fields); err != nil {
					t.Fatal(err)
				}
				c.Edit(fields)
				v, _ := json.Marshal(fields)
				_, err = s.cli.Put(ctx, key, string(v))
			}
			if err != nil {
				t.Fatal(err)
			}
			_, err = audit()
			var ae *workflow.AuditError
			if !errors.As(err, &ae) || ae.Letter != c.Letter || !strings.Contains(err.Error(), c.Want) {
				t.Fatalf("audit: %v; want a finding on letter %s with %q", err, c.Letter, c.Want)
			}
		})
	}
	if _, err := audit(); err != nil {
		t.Fatalf("put back: %v", err)
	}
}
