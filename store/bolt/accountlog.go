package bolt

import (
	"cmp"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"

	bbolt "go.etcd.io/bbolt"

	"github.com/jdz-eco/rectify/workflow"
)

// The account log (workflow.AccountLog): one bucket and one meta key beside
// the others, created by the first account change, so that files written
// before them open unchanged (a read tolerates their absence) and the schema
// version stays:
//
//	account_log   event seq → workflow.AccountEvent (JSON; append-only, hash-chained)
//	meta          "account_head" → workflow.ChainHead of the newest account event
//
// An account change runs in a write transaction of its own (like the
// passwords and sessions), holding the change to users, tokens and
// passwords and its sealed event.
var (
	bucketAccountLog = []byte("account_log")
	keyAccountHead   = []byte("account_head")
)

func getAccountHead(meta *bbolt.Bucket) (workflow.ChainHead, error) {
	var h workflow.ChainHead
	if v := meta.Get(keyAccountHead); v != nil {
		if err := json.Unmarshal(v, &h); err != nil {
			return h, fmt.Errorf("bolt: decode account head: %w", err)
		}
	}
	return h, nil
}

// ChangeAccount applies c and appends its events, sealed, in one write
// transaction; a failed check writes nothing.
func (s *Store) ChangeAccount(ctx context.Context, c workflow.AccountChange) (workflow.AccountEvent, error) {
	if err := c.Check(); err != nil {
		return workflow.AccountEvent{}, err
	}
	var out workflow.AccountEvent
	err := s.accountsUpdate(ctx, func(tx *bbolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		head, err := getAccountHead(meta)
		if err != nil {
			return err
		}
		events := []workflow.AccountEvent{c.Event}
		if c.Baseline != nil {
			events = []workflow.AccountEvent{*c.Baseline, c.Event}
		}
		if events[0].Action == workflow.AccountBaseline && head.Seq != 0 {
			return workflow.ErrAccountLogStarted
		}
		if c.UserID != "" {
			if err := applyAccountChange(tx, c); err != nil {
				return err
			}
		}
		log, err := tx.CreateBucketIfNotExists(bucketAccountLog)
		if err != nil {
			return fmt.Errorf("bolt: create bucket %s: %w", bucketAccountLog, err)
		}
		log.FillPercent = appendFillPercent
		prev := head.Hash
		if head.Seq == 0 {
			prev = workflow.GenesisHash
		}
		for _, e := range events {
			if err := workflow.SealAccountEvent(&e, head.Seq+1, prev); err != nil {
				return err
			}
			if err := putJSON(log, u64(e.Seq), e); err != nil {
				return fmt.Errorf("bolt: write account event %d: %w", e.Seq, err)
			}
			head, prev, out = workflow.ChainHead{Seq: e.Seq, Hash: e.Hash, At: e.At}, e.Hash, e
		}
		return putJSON(meta, keyAccountHead, head)
	})
	return out, err
}

// applyAccountChange writes c's change to users, passwords and tokens.
func applyAccountChange(tx *bbolt.Tx, c workflow.AccountChange) error {
	users := tx.Bucket(bucketUsers)
	key := []byte(c.UserID)
	uv := users.Get(key)
	switch {
	case c.NewUser != nil && uv != nil:
		return workflow.Refuse(workflow.ReasonExists, "user %s already exists", c.UserID)
	case c.NewUser != nil:
		if err := putJSON(users, key, *c.NewUser); err != nil {
			return fmt.Errorf("bolt: write user %s: %w", c.UserID, err)
		}
	case uv == nil:
		return workflow.Refuse(workflow.ReasonUserNotFound, "user %s not found", c.UserID)
	}
	if c.SetDisabled != nil {
		var u workflow.User
		if err := json.Unmarshal(users.Get(key), &u); err != nil {
			return fmt.Errorf("bolt: decode user %s: %w", c.UserID, err)
		}
		u.Disabled = *c.SetDisabled
		if err := putJSON(users, key, u); err != nil {
			return fmt.Errorf("bolt: write user %s: %w", c.UserID, err)
		}
	}
	if c.PasswordHash != "" {
		b, err := tx.CreateBucketIfNotExists(bucketPasswords)
		if err != nil {
			return fmt.Errorf("bolt: create bucket %s: %w", bucketPasswords, err)
		}
		if err := b.Put(key, []byte(c.PasswordHash)); err != nil {
			return err
		}
	}
	tokens := tx.Bucket(bucketTokens)
	for _, h := range c.RemoveTokens {
		var t workflow.Token
		tv := tokens.Get([]byte(h))
		if tv == nil || json.Unmarshal(tv, &t) != nil || t.UserID != c.UserID {
			return workflow.Refuse(workflow.ReasonTokenNotFound, "user %s holds no such token", c.UserID)
		}
		if err := tokens.Delete([]byte(h)); err != nil {
			return err
		}
	}
	for _, t := range c.AddTokens {
		if err := tokenFree(tx, t); err != nil {
			return err
		}
		if err := putToken(tx, t); err != nil {
			return err
		}
	}
	return nil
}

