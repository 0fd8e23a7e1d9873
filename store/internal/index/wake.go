package index

import (
	"encoding/binary"
	"errors"
	"time"

	"github.com/jdz-eco/rectify/workflow"
)

// Each entry of the wake index carries what the level computation needs
// (workflow.Problem.LevelAt and the stage clock): the problem's state,
// deadline, paused time, recorded level and stage clock. A sweep can then
// tell which problems are due and for which alerts without decoding a
// single problem record (Sweep).
//
// Layout (version 1), integers big-endian; both stores store it as it is:
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
// representable; a problem with one gets empty facts, and a sweep reads its
// record instead, as it does for an entry written before the facts existed.
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

// WakeFacts returns the facts p's wake index entry carries (see above), or
// nil when they cannot be encoded.
func WakeFacts(p *workflow.Problem) []byte {
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

// ErrWakeFacts means a wake index entry carries no facts that can be read.
var ErrWakeFacts = errors.New("bad wake index facts")

// ReadWakeFacts decodes wake index facts into p: the fields the level
// computation reads; the others stay as they were. Facts it cannot read
// (empty ones included) are ErrWakeFacts.
func ReadWakeFacts(v []byte, p *workflow.Problem) error {
	if len(v) < 2+3+32 || v[0] != wakeFormat {
		return ErrWakeFacts
	}
	flags := v[1]
	v = v[2:]
	var strs [3]string
	for i := range strs {
		if len(v) < 1 || len(v) < 1+int(v[0]) {
			return ErrWakeFacts
		}
		strs[i] = string(v[1 : 1+int(v[0])])
		v = v[1+int(v[0]):]
	}
	if len(v) != 32 {
		return ErrWakeFacts
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

// Sweeper turns wake index entries into the alerts due at Now under Policy
// (workflow.PendingAlerts), from their facts alone; both stores' Sweep use
// it. The zero value is not usable: set Now and Policy.
type Sweeper struct {
	Now    time.Time
	Policy workflow.Policy
	p      workflow.Problem // reused: only the facts' fields are read
}

// Alerts returns the alerts due for the problem whose wake entry carries
// facts, and false when the facts cannot be read: the store must then read
// the record and call workflow.PendingAlerts on it.
func (sw *Sweeper) Alerts(facts []byte) ([]string, bool) {
	if ReadWakeFacts(facts, &sw.p) != nil {
		return nil, false
	}
	return workflow.PendingAlerts(&sw.p, sw.Now, sw.Policy), true
}
