// Package bolt implements workflow.Store on bbolt, rectify's embedded default
// backend.
//
// Every command is applied in one bbolt write transaction holding everything
// it changes: the problem record, its history entries and every secondary
// index. Concurrent commands share a transaction and its fsync (group
// commit, see group.go); a command that fails fails alone. Records and
// history entries are stored packed (internal/pack), other values as JSON;
// numeric keys are big-endian uint64 so that a
// cursor walks them in numeric order. Bucket names are package variables,
// all buckets are created on open, and values are copied out of a
// transaction (decoded) before it ends. docs/design.md#storage-layouts sets
// this layout beside store/etcd's.
//
// Buckets:
//
//	meta             "schema" → uint64 schema version; "problem_counter" → last problem number;
//	                 "index_v2" → present once idx_wake and idx_tag were built from every problem;
//	                 "index_evidence" → present once idx_evidence was built from every problem;
//	                 "index_wake_facts" → present once idx_wake was built with its values;
//	                 "index_postings" → present once idx_postings was built from every problem;
//	                 "chain_head" → workflow.ChainHead (JSON) of the newest history entry
//	problems         problem number → Problem
//	history          global seq → Entry (append-only, hash-chained: see below)
//	problem_history  problem number ‖ seq → empty (a problem's entries in order)
//	outbox           global seq → empty (append-only; one per history entry: the event is
//	                 the history entry of the same key; before version 4, the Event in full)
//	idx_postings     index name ‖ 0x00 ‖ value ‖ 0x00 ‖ chunk → the chunk's problem numbers: the
//	                 filter indexes (state, lead unit, county, unit, alert tag, source, work
//	                 point) as bitmaps (postings.go)
//	idx_deadline     deadline (unix seconds) ‖ problem number → empty
//	idx_wake         Supervision.WakeAt (unix seconds, rounded up) ‖ problem number → what the
//	                 level computation needs (state, deadline, pause, level, stage clock:
//	                 index.WakeFacts); every index's terms are store/internal/index's
//	idx_evidence     evidence SHA-256 (Problem.EvidenceHashes) ‖ 0x00 ‖ problem number → empty
//	idx_dedupe       dedupe key → problem number
//	units            unit ID → Unit
//	work_points      work point number → WorkPoint
//	users            user ID → User
//	tokens           token hash → Token
//	cursors          outbox consumer name → uint64 seq it has processed
//	calendars        year (uint64, two's complement) → calendar file as stored
//	rounds, round_items, round_keys, round_refs, wp_history
//	                 dispatch rounds, their index and work points' histories, created on
//	                 first use (rounds.go); meta "round_counter" → last round number
//	rollup_*         the statistics' tallies and each problem's facts for them (rollup.go);
//	                 meta "rollup_policy" and "rollup_mark" with them
//	letters, letter_keys, letter_numbers
//	                 supervision letters, draft keys, each year's last number, created on
//	                 first use (letters.go); meta "letter_counter" → last letter id number
//
// Created by the first write that needs them (older files open unchanged):
// passwords and sessions (accounts.go), idem_keys, idem_expiry and
// idem_effects (idempotency.go), contacts, notices, notice_time and
// notice_pending (reminders.go).
//
// Every bucket and meta key is named in export_plan.go with what rectify
// migrate does with it (carried, rebuilt or left out, and why); a bucket
// added here must be added there, or the guard test fails.
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
// Schema versions and how an older file is upgraded: upgrade.go.
package bolt

import (
	"context"
	"errors"
	"fmt"
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
	bucketByDeadline     = []byte("idx_deadline")
	bucketDedupe         = []byte("idx_dedupe")
	bucketUnits          = []byte("units")
	bucketWorkPoints     = []byte("work_points")
	bucketUsers          = []byte("users")
	bucketTokens         = []byte("tokens")
	bucketOutbox         = []byte("outbox")
	bucketByWake         = []byte("idx_wake")
	bucketCursors        = []byte("cursors")
	bucketCalendars      = []byte("calendars")
	bucketByEvidence     = []byte("idx_evidence")

	allBuckets = [][]byte{
		bucketMeta, bucketProblems, bucketHistory, bucketProblemHistory, bucketOutbox,
		bucketPostings, bucketByDeadline, bucketByWake, bucketByEvidence, bucketDedupe,
		bucketUnits, bucketWorkPoints, bucketUsers, bucketTokens, bucketCursors, bucketCalendars,
		bucketRollupFacts, bucketRollupLive, bucketRollupDue, bucketRollupSeries,
	}
)

