package etcd

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/jdz-eco/rectify/workflow"
)

// Head returns the newest entry of the hash chain as recorded with it, or the
// zero ChainHead when the history is empty. It seals first what was pending
// when it began: the head holds every command acknowledged before the call.
func (s *Store) Head(ctx context.Context) (workflow.ChainHead, error) {
	if err := s.sealPending(ctx); err != nil {
		return workflow.ChainHead{}, err
	}
	kv, err := s.get(ctx, keyHead)
	if err != nil {
		return workflow.ChainHead{}, err
	}
	h, err := decodeHead(kv)
	return h.head, err
}

// ForEachEntry calls fn with every history entry in sequence order, read
// page by page at one revision: a consistent view of the chain, holding
// every command acknowledged before the call (it seals what is pending
// first). An entry that does not decode is passed with err set and only its
// Seq. An error fn returns stops the walk and is returned as is.
func (s *Store) ForEachEntry(ctx context.Context, fn func(e workflow.Entry, err error) error) error {
	if err := s.sealPending(ctx); err != nil {
		return err
	}
	return s.forEachEntry(ctx, 0, fn)
}

func (s *Store) forEachEntry(ctx context.Context, rev int64, fn func(e workflow.Entry, err error) error) error {
	var fnErr error
	_, err := s.rangeKeys(ctx, s.k("h/"), s.prefixEnd("h/"), rev, 500, false, func(kv *kvPair) (bool, error) {
		var e workflow.Entry
		seq, ok := lastNumber(kv.Key)
		var derr error
		if !ok || len(kv.Key) != len(s.k("h/"))+20 {
			derr = fmt.Errorf("bad history key %q", kv.Key)
		} else {
			derr = json.Unmarshal(kv.Value, &e)
		}
		if derr != nil {
			e = workflow.Entry{Seq: seq}
		}
		fnErr = fn(e, derr)
		return fnErr != nil, nil
	})
	if fnErr != nil {
		return fnErr
	}
	return err
}

// ForEachProblem calls fn with every stored problem in number order, read
// page by page at one revision. fn may use the store.
func (s *Store) ForEachProblem(ctx context.Context, fn func(p *workflow.Problem) error) error {
	return s.forEachProblem(ctx, 0, fn)
}

func (s *Store) forEachProblem(ctx context.Context, rev int64, fn func(p *workflow.Problem) error) error {
	var fnErr error
	_, err := s.rangeKeys(ctx, s.k("p/"), s.prefixEnd("p/"), rev, 500, false, func(kv *kvPair) (bool, error) {
		n, ok := lastNumber(kv.Key)
		if !ok {
			return false, fmt.Errorf("etcd: bad problem key %q", kv.Key)
		}
		rec, err := decodeRecord(n, kv)
		if err != nil {
			return false, err
		}
		fnErr = fn(rec.p)
		return fnErr != nil, nil
	})
	if fnErr != nil {
		return fnErr
	}
	return err
}

// Snapshot is a read-only view of the store pinned at one etcd revision: a
// workflow.Ledger that an audit of a live cluster can check while replicas
// keep writing (their later writes are not in it). Commands committed but
// not yet sealed at that revision appear at the end of their problems'
// histories without Seq or hashes (workflow.Audit counts them as pending).
// It lasts as long as etcd keeps that revision (until a compaction passes
// it: then reads fail with "required revision has been compacted").
type Snapshot struct {
	s   *Store
	rev int64
}

// Snapshot pins the store's current revision, once what was pending when it
// began is sealed.
func (s *Store) Snapshot(ctx context.Context) (*Snapshot, error) {
	if err := s.sealPending(ctx); err != nil {
		return nil, err
	}
	rctx, cancel := s.reqCtx(ctx)
	defer cancel()
	resp, err := s.cli.Get(rctx, s.k(keyHead))
	if err != nil {
		return nil, wrap("read the revision", err)
	}
	return &Snapshot{s: s, rev: resp.Header.Revision}, nil
}

// Revision returns the etcd revision of the snapshot.
func (sn *Snapshot) Revision() int64 { return sn.rev }

// Head returns the chain head at the snapshot's revision.
func (sn *Snapshot) Head(ctx context.Context) (workflow.ChainHead, error) {
	rctx, cancel := sn.s.reqCtx(ctx)
	defer cancel()
	resp, err := sn.s.cli.Get(rctx, sn.s.k(keyHead), clientv3.WithRev(sn.rev))
	if err != nil {
		return workflow.ChainHead{}, wrap("read the chain head", err)
	}
	var kv *kvPair
	if len(resp.Kvs) > 0 {
		kv = resp.Kvs[0]
	}
	h, err := decodeHead(kv)
	return h.head, err
}

// ForEachEntry walks the history at the snapshot's revision.
func (sn *Snapshot) ForEachEntry(ctx context.Context, fn func(e workflow.Entry, err error) error) error {
	return sn.s.forEachEntry(ctx, sn.rev, fn)
}

// ForEachProblem walks the records at the snapshot's revision.
func (sn *Snapshot) ForEachProblem(ctx context.Context, fn func(p *workflow.Problem) error) error {
	return sn.s.forEachProblem(ctx, sn.rev, fn)
}

