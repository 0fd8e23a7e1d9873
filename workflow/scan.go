package workflow

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"
)

// scanBatch bounds one read of the wake index.
const scanBatch = 1000

// scanWorkers bounds the alert updates a scan runs at once. A store that
// commits concurrent commands together (bbolt's group commit) then records
// many alerts per transaction and fsync instead of one each.
const scanWorkers = 64

// errNothingDue aborts a scan's write when a problem turned out to have no
// alert due (a command rescheduled it meanwhile, or the policy changed).
var errNothingDue = errors.New("nothing due")

// Scan records every alert now due and returns how many entries it
// recorded (level changes, stage breaches, and the write-offs of problems
// whose public notice ended with no objection open). It reads only the problems the wake index says
// are due at or before now, so its cost grows with the number due, not with
// the ledger. The updates of one batch run concurrently (scanWorkers at
// once), each in its own command. Running it again, or after a restart,
// records nothing new.
func (s *Service) Scan(ctx context.Context) (int, error) {
	now := s.clock.Now()
	pol := s.Policy()
	changes := 0
	for {
		ids, err := s.store.Due(ctx, now, scanBatch)
		if err != nil {
			return changes, err
		}
		progress, err := s.scanAll(ctx, ids, pol)
		changes += progress
		if err != nil {
			return changes, err
		}
		// A full batch that changed nothing would come back the same: stop.
		if len(ids) < scanBatch || progress == 0 {
			return changes, nil
		}
	}
}

// scanAll records the alerts due on the problems ids, up to scanWorkers at a
// time, and returns how many it recorded. The first error stops it.
func (s *Service) scanAll(ctx context.Context, ids []string, pol Policy) (int, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		changes  int
		firstErr error
		work     = make(chan string)
	)
	for range min(scanWorkers, len(ids)) {
		wg.Go(func() {
			for id := range work {
				n, err := s.scanOne(ctx, id, pol)
				mu.Lock()
				changes += n
				if err != nil && firstErr == nil {
					firstErr = err
					cancel()
				}
				mu.Unlock()
			}
		})
	}
feed:
	for _, id := range ids {
		select {
		case work <- id:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	if firstErr == nil {
		firstErr = ctx.Err()
	}
	return changes, firstErr
}

func (s *Service) scanOne(ctx context.Context, id string, pol Policy) (int, error) {
	now := s.clock.Now()
	var recorded int
	_, err := s.store.UpdateProblem(ctx, id, func(p *Problem) ([]Entry, error) {
		// A notice that ended with no objection open closes the problem.
		entries, err := endNoticeEntries(ctx, p, now)
		if err != nil {
			return nil, err
		}
		entries = append(entries, supervise(p, now, pol)...)
		if len(entries) == 0 {
			return nil, errNothingDue
		}
		stamp(p, entries)
		recorded = len(entries)
		return entries, nil
	})
	switch {
	case errors.Is(err, errNothingDue) || ErrorCode(err) == CodeNotFound:
		return 0, nil
	case err != nil:
		return 0, err
	}
	return recorded, nil
}

// Alert is one current alert: a problem at a deadline level or with a
// breached stage clock.
type Alert struct {
	Kind    string   // a Level, AlertAcceptLate or AlertVerifyLate
	Problem *Problem //
}

// AlertKinds lists alert kinds, most severe first: the order of the alert list.
var AlertKinds = []string{
	string(LevelListed), string(LevelRed), string(LevelOverdue),
	AlertVerifyLate, AlertAcceptLate, string(LevelDueSoon),
}

// AlertFilter selects current alerts.
type AlertFilter struct {
	Kind     string // one of AlertKinds; empty for all
	LeadUnit string
	County   string
}

// Alerts lists the current alerts a may see, most severe first, as the
// scanner last recorded them.
func (s *Service) Alerts(ctx context.Context, a Actor, f AlertFilter) ([]Alert, error) {
	kinds := AlertKinds
	if f.Kind != "" {
		if !isAlertKind(f.Kind) {
			return nil, RefuseField(ReasonUnknownValue, "level", "unknown level %q; one of %v", f.Kind, AlertKinds)
		}
		kinds = []string{f.Kind}
	}
	out := []Alert{}
	for _, k := range kinds {
		cursor := ""
		for {
			items, next, err := s.Problems(ctx, a, ProblemFilter{Tag: k, LeadUnit: f.LeadUnit, County: f.County, Cursor: cursor, Limit: MaxLimit})
			if err != nil {
				return nil, err
			}
			for _, p := range items {
				out = append(out, Alert{Kind: k, Problem: p})
			}
			if next == "" {
				break
			}
			cursor = next
		}
	}
	return out, nil
}

func isAlertKind(k string) bool { return slices.Contains(AlertKinds, k) }

// ScanAs runs Scan on demand for actor a: the bureau or an admin.
func (s *Service) ScanAs(ctx context.Context, a Actor) (int, error) {
	if err := needRole("scan deadlines", a, RoleBureau, RoleAdmin); err != nil {
		return 0, err
	}
	return s.Scan(ctx)
}

// DueAlert is a problem the deadline index says is due, with the alerts
// (a Level or a stage breach, AlertAcceptLate or AlertVerifyLate) a scan at
// that time would record on it.
type DueAlert struct {
	ID     string
	Alerts []string
}

// PendingAlerts returns the alerts a scan would record on p at now under
// pol: the deadline level reached, if above the one recorded, and the
// breach of a running stage clock. It reads only p's state, deadline and
// supervision record (what a deadline index can carry) and changes nothing.
func PendingAlerts(p *Problem, now time.Time, pol Policy) []string {
	var out []string
	sv := &p.Supervision
	if l := p.LevelAt(now, pol); l.rank() > sv.Level.rank() {
		out = append(out, string(l))
	}
	if sv.Stage != "" && !sv.StageLate && sv.StageDue != nil && now.After(*sv.StageDue) {
		out = append(out, stageAlert(sv.Stage))
	}
	return out
}

// DueAlerts lists the problems due now with the alerts a scan would record,
// without recording them: from the deadline index alone when the store is
// a Sweeper, otherwise by reading each due problem. At most limit
// (scanBatch when not positive).
func (s *Service) DueAlerts(ctx context.Context, limit int) ([]DueAlert, error) {
	now, pol := s.clock.Now(), s.Policy()
	if limit <= 0 {
		limit = scanBatch
	}
	if sw, ok := s.store.(Sweeper); ok {
		return sw.Sweep(ctx, now, pol, limit)
	}
	ids, err := s.store.Due(ctx, now, limit)
	if err != nil {
		return nil, err
	}
	out := make([]DueAlert, 0, len(ids))
	for _, id := range ids {
		p, err := s.store.Problem(ctx, id)
		if ErrorCode(err) == CodeNotFound {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, DueAlert{ID: id, Alerts: PendingAlerts(p, now, pol)})
	}
	return out, nil
}
