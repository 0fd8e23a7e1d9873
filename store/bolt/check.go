package bolt

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	bbolt "go.etcd.io/bbolt"

	"github.com/jdz-eco/rectify/store/bolt/internal/pack"
	"github.com/jdz-eco/rectify/workflow"
)

// tailEntries is how many of the newest history entries Open verifies.
const tailEntries = 100

// checkOpened checks a file bbolt has opened, before anything is written
// to it: bbolt's consistency check (unless opts.QuickCheck) and the tail of
// the hash chain (unless opts.SkipChainCheck); then it upgrades the file (read-write) or checks its
// buckets and schema (read-only). A file that fails is refused with a
// *DamagedError.
func (s *Store) checkOpened(path string, opts Options) error {
	damaged := func(err error) error {
		var d *DamagedError
		if errors.As(err, &d) {
			return d
		}
		return &DamagedError{Path: path, Reason: err.Error()}
	}
	if !opts.QuickCheck {
		if err := s.guard("the consistency check", s.checkTree); err != nil {
			return damaged(err)
		}
	}
	if !opts.SkipChainCheck {
		if err := s.guard("the hash chain check", func() error { return s.db.View(checkTail) }); err != nil {
			return damaged(err)
		}
	}
	var err error
	if opts.ReadOnly {
		err = s.guard("opening the file", func() error { return s.db.View(checkBuckets) })
	} else {
		err = s.guard("opening the file", func() error {
			return s.db.Update(func(tx *bbolt.Tx) error {
				if err := upgrade(tx); err != nil {
					return err
				}
				return s.openRollups(tx, opts.Policy)
			})
		})
	}
	if s.health.damage.Load() != nil {
		return damaged(err)
	}
	if err != nil {
		return fmt.Errorf("bolt: open %s: %w", path, err)
	}
	return nil
}

// checkTree runs bbolt's consistency check (Tx.Check) and returns what it
// found, the first few problems.
func (s *Store) checkTree() error {
	var found []string
	err := s.db.View(func(tx *bbolt.Tx) error {
		n := 0
		for err := range tx.Check() {
			if n++; n <= 3 {
				found = append(found, err.Error())
			}
		}
		if n > 3 {
			found = append(found, fmt.Sprintf("%d more", n-3))
		}
		return nil
	})
	if err != nil {
		return err
	}
	if len(found) > 0 {
		return fmt.Errorf("bbolt's consistency check: %s", strings.Join(found, "; "))
	}
	return nil
}

// checkTail verifies the newest tailEntries history entries: each decodes,
// is stored under its sequence number and matches its hash, each links to
// the one before, the newest is the recorded chain head, and the problem of
// each has a record at least at its version. A file from before the hash
// chain (schema version 1 or 2) is sealed when it is upgraded, and a file
// of a newer version is refused for it: their tails are not checked.
func checkTail(tx *bbolt.Tx) error {
	meta, hist := tx.Bucket(bucketMeta), tx.Bucket(bucketHistory)
	if meta == nil || hist == nil {
		return nil // not a rectify database: checkBuckets or upgrade says so
	}
	if v := meta.Get(keySchema); len(v) == 8 {
		if n := binary.BigEndian.Uint64(v); n < chainVersion || n > schemaVersion {
			return nil // sealed by the upgrade; or a newer layout, which Open refuses
		}
	}
	head, err := getHead(meta)
	if err != nil {
		return err
	}
	c := hist.Cursor()
	k, v := c.Last()
	if k == nil {
		if head.Seq != 0 {
			return fmt.Errorf("the recorded chain head %s has no history", head)
		}
		return nil
	}
	var newer *workflow.Entry
	for range tailEntries {
		if len(k) != 8 {
			return fmt.Errorf("history: bad key %x", k)
		}
		seq := binary.BigEndian.Uint64(k)
		var e workflow.Entry
		if err := pack.Unmarshal(v, &e); err != nil {
			return fmt.Errorf("history entry %d: %w", seq, err)
		}
		if err := checkTailEntry(tx, seq, &e, newer, head); err != nil {
			return fmt.Errorf("history entry %d: %w", seq, err)
		}
		newer = &e
		if k, v = c.Prev(); k == nil {
			if e.Seq != 1 || e.PrevHash != workflow.GenesisHash {
				return fmt.Errorf("history entry %d: the oldest entry is not the first of the chain", seq)
			}
			break
		}
	}
	return nil
}

// checkTailEntry checks entry e, stored under seq, against the entry after
// it (newer, nil for the newest) and the recorded head.
func checkTailEntry(tx *bbolt.Tx, seq uint64, e, newer *workflow.Entry, head workflow.ChainHead) error {
	if e.Seq != seq {
		return fmt.Errorf("stored under another sequence number (%d)", e.Seq)
	}
	h, err := workflow.EntryHash(*e)
	if err != nil {
		return err
	}
	switch {
	case h != e.Hash:
		return errors.New("its content does not match its hash")
	case newer == nil && (head.Seq != e.Seq || head.Hash != e.Hash):
		return fmt.Errorf("the newest entry is not the recorded chain head %s", head)
	case newer != nil && (newer.Seq != e.Seq+1 || newer.PrevHash != e.Hash):
		return fmt.Errorf("entry %d does not link to it", newer.Seq)
	}
	n, ok := workflow.ParseProblemID(e.ProblemID)
	if !ok {
		return nil // an entry of no problem
	}
	v := tx.Bucket(bucketProblems).Get(u64(n))
	if v == nil {
		return fmt.Errorf("its problem %s has no record", e.ProblemID)
	}
	var p workflow.Problem
	if err := pack.Unmarshal(v, &p); err != nil {
		return fmt.Errorf("the record of its problem %s: %w", e.ProblemID, err)
	}
	if p.Version < e.Version {
		return fmt.Errorf("its problem %s is at version %d, before the entry's %d", e.ProblemID, p.Version, e.Version)
	}
	return nil
}
