package etcd

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/jdz-eco/rectify/store/internal/check"
	"github.com/jdz-eco/rectify/workflow"
)

func userKey(id string) string    { return "users/" + esc(id) }
func tokenKey(hash string) string { return "tokens/" + esc(hash) }

// CreateUser stores a new user and its first token in one transaction. A
// user ID already taken, or a token hash already stored, is CodeConflict.
// The token's UserID, if empty, is set to the user's.
func (s *Store) CreateUser(ctx context.Context, u workflow.User, t workflow.Token) error {
	if t.UserID == "" {
		t.UserID = u.ID
	}
	if err := check.NewUser(u, t); err != nil {
		return err
	}
	uv, _ := json.Marshal(u)
	tv, _ := json.Marshal(t)
	uk, tk := s.k(userKey(u.ID)), s.k(tokenKey(t.Hash))
	ok, elses, err := s.write(ctx,
		[]clientv3.Cmp{clientv3.Compare(clientv3.CreateRevision(uk), "=", 0), clientv3.Compare(clientv3.CreateRevision(tk), "=", 0)},
		[]clientv3.Op{clientv3.OpPut(uk, string(uv)), clientv3.OpPut(tk, string(tv))},
		[]clientv3.Op{clientv3.OpGet(uk, clientv3.WithCountOnly())})
	if err != nil || ok {
		return err
	}
	if elses[0].GetResponseRange().Count > 0 {
		return workflow.Refuse(workflow.ReasonExists, "user %s already exists", u.ID)
	}
	return workflow.Refuse(workflow.ReasonExists, "token already exists")
}

// AddToken stores another token for an existing user; a missing user is
// CodeNotFound and a token hash already stored is CodeConflict.
func (s *Store) AddToken(ctx context.Context, t workflow.Token) error {
	if err := check.Token(t); err != nil {
		return err
	}
	tv, _ := json.Marshal(t)
	uk, tk := s.k(userKey(t.UserID)), s.k(tokenKey(t.Hash))
	ok, elses, err := s.write(ctx,
		[]clientv3.Cmp{clientv3.Compare(clientv3.CreateRevision(uk), ">", 0), clientv3.Compare(clientv3.CreateRevision(tk), "=", 0)},
		[]clientv3.Op{clientv3.OpPut(tk, string(tv))},
		[]clientv3.Op{clientv3.OpGet(uk, clientv3.WithCountOnly())})
	if err != nil || ok {
		return err
	}
	if elses[0].GetResponseRange().Count == 0 {
		return check.UserNotFound(t.UserID)
	}
	return workflow.Refuse(workflow.ReasonExists, "token already exists")
}

// UserByToken returns the user whose token has SHA-256 hash; an unknown hash
// is CodeNotFound.
func (s *Store) UserByToken(ctx context.Context, hash string) (*workflow.User, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if hash == "" {
		return nil, workflow.Refuse(workflow.ReasonRecordNotFound, "token not found")
	}
	kv, err := s.get(ctx, tokenKey(hash))
	if err != nil {
		return nil, err
	}
	if kv == nil {
		return nil, workflow.Refuse(workflow.ReasonRecordNotFound, "token not found")
	}
	var t workflow.Token
	if err := json.Unmarshal(kv.Value, &t); err != nil {
		return nil, fmt.Errorf("etcd: decode token: %w", err)
	}
	u, err := s.User(ctx, t.UserID)
	if workflow.ErrorCode(err) == workflow.CodeNotFound {
		return nil, workflow.Refuse(workflow.ReasonRecordNotFound, "token not found")
	}
	return u, err
}

// User returns user id; CodeNotFound when none.
func (s *Store) User(ctx context.Context, id string) (*workflow.User, error) {
	if id == "" {
		return nil, workflow.Refuse(workflow.ReasonUserNotFound, "user %s not found", id)
	}
	kv, err := s.get(ctx, userKey(id))
	if err != nil {
		return nil, err
	}
	if kv == nil {
		return nil, workflow.Refuse(workflow.ReasonUserNotFound, "user %s not found", id)
	}
	var u workflow.User
	if err := json.Unmarshal(kv.Value, &u); err != nil {
		return nil, fmt.Errorf("etcd: decode user %s: %w", id, err)
	}
	return &u, nil
}

// Users returns every user, ordered by ID.
func (s *Store) Users(ctx context.Context) ([]workflow.User, error) {
	out, err := list[workflow.User](ctx, s, "users/")
	slices.SortFunc(out, func(a, b workflow.User) int { return cmp.Compare(a.ID, b.ID) })
	return out, err
}

// Tokens returns every stored token (hashes only), for migration and tools.
func (s *Store) Tokens(ctx context.Context) ([]workflow.Token, error) {
	return list[workflow.Token](ctx, s, "tokens/")
}
