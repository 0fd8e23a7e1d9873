package workflow_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/jdz-eco/rectify/store/bolt"
	"github.com/jdz-eco/rectify/store/storetest"
	"github.com/jdz-eco/rectify/workflow"
)

// memLedger is a ledger held in memory as a store holds it: each history
// entry as the bytes of its JSON, under its sequence number.
type memLedger struct {
	raw      [][]byte // entry Seq i+1
	head     workflow.ChainHead
	problems []*workflow.Problem
	index    map[string][]int // problem → its entries, as the store's index
}

func (l *memLedger) Head(context.Context) (workflow.ChainHead, error) { return l.head, nil }

func (l *memLedger) ForEachEntry(_ context.Context, fn func(workflow.Entry, error) error) error {
	for i, raw := range l.raw {
		var e workflow.Entry
		if err := json.Unmarshal(raw, &e); err != nil {
			if err := fn(workflow.Entry{Seq: uint64(i + 1)}, err); err != nil {
				return err
			}
			continue
		}
		if err := fn(e, nil); err != nil {
			return err
		}
	}
	return nil
}

func (l *memLedger) ForEachProblem(_ context.Context, fn func(*workflow.Problem) error) error {
	for _, p := range l.problems {
		if err := fn(p); err != nil {
			return err
		}
	}
	return nil
}

func (l *memLedger) History(_ context.Context, id string) ([]workflow.Entry, error) {
	var out []workflow.Entry
	for _, i := range l.index[id] {
		var e workflow.Entry
		if err := json.Unmarshal(l.raw[i], &e); err != nil {
			return nil, fmt.Errorf("entry %d: %w", i+1, err)
		}
		out = append(out, e)
	}
	return out, nil
}

// auditLedger is a valid ledger (storetest.BuildLedger's: lifecycles,
// rejections, evidence, notes, reopenings) copied into memory.
func auditLedger(t testing.TB) *memLedger {
	t.Helper()
	ctx := context.Background()
	st, err := bolt.Open(t.TempDir()+"/audit.db", bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	storetest.BuildLedger(t, st)
	l := &memLedger{index: map[string][]int{}}
	err = st.ForEachEntry(ctx, func(e workflow.Entry, err error) error {
		if err != nil {
			return err
		}
		raw, err := json.Marshal(e)
		l.index[e.ProblemID] = append(l.index[e.ProblemID], len(l.raw))
		l.raw = append(l.raw, raw)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.ForEachProblem(ctx, func(p *workflow.Problem) error { l.problems = append(l.problems, p); return nil }); err != nil {
		t.Fatal(err)
	}
	if l.head, err = st.Head(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := workflow.Audit(ctx, l, nil, nil); err != nil {
		t.Fatalf("the unchanged ledger does not verify: %v", err)
	}
	return l
}

// canonical is an entry's stored JSON decoded and encoded again: what its
// hash and the audit see. ok is false when it does not decode.
func canonical(raw []byte) ([]byte, bool) {
	var e workflow.Entry
	if json.Unmarshal(raw, &e) != nil {
		return nil, false
	}
	b, err := json.Marshal(e)
	return b, err == nil
}

// FuzzAuditVerify replaces one history entry of a valid ledger with the
// fuzzer's bytes: the audit must fail, unless the bytes decode to the
// entry as it was (the same canonical form: white space, key order, unknown
// fields). A mutated chain never verifies.
func FuzzAuditVerify(f *testing.F) {
	l := auditLedger(f)
	for i, raw := range l.raw {
		f.Add(uint16(i), raw)
	}
	f.Fuzz(func(t *testing.T, at uint16, data []byte) {
		i := int(at) % len(l.raw)
		orig := l.raw[i]
		want, _ := canonical(orig)
		got, ok := canonical(data)
		noop := ok && bytes.Equal(got, want)
		mutated := *l
		mutated.raw = append([][]byte(nil), l.raw...)
		mutated.raw[i] = data
		_, err := workflow.Audit(context.Background(), &mutated, nil, nil)
		switch {
		case noop && err != nil:
			t.Fatalf("entry %d rewritten with its own canonical form %s: the audit failed: %v", i+1, data, err)
		case !noop && err == nil:
			t.Fatalf("entry %d changed from %s to %s: the audit passed", i+1, orig, data)
		}
	})
}
