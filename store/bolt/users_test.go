package bolt

import (
	"encoding/json"
	"testing"

	bbolt "go.etcd.io/bbolt"

	"github.com/jdz-eco/rectify/store/storetest"
	"github.com/jdz-eco/rectify/workflow"
)

// TestUserByTokenCache: a token's user is served from the cache only while
// the stored token and user are byte for byte the ones it decoded; a user
// changed or a token removed behind the store's back is seen at once.
func TestUserByTokenCache(t *testing.T) {
	ctx := t.Context()
	s, _ := open(t, Options{})
	hash := workflow.HashToken("rt_u1")
	u := workflow.User{ID: "u1", Name: "浮梁县干部", Role: workflow.RoleUnit, UnitID: storetest.Fuliang, CreatedAt: storetest.T0}
	if err := s.CreateUser(ctx, u, workflow.Token{Hash: hash, UserID: "u1", CreatedAt: storetest.T0}); err != nil {
		t.Fatal(err)
	}
	for range 2 { // decoded, then cached
		got, err := s.UserByToken(ctx, hash)
		if err != nil || *got != u {
			t.Fatalf("UserByToken = %+v, %v; want %+v", got, err, u)
		}
		got.Name = "改了调用方的副本" // the caller's copy, not the cache's
	}
	if _, ok := s.tokens.get(hash, mustGet(t, s, bucketTokens, hash)); !ok {
		t.Fatal("the token's user is not cached")
	}

	disabled := u
	disabled.Disabled, disabled.Role = true, workflow.RoleViewer
	edit(t, s, func(tx *bbolt.Tx) error {
		v, err := json.Marshal(disabled)
		if err != nil {
			return err
		}
		return tx.Bucket(bucketUsers).Put([]byte(u.ID), v)
	})
	if got, err := s.UserByToken(ctx, hash); err != nil || *got != disabled {
		t.Fatalf("UserByToken after the user changed = %+v, %v; want %+v", got, err, disabled)
	}

	edit(t, s, func(tx *bbolt.Tx) error { return tx.Bucket(bucketTokens).Delete([]byte(hash)) })
	if got, err := s.UserByToken(ctx, hash); workflow.ErrorCode(err) != workflow.CodeNotFound {
		t.Fatalf("UserByToken of a removed token = %+v, %v; want not found", got, err)
	}
}

func mustGet(t *testing.T, s *Store, bucket []byte, key string) []byte {
	t.Helper()
	var v []byte
	if err := s.db.View(func(tx *bbolt.Tx) error {
		v = append([]byte(nil), tx.Bucket(bucket).Get([]byte(key))...)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return v
}

func edit(t *testing.T, s *Store, fn func(tx *bbolt.Tx) error) {
	t.Helper()
	if err := s.db.Update(fn); err != nil {
		t.Fatal(err)
	}
}

func TestBoundedMap(t *testing.T) {
	var b boundedMap[int, string]
	if _, ok := b.load(1); ok {
		t.Fatal("a zero boundedMap holds a key")
	}
	for i := range 20 {
		b.store(i, "v", 8)
	}
	b.store(19, "w", 8) // an existing key evicts nothing
	if n := len(b.m); n != 8 {
		t.Errorf("%d entries, want at most 8", n)
	}
	if v, ok := b.load(19); !ok || v != "w" {
		t.Errorf("load(19) = %q, %v; want the latest value", v, ok)
	}
}
