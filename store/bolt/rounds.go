package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"

	bbolt "go.etcd.io/bbolt"

	"github.com/jdz-eco/rectify/store/bolt/internal/pack"
	"github.com/jdz-eco/rectify/workflow"
)

// Dispatch rounds (workflow.Rounds) and work points' histories
// (docs/design.md#dispatch-rounds). Their buckets are created on first use,
// so a file that never held a round opens read-only as before:
//
//	rounds       round number → workflow.Round without items (JSON)
//	round_items  round number → its items (JSON), fixed when it opened
//	round_keys   period key → round number (one round per key)
//	round_refs   round number ‖ item ‖ 0x00 ‖ seq → empty: the round index (workflow.RoundRef)
//	wp_history   work point number ‖ seq → empty: a work point's entries in order
//
// and meta "round_counter", the last round number. The round index is
// written by appendEncoded with every entry that names a round, whether a
// problem's (UpdateProblem) or a work point's (AppendWorkPoint).
var (
	bucketRounds     = []byte("rounds")
	bucketRoundItems = []byte("round_items")
	bucketRoundKeys  = []byte("round_keys")
	bucketRoundRefs  = []byte("round_refs")
	bucketWPHistory  = []byte("wp_history")

	keyRoundCounter = []byte("round_counter")
)

func roundNotFound(id string) error {
	return workflow.Refuse(workflow.ReasonRoundNotFound, "dispatch round %s not found", id)
}

// created returns bucket name of tx, creating it if it does not exist.
func created(tx *bbolt.Tx, name []byte) (*bbolt.Bucket, error) {
	b, err := tx.CreateBucketIfNotExists(name)
	if err != nil {
		return nil, fmt.Errorf("bolt: create bucket %s: %w", name, err)
	}
	return b, nil
}

// roundRefKey returns the round index key of e without its seq (round
// number ‖ item ‖ 0x00), or nil when e names no round.
func roundRefKey(e *workflow.Entry) ([]byte, error) {
	round, item, ok := workflow.RoundRef(e)
	if !ok {
		return nil, nil
	}
	n, ok := workflow.ParseRoundID(round)
	if !ok {
		return nil, fmt.Errorf("bolt: an entry names round %q", round)
	}
	return refPrefix(n, item), nil
}

// refPrefix is the round index prefix of round n and item ("" for all).
func refPrefix(n uint64, item string) []byte {
	k := append(u64(n), item...)
	if item != "" {
		k = append(k, 0)
	}
	return k
}

// putEntryRefs writes the index keys of ee, sealed at seq, besides the
// problem's history index: the round index and the work point's history.
func putEntryRefs(tx *bbolt.Tx, ee encodedEntry, seq uint64) error {
	if ee.roundRef != nil {
		b, err := created(tx, bucketRoundRefs)
		if err != nil {
			return err
		}
		if err := b.Put(binary.BigEndian.AppendUint64(slices.Clone(ee.roundRef), seq), []byte{}); err != nil {
			return fmt.Errorf("bolt: write round index of entry %d: %w", seq, err)
		}
	}
	if ee.point != 0 {
		b, err := created(tx, bucketWPHistory)
		if err != nil {
			return err
		}
		b.FillPercent = ascendingFillPercent
		if err := b.Put(historyKey(ee.point, seq), []byte{}); err != nil {
			return fmt.Errorf("bolt: write history index of work point %d: %w", ee.point, err)
		}
	}
	return nil
}

// encodeOther encodes entries of no problem: of work point point (0 for
// none) at version.
func encodeOther(entries []workflow.Entry, point int, version uint64) ([]encodedEntry, error) {
	out := make([]encodedEntry, len(entries))
	for i, e := range entries {
		e.Seq, e.ProblemID, e.WorkPoint, e.Version, e.PrevHash, e.Hash = 0, "", point, version, "", ""
		b, err := json.Marshal(e)
		if err != nil {
			return nil, fmt.Errorf("bolt: encode history entry: %w", err)
		}
		if !bytes.HasPrefix(b, []byte(seqZero)) || b[len(b)-1] != '}' {
			return nil, fmt.Errorf("bolt: encode history entry: unexpected encoding %.40q", b)
		}
		ref, err := roundRefKey(&e)
		if err != nil {
			return nil, err
		}
		out[i] = encodedEntry{mid: b[len(seqZero) : len(b)-1], packedMid: pack.EntryMid(b), at: e.At, roundRef: ref, point: uint64(point)}
	}
	return out, nil
}

