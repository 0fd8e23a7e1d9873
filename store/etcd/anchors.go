package etcd

import (
	"context"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/jdz-eco/rectify/workflow"
)

// keyAnchor holds the key of the last head anchor
// (docs/design.md#heads-anchored-outside-the-database).
const keyAnchor = "meta/anchor-key"

// AppendAnchor appends the head anchor build returns for the chain head
// unless the last anchor had key: appendOther seals what is pending first
// and commits only if the head has not moved since it was read.
func (s *Store) AppendAnchor(ctx context.Context, key string, build func(head workflow.ChainHead) (workflow.Entry, error)) (workflow.Entry, bool, error) {
	if err := ctx.Err(); err != nil {
		return workflow.Entry{}, false, err
	}
	entries, err := s.appendOther(ctx, func(rev int64) (*otherPlan, error) {
		if key != "" {
			resp, err := s.getAt(ctx, keyAnchor, rev)
			if err != nil {
				return nil, err
			}
			if len(resp.Kvs) > 0 && string(resp.Kvs[0].Value) == key {
				return &otherPlan{done: true}, nil
			}
		}
		hresp, err := s.getAt(ctx, keyHead, rev)
		if err != nil {
			return nil, err
		}
		var kv *kvPair
		if len(hresp.Kvs) > 0 {
			kv = hresp.Kvs[0]
		}
		hs, err := decodeHead(kv)
		if err != nil {
			return nil, err
		}
		e, err := build(hs.head)
		if err != nil {
			return nil, err
		}
		return &otherPlan{entries: []workflow.Entry{e}, ops: []clientv3.Op{clientv3.OpPut(s.k(keyAnchor), key)}}, nil
	})
	if err != nil || len(entries) == 0 {
		return workflow.Entry{}, false, err
	}
	return entries[0], true, nil
}
