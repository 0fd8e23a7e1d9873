package bolt

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/jdz-eco/rectify/store/internal/check"
	"github.com/jdz-eco/rectify/workflow"
)

// Web sign-in (workflow.Accounts): two buckets beside the others, created by
// the first write that needs them, so that files written before them open
// unchanged (a read tolerates their absence) and the schema version stays:
//
//	passwords  user ID → password hash (a PHC string made by the web layer)
//	sessions   session id hash (SHA-256, hex) → workflow.Session (JSON)
//
// These writes are not commands on the ledger: they run in their own bbolt
// transactions (db.Update), outside the commit groups, and write no history.
var (
	bucketPasswords = []byte("passwords")
	bucketSessions  = []byte("sessions")
)

// accountsUpdate runs fn in a write transaction of its own.
func (s *Store) accountsUpdate(ctx context.Context, fn func(tx *bbolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := s.writable(ctx); err != nil {
		return err
	}
	var fnErr error
	return s.guard("a write transaction", func() error {
		err := s.db.Update(func(tx *bbolt.Tx) error {
			fnErr = fn(tx)
			return fnErr
		})
		if fnErr == nil {
			s.committed(err)
		}
		if err != nil && fnErr == nil {
			return fmt.Errorf("bolt: write transaction: %w", err)
		}
		return err
	})
}

// accountsView runs fn in a read transaction.
func (s *Store) accountsView(ctx context.Context, fn func(tx *bbolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.view(fn)
}

// SetPasswordHash stores user userID's password hash; an unknown user is
// CodeNotFound.
func (s *Store) SetPasswordHash(ctx context.Context, userID, hash string) error {
	if err := check.PasswordHash(userID, hash); err != nil {
		return err
	}
	return s.accountsUpdate(ctx, func(tx *bbolt.Tx) error {
		if tx.Bucket(bucketUsers).Get([]byte(userID)) == nil {
			return check.UserNotFound(userID)
		}
		b, err := tx.CreateBucketIfNotExists(bucketPasswords)
		if err != nil {
			return fmt.Errorf("bolt: create bucket %s: %w", bucketPasswords, err)
		}
		return b.Put([]byte(userID), []byte(hash))
	})
}

// PasswordHash returns user userID's password hash; CodeNotFound when it has
// none.
func (s *Store) PasswordHash(ctx context.Context, userID string) (string, error) {
	var hash string
	err := s.accountsView(ctx, func(tx *bbolt.Tx) error {
		if b := tx.Bucket(bucketPasswords); b != nil {
			hash = string(b.Get([]byte(userID))) // string() copies
		}
		if hash == "" {
			return workflow.Refuse(workflow.ReasonRecordNotFound, "user %s has no password", userID)
		}
		return nil
	})
	return hash, err
}

// PutSession stores ss under ss.IDHash.
func (s *Store) PutSession(ctx context.Context, ss workflow.Session) error {
	if err := check.Session(ss); err != nil {
		return err
	}
	v, err := json.Marshal(ss)
	if err != nil {
		return fmt.Errorf("bolt: encode session: %w", err)
	}
	return s.accountsUpdate(ctx, func(tx *bbolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketSessions)
		if err != nil {
			return fmt.Errorf("bolt: create bucket %s: %w", bucketSessions, err)
		}
		return b.Put([]byte(ss.IDHash), v)
	})
}

// Session returns the session stored under idHash; CodeNotFound when none.
func (s *Store) Session(ctx context.Context, idHash string) (*workflow.Session, error) {
	var ss *workflow.Session
	err := s.accountsView(ctx, func(tx *bbolt.Tx) error {
		var v []byte
		if b := tx.Bucket(bucketSessions); b != nil && idHash != "" {
			v = b.Get([]byte(idHash))
		}
		if v == nil {
			return workflow.Refuse(workflow.ReasonRecordNotFound, "session not found")
		}
		ss = new(workflow.Session)
		if err := json.Unmarshal(v, ss); err != nil {
			return fmt.Errorf("bolt: decode session: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return ss, nil
}

// DeleteSession removes the session stored under idHash, if any.
func (s *Store) DeleteSession(ctx context.Context, idHash string) error {
	return s.accountsUpdate(ctx, func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketSessions)
		if b == nil || idHash == "" {
			return nil
		}
		return b.Delete([]byte(idHash))
	})
}

// DeleteExpiredSessions removes the sessions that expire at or before now.
// It reads every session: sign-in calls it, and expired sessions do not
// pile up. An undecodable session is removed too.
func (s *Store) DeleteExpiredSessions(ctx context.Context, now time.Time) (int, error) {
	n := 0
	err := s.accountsUpdate(ctx, func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketSessions)
		if b == nil {
			return nil
		}
		var dead [][]byte
		err := b.ForEach(func(k, v []byte) error {
			var ss workflow.Session
			if json.Unmarshal(v, &ss) != nil || !now.Before(ss.ExpiresAt) {
				dead = append(dead, append([]byte(nil), k...))
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range dead {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		n = len(dead)
		return nil
	})
	return n, err
}

// User returns user id; CodeNotFound when none.
func (s *Store) User(ctx context.Context, id string) (*workflow.User, error) {
	var u workflow.User
	err := s.accountsView(ctx, func(tx *bbolt.Tx) error {
		v := tx.Bucket(bucketUsers).Get([]byte(id))
		if v == nil || id == "" {
			return workflow.Refuse(workflow.ReasonUserNotFound, "user %s not found", id)
		}
		if err := json.Unmarshal(v, &u); err != nil {
			return fmt.Errorf("bolt: decode user %s: %w", id, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &u, nil
}
