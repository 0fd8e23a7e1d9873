// Package bolt implements workflow.Store on bbolt, rectify's embedded default
// backend.
//
// Every command is applied in one bbolt write transaction holding everything
// it changes: the problem record, its history entries and every secondary
// index. Concurrent commands share a transaction and its fsync (group
// commit, see group.go); a command that fails fails alone. Values are
// JSON-encoded domain structs; numeric keys are big-endian uint64 so that a
// cursor walks them in numeric order. The layout follows hashicorp/raft-boltdb:
// bucket names are package variables, all buckets are created on open, and
// values are copied out of a transaction (decoded) before it ends.
//
// Buckets:
//
//	meta             "schema" → uint64 schema version; "problem_counter" → last problem number;
//	                 "index_v2" → present once idx_wake and idx_tag were built from every problem;
//	                 "index_evidence" → present once idx_evidence was built from every problem;
//	                 "index_wake_facts" → present once idx_wake was built with its values;
//	                 "chain_head" → workflow.ChainHead (JSON) of the newest history entry
//	problems         problem number → Problem
//	history          global seq → Entry (append-only, hash-chained: see below)
//	problem_history  problem number ‖ seq → empty (a problem's entries in order)
//	outbox           global seq → empty (append-only; one per history entry: the event is
//	                 the history entry of the same key; before version 4, the Event in full)
//	idx_state        state ‖ 0x00 ‖ problem number → empty
//	idx_lead_unit    lead unit ‖ 0x00 ‖ problem number → empty
//	idx_county       county ‖ 0x00 ‖ problem number → empty
//	idx_unit         lead or cooperating unit ‖ 0x00 ‖ problem number → empty
//	idx_deadline     deadline (unix seconds) ‖ problem number → empty
//	idx_wake         Supervision.WakeAt (unix seconds, rounded up) ‖ problem number → what the
//	                 level computation needs (state, deadline, pause, level, stage clock: sweep.go)
//	idx_tag          alert tag (Problem.Tags) ‖ 0x00 ‖ problem number → empty
//	idx_evidence     evidence SHA-256 (Problem.EvidenceHashes) ‖ 0x00 ‖ problem number → empty
//	idx_dedupe       dedupe key → problem number
//	units            unit ID → Unit
//	work_points      work point number → WorkPoint
//	users            user ID → User
//	tokens           token hash → Token
//	cursors          outbox consumer name → uint64 seq it has processed
//	calendars        year (uint64, two's complement) → calendar file as stored
//
// Hash chain: every history entry is sealed with workflow.SealEntry on the
// hash of the entry before it (workflow.GenesisHash for the first), in the
// write transaction that appends it, which also moves "chain_head" to it. The
// outbox event of an entry is the sealed entry.
//
// Write layout: keys that grow (problem numbers, history sequence numbers,
// index values followed by problem numbers) are appended with a high fill
// percent (encode.go), so that pages fill up instead of splitting half
// empty, and a command touches few pages: its problem's record and history
// index, the last page of the history and the outbox (shared with the other
// commands of its commit group), and the index keys its change moves.
//
// Schema versions: 1 lacked outbox, idx_wake, idx_tag, cursors and calendars;
// 2 lacked the hash chain (entries without prev_hash and hash, no
// chain_head) and idx_evidence; 3 wrote each outbox event in full and left
// the wake index values empty. Opening a file of version 1 to 3 read-write
// upgrades it in the open transaction: the missing buckets are created,
// idx_wake and idx_tag are built from every problem with the wake index
// values (the index_v2 backfill, which runs whenever the index_v2 or the
// index_wake_facts flag is absent), idx_evidence likewise (the
// index_evidence backfill), a history from before the chain is sealed in
// sequence order (history values rewritten, outbox values emptied,
// chain_head set) and the version becomes 5. History written before version
// 2 has no outbox events; outbox values written in full by version 2 or 3
// stay and are read as before. Version 4 stored records and entries as JSON;
// version 5 stores them packed (pack.go) and reads a JSON value as it is, so
// a version 4 file upgrades by recording the new version: its values are
// packed as they are rewritten (records), or stay JSON (history, which is
// never rewritten). A read-only open refuses a file of an older version, and
// rectify builds that read an older version refuse a newer one.
package bolt

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"sync/atomic"
	"time"

	bbolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/jdz-eco/rectify/workflow"
)

