package bolt

import (
	"path/filepath"
	"testing"

	"github.com/jdz-eco/rectify/store/storetest"
	"github.com/jdz-eco/rectify/workflow"
)

func TestAccountsConformance(t *testing.T) {
	storetest.RunAccounts(t, func(t *testing.T) workflow.Store {
		s, _ := open(t, Options{})
		return s
	})
}

// TestAccountsBucketsLazy: a file without the account buckets (written
// before them) opens and reads; a read-only store reads them and refuses
// writes; the buckets exist once written.
func TestAccountsBucketsLazy(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "rectify.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	u := workflow.User{ID: "u1", Name: "浮梁县干部", Role: workflow.RoleUnit, UnitID: storetest.Fuliang}
	if err := s.CreateUser(ctx, u, workflow.Token{Hash: workflow.HashToken("rt_u1"), UserID: "u1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PasswordHash(ctx, "u1"); workflow.ErrorCode(err) != workflow.CodeNotFound {
		t.Fatalf("PasswordHash without the bucket: %v", err)
	}
	if err := s.SetPasswordHash(ctx, "u1", "$argon2id$h"); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	ro, err := Open(path, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if h, err := ro.PasswordHash(ctx, "u1"); h != "$argon2id$h" || err != nil {
		t.Errorf("PasswordHash read-only = %q, %v", h, err)
	}
	if _, err := ro.Session(ctx, "x"); workflow.ErrorCode(err) != workflow.CodeNotFound {
		t.Errorf("Session without the bucket: %v", err)
	}
	if err := ro.PutSession(ctx, workflow.Session{IDHash: "x", UserID: "u1"}); err == nil {
		t.Error("PutSession on a read-only store succeeded")
	}
}
