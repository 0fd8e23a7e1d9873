// Package bolttest forges a closed rectify bbolt file the way someone with
// the file but not the application would: raw values read and written past
// the store's rules, indexes and hash chain. It exists for the tests of
// audits (rectify audit verify must catch, or with a head recorded earlier
// must expose, what it does), and must never touch a ledger in use.
//
// The layout it edits is store/bolt's (store/bolt/store.go); store/bolt's
// tests check that the two agree.
package bolttest

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/jdz-eco/rectify/store/bolt/internal/pack"
	"github.com/jdz-eco/rectify/workflow"
)

// The buckets and meta keys a forger touches (store/bolt/store.go).
var (
	bucketMeta           = []byte("meta")
	bucketProblems       = []byte("problems")
	bucketHistory        = []byte("history")
	bucketProblemHistory = []byte("problem_history")
	bucketOutbox         = []byte("outbox")
	keySchema            = []byte("schema")
	keyChainHead         = []byte("chain_head")
)

// DataSize is the bytes of the file at path that its pages take, which no
// store may hold open. bbolt allocates a file ahead of its data (16 MiB at a
// time), so damage meant to land in the data must land below this size.
func DataSize(path string) (int64, error) {
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: time.Second, ReadOnly: true})
	if err != nil {
		return 0, err
	}
	defer db.Close()
	var n int64
	err = db.View(func(tx *bbolt.Tx) error { n = tx.Size(); return nil })
	return n, err
}

// Layout lists the buckets of the file at path, which no store may hold
// open, and the keys of its meta bucket, each in key order.
func Layout(path string) (buckets, meta []string, err error) {
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: time.Second, ReadOnly: true})
	if err != nil {
		return nil, nil, err
	}
	defer db.Close()
	err = db.View(func(tx *bbolt.Tx) error {
		if err := tx.ForEach(func(name []byte, _ *bbolt.Bucket) error {
			buckets = append(buckets, string(name))
			return nil
		}); err != nil {
			return err
		}
		if m := tx.Bucket(bucketMeta); m != nil {
			return m.ForEach(func(k, _ []byte) error {
				meta = append(meta, string(k))
				return nil
			})
		}
		return nil
	})
	return buckets, meta, err
}

// File is a database file open for forging, inside one write transaction.
type File struct {
	tx *bbolt.Tx
}

// Tamper opens the database file at path, which no store may hold open, and
// runs fn in one write transaction, committed if fn returns nil.
func Tamper(path string, fn func(f *File) error) error {
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: time.Second})
	if err != nil {
		return err
	}
	defer db.Close()
	return db.Update(func(tx *bbolt.Tx) error { return fn(&File{tx: tx}) })
}

func key(n uint64) []byte { return binary.BigEndian.AppendUint64(nil, n) }

// RawEntry returns history entry seq as stored (packed or JSON), or nil.
func (f *File) RawEntry(seq uint64) []byte {
	return bytes.Clone(f.tx.Bucket(bucketHistory).Get(key(seq)))
}

// PutRawEntry stores v as history entry seq, as it is.
func (f *File) PutRawEntry(seq uint64, v []byte) error {
	return f.tx.Bucket(bucketHistory).Put(key(seq), v)
}

// DeleteEntry removes history entry seq, and nothing else.
func (f *File) DeleteEntry(seq uint64) error {
	return f.tx.Bucket(bucketHistory).Delete(key(seq))
}

// Entry decodes history entry seq.
func (f *File) Entry(seq uint64) (workflow.Entry, error) {
	var e workflow.Entry
	v := f.tx.Bucket(bucketHistory).Get(key(seq))
	if v == nil {
		return e, fmt.Errorf("no history entry %d", seq)
	}
	return e, pack.Unmarshal(v, &e)
}

// PutEntry writes e (as JSON, as a forger's tool would) to the history and
// its event to the outbox.
func (f *File) PutEntry(e workflow.Entry) error {
	v, err := json.Marshal(e)
	if err != nil {
		return err
	}
	if err := f.tx.Bucket(bucketHistory).Put(key(e.Seq), v); err != nil {
		return err
	}
	ev, err := json.Marshal(workflow.Event{ID: workflow.EventID(e.Seq), Seq: e.Seq, Entry: e})
	if err != nil {
		return err
	}
	return f.tx.Bucket(bucketOutbox).Put(key(e.Seq), ev)
}

// SetHead records e as the chain head.
func (f *File) SetHead(e workflow.Entry) error {
	v, err := json.Marshal(workflow.ChainHead{Seq: e.Seq, Hash: e.Hash, At: e.At})
	if err != nil {
		return err
	}
	return f.tx.Bucket(bucketMeta).Put(keyChainHead, v)
}

