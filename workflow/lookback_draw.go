package workflow

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"strconv"
	"time"
)

// History actions of the look-back (回头看): a problem drawn for a
// re-inspection, and an inspector confirming it stays rectified. Reopening
// (TriggerReopen) resolves a look-back as reopened.
const (
	ActionLookbackDrawn     = "lookback_drawn"
	ActionLookbackConfirmed = "lookback_confirmed"
)

// LookbackStatus is where a look-back task stands.
type LookbackStatus string

// Look-back statuses.
const (
	LookbackPending   LookbackStatus = "pending"   // 待回头看
	LookbackConfirmed LookbackStatus = "confirmed" // 回头看确认整改到位
	LookbackReopened  LookbackStatus = "reopened"  // 回头看发现反弹，重新整改
)

// TagLookback is the index tag of a problem with a pending look-back task:
// the inspectors' task list (ProblemFilter.Tag).
const TagLookback = "lookback"

// Lookback is a look-back task: the draw that chose the problem, with what
// replays it (the seed, the share, the period's candidates; DrawLookback),
// and its resolution.
type Lookback struct {
	PeriodStart time.Time      `json:"period_start"` // the closing period drawn from, [start, end)
	PeriodEnd   time.Time      `json:"period_end"`
	Seed        uint64         `json:"seed"`
	Share       float64        `json:"share"`
	Candidates  int            `json:"candidates"` // problems closed in the period
	Drawn       int            `json:"drawn"`      // problems drawn
	DrawnAt     time.Time      `json:"drawn_at"`
	Status      LookbackStatus `json:"status"`
	ResolvedBy  string         `json:"resolved_by,omitempty"`
	ResolvedAt  *time.Time     `json:"resolved_at,omitempty"`
	Note        string         `json:"note,omitempty"`
}

// resolve records the task's end by e.
func (l *Lookback) resolve(st LookbackStatus, e *Entry) {
	at := e.At
	l.Status, l.ResolvedBy, l.ResolvedAt = st, e.Actor.ID, &at
	l.Note = e.Params.Text
	if st == LookbackReopened {
		l.Note = e.Params.Reason
	}
}

// lookbackCursor names the store cursor holding the last period drawn
// (its number, periodNumber); lookbackSeedCursor(n) the seed of period n,
// kept before the draw so that a draw interrupted and run again is the
// same draw.
const lookbackCursor = "lookback"

func lookbackSeedCursor(n uint64) string { return "lookback-seed/" + strconv.FormatUint(n, 10) }

// LookbackPeriod returns the look-back period of months months (dividing
// 12) containing t, in Asia/Shanghai: [start, end).
func LookbackPeriod(t time.Time, months int) (start, end time.Time) {
	t = t.In(Shanghai)
	m := (int(t.Month())-1)/months*months + 1
	start = time.Date(t.Year(), time.Month(m), 1, 0, 0, 0, 0, Shanghai)
	return start, start.AddDate(0, months, 0)
}

// periodNumber numbers periods by their first month, from year 0.
func periodNumber(start time.Time) uint64 {
	return uint64(start.Year())*12 + uint64(start.Month())
}

// closedAt returns when p was last closed as rectified (its last close
// sign-off), false if it is not closed rectified.
func (p *Problem) closedAt() (time.Time, bool) {
	if p.State != StateClosed || p.Resolution != ResolutionRectified {
		return time.Time{}, false
	}
	for i := len(p.Signatures) - 1; i >= 0; i-- {
		if p.Signatures[i].Action == string(TriggerClose) {
			return p.Signatures[i].At, true
		}
	}
	return p.UpdatedAt, true
}

// errSkip tells a look-back command to write nothing.
var errSkip = errors.New("workflow: nothing to record")

