package etcd

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strconv"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/jdz-eco/rectify/workflow"
)

// Supervision letters (workflow.Letters, docs/design.md#supervision-letters):
//
//	P meta/letter-counter     last letter id number (decimal)
//	P letters/<n>             workflow.Letter
//	P letter-keys/<key>       letter id number (decimal) created with that draft key
//	P letter-numbers/<year>   the last number issued that year (decimal)
//
// A letter is a record, not a chain entry (the entries of its problems go
// through UpdateProblem and the sealer like every command's), so it is
// written by a Txn of its own that compares the mod revisions of every key
// it read: the counters it took a number from, the letter it changed, the
// key it claimed. Two writers that took the same number cannot both
// commit; the loser reads again and takes the next. Writers of one process
// queue on letterMu first, so that they do not spend their attempts losing
// to each other.

const keyLetterCounter = "meta/letter-counter"

func letterKey(n uint64) string        { return "letters/" + pad(n) }
func letterDraftKey(key string) string { return "letter-keys/" + esc(key) }
func letterYearKey(year int) string    { return "letter-numbers/" + strconv.Itoa(year) }

func letterNotFound(id string) error {
	return workflow.Refuse(workflow.ReasonLetterNotFound, "letter %s not found", id)
}

// guardedRead is a key read for a Txn: its value and the compare that
// holds only while it is unchanged (or still absent).
type guardedRead struct {
	val string
	cmp clientv3.Cmp
}

func (s *Store) guardedGet(ctx context.Context, rel string) (*guardedRead, error) {
	kv, err := s.get(ctx, rel)
	if err != nil {
		return nil, err
	}
	if kv == nil {
		return &guardedRead{cmp: clientv3.Compare(clientv3.CreateRevision(s.k(rel)), "=", 0)}, nil
	}
	return &guardedRead{val: string(kv.Value), cmp: clientv3.Compare(clientv3.ModRevision(s.k(rel)), "=", kv.ModRevision)}, nil
}

// counterAfter is the decimal value of g plus one (1 when absent).
func counterAfter(g *guardedRead, what string) (uint64, error) {
	if g.val == "" {
		return 1, nil
	}
	n, err := strconv.ParseUint(g.val, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("etcd: bad %s %q", what, g.val)
	}
	return n + 1, nil
}

// yearNumber reads year's counter: the next number and its guard (none for
// year 0).
func (s *Store) yearNumber(ctx context.Context, year int) (int, *guardedRead, error) {
	if year == 0 {
		return 0, nil, nil
	}
	g, err := s.guardedGet(ctx, letterYearKey(year))
	if err != nil {
		return 0, nil, err
	}
	n, err := counterAfter(g, "letter number of "+strconv.Itoa(year))
	return int(n), g, err
}

// letterTxn commits ops if every guard holds; false when one moved.
func (s *Store) letterTxn(ctx context.Context, guards []*guardedRead, ops []clientv3.Op) (bool, error) {
	var cmps []clientv3.Cmp
	for _, g := range guards {
		if g != nil {
			cmps = append(cmps, g.cmp)
		}
	}
	ok, _, err := s.write(ctx, cmps, ops, nil)
	if err == nil && !ok {
		s.stats.Conflicts.Add(1)
	}
	return ok, err
}

// retryLetter runs try until it commits, with backoff between losses.
func (s *Store) retryLetter(ctx context.Context, try func() (done bool, err error)) error {
	s.letterMu.Lock()
	defer s.letterMu.Unlock()
	for attempt := 0; attempt < maxAttempts; attempt++ {
		if attempt >= 2 {
			if err := sleepCtx(ctx, rand.N(backoff(attempt-2))); err != nil {
				return err
			}
		}
		done, err := try()
		if err != nil || done {
			return err
		}
	}
	return ErrContention
}