// Bucket names.
var (
	bucketMeta           = []byte("meta")
	bucketProblems       = []byte("problems")
	bucketHistory        = []byte("history")
	bucketProblemHistory = []byte("problem_history")
	bucketByState        = []byte("idx_state")
	bucketByLeadUnit     = []byte("idx_lead_unit")
	bucketByCounty       = []byte("idx_county")
	bucketByUnit         = []byte("idx_unit")
	bucketByDeadline     = []byte("idx_deadline")
	bucketDedupe         = []byte("idx_dedupe")
	bucketUnits          = []byte("units")
	bucketWorkPoints     = []byte("work_points")
	bucketUsers          = []byte("users")
	bucketTokens         = []byte("tokens")
	bucketOutbox         = []byte("outbox")
	bucketByWake         = []byte("idx_wake")
	bucketByTag          = []byte("idx_tag")
	bucketCursors        = []byte("cursors")
	bucketCalendars      = []byte("calendars")
	bucketByEvidence     = []byte("idx_evidence")

	allBuckets = [][]byte{
		bucketMeta, bucketProblems, bucketHistory, bucketProblemHistory, bucketOutbox,
		bucketByState, bucketByLeadUnit, bucketByCounty, bucketByUnit, bucketByDeadline,
		bucketByWake, bucketByTag, bucketByEvidence, bucketDedupe,
		bucketUnits, bucketWorkPoints, bucketUsers, bucketTokens, bucketCursors, bucketCalendars,
	}
)

// Keys of the meta bucket.
var (
	keySchema         = []byte("schema")
	keyProblemCounter = []byte("problem_counter")
	keyIndexV2        = []byte("index_v2")
	keyIndexEvidence  = []byte("index_evidence")
	keyIndexWake      = []byte("index_wake_facts")
	keyChainHead      = []byte("chain_head")
)

const (
	// schemaVersion is the layout this package reads and writes.
	schemaVersion = 5
	// chainVersion is the first layout with the hash chain: an older file's
	// history is sealed when it is upgraded.
	chainVersion = 3
	// upgradableVersion is the oldest layout a read-write Open upgrades.
	upgradableVersion = 1
	// appendFillPercent packs pages of append-only buckets, whose keys only
	// ever grow, instead of leaving them half empty after a split.
	appendFillPercent = 0.95
	// DefaultTimeout is how long Open waits for the file lock when
	// Options.Timeout is zero.
	DefaultTimeout = time.Second
)

// Options configure Open.
type Options struct {
	// Timeout bounds the wait for the database file's lock, so that a second
	// opener fails with an error instead of hanging. Zero means DefaultTimeout.
	Timeout time.Duration
	// ReadOnly opens the file with a shared lock; every write fails. The file
	// must already hold a rectify database.
	ReadOnly bool
	// ObserveCommit, if set, is called after every committed write
	// transaction with its duration, from the start of its work to the end of
	// its commit (fsync included); waiting for the writer lock is not counted.
	// Concurrent commands share a transaction (group commit, see group.go):
	// it is called once per transaction, not per command.
	ObserveCommit func(time.Duration)
	// ObserveGroup, if set, is called after every committed write
	// transaction with the number of commands it held that wrote.
	ObserveGroup func(commands int)
	// MaxGroup bounds the commands of one commit group; zero means
	// DefaultMaxGroup, and 1 commits every command alone (for measurements).
	MaxGroup int
}

// Store is a workflow.Store on a bbolt file. It is safe for concurrent use.
type Store struct {
	db           *bbolt.DB
	observe      func(time.Duration)
	observeGroup func(int)
	maxGroup     int
	gc           *committer
	readOnly     bool
	records      recordCache
	tokens       tokenCache
	// dueKeysRead counts the wake index keys Due and Sweep have read, for
	// tests that check they stop at their time.
	dueKeysRead atomic.Uint64
	// sweepDecodes counts the problem records Sweep had to decode (a wake
	// index value missing or unreadable).
	sweepDecodes atomic.Uint64
	// redecided counts updates whose record changed between the read apply
	// ran on and the write transaction (see UpdateProblem).
	redecided atomic.Uint64
}

// writable refuses writes to a read-only store before anything runs, and
// writes whose context is done.
func (s *Store) writable(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.readOnly {
		return fmt.Errorf("bolt: write transaction: %w", bolterrors.ErrDatabaseReadOnly)
	}
	return nil
}

var _ workflow.Store = (*Store)(nil)

