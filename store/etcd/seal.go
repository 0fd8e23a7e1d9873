package etcd

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/jdz-eco/rectify/workflow"
)

// Sealing (see the package doc). A command's transaction writes its history
// entries unsealed, one key per command: P pe/<n>/<version> holds the JSON
// array of its entries with ProblemID and Version set, Seq and the hashes
// empty. Commands therefore compare only what they read (the record, the
// counter for creates, a dedupe key, a fence): two replicas conflict only on
// the same problem. The sealer then appends the pending commands to the one
// hash chain in the order etcd committed them (mod revision, then key: a
// problem's versions in order), each entry with the next Seq, linked to the
// entry before, under P h/<seq> with its outbox key P ob/<seq> and its
// problem's index key P ph/<n>/<seq>, deleting the pending keys and moving
// P meta/head in the same transaction, guarded by the head's revision: two
// sealers never fork the chain, and a sealer that loses starts again from
// what is pending then.
//
// One replica seals continuously (RunSealer, under the "sealer" election);
// every read that exposes the chain (Head, Events, History, ForEachEntry,
// Backup) first seals what was committed before it began (sealThrough), so
// that it sees every acknowledged command with its Seq and hash, as on
// bbolt.

// keyPending is the prefix of the unsealed entries.
const keyPending = "pe/"

// pendingKey is the key of the unsealed entries of problem n's command that
// made version v.
func pendingKey(n, v uint64) string { return keyPending + pad(n) + "/" + pad(v) }

// pendingPrefix is the prefix of problem n's unsealed entries.
func pendingPrefix(n uint64) string { return keyPending + pad(n) + "/" }

// headState is the chain head with the mod revision of its key (0: absent).
// A head a batch holds (batch.go) has held set and rev -1, which no compare
// matches: a chain writer that meets it waits for the hold to go.
type headState struct {
	head workflow.ChainHead
	rev  int64
	held bool
}

// encodePending returns the unsealed entries of the command that made
// version v of problem id, as the pending key holds them.
func encodePending(entries []workflow.Entry, id string, v uint64) ([]byte, error) {
	out := make([]workflow.Entry, len(entries))
	for i, e := range entries {
		e.Seq, e.ProblemID, e.Version, e.PrevHash, e.Hash = 0, id, v, "", ""
		out[i] = e
	}
	b, err := json.Marshal(out)
	if err != nil {
		return nil, fmt.Errorf("etcd: encode the history entries of problem %s: %w", id, err)
	}
	return b, nil
}

// sealOps is what sealing one entry writes (the entry, its outbox key, its
// problem's index key); a seal transaction also moves the head and deletes
// each pending key.
const sealOps = 3

// sealable refuses a command whose entries would not fit one seal
// transaction.
func (s *Store) sealable(id string, entries, bytes int) error {
	if 2+sealOps*entries > s.cfg.MaxTxnOps || bytes > s.cfg.MaxTxnBytes {
		return fmt.Errorf("etcd: the command on problem %s writes %d history entries (%d bytes); one transaction can seal at most %d (%d bytes: etcd's --max-txn-ops and --max-request-bytes)",
			id, entries, bytes, (s.cfg.MaxTxnOps-2)/sealOps, s.cfg.MaxTxnBytes)
	}
	return nil
}

// pendingCmd is one command's unsealed entries as read.
type pendingCmd struct {
	key     string // absolute
	rev     int64  // mod revision: when the command committed
	entries []workflow.Entry
	size    int
}

// decodePending reads a pending key.
func (s *Store) decodePending(kv *kvPair) (pendingCmd, error) {
	c := pendingCmd{key: string(kv.Key), rev: kv.ModRevision, size: len(kv.Value)}
	rel := strings.TrimPrefix(c.key, s.k(keyPending))
	ns, vs, ok := strings.Cut(rel, "/")
	n, ok1 := unpad(ns)
	v, ok2 := unpad(vs)
	if !ok || !ok1 || !ok2 {
		return c, fmt.Errorf("etcd: bad pending key %q", kv.Key)
	}
	if err := json.Unmarshal(kv.Value, &c.entries); err != nil {
		return c, fmt.Errorf("etcd: decode %s: %w", kv.Key, err)
	}
	if len(c.entries) == 0 {
		return c, fmt.Errorf("etcd: %s holds no entries", kv.Key)
	}
	for _, e := range c.entries {
		if e.ProblemID != workflow.ProblemID(n) || e.Version != v {
			return c, fmt.Errorf("etcd: %s holds an entry of problem %s at version %d", kv.Key, e.ProblemID, e.Version)
		}
	}
	return c, nil
}

// sealReadLimit bounds the pending commands one seal round reads.
const sealReadLimit = 1000

