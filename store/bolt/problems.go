package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/jdz-eco/rectify/store/bolt/internal/pack"
	"github.com/jdz-eco/rectify/store/internal/index"
	"github.com/jdz-eco/rectify/workflow"
)

func notFound(id string) error {
	return workflow.Refuse(workflow.ReasonProblemNotFound, "problem %s not found", id)
}

// CreateProblem allocates the next problem number, calls build with it and
// writes the problem at version 1 with its history entries and indexes, all in
// one write transaction (shared with concurrent commands: see group.go). A
// dedupe key already used returns that problem with created false and writes
// nothing; an error from build is returned as is and writes nothing.
func (s *Store) CreateProblem(ctx context.Context, dedupeKey string, build func(n uint64) (*workflow.Problem, []workflow.Entry, error)) (*workflow.Problem, bool, error) {
	if err := s.writable(ctx); err != nil {
		return nil, false, err
	}
	var (
		out     *workflow.Problem
		created bool
	)
	err := s.write(ctx, func(tx *bbolt.Tx, st *txState) (bool, error) {
		out, created = nil, false
		// Decide first: nothing is written until build has succeeded.
		if err := claimed(ctx, tx); err != nil {
			return false, err
		}
		if dedupeKey != "" {
			if v := tx.Bucket(bucketDedupe).Get([]byte(dedupeKey)); v != nil {
				p, err := s.getProblem(tx, binary.BigEndian.Uint64(v))
				if err != nil {
					return false, err
				}
				if p == nil {
					return false, fmt.Errorf("bolt: dedupe key %q names a missing problem", dedupeKey)
				}
				out = p
				return false, nil
			}
		}
		meta := tx.Bucket(bucketMeta)
		var n uint64 = 1
		if v := meta.Get(keyProblemCounter); v != nil {
			n = binary.BigEndian.Uint64(v) + 1
		}
		built, entries, err := build(n)
		if err != nil {
			return false, err
		}
		if built == nil {
			return false, fmt.Errorf("bolt: build returned no problem for number %d", n)
		}
		if built.ID != workflow.ProblemID(n) {
			return false, fmt.Errorf("bolt: build returned problem %q for number %d", built.ID, n)
		}
		p := built.Clone()
		p.Version = 1
		value, err := encodeProblem(n, p)
		if err != nil {
			return false, err
		}
		encoded, err := encodeEntries(entries, n, p.Version)
		if err != nil {
			return false, err
		}
		// Write.
		if err := meta.Put(keyProblemCounter, u64(n)); err != nil {
			return true, fmt.Errorf("bolt: write problem counter: %w", err)
		}
		if err := bucket(tx, bucketProblems).Put(u64(n), value); err != nil {
			return true, fmt.Errorf("bolt: write problem %d: %w", n, err)
		}
		if dedupeKey != "" {
			if err := tx.Bucket(bucketDedupe).Put([]byte(dedupeKey), u64(n)); err != nil {
				return true, fmt.Errorf("bolt: write dedupe key of problem %d: %w", n, err)
			}
		}
		if err := updateIndexes(tx, st, n, nil, p); err != nil {
			return true, err
		}
		if err := s.rollupWrite(tx, st, n, nil, p, entries); err != nil {
			return true, err
		}
		if err := putPhotos(tx, n, newPhotoDiff(nil, p)); err != nil {
			return true, err
		}
		if err := appendEncoded(tx, st, n, encoded); err != nil {
			return true, err
		}
		if err := recordEffect(ctx, tx, p.ID, p.Version, true); err != nil {
			return true, err
		}
		out, created = p, true
		return true, nil
	})
	if err != nil {
		return nil, false, err
	}
	return out, created, nil
}

