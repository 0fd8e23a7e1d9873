package workflow

import (
	"context"
	"errors"
	"math"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// ReportInput is a progress report a unit files in a round: on a problem
// (ProblemID) or on a work point (WorkPoint), one of the two.
type ReportInput struct {
	ProblemID    string
	WorkPoint    int
	Progress     string // 进展情况, required
	Percent      *int   // 完成百分比, 0 to 100
	NextSteps    string // 下一步
	Difficulties string // 困难和问题
	Figures      []Figure
}

// reporters may file reports.
var reporters = []Role{RoleUnit}

// MayReport reports whether a may file reports in rounds.
func (s *Service) MayReport(a Actor) bool { return hasRole(a, reporters) }

// maxReportAttempts bounds the tries of a report on a problem that other
// commands keep changing.
const maxReportAttempts = 8

// errMoved aborts a report decided on a problem that changed since its
// round's entries were read: the report is decided again.
var errMoved = errors.New("the problem changed meanwhile")

// FileReport files (or, until the round is due, amends) actor a's report
// in round rid. Only a member of the unit that owes it may: the problem's
// lead unit (as the round opened, and still leading it), or a reporting
// unit of the work point. A report after the due time is kept and marked
// late (逾期报送); once the round is due a report already filed is final
// (ReasonReportClosed). The report is a history entry (ActionReport) of the
// problem or the work point. It returns the entry as stored.
func (s *Service) FileReport(ctx context.Context, a Actor, rid string, in ReportInput) (*Entry, error) {
	if err := needRole("file dispatch reports", a, reporters...); err != nil {
		return nil, err
	}
	rs, err := s.rounds()
	if err != nil {
		return nil, err
	}
	if err := in.validate(); err != nil {
		return nil, err
	}
	r, err := s.wholeRound(ctx, rs, a, rid)
	if err != nil {
		return nil, err
	}
	now := s.clock.Now()
	if in.ProblemID != "" {
		return s.reportOnProblem(ctx, rs, a, r, &in, now)
	}
	return s.reportOnPoint(ctx, rs, a, r, &in, now)
}

// validate checks and normalises the report's own fields.
func (in *ReportInput) validate() error {
	in.ProblemID = strings.TrimSpace(in.ProblemID)
	in.Progress = strings.TrimSpace(in.Progress)
	in.NextSteps = strings.TrimSpace(in.NextSteps)
	in.Difficulties = strings.TrimSpace(in.Difficulties)
	switch {
	case in.ProblemID == "" && in.WorkPoint == 0:
		return RefuseField(ReasonRequired, "problem_id", "problem_id or work_point is required: what the report is about")
	case in.ProblemID != "" && in.WorkPoint != 0:
		return RefuseField(ReasonMalformed, "work_point", "a report is about a problem or a work point, not both")
	case in.WorkPoint < 0:
		return RefuseField(ReasonUnknownWorkPoint, "work_point", "work_point must be positive")
	case in.Progress == "":
		return RefuseField(ReasonRequired, "progress", "progress is required")
	case in.Percent != nil && (*in.Percent < 0 || *in.Percent > 100):
		return RefuseField(ReasonOutOfRange, "percent", "percent must be from 0 to 100")
	case len(in.Figures) > 0 && in.WorkPoint == 0:
		return RefuseField(ReasonUnknownTarget, "figures", "figures are reported against a work point's targets; a problem has none")
	}
	for name, v := range map[string]string{"progress": in.Progress, "next_steps": in.NextSteps, "difficulties": in.Difficulties} {
		if utf8.RuneCountInString(v) > MaxText {
			return RefuseField(ReasonTooLong, name, "%s is longer than %d characters", name, MaxText)
		}
	}
	for i, f := range in.Figures {
		in.Figures[i].Target = strings.TrimSpace(f.Target)
		switch {
		case in.Figures[i].Target == "":
			return RefuseField(ReasonRequired, "figures", "figure %d names no target", i+1)
		case math.IsNaN(f.Value) || math.IsInf(f.Value, 0):
			return RefuseField(ReasonMalformed, "figures", "figure %d is not a number", i+1)
		}
		for _, g := range in.Figures[:i] {
			if g.Target == in.Figures[i].Target {
				return RefuseField(ReasonUnknownTarget, "figures", "target %s is reported twice", g.Target)
			}
		}
	}
	return nil
}

// reportParams are the parameters of a report on item in r at now.
func reportParams(r *Round, it RoundItem, in *ReportInput, now time.Time) Params {
	due := r.Due
	return Params{
		Round: r.ID, Unit: it.Unit, Due: &due, Progress: in.Progress, Percent: clonePtr(in.Percent),
		NextSteps: in.NextSteps, Difficulties: in.Difficulties, Figures: slices.Clone(in.Figures),
		Late: now.After(r.Due),
	}
}

// reportAllowed decides a report at now on an item whose round entries are
// prior: before the due time any number of times, after it only when none
// was filed.
func reportAllowed(r *Round, prior []Entry, now time.Time) error {
	if !now.After(r.Due) {
		return nil
	}
	for _, e := range prior {
		if e.Action == ActionReport {
			return Refuse(ReasonReportClosed, "round %s fell due at %s: the report filed at %s can no longer be amended",
				r.ID, r.Due.Format(time.RFC3339), e.At.Format(time.RFC3339))
		}
	}
	return nil
}

func (s *Service) reportOnProblem(ctx context.Context, rs Rounds, a Actor, r *Round, in *ReportInput, now time.Time) (*Entry, error) {
	id := in.ProblemID
	it, ok := r.Item(problemItemKey(id))
	if !ok || it.Unit != a.UnitID {
		// An unknown problem, or one the caller may not see, is not found
		// whatever the round holds.
		if _, err := s.Problem(ctx, a, id); err != nil {
			return nil, err
		}
		if !ok {
			return nil, RefuseField(ReasonNotInRound, "problem_id", "problem %s is not one round %s asks about", id, r.ID)
		}
		return nil, Refuse(ReasonNotReportingUnit, "the report on problem %s is owed by unit %s", id, it.Unit)
	}
	return s.recordOnProblem(ctx, rs, a, r, it, func(p *Problem, prior []Entry) (Entry, error) {
		if p.LeadUnit != it.Unit {
			return Entry{}, Refuse(ReasonNotLeadUnit, "problem %s was reassigned to %s after round %s opened: unit %s no longer leads it", id, p.LeadUnit, r.ID, it.Unit)
		}
		if err := reportAllowed(r, prior, now); err != nil {
			return Entry{}, err
		}
		return Entry{At: now, Actor: a, Action: ActionReport, From: p.State, To: p.State, Params: reportParams(r, it, in, now)}, nil
	})
}

// recordOnProblem appends the entry decide builds to the history of item's
// problem, deciding on the problem as it is with the round's entries of the
// item as they are: it reads the entries after the record's version, and
// decides again if the record has moved when the command runs (every entry
// of the item changes the record's version, so a decision on an unchanged
// version saw them all). It returns the last entry of the item, as stored.
func (s *Service) recordOnProblem(ctx context.Context, rs Rounds, a Actor, r *Round, it RoundItem, decide func(p *Problem, prior []Entry) (Entry, error)) (*Entry, error) {
	for range maxReportAttempts {
		p, err := s.store.Problem(ctx, it.ProblemID)
		if err != nil {
			return nil, err
		}
		prior, err := rs.RoundEntries(ctx, r.ID, it.Key())
		if err != nil {
			return nil, err
		}
		_, err = s.command(ctx, a, it.ProblemID, 0, func(cur *Problem) (Entry, error) {
			if cur.Version != p.Version {
				return Entry{}, errMoved
			}
			return decide(cur, prior)
		})
		if errors.Is(err, errMoved) {
			continue
		}
		if err != nil {
			return nil, err
		}
		return lastOf(rs.RoundEntries(ctx, r.ID, it.Key()))
	}
	return nil, Refuse(ReasonStaleVersion, "problem %s kept changing while the report was filed: file it again", it.ProblemID)
}

// lastOf returns the last of entries.
func lastOf(entries []Entry, err error) (*Entry, error) {
	if err != nil {
		return nil, err
	}
	if len(entries) == 0 {
		return nil, errors.New("workflow: the round index lists no entry just written")
	}
	return &entries[len(entries)-1], nil
}

func (s *Service) reportOnPoint(ctx context.Context, rs Rounds, a Actor, r *Round, in *ReportInput, now time.Time) (*Entry, error) {
	n := in.WorkPoint
	if !slices.ContainsFunc(r.Items, func(it RoundItem) bool { return it.WorkPoint == n }) {
		wp, err := s.workPoint(ctx, n)
		if err != nil {
			return nil, err
		}
		return nil, RefuseField(ReasonNotInRound, "work_point", "work point %d (%s) is not one round %s asks about", n, wp.Title, r.ID)
	}
	it, ok := r.Item(pointItemKey(n, a.UnitID))
	if !ok {
		return nil, Refuse(ReasonNotReportingUnit, "unit %s owes no report on work point %d in round %s", a.UnitID, n, r.ID)
	}
	if len(in.Figures) > 0 {
		wp, err := s.workPoint(ctx, n)
		if err != nil {
			return nil, err
		}
		for _, f := range in.Figures {
			if !slices.ContainsFunc(wp.Targets, func(t Target) bool { return t.Name == f.Target }) {
				return nil, RefuseField(ReasonUnknownTarget, "figures", "work point %d sets no target %q", n, f.Target)
			}
		}
	}
	entries, err := rs.AppendWorkPoint(ctx, n, r.ID, it.Key(), func(prior []Entry) ([]Entry, error) {
		if err := reportAllowed(r, prior, now); err != nil {
			return nil, err
		}
		return []Entry{{At: now, Actor: a, Action: ActionReport, Params: reportParams(r, it, in, now)}}, nil
	})
	if err != nil {
		return nil, err
	}
	return &entries[len(entries)-1], nil
}

// workPoint returns work point n, or ReasonWorkPointNotFound.
func (s *Service) workPoint(ctx context.Context, n int) (*WorkPoint, error) {
	wps, err := s.store.WorkPoints(ctx)
	if err != nil {
		return nil, err
	}
	for i := range wps {
		if wps[i].Number == n {
			return &wps[i], nil
		}
	}
	return nil, Refuse(ReasonWorkPointNotFound, "work point %d not found", n)
}