// Open opens (creating it unless read-only) the database file at path and makes
// sure every bucket exists, upgrading a file of an older schema version (see
// the package documentation) unless read-only.
func Open(path string, opts Options) (*Store, error) {
	bo := *bbolt.DefaultOptions
	bo.Timeout = opts.Timeout
	if bo.Timeout == 0 {
		bo.Timeout = DefaultTimeout
	}
	bo.ReadOnly = opts.ReadOnly
	bo.NoSync = false // never: a command is durable when it returns
	// Read the whole file in when mapping it (where the platform can), so
	// that the first sweep and list after a restart do not fault pages in
	// one by one.
	bo.MmapFlags = mmapFlags
	db, err := bbolt.Open(path, 0o600, &bo)
	if err != nil {
		return nil, fmt.Errorf("bolt: open %s: %w", path, err)
	}
	s := &Store{db: db, observe: opts.ObserveCommit, observeGroup: opts.ObserveGroup, maxGroup: opts.MaxGroup, gc: newCommitter(), readOnly: opts.ReadOnly}
	if s.maxGroup <= 0 {
		s.maxGroup = DefaultMaxGroup
	}
	if opts.ReadOnly {
		err = db.View(checkBuckets)
	} else {
		err = db.Update(migrate)
	}
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("bolt: open %s: %w", path, err)
	}
	go s.commitLoop()
	return s, nil
}

// migrate creates the buckets that do not exist yet, records the schema
// version of a new file and upgrades a file of an older version.
func migrate(tx *bbolt.Tx) error {
	for _, name := range allBuckets {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return fmt.Errorf("create bucket %s: %w", name, err)
		}
	}
	meta := tx.Bucket(bucketMeta)
	version := uint64(schemaVersion) // a new file
	if v := meta.Get(keySchema); v != nil {
		if len(v) != 8 {
			return fmt.Errorf("not a rectify database: bad schema version")
		}
		version = binary.BigEndian.Uint64(v)
	}
	if version < upgradableVersion || version > schemaVersion {
		return fmt.Errorf("database schema version %d, this rectify reads versions %d to %d", version, upgradableVersion, schemaVersion)
	}
	// The wake index values (index_wake_facts) came after the index
	// (index_v2): one rebuild makes both.
	if meta.Get(keyIndexV2) == nil || meta.Get(keyIndexWake) == nil {
		if err := backfill(tx, "index_v2", [][]byte{bucketByWake, bucketByTag}, supervisionEntries); err != nil {
			return err
		}
		for _, flag := range [][]byte{keyIndexV2, keyIndexWake} {
			if err := meta.Put(flag, []byte{}); err != nil {
				return fmt.Errorf("write %s flag: %w", flag, err)
			}
		}
	}
	if meta.Get(keyIndexEvidence) == nil {
		if err := backfill(tx, "index_evidence", [][]byte{bucketByEvidence}, evidenceEntries); err != nil {
			return err
		}
		if err := meta.Put(keyIndexEvidence, []byte{}); err != nil {
			return fmt.Errorf("write index_evidence flag: %w", err)
		}
	}
	// Only an upgrade seals: in a file of the current version a missing head
	// with history is damage, which an audit must see rather than have
	// covered by a fresh seal.
	if version < chainVersion && meta.Get(keyChainHead) == nil {
		if err := sealHistory(tx); err != nil {
			return err
		}
	}
	if version != schemaVersion || meta.Get(keySchema) == nil {
		if err := meta.Put(keySchema, u64(schemaVersion)); err != nil {
			return fmt.Errorf("write schema version: %w", err)
		}
	}
	return nil
}

// backfill rebuilds the index buckets named from every problem, putting the
// keys keys returns: problems written before those indexes existed lack their
// keys. It empties the buckets first, so that keys derived by an older rule
// (Problem.Tags, Supervision.WakeAt) do not linger; a change of those rules
// calls for a new flag. An interrupted rebuild commits nothing and runs again
// on next open.
func backfill(tx *bbolt.Tx, flag string, buckets [][]byte, keys func(p *workflow.Problem, n uint64) map[indexEntry]struct{}) error {
	for _, name := range buckets {
		if err := tx.DeleteBucket(name); err != nil {
			return fmt.Errorf("backfill %s: empty %s: %w", flag, name, err)
		}
		if _, err := tx.CreateBucket(name); err != nil {
			return fmt.Errorf("backfill %s: create %s: %w", flag, name, err)
		}
	}
	return tx.Bucket(bucketProblems).ForEach(func(k, v []byte) error {
		n := binary.BigEndian.Uint64(k)
		var p workflow.Problem
		if err := unmarshalStored(v, &p); err != nil {
			return fmt.Errorf("backfill %s: decode problem %d: %w", flag, n, err)
		}
		for e := range keys(&p, n) {
			if err := bucket(tx, []byte(e.bucket)).Put([]byte(e.key), []byte(e.value)); err != nil {
				return fmt.Errorf("backfill %s: put %s key of problem %d: %w", flag, e.bucket, n, err)
			}
		}
		return nil
	})
}

