package etcd

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/jdz-eco/rectify/workflow"
)

// Reminders (workflow.Reminders): contacts/<key> → workflow.Contact,
// nt/<key> → workflow.Notice, ntt/<unix ns>/<key> and ntp/<key> empty (the
// log's order; pending notices). A notice is added in a Txn that commits
// only if nt/<key> does not exist, so that racing replicas queue it once,
// and updated in one guarded by the revision it was read at.

func contactKey(key string) string { return "contacts/" + esc(key) }
func noticeKey(key string) string  { return "nt/" + esc(key) }
func noticePendingKey(key string) string {
	return "ntp/" + esc(key)
}
func noticeTimeKey(n *workflow.Notice) string {
	return "ntt/" + pad(uint64(n.CreatedAt.UnixNano())) + "/" + esc(n.Key)
}

// maxNoticeKey bounds a notice or contact key.
const maxNoticeKey = 400

// PutContact stores c under its key, replacing any; an empty one is
// removed.
func (s *Store) PutContact(ctx context.Context, c workflow.Contact) error {
	if c.Key == "" || len(c.Key) > maxNoticeKey {
		return workflow.RefuseField(workflow.ReasonMalformed, "key", "bad contact key %q", c.Key)
	}
	op := clientv3.OpDelete(s.k(contactKey(c.Key)))
	if !c.Empty() {
		data, err := json.Marshal(c)
		if err != nil {
			return err
		}
		op = clientv3.OpPut(s.k(contactKey(c.Key)), string(data))
	}
	_, _, err := s.write(ctx, nil, []clientv3.Op{op}, nil)
	return err
}

// Contacts returns every contact, ordered by key.
func (s *Store) Contacts(ctx context.Context) ([]workflow.Contact, error) {
	out := []workflow.Contact{}
	_, err := s.rangeKeys(ctx, s.k("contacts/"), s.prefixEnd("contacts/"), 0, 1000, false, func(kv *kvPair) (bool, error) {
		var c workflow.Contact
		if err := json.Unmarshal(kv.Value, &c); err != nil {
			return false, fmt.Errorf("etcd: decode contact %q: %w", kv.Key, err)
		}
		out = append(out, c)
		return false, nil
	})
	return out, err
}

// AddNotice stores n unless a notice with its key exists.
func (s *Store) AddNotice(ctx context.Context, n workflow.Notice) (bool, error) {
	if n.Key == "" || len(n.Key) > maxNoticeKey {
		return false, workflow.RefuseField(workflow.ReasonMalformed, "key", "bad notice key %q", n.Key)
	}
	n.State = workflow.NoticePending
	data, err := json.Marshal(n)
	if err != nil {
		return false, err
	}
	k := s.k(noticeKey(n.Key))
	ok, _, err := s.write(ctx,
		[]clientv3.Cmp{clientv3.Compare(clientv3.CreateRevision(k), "=", 0)},
		[]clientv3.Op{
			clientv3.OpPut(k, string(data)),
			clientv3.OpPut(s.k(noticeTimeKey(&n)), ""),
			clientv3.OpPut(s.k(noticePendingKey(n.Key)), ""),
		}, nil)
	return ok, err
}

// UpdateNotice applies apply to notice key and writes it if the notice
// did not change meanwhile (else it reads it again).
func (s *Store) UpdateNotice(ctx context.Context, key string, apply func(n *workflow.Notice) error) (*workflow.Notice, error) {
	for attempt := 0; attempt < maxAttempts; attempt++ {
		kv, err := s.get(ctx, noticeKey(key))
		if err != nil {
			return nil, err
		}
		if kv == nil {
			return nil, workflow.Refuse(workflow.ReasonRecordNotFound, "notice %q not found", key)
		}
		var n workflow.Notice
		if err := json.Unmarshal(kv.Value, &n); err != nil {
			return nil, fmt.Errorf("etcd: decode notice %q: %w", key, err)
		}
		old := n
		if err := apply(&n); err != nil {
			return nil, err
		}
		n.Key, n.CreatedAt = old.Key, old.CreatedAt
		data, err := json.Marshal(n)
		if err != nil {
			return nil, err
		}
		pending := clientv3.OpDelete(s.k(noticePendingKey(key)))
		if n.State == workflow.NoticePending {
			pending = clientv3.OpPut(s.k(noticePendingKey(key)), "")
		}
		ok, _, err := s.write(ctx,
			[]clientv3.Cmp{clientv3.Compare(clientv3.ModRevision(s.k(noticeKey(key))), "=", kv.ModRevision)},
			[]clientv3.Op{clientv3.OpPut(s.k(noticeKey(key)), string(data)), pending}, nil)
		if err != nil {
			return nil, err
		}
		if ok {
			return &n, nil
		}
	}
	return nil, fmt.Errorf("etcd: notice %q keeps changing", key)
}

// PendingNotices returns at most limit pending notices after key after,
// by key.
func (s *Store) PendingNotices(ctx context.Context, after string, limit int) ([]workflow.Notice, error) {
	var keys []string
	from := s.k("ntp/")
	if after != "" {
		from = s.k(noticePendingKey(after)) + "\x00"
	}
	_, err := s.rangeKeys(ctx, from, s.prefixEnd("ntp/"), 0, min(limit, 1000), true, func(kv *kvPair) (bool, error) {
		keys = append(keys, s.k("nt/"+strings.TrimPrefix(string(kv.Key), s.k("ntp/"))))
		return len(keys) >= limit, nil
	})
	if err != nil {
		return nil, err
	}
	return s.readNotices(ctx, keys)
}

// NoticeLog returns at most limit notices, newest first.
func (s *Store) NoticeLog(ctx context.Context, limit int) ([]workflow.Notice, error) {
	rctx, cancel := s.reqCtx(ctx)
	defer cancel()
	resp, err := s.cli.Get(rctx, s.k("ntt/"), clientv3.WithRange(s.prefixEnd("ntt/")), clientv3.WithKeysOnly(),
		clientv3.WithSort(clientv3.SortByKey, clientv3.SortDescend), clientv3.WithLimit(int64(limit)))
	if err != nil {
		return nil, wrap("read the delivery log", err)
	}
	keys := make([]string, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		rest := strings.TrimPrefix(string(kv.Key), s.k("ntt/"))
		_, key, ok := strings.Cut(rest, "/")
		if !ok {
			return nil, fmt.Errorf("etcd: bad delivery log key %q", kv.Key)
		}
		keys = append(keys, s.k("nt/"+key))
	}
	return s.readNotices(ctx, keys)
}

func (s *Store) readNotices(ctx context.Context, keys []string) ([]workflow.Notice, error) {
	kvs, err := s.getMany(ctx, keys)
	if err != nil {
		return nil, err
	}
	out := make([]workflow.Notice, 0, len(kvs))
	for i, kv := range kvs {
		if kv == nil {
			return nil, fmt.Errorf("etcd: notice index names a missing notice %q", keys[i])
		}
		var n workflow.Notice
		if err := json.Unmarshal(kv.Value, &n); err != nil {
			return nil, fmt.Errorf("etcd: decode notice %q: %w", kv.Key, err)
		}
		out = append(out, n)
	}
	return out, nil
}