// sealRound reads the pending commands committed at or before maxRev (all
// of them when maxRev is 0), at most sealReadLimit, and appends them to the
// chain in commit order, in transactions within the limits. It returns how
// many it read and how many it sealed: fewer when another sealer moved the
// head first (the caller reads again). A fence in ctx guards every seal
// transaction (ErrFenced once it is lost).
func (s *Store) sealRound(ctx context.Context, maxRev int64) (read, sealed int, err error) {
	opts := []clientv3.OpOption{clientv3.WithRange(s.prefixEnd(keyPending)),
		clientv3.WithSort(clientv3.SortByModRevision, clientv3.SortAscend), clientv3.WithLimit(sealReadLimit)}
	if maxRev > 0 {
		opts = append(opts, clientv3.WithMaxModRev(maxRev))
	}
	rctx, cancel := s.reqCtx(ctx)
	resp, err := s.cli.Txn(rctx).Then(clientv3.OpGet(s.k(keyHead)), clientv3.OpGet(s.k(keyPending), opts...)).Commit()
	cancel()
	if err != nil {
		return 0, 0, wrap("read the pending history", err)
	}
	head, err := decodeHead(first(resp.Responses[0]))
	if err != nil {
		return 0, 0, err
	}
	if head.held {
		// A batch holds the chain (batch.go): finish it if its importer
		// died, else wait for it; the caller reads again.
		return 1, 0, s.awaitHold(ctx)
	}
	rr := resp.Responses[1].GetResponseRange()
	kvs := rr.Kvs
	if rr.More && len(kvs) > 0 {
		// The limit may have cut the last revision's commands anywhere:
		// leave them to the next round, or, when they are all there is,
		// read that revision whole.
		last := kvs[len(kvs)-1].ModRevision
		i := len(kvs)
		for i > 0 && kvs[i-1].ModRevision == last {
			i--
		}
		if i > 0 {
			kvs = kvs[:i]
		} else if kvs, err = s.pendingAt(ctx, last); err != nil {
			return 0, 0, err
		}
	}
	cmds := make([]pendingCmd, 0, len(kvs))
	for _, kv := range kvs {
		c, err := s.decodePending(kv)
		if err != nil {
			return 0, 0, err
		}
		cmds = append(cmds, c)
	}
	slices.SortFunc(cmds, func(a, b pendingCmd) int {
		return cmp.Or(cmp.Compare(a.rev, b.rev), strings.Compare(a.key, b.key))
	})
	for len(cmds) > 0 {
		n, next, err := s.sealTxn(ctx, head, cmds)
		if err != nil || n == 0 {
			return len(kvs), sealed, err
		}
		sealed += n
		cmds, head = cmds[n:], next
	}
	return len(kvs), sealed, nil
}

// pendingAt reads every pending key written at revision rev.
func (s *Store) pendingAt(ctx context.Context, rev int64) ([]*kvPair, error) {
	rctx, cancel := s.reqCtx(ctx)
	defer cancel()
	resp, err := s.cli.Get(rctx, s.k(keyPending), clientv3.WithRange(s.prefixEnd(keyPending)),
		clientv3.WithMinModRev(rev), clientv3.WithMaxModRev(rev))
	if err != nil {
		return nil, wrap("read the pending history", err)
	}
	return resp.Kvs, nil
}

