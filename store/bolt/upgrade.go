package bolt

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"

	bbolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/jdz-eco/rectify/store/bolt/internal/pack"
	"github.com/jdz-eco/rectify/store/internal/index"
	"github.com/jdz-eco/rectify/workflow"
)

// Schema versions: 1 lacked outbox, idx_wake, idx_tag, cursors and calendars;
// 2 lacked the hash chain (entries without prev_hash and hash, no
// chain_head) and idx_evidence; 3 wrote each outbox event in full and left
// the wake index values empty. Opening a file of version 1 to 3 read-write
// upgrades it in the open transaction: the missing buckets are created,
// idx_wake and idx_tag are built from every problem with the wake index
// values (the index_v2 backfill, which runs whenever the index_v2 or the
// index_wake_facts flag is absent), idx_evidence likewise (the
// index_evidence backfill), a history from before the chain is sealed in
// sequence order (history values rewritten, outbox values emptied,
// chain_head set) and the version becomes 5. History written before version
// 2 has no outbox events; outbox values written in full by version 2 or 3
// stay and are read as before. Version 4 stored records and entries as JSON;
// version 5 stores them packed (internal/pack) and reads a JSON value as it is, so
// a version 4 file upgrades by recording the new version: its values are
// packed as they are rewritten (records), or stay JSON (history, which is
// never rewritten). Version 6 adds the statistics' tallies (rollup.go): a
// file of version 5 or older gets them counted from every history when
// opened read-write (Open does it whenever they are missing or follow
// another policy than Options.Policy); and it keeps the filter indexes as
// postings (idx_postings, postings.go) instead of the keys of idx_state,
// idx_lead_unit, idx_county, idx_unit and idx_tag, which the upgrade drops
// once it built the postings from every record (the index_postings
// backfill). Version 7 tags the problems the public sees (in notice, or
// written off after one: workflow.TagPublic) in the tag index, rebuilt from
// every record when a file lacks the index_public flag, so that the public
// notice page walks an index. A read-only open refuses a file of an
// older version, and rectify builds that read an older version refuse a
// newer one.

// ErrNeedsUpgrade refuses a read-only open of a file of an older schema
// version: only a read-write Open upgrades it.
var ErrNeedsUpgrade = errors.New("open it read-write once (e.g. rectify serve)")

const (
	// schemaVersion is the layout this package reads and writes.
	schemaVersion = 7
	// chainVersion is the first layout with the hash chain: an older file's
	// history is sealed when it is upgraded.
	chainVersion = 3
	// upgradableVersion is the oldest layout a read-write Open upgrades.
	upgradableVersion = 1
)

// upgrade creates the buckets that do not exist yet, records the schema
// version of a new file and upgrades a file of an older version.
func upgrade(tx *bbolt.Tx) error {
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
	// The filter indexes as postings came last: a file without them loses
	// the buckets of its keys and gets postings built from every record.
	if meta.Get(keyIndexPostings) == nil {
		for _, name := range legacyValueBuckets {
			if err := tx.DeleteBucket(name); err != nil && !errors.Is(err, bolterrors.ErrBucketNotFound) {
				return fmt.Errorf("drop %s: %w", name, err)
			}
		}
		if err := backfill(tx, "index_postings", index.Filters...); err != nil {
			return err
		}
		if err := meta.Put(keyIndexPostings, []byte{}); err != nil {
			return fmt.Errorf("write index_postings flag: %w", err)
		}
	}
	// The wake index values (index_wake_facts) came after the index
	// (index_v2): one rebuild makes both.
	if meta.Get(keyIndexV2) == nil || meta.Get(keyIndexWake) == nil {
		if err := backfill(tx, "index_v2", index.Wake, index.Tag); err != nil {
			return err
		}
		for _, flag := range [][]byte{keyIndexV2, keyIndexWake} {
			if err := meta.Put(flag, []byte{}); err != nil {
				return fmt.Errorf("write %s flag: %w", flag, err)
			}
		}
	}
	if meta.Get(keyIndexEvidence) == nil {
		if err := backfill(tx, "index_evidence", index.Evidence); err != nil {
			return err
		}
		if err := meta.Put(keyIndexEvidence, []byte{}); err != nil {
			return fmt.Errorf("write index_evidence flag: %w", err)
		}
	}
	// Version 7's tag of the problems the public sees (workflow.TagPublic).
	if meta.Get(keyIndexPublic) == nil {
		if err := backfill(tx, "index_public", index.Tag); err != nil {
			return err
		}
		if err := meta.Put(keyIndexPublic, []byte{}); err != nil {
			return fmt.Errorf("write index_public flag: %w", err)
		}
	}
	// Only an upgrade seals: in a file of the current version a missing head
	// with history is damage, which an audit must see rather than have
	// covered by a fresh seal.
	if version < chainVersion && meta.Get(keyChainHead) == nil {
		if err := sealHistory(tx); err != nil {
			return err
		}
	}
	if version != schemaVersion || meta.Get(keySchema) == nil {
		if err := meta.Put(keySchema, u64(schemaVersion)); err != nil {
			return fmt.Errorf("write schema version: %w", err)
		}
	}
	return nil
}

