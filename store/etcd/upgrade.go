package etcd

import (
	"context"
	"fmt"
	"strings"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/jdz-eco/rectify/store/internal/index"
	"github.com/jdz-eco/rectify/workflow"
)

// upgradeLayout upgrades a prefix of layout version 1 or 2 (schema, as
// read) to this one: the problems the public sees get their tag
// (workflow.TagPublic, which version 3 indexes), then the version changes.
// Replicas of an earlier rectify must be stopped first: they would not tag
// what they change meanwhile. Replicas of this one may run, and may
// upgrade at the same time: each tag is put only on the record it was
// decided on.
func (s *Store) upgradeLayout(ctx context.Context, schema *kvPair) error {
	if schema == nil || (string(schema.Value) != upgradableFrom1 && string(schema.Value) != upgradableFrom2) {
		return nil
	}
	if err := s.tagPublic(ctx); err != nil {
		return fmt.Errorf("etcd: upgrade the key layout of %s: %w", s.pfx, err)
	}
	k := s.k(keySchema)
	rctx, cancel := s.reqCtx(ctx)
	defer cancel()
	_, err := s.cli.Txn(rctx).If(clientv3.Compare(clientv3.Value(k), "=", string(schema.Value))).
		Then(clientv3.OpPut(k, schemaVersion)).Commit()
	return wrap("upgrade the key layout of "+s.pfx, err)
}

// tagPublic puts the public tag of every problem the public sees, found
// through the state index (only problems in notice or closed can be).
func (s *Store) tagPublic(ctx context.Context) error {
	for _, st := range []workflow.State{workflow.StateInNotice, workflow.StateClosed} {
		pfx := s.k(valuePrefix(index.State, string(st)))
		var ns []uint64
		_, err := s.rangeKeys(ctx, pfx, clientv3.GetPrefixRangeEnd(pfx), 0, 1000, true, func(kv *kvPair) (bool, error) {
			n, ok := unpad(strings.TrimPrefix(string(kv.Key), pfx))
			if !ok {
				return false, fmt.Errorf("state index key %q", kv.Key)
			}
			ns = append(ns, n)
			return false, nil
		})
		if err != nil {
			return err
		}
		for len(ns) > 0 {
			chunk := ns[:min(len(ns), tagChunk)]
			ns = ns[len(chunk):]
			if err := s.tagPublicChunk(ctx, chunk); err != nil {
				return err
			}
		}
	}
	return nil
}

// tagChunk is how many records tagPublicChunk reads in one transaction.
const tagChunk = 64

// tagPublicChunk reads problems ns at one revision and puts the tags of the
// public ones in one transaction guarded by their records' revisions; when
// one changed meanwhile, each is tagged on its own.
func (s *Store) tagPublicChunk(ctx context.Context, ns []uint64) error {
	gets := make([]clientv3.Op, len(ns))
	for i, n := range ns {
		gets[i] = clientv3.OpGet(s.k(problemKey(n)))
	}
	rctx, cancel := s.reqCtx(ctx)
	resp, err := s.cli.Txn(rctx).Then(gets...).Commit()
	cancel()
	if err != nil {
		return wrap("read problems to tag", err)
	}
	var cmps []clientv3.Cmp
	var puts []clientv3.Op
	for i, r := range resp.Responses {
		kv := first(r)
		if kv == nil {
			continue
		}
		rec, err := decodeRecord(ns[i], kv)
		if err != nil {
			return err
		}
		if rec.p.IsPublic() {
			cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(s.k(problemKey(ns[i]))), "=", rec.rev))
			puts = append(puts, clientv3.OpPut(s.k(publicTagKey(ns[i])), ""))
		}
	}
	if len(puts) == 0 {
		return nil
	}
	rctx, cancel = s.reqCtx(ctx)
	tr, err := s.cli.Txn(rctx).If(cmps...).Then(puts...).Commit()
	cancel()
	if err != nil {
		return wrap("tag public problems", err)
	}
	if tr.Succeeded {
		return nil
	}
	for _, n := range ns {
		if err := s.tagPublicOne(ctx, n); err != nil {
			return err
		}
	}
	return nil
}

// publicTagKey is the relative key of problem n's public tag.
func publicTagKey(n uint64) string {
	return termKey(index.Term{Index: index.Tag, Value: workflow.TagPublic}, n)
}

// tagPublicOne puts problem n's public tag if its record, as it stands when
// the tag is written, is public.
func (s *Store) tagPublicOne(ctx context.Context, n uint64) error {
	tag := s.k(publicTagKey(n))
	for {
		rctx, cancel := s.reqCtx(ctx)
		resp, err := s.cli.Get(rctx, s.k(problemKey(n)))
		cancel()
		if err != nil {
			return wrap("read a problem to tag", err)
		}
		if len(resp.Kvs) == 0 {
			return nil
		}
		rec, err := decodeRecord(n, resp.Kvs[0])
		if err != nil {
			return err
		}
		if !rec.p.IsPublic() {
			return nil
		}
		rctx, cancel = s.reqCtx(ctx)
		tr, err := s.cli.Txn(rctx).If(clientv3.Compare(clientv3.ModRevision(s.k(problemKey(n))), "=", rec.rev)).
			Then(clientv3.OpPut(tag, "")).Commit()
		cancel()
		if err != nil {
			return wrap("tag a public problem", err)
		}
		if tr.Succeeded {
			return nil
		}
		// The record changed meanwhile: decide again on the new one.
	}
}
