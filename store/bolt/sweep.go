package bolt

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/jdz-eco/rectify/workflow"
)

// The wake index carries, as the value of each key, what the level
// computation needs (workflow.Problem.LevelAt and the stage clock): the
// problem's state, deadline, paused time, recorded level and stage clock.
// A sweep can then tell which problems are due and for which alerts without
// decoding a single problem record.
//
// Value layout (version 1), integers big-endian:
//
//	1 byte   format version (wakeFormat)
//	1 byte   flags: 1 deadline set, 2 paused_at set, 4 stage_due set, 8 stage_late
//	3 × (1 byte length, bytes): state, level, stage
//	8 bytes  deadline, unix nanoseconds
//	8 bytes  paused seconds
//	8 bytes  paused_at, unix nanoseconds
//	8 bytes  stage_due, unix nanoseconds
//
// Times outside the range of unix nanoseconds (years 1678 to 2262) are not
// representable; a problem with one gets an empty value, and a sweep reads
// its record instead.
const wakeFormat = 1

const (
	wakeHasDeadline = 1 << iota
	wakeHasPausedAt
	wakeHasStageDue
	wakeStageLate
)

var (
	minNano = time.Unix(0, -1<<63)
	maxNano = time.Unix(0, 1<<63-1)
)

func nanoOK(t *time.Time) bool {
	return t == nil || (!t.Before(minNano) && !t.After(maxNano))
}

// wakeValue returns the wake index value of p (see above).
func wakeValue(p *workflow.Problem) []byte {
	sv := &p.Supervision
	if !nanoOK(p.Deadline) || !nanoOK(sv.PausedAt) || !nanoOK(sv.StageDue) ||
		len(p.State) > 255 || len(sv.Level) > 255 || len(sv.Stage) > 255 {
		return nil
	}
	b := make([]byte, 0, 2+3+len(p.State)+len(sv.Level)+len(sv.Stage)+32)
	var flags byte
	var deadline, pausedAt, stageDue int64
	if p.Deadline != nil {
		flags |= wakeHasDeadline
		deadline = p.Deadline.UnixNano()
	}
	if sv.PausedAt != nil {
		flags |= wakeHasPausedAt
		pausedAt = sv.PausedAt.UnixNano()
	}
	if sv.StageDue != nil {
		flags |= wakeHasStageDue
		stageDue = sv.StageDue.UnixNano()
	}
	if sv.StageLate {
		flags |= wakeStageLate
	}
	b = append(b, wakeFormat, flags)
	for _, s := range []string{string(p.State), string(sv.Level), string(sv.Stage)} {
		b = append(b, byte(len(s)))
		b = append(b, s...)
	}
	for _, v := range []int64{deadline, sv.PausedSeconds, pausedAt, stageDue} {
		b = binary.BigEndian.AppendUint64(b, uint64(v))
	}
	return b
}

var errWakeValue = errors.New("bad wake index value")

// wakeFacts decodes a wake index value into p: the fields the level
// computation reads; the others stay as they were. A value it cannot read
// is errWakeValue.
func wakeFacts(v []byte, p *workflow.Problem) error {
	if len(v) < 2+3+32 || v[0] != wakeFormat {
		return errWakeValue
	}
	flags := v[1]
	v = v[2:]
	var strs [3]string
	for i := range strs {
		if len(v) < 1 || len(v) < 1+int(v[0]) {
			return errWakeValue
		}
		strs[i] = string(v[1 : 1+int(v[0])])
		v = v[1+int(v[0]):]
	}
	if len(v) != 32 {
		return errWakeValue
	}
	num := func(i int) int64 { return int64(binary.BigEndian.Uint64(v[8*i:])) }
	at := func(i int, flag byte, dst **time.Time) {
		*dst = nil
		if flags&flag != 0 {
			t := time.Unix(0, num(i)).UTC()
			*dst = &t
		}
	}
	p.State, p.Supervision.Level, p.Supervision.Stage = workflow.State(strs[0]), workflow.Level(strs[1]), workflow.Stage(strs[2])
	at(0, wakeHasDeadline, &p.Deadline)
	p.Supervision.PausedSeconds = num(1)
	at(2, wakeHasPausedAt, &p.Supervision.PausedAt)
	at(3, wakeHasStageDue, &p.Supervision.StageDue)
	p.Supervision.StageLate = flags&wakeStageLate != 0
	return nil
}

var _ workflow.Sweeper = (*Store)(nil)

// Sweep returns the problems whose wake time is due at now, earliest first
// (ties in creation order), at most limit (DefaultDueLimit when not
// positive), each with the alerts now due under pol
// (workflow.PendingAlerts). It reads the wake index only: the facts the
// level computation needs are in its values, so no problem record is decoded
// (but that of a problem whose value is missing or unreadable, which a
// database written before the values existed may hold until reopened
// read-write). A problem due with no alert pending (the policy changed) is
// returned with none.
func (s *Store) Sweep(ctx context.Context, now time.Time, pol workflow.Policy, limit int) ([]workflow.DueAlert, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if limit <= 0 {
		limit = DefaultDueLimit
	}
	out := []workflow.DueAlert{}
	if now.Unix() < 0 {
		return out, nil
	}
	until := uint64(now.Unix())
	var read uint64
	err := s.view(func(tx *bbolt.Tx) error {
		c := tx.Bucket(bucketByWake).Cursor()
		var p workflow.Problem
		for k, v := c.First(); k != nil && len(out) < limit; k, v = c.Next() {
			read++
			if len(k) != 16 {
				return fmt.Errorf("bolt: bad wake index key %x", k)
			}
			if binary.BigEndian.Uint64(k[:8]) > until {
				break
			}
			n := binary.BigEndian.Uint64(k[8:])
			if err := wakeFacts(v, &p); err != nil {
				s.sweepDecodes.Add(1)
				rec, err := s.getProblem(tx, n)
				if err != nil {
					return err
				}
				if rec == nil {
					return fmt.Errorf("bolt: the wake index names missing problem %d", n)
				}
				p = *rec
			}
			out = append(out, workflow.DueAlert{ID: workflow.ProblemID(n), Alerts: workflow.PendingAlerts(&p, now, pol)})
		}
		return nil
	})
	s.dueKeysRead.Add(read)
	if err != nil {
		return nil, err
	}
	return out, nil
}