// sealedSince returns the entries of the history after seq, as sealed.
func sealedSince(tx *bbolt.Tx, seq uint64) ([]workflow.Entry, error) {
	var out []workflow.Entry
	c := tx.Bucket(bucketHistory).Cursor()
	for k, v := c.Seek(u64(seq + 1)); k != nil; k, v = c.Next() {
		e, err := decodeEntry(k, v)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

func decodeEntry(k, v []byte) (workflow.Entry, error) {
	var e workflow.Entry
	if err := pack.Unmarshal(v, &e); err != nil {
		return e, fmt.Errorf("bolt: decode history entry %x: %w", k, err)
	}
	return e, nil
}

// entriesAt returns the history entries the keys ending in a seq name, in
// sequence order.
func entriesAt(tx *bbolt.Tx, keys [][]byte) ([]workflow.Entry, error) {
	seqs := make([]uint64, len(keys))
	for i, k := range keys {
		seqs[i] = binary.BigEndian.Uint64(k[len(k)-8:])
	}
	slices.Sort(seqs)
	hist := tx.Bucket(bucketHistory)
	out := make([]workflow.Entry, 0, len(seqs))
	for _, seq := range seqs {
		v := hist.Get(u64(seq))
		if v == nil {
			return nil, fmt.Errorf("bolt: an index names missing history entry %d", seq)
		}
		e, err := decodeEntry(u64(seq), v)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

// prefixed returns the keys of bucket name that start with prefix (none
// when the bucket does not exist).
func prefixed(tx *bbolt.Tx, name, prefix []byte) [][]byte {
	b := tx.Bucket(name)
	if b == nil {
		return nil
	}
	var out [][]byte
	c := b.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		out = append(out, bytes.Clone(k))
	}
	return out
}

func roundEntries(tx *bbolt.Tx, n uint64, item string) ([]workflow.Entry, error) {
	return entriesAt(tx, prefixed(tx, bucketRoundRefs, refPrefix(n, item)))
}

// getRound decodes round n with its items, or returns nil.
func getRound(tx *bbolt.Tx, n uint64) (*workflow.Round, error) {
	b := tx.Bucket(bucketRounds)
	if b == nil {
		return nil, nil
	}
	v := b.Get(u64(n))
	if v == nil {
		return nil, nil
	}
	var r workflow.Round
	if err := json.Unmarshal(v, &r); err != nil {
		return nil, fmt.Errorf("bolt: decode round %d: %w", n, err)
	}
	if items := tx.Bucket(bucketRoundItems); items != nil {
		if v := items.Get(u64(n)); v != nil {
			if err := json.Unmarshal(v, &r.Items); err != nil {
				return nil, fmt.Errorf("bolt: decode the items of round %d: %w", n, err)
			}
		}
	}
	return &r, nil
}

// putRoundHeader writes r without its items.
func putRoundHeader(tx *bbolt.Tx, n uint64, r *workflow.Round) error {
	b, err := created(tx, bucketRounds)
	if err != nil {
		return err
	}
	v, err := json.Marshal(r.Header())
	if err != nil {
		return fmt.Errorf("bolt: encode round %d: %w", n, err)
	}
	if err := b.Put(u64(n), v); err != nil {
		return fmt.Errorf("bolt: write round %d: %w", n, err)
	}
	return nil
}

// CreateRound allocates the next round number, calls build with its id and
// writes the round with its round_open entry in one write transaction; a
// key already used returns that round with created false.
func (s *Store) CreateRound(ctx context.Context, key string, build func(id string) (*workflow.Round, error)) (*workflow.Round, bool, error) {
	if err := s.writable(ctx); err != nil {
		return nil, false, err
	}
	var (
		out   *workflow.Round
		isNew bool
	)
	err := s.write(ctx, func(tx *bbolt.Tx, st *txState) (bool, error) {
		out, isNew = nil, false
		if key != "" {
			if keys := tx.Bucket(bucketRoundKeys); keys != nil {
				if v := keys.Get([]byte(key)); v != nil {
					r, err := getRound(tx, binary.BigEndian.Uint64(v))
					if err == nil && r == nil {
						err = fmt.Errorf("bolt: round key %q names a missing round", key)
					}
					out = r
					return false, err
				}
			}
		}
		meta := tx.Bucket(bucketMeta)
		var n uint64 = 1
		if v := meta.Get(keyRoundCounter); v != nil {
			n = binary.BigEndian.Uint64(v) + 1
		}
		r, err := build(workflow.RoundID(n))
		if err != nil {
			return false, err
		}
		if r == nil || r.ID != workflow.RoundID(n) || r.Key != key {
			return false, fmt.Errorf("bolt: build returned no round %d with key %q", n, key)
		}
		r = r.Clone()
		encoded, err := encodeOther([]workflow.Entry{workflow.RoundOpenEntry(r)}, 0, 0)
		if err != nil {
			return false, err
		}
		items, err := json.Marshal(r.Items)
		if err != nil {
			return false, fmt.Errorf("bolt: encode the items of round %d: %w", n, err)
		}
		// Write.
		if err := meta.Put(keyRoundCounter, u64(n)); err != nil {
			return true, fmt.Errorf("bolt: write round counter: %w", err)
		}
		if err := putRoundHeader(tx, n, r); err != nil {
			return true, err
		}
		b, err := created(tx, bucketRoundItems)
		if err != nil {
			return true, err
		}
		if err := b.Put(u64(n), items); err != nil {
			return true, fmt.Errorf("bolt: write the items of round %d: %w", n, err)
		}
		if key != "" {
			keys, err := created(tx, bucketRoundKeys)
			if err != nil {
				return true, err
			}
			if err := keys.Put([]byte(key), u64(n)); err != nil {
				return true, fmt.Errorf("bolt: write round key %q: %w", key, err)
			}
		}
		if err := appendEncoded(tx, st, 0, encoded); err != nil {
			return true, err
		}
		out, isNew = r, true
		return true, nil
	})
	if err != nil {
		return nil, false, err
	}
	return out, isNew, nil
}

// Round returns round id with its items.
func (s *Store) Round(ctx context.Context, id string) (*workflow.Round, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	n, ok := workflow.ParseRoundID(id)
	if !ok {
		return nil, roundNotFound(id)
	}
	var r *workflow.Round
	err := s.view(func(tx *bbolt.Tx) error {
		var err error
		r, err = getRound(tx, n)
		return err
	})
	if err == nil && r == nil {
		err = roundNotFound(id)
	}
	return r, err
}

// Rounds returns every round without its items, in opening order.
func (s *Store) Rounds(ctx context.Context) ([]*workflow.Round, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out := []*workflow.Round{}
	err := s.view(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketRounds)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			var r workflow.Round
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("bolt: decode round %x: %w", k, err)
			}
			out = append(out, &r)
			return nil
		})
	})
	return out, err
}

