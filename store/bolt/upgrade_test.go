package bolt

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/jdz-eco/rectify/store/bolt/internal/pack"
	"github.com/jdz-eco/rectify/store/storetest"
	"github.com/jdz-eco/rectify/workflow"
)

// unpackAll rewrites every record and history entry of the database at
// path as JSON and sets its schema version to 4, as version 4 left it.
func unpackAll(t *testing.T, path string) {
	t.Helper()
	updateFile(t, path, func(tx *bbolt.Tx) error {
		for _, name := range [][]byte{bucketProblems, bucketHistory} {
			err := rewriteBucket(tx, name, func(k, v []byte) ([]byte, error) {
				if !pack.IsPacked(v) {
					return nil, fmt.Errorf("%s %x is not packed", name, k)
				}
				return pack.Unpack(v)
			})
			if err != nil {
				return err
			}
		}
		return tx.Bucket(bucketMeta).Put(keySchema, u64(4))
	})
}

// TestUpgradeFromVersion4 opens a file whose records and entries are JSON:
// it reads the same, its chain verifies, and what is written afterwards is
// packed.
func TestUpgradeFromVersion4(t *testing.T) {
	ctx := t.Context()
	s, path := open(t, Options{})
	_, _, pids := storetest.BuildLedger(t, s)
	before := take(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	unpackAll(t, path)
	updateFile(t, path, func(tx *bbolt.Tx) error {
		for _, name := range [][]byte{bucketProblems, bucketHistory} {
			if _, v := tx.Bucket(name).Cursor().First(); v[0] != '{' {
				t.Fatalf("%s holds %.20q after unpackAll, want JSON", name, v)
			}
		}
		return nil
	})

	s, err := Open(path, Options{})
	if err != nil {
		t.Fatalf("Open of a version 4 file = %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	if schema, _ := metaOf(t, s); schema != schemaVersion {
		t.Errorf("schema version %d after the upgrade, want %d", schema, schemaVersion)
	}
	if after := take(t, s); !reflect.DeepEqual(after, before) {
		t.Error("the ledger reads differently from JSON values")
	}
	checkIndexes(t, s)
	checkChain(t, s)
	mustAudit(t, s)

	id := pids[0]
	if _, err := s.UpdateProblem(ctx, id, func(p *workflow.Problem) ([]workflow.Entry, error) {
		p.UpdatedAt = p.UpdatedAt.Add(time.Minute)
		return []workflow.Entry{{At: p.UpdatedAt, Actor: storetest.OfficerOf(storetest.Leping), Action: workflow.ActionNote, From: p.State, To: p.State,
			Params: workflow.Params{Note: "升级后的第一条记录"}}}, nil
	}); err != nil {
		t.Fatal(err)
	}
	n, _ := workflow.ParseProblemID(id)
	err = s.db.View(func(tx *bbolt.Tx) error {
		if v := tx.Bucket(bucketProblems).Get(u64(n)); !pack.IsPacked(v) {
			return fmt.Errorf("record rewritten after the upgrade is not packed: %.40q", v)
		}
		if _, v := tx.Bucket(bucketHistory).Cursor().Last(); !pack.IsPacked(v) {
			return fmt.Errorf("entry written after the upgrade is not packed: %.40q", v)
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
	checkChain(t, s)
	mustAudit(t, s)
}
