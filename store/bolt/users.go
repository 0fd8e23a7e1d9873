package bolt

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	bbolt "go.etcd.io/bbolt"

	"github.com/jdz-eco/rectify/store/internal/check"
	"github.com/jdz-eco/rectify/workflow"
)

// CreateUser stores a new user and its first token in one write transaction.
// A user ID already taken, or a token hash already stored, is CodeConflict.
// The token's UserID, if empty, is set to the user's.
func (s *Store) CreateUser(ctx context.Context, u workflow.User, t workflow.Token) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if t.UserID == "" {
		t.UserID = u.ID
	}
	if err := check.NewUser(u, t); err != nil {
		return err
	}
	return s.write(ctx, func(tx *bbolt.Tx, _ *txState) (bool, error) {
		users := tx.Bucket(bucketUsers)
		if users.Get([]byte(u.ID)) != nil {
			return false, workflow.Refuse(workflow.ReasonExists, "user %s already exists", u.ID)
		}
		if err := tokenFree(tx, t); err != nil {
			return false, err
		}
		if err := putJSON(users, []byte(u.ID), u); err != nil {
			return true, fmt.Errorf("bolt: write user %s: %w", u.ID, err)
		}
		return true, putToken(tx, t)
	})
}

// AddToken stores another token for an existing user; a missing user is
// CodeNotFound and a token hash already stored is CodeConflict.
func (s *Store) AddToken(ctx context.Context, t workflow.Token) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := check.Token(t); err != nil {
		return err
	}
	return s.write(ctx, func(tx *bbolt.Tx, _ *txState) (bool, error) {
		if tx.Bucket(bucketUsers).Get([]byte(t.UserID)) == nil {
			return false, check.UserNotFound(t.UserID)
		}
		if err := tokenFree(tx, t); err != nil {
			return false, err
		}
		return true, putToken(tx, t)
	})
}

// tokenFree refuses a token whose hash is already stored.
func tokenFree(tx *bbolt.Tx, t workflow.Token) error {
	if tx.Bucket(bucketTokens).Get([]byte(t.Hash)) != nil {
		return workflow.Refuse(workflow.ReasonExists, "token already exists")
	}
	return nil
}

func putToken(tx *bbolt.Tx, t workflow.Token) error {
	if err := putJSON(tx.Bucket(bucketTokens), []byte(t.Hash), t); err != nil {
		return fmt.Errorf("bolt: write token of user %s: %w", t.UserID, err)
	}
	return nil
}

// UserByToken returns the user whose token has SHA-256 hash; an unknown hash
// is CodeNotFound.
func (s *Store) UserByToken(ctx context.Context, hash string) (*workflow.User, error) {
	_, u, err := s.TokenUser(ctx, hash)
	return u, err
}

// TokenUser returns the token with SHA-256 hash and its user; an unknown
// hash is CodeNotFound.
func (s *Store) TokenUser(ctx context.Context, hash string) (*workflow.Token, *workflow.User, error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	if hash == "" {
		return nil, nil, workflow.Refuse(workflow.ReasonRecordNotFound, "token not found")
	}
	var t workflow.Token
	var u workflow.User
	err := s.view(func(tx *bbolt.Tx) error {
		tv := tx.Bucket(bucketTokens).Get([]byte(hash))
		if tv == nil {
			return workflow.Refuse(workflow.ReasonRecordNotFound, "token not found")
		}
		if c, ok := s.tokens.get(hash, tv); ok {
			if uv := tx.Bucket(bucketUsers).Get([]byte(c.user.ID)); bytes.Equal(uv, c.userRaw) {
				t, u = c.token, c.user
				return nil
			}
		}
		if err := json.Unmarshal(tv, &t); err != nil {
			return fmt.Errorf("bolt: decode token: %w", err)
		}
		uv := tx.Bucket(bucketUsers).Get([]byte(t.UserID))
		if uv == nil {
			return workflow.Refuse(workflow.ReasonRecordNotFound, "token not found")
		}
		if err := json.Unmarshal(uv, &u); err != nil {
			return fmt.Errorf("bolt: decode user %s: %w", t.UserID, err)
		}
		if u.ID == t.UserID {
			s.tokens.put(hash, cachedToken{tokenRaw: bytes.Clone(tv), userRaw: bytes.Clone(uv), token: t, user: u})
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return &t, &u, nil
}

// Users returns every user, ordered by ID.
func (s *Store) Users(ctx context.Context) ([]workflow.User, error) {
	return list[workflow.User](ctx, s, bucketUsers)
}
