package bolttest

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"

	"github.com/jdz-eco/rectify/store/internal/rollup"
	"github.com/jdz-eco/rectify/workflow"
)

// The rollup buckets and meta keys (store/bolt/rollup.go).
var (
	bucketRollupFacts  = []byte("rollup_facts")
	bucketRollupLive   = []byte("rollup_live")
	bucketRollupDue    = []byte("rollup_due")
	bucketRollupSeries = []byte("rollup_series")
	keyRollupPolicy    = []byte("rollup_policy")
	keyRollupMark      = []byte("rollup_mark")
)

// RecountRollups counts the statistics' tallies afresh from the (forged)
// histories, under the policy the file records, and rewrites them with
// every problem's facts, the mark at the head's time: what a careful forger
// does so that the rollups agree with the history too.
func (f *File) RecountRollups() error {
	meta := f.tx.Bucket(bucketMeta)
	var pol workflow.Policy
	if err := json.Unmarshal(meta.Get(keyRollupPolicy), &pol); err != nil {
		return fmt.Errorf("no rollup policy: %w", err)
	}
	var head workflow.ChainHead
	if v := meta.Get(keyChainHead); v != nil {
		if err := json.Unmarshal(v, &head); err != nil {
			return err
		}
	}
	var mark int64
	if head.Seq > 0 {
		mark = head.At.UnixNano()
	}
	for _, name := range [][]byte{bucketRollupFacts, bucketRollupLive, bucketRollupDue, bucketRollupSeries} {
		if err := f.tx.DeleteBucket(name); err != nil {
			return err
		}
		if _, err := f.tx.CreateBucket(name); err != nil {
			return err
		}
	}
	facts := f.tx.Bucket(bucketRollupFacts)
	c, err := rollup.Recount(context.Background(), func(fn func(n uint64, hist []workflow.Entry) error) error {
		return f.tx.Bucket(bucketProblems).ForEach(func(k, _ []byte) error {
			n := binary.BigEndian.Uint64(k)
			hist, err := f.history(n)
			if err != nil {
				return err
			}
			return fn(n, hist)
		})
	}, pol, func(string) int64 { return mark }, func(n uint64, fs workflow.RollupFacts) error {
		if fs == workflow.NoRollupFacts {
			return nil
		}
		return facts.Put(key(n), rollup.EncodeFacts(fs))
	})
	if err != nil {
		return err
	}
	for _, e := range c.Entries() {
		group := append([]byte(e.Key.Scope), 0)
		group = append(append(group, e.Key.Grouping...), 0)
		var name, k []byte
		switch e.View {
		case rollup.Live:
			name, k = bucketRollupLive, append(group, e.Key.Value...)
		case rollup.Due:
			name, k = bucketRollupDue, append(key(uint64(e.At)^1<<63), append(group, e.Key.Value...)...)
		default:
			c := byte('d')
			if e.View == rollup.Months {
				c = 'm'
			}
			k = binary.BigEndian.AppendUint32(append(group, c), uint32(e.Period)^1<<31)
			name, k = bucketRollupSeries, append(k, e.Key.Value...)
		}
		if err := f.tx.Bucket(name).Put(k, rollup.EncodeTally(e.Tally)); err != nil {
			return err
		}
	}
	return meta.Put(keyRollupMark, key(uint64(mark)))
}

// history returns problem number n's entries in order.
func (f *File) history(n uint64) ([]workflow.Entry, error) {
	var hist []workflow.Entry
	c := f.tx.Bucket(bucketProblemHistory).Cursor()
	for k, _ := c.Seek(key(n)); k != nil && bytes.HasPrefix(k, key(n)); k, _ = c.Next() {
		e, err := f.Entry(binary.BigEndian.Uint64(k[8:]))
		if err != nil {
			return nil, err
		}
		hist = append(hist, e)
	}
	return hist, nil
}
