package bolt

import (
	"bytes"
	"context"
	"fmt"

	"go.etcd.io/bbolt"

	"github.com/jdz-eco/rectify/workflow"
)

// keyAnchor is the meta key of the last head anchor's key
// (docs/design.md#heads-anchored-outside-the-database).
var keyAnchor = []byte("anchor_key")

// AppendAnchor appends the head anchor build returns for the chain head,
// in one write transaction, unless the last anchor had key.
func (s *Store) AppendAnchor(ctx context.Context, key string, build func(head workflow.ChainHead) (workflow.Entry, error)) (workflow.Entry, bool, error) {
	if err := s.writable(ctx); err != nil {
		return workflow.Entry{}, false, err
	}
	var out workflow.Entry
	var isNew bool
	err := s.write(ctx, func(tx *bbolt.Tx, st *txState) (bool, error) {
		out, isNew = workflow.Entry{}, false
		meta := tx.Bucket(bucketMeta)
		if key != "" && bytes.Equal(meta.Get(keyAnchor), []byte(key)) {
			return false, nil
		}
		head, err := st.chainHead(tx)
		if err != nil {
			return false, err
		}
		e, err := build(head)
		if err != nil {
			return false, err
		}
		encoded, err := encodeOther([]workflow.Entry{e}, 0, 0)
		if err != nil {
			return false, err
		}
		if err := meta.Put(keyAnchor, []byte(key)); err != nil {
			return true, fmt.Errorf("bolt: write the anchor key: %w", err)
		}
		if err := appendEncoded(tx, st, 0, encoded); err != nil {
			return true, err
		}
		sealed, err := sealedSince(tx, head.Seq)
		if err != nil {
			return true, err
		}
		if len(sealed) != 1 {
			return true, fmt.Errorf("bolt: the anchor after entry %d was not written", head.Seq)
		}
		out, isNew = sealed[0], true
		return true, nil
	})
	if err != nil {
		return workflow.Entry{}, false, err
	}
	return out, isNew, nil
}

// anchor sends the last head anchor's key, if an anchor was appended.
func (x *exporter) anchor() error {
	if k := x.tx.Bucket(bucketMeta).Get(keyAnchor); len(k) > 0 {
		return x.sink.AnchorKey(x.ctx, string(k))
	}
	return nil
}
