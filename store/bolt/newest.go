package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strconv"

	"go.etcd.io/bbolt"

	"github.com/jdz-eco/rectify/store/bolt/internal/pack"
	"github.com/jdz-eco/rectify/workflow"
)

// NewestEntries implements workflow.NewestEntries in one read transaction:
// for each problem it walks the per-problem history index backwards from
// the problem's last entry, reads only the version and action of each entry
// it passes (pack.Scan stops after them) and decodes the first that
// matches.
func (s *Store) NewestEntries(ctx context.Context, action string, probs []*workflow.Problem) ([]*workflow.Entry, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	want, err := json.Marshal(action)
	if err != nil {
		return nil, err
	}
	out := make([]*workflow.Entry, len(probs))
	err = s.view(func(tx *bbolt.Tx) error {
		hist := tx.Bucket(bucketHistory)
		c := tx.Bucket(bucketProblemHistory).Cursor()
		for i, p := range probs {
			n, ok := workflow.ParseProblemID(p.ID)
			if !ok {
				return notFound(p.ID)
			}
			e, err := newestEntry(c, hist, n, want, p.Version)
			if err != nil {
				return err
			}
			out[i] = e
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// newestEntry returns the newest entry of problem number n whose action's
// JSON text is action and whose version is at most version, or nil.
func newestEntry(c *bbolt.Cursor, hist *bbolt.Bucket, n uint64, action []byte, version uint64) (*workflow.Entry, error) {
	prefix := u64(n)
	k, _ := c.Seek(u64(n + 1))
	if k == nil {
		k, _ = c.Last()
	} else {
		k, _ = c.Prev()
	}
	for ; k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Prev() {
		seq := binary.BigEndian.Uint64(k[8:])
		v := hist.Get(k[8:])
		if v == nil {
			return nil, fmt.Errorf("bolt: history entry %d of problem %d is missing", seq, n)
		}
		var ver uint64
		verOK, match := false, false
		err := pack.Scan(v, func(name, value []byte) bool {
			switch string(name) {
			case "version":
				ver, verOK = parseUint(value)
			case "action":
				match = bytes.Equal(value, action)
				return false // an entry's version comes before its action
			}
			return true
		})
		if err != nil {
			return nil, fmt.Errorf("bolt: decode history entry %d: %w", seq, err)
		}
		if !match || (verOK && ver > version) {
			continue
		}
		var e workflow.Entry
		if err := pack.Unmarshal(v, &e); err != nil {
			return nil, fmt.Errorf("bolt: decode history entry %d: %w", seq, err)
		}
		if e.Version <= version { // the version is read whole when it comes after the action
			return &e, nil
		}
	}
	return nil, nil
}

func parseUint(b []byte) (uint64, bool) {
	v, err := strconv.ParseUint(string(b), 10, 64)
	return v, err == nil
}