// legacyValueBuckets held the filter indexes as keys (value ‖ 0x00 ‖
// problem number) before version 6 kept them as postings.
var legacyValueBuckets = [][]byte{[]byte("idx_state"), []byte("idx_lead_unit"), []byte("idx_county"), []byte("idx_unit"), []byte("idx_tag")}

// backfill rebuilds indexes names from every problem, putting each
// problem's entries in them (index.Terms): problems written before those
// indexes existed lack their entries. It empties them first (a key index's
// bucket, a posting index's chunks), so that entries derived by an older
// rule (Problem.Tags, Supervision.WakeAt) do not linger; a change of those
// rules calls for a new flag. An interrupted rebuild commits nothing and
// runs again on next open.
func backfill(tx *bbolt.Tx, flag string, names ...index.Name) error {
	postings := tx.Bucket(bucketPostings)
	for _, ix := range names {
		if isPosting(ix) {
			prefix := append([]byte(ix), 0)
			var keys [][]byte
			c := postings.Cursor()
			for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
				keys = append(keys, bytes.Clone(k))
			}
			for _, k := range keys {
				if err := postings.Delete(k); err != nil {
					return fmt.Errorf("backfill %s: empty %s: %w", flag, ix, err)
				}
			}
			continue
		}
		name := indexBucket(ix)
		if err := tx.DeleteBucket(name); err != nil {
			return fmt.Errorf("backfill %s: empty %s: %w", flag, name, err)
		}
		if _, err := tx.CreateBucket(name); err != nil {
			return fmt.Errorf("backfill %s: create %s: %w", flag, name, err)
		}
	}
	st := &txState{}
	err := tx.Bucket(bucketProblems).ForEach(func(k, v []byte) error {
		n := binary.BigEndian.Uint64(k)
		var p workflow.Problem
		if err := pack.Unmarshal(v, &p); err != nil {
			return fmt.Errorf("backfill %s: decode problem %d: %w", flag, n, err)
		}
		for _, t := range index.Terms(&p) {
			if !slices.Contains(names, t.Index) {
				continue
			}
			if isPosting(t.Index) {
				st.editPosting(t, n, true)
				continue
			}
			if err := bucket(tx, indexBucket(t.Index)).Put(termKey(t, n), []byte(t.Facts)); err != nil {
				return fmt.Errorf("backfill %s: put %s key of problem %d: %w", flag, t.Index, n, err)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return st.flushPostings(tx)
}

// sealHistory seals the history of a file from before the hash chain: every
// entry in sequence order, on the hash of the one before, rewriting its
// history value and its outbox event (where it has one), then records the
// head. An entry that does not decode, or whose key is not its Seq, fails the
// upgrade: it cannot be sealed faithfully.
func sealHistory(tx *bbolt.Tx) error {
	hist := tx.Bucket(bucketHistory)
	hist.FillPercent = appendFillPercent
	outbox := tx.Bucket(bucketOutbox)
	outbox.FillPercent = appendFillPercent
	prev := workflow.GenesisHash
	var head workflow.ChainHead
	// A cursor must not walk a bucket being written: each step seeks with a
	// fresh one, so that the history is never all in memory at once.
	for k, v := hist.Cursor().First(); k != nil; k, v = hist.Cursor().Seek(u64(head.Seq + 1)) {
		if len(k) != 8 {
			return fmt.Errorf("seal history: bad history key %x", k)
		}
		seq := binary.BigEndian.Uint64(k)
		var e workflow.Entry
		if err := json.Unmarshal(v, &e); err != nil {
			return fmt.Errorf("seal history: decode entry %d: %w", seq, err)
		}
		if e.Seq != seq || seq <= head.Seq {
			return fmt.Errorf("seal history: entry %d is stored under key %d", e.Seq, seq)
		}
		if err := workflow.SealEntry(&e, prev); err != nil {
			return fmt.Errorf("seal history: %w", err)
		}
		if err := putEntry(hist, outbox, e, outbox.Get(k) != nil); err != nil {
			return fmt.Errorf("seal history: %w", err)
		}
		prev = e.Hash
		head = workflow.ChainHead{Seq: e.Seq, Hash: e.Hash, At: e.At}
		if seq == math.MaxUint64 {
			break
		}
	}
	if head.Seq == 0 {
		return nil
	}
	return putHead(tx.Bucket(bucketMeta), head)
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
		return fmt.Errorf("database schema version %d must be upgraded to %d: %w", n, schemaVersion, ErrNeedsUpgrade)
	default:
		return fmt.Errorf("database schema version %d, this rectify reads version %d", n, schemaVersion)
	}
}