// UpdateProblem calls apply with a private copy of problem id. If apply
// succeeds, the record is written at its version plus one together with the
// returned entries and the index keys that changed; if it fails, nothing is
// written and its error is returned as is.
//
// apply runs first on the record as a read transaction finds it, outside the
// write transaction, and everything to write is encoded there, in the
// caller's goroutine, in parallel with other commands. The write transaction
// (shared with concurrent commands: see group.go) then only checks that the
// record is still byte for byte the one apply saw and writes; if another
// command changed it meanwhile, apply runs again on the current record
// inside the transaction. Either way the change is applied to the record as
// it is when committed, as if apply had run in the transaction. apply may
// therefore run twice, and must have no effect beyond p and its result.
func (s *Store) UpdateProblem(ctx context.Context, id string, apply func(p *workflow.Problem) ([]workflow.Entry, error)) (*workflow.Problem, error) {
	if err := s.writable(ctx); err != nil {
		return nil, err
	}
	n, ok := workflow.ParseProblemID(id)
	if !ok {
		return nil, notFound(id)
	}
	var (
		raw   []byte
		facts workflow.RollupFacts
	)
	err := s.view(func(tx *bbolt.Tx) error {
		raw = bytes.Clone(tx.Bucket(bucketProblems).Get(u64(n)))
		var err error
		facts, err = getFacts(tx, n)
		return err
	})
	if err != nil {
		return nil, err
	}
	// A refusal on the record as read stands: that record was the current
	// one after this call began.
	pre, err := s.prepareUpdate(raw, facts, n, id, apply)
	if err != nil {
		return nil, err
	}
	var out *workflow.Problem
	err = s.write(ctx, func(tx *bbolt.Tx, st *txState) (bool, error) {
		out = nil
		if err := claimed(ctx, tx); err != nil {
			return false, err
		}
		if cur := tx.Bucket(bucketProblems).Get(u64(n)); !bytes.Equal(cur, pre.raw) {
			// Changed since: decide again on the current record (its
			// facts change only with it).
			s.redecided.Add(1)
			facts, err := getFacts(tx, n)
			if err != nil {
				return false, err
			}
			if pre, err = s.prepareUpdate(cur, facts, n, id, apply); err != nil {
				return false, err
			}
		}
		// Write.
		if err := bucket(tx, bucketProblems).Put(u64(n), pre.value); err != nil {
			return true, fmt.Errorf("bolt: write problem %d: %w", n, err)
		}
		if err := applyIndexDiff(tx, st, n, pre.dels, pre.puts); err != nil {
			return true, err
		}
		if err := st.keepRollup(tx, n, pre.facts, pre.roll); err != nil {
			return true, err
		}
		if err := putPhotos(tx, n, pre.photos); err != nil {
			return true, err
		}
		if err := appendEncoded(tx, st, n, pre.entries); err != nil {
			return true, err
		}
		if err := recordEffect(ctx, tx, pre.p.ID, pre.p.Version, false); err != nil {
			return true, err
		}
		out = pre.p
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// preparedUpdate is an update decided and encoded, ready to be written if
// the record is still raw.
type preparedUpdate struct {
	raw        []byte // the record apply ran on (a copy)
	p          *workflow.Problem
	value      []byte // p encoded
	dels, puts []index.Term
	photos     photoDiff
	entries    []encodedEntry
	facts      workflow.RollupFacts // the record's, before
	roll       workflow.RollupChange
}

// prepareUpdate runs apply on a copy of raw, the stored record of problem
// number n (nil when there is none) whose rollup facts are facts, and
// encodes the result.
func (s *Store) prepareUpdate(raw []byte, facts workflow.RollupFacts, n uint64, id string, apply func(p *workflow.Problem) ([]workflow.Entry, error)) (*preparedUpdate, error) {
	if raw == nil {
		return nil, notFound(id)
	}
	old, err := s.records.decode(n, raw)
	if err != nil {
		return nil, err
	}
	p := old.Clone()
	entries, err := apply(p)
	if err != nil {
		return nil, err
	}
	if p.ID != old.ID {
		return nil, fmt.Errorf("bolt: apply changed the id of problem %s to %q", old.ID, p.ID)
	}
	p.Version = old.Version + 1
	value, err := encodeProblem(n, p)
	if err != nil {
		return nil, err
	}
	encoded, err := encodeEntries(entries, n, p.Version)
	if err != nil {
		return nil, err
	}
	dels, puts := index.Diff(old, p)
	roll, err := workflow.RollupWrite(old, facts, p, entries, s.pol)
	if err != nil {
		return nil, fmt.Errorf("bolt: rollups of problem %d: %w", n, err)
	}
	return &preparedUpdate{raw: bytes.Clone(raw), p: p, value: value, dels: dels, puts: puts, photos: newPhotoDiff(old, p), entries: encoded, facts: facts, roll: roll}, nil
}

// Problem returns problem id; an id rectify did not issue is not found.
func (s *Store) Problem(ctx context.Context, id string) (*workflow.Problem, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	n, ok := workflow.ParseProblemID(id)
	if !ok {
		return nil, notFound(id)
	}
	var p *workflow.Problem
	err := s.view(func(tx *bbolt.Tx) error {
		var err error
		p, err = s.getProblem(tx, n)
		return err
	})
	if err != nil {
		return nil, err
	}
	if p == nil {
		return nil, notFound(id)
	}
	return p, nil
}

// Problems returns the problems matching f in creation order, at most f.Limit
// (workflow.DefaultLimit when not positive), after the problem f.Cursor, and
// the cursor of the next page. An evidence file is looked up in its index;
// any other combination of indexed filters (index.Filter) is an
// intersection of their postings, chunk by chunk (postings.go), so that
// only problems passing them all are read; none walks every problem.
func (s *Store) Problems(ctx context.Context, f workflow.ProblemFilter) ([]*workflow.Problem, string, error) {
	if err := ctx.Err(); err != nil {
		return nil, "", err
	}
	limit, after, err := f.Page()
	if err != nil {
		return nil, "", err
	}
	items := []*workflow.Problem{}
	if after == math.MaxUint64 {
		return items, "", nil
	}
	err = s.view(func(tx *bbolt.Tx) error {
		terms := index.Filter(&f)
		// A page larger than the default is a walk (an export, statistics
		// counted from the records): its records are not cached, so that
		// it neither pays for copies nor evicts the records being worked
		// on.
		get := s.getProblem
		if limit > workflow.DefaultLimit {
			get = getProblem
		}
		// Collect one more than the page to learn whether another follows.
		visit := func(n uint64) (bool, error) {
			p, err := get(tx, n)
			if err != nil {
				return true, err
			}
			if p == nil {
				return true, fmt.Errorf("bolt: an index names missing problem %d", n)
			}
			if f.Match(p) {
				items = append(items, p)
			}
			return len(items) > limit, nil
		}
		switch {
		case len(terms) > 0 && terms[0].Index == index.Evidence:
			return scanIndex(tx.Bucket(indexBucket(terms[0].Index)), indexPrefix(terms[0].Value), after, visit)
		case len(terms) > 0:
			return intersect(tx, terms, after, visit)
		}
		c := tx.Bucket(bucketProblems).Cursor()
		for k, _ := c.Seek(u64(after + 1)); k != nil; k, _ = c.Next() {
			if stop, err := visit(binary.BigEndian.Uint64(k)); err != nil || stop {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(items) > limit {
		items = items[:limit]
		next = items[limit-1].ID
	}
	return items, next, nil
}

// History returns problem id's entries in order.
func (s *Store) History(ctx context.Context, id string) ([]workflow.Entry, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	n, ok := workflow.ParseProblemID(id)
	if !ok {
		return nil, notFound(id)
	}
	var entries []workflow.Entry
	err := s.view(func(tx *bbolt.Tx) error {
		if tx.Bucket(bucketProblems).Get(u64(n)) == nil {
			return notFound(id)
		}
		var err error
		entries, err = readHistory(tx, n)
		return err
	})
	if err != nil {
		return nil, err
	}
	return entries, nil
}

// readHistory returns problem number n's entries in order, through the
// per-problem history index.
func readHistory(tx *bbolt.Tx, n uint64) ([]workflow.Entry, error) {
	entries := []workflow.Entry{}
	hist := tx.Bucket(bucketHistory)
	prefix := u64(n)
	c := tx.Bucket(bucketProblemHistory).Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		v := hist.Get(k[8:])
		if v == nil {
			return nil, fmt.Errorf("bolt: history entry %d of problem %d is missing", binary.BigEndian.Uint64(k[8:]), n)
		}
		var e workflow.Entry
		if err := pack.Unmarshal(v, &e); err != nil {
			return nil, fmt.Errorf("bolt: decode history entry %d: %w", binary.BigEndian.Uint64(k[8:]), err)
		}
		entries = append(entries, e)
	}
	return entries, nil
}

// DueBy returns the IDs of the problems whose deadline is at or before t,
// earliest deadline first, walking the deadline index. It is the deadline
// scanner's query; it does not look at states, so the caller filters.
func (s *Store) DueBy(ctx context.Context, t time.Time) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ids := []string{}
	limit := u64(index.DeadlineSeconds(t))
	err := s.view(func(tx *bbolt.Tx) error {
		c := tx.Bucket(bucketByDeadline).Cursor()
		for k, _ := c.First(); k != nil && bytes.Compare(k[:8], limit) <= 0; k, _ = c.Next() {
			ids = append(ids, workflow.ProblemID(binary.BigEndian.Uint64(k[8:])))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return ids, nil
}

// DefaultDueLimit is how many problems Due returns when its limit is not
// positive.
const DefaultDueLimit = 1000

// Due returns the IDs of the problems whose Supervision.WakeAt is due at t,
// earliest first (ties in creation order), at most limit (DefaultDueLimit
// when not positive). The wake index has whole seconds: a problem is due once
// t reaches its WakeAt rounded up to the second, so it never comes before its
// WakeAt and at most a second after. Due walks the index from its start and
// stops at the first key past t.
func (s *Store) Due(ctx context.Context, t time.Time, limit int) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if limit <= 0 {
		limit = DefaultDueLimit
	}
	ids := []string{}
	until, ok := index.DueUntil(t)
	if !ok {
		return ids, nil
	}
	var read uint64
	err := s.view(func(tx *bbolt.Tx) error {
		c := tx.Bucket(bucketByWake).Cursor()
		for k, _ := c.First(); k != nil && len(ids) < limit; k, _ = c.Next() {
			read++
			if len(k) != 16 {
				return fmt.Errorf("bolt: bad wake index key %x", k)
			}
			if binary.BigEndian.Uint64(k[:8]) > until {
				break
			}
			ids = append(ids, workflow.ProblemID(binary.BigEndian.Uint64(k[8:])))
		}
		return nil
	})
	s.dueKeysRead.Add(read)
	if err != nil {
		return nil, err
	}
	return ids, nil
}

// getProblem decodes problem number n, or returns nil when there is none. The
// result is a fresh value that outlives tx.
func getProblem(tx *bbolt.Tx, n uint64) (*workflow.Problem, error) {
	v := tx.Bucket(bucketProblems).Get(u64(n))
	if v == nil {
		return nil, nil
	}
	return decodeProblem(n, v)
}

// getProblem is getProblem through the store's record cache.
func (s *Store) getProblem(tx *bbolt.Tx, n uint64) (*workflow.Problem, error) {
	v := tx.Bucket(bucketProblems).Get(u64(n))
	if v == nil {
		return nil, nil
	}
	return s.records.decode(n, v)
}

// encodeProblem returns the stored form of p, problem number n: its JSON,
// packed.
func encodeProblem(n uint64, p *workflow.Problem) ([]byte, error) {
	js, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("bolt: encode problem %d: %w", n, err)
	}
	return pack.Value(js), nil
}

func decodeProblem(n uint64, v []byte) (*workflow.Problem, error) {
	var p workflow.Problem
	if err := pack.Unmarshal(v, &p); err != nil {
		return nil, fmt.Errorf("bolt: decode problem %d: %w", n, err)
	}
	return &p, nil
}

func putProblem(tx *bbolt.Tx, n uint64, p *workflow.Problem) error {
	v, err := encodeProblem(n, p)
	if err != nil {
		return err
	}
	if err := bucket(tx, bucketProblems).Put(u64(n), v); err != nil {
		return fmt.Errorf("bolt: write problem %d: %w", n, err)
	}
	return nil
}

// ProblemsWithEvidence returns the ids of the problems whose evidence
// includes file sha, in creation order, from the evidence index alone
// (workflow.EvidenceIndex).
func (s *Store) ProblemsWithEvidence(ctx context.Context, sha string) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ids := []string{}
	err := s.view(func(tx *bbolt.Tx) error {
		prefix := indexPrefix(sha)
		c := tx.Bucket(bucketByEvidence).Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			if len(k) != len(prefix)+8 {
				return fmt.Errorf("bolt: bad evidence index key %x", k)
			}
			ids = append(ids, workflow.ProblemID(binary.BigEndian.Uint64(k[len(prefix):])))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return ids, nil
}
