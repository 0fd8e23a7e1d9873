package workflow

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// NewRound is what a round is opened with.
type NewRound struct {
	Title string
	// Period names the period asked about (2026年3月); empty means the
	// month of the opening, in Asia/Shanghai.
	Period string
	// Due is when the reports are due; it must be later than now.
	Due   time.Time
	Scope RoundScope
	// Key makes the opening idempotent: a second round with the same key
	// is not opened (the first is returned). The scheduler sets it to the
	// schedule's period key.
	Key string
}

// Limits of a round.
const (
	// MaxRoundItems bounds the reports one round expects.
	MaxRoundItems = 5000
	// MaxPeriod bounds the length of a round's period, in characters.
	MaxPeriod = 50
)

// roundOpeners may open rounds (and the system actor, for schedules).
var roundOpeners = []Role{RoleBureau}

// errNoRounds is the service's answer on a store without Rounds.
var errNoRounds = errors.New("workflow: the store keeps no dispatch rounds (workflow.Rounds)")

// HasRounds reports whether the store keeps dispatch rounds.
func (s *Service) HasRounds() bool {
	_, ok := s.store.(Rounds)
	return ok
}

func (s *Service) rounds() (Rounds, error) {
	rs, ok := s.store.(Rounds)
	if !ok {
		return nil, errNoRounds
	}
	return rs, nil
}

// MayOpenRounds reports whether a may open dispatch rounds.
func (s *Service) MayOpenRounds(a Actor) bool { return hasRole(a, roundOpeners) }

// OpenRound opens a dispatch round: the reports its scope takes in are
// fixed now, one per open problem in scope (from its lead unit) and one per
// reporting unit of each work point in scope. Only the bureau may (and the
// system actor). A round with in.Key already opened is returned with
// created false. Refusals: an empty or unknown title, period or due time
// (CodeInvalid), unknown sources, units or work points, problems unknown
// (CodeNotFound) or not reportable, a scope that takes in nothing
// (ReasonEmptyScope) or too much (ReasonScopeTooLarge).
func (s *Service) OpenRound(ctx context.Context, a Actor, in NewRound) (r *Round, created bool, err error) {
	if err := needRole("open dispatch rounds", a, roundOpeners...); err != nil {
		return nil, false, err
	}
	rs, err := s.rounds()
	if err != nil {
		return nil, false, err
	}
	now := s.clock.Now()
	if err := in.validate(now); err != nil {
		return nil, false, err
	}
	if in.Key != "" {
		if r, err := roundByKey(ctx, rs, in.Key); err != nil || r != nil {
			return r, false, err
		}
	}
	if err := s.checkScope(ctx, &in.Scope); err != nil {
		return nil, false, err
	}
	items, unstaffed, err := s.roundItems(ctx, &in.Scope)
	if err != nil {
		return nil, false, err
	}
	switch {
	case len(items) == 0:
		return nil, false, RefuseField(ReasonEmptyScope, "scope", "the scope takes in no open problem with a lead unit and no work point with a unit to report")
	case len(items) > MaxRoundItems:
		return nil, false, RefuseField(ReasonScopeTooLarge, "scope", "the scope takes in %d reports, more than the %d one round holds", len(items), MaxRoundItems)
	}
	return rs.CreateRound(ctx, in.Key, func(id string) (*Round, error) {
		return &Round{
			ID: id, Title: in.Title, Period: in.Period, Key: in.Key, Due: in.Due.UTC(), Scope: in.Scope,
			Items: items, Unstaffed: unstaffed, OpenedAt: now, OpenedBy: a,
		}, nil
	})
}

// validate checks and normalises the fields that need no lookup.
func (in *NewRound) validate(now time.Time) error {
	in.Title = strings.TrimSpace(in.Title)
	in.Period = strings.TrimSpace(in.Period)
	switch {
	case in.Title == "":
		return RefuseField(ReasonRequired, "title", "title is required")
	case utf8.RuneCountInString(in.Title) > MaxTitle:
		return RefuseField(ReasonTooLong, "title", "title is longer than %d characters", MaxTitle)
	case utf8.RuneCountInString(in.Period) > MaxPeriod:
		return RefuseField(ReasonTooLong, "period", "period is longer than %d characters", MaxPeriod)
	case in.Due.IsZero():
		return RefuseField(ReasonRequired, "due", "due is required: a date (the end of that day in Asia/Shanghai) or a time")
	case !in.Due.After(now):
		return RefuseField(ReasonDueNotFuture, "due", "due %s is not later than now", in.Due.UTC().Format(time.RFC3339))
	}
	if in.Period == "" {
		in.Period = MonthLabel(now)
	}
	return nil
}

// MonthLabel names the Asia/Shanghai month of t as the bureau writes it:
// 2026年3月.
func MonthLabel(t time.Time) string {
	d := t.In(Shanghai)
	return strconv.Itoa(d.Year()) + "年" + strconv.Itoa(int(d.Month())) + "月"
}