// DrawLookbacks draws the look-back of the last period ended, once: the
// scanner calls it (on etcd, the leader only). The period's seed is
// drawn at random and kept in the store before the draw, so that an
// interrupted draw run again is the same; each problem drawn gets an
// ActionLookbackDrawn entry carrying the seed, the share and the number of
// candidates, from which DrawLookback replays the draw. It returns how
// many problems it drew now (0 when the period was drawn already, or
// look-backs are off).
func (s *Service) DrawLookbacks(ctx context.Context) (int, error) {
	cfg := s.EvidencePolicy()
	if cfg.LookbackMonths == 0 {
		return 0, nil
	}
	now := s.clock.Now()
	cur, _ := LookbackPeriod(now, cfg.LookbackMonths)
	start := cur.AddDate(0, -cfg.LookbackMonths, 0)
	n := periodNumber(start)
	done, err := s.store.Cursor(ctx, lookbackCursor)
	if err != nil || done >= n {
		return 0, err
	}
	seed, err := s.store.Cursor(ctx, lookbackSeedCursor(n))
	if err != nil {
		return 0, err
	}
	if seed == 0 {
		var b [8]byte
		for seed == 0 {
			_, _ = rand.Read(b[:])
			seed = binary.BigEndian.Uint64(b[:])
		}
		if err := s.store.SetCursor(ctx, lookbackSeedCursor(n), seed); err != nil {
			return 0, err
		}
	}
	var cands []LookbackCandidate
	cursor := ""
	for {
		items, next, err := s.store.Problems(ctx, ProblemFilter{State: StateClosed, Cursor: cursor, Limit: MaxLimit})
		if err != nil {
			return 0, err
		}
		for _, p := range items {
			if at, ok := p.closedAt(); ok && !at.Before(start) && at.Before(cur) {
				cands = append(cands, LookbackCandidate{ID: p.ID, CountyID: p.CountyID})
			}
		}
		if next == "" {
			break
		}
		cursor = next
	}
	drawn, err := DrawLookback(cands, cfg.LookbackShare, seed)
	if err != nil {
		return 0, err
	}
	l := Lookback{PeriodStart: start.UTC(), PeriodEnd: cur.UTC(), Seed: seed, Share: cfg.LookbackShare,
		Candidates: len(cands), Drawn: len(drawn), DrawnAt: now, Status: LookbackPending}
	count := 0
	for _, id := range drawn {
		_, err := s.command(ctx, systemActor, id, 0, func(p *Problem) (Entry, error) {
			if p.Lookback != nil && p.Lookback.PeriodStart.Equal(l.PeriodStart) || p.State != StateClosed {
				return Entry{}, errSkip // drawn before an interruption, or reopened since
			}
			task := l
			return Entry{At: now, Actor: systemActor, Action: ActionLookbackDrawn, From: p.State, To: p.State, Params: Params{Lookback: &task}}, nil
		})
		switch {
		case errors.Is(err, errSkip):
		case err != nil:
			return count, err
		default:
			count++
		}
	}
	return count, s.store.SetCursor(ctx, lookbackCursor, n)
}

// ConfirmLookback resolves problem id's pending look-back as confirmed:
// an inspector found the rectification holds. Finding it does not,
// the inspector reopens the problem (TriggerReopen), which resolves the
// task as reopened.
func (s *Service) ConfirmLookback(ctx context.Context, a Actor, id, note string, ifVersion uint64) (*Problem, error) {
	note, err := ValidateNote(note)
	if err != nil {
		return nil, err
	}
	now := s.clock.Now()
	return s.command(ctx, a, id, ifVersion, func(p *Problem) (Entry, error) {
		if a.Role != RoleInspector { // after the visibility check of command
			return Entry{}, Refuse(ReasonRole, "only inspectors resolve look-back tasks")
		}
		if p.Lookback == nil || p.Lookback.Status != LookbackPending {
			return Entry{}, Refuse(ReasonNoLookback, "problem %s has no pending look-back task", p.ID).InState(p.State, s.PermittedTriggers(a, p))
		}
		return Entry{At: now, Actor: a, Action: ActionLookbackConfirmed, From: p.State, To: p.State, Params: Params{Text: note}}, nil
	})
}
