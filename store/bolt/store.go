// Package bolt implements workflow.Store on bbolt, rectify's embedded default
// backend.
//
// Every command is one bbolt write transaction holding everything it changes:
// the problem record, its history entries and every secondary index. Values are
// JSON-encoded domain structs; numeric keys are big-endian uint64 so that a
// cursor walks them in numeric order. The layout follows hashicorp/raft-boltdb:
// bucket names are package variables, all buckets are created on open, and
// values are copied out of a transaction (decoded) before it ends.
//
// Buckets:
//
//	meta             "schema" → uint64 schema version; "problem_counter" → last problem number;
//	                 "index_v2" → present once idx_wake and idx_tag were built from every problem
//	problems         problem number → Problem
//	history          global seq → Entry (append-only)
//	problem_history  problem number ‖ seq → empty (a problem's entries in order)
//	outbox           global seq → Event (append-only; one per history entry)
//	idx_state        state ‖ 0x00 ‖ problem number → empty
//	idx_lead_unit    lead unit ‖ 0x00 ‖ problem number → empty
//	idx_county       county ‖ 0x00 ‖ problem number → empty
//	idx_unit         lead or cooperating unit ‖ 0x00 ‖ problem number → empty
//	idx_deadline     deadline (unix seconds) ‖ problem number → empty
//	idx_wake         Supervision.WakeAt (unix seconds, rounded up) ‖ problem number → empty
//	idx_tag          alert tag (Problem.Tags) ‖ 0x00 ‖ problem number → empty
//	idx_dedupe       dedupe key → problem number
//	units            unit ID → Unit
//	work_points      work point number → WorkPoint
//	users            user ID → User
//	tokens           token hash → Token
//	cursors          outbox consumer name → uint64 seq it has processed
//	calendars        year (uint64, two's complement) → calendar file as stored
//
// Schema versions: 1 lacked outbox, idx_wake, idx_tag, cursors and calendars.
// Opening a version 1 file read-write upgrades it in the open transaction:
// the buckets are created, idx_wake and idx_tag are built from every problem
// (the index_v2 backfill, which runs whenever that flag is absent) and the
// version becomes 2. History written before the upgrade has no outbox events. A read-only open refuses a
// version 1 file, and rectify builds that read version 1 refuse version 2.
package bolt

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"time"

	bbolt "go.etcd.io/bbolt"

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

	allBuckets = [][]byte{
		bucketMeta, bucketProblems, bucketHistory, bucketProblemHistory, bucketOutbox,
		bucketByState, bucketByLeadUnit, bucketByCounty, bucketByUnit, bucketByDeadline,
		bucketByWake, bucketByTag, bucketDedupe,
		bucketUnits, bucketWorkPoints, bucketUsers, bucketTokens, bucketCursors, bucketCalendars,
	}
)

// Keys of the meta bucket.
var (
	keySchema         = []byte("schema")
	keyProblemCounter = []byte("problem_counter")
	keyIndexV2        = []byte("index_v2")
)

const (
	// schemaVersion is the layout this package reads and writes.
	schemaVersion = 2
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
	ObserveCommit func(time.Duration)
}

// Store is a workflow.Store on a bbolt file. It is safe for concurrent use.
type Store struct {
	db      *bbolt.DB
	observe func(time.Duration)
	// dueKeysRead counts the wake index keys Due has read, for tests that
	// check it stops at its time.
	dueKeysRead atomic.Uint64
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
	db, err := bbolt.Open(path, 0o600, &bo)
	if err != nil {
		return nil, fmt.Errorf("bolt: open %s: %w", path, err)
	}
	s := &Store{db: db, observe: opts.ObserveCommit}
	if opts.ReadOnly {
		err = db.View(checkBuckets)
	} else {
		err = db.Update(migrate)
	}
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("bolt: open %s: %w", path, err)
	}
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
	if meta.Get(keyIndexV2) == nil {
		if err := backfillIndexV2(tx); err != nil {
			return err
		}
		if err := meta.Put(keyIndexV2, []byte{}); err != nil {
			return fmt.Errorf("write index_v2 flag: %w", err)
		}
	}
	if version != schemaVersion || meta.Get(keySchema) == nil {
		if err := meta.Put(keySchema, u64(schemaVersion)); err != nil {
			return fmt.Errorf("write schema version: %w", err)
		}
	}
	return nil
}

// backfillIndexV2 rebuilds the wake and tag indexes from every problem:
// problems written before those indexes existed lack their keys. It empties
// both buckets first, so that keys derived by an older rule (Problem.Tags,
// Supervision.WakeAt) do not linger; a change of those rules calls for a new
// flag. An interrupted rebuild commits nothing and runs again on next open.
func backfillIndexV2(tx *bbolt.Tx) error {
	for _, name := range [][]byte{bucketByWake, bucketByTag} {
		if err := tx.DeleteBucket(name); err != nil {
			return fmt.Errorf("backfill index_v2: empty %s: %w", name, err)
		}
		if _, err := tx.CreateBucket(name); err != nil {
			return fmt.Errorf("backfill index_v2: create %s: %w", name, err)
		}
	}
	return tx.Bucket(bucketProblems).ForEach(func(k, v []byte) error {
		n := binary.BigEndian.Uint64(k)
		var p workflow.Problem
		if err := json.Unmarshal(v, &p); err != nil {
			return fmt.Errorf("backfill index_v2: decode problem %d: %w", n, err)
		}
		for e := range supervisionEntries(&p, n) {
			if err := tx.Bucket([]byte(e.bucket)).Put([]byte(e.key), []byte{}); err != nil {
				return fmt.Errorf("backfill index_v2: put %s key of problem %d: %w", e.bucket, n, err)
			}
		}
		return nil
	})
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

// Close releases the database file and its lock.
func (s *Store) Close() error {
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

// update runs fn in one write transaction. An error fn returns comes back as
// is (a domain error keeps its identity); a failure to begin or commit the
// transaction is wrapped.
func (s *Store) update(fn func(tx *bbolt.Tx) error) error {
	var (
		start time.Time
		fnErr error
	)
	err := s.db.Update(func(tx *bbolt.Tx) error {
		start = time.Now()
		fnErr = fn(tx)
		return fnErr
	})
	switch {
	case err == nil:
		if s.observe != nil {
			s.observe(time.Since(start))
		}
		return nil
	case fnErr != nil:
		return fnErr
	default:
		return fmt.Errorf("bolt: write transaction: %w", err)
	}
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
