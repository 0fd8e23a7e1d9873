package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"

	bbolt "go.etcd.io/bbolt"

	"github.com/jdz-eco/rectify/store/bolt/internal/pack"
	"github.com/jdz-eco/rectify/store/internal/check"
	"github.com/jdz-eco/rectify/workflow"
)

// Page sizes of Events, as the domain sets them.
const (
	DefaultEventLimit = workflow.DefaultEventLimit
	MaxEventLimit     = workflow.MaxEventLimit
)

// Events returns the outbox events with Seq greater than after, in order, at
// most limit (DefaultEventLimit when not positive, MaxEventLimit at most).
// The outbox holds every history entry written since the outbox existed
// (schema version 2); the store never deletes events.
func (s *Store) Events(ctx context.Context, after uint64, limit int) ([]workflow.Event, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	limit = workflow.EventLimit(limit)
	events := []workflow.Event{}
	if after == math.MaxUint64 {
		return events, nil
	}
	err := s.view(func(tx *bbolt.Tx) error {
		hist := tx.Bucket(bucketHistory)
		c := tx.Bucket(bucketOutbox).Cursor()
		for k, v := c.Seek(u64(after + 1)); k != nil && len(events) < limit; k, v = c.Next() {
			if len(k) != 8 {
				return fmt.Errorf("bolt: bad outbox key %x", k)
			}
			seq := binary.BigEndian.Uint64(k)
			if len(v) > 0 {
				// Written before schema version 4: the event in full.
				var ev workflow.Event
				if err := json.Unmarshal(v, &ev); err != nil {
					return fmt.Errorf("bolt: decode event %d: %w", seq, err)
				}
				events = append(events, ev)
				continue
			}
			ev := workflow.Event{ID: workflow.EventID(seq), Seq: seq}
			hv := hist.Get(k)
			if hv == nil {
				return fmt.Errorf("bolt: event %d has no history entry", seq)
			}
			if err := pack.Unmarshal(hv, &ev.Entry); err != nil {
				return fmt.Errorf("bolt: decode history entry %d: %w", seq, err)
			}
			events = append(events, ev)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return events, nil
}

// Cursor returns the outbox sequence number consumer name last recorded, or 0.
func (s *Store) Cursor(ctx context.Context, name string) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if err := check.CursorName(name); err != nil {
		return 0, err
	}
	var seq uint64
	err := s.view(func(tx *bbolt.Tx) error {
		v := tx.Bucket(bucketCursors).Get([]byte(name))
		switch {
		case v == nil:
		case len(v) != 8:
			return fmt.Errorf("bolt: bad cursor %q", name)
		default:
			seq = binary.BigEndian.Uint64(v)
		}
		return nil
	})
	return seq, err
}

// SetCursor records seq as consumer name's position in the outbox, whatever
// it was before: the consumer decides whether it may move back.
func (s *Store) SetCursor(ctx context.Context, name string, seq uint64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := check.CursorName(name); err != nil {
		return err
	}
	return s.update(ctx, func(tx *bbolt.Tx) error {
		if err := tx.Bucket(bucketCursors).Put([]byte(name), u64(seq)); err != nil {
			return fmt.Errorf("bolt: write cursor %q: %w", name, err)
		}
		return nil
	})
}

// PutCalendar stores the calendar file of year as given, replacing any
// earlier one. The store does not parse it.
func (s *Store) PutCalendar(ctx context.Context, year int, data []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	v := bytes.Clone(data)
	if v == nil {
		v = []byte{}
	}
	return s.update(ctx, func(tx *bbolt.Tx) error {
		if err := tx.Bucket(bucketCalendars).Put(u64(uint64(int64(year))), v); err != nil {
			return fmt.Errorf("bolt: write calendar %d: %w", year, err)
		}
		return nil
	})
}

// Calendars returns every stored calendar file by year, as copies.
func (s *Store) Calendars(ctx context.Context) (map[int][]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out := map[int][]byte{}
	err := s.view(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketCalendars).ForEach(func(k, v []byte) error {
			if len(k) != 8 {
				return fmt.Errorf("bolt: bad calendar key %x", k)
			}
			out[int(int64(binary.BigEndian.Uint64(k)))] = bytes.Clone(v)
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
