package etcd

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/jdz-eco/rectify/workflow"
)

// The account log (workflow.AccountLog): events under P acct/log/<seq, 20
// digits> and the newest one's head under P acct/head. An account change is
// one guarded transaction: the change to the user, password and tokens, its
// sealed events and the new head, on the condition that the head and every
// key the change read are as they were read; a replica that lost the race
// reads again. The ledger's commit path is not involved.

const keyAccountHead = "acct/head"

func accountEventKey(seq uint64) string { return "acct/log/" + pad(seq) }

// maxAccountTries bounds how often a change that lost its compares to
// concurrent writers is read and sent again.
const maxAccountTries = 20

// ChangeAccount applies c and appends its events, sealed, in one guarded
// transaction; a failed check writes nothing.
func (s *Store) ChangeAccount(ctx context.Context, c workflow.AccountChange) (workflow.AccountEvent, error) {
	if err := c.Check(); err != nil {
		return workflow.AccountEvent{}, err
	}
	if len(c.AddTokens)+len(c.RemoveTokens)+8 > s.cfg.MaxTxnOps {
		return workflow.AccountEvent{}, workflow.RefuseField(workflow.ReasonOutOfRange, "tokens", "an account change touches at most %d tokens", s.cfg.MaxTxnOps-8)
	}
	for range maxAccountTries {
		g, out, err := s.accountTxn(ctx, c)
		if err != nil {
			return out, err
		}
		ok, _, err := s.write(ctx, g.cmps, g.ops, nil)
		if err != nil || ok {
			return out, err
		}
	}
	return workflow.AccountEvent{}, ErrContention
}

// accountTxn reads what c depends on and returns the guarded write that
// applies it, with the event it appends; or the refusal the reads call for.
func (s *Store) accountTxn(ctx context.Context, c workflow.AccountChange) (*guarded, workflow.AccountEvent, error) {
	var none workflow.AccountEvent
	keys := []string{s.k(keyAccountHead), s.k(userKey(c.UserID))}
	for _, h := range c.RemoveTokens {
		keys = append(keys, s.k(tokenKey(h)))
	}
	for _, t := range c.AddTokens {
		keys = append(keys, s.k(tokenKey(t.Hash)))
	}
	ops := make([]clientv3.Op, len(keys))
	for i, k := range keys {
		ops[i] = clientv3.OpGet(k)
	}
	rctx, cancel := s.reqCtx(ctx)
	resp, err := s.cli.Txn(rctx).Then(ops...).Commit()
	cancel()
	if err != nil {
		return nil, none, wrap("read for an account change", err)
	}
	kvs := make([]*kvPair, len(keys))
	for i, r := range resp.Responses {
		kvs[i] = first(r)
	}
	g := &guarded{}
	// guard makes the write depend on key k being as read (absent: still absent).
	guard := func(k string, kv *kvPair) {
		if kv == nil {
			g.cmps = append(g.cmps, clientv3.Compare(clientv3.CreateRevision(k), "=", 0))
		} else {
			g.cmps = append(g.cmps, clientv3.Compare(clientv3.ModRevision(k), "=", kv.ModRevision))
		}
	}
	var head workflow.ChainHead
	if kvs[0] != nil {
		if err := json.Unmarshal(kvs[0].Value, &head); err != nil {
			return nil, none, fmt.Errorf("etcd: decode account head: %w", err)
		}
	}
	guard(keys[0], kvs[0])
	events := []workflow.AccountEvent{c.Event}
	if c.Baseline != nil {
		events = []workflow.AccountEvent{*c.Baseline, c.Event}
	}
	if events[0].Action == workflow.AccountBaseline && head.Seq != 0 {
		return nil, none, workflow.ErrAccountLogStarted
	}
	if c.UserID != "" {
		if err := s.accountOps(g, c, keys, kvs, guard); err != nil {
			return nil, none, err
		}
	}
	prev := head.Hash
	if head.Seq == 0 {
		prev = workflow.GenesisHash
	}
	var out workflow.AccountEvent
	for _, e := range events {
		if err := workflow.SealAccountEvent(&e, head.Seq+1, prev); err != nil {
			return nil, none, err
		}
		v, err := json.Marshal(e)
		if err != nil {
			return nil, none, err
		}
		g.ops = append(g.ops, clientv3.OpPut(s.k(accountEventKey(e.Seq)), string(v)))
		head, prev, out = workflow.ChainHead{Seq: e.Seq, Hash: e.Hash, At: e.At}, e.Hash, e
	}
	hv, _ := json.Marshal(head)
	g.ops = append(g.ops, clientv3.OpPut(keys[0], string(hv)))
	return g, out, nil
}