// Keys of the meta bucket.
var (
	keySchema         = []byte("schema")
	keyProblemCounter = []byte("problem_counter")
	keyIndexV2        = []byte("index_v2")
	keyIndexEvidence  = []byte("index_evidence")
	keyIndexWake      = []byte("index_wake_facts")
	keyIndexPostings  = []byte("index_postings")
	keyIndexPublic    = []byte("index_public")
	keyChainHead      = []byte("chain_head")
)

const (
	// appendFillPercent packs pages of append-only buckets, whose keys only
	// ever grow, instead of leaving them half empty after a split.
	appendFillPercent = 0.95
	// DefaultTimeout is how long Open waits for the file lock when
	// Options.Timeout is zero.
	DefaultTimeout = time.Second
)

// ErrInUse is Open's error when another process (a running server) holds
// the file's lock for longer than Options.Timeout.
var ErrInUse = bolterrors.ErrTimeout

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
	// Init lets Open write a new database into an existing empty (0-byte)
	// file, which it otherwise refuses with ErrEmptyFile. A missing file is
	// always created (unless ReadOnly).
	Init bool
	// QuickCheck limits the check of an existing file at Open to its meta
	// pages, its size, its freelist, its root page and the tail of the hash
	// chain. By default Open also reads every page of the tree and runs
	// bbolt's consistency check (Tx.Check): 0.9 s of CPU for a file of
	// 1,000,000 problems, 0.1 s without.
	QuickCheck bool
	// SkipChainCheck leaves out the check of the hash chain's tail at Open,
	// for a caller that checks the whole chain itself (an audit), so that
	// it can name what is wrong. The file's structure is still checked.
	SkipChainCheck bool
	// Policy is the supervision policy whose levels the statistics' tallies
	// count (rollup.go). A file whose tallies follow another has them
	// counted afresh when opened read-write (it reads every history once).
	// nil keeps the policy the file's tallies follow (workflow.DefaultPolicy
	// for a file without them yet), as a read-only open does; Tallies
	// answers only for that policy.
	Policy *workflow.Policy
}

// Store is a workflow.Store on a bbolt file. It is safe for concurrent use.
type Store struct {
	db           *bbolt.DB
	observe      func(time.Duration)
	observeGroup func(int)
	maxGroup     int
	gc           *committer
	readOnly     bool
	health       health
	records      recordCache
	tokens       tokenCache
	pol          workflow.Policy // what the tallies count levels under
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
	// Writing on pages found damaged would spread the damage.
	return s.Damage()
}

// Open opens (creating it unless read-only) the database file at path and makes
// sure every bucket exists, upgrading a file of an older schema version (see
// the package documentation) unless read-only. An existing file is checked
// first (filecheck.go, check.go): one that is not sound is refused with a
// *DamagedError and left as it was, an empty one with ErrEmptyFile unless
// opts.Init.
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
	bo.InitialMmapSize = initialMmapSize
	bo.OpenFile = openFile(opts, bo.Timeout)
	s := &Store{observe: opts.ObserveCommit, observeGroup: opts.ObserveGroup, maxGroup: opts.MaxGroup, gc: newCommitter(), readOnly: opts.ReadOnly}
	if s.maxGroup <= 0 {
		s.maxGroup = DefaultMaxGroup
	}
	s.health.probeEvery = probeInterval
	var db *bbolt.DB
	err := s.guard("opening the file", func() (err error) {
		db, err = bbolt.Open(path, 0o600, &bo)
		return err
	})
	var damaged *DamagedError
	switch {
	case errors.As(err, &damaged):
		return nil, damaged
	case err != nil && s.health.damage.Load() != nil:
		return nil, &DamagedError{Path: path, Reason: *s.health.damage.Load()}
	case err != nil:
		return nil, fmt.Errorf("bolt: open %s: %w", path, err)
	}
	s.db = db
	if err := s.checkOpened(path, opts); err != nil {
		_ = db.Close()
		return nil, err
	}
	go s.commitLoop()
	return s, nil
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

// view runs fn in one read transaction, guarded (health.go); errors from
// bbolt itself are wrapped.
func (s *Store) view(fn func(tx *bbolt.Tx) error) error {
	var fnErr error
	err := s.guard("a read transaction", func() error {
		err := s.db.View(func(tx *bbolt.Tx) error {
			fnErr = fn(tx)
			return fnErr
		})
		if err != nil && fnErr == nil {
			return fmt.Errorf("bolt: read transaction: %w", err)
		}
		return err
	})
	return err
}
