package bolt

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/jdz-eco/rectify/store/storetest"
	"github.com/jdz-eco/rectify/workflow"
)

// accountLedger returns a store with an account log of a few changes made
// through the service.
func accountLedger(t *testing.T) *Store {
	t.Helper()
	s, err := Open(t.TempDir()+"/rectify.db", Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ctx := context.Background()
	svc := workflow.NewService(s, workflow.NewManualClock(storetest.T0))
	if err := svc.PutUnits(ctx, storetest.Units()); err != nil {
		t.Fatal(err)
	}
	u, _, err := svc.CreateUser(ctx, workflow.SystemActor, workflow.NewUser{Name: "浮梁县干部", Role: workflow.RoleUnit, UnitID: storetest.Fuliang})
	if err != nil {
		t.Fatal(err)
	}
	exp := storetest.T0.Add(time.Hour)
	if _, _, err := svc.IssueUserToken(ctx, workflow.SystemActor, u.ID, &exp); err != nil {
		t.Fatal(err)
	}
	if err := svc.SetPassword(ctx, workflow.SystemActor, u.ID, "$argon2id$one"); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.SetUserDisabled(ctx, workflow.SystemActor, u.ID, true); err != nil {
		t.Fatal(err)
	}
	if _, err := workflow.AuditAccounts(ctx, s); err != nil {
		t.Fatalf("AuditAccounts of an untouched file: %v", err)
	}
	return s
}

// TestAccountAuditFindsTampering: whatever is changed in the file without an
// event (an event, a user, a token, a password, the head), the audit says
// where.
func TestAccountAuditFindsTampering(t *testing.T) {
	for _, tc := range []struct {
		name, want string
		edit       func(tx *bbolt.Tx) error
	}{
		{"an event altered", "account event 2: content does not match its hash", func(tx *bbolt.Tx) error {
			return rewriteBucket(tx, bucketAccountLog, func(k, v []byte) ([]byte, error) {
				if k[7] == 2 {
					return bytes.Replace(v, []byte(`"system"`), []byte(`"u0000"`), 1), nil
				}
				return v, nil
			})
		}},
		{"the last event removed", "the recorded head 4:", func(tx *bbolt.Tx) error {
			return tx.Bucket(bucketAccountLog).Delete(u64(4))
		}},
		{"an event removed in the middle", "account event 2: missing", func(tx *bbolt.Tx) error {
			return tx.Bucket(bucketAccountLog).Delete(u64(2))
		}},
		{"a user re-enabled", "the stored user differs", func(tx *bbolt.Tx) error {
			return rewriteBucket(tx, bucketUsers, func(_, v []byte) ([]byte, error) {
				return bytes.Replace(v, []byte(`,"disabled":true`), nil, 1), nil
			})
		}},
		{"a user's role raised", "the stored user differs", func(tx *bbolt.Tx) error {
			return rewriteBucket(tx, bucketUsers, func(_, v []byte) ([]byte, error) {
				return bytes.Replace(v, []byte(`"role":"unit"`), []byte(`"role":"admin"`), 1), nil
			})
		}},
		{"a token slipped in", "added without an event", func(tx *bbolt.Tx) error {
			var owner string
			_ = tx.Bucket(bucketUsers).ForEach(func(k, _ []byte) error { owner = string(k); return nil })
			return putToken(tx, workflow.Token{Hash: workflow.HashToken("rt_backdoor"), UserID: owner, CreatedAt: storetest.T0})
		}},
		{"a token's expiry lifted", "differs from the one its account log issued", func(tx *bbolt.Tx) error {
			return rewriteBucket(tx, bucketTokens, func(_, v []byte) ([]byte, error) {
				return []byte(strings.Replace(string(v), `,"expires_at":"2021-07-01T02:30:00Z"`, "", 1)), nil
			})
		}},
		{"a password replaced", "the stored password differs", func(tx *bbolt.Tx) error {
			return rewriteBucket(tx, bucketPasswords, func(_, _ []byte) ([]byte, error) { return []byte("$argon2id$mine"), nil })
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := accountLedger(t)
			edit(t, s, tc.edit)
			_, err := workflow.AuditAccounts(t.Context(), s)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("AuditAccounts = %v, want an error saying %q", err, tc.want)
			}
		})
	}
}