// accountOps adds to g the writes of c's change to the user, its password
// and its tokens (keys and kvs as accountTxn read them), or refuses it.
func (s *Store) accountOps(g *guarded, c workflow.AccountChange, keys []string, kvs []*kvPair, guard func(string, *kvPair)) error {
	uk, ukv := keys[1], kvs[1]
	guard(uk, ukv)
	var u workflow.User
	switch {
	case c.NewUser != nil && ukv != nil:
		return workflow.Refuse(workflow.ReasonExists, "user %s already exists", c.UserID)
	case c.NewUser != nil:
		u = *c.NewUser
	case ukv == nil:
		return workflow.Refuse(workflow.ReasonUserNotFound, "user %s not found", c.UserID)
	default:
		if err := json.Unmarshal(ukv.Value, &u); err != nil {
			return fmt.Errorf("etcd: decode user %s: %w", c.UserID, err)
		}
	}
	if c.SetDisabled != nil {
		u.Disabled = *c.SetDisabled
	}
	if c.NewUser != nil || c.SetDisabled != nil {
		v, _ := json.Marshal(u)
		g.ops = append(g.ops, clientv3.OpPut(uk, string(v)))
	}
	if c.PasswordHash != "" {
		g.ops = append(g.ops, clientv3.OpPut(s.k(passwordKey(c.UserID)), c.PasswordHash))
	}
	for i := range c.RemoveTokens {
		k, kv := keys[2+i], kvs[2+i]
		var t workflow.Token
		if kv == nil || json.Unmarshal(kv.Value, &t) != nil || t.UserID != c.UserID {
			return workflow.Refuse(workflow.ReasonTokenNotFound, "user %s holds no such token", c.UserID)
		}
		guard(k, kv)
		g.ops = append(g.ops, clientv3.OpDelete(k))
	}
	for i, t := range c.AddTokens {
		k, kv := keys[2+len(c.RemoveTokens)+i], kvs[2+len(c.RemoveTokens)+i]
		if kv != nil {
			return workflow.Refuse(workflow.ReasonExists, "token already exists")
		}
		guard(k, kv)
		v, _ := json.Marshal(t)
		g.ops = append(g.ops, clientv3.OpPut(k, string(v)))
	}
	return nil
}

// TokensOf returns user userID's tokens, oldest first.
func (s *Store) TokensOf(ctx context.Context, userID string) ([]workflow.Token, error) {
	all, err := listAt[workflow.Token](ctx, s, "tokens/", 0)
	if err != nil {
		return nil, err
	}
	out := slices.DeleteFunc(all, func(t workflow.Token) bool { return t.UserID != userID || userID == "" })
	slices.SortFunc(out, func(a, b workflow.Token) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.Hash, b.Hash))
	})
	return out, nil
}

// TokenUser returns the token with SHA-256 hash and its user; an unknown
// hash is CodeNotFound.
func (s *Store) TokenUser(ctx context.Context, hash string) (*workflow.Token, *workflow.User, error) {
	if hash == "" {
		return nil, nil, workflow.Refuse(workflow.ReasonRecordNotFound, "token not found")
	}
	kv, err := s.get(ctx, tokenKey(hash))
	if err != nil {
		return nil, nil, err
	}
	if kv == nil {
		return nil, nil, workflow.Refuse(workflow.ReasonRecordNotFound, "token not found")
	}
	var t workflow.Token
	if err := json.Unmarshal(kv.Value, &t); err != nil {
		return nil, nil, fmt.Errorf("etcd: decode token: %w", err)
	}
	u, err := s.User(ctx, t.UserID)
	if workflow.ErrorCode(err) == workflow.CodeNotFound {
		return nil, nil, workflow.Refuse(workflow.ReasonRecordNotFound, "token not found")
	}
	if err != nil {
		return nil, nil, err
	}
	return &t, u, nil
}

// AccountHead returns the newest account event as recorded (zero when none).
func (s *Store) AccountHead(ctx context.Context) (workflow.ChainHead, error) {
	return s.accountHeadAt(ctx, 0)
}

func (s *Store) accountHeadAt(ctx context.Context, rev int64) (workflow.ChainHead, error) {
	var h workflow.ChainHead
	_, err := s.rangeKeys(ctx, s.k(keyAccountHead), s.k(keyAccountHead)+"\x00", rev, 1, false, func(kv *kvPair) (bool, error) {
		if err := json.Unmarshal(kv.Value, &h); err != nil {
			return true, fmt.Errorf("etcd: decode account head: %w", err)
		}
		return true, nil
	})
	return h, err
}

// AccountEvents returns the account events after seq after, at most limit.
func (s *Store) AccountEvents(ctx context.Context, after uint64, limit int) ([]workflow.AccountEvent, error) {
	limit = workflow.EventLimit(limit)
	out := []workflow.AccountEvent{}
	_, err := s.rangeKeys(ctx, s.k(accountEventKey(after+1)), s.prefixEnd("acct/log/"), 0, limit, false, func(kv *kvPair) (bool, error) {
		var e workflow.AccountEvent
		if err := json.Unmarshal(kv.Value, &e); err != nil {
			return true, fmt.Errorf("etcd: decode account event %s: %w", kv.Key, err)
		}
		out = append(out, e)
		return len(out) >= limit, nil
	})
	return out, err
}

