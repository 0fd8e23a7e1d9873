package workflow_test

import (
	"slices"
	"testing"

	"github.com/jdz-eco/rectify/store/bolt"
	"github.com/jdz-eco/rectify/workflow"
)

// bareStore has Store's methods and no capability.
type bareStore struct{ workflow.Store }

// TestMissingCapabilities: a store without capabilities is named as such;
// the bbolt store lacks none (store/etcd's test checks it too).
func TestMissingCapabilities(t *testing.T) {
	want := []string{"Backuper", "Accounts", "AccountLog", "Ledger", "Sweeper", "EvidenceIndex", "IdempotencyKeys", "PhotoIndex", "Rounds", "BatchCreator", "Anchors", "Rollups", "Reminders", "Letters", "NewestEntries"}
	if got := workflow.MissingCapabilities(bareStore{}); !slices.Equal(got, want) {
		t.Errorf("a bare store lacks %v, want %v", got, want)
	}
	st, err := bolt.Open(t.TempDir()+"/r.db", bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if got := workflow.MissingCapabilities(st); len(got) != 0 {
		t.Errorf("the bbolt store lacks %v", got)
	}
}
