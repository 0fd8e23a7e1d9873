package bolt

import (
	"context"
	"encoding/json"
	"fmt"

	bbolt "go.etcd.io/bbolt"

	"github.com/jdz-eco/rectify/workflow"
)

// Reminders (workflow.Reminders), created on first use:
//
//	contacts        contact key → workflow.Contact
//	notices         notice key → workflow.Notice
//	notice_time     created at (unix nanoseconds) ‖ notice key → empty: the delivery log's order
//	notice_pending  notice key → empty, while the notice is pending
var (
	bucketContacts      = []byte("contacts")
	bucketNotices       = []byte("notices")
	bucketNoticeTime    = []byte("notice_time")
	bucketNoticePending = []byte("notice_pending")
)

// maxNoticeKey bounds a notice key (bbolt keys must be short enough).
const maxNoticeKey = 400

// PutContact stores c under its key, replacing any; an empty one is
// removed.
func (s *Store) PutContact(ctx context.Context, c workflow.Contact) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if c.Key == "" || len(c.Key) > maxNoticeKey {
		return workflow.RefuseField(workflow.ReasonMalformed, "key", "bad contact key %q", c.Key)
	}
	return s.update(ctx, func(tx *bbolt.Tx) error {
		b, err := created(tx, bucketContacts)
		if err != nil {
			return err
		}
		if c.Empty() {
			return b.Delete([]byte(c.Key))
		}
		return putJSON(b, []byte(c.Key), c)
	})
}

// Contacts returns every contact, ordered by key.
func (s *Store) Contacts(ctx context.Context) ([]workflow.Contact, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out := []workflow.Contact{}
	err := s.view(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketContacts)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			var c workflow.Contact
			if err := json.Unmarshal(v, &c); err != nil {
				return fmt.Errorf("bolt: decode contact %q: %w", k, err)
			}
			out = append(out, c)
			return nil
		})
	})
	return out, err
}

func noticeTimeKey(n *workflow.Notice) []byte {
	return append(u64(uint64(n.CreatedAt.UnixNano())), n.Key...)
}

// AddNotice stores n unless a notice with its key exists.
func (s *Store) AddNotice(ctx context.Context, n workflow.Notice) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	if n.Key == "" || len(n.Key) > maxNoticeKey {
		return false, workflow.RefuseField(workflow.ReasonMalformed, "key", "bad notice key %q", n.Key)
	}
	added := false
	err := s.update(ctx, func(tx *bbolt.Tx) error {
		bs, err := noticeBuckets(tx)
		if err != nil {
			return err
		}
		if bs[0].Get([]byte(n.Key)) != nil {
			return nil
		}
		n.State = workflow.NoticePending
		if err := putJSON(bs[0], []byte(n.Key), n); err != nil {
			return err
		}
		if err := bs[1].Put(noticeTimeKey(&n), nil); err != nil {
			return err
		}
		added = true
		return bs[2].Put([]byte(n.Key), nil)
	})
	return added, err
}

func noticeBuckets(tx *bbolt.Tx) ([3]*bbolt.Bucket, error) {
	var out [3]*bbolt.Bucket
	for i, name := range [][]byte{bucketNotices, bucketNoticeTime, bucketNoticePending} {
		b, err := created(tx, name)
		if err != nil {
			return out, err
		}
		out[i] = b
	}
	return out, nil
}

// UpdateNotice applies apply to notice key in one write transaction.
func (s *Store) UpdateNotice(ctx context.Context, key string, apply func(n *workflow.Notice) error) (*workflow.Notice, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out *workflow.Notice
	err := s.write(ctx, func(tx *bbolt.Tx, _ *txState) (bool, error) {
		var v []byte
		if nb := tx.Bucket(bucketNotices); nb != nil {
			v = nb.Get([]byte(key))
		}
		if v == nil {
			return false, workflow.Refuse(workflow.ReasonRecordNotFound, "notice %q not found", key)
		}
		var n workflow.Notice
		if err := json.Unmarshal(v, &n); err != nil {
			return false, fmt.Errorf("bolt: decode notice %q: %w", key, err)
		}
		old := n
		if err := apply(&n); err != nil {
			return false, err
		}
		n.Key, n.CreatedAt = old.Key, old.CreatedAt
		bs, err := noticeBuckets(tx)
		if err != nil {
			return true, err
		}
		if err := putJSON(bs[0], []byte(key), n); err != nil {
			return true, err
		}
		if n.State == workflow.NoticePending {
			err = bs[2].Put([]byte(key), nil)
		} else {
			err = bs[2].Delete([]byte(key))
		}
		out = &n
		return true, err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// PendingNotices returns at most limit pending notices after key after,
// by key.
func (s *Store) PendingNotices(ctx context.Context, after string, limit int) ([]workflow.Notice, error) {
	return s.notices(ctx, bucketNoticePending, after, limit, false)
}

// NoticeLog returns at most limit notices, newest first.
func (s *Store) NoticeLog(ctx context.Context, limit int) ([]workflow.Notice, error) {
	return s.notices(ctx, bucketNoticeTime, "", limit, true)
}

// notices reads the notices index idx lists after key after, at most
// limit, backwards when newest; a time index key ends with the notice key
// after 8 bytes.
func (s *Store) notices(ctx context.Context, idx []byte, after string, limit int, newest bool) ([]workflow.Notice, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out := []workflow.Notice{}
	err := s.view(func(tx *bbolt.Tx) error {
		ib, nb := tx.Bucket(idx), tx.Bucket(bucketNotices)
		if ib == nil || nb == nil {
			return nil
		}
		c := ib.Cursor()
		k, _ := c.First()
		if after != "" {
			if k, _ = c.Seek([]byte(after)); k != nil && string(k) == after {
				k, _ = c.Next()
			}
		}
		step := c.Next
		if newest {
			k, _ = c.Last()
			step = c.Prev
		}
		for ; k != nil && len(out) < limit; k, _ = step() {
			key := k
			if newest {
				key = k[8:]
			}
			v := nb.Get(key)
			if v == nil {
				return fmt.Errorf("bolt: notice index %s names a missing notice %q", idx, key)
			}
			var n workflow.Notice
			if err := json.Unmarshal(v, &n); err != nil {
				return fmt.Errorf("bolt: decode notice %q: %w", key, err)
			}
			out = append(out, n)
		}
		return nil
	})
	return out, err
}

// contacts sends every contact as stored, secrets included.
func (x *exporter) contacts() error {
	return x.each(bucketContacts, func(k, v []byte) error {
		var c workflow.Contact
		if err := decodeJSON(bucketContacts, k, v, &c); err != nil {
			return err
		}
		return x.sink.Contact(x.ctx, c)
	})
}

// notices sends every notice; its time and pending index keys follow from
// it (CreatedAt, State).
func (x *exporter) notices() error {
	return x.each(bucketNotices, func(k, v []byte) error {
		var n workflow.Notice
		if err := decodeJSON(bucketNotices, k, v, &n); err != nil {
			return err
		}
		return x.sink.Notice(x.ctx, n)
	})
}