// SetSchema records schema version v.
func (f *File) SetSchema(v uint64) error {
	return f.tx.Bucket(bucketMeta).Put(keySchema, key(v))
}

// EditRecord rewrites problem id's record (as JSON) as edit changes its
// fields, without history: what an audit must find.
func (f *File) EditRecord(id string, edit func(fields map[string]any)) error {
	n, ok := workflow.ParseProblemID(id)
	if !ok {
		return fmt.Errorf("bad problem id %q", id)
	}
	b := f.tx.Bucket(bucketProblems)
	var fields map[string]any
	if err := pack.Unmarshal(b.Get(key(n)), &fields); err != nil {
		return err
	}
	edit(fields)
	v, err := json.Marshal(fields)
	if err != nil {
		return err
	}
	return b.Put(key(n), v)
}

// ReplayRecord rewrites problem id's record as its (forged) history
// replays, or deletes it when no history is left: what a careful forger
// does so that records and history agree.
func (f *File) ReplayRecord(id string) error {
	n, ok := workflow.ParseProblemID(id)
	if !ok {
		return fmt.Errorf("bad problem id %q", id)
	}
	hist, err := f.history(n)
	if err != nil {
		return err
	}
	if len(hist) == 0 {
		return f.tx.Bucket(bucketProblems).Delete(key(n))
	}
	p, err := workflow.Replay(hist)
	if err != nil {
		return err
	}
	v, err := json.Marshal(p)
	if err != nil {
		return err
	}
	return f.tx.Bucket(bucketProblems).Put(key(n), v)
}

// Truncate deletes every entry after keep, with its outbox event and index
// key, moves the head and the history sequence back to keep, replays the
// problems concerned and recounts the rollups: a careful truncation that
// leaves a consistent ledger, which only a head recorded elsewhere exposes.
func (f *File) Truncate(keep uint64) error {
	if err := f.TruncateHistory(keep); err != nil {
		return err
	}
	return f.recountIfKept()
}

// TruncateHistory is Truncate without recounting the rollups: a forger who
// forgets them, whom the audit's recount exposes.
func (f *File) TruncateHistory(keep uint64) error {
	hist := f.tx.Bucket(bucketHistory)
	var gone []workflow.Entry
	c := hist.Cursor()
	for k, v := c.Seek(key(keep + 1)); k != nil; k, v = c.Next() {
		var e workflow.Entry
		if err := pack.Unmarshal(v, &e); err != nil {
			return err
		}
		gone = append(gone, e)
	}
	problems := map[string]bool{}
	for _, e := range gone {
		n, _ := workflow.ParseProblemID(e.ProblemID)
		for _, del := range []error{
			hist.Delete(key(e.Seq)),
			f.tx.Bucket(bucketOutbox).Delete(key(e.Seq)),
			f.tx.Bucket(bucketProblemHistory).Delete(append(key(n), key(e.Seq)...)),
		} {
			if del != nil {
				return del
			}
		}
		problems[e.ProblemID] = true
	}
	if err := hist.SetSequence(keep); err != nil {
		return err
	}
	last, err := f.Entry(keep)
	if err != nil {
		return err
	}
	if err := f.SetHead(last); err != nil {
		return err
	}
	for id := range problems {
		if id == "" {
			continue // entries of no problem (rounds, work points) have no record
		}
		if err := f.ReplayRecord(id); err != nil {
			return err
		}
	}
	return nil
}

// Rewrite edits entry from with edit and reseals it and every later entry
// (workflow.SealEntry), head anchors naming the new hashes, moves the head
// to the new last hash, replays the problems concerned and recounts the
// rollups: a rewrite of the whole chain after from-1 that only a head
// recorded elsewhere can expose.
func (f *File) Rewrite(from uint64, edit func(e *workflow.Entry) error) error {
	prev := workflow.GenesisHash
	if from > 1 {
		e, err := f.Entry(from - 1)
		if err != nil {
			return err
		}
		prev = e.Hash
	}
	var entries []workflow.Entry
	c := f.tx.Bucket(bucketHistory).Cursor()
	for k, v := c.Seek(key(from)); k != nil; k, v = c.Next() {
		var e workflow.Entry
		if err := pack.Unmarshal(v, &e); err != nil {
			return err
		}
		entries = append(entries, e)
	}
	if len(entries) == 0 {
		return fmt.Errorf("no history entry %d", from)
	}
	if err := edit(&entries[0]); err != nil {
		return err
	}
	problems := map[string]bool{}
	for i := range entries {
		e := &entries[i]
		if e.Action == workflow.ActionHeadAnchor {
			// A careful forger names the new hash in the anchor too.
			e.Params.Head = workflow.ChainHead{Seq: e.Seq - 1, Hash: prev}.String()
		}
		if err := workflow.SealEntry(e, prev); err != nil {
			return err
		}
		if err := f.PutEntry(*e); err != nil {
			return err
		}
		prev = e.Hash
		problems[e.ProblemID] = true
	}
	if err := f.SetHead(entries[len(entries)-1]); err != nil {
		return err
	}
	for id := range problems {
		if id == "" {
			continue // entries of no problem (rounds, work points) have no record
		}
		if err := f.ReplayRecord(id); err != nil {
			return err
		}
	}
	return f.recountIfKept()
}

