package bolt

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/jdz-eco/rectify/store/bolt/internal/pack"
	"github.com/jdz-eco/rectify/workflow"
)

// Fill percents. bbolt splits a page that overflows so that the first part
// holds this fraction of a page: 0.5 (its default) suits random inserts,
// which then find room; buckets whose keys mostly arrive in increasing order
// (numbers, sequences, creation-ordered index values) are packed instead, or
// every page of theirs would stay half empty.
var fillPercents = map[string]float64{
	string(bucketHistory):        appendFillPercent,
	string(bucketOutbox):         appendFillPercent,
	string(bucketProblems):       ascendingFillPercent,
	string(bucketProblemHistory): ascendingFillPercent,
}

// ascendingFillPercent packs buckets whose keys mostly, not only, grow
// (problem numbers: new problems append, updates rewrite in place; index
// values followed by a problem number: each value's keys append), leaving a
// little room for what lands in the middle.
const ascendingFillPercent = 0.9

// bucket returns bucket name of tx with its fill percent set.
func bucket(tx *bbolt.Tx, name []byte) *bbolt.Bucket {
	b := tx.Bucket(name)
	if f, ok := fillPercents[string(name)]; ok && b != nil {
		b.FillPercent = f
	}
	return b
}

// encodedEntry is a history entry encoded for the hash chain but for its
// sequence number and link: the store seals it in the write transaction
// with a few appends and one SHA-256, without encoding it again.
type encodedEntry struct {
	// mid is the entry's canonical JSON (workflow.EntryHash) between
	// `{"seq":N,` and `,"prev_hash":…}`: from "problem_id" to the last
	// field before prev_hash.
	mid []byte
	// packedMid is mid packed (internal/pack), or nil if it is stored as
	// JSON.
	packedMid []byte
	at        time.Time
	// roundRef is the entry's round index key without its seq, nil when it
	// names no round; point is the work point of an entry of no problem.
	// Both are written by putEntryRefs (rounds.go).
	roundRef []byte
	point    uint64
}

// seqZero is how the canonical encoding of an entry with Seq 0 begins.
const seqZero = `{"seq":0,`

// encodeEntries encodes entries as the history of problem number n at
// version.
func encodeEntries(entries []workflow.Entry, n, version uint64) ([]encodedEntry, error) {
	out := make([]encodedEntry, len(entries))
	for i, e := range entries {
		e.Seq, e.ProblemID, e.Version, e.PrevHash, e.Hash = 0, workflow.ProblemID(n), version, "", ""
		b, err := json.Marshal(e)
		if err != nil {
			return nil, fmt.Errorf("bolt: encode history entry of problem %d: %w", n, err)
		}
		if !bytes.HasPrefix(b, []byte(seqZero)) || b[len(b)-1] != '}' || len(b) == len(seqZero) {
			return nil, fmt.Errorf("bolt: encode history entry of problem %d: unexpected encoding %.40q", n, b)
		}
		ref, err := roundRefKey(&e)
		if err != nil {
			return nil, err
		}
		out[i] = encodedEntry{mid: b[len(seqZero) : len(b)-1], packedMid: pack.EntryMid(b), at: e.At, roundRef: ref}
	}
	return out, nil
}

// seal returns the stored value of the entry at seq linked to prev, and its
// hash: exactly what workflow.SealEntry and json.Marshal give for the entry
// with Seq seq and PrevHash prev (the fields are encoded in declaration
// order, prev_hash and hash last; a test checks it). prev must be 64 hex
// digits.
func (ee encodedEntry) seal(seq uint64, prev string) (value []byte, hash string) {
	b := make([]byte, 0, len(ee.mid)+2*64+48)
	b = append(b, `{"seq":`...)
	b = strconv.AppendUint(b, seq, 10)
	b = append(b, ',')
	b = append(b, ee.mid...)
	b = append(b, `,"prev_hash":"`...)
	b = append(b, prev...)
	b = append(b, `"}`...)
	sum := sha256.Sum256(b)
	hash = hex.EncodeToString(sum[:])
	b = append(b[:len(b)-1], `,"hash":"`...)
	b = append(b, hash...)
	b = append(b, `"}`...)
	return b, hash
}

// sealPacked returns the stored form of the entry whose canonical JSON seal
// returns: packed, with seq, prev and hash appended as packed tokens.
func (ee encodedEntry) sealPacked(seq uint64, prev, hash string, js []byte) []byte {
	if ee.packedMid == nil {
		return js
	}
	return pack.SealedEntry(ee.packedMid, seq, prev, hash) // pack.IsHash(prev): checked
}

// appendEncoded appends entries to the history of problem number n (0: of
// no problem, see rounds.go), each with the next global sequence number,
// sealed on the hash of the entry before it; adds each to the outbox, the
// problem's history index and the round and work point indexes it belongs
// to; and moves the transaction's chain head to the last one.
func appendEncoded(tx *bbolt.Tx, st *txState, n uint64, entries []encodedEntry) error {
	if len(entries) == 0 {
		return nil
	}
	hist := bucket(tx, bucketHistory)
	outbox := bucket(tx, bucketOutbox)
	idx := bucket(tx, bucketProblemHistory)
	head, err := st.chainHead(tx)
	if err != nil {
		return err
	}
	prev := head.Hash
	if head.Seq == 0 {
		prev = workflow.GenesisHash
	}
	if !pack.IsHash(prev) {
		return fmt.Errorf("bolt: the chain head of entry %d has a malformed hash: the ledger is damaged (run rectify audit verify)", head.Seq)
	}
	for _, ee := range entries {
		seq, err := hist.NextSequence()
		if err != nil {
			return fmt.Errorf("bolt: next history sequence: %w", err)
		}
		// The chain must end where the history does, or the new entry
		// would link to the wrong one.
		if seq != head.Seq+1 {
			return fmt.Errorf("bolt: the chain head is entry %d but the next history entry is %d: the ledger is damaged (run rectify audit verify)", head.Seq, seq)
		}
		js, h := ee.seal(seq, prev)
		key := u64(seq)
		if err := hist.Put(key, ee.sealPacked(seq, prev, h, js)); err != nil {
			return fmt.Errorf("bolt: write history entry %d: %w", seq, err)
		}
		if err := outbox.Put(key, []byte{}); err != nil {
			return fmt.Errorf("bolt: write event %d: %w", seq, err)
		}
		if n != 0 {
			if err := idx.Put(historyKey(n, seq), []byte{}); err != nil {
				return fmt.Errorf("bolt: write history index of problem %d: %w", n, err)
			}
		}
		if err := putEntryRefs(tx, ee, seq); err != nil {
			return err
		}
		prev = h
		head = workflow.ChainHead{Seq: seq, Hash: h, At: ee.at}
	}
	st.setChainHead(head)
	return nil
}
