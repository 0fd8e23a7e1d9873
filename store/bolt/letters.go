package bolt

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strconv"

	bbolt "go.etcd.io/bbolt"

	"github.com/jdz-eco/rectify/workflow"
)

// Supervision letters (workflow.Letters, docs/design.md#supervision-letters).
// Their buckets are created on first use:
//
//	letters         letter id number → workflow.Letter (JSON)
//	letter_keys     draft key → letter id number (one letter per key)
//	letter_numbers  year (decimal) → the last number issued that year
//
// and meta "letter_counter", the last letter id number. A number is taken
// in the write transaction that writes the letter holding it: one writer at
// a time, so numbers run without gaps or repeats.
var (
	bucketLetters       = []byte("letters")
	bucketLetterKeys    = []byte("letter_keys")
	bucketLetterNumbers = []byte("letter_numbers")

	keyLetterCounter = []byte("letter_counter")
)

func letterNotFound(id string) error {
	return workflow.Refuse(workflow.ReasonLetterNotFound, "letter %s not found", id)
}

func getLetter(tx *bbolt.Tx, n uint64) (*workflow.Letter, error) {
	b := tx.Bucket(bucketLetters)
	if b == nil {
		return nil, nil
	}
	v := b.Get(u64(n))
	if v == nil {
		return nil, nil
	}
	var l workflow.Letter
	if err := json.Unmarshal(v, &l); err != nil {
		return nil, fmt.Errorf("bolt: decode letter %d: %w", n, err)
	}
	return &l, nil
}

func putLetter(tx *bbolt.Tx, n uint64, l *workflow.Letter) error {
	b, err := created(tx, bucketLetters)
	if err != nil {
		return err
	}
	v, err := json.Marshal(l)
	if err != nil {
		return fmt.Errorf("bolt: encode letter %d: %w", n, err)
	}
	if err := b.Put(u64(n), v); err != nil {
		return fmt.Errorf("bolt: write letter %d: %w", n, err)
	}
	return nil
}

// nextLetterNumber returns the next number of year (0 for year 0).
func nextLetterNumber(tx *bbolt.Tx, year int) int {
	if year == 0 {
		return 0
	}
	b := tx.Bucket(bucketLetterNumbers)
	if b == nil {
		return 1
	}
	v := b.Get([]byte(strconv.Itoa(year)))
	if v == nil {
		return 1
	}
	return int(binary.BigEndian.Uint64(v)) + 1
}

// takeLetterNumber records number as year's last when l holds it.
func takeLetterNumber(tx *bbolt.Tx, l *workflow.Letter, year, number int) error {
	if year == 0 || l.Year != year || l.Number != number {
		return nil
	}
	b, err := created(tx, bucketLetterNumbers)
	if err != nil {
		return err
	}
	if err := b.Put([]byte(strconv.Itoa(year)), u64(uint64(number))); err != nil {
		return fmt.Errorf("bolt: write the letter number of %d: %w", year, err)
	}
	return nil
}

// CreateLetter allocates the next letter id (and, for year, its next
// number), calls build and writes the letter in one write transaction; a
// key already used returns that letter with created false.
func (s *Store) CreateLetter(ctx context.Context, key string, year int, build func(id string, number int) (*workflow.Letter, error)) (*workflow.Letter, bool, error) {
	if err := s.writable(ctx); err != nil {
		return nil, false, err
	}
	var (
		out   *workflow.Letter
		isNew bool
	)
	err := s.write(ctx, func(tx *bbolt.Tx, _ *txState) (bool, error) {
		out, isNew = nil, false
		if key != "" {
			if keys := tx.Bucket(bucketLetterKeys); keys != nil {
				if v := keys.Get([]byte(key)); v != nil {
					l, err := getLetter(tx, binary.BigEndian.Uint64(v))
					if err == nil && l == nil {
						err = fmt.Errorf("bolt: letter key %q names a missing letter", key)
					}
					out = l
					return false, err
				}
			}
		}
		meta := tx.Bucket(bucketMeta)
		var n uint64 = 1
		if v := meta.Get(keyLetterCounter); v != nil {
			n = binary.BigEndian.Uint64(v) + 1
		}
		number := nextLetterNumber(tx, year)
		l, err := build(workflow.LetterID(n), number)
		if err != nil {
			return false, err
		}
		if l == nil || l.ID != workflow.LetterID(n) || l.Key != key {
			return false, fmt.Errorf("bolt: build returned no letter %d with key %q", n, key)
		}
		l = l.Clone()
		if err := meta.Put(keyLetterCounter, u64(n)); err != nil {
			return true, fmt.Errorf("bolt: write letter counter: %w", err)
		}
		if err := takeLetterNumber(tx, l, year, number); err != nil {
			return true, err
		}
		if err := putLetter(tx, n, l); err != nil {
			return true, err
		}
		if key != "" {
			keys, err := created(tx, bucketLetterKeys)
			if err != nil {
				return true, err
			}
			if err := keys.Put([]byte(key), u64(n)); err != nil {
				return true, fmt.Errorf("bolt: write letter key %q: %w", key, err)
			}
		}
		out, isNew = l, true
		return true, nil
	})
	if err != nil {
		return nil, false, err
	}
	return out, isNew, nil
}

// UpdateLetter reads letter id (and, for year, its next number), calls
// apply with a copy and writes the letter in one write transaction.
func (s *Store) UpdateLetter(ctx context.Context, id string, year int, apply func(l *workflow.Letter, number int) error) (*workflow.Letter, error) {
	if err := s.writable(ctx); err != nil {
		return nil, err
	}
	n, ok := workflow.ParseLetterID(id)
	if !ok {
		return nil, letterNotFound(id)
	}
	var out *workflow.Letter
	err := s.write(ctx, func(tx *bbolt.Tx, _ *txState) (bool, error) {
		out = nil
		l, err := getLetter(tx, n)
		if err != nil {
			return false, err
		}
		if l == nil {
			return false, letterNotFound(id)
		}
		number := nextLetterNumber(tx, year)
		c := l.Clone()
		if err := apply(c, number); err != nil {
			return false, err
		}
		c.ID, c.Key = l.ID, l.Key
		if err := takeLetterNumber(tx, c, year, number); err != nil {
			return true, err
		}
		out = c
		return true, putLetter(tx, n, c)
	})
	return out, err
}

// Letter returns letter id.
func (s *Store) Letter(ctx context.Context, id string) (*workflow.Letter, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	n, ok := workflow.ParseLetterID(id)
	if !ok {
		return nil, letterNotFound(id)
	}
	var l *workflow.Letter
	err := s.view(func(tx *bbolt.Tx) error {
		var err error
		l, err = getLetter(tx, n)
		return err
	})
	if err == nil && l == nil {
		err = letterNotFound(id)
	}
	return l, err
}

// Letters returns every letter in creation order.
func (s *Store) Letters(ctx context.Context) ([]*workflow.Letter, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out := []*workflow.Letter{}
	err := s.view(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketLetters)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			var l workflow.Letter
			if err := json.Unmarshal(v, &l); err != nil {
				return fmt.Errorf("bolt: decode letter %x: %w", k, err)
			}
			out = append(out, &l)
			return nil
		})
	})
	return out, err
}

// letters sends every letter to the sink, in id order.
func (x *exporter) letters() error {
	return x.each(bucketLetters, func(k, v []byte) error {
		var l workflow.Letter
		if err := json.Unmarshal(v, &l); err != nil {
			return fmt.Errorf("bolt: export: decode letter %x: %w", k, err)
		}
		return x.sink.Letter(x.ctx, &l)
	})
}
