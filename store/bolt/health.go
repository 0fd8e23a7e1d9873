package bolt

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/jdz-eco/rectify/store/bolt/internal/pack"
)

// Health of a store while it serves.
//
// Open refuses a file that is not sound, but damage that no check found
// (or that came later) only shows when something reads it: bbolt then
// panics or, past the end of the file, faults. Every read transaction runs
// guarded (guard): a panic, or a memory fault (debug.SetPanicOnFault), becomes
// an error and marks the store damaged, as does a stored value that does
// not decode. Damage stays until the store is closed: a damaged file is
// repaired by restoring a backup, not by retrying.
//
// A write transaction that fails to commit (a full disk, an I/O error)
// fails its commands cleanly; the store reports the failure until a later
// commit succeeds (WriteFailure), probing with a write of its own
// so that it recovers without waiting for a command.

// health is what a store knows of its own state.
type health struct {
	damage atomic.Pointer[string] // why the file is damaged, or nil

	mu        sync.Mutex
	writeErr  error     // the last failed commit, nil once one succeeded
	writeAt   time.Time // when writes started failing
	lastProbe time.Time
	// probeEvery spaces the probes of WriteFailure: probeInterval, or
	// what a test sets.
	probeEvery time.Duration
	// failCommit, a test hook set before the store is used, fails a
	// commit as a full disk would, when it returns an error.
	failCommit func() error
}

// markDamaged records why the file is damaged (the first reason found).
func (s *Store) markDamaged(reason string) {
	s.health.damage.CompareAndSwap(nil, &reason)
}

// Damage returns why the store found its file damaged while serving, or
// nil. Once set it stays until the store is closed.
func (s *Store) Damage() error {
	if r := s.health.damage.Load(); r != nil {
		return fmt.Errorf("the database file %s is damaged: %s; stop the server, restore the file from a backup and check it with rectify audit verify", s.db.Path(), *r)
	}
	return nil
}

// probeInterval spaces the writes WriteFailure makes to find out whether
// writes succeed again.
const probeInterval = time.Second

// keyWriteProbe is the meta key WriteFailure's probe writes, then deletes.
var keyWriteProbe = []byte("write_probe")

// probeBytes is the size of the probe's value. A write of a few bytes may
// find room in pages the file already has while commands that need the
// file to grow fail; a probe of 1 MiB needs as much room, which its
// deletion then leaves free for the commands that follow.
const probeBytes = 1 << 20

// WriteFailure returns the error of the last write transaction that failed
// to commit, if none has committed since, or nil. While writes fail, it
// first tries a write of its own (at most once a second): 1 MiB, deleted
// at once. Its success clears the failure.
func (s *Store) WriteFailure(ctx context.Context) error {
	h := &s.health
	h.mu.Lock()
	failing, probe := h.writeErr != nil, h.writeErr != nil && time.Since(h.lastProbe) >= h.probeEvery
	if probe {
		h.lastProbe = time.Now()
	}
	h.mu.Unlock()
	if !failing {
		return nil
	}
	if probe && !s.readOnly {
		err := s.update(ctx, func(tx *bbolt.Tx) error {
			return tx.Bucket(bucketMeta).Put(keyWriteProbe, make([]byte, probeBytes))
		})
		if err == nil {
			_ = s.update(ctx, func(tx *bbolt.Tx) error { return tx.Bucket(bucketMeta).Delete(keyWriteProbe) })
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.writeErr == nil {
		return nil
	}
	return fmt.Errorf("writes to %s have failed since %s: %v", s.db.Path(), h.writeAt.UTC().Format(time.RFC3339), h.writeErr)
}

// committed records the outcome of a commit: err nil clears a write
// failure.
func (s *Store) committed(err error) {
	h := &s.health
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case err == nil:
		h.writeErr = nil
	case h.writeErr == nil:
		h.writeErr, h.writeAt = err, time.Now()
	default:
		h.writeErr = err
	}
}

// commit commits tx, or fails it as the test hook says.
func (s *Store) commit(tx *bbolt.Tx) error {
	if f := s.health.failCommit; f != nil {
		if err := f(); err != nil {
			_ = tx.Rollback()
			return err
		}
	}
	return tx.Commit()
}

// noteDamage marks the store damaged if err says a stored value does not
// decode.
func (s *Store) noteDamage(err error) {
	var sv *pack.ValueError
	if errors.As(err, &sv) {
		s.markDamaged(err.Error())
	}
}

// guard runs fn, which reads the mapped file through bbolt, turning a
// panic or a memory fault in it into an error that marks the store
// damaged.
func (s *Store) guard(what string, fn func() error) (err error) {
	old := debug.SetPanicOnFault(true)
	defer func() {
		debug.SetPanicOnFault(old)
		if r := recover(); r != nil {
			reason := fmt.Sprintf("%s panicked: %v", what, r)
			s.markDamaged(reason)
			err = fmt.Errorf("bolt: %s\n%s", reason, debug.Stack())
		}
	}()
	err = fn()
	s.noteDamage(err)
	return err
}
