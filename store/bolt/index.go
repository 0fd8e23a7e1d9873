package bolt

import (
	"bytes"
	"encoding/binary"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/jdz-eco/rectify/workflow"
)

// u64 returns n as an 8-byte big-endian key.
func u64(n uint64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, n)
	return b
}

// indexPrefix returns the key prefix of every problem indexed under value.
func indexPrefix(value string) []byte {
	b := make([]byte, 0, len(value)+1+8)
	b = append(b, value...)
	return append(b, 0)
}

// indexKey returns value ‖ 0x00 ‖ n, so that the problems indexed under one
// value sort in creation order.
func indexKey(value string, n uint64) []byte {
	return binary.BigEndian.AppendUint64(indexPrefix(value), n)
}

// deadlineKey returns the deadline's unix seconds ‖ n; deadlines before 1970
// (which the domain refuses anyway) sort first.
func deadlineKey(t time.Time, n uint64) []byte {
	secs := max(t.Unix(), 0)
	b := make([]byte, 0, 16)
	b = binary.BigEndian.AppendUint64(b, uint64(secs))
	return binary.BigEndian.AppendUint64(b, n)
}

// wakeSeconds returns the second from which a problem that wakes at t is due:
// t rounded up to a whole second, so that the wake index never hands out a
// problem before its WakeAt (a wake time of 10:00:00.5 is due from 10:00:01).
// Times before 1970 are due from the epoch.
func wakeSeconds(t time.Time) uint64 {
	secs := t.Unix()
	if t.Nanosecond() > 0 {
		secs++
	}
	return uint64(max(secs, 0))
}

// wakeKey returns wakeSeconds(t) ‖ n, the key of the wake index.
func wakeKey(t time.Time, n uint64) []byte {
	b := make([]byte, 0, 16)
	b = binary.BigEndian.AppendUint64(b, wakeSeconds(t))
	return binary.BigEndian.AppendUint64(b, n)
}

// historyKey returns problem number ‖ seq, the key of the per-problem history
// index.
func historyKey(n, seq uint64) []byte {
	b := make([]byte, 0, 16)
	b = binary.BigEndian.AppendUint64(b, n)
	return binary.BigEndian.AppendUint64(b, seq)
}

// indexEntry is one key of one secondary index bucket, with its value
// (empty but in the wake index).
type indexEntry struct {
	bucket string
	key    string
	value  string
}

// indexEntries returns the secondary index keys of problem number n.
func indexEntries(p *workflow.Problem, n uint64) map[indexEntry]struct{} {
	m := make(map[indexEntry]struct{}, 4+len(p.CooperatingUnits))
	add := func(bucket []byte, key []byte) {
		m[indexEntry{bucket: string(bucket), key: string(key)}] = struct{}{}
	}
	if p.State != "" {
		add(bucketByState, indexKey(string(p.State), n))
	}
	if p.LeadUnit != "" {
		add(bucketByLeadUnit, indexKey(p.LeadUnit, n))
	}
	if p.CountyID != "" {
		add(bucketByCounty, indexKey(p.CountyID, n))
	}
	for _, u := range p.Units() {
		if u != "" {
			add(bucketByUnit, indexKey(u, n))
		}
	}
	if p.Deadline != nil {
		add(bucketByDeadline, deadlineKey(*p.Deadline, n))
	}
	for e := range supervisionEntries(p, n) {
		m[e] = struct{}{}
	}
	for e := range evidenceEntries(p, n) {
		m[e] = struct{}{}
	}
	return m
}

// evidenceEntries returns the evidence index keys of problem number n, one
// per file it holds (Problem.EvidenceHashes), the part of its index keys that
// the layout of index_evidence added.
func evidenceEntries(p *workflow.Problem, n uint64) map[indexEntry]struct{} {
	hashes := p.EvidenceHashes()
	m := make(map[indexEntry]struct{}, len(hashes))
	for _, sha := range hashes {
		if sha != "" {
			m[indexEntry{bucket: string(bucketByEvidence), key: string(indexKey(sha, n))}] = struct{}{}
		}
	}
	return m
}

