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
//	meta             "schema" → uint64 schema version; "problem_counter" → last problem number
//	problems         problem number → Problem
//	history          global seq → Entry (append-only)
//	problem_history  problem number ‖ seq → empty (a problem's entries in order)
//	idx_state        state ‖ 0x00 ‖ problem number → empty
//	idx_lead_unit    lead unit ‖ 0x00 ‖ problem number → empty
//	idx_county       county ‖ 0x00 ‖ problem number → empty
//	idx_unit         lead or cooperating unit ‖ 0x00 ‖ problem number → empty
//	idx_deadline     deadline (unix seconds) ‖ problem number → empty
//	idx_dedupe       dedupe key → problem number
//	units            unit ID → Unit
//	work_points      work point number → WorkPoint
//	users            user ID → User
//	tokens           token hash → Token
package bolt

import (
	"encoding/binary"
	"fmt"
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

	allBuckets = [][]byte{
		bucketMeta, bucketProblems, bucketHistory, bucketProblemHistory,
		bucketByState, bucketByLeadUnit, bucketByCounty, bucketByUnit, bucketByDeadline, bucketDedupe,
		bucketUnits, bucketWorkPoints, bucketUsers, bucketTokens,
	}
)

// Keys of the meta bucket.
var (
	keySchema         = []byte("schema")
	keyProblemCounter = []byte("problem_counter")
)

const (
	// schemaVersion is the layout this package reads and writes.
	schemaVersion = 1
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
}

var _ workflow.Store = (*Store)(nil)

// Open opens (creating it unless read-only) the database file at path and makes
// sure every bucket exists.
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
		err = db.Update(createBuckets)
	}
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("bolt: open %s: %w", path, err)
	}
	return s, nil
}

// createBuckets creates the buckets that do not exist yet and records the
// schema version of a new file.
func createBuckets(tx *bbolt.Tx) error {
	for _, name := range allBuckets {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return fmt.Errorf("create bucket %s: %w", name, err)
		}
	}
	meta := tx.Bucket(bucketMeta)
	if meta.Get(keySchema) == nil {
		if err := meta.Put(keySchema, u64(schemaVersion)); err != nil {
			return fmt.Errorf("write schema version: %w", err)
		}
	}
	return checkSchema(meta)
}

// checkBuckets makes sure a file opened read-only holds a rectify database.
func checkBuckets(tx *bbolt.Tx) error {
	for _, name := range allBuckets {
		if tx.Bucket(name) == nil {
			return fmt.Errorf("not a rectify database: bucket %s is missing", name)
		}
	}
	return checkSchema(tx.Bucket(bucketMeta))
}

func checkSchema(meta *bbolt.Bucket) error {
	v := meta.Get(keySchema)
	if len(v) != 8 {
		return fmt.Errorf("not a rectify database: bad schema version")
	}
	if n := binary.BigEndian.Uint64(v); n != schemaVersion {
		return fmt.Errorf("database schema version %d, this rectify reads version %d", n, schemaVersion)
	}
	return nil
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