// History returns problem id's entries at the snapshot's revision: the
// sealed ones, then those pending then (no Seq, no hashes).
func (sn *Snapshot) History(ctx context.Context, id string) ([]workflow.Entry, error) {
	sealed, pending, _, err := sn.s.history(ctx, id, sn.rev)
	return append(sealed, pending...), err
}

// Backups.
//
// Backup streams the ledger as JSON lines read at one revision: a header
// line, then one line per key under the prefix (command keys and election
// keys left out), {"k": key relative to the prefix, "v": value in base64}.
// It is the rectify-level backup: consistent (every command committed
// before the revision, none after), limited to this ledger's prefix, and
// restorable into an empty prefix of any cluster with Restore (rectify
// restore) or checked offline with ReadBackup. A whole-cluster disaster
// copy is etcd's own (etcdctl snapshot save), which needs etcd's root
// rights and restores a whole cluster.

// BackupFormat names the first line of a backup.
const BackupFormat = "rectify-etcd-backup"

// BackupHeader is the first line of a backup.
type BackupHeader struct {
	Format   string             `json:"format"`
	Version  int                `json:"version"`
	Prefix   string             `json:"prefix"`
	Revision int64              `json:"revision"`
	Head     workflow.ChainHead `json:"head"`
	At       time.Time          `json:"at"`
}

// BackupLine is every other line of a backup.
type BackupLine struct {
	K string `json:"k"`
	V []byte `json:"v"`
}

// transient reports whether relative key rel is left out of backups and
// copies: command keys and election keys live minutes, on leases.
func transient(rel string) bool {
	// batch/: the owner keys of batches (batch.go), on their importers' leases.
	return strings.HasPrefix(rel, "cmd/") || strings.HasPrefix(rel, "election/") || strings.HasPrefix(rel, "batch/")
}

// BackupExtension names the file type of Backup's output: JSON lines.
func (s *Store) BackupExtension() string { return ".jsonl" }

// Backup writes a consistent snapshot of the ledger to w (see above) and
// returns the bytes written.
func (s *Store) Backup(ctx context.Context, w io.Writer) (int64, error) {
	sn, err := s.Snapshot(ctx)
	if err != nil {
		return 0, err
	}
	return sn.backup(ctx, w)
}

// backup writes the snapshot's keys: commands pending at its revision
// included, which a restore seals (in problem order) where it lands.
func (sn *Snapshot) backup(ctx context.Context, w io.Writer) (int64, error) {
	s := sn.s
	head, err := sn.Head(ctx)
	if err != nil {
		return 0, err
	}
	cw := &countWriter{w: w}
	bw := bufio.NewWriterSize(cw, 64<<10)
	enc := json.NewEncoder(bw)
	if err := enc.Encode(BackupHeader{Format: BackupFormat, Version: 1, Prefix: s.pfx, Revision: sn.rev, Head: head, At: time.Now().UTC()}); err != nil {
		return cw.n, err
	}
	_, err = s.rangeKeys(ctx, s.pfx, clientv3.GetPrefixRangeEnd(s.pfx), sn.rev, 500, false, func(kv *kvPair) (bool, error) {
		rel := string(kv.Key[len(s.pfx):])
		if transient(rel) {
			return false, nil
		}
		return false, enc.Encode(BackupLine{K: rel, V: kv.Value})
	})
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		return cw.n, fmt.Errorf("etcd: backup: %w", err)
	}
	return cw.n, nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// ReadBackup reads a backup's header and calls fn with each of its keys
// (relative) and values, in order.
func ReadBackup(r io.Reader, fn func(rel string, v []byte) error) (BackupHeader, error) {
	var h BackupHeader
	dec := json.NewDecoder(bufio.NewReaderSize(r, 64<<10))
	if err := dec.Decode(&h); err != nil || h.Format != BackupFormat {
		return h, errors.New("etcd: not a rectify etcd backup (no header line)")
	}
	if h.Version != 1 {
		return h, fmt.Errorf("etcd: backup version %d, this rectify reads version 1", h.Version)
	}
	for {
		var l BackupLine
		err := dec.Decode(&l)
		if err == io.EOF {
			return h, nil
		}
		if err != nil {
			return h, fmt.Errorf("etcd: backup: %w", err)
		}
		if l.K == "" {
			return h, errors.New("etcd: backup: a line without a key")
		}
		if err := fn(l.K, l.V); err != nil {
			return h, err
		}
	}
}

// Restore writes a backup into the store's prefix, which must be empty (no
// replica serving it yet), and returns its header. The keys are copied as
// they are (history, chain head, records, indexes); an interrupted restore
// leaves the migration marker, which Open refuses, until the prefix is
// deleted and the restore run again.
func (s *Store) Restore(ctx context.Context, r io.Reader) (BackupHeader, error) {
	imp, err := s.BeginImport(ctx)
	if err != nil {
		return BackupHeader{}, err
	}
	h, err := ReadBackup(r, func(rel string, v []byte) error {
		if transient(rel) || rel == keyMigrating {
			return nil
		}
		return imp.put(ctx, rel, v)
	})
	if err != nil {
		return h, err
	}
	return h, imp.finishRaw(ctx)
}