// ForEachAccountEvent calls fn with every account event in order, read at
// one revision.
func (s *Store) ForEachAccountEvent(ctx context.Context, fn func(e workflow.AccountEvent, err error) error) error {
	return s.forEachAccountEvent(ctx, 0, fn)
}

func (s *Store) forEachAccountEvent(ctx context.Context, rev int64, fn func(e workflow.AccountEvent, err error) error) error {
	var fnErr error
	_, err := s.rangeKeys(ctx, s.k("acct/log/"), s.prefixEnd("acct/log/"), rev, 500, false, func(kv *kvPair) (bool, error) {
		var e workflow.AccountEvent
		seq, ok := lastNumber(kv.Key)
		var derr error
		if !ok || len(kv.Key) != len(s.k("acct/log/"))+20 {
			derr = fmt.Errorf("bad account event key %q", kv.Key)
		} else {
			derr = json.Unmarshal(kv.Value, &e)
		}
		if derr != nil {
			e = workflow.AccountEvent{Seq: seq}
		}
		fnErr = fn(e, derr)
		return fnErr != nil, nil
	})
	if fnErr != nil {
		return fnErr
	}
	return err
}

// AccountState returns every user, token (by id) and password stamp, read
// at one revision.
func (s *Store) AccountState(ctx context.Context) (workflow.AccountState, error) {
	sn, err := s.Snapshot(ctx)
	if err != nil {
		return workflow.AccountState{}, err
	}
	return sn.AccountState(ctx)
}

// AccountHead returns the account head at the snapshot's revision.
func (sn *Snapshot) AccountHead(ctx context.Context) (workflow.ChainHead, error) {
	return sn.s.accountHeadAt(ctx, sn.rev)
}

// ForEachAccountEvent walks the account log at the snapshot's revision.
func (sn *Snapshot) ForEachAccountEvent(ctx context.Context, fn func(e workflow.AccountEvent, err error) error) error {
	return sn.s.forEachAccountEvent(ctx, sn.rev, fn)
}

// AccountState returns the accounts at the snapshot's revision.
func (sn *Snapshot) AccountState(ctx context.Context) (workflow.AccountState, error) {
	s := sn.s
	st := workflow.AccountState{Passwords: map[string]string{}}
	var err error
	if st.Users, err = listAt[workflow.User](ctx, s, "users/", sn.rev); err != nil {
		return st, err
	}
	tokens, err := listAt[workflow.Token](ctx, s, "tokens/", sn.rev)
	if err != nil {
		return st, err
	}
	st.Tokens = make([]workflow.TokenRecord, len(tokens))
	for i, t := range tokens {
		st.Tokens[i] = t.Record()
	}
	_, err = s.rangeKeys(ctx, s.k("pw/"), s.prefixEnd("pw/"), sn.rev, 500, false, func(kv *kvPair) (bool, error) {
		id, err := unesc(strings.TrimPrefix(string(kv.Key), s.k("pw/")))
		if err != nil {
			return true, err
		}
		if len(kv.Value) > 0 {
			st.Passwords[id] = workflow.PasswordStamp(string(kv.Value))
		}
		return false, nil
	})
	return st, err
}

// listAt decodes every value under the relative prefix, in key order, read
// at revision rev (0: the current one).
func listAt[T any](ctx context.Context, s *Store, rel string, rev int64) ([]T, error) {
	out := []T{}
	_, err := s.rangeKeys(ctx, s.k(rel), s.prefixEnd(rel), rev, 500, false, func(kv *kvPair) (bool, error) {
		var x T
		if err := json.Unmarshal(kv.Value, &x); err != nil {
			return true, fmt.Errorf("etcd: decode %s: %w", kv.Key, err)
		}
		out = append(out, x)
		return false, nil
	})
	return out, err
}

// AccountEvent copies account event e (the next in sequence), checking its
// link to the event before and its hash; Finish records the last as the
// account head.
func (im *Importer) AccountEvent(ctx context.Context, e workflow.AccountEvent) error {
	want, prev := im.accounts.Seq+1, im.accounts.Hash
	if im.accounts.Seq == 0 {
		prev = workflow.GenesisHash
	}
	h, err := workflow.AccountEventHash(e)
	switch {
	case err != nil:
		return err
	case e.Seq != want:
		return &workflow.AccountAuditError{Seq: want, Reason: fmt.Sprintf("missing in the source: the next event is %d", e.Seq)}
	case e.PrevHash != prev:
		return &workflow.AccountAuditError{Seq: e.Seq, Reason: "prev_hash does not match the previous event's hash in the source"}
	case h != e.Hash:
		return &workflow.AccountAuditError{Seq: e.Seq, Reason: "content does not match its hash in the source (the event was altered)"}
	}
	v, err := json.Marshal(e)
	if err != nil {
		return err
	}
	im.accounts = workflow.ChainHead{Seq: e.Seq, Hash: e.Hash, At: e.At}
	return im.put(ctx, accountEventKey(e.Seq), v)
}
