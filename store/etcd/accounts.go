package etcd

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/jdz-eco/rectify/store/internal/check"
	"github.com/jdz-eco/rectify/workflow"
)

// Web sign-in (workflow.Accounts): password hashes under P pw/<user id> and
// sessions under P sess/<id hash>, shared by every replica so that any one
// serves a signed-in browser. These writes are not ledger commands: they
// write no history.

func passwordKey(userID string) string { return "pw/" + esc(userID) }
func sessionKey(idHash string) string  { return "sess/" + esc(idHash) }

// SetPasswordHash stores user userID's password hash, in a transaction that
// checks the user exists; an unknown user is CodeNotFound.
func (s *Store) SetPasswordHash(ctx context.Context, userID, hash string) error {
	if err := check.PasswordHash(userID, hash); err != nil {
		return err
	}
	uk := s.k(userKey(userID))
	ok, _, err := s.write(ctx, []clientv3.Cmp{clientv3.Compare(clientv3.CreateRevision(uk), ">", 0)},
		[]clientv3.Op{clientv3.OpPut(s.k(passwordKey(userID)), hash)}, nil)
	if err != nil {
		return err
	}
	if !ok {
		return check.UserNotFound(userID)
	}
	return nil
}

// PasswordHash returns user userID's password hash; CodeNotFound when it has
// none.
func (s *Store) PasswordHash(ctx context.Context, userID string) (string, error) {
	kv, err := s.get(ctx, passwordKey(userID))
	if err != nil {
		return "", err
	}
	if kv == nil || len(kv.Value) == 0 || userID == "" {
		return "", workflow.Refuse(workflow.ReasonRecordNotFound, "user %s has no password", userID)
	}
	return string(kv.Value), nil
}

// PutSession stores ss under ss.IDHash.
func (s *Store) PutSession(ctx context.Context, ss workflow.Session) error {
	if err := check.Session(ss); err != nil {
		return err
	}
	v, err := json.Marshal(ss)
	if err != nil {
		return fmt.Errorf("etcd: encode session: %w", err)
	}
	_, _, err = s.write(ctx, nil, []clientv3.Op{clientv3.OpPut(s.k(sessionKey(ss.IDHash)), string(v))}, nil)
	return err
}

// Session returns the session stored under idHash; CodeNotFound when none.
func (s *Store) Session(ctx context.Context, idHash string) (*workflow.Session, error) {
	if idHash == "" {
		return nil, workflow.Refuse(workflow.ReasonRecordNotFound, "session not found")
	}
	kv, err := s.get(ctx, sessionKey(idHash))
	if err != nil {
		return nil, err
	}
	if kv == nil {
		return nil, workflow.Refuse(workflow.ReasonRecordNotFound, "session not found")
	}
	ss := new(workflow.Session)
	if err := json.Unmarshal(kv.Value, ss); err != nil {
		return nil, fmt.Errorf("etcd: decode session: %w", err)
	}
	return ss, nil
}

// DeleteSession removes the session stored under idHash, if any.
func (s *Store) DeleteSession(ctx context.Context, idHash string) error {
	if idHash == "" {
		return ctx.Err()
	}
	_, _, err := s.write(ctx, nil, []clientv3.Op{clientv3.OpDelete(s.k(sessionKey(idHash)))}, nil)
	return err
}

// DeleteExpiredSessions removes the sessions that expire at or before now
// (and undecodable ones). Each is deleted only if unchanged since it was
// read, so that a session another replica just extended survives.
func (s *Store) DeleteExpiredSessions(ctx context.Context, now time.Time) (int, error) {
	type dead struct {
		key string
		rev int64
	}
	var victims []dead
	_, err := s.rangeKeys(ctx, s.k("sess/"), s.prefixEnd("sess/"), 0, 1000, false, func(kv *kvPair) (bool, error) {
		var ss workflow.Session
		if json.Unmarshal(kv.Value, &ss) != nil || !now.Before(ss.ExpiresAt) {
			victims = append(victims, dead{string(kv.Key), kv.ModRevision})
		}
		return false, nil
	})
	if err != nil {
		return 0, err
	}
	removed := 0
	// One transaction per chunk, each delete guarded by its own revision
	// (a nested Txn per session).
	chunk := s.cfg.MaxTxnOps - 1
	for len(victims) > 0 {
		m := min(len(victims), chunk)
		ops := make([]clientv3.Op, m)
		for i, v := range victims[:m] {
			ops[i] = clientv3.OpTxn(
				[]clientv3.Cmp{clientv3.Compare(clientv3.ModRevision(v.key), "=", v.rev)},
				[]clientv3.Op{clientv3.OpDelete(v.key)}, nil)
		}
		rctx, cancel := s.reqCtx(ctx)
		resp, err := s.cli.Txn(rctx).Then(ops...).Commit()
		cancel()
		if err != nil {
			return removed, wrap("delete expired sessions", err)
		}
		for _, r := range resp.Responses {
			if t := r.GetResponseTxn(); t != nil && t.Succeeded {
				removed++
			}
		}
		victims = victims[m:]
	}
	return removed, nil
}
