package etcd

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/jdz-eco/rectify/store/internal/check"
	"github.com/jdz-eco/rectify/workflow"
)

// putAll writes values under the relative keys, in transactions of at most
// MaxTxnOps operations (one when they fit, as seed data does).
func (s *Store) putAll(ctx context.Context, keys []string, values [][]byte) error {
	chunk := s.cfg.MaxTxnOps - 1 // room for the command key
	for len(keys) > 0 {
		m := min(len(keys), chunk)
		ops := make([]clientv3.Op, m)
		for i := range m {
			ops[i] = clientv3.OpPut(s.k(keys[i]), string(values[i]))
		}
		if _, _, err := s.write(ctx, nil, ops, nil); err != nil {
			return err
		}
		keys, values = keys[m:], values[m:]
	}
	return nil
}

// PutUnits inserts or replaces units by ID (one transaction, up to
// MaxTxnOps-1 units).
func (s *Store) PutUnits(ctx context.Context, units []workflow.Unit) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := check.Units(units); err != nil {
		return err
	}
	keys := make([]string, len(units))
	values := make([][]byte, len(units))
	for i, u := range units {
		keys[i] = "units/" + esc(u.ID)
		values[i], _ = json.Marshal(u)
	}
	return s.putAll(ctx, keys, values)
}

// Units returns every unit, ordered by ID.
func (s *Store) Units(ctx context.Context) ([]workflow.Unit, error) {
	out, err := list[workflow.Unit](ctx, s, "units/")
	slices.SortFunc(out, func(a, b workflow.Unit) int { return cmp.Compare(a.ID, b.ID) })
	return out, err
}

// PutWorkPoints inserts or replaces work points by number.
func (s *Store) PutWorkPoints(ctx context.Context, wps []workflow.WorkPoint) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := check.WorkPoints(wps); err != nil {
		return err
	}
	keys := make([]string, len(wps))
	values := make([][]byte, len(wps))
	for i, wp := range wps {
		keys[i] = "wp/" + pad(uint64(wp.Number))
		values[i], _ = json.Marshal(wp)
	}
	return s.putAll(ctx, keys, values)
}

// WorkPoints returns every work point, ordered by number.
func (s *Store) WorkPoints(ctx context.Context) ([]workflow.WorkPoint, error) {
	return list[workflow.WorkPoint](ctx, s, "wp/")
}

// list decodes every value under the relative prefix, in key order, read at
// one revision.
func list[T any](ctx context.Context, s *Store, rel string) ([]T, error) {
	out := []T{}
	_, err := s.rangeKeys(ctx, s.k(rel), s.prefixEnd(rel), 0, 1000, false, func(kv *kvPair) (bool, error) {
		var x T
		if err := json.Unmarshal(kv.Value, &x); err != nil {
			return false, fmt.Errorf("etcd: decode %s: %w", kv.Key, err)
		}
		out = append(out, x)
		return false, nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

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

// Page sizes of Events, as the domain sets them.
const (
	DefaultEventLimit = workflow.DefaultEventLimit
	MaxEventLimit     = workflow.MaxEventLimit
)

// Events returns the outbox events with Seq greater than after, in order, at
// most limit (DefaultEventLimit when not positive, MaxEventLimit at most):
// a range read of the outbox keys, then the history entries they name.
func (s *Store) Events(ctx context.Context, after uint64, limit int) ([]workflow.Event, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	limit = workflow.EventLimit(limit)
	events := []workflow.Event{}
	if after == ^uint64(0) {
		return events, nil
	}
	rctx, cancel := s.reqCtx(ctx)
	resp, err := s.cli.Get(rctx, s.k(outboxKey(after+1)), clientv3.WithRange(s.prefixEnd("ob/")),
		clientv3.WithLimit(int64(limit)), clientv3.WithKeysOnly())
	cancel()
	if err != nil {
		return nil, wrap("read the outbox", err)
	}
	keys := make([]string, len(resp.Kvs))
	seqs := make([]uint64, len(resp.Kvs))
	for i, kv := range resp.Kvs {
		seq, ok := lastNumber(kv.Key)
		if !ok {
			return nil, fmt.Errorf("etcd: bad outbox key %q", kv.Key)
		}
		seqs[i], keys[i] = seq, s.k(historyKey(seq))
	}
	kvs, err := s.getMany(ctx, keys)
	if err != nil {
		return nil, err
	}
	for i, kv := range kvs {
		if kv == nil {
			return nil, fmt.Errorf("etcd: event %d has no history entry", seqs[i])
		}
		ev := workflow.Event{ID: workflow.EventID(seqs[i]), Seq: seqs[i]}
		if err := json.Unmarshal(kv.Value, &ev.Entry); err != nil {
			return nil, fmt.Errorf("etcd: decode history entry %d: %w", seqs[i], err)
		}
		events = append(events, ev)
	}
	return events, nil
}

func cursorKey(name string) string { return "cursors/" + esc(name) }

// Cursor returns the outbox sequence number consumer name last recorded, or 0.
func (s *Store) Cursor(ctx context.Context, name string) (uint64, error) {
	if err := check.CursorName(name); err != nil {
		return 0, err
	}
	kv, err := s.get(ctx, cursorKey(name))
	if err != nil || kv == nil {
		return 0, err
	}
	seq, err := strconv.ParseUint(string(kv.Value), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("etcd: bad cursor %q", name)
	}
	return seq, nil
}

// SetCursor records seq as consumer name's position in the outbox, whatever
// it was before. With a fenced context (the webhook dispatcher on the
// elected leader) it writes only while the fence holds.
func (s *Store) SetCursor(ctx context.Context, name string, seq uint64) error {
	if err := check.CursorName(name); err != nil {
		return err
	}
	_, _, err := s.write(ctx, nil, []clientv3.Op{clientv3.OpPut(s.k(cursorKey(name)), strconv.FormatUint(seq, 10))}, nil)
	return err
}

// Cursors returns every consumer's position, for migration and tools.
func (s *Store) Cursors(ctx context.Context) (map[string]uint64, error) {
	out := map[string]uint64{}
	_, err := s.rangeKeys(ctx, s.k("cursors/"), s.prefixEnd("cursors/"), 0, 1000, false, func(kv *kvPair) (bool, error) {
		name, err := unesc(string(kv.Key[len(s.k("cursors/")):]))
		if err != nil {
			return false, err
		}
		seq, err := strconv.ParseUint(string(kv.Value), 10, 64)
		if err != nil {
			return false, fmt.Errorf("etcd: bad cursor %q", name)
		}
		out[name] = seq
		return false, nil
	})
	return out, err
}

// PutCalendar stores the calendar file of year as given, replacing any
// earlier one. The store does not parse it.
func (s *Store) PutCalendar(ctx context.Context, year int, data []byte) error {
	_, _, err := s.write(ctx, nil, []clientv3.Op{clientv3.OpPut(s.k("cal/"+strconv.Itoa(year)), string(data))}, nil)
	return err
}

// Calendars returns every stored calendar file by year.
func (s *Store) Calendars(ctx context.Context) (map[int][]byte, error) {
	out := map[int][]byte{}
	rel := "cal/"
	_, err := s.rangeKeys(ctx, s.k(rel), s.prefixEnd(rel), 0, 1000, false, func(kv *kvPair) (bool, error) {
		year, err := strconv.Atoi(string(kv.Key[len(s.k(rel)):]))
		if err != nil {
			return false, fmt.Errorf("etcd: bad calendar key %q", kv.Key)
		}
		out[year] = slices.Clone(kv.Value)
		return false, nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