// UpdateRound lets apply change round id's LateRecordedAt (nothing else
// changes after a round opens) and writes it.
func (s *Store) UpdateRound(ctx context.Context, id string, apply func(r *workflow.Round) error) (*workflow.Round, error) {
	if err := s.writable(ctx); err != nil {
		return nil, err
	}
	n, ok := workflow.ParseRoundID(id)
	if !ok {
		return nil, roundNotFound(id)
	}
	var out *workflow.Round
	err := s.write(ctx, func(tx *bbolt.Tx, _ *txState) (bool, error) {
		r, err := getRound(tx, n)
		if err != nil {
			return false, err
		}
		if r == nil {
			return false, roundNotFound(id)
		}
		c := r.Header()
		if err := apply(c); err != nil {
			return false, err
		}
		h := r.Header()
		h.LateRecordedAt = c.LateRecordedAt
		out = h
		return true, putRoundHeader(tx, n, h)
	})
	return out, err
}

// RoundEntries returns the entries the round index lists for round id and
// item ("" for every item), in sequence order.
func (s *Store) RoundEntries(ctx context.Context, id, item string) ([]workflow.Entry, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	n, ok := workflow.ParseRoundID(id)
	if !ok {
		return nil, roundNotFound(id)
	}
	var out []workflow.Entry
	err := s.view(func(tx *bbolt.Tx) error {
		var err error
		out, err = roundEntries(tx, n, item)
		return err
	})
	return out, err
}

