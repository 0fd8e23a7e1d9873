package bolttest_test

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/jdz-eco/rectify/store/bolt"
	"github.com/jdz-eco/rectify/store/bolt/bolttest"
	"github.com/jdz-eco/rectify/store/storetest"
	"github.com/jdz-eco/rectify/workflow"
)

// ledger writes a small ledger through the store and closes it.
func ledger(t *testing.T) (path string, ids []string) {
	path = filepath.Join(t.TempDir(), "rectify.db")
	s, err := bolt.Open(path, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, _, ids = storetest.BuildLedger(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return path, ids
}

func audit(t *testing.T, path string) error {
	t.Helper()
	s, err := bolt.Open(path, bolt.Options{ReadOnly: true})
	if err != nil {
		return err
	}
	defer s.Close()
	_, err = workflow.Audit(t.Context(), s, nil, nil)
	return err
}

// TestForgeriesReachTheStore: what bolttest reads is what the store wrote,
// and what it writes is what the store (and its audit) reads: the two agree
// on store/bolt's layout.
func TestForgeriesReachTheStore(t *testing.T) {
	path, ids := ledger(t)
	if err := audit(t, path); err != nil {
		t.Fatalf("untouched: %v", err)
	}
	s, err := bolt.Open(path, bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	hist, err := s.History(t.Context(), ids[0])
	_ = s.Close()
	if err != nil || len(hist) == 0 {
		t.Fatalf("History = %v, %v", hist, err)
	}
	err = bolttest.Tamper(path, func(f *bolttest.File) error {
		e, err := f.Entry(hist[0].Seq)
		if err != nil {
			return err
		}
		if !reflect.DeepEqual(e, hist[0]) {
			t.Errorf("bolttest reads entry %d as %+v; the store reads %+v", e.Seq, e, hist[0])
		}
		return f.EditRecord(ids[0], func(p map[string]any) { p["title"] = "改过的标题" })
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := audit(t, path); err == nil || !strings.Contains(err.Error(), "problem "+ids[0]) {
		t.Errorf("audit after a record edited without history: %v", err)
	}

	// A careful rewrite passes the audit on its own; the store reads it.
	path, ids = ledger(t)
	err = bolttest.Tamper(path, func(f *bolttest.File) error {
		return f.Rewrite(1, func(e *workflow.Entry) error { e.Params.Title = "改写"; return nil })
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := audit(t, path); err != nil {
		t.Errorf("audit after a careful rewrite: %v", err)
	}

	// The schema version is the store's.
	if err := bolttest.Tamper(path, func(f *bolttest.File) error { return f.SetSchema(2) }); err != nil {
		t.Fatal(err)
	}
	if err := audit(t, path); err == nil || !strings.Contains(err.Error(), "schema version 2") {
		t.Errorf("read-only open of a forged schema 2 file: %v", err)
	}
}
