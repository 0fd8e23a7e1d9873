package workflow

import (
	"context"
	"errors"
	"slices"
)

// scanBatch bounds one read of the wake index.
const scanBatch = 1000

// errNothingDue aborts a scan's write when a problem turned out to have no
// alert due (a command rescheduled it meanwhile, or the policy changed).
var errNothingDue = errors.New("nothing due")

// Scan records every alert now due and returns how many it recorded (level
// changes and stage breaches). It reads only the problems the wake index says
// are due at or before now, so its cost grows with the number due, not with
// the ledger. Running it again, or after a restart, records nothing new.
func (s *Service) Scan(ctx context.Context) (int, error) {
	now := s.clock.Now()
	pol := s.Policy()
	changes := 0
	for {
		ids, err := s.store.Due(ctx, now, scanBatch)
		if err != nil {
			return changes, err
		}
		progress := 0
		for _, id := range ids {
			n, err := s.scanOne(ctx, id, pol)
			if err != nil {
				return changes, err
			}
			changes += n
			progress += n
		}
		// A full batch that changed nothing would come back the same: stop.
		if len(ids) < scanBatch || progress == 0 {
			return changes, nil
		}
	}
}

func (s *Service) scanOne(ctx context.Context, id string, pol Policy) (int, error) {
	now := s.clock.Now()
	var recorded int
	_, err := s.store.UpdateProblem(ctx, id, func(p *Problem) ([]Entry, error) {
		alerts := supervise(p, now, pol)
		if len(alerts) == 0 {
			return nil, errNothingDue
		}
		stamp(p, alerts)
		recorded = len(alerts)
		return alerts, nil
	})
	if errors.Is(err, errNothingDue) || ErrorCode(err) == CodeNotFound {
		return 0, nil
	}
	return recorded, err
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
			return nil, Invalid("level", "unknown level %q; one of %v", f.Kind, AlertKinds)
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