// recountIfKept recounts the rollups of a file that keeps them.
func (f *File) recountIfKept() error {
	if f.tx.Bucket(bucketMeta).Get(keyRollupPolicy) == nil {
		return nil
	}
	return f.RecountRollups()
}

// Dispatch rounds (store/bolt/rounds.go).
var (
	bucketRounds     = []byte("rounds")
	bucketRoundItems = []byte("round_items")
	bucketRoundRefs  = []byte("round_refs")
	bucketWPHistory  = []byte("wp_history")
)

// roundKey returns the key of round id.
func roundKey(id string) ([]byte, error) {
	n, ok := workflow.ParseRoundID(id)
	if !ok {
		return nil, fmt.Errorf("bad round id %q", id)
	}
	return key(n), nil
}

// editJSON rewrites the JSON value of bucket name under k as edit changes it.
func (f *File) editJSON(name, k []byte, edit func(v any) any) error {
	b := f.tx.Bucket(name)
	if b == nil || b.Get(k) == nil {
		return fmt.Errorf("no %s %x", name, k)
	}
	var v any
	if err := json.Unmarshal(b.Get(k), &v); err != nil {
		return err
	}
	out, err := json.Marshal(edit(v))
	if err != nil {
		return err
	}
	return b.Put(k, out)
}

// EditRound rewrites round id's record (its fields as JSON), not its items.
func (f *File) EditRound(id string, edit func(fields map[string]any)) error {
	k, err := roundKey(id)
	if err != nil {
		return err
	}
	return f.editJSON(bucketRounds, k, func(v any) any { edit(v.(map[string]any)); return v })
}

// EditRoundItems rewrites round id's items (as JSON).
func (f *File) EditRoundItems(id string, edit func(items []any) []any) error {
	k, err := roundKey(id)
	if err != nil {
		return err
	}
	return f.editJSON(bucketRoundItems, k, func(v any) any { return edit(v.([]any)) })
}

// DeleteRoundRef removes the round index key of round id that names entry
// seq, and nothing else.
func (f *File) DeleteRoundRef(id string, seq uint64) error {
	k, err := roundKey(id)
	if err != nil {
		return err
	}
	c := f.tx.Bucket(bucketRoundRefs).Cursor()
	for rk, _ := c.Seek(k); rk != nil && bytes.HasPrefix(rk, k); rk, _ = c.Next() {
		if binary.BigEndian.Uint64(rk[len(rk)-8:]) == seq {
			return f.tx.Bucket(bucketRoundRefs).Delete(bytes.Clone(rk))
		}
	}
	return fmt.Errorf("round %s's index names no entry %d", id, seq)
}

// DeletePointRef removes work point n's history key of entry seq.
func (f *File) DeletePointRef(n int, seq uint64) error {
	return f.tx.Bucket(bucketWPHistory).Delete(append(key(uint64(n)), key(seq)...))
}

// bucketLetters holds supervision letters, JSON under the letter number.
var bucketLetters = []byte("letters")

// EditLetter rewrites supervision letter id's record (its fields as JSON),
// leaving the entries that recorded it as they are.
func (f *File) EditLetter(id string, edit func(fields map[string]any)) error {
	n, ok := workflow.ParseLetterID(id)
	if !ok {
		return fmt.Errorf("bad letter id %q", id)
	}
	return f.editJSON(bucketLetters, key(n), func(v any) any { edit(v.(map[string]any)); return v })
}

// DeleteLetter removes supervision letter id's record.
func (f *File) DeleteLetter(id string) error {
	n, ok := workflow.ParseLetterID(id)
	if !ok {
		return fmt.Errorf("bad letter id %q", id)
	}
	b := f.tx.Bucket(bucketLetters)
	if b == nil || b.Get(key(n)) == nil {
		return fmt.Errorf("no letter %s", id)
	}
	return b.Delete(key(n))
}