// CreateLetter allocates the next letter id (and, for year, its next
// number), calls build and writes the letter with the counters in one Txn;
// a key already used returns that letter with created false.
func (s *Store) CreateLetter(ctx context.Context, key string, year int, build func(id string, number int) (*workflow.Letter, error)) (*workflow.Letter, bool, error) {
	var (
		out   *workflow.Letter
		isNew bool
	)
	err := s.retryLetter(ctx, func() (bool, error) {
		out, isNew = nil, false
		var keyG *guardedRead
		if key != "" {
			g, err := s.guardedGet(ctx, letterDraftKey(key))
			if err != nil {
				return false, err
			}
			if g.val != "" {
				n, err := strconv.ParseUint(g.val, 10, 64)
				if err != nil {
					return false, fmt.Errorf("etcd: letter key %q holds %q", key, g.val)
				}
				out, err = s.letter(ctx, n)
				if err == nil && out == nil {
					err = fmt.Errorf("etcd: letter key %q names a missing letter", key)
				}
				return true, err
			}
			keyG = g
		}
		idG, err := s.guardedGet(ctx, keyLetterCounter)
		if err != nil {
			return false, err
		}
		n, err := counterAfter(idG, "letter counter")
		if err != nil {
			return false, err
		}
		number, yearG, err := s.yearNumber(ctx, year)
		if err != nil {
			return false, err
		}
		l, err := build(workflow.LetterID(n), number)
		if err != nil {
			return false, err
		}
		if l == nil || l.ID != workflow.LetterID(n) || l.Key != key {
			return false, fmt.Errorf("etcd: build returned no letter %d with key %q", n, key)
		}
		l = l.Clone()
		v, err := json.Marshal(l)
		if err != nil {
			return false, fmt.Errorf("etcd: encode letter %d: %w", n, err)
		}
		ops := []clientv3.Op{
			clientv3.OpPut(s.k(letterKey(n)), string(v)),
			clientv3.OpPut(s.k(keyLetterCounter), strconv.FormatUint(n, 10)),
		}
		if key != "" {
			ops = append(ops, clientv3.OpPut(s.k(letterDraftKey(key)), strconv.FormatUint(n, 10)))
		}
		if year != 0 && l.Year == year && l.Number == number {
			ops = append(ops, clientv3.OpPut(s.k(letterYearKey(year)), strconv.Itoa(number)))
		}
		ok, err := s.letterTxn(ctx, []*guardedRead{keyG, idG, yearG}, ops)
		if ok {
			out, isNew = l, true
		}
		return ok, err
	})
	if err != nil {
		return nil, false, err
	}
	return out, isNew, nil
}

// UpdateLetter reads letter id (and, for year, its next number), calls
// apply with a copy and writes the letter, and the year's counter if it
// took the number, in one Txn guarded by what it read.
func (s *Store) UpdateLetter(ctx context.Context, id string, year int, apply func(l *workflow.Letter, number int) error) (*workflow.Letter, error) {
	n, ok := workflow.ParseLetterID(id)
	if !ok {
		return nil, letterNotFound(id)
	}
	var out *workflow.Letter
	err := s.retryLetter(ctx, func() (bool, error) {
		out = nil
		lg, err := s.guardedGet(ctx, letterKey(n))
		if err != nil {
			return false, err
		}
		if lg.val == "" {
			return false, letterNotFound(id)
		}
		var l workflow.Letter
		if err := json.Unmarshal([]byte(lg.val), &l); err != nil {
			return false, fmt.Errorf("etcd: decode letter %d: %w", n, err)
		}
		number, yearG, err := s.yearNumber(ctx, year)
		if err != nil {
			return false, err
		}
		c := l.Clone()
		if err := apply(c, number); err != nil {
			return false, err
		}
		c.ID, c.Key = l.ID, l.Key
		v, err := json.Marshal(c)
		if err != nil {
			return false, fmt.Errorf("etcd: encode letter %d: %w", n, err)
		}
		ops := []clientv3.Op{clientv3.OpPut(s.k(letterKey(n)), string(v))}
		if year != 0 && c.Year == year && c.Number == number {
			ops = append(ops, clientv3.OpPut(s.k(letterYearKey(year)), strconv.Itoa(number)))
		}
		ok, err := s.letterTxn(ctx, []*guardedRead{lg, yearG}, ops)
		if ok {
			out = c
		}
		return ok, err
	})
	return out, err
}

// letter reads letter n; nil when absent.
func (s *Store) letter(ctx context.Context, n uint64) (*workflow.Letter, error) {
	kv, err := s.get(ctx, letterKey(n))
	if err != nil || kv == nil {
		return nil, err
	}
	var l workflow.Letter
	if err := json.Unmarshal(kv.Value, &l); err != nil {
		return nil, fmt.Errorf("etcd: decode letter %d: %w", n, err)
	}
	return &l, nil
}

// Letter returns letter id.
func (s *Store) Letter(ctx context.Context, id string) (*workflow.Letter, error) {
	n, ok := workflow.ParseLetterID(id)
	if !ok {
		return nil, letterNotFound(id)
	}
	l, err := s.letter(ctx, n)
	if err == nil && l == nil {
		err = letterNotFound(id)
	}
	return l, err
}

// Letters returns every letter in creation order.
func (s *Store) Letters(ctx context.Context) ([]*workflow.Letter, error) {
	return s.letters(ctx, 0)
}

// Letters returns every letter at the snapshot's revision
// (workflow.LetterLedger: the audit checks them against their entries).
func (sn *Snapshot) Letters(ctx context.Context) ([]*workflow.Letter, error) {
	return sn.s.letters(ctx, sn.rev)
}

// letters reads every letter at revision rev (0: the latest).
func (s *Store) letters(ctx context.Context, rev int64) ([]*workflow.Letter, error) {
	out := []*workflow.Letter{}
	_, err := s.rangeKeys(ctx, s.k("letters/"), s.prefixEnd("letters/"), rev, 500, false, func(kv *kvPair) (bool, error) {
		var l workflow.Letter
		if err := json.Unmarshal(kv.Value, &l); err != nil {
			return false, fmt.Errorf("etcd: decode letter %s: %w", kv.Key, err)
		}
		out = append(out, &l)
		return false, nil
	})
	return out, err
}