// supervisionEntries returns the wake and tag index keys of problem number n,
// the part of its index keys that the layout of index_v2 added.
func supervisionEntries(p *workflow.Problem, n uint64) map[indexEntry]struct{} {
	tags := p.Tags()
	m := make(map[indexEntry]struct{}, 1+len(tags))
	if w := p.Supervision.WakeAt; w != nil {
		m[indexEntry{bucket: string(bucketByWake), key: string(wakeKey(*w, n)), value: string(wakeValue(p))}] = struct{}{}
	}
	for _, tag := range tags {
		if tag != "" {
			m[indexEntry{bucket: string(bucketByTag), key: string(indexKey(tag, n))}] = struct{}{}
		}
	}
	return m
}

// updateIndexes moves problem number n's index keys from those of old to those
// of p, deleting and putting only the keys that changed. old is nil for a new
// problem.
func updateIndexes(tx *bbolt.Tx, n uint64, old, p *workflow.Problem) error {
	dels, puts := indexDiff(n, old, p)
	return applyIndexDiff(tx, n, dels, puts)
}

// scanIndex calls fn with the number of every problem indexed under prefix,
// in creation order, starting after problem number after, until fn returns
// stop or an error.
func scanIndex(b *bbolt.Bucket, prefix []byte, after uint64, fn func(n uint64) (stop bool, err error)) error {
	c := b.Cursor()
	seek := binary.BigEndian.AppendUint64(bytes.Clone(prefix), after+1)
	for k, _ := c.Seek(seek); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		// A longer key belongs to another value that merely starts with
		// this one's bytes and separator.
		if len(k) != len(prefix)+8 {
			continue
		}
		stop, err := fn(binary.BigEndian.Uint64(k[len(prefix):]))
		if err != nil || stop {
			return err
		}
	}
	return nil
}

// chooseIndex returns the name of the most selective index bucket f can use
// and the key prefix of its value, or a nil name when f names no indexed
// field. An evidence file comes first (it is normally held by one problem),
// then an alert tag: few problems carry one, while a unit or state may cover
// a good part of the ledger.
func chooseIndex(f *workflow.ProblemFilter) (bucket, prefix []byte) {
	switch {
	case f.Evidence != "":
		return bucketByEvidence, indexPrefix(f.Evidence)
	case f.Tag != "":
		return bucketByTag, indexPrefix(f.Tag)
	case f.Unit != "":
		return bucketByUnit, indexPrefix(f.Unit)
	case f.LeadUnit != "":
		return bucketByLeadUnit, indexPrefix(f.LeadUnit)
	case f.County != "":
		return bucketByCounty, indexPrefix(f.County)
	case f.State != "":
		return bucketByState, indexPrefix(string(f.State))
	}
	return nil, nil
}

// indexCheck is an index predicate checked by key: problem number n passes
// when b holds prefix ‖ n.
type indexCheck struct {
	b      *bbolt.Bucket
	prefix []byte
}

// indexChecks returns the predicates of f on indexes other than the one
// walked (named walked), each true of a problem exactly when the record
// matches it (the indexes hold exactly the records' keys).
func indexChecks(tx *bbolt.Tx, f *workflow.ProblemFilter, walked []byte) []indexCheck {
	var out []indexCheck
	add := func(name []byte, value string) {
		if value != "" && string(name) != string(walked) {
			// The prefix gets the number appended: keep room so that each
			// check appends into a fresh copy.
			out = append(out, indexCheck{b: tx.Bucket(name), prefix: indexPrefix(value)[: len(value)+1 : len(value)+1]})
		}
	}
	add(bucketByEvidence, f.Evidence)
	add(bucketByTag, f.Tag)
	add(bucketByUnit, f.Unit)
	add(bucketByLeadUnit, f.LeadUnit)
	add(bucketByCounty, f.County)
	add(bucketByState, string(f.State))
	return out
}
