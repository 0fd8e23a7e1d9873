package bolt

import (
	"context"
	"encoding/binary"

	"fmt"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/jdz-eco/rectify/store/internal/index"
	"github.com/jdz-eco/rectify/workflow"
)

// Sweep returns the problems whose wake time is due at now, earliest first
// (ties in creation order), at most limit (DefaultDueLimit when not
// positive), each with the alerts now due under pol
// (workflow.PendingAlerts). It reads the wake index only: the facts the
// level computation needs are in its values (index.WakeFacts), so no
// problem record is decoded (but that of a problem whose value is missing or
// unreadable, which a database written before the values existed may hold
// until reopened read-write). A problem due with no alert pending (the policy changed) is
// returned with none.
func (s *Store) Sweep(ctx context.Context, now time.Time, pol workflow.Policy, limit int) ([]workflow.DueAlert, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if limit <= 0 {
		limit = DefaultDueLimit
	}
	out := []workflow.DueAlert{}
	until, ok := index.DueUntil(now)
	if !ok {
		return out, nil
	}
	sw := index.Sweeper{Now: now, Policy: pol}
	var read uint64
	err := s.view(func(tx *bbolt.Tx) error {
		c := tx.Bucket(bucketByWake).Cursor()
		for k, v := c.First(); k != nil && len(out) < limit; k, v = c.Next() {
			read++
			if len(k) != 16 {
				return fmt.Errorf("bolt: bad wake index key %x", k)
			}
			if binary.BigEndian.Uint64(k[:8]) > until {
				break
			}
			n := binary.BigEndian.Uint64(k[8:])
			alerts, ok := sw.Alerts(v)
			if !ok {
				s.sweepDecodes.Add(1)
				rec, err := s.getProblem(tx, n)
				if err != nil {
					return err
				}
				if rec == nil {
					return fmt.Errorf("bolt: the wake index names missing problem %d", n)
				}
				alerts = workflow.PendingAlerts(rec, now, pol)
			}
			out = append(out, workflow.DueAlert{ID: workflow.ProblemID(n), Alerts: alerts})
		}
		return nil
	})
	s.dueKeysRead.Add(read)
	if err != nil {
		return nil, err
	}
	return out, nil
}