// AppendWorkPoint appends what decide returns to work point n's history,
// deciding inside the write transaction on the round entries of item.
func (s *Store) AppendWorkPoint(ctx context.Context, n int, round, item string, decide func(prior []workflow.Entry) ([]workflow.Entry, error)) ([]workflow.Entry, error) {
	if err := s.writable(ctx); err != nil {
		return nil, err
	}
	rn, ok := workflow.ParseRoundID(round)
	if !ok || n <= 0 || item == "" {
		return nil, fmt.Errorf("bolt: append to work point %d: round %q item %q", n, round, item)
	}
	var out []workflow.Entry
	err := s.write(ctx, func(tx *bbolt.Tx, st *txState) (bool, error) {
		out = nil
		prior, err := roundEntries(tx, rn, item)
		if err != nil {
			return false, err
		}
		entries, err := decide(prior)
		if err != nil {
			return false, err
		}
		last, err := lastPointEntry(tx, n)
		if err != nil {
			return false, err
		}
		encoded, err := encodeOther(entries, n, last.Version+1)
		if err != nil {
			return false, err
		}
		head, err := st.chainHead(tx)
		if err != nil {
			return false, err
		}
		if err := appendEncoded(tx, st, 0, encoded); err != nil {
			return true, err
		}
		out, err = sealedSince(tx, head.Seq)
		return true, err
	})
	return out, err
}

// lastPointEntry returns work point n's last entry (zero when none).
func lastPointEntry(tx *bbolt.Tx, n int) (workflow.Entry, error) {
	b := tx.Bucket(bucketWPHistory)
	if b == nil {
		return workflow.Entry{}, nil
	}
	prefix := u64(uint64(n))
	c := b.Cursor()
	k, _ := c.Seek(u64(uint64(n) + 1))
	if k != nil {
		k, _ = c.Prev()
	} else {
		k, _ = c.Last()
	}
	if k == nil || !bytes.HasPrefix(k, prefix) {
		return workflow.Entry{}, nil
	}
	entries, err := entriesAt(tx, [][]byte{k})
	if err != nil {
		return workflow.Entry{}, err
	}
	return entries[0], nil
}

// WorkPointHistory returns work point n's entries in order.
func (s *Store) WorkPointHistory(ctx context.Context, n int) ([]workflow.Entry, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out := []workflow.Entry{}
	if n <= 0 {
		return out, nil
	}
	err := s.view(func(tx *bbolt.Tx) error {
		entries, err := entriesAt(tx, prefixed(tx, bucketWPHistory, u64(uint64(n))))
		out = append(out, entries...)
		return err
	})
	return out, err
}

// ForEachRound calls fn with every round and its items, in opening order
// (read in one transaction; fn runs after it and may use the store).
func (s *Store) ForEachRound(ctx context.Context, fn func(r *workflow.Round) error) error {
	var all []*workflow.Round
	err := s.view(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketRounds)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, _ []byte) error {
			r, err := getRound(tx, binary.BigEndian.Uint64(k))
			if r != nil {
				all = append(all, r)
			}
			return err
		})
	})
	if err != nil {
		return err
	}
	for _, r := range all {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	return nil
}

// rounds sends every round, with its items, to the export's sink.
func (x *exporter) rounds() error {
	return x.each(bucketRounds, func(k, _ []byte) error {
		n, err := number("round key", k)
		if err != nil {
			return err
		}
		r, err := getRound(x.tx, n)
		if err != nil {
			return err
		}
		return x.sink.Round(x.ctx, r)
	})
}