// TokensOf returns user userID's tokens, oldest first.
func (s *Store) TokensOf(ctx context.Context, userID string) ([]workflow.Token, error) {
	all, err := list[workflow.Token](ctx, s, bucketTokens)
	if err != nil {
		return nil, err
	}
	out := slices.DeleteFunc(all, func(t workflow.Token) bool { return t.UserID != userID || userID == "" })
	slices.SortFunc(out, func(a, b workflow.Token) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.Hash, b.Hash))
	})
	return out, nil
}

// AccountHead returns the newest account event as recorded (zero when none).
func (s *Store) AccountHead(ctx context.Context) (workflow.ChainHead, error) {
	var h workflow.ChainHead
	err := s.accountsView(ctx, func(tx *bbolt.Tx) error {
		var err error
		h, err = getAccountHead(tx.Bucket(bucketMeta))
		return err
	})
	return h, err
}

// AccountEvents returns the account events after seq after, at most limit.
func (s *Store) AccountEvents(ctx context.Context, after uint64, limit int) ([]workflow.AccountEvent, error) {
	limit = workflow.EventLimit(limit)
	out := []workflow.AccountEvent{}
	err := s.accountsView(ctx, func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketAccountLog)
		if b == nil {
			return nil
		}
		c := b.Cursor()
		for k, v := c.Seek(u64(after + 1)); k != nil && len(out) < limit; k, v = c.Next() {
			var e workflow.AccountEvent
			if err := json.Unmarshal(v, &e); err != nil {
				return fmt.Errorf("bolt: decode account event: %w", err)
			}
			out = append(out, e)
		}
		return nil
	})
	return out, err
}

// ForEachAccountEvent calls fn with every account event in order, in one
// read transaction; fn must not call the store.
func (s *Store) ForEachAccountEvent(ctx context.Context, fn func(e workflow.AccountEvent, err error) error) error {
	return s.accountsView(ctx, func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketAccountLog)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			var e workflow.AccountEvent
			err := json.Unmarshal(v, &e)
			if len(k) != 8 && err == nil {
				err = fmt.Errorf("bad account event key %x", k)
			}
			if err != nil {
				e = workflow.AccountEvent{}
				if len(k) == 8 {
					e.Seq = binary.BigEndian.Uint64(k)
				}
			}
			return fn(e, err)
		})
	})
}

// AccountState returns every user, token (by id) and password stamp, read
// in one transaction.
func (s *Store) AccountState(ctx context.Context) (workflow.AccountState, error) {
	st := workflow.AccountState{Users: []workflow.User{}, Tokens: []workflow.TokenRecord{}, Passwords: map[string]string{}}
	err := s.accountsView(ctx, func(tx *bbolt.Tx) error {
		err := tx.Bucket(bucketUsers).ForEach(func(k, v []byte) error {
			var u workflow.User
			if err := json.Unmarshal(v, &u); err != nil {
				return fmt.Errorf("bolt: decode user %q: %w", k, err)
			}
			st.Users = append(st.Users, u)
			return nil
		})
		if err != nil {
			return err
		}
		err = tx.Bucket(bucketTokens).ForEach(func(_, v []byte) error {
			var t workflow.Token
			if err := json.Unmarshal(v, &t); err != nil {
				return fmt.Errorf("bolt: decode token: %w", err)
			}
			st.Tokens = append(st.Tokens, t.Record())
			return nil
		})
		if err != nil {
			return err
		}
		if b := tx.Bucket(bucketPasswords); b != nil {
			return b.ForEach(func(k, v []byte) error {
				if len(v) > 0 {
					st.Passwords[string(k)] = workflow.PasswordStamp(string(v))
				}
				return nil
			})
		}
		return nil
	})
	return st, err
}
