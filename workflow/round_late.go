package workflow

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"
)

// routineActor records what the server's routine does on its own: the
// rounds it opens on a schedule and the report_late alerts.
var routineActor = Actor{ID: "system", Name: "日常调度", Role: RoleSystem}

// errAlerted aborts a report_late alert whose item has a report or an alert
// by the time it is written.
var errAlerted = errors.New("report filed or alert recorded meanwhile")

// RecordLateReports records a report_late alert (an ActionAlert entry of
// the problem or the work point, against the unit that owes the report) for
// every report still missing in every round that has fallen due, once each:
// an item whose round entries hold a report or the alert gets none, so
// running it again, or after a restart, records nothing new. A round whose
// missing reports all have their alert is marked (LateRecordedAt) and not
// looked at again. It returns how many alerts it recorded.
func (s *Service) RecordLateReports(ctx context.Context) (int, error) {
	rs, err := s.rounds()
	if err != nil {
		return 0, err
	}
	now := s.clock.Now()
	heads, err := rs.Rounds(ctx)
	if err != nil {
		return 0, err
	}
	recorded := 0
	for _, h := range heads {
		if h.LateRecordedAt != nil || !now.After(h.Due) {
			continue
		}
		n, err := s.recordLate(ctx, rs, h.ID, now)
		recorded += n
		if err != nil {
			return recorded, err
		}
	}
	return recorded, nil
}

// recordLate records the alerts of round id (due at now) and marks it.
func (s *Service) recordLate(ctx context.Context, rs Rounds, id string, now time.Time) (int, error) {
	r, err := rs.Round(ctx, id)
	if err != nil {
		return 0, err
	}
	entries, err := rs.RoundEntries(ctx, id, "")
	if err != nil {
		return 0, err
	}
	recorded := 0
	for _, row := range buildBoard(r, entries, now, nil).Rows {
		if row.Status != ReportMissing || row.Alerted {
			continue
		}
		ok, err := s.alertLate(ctx, rs, r, row.Item, now)
		if err != nil {
			return recorded, err
		}
		if ok {
			recorded++
		}
	}
	_, err = rs.UpdateRound(ctx, id, func(r *Round) error {
		r.LateRecordedAt = &now
		return nil
	})
	return recorded, err
}

// lateDecision builds the report_late alert of item it, unless its round
// entries prior already hold a report or the alert.
func lateDecision(r *Round, it RoundItem, prior []Entry, now time.Time) (Entry, error) {
	for _, e := range prior {
		if e.Action == ActionReport || e.Params.Level == AlertReportLate {
			return Entry{}, errAlerted
		}
	}
	against := AgainstUnit
	if it.ProblemID != "" {
		against = AgainstLeadUnit
	}
	due := r.Due
	return Entry{At: now, Actor: routineActor, Action: ActionAlert,
		Params: Params{Level: AlertReportLate, Against: against, Round: r.ID, Unit: it.Unit, Due: &due}}, nil
}

// alertLate records item it's report_late alert; false when it needed none
// after all (a report came, or another replica recorded it).
func (s *Service) alertLate(ctx context.Context, rs Rounds, r *Round, it RoundItem, now time.Time) (bool, error) {
	var err error
	if it.ProblemID != "" {
		_, err = s.recordOnProblem(ctx, rs, routineActor, r, it, func(p *Problem, prior []Entry) (Entry, error) {
			e, err := lateDecision(r, it, prior, now)
			e.From, e.To = p.State, p.State
			return e, err
		})
		if ErrorCode(err) == CodeNotFound {
			return false, nil
		}
	} else {
		_, err = rs.AppendWorkPoint(ctx, it.WorkPoint, r.ID, it.Key(), func(prior []Entry) ([]Entry, error) {
			e, err := lateDecision(r, it, prior, now)
			return []Entry{e}, err
		})
	}
	if errors.Is(err, errAlerted) {
		return false, nil
	}
	return err == nil, err
}

// ReportingRate is one unit's reporting record (报送情况) over the rounds
// that have fallen due: reports expected, filed on time, filed late and
// missing, and the on-time rate (报送及时率) = OnTime / Expected, nil when
// nothing was expected.
type ReportingRate struct {
	Unit     string   `json:"unit"`
	Label    string   `json:"label"`
	Rounds   int      `json:"rounds"`
	Expected int      `json:"expected"`
	OnTime   int      `json:"on_time"`
	Late     int      `json:"late"`
	Missing  int      `json:"missing"`
	Rate     *float64 `json:"rate"`
}

// ReportingRates returns every unit's reporting record over the rounds due
// by now, ordered by unit id; a unit officer gets its own unit's only.
func (s *Service) ReportingRates(ctx context.Context, a Actor) ([]ReportingRate, error) {
	rs, err := s.rounds()
	if err != nil {
		return nil, err
	}
	heads, err := s.Rounds(ctx, a)
	if err != nil {
		return nil, err
	}
	units, err := s.unitMap(ctx, false)
	if err != nil {
		return nil, err
	}
	now := s.clock.Now()
	byUnit := map[string]*ReportingRate{}
	for _, h := range heads {
		if !now.After(h.Due) {
			continue
		}
		r, err := s.Round(ctx, a, h.ID)
		if err != nil {
			return nil, err
		}
		entries, err := rs.RoundEntries(ctx, h.ID, "")
		if err != nil {
			return nil, err
		}
		seen := map[string]bool{}
		for _, row := range buildBoard(r, entries, now, nil).Rows {
			u := row.Item.Unit
			rate := byUnit[u]
			if rate == nil {
				rate = &ReportingRate{Unit: u, Label: u}
				if x, ok := units[u]; ok {
					rate.Label = x.Name
				}
				byUnit[u] = rate
			}
			if !seen[u] {
				seen[u] = true
				rate.Rounds++
			}
			rate.Expected++
			switch row.Status {
			case ReportOnTime:
				rate.OnTime++
			case ReportLate:
				rate.Late++
			default:
				rate.Missing++
			}
		}
	}
	out := make([]ReportingRate, 0, len(byUnit))
	for _, r := range byUnit {
		if r.Expected > 0 {
			v := float64(r.OnTime) / float64(r.Expected)
			r.Rate = &v
		}
		out = append(out, *r)
	}
	slices.SortFunc(out, func(x, y ReportingRate) int { return strings.Compare(x.Unit, y.Unit) })
	return out, nil
}