// sealTxn seals the first of cmds after head in one transaction, as many as
// fit, and returns how many it sealed (0 when another sealer moved the head)
// and the new head.
func (s *Store) sealTxn(ctx context.Context, head headState, cmds []pendingCmd) (int, headState, error) {
	var (
		cmps  []clientv3.Cmp
		ops   []clientv3.Op
		elses = []clientv3.Op{clientv3.OpGet(s.k(keyHead))}
		bytes int
		next  = head.head
		n     int
	)
	if head.rev == 0 {
		cmps = append(cmps, clientv3.Compare(clientv3.CreateRevision(s.k(keyHead)), "=", 0))
	} else {
		cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(s.k(keyHead)), "=", head.rev))
	}
	f := fenceFrom(ctx)
	if f != nil {
		cmps = append(cmps, f.cmp())
		elses = append(elses, clientv3.OpGet(f.Key))
	}
	for _, c := range cmds {
		need := 1 + sealOps*len(c.entries) + refCount(c.entries)
		if n > 0 && (len(ops)+need+1 > s.cfg.MaxTxnOps || len(cmps)+1 > s.cfg.MaxTxnOps || bytes+c.size > s.cfg.MaxTxnBytes) {
			break
		}
		pn, _ := workflow.ParseProblemID(c.entries[0].ProblemID)
		for _, e := range c.entries {
			e.Seq = next.Seq + 1
			prev := next.Hash
			if next.Seq == 0 {
				prev = workflow.GenesisHash
			}
			if err := workflow.SealEntry(&e, prev); err != nil {
				return 0, head, fmt.Errorf("etcd: seal %s: %w", c.key, err)
			}
			v, err := json.Marshal(e)
			if err != nil {
				return 0, head, fmt.Errorf("etcd: encode history entry %d: %w", e.Seq, err)
			}
			bytes += len(v)
			ops = append(ops,
				clientv3.OpPut(s.k(historyKey(e.Seq)), string(v)),
				clientv3.OpPut(s.k(outboxKey(e.Seq)), ""),
				clientv3.OpPut(s.k(problemHistPrefix(pn)+pad(e.Seq)), ""))
			refs, err := s.refOps(&e) // the round index (rounds.go)
			if err != nil {
				return 0, head, err
			}
			ops = append(ops, refs...)
			next = workflow.ChainHead{Seq: e.Seq, Hash: e.Hash, At: e.At}
		}
		cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(c.key), "=", c.rev))
		ops = append(ops, clientv3.OpDelete(c.key))
		n++
	}
	hv, _ := json.Marshal(next)
	ops = append(ops, clientv3.OpPut(s.k(keyHead), string(hv)))
	rctx, cancel := s.reqCtx(ctx)
	resp, err := s.cli.Txn(rctx).If(cmps...).Then(ops...).Else(elses...).Commit()
	cancel()
	s.stats.SealTxns.Add(1)
	if err != nil {
		// Whether it applied or not, the next round reads what it left.
		return 0, head, wrap("seal", err)
	}
	if !resp.Succeeded {
		if f != nil && !f.holds(first(resp.Responses[1])) {
			return 0, head, fmt.Errorf("%w (%s)", ErrFenced, f.Key)
		}
		return 0, head, nil
	}
	s.stats.Sealed.Add(uint64(n))
	return n, headState{head: next, rev: resp.Header.Revision}, nil
}

// sealThrough seals every command committed at or before revision rev (the
// revision of a read of the caller's), so that what the caller reads next of
// the chain holds them all. Within one Store one caller seals at a time;
// the others find their commands sealed when their turn comes.
func (s *Store) sealThrough(ctx context.Context, rev int64) error {
	s.sealMu.Lock()
	defer s.sealMu.Unlock()
	for attempt := 0; ; attempt++ {
		read, sealed, err := s.sealRound(ctx, rev)
		switch {
		case err != nil && (ctx.Err() != nil || attempt >= 8 || !isUnavailable(err)):
			return err
		case err != nil:
		case read == 0:
			return nil
		case sealed > 0:
			attempt = 0 // progress: not a retry
			continue
		}
		// Another sealer moved the head, or etcd did not answer: again.
		if err := sleepCtx(ctx, backoff(attempt)); err != nil {
			return err
		}
	}
}

// sealPending seals everything committed before the call (see sealThrough).
func (s *Store) sealPending(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	rctx, cancel := s.reqCtx(ctx)
	resp, err := s.cli.Get(rctx, s.k(keyPending), clientv3.WithRange(s.prefixEnd(keyPending)), clientv3.WithCountOnly())
	cancel()
	if err != nil {
		return wrap("read the pending history", err)
	}
	if resp.Count == 0 {
		return nil
	}
	return s.sealThrough(ctx, resp.Header.Revision)
}

// DefaultSealInterval is how often RunSealer looks for pending commands
// when the last look found none.
const DefaultSealInterval = 20 * time.Millisecond

// RunSealer appends the pending commands to the hash chain as they commit,
// until ctx ends: a round, then another at once if it sealed anything, else
// after interval (DefaultSealInterval when not positive). Run it on one
// replica at a time, under RunAsLeader (its fence guards every seal);
// others seal only what their reads need. Errors are passed to onErr (which
// may be nil) and followed by a backoff; ErrFenced ends it.
func (s *Store) RunSealer(ctx context.Context, interval time.Duration, onErr func(error)) error {
	if interval <= 0 {
		interval = DefaultSealInterval
	}
	failures := 0
	for ctx.Err() == nil {
		s.sealMu.Lock()
		read, _, err := s.sealRound(ctx, 0)
		s.sealMu.Unlock()
		wait := interval
		switch {
		case errors.Is(err, ErrFenced):
			return err
		case err != nil && ctx.Err() == nil:
			failures++
			wait = backoff(failures + 3)
			if onErr != nil {
				onErr(err)
			}
		case read > 0:
			// Sealed, or another sealer was first: look again at once.
			failures = 0
			continue
		default:
			failures = 0
		}
		if sleepCtx(ctx, wait) != nil {
			break
		}
	}
	return nil
}
