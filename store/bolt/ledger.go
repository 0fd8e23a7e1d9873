package bolt

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"

	bbolt "go.etcd.io/bbolt"

	"github.com/jdz-eco/rectify/store/bolt/internal/pack"
	"github.com/jdz-eco/rectify/workflow"
)

// getHead decodes the chain head; it is zero when the chain is empty.
func getHead(meta *bbolt.Bucket) (workflow.ChainHead, error) {
	var h workflow.ChainHead
	v := meta.Get(keyChainHead)
	if v == nil {
		return h, nil
	}
	if err := json.Unmarshal(v, &h); err != nil {
		return h, fmt.Errorf("bolt: decode chain head: %w", err)
	}
	return h, nil
}

func putHead(meta *bbolt.Bucket, h workflow.ChainHead) error {
	v, err := json.Marshal(h)
	if err != nil {
		return fmt.Errorf("bolt: encode chain head: %w", err)
	}
	if err := meta.Put(keyChainHead, v); err != nil {
		return fmt.Errorf("bolt: write chain head: %w", err)
	}
	return nil
}

// putEntry writes sealed entry e to the history and, if event, its key to
// the outbox (an outbox value is empty: the event is the history entry of
// its key).
func putEntry(hist, outbox *bbolt.Bucket, e workflow.Entry, event bool) error {
	v, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("encode history entry %d: %w", e.Seq, err)
	}
	if err := hist.Put(u64(e.Seq), pack.Value(v)); err != nil {
		return fmt.Errorf("write history entry %d: %w", e.Seq, err)
	}
	if !event {
		return nil
	}
	if err := outbox.Put(u64(e.Seq), []byte{}); err != nil {
		return fmt.Errorf("write event %d: %w", e.Seq, err)
	}
	return nil
}

// Head returns the newest entry of the hash chain as recorded with it, or the
// zero ChainHead when the history is empty.
func (s *Store) Head(ctx context.Context) (workflow.ChainHead, error) {
	if err := ctx.Err(); err != nil {
		return workflow.ChainHead{}, err
	}
	var h workflow.ChainHead
	err := s.view(func(tx *bbolt.Tx) error {
		var err error
		h, err = getHead(tx.Bucket(bucketMeta))
		return err
	})
	return h, err
}

// ForEachEntry calls fn with every history entry in key (sequence) order,
// all read in one read transaction: a consistent view of the chain. An entry
// that does not decode is passed with err set and only its Seq, taken from
// its key. fn runs inside that transaction and must not use the store (a
// nested transaction can deadlock against a writer); an error it returns
// stops the walk and is returned as is. It works on a read-only store.
func (s *Store) ForEachEntry(ctx context.Context, fn func(e workflow.Entry, err error) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.view(func(tx *bbolt.Tx) error {
		c := tx.Bucket(bucketHistory).Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			var (
				e   workflow.Entry
				err error
			)
			if len(k) == 8 {
				err = pack.Unmarshal(v, &e)
			} else {
				err = fmt.Errorf("bad history key %x", k)
			}
			if err != nil {
				e = workflow.Entry{}
				if len(k) == 8 {
					e.Seq = binary.BigEndian.Uint64(k)
				}
			}
			if err := fn(e, err); err != nil {
				return err
			}
		}
		return nil
	})
}

// ForEachProblem calls fn with every stored problem in number order, all read
// in one read transaction. The records are decoded first and fn is called
// after the transaction ends, so that fn may read the store (an audit reads
// each problem's history). An error fn returns stops the walk and is returned
// as is. It works on a read-only store.
func (s *Store) ForEachProblem(ctx context.Context, fn func(p *workflow.Problem) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	var problems []*workflow.Problem
	err := s.view(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketProblems).ForEach(func(k, v []byte) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			if len(k) != 8 {
				return fmt.Errorf("bolt: bad problem key %x", k)
			}
			var p workflow.Problem
			if err := pack.Unmarshal(v, &p); err != nil {
				return fmt.Errorf("bolt: decode problem %d: %w", binary.BigEndian.Uint64(k), err)
			}
			problems = append(problems, &p)
			return nil
		})
	})
	if err != nil {
		return err
	}
	for _, p := range problems {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(p); err != nil {
			return err
		}
	}
	return nil
}

// Backup writes a consistent snapshot of the whole database to w, as a bbolt
// file that Open reads, and returns the bytes written. It runs in one read
// transaction (Tx.WriteTo), so writers carry on meanwhile and the snapshot
// holds exactly the commands committed before it began. Cancelling ctx stops
// it at the next write to w.
func (s *Store) Backup(ctx context.Context, w io.Writer) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	var n int64
	err := s.view(func(tx *bbolt.Tx) error {
		var err error
		n, err = tx.WriteTo(ctxWriter{ctx: ctx, w: w})
		return err
	})
	if err != nil {
		return n, fmt.Errorf("bolt: backup: %w", err)
	}
	return n, nil
}

// ctxWriter fails writes once its context is done.
type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (c ctxWriter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.w.Write(p)
}