// sealHistory seals the history of a file from before the hash chain: every
// entry in sequence order, on the hash of the one before, rewriting its
// history value and its outbox event (where it has one), then records the
// head. An entry that does not decode, or whose key is not its Seq, fails the
// upgrade: it cannot be sealed faithfully.
func sealHistory(tx *bbolt.Tx) error {
	hist := tx.Bucket(bucketHistory)
	hist.FillPercent = appendFillPercent
	outbox := tx.Bucket(bucketOutbox)
	outbox.FillPercent = appendFillPercent
	prev := workflow.GenesisHash
	var head workflow.ChainHead
	// A cursor must not walk a bucket being written: each step seeks with a
	// fresh one, so that the history is never all in memory at once.
	for k, v := hist.Cursor().First(); k != nil; k, v = hist.Cursor().Seek(u64(head.Seq + 1)) {
		if len(k) != 8 {
			return fmt.Errorf("seal history: bad history key %x", k)
		}
		seq := binary.BigEndian.Uint64(k)
		var e workflow.Entry
		if err := json.Unmarshal(v, &e); err != nil {
			return fmt.Errorf("seal history: decode entry %d: %w", seq, err)
		}
		if e.Seq != seq || seq <= head.Seq {
			return fmt.Errorf("seal history: entry %d is stored under key %d", e.Seq, seq)
		}
		if err := workflow.SealEntry(&e, prev); err != nil {
			return fmt.Errorf("seal history: %w", err)
		}
		if err := putEntry(hist, outbox, e, outbox.Get(k) != nil); err != nil {
			return fmt.Errorf("seal history: %w", err)
		}
		prev = e.Hash
		head = workflow.ChainHead{Seq: e.Seq, Hash: e.Hash, At: e.At}
		if seq == math.MaxUint64 {
			break
		}
	}
	if head.Seq == 0 {
		return nil
	}
	return putHead(tx.Bucket(bucketMeta), head)
}

// checkBuckets makes sure a file opened read-only holds a rectify database of
// the current schema version.
func checkBuckets(tx *bbolt.Tx) error {
	meta := tx.Bucket(bucketMeta)
	if meta == nil {
		return fmt.Errorf("not a rectify database: bucket %s is missing", bucketMeta)
	}
	if err := checkSchema(meta); err != nil {
		return err
	}
	for _, name := range allBuckets {
		if tx.Bucket(name) == nil {
			return fmt.Errorf("not a rectify database: bucket %s is missing", name)
		}
	}
	return nil
}

func checkSchema(meta *bbolt.Bucket) error {
	v := meta.Get(keySchema)
	if len(v) != 8 {
		return fmt.Errorf("not a rectify database: bad schema version")
	}
	switch n := binary.BigEndian.Uint64(v); {
	case n == schemaVersion:
		return nil
	case n >= upgradableVersion && n < schemaVersion:
		return fmt.Errorf("database schema version %d must be upgraded to %d: open it read-write once (e.g. rectify serve)", n, schemaVersion)
	default:
		return fmt.Errorf("database schema version %d, this rectify reads version %d", n, schemaVersion)
	}
}

// Close lets the queued write commands finish, then releases the database
// file and its lock. Writes after Close fail.
func (s *Store) Close() error {
	s.gc.stop()
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("bolt: close: %w", err)
	}
	return nil
}

// DB returns the underlying bbolt database, for tools such as backups
// (Tx.WriteTo) and offline verification. Writing through it bypasses the
// store's indexes.
func (s *Store) DB() *bbolt.DB { return s.db }

// Stats returns bbolt's statistics of the database, for metrics.
func (s *Store) Stats() bbolt.Stats { return s.db.Stats() }

// update runs fn as one write command (see write): in the write transaction
// of its commit group, which it spoils if it fails. An error fn returns comes
// back as is (a domain error keeps its identity); a failure to begin or
// commit the transaction is wrapped.
func (s *Store) update(ctx context.Context, fn func(tx *bbolt.Tx) error) error {
	return s.write(ctx, func(tx *bbolt.Tx, _ *txState) (bool, error) {
		return true, fn(tx)
	})
}

// view runs fn in one read transaction; errors from bbolt itself are wrapped.
func (s *Store) view(fn func(tx *bbolt.Tx) error) error {
	var fnErr error
	err := s.db.View(func(tx *bbolt.Tx) error {
		fnErr = fn(tx)
		return fnErr
	})
	if err != nil && fnErr == nil {
		return fmt.Errorf("bolt: read transaction: %w", err)
	}
	return err
}