// roundByKey returns the round opened with key, or nil.
func roundByKey(ctx context.Context, rs Rounds, key string) (*Round, error) {
	heads, err := rs.Rounds(ctx)
	if err != nil {
		return nil, err
	}
	for _, h := range heads {
		if h.Key == key {
			return rs.Round(ctx, h.ID)
		}
	}
	return nil, nil
}

// checkScope refuses unknown values in sc and turns unit names into ids.
func (s *Service) checkScope(ctx context.Context, sc *RoundScope) error {
	for _, src := range sc.Sources {
		if !src.Valid() {
			return RefuseField(ReasonUnknownValue, "scope", "unknown source %q; one of %v", src, Sources)
		}
	}
	for _, list := range []*[]string{&sc.Counties, &sc.LeadUnits} {
		*list = slices.Clone(*list)
		for i := range *list {
			ref := (*list)[i]
			if err := s.unitRefs(ctx, &(*list)[i]); err != nil {
				return err
			}
			if _, err := s.Unit(ctx, (*list)[i]); err != nil {
				return RefuseField(ReasonUnknownUnit, "scope", "unknown unit %q", ref)
			}
		}
	}
	if len(sc.WorkPoints) > 0 {
		wps, err := s.store.WorkPoints(ctx)
		if err != nil {
			return err
		}
		for _, n := range sc.WorkPoints {
			if !slices.ContainsFunc(wps, func(wp WorkPoint) bool { return wp.Number == n }) {
				return RefuseField(ReasonUnknownWorkPoint, "scope", "unknown work point %d", n)
			}
		}
	}
	return nil
}

// roundItems lists the reports sc takes in: problems in number order, then
// work points in number order, each with its reporting units; unstaffed are
// the points in scope with no unit to report.
func (s *Service) roundItems(ctx context.Context, sc *RoundScope) (items []RoundItem, unstaffed []int, err error) {
	if sc.wantsProblems() {
		if items, err = s.roundProblems(ctx, sc); err != nil {
			return nil, nil, err
		}
	}
	if len(sc.WorkPoints) == 0 {
		return items, nil, nil
	}
	wps, err := s.store.WorkPoints(ctx)
	if err != nil {
		return nil, nil, err
	}
	for _, wp := range wps {
		if !slices.Contains(sc.WorkPoints, wp.Number) {
			continue
		}
		units, duties := wp.ReportingUnits()
		if len(units) == 0 {
			unstaffed = append(unstaffed, wp.Number)
		}
		for i, u := range units {
			items = append(items, RoundItem{WorkPoint: wp.Number, Title: wp.Title, Unit: u, Duty: duties[i]})
		}
	}
	return items, unstaffed, nil
}

// roundProblems lists the problems sc takes in: those it names (each must
// exist and be reportable) and those its filters select.
func (s *Service) roundProblems(ctx context.Context, sc *RoundScope) ([]RoundItem, error) {
	picked := map[uint64]*Problem{}
	for _, id := range sc.ProblemIDs {
		p, err := s.store.Problem(ctx, id)
		if err != nil {
			if ErrorCode(err) == CodeNotFound {
				return nil, RefuseField(ReasonProblemNotFound, "scope", "problem %s not found", id)
			}
			return nil, err
		}
		if !reportable(p) {
			return nil, RefuseField(ReasonNotReportable, "scope", "problem %s is %s without an open rectification (closed, verified or not assigned): nothing to report", id, p.State)
		}
		n, _ := ParseProblemID(p.ID)
		picked[n] = p
	}
	if sc.AllProblems || sc.filtersProblems() || len(sc.ProblemIDs) == 0 && len(sc.WorkPoints) == 0 {
		f := ProblemFilter{Limit: MaxLimit}
		if len(sc.LeadUnits) == 1 {
			f.LeadUnit = sc.LeadUnits[0]
		}
		for {
			list, next, err := s.store.Problems(ctx, f)
			if err != nil {
				return nil, err
			}
			for _, p := range list {
				if reportable(p) && sc.selects(p) {
					n, _ := ParseProblemID(p.ID)
					picked[n] = p
				}
			}
			if next == "" {
				break
			}
			f.Cursor = next
		}
	}
	nums := make([]uint64, 0, len(picked))
	for n := range picked {
		nums = append(nums, n)
	}
	slices.Sort(nums)
	items := make([]RoundItem, 0, len(nums))
	for _, n := range nums {
		p := picked[n]
		items = append(items, RoundItem{ProblemID: p.ID, Code: p.Code, Title: p.Title, County: p.CountyID, Unit: p.LeadUnit})
	}
	return items, nil
}

// reportable reports whether a round may ask about p: it is open and has a
// lead unit.
func reportable(p *Problem) bool { return p.Open() && p.LeadUnit != "" }

// selects reports whether p passes sc's filters (AllProblems: every one).
func (sc *RoundScope) selects(p *Problem) bool {
	return (len(sc.Sources) == 0 || slices.Contains(sc.Sources, p.Source)) &&
		(len(sc.Counties) == 0 || slices.Contains(sc.Counties, p.CountyID)) &&
		(len(sc.LeadUnits) == 0 || slices.Contains(sc.LeadUnits, p.LeadUnit))
}
