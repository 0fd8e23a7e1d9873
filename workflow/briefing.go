package workflow

import (
	"context"
	"slices"
	"strings"
	"time"
)

// Briefings (通报): the leading group's office's regular summary of where the
// rectification stands (docs/design.md#briefings). Every figure comes from
// the statistics (StatsReports) at the period's two ends and at each week's
// end, so a store with rollups answers it in the time of the groups, and a
// past briefing shows what the ledger showed then.

// BriefingPeriod is how far back a briefing looks from its as_of date.
type BriefingPeriod string

// Briefing periods: the 7 days, the month or the three months ending on the
// as_of date (the day after the same date of the month before, and so on).
const (
	PeriodWeek    BriefingPeriod = "week"
	PeriodMonth   BriefingPeriod = "month"
	PeriodQuarter BriefingPeriod = "quarter"
)

// BriefingPeriods lists every period a briefing takes.
var BriefingPeriods = []BriefingPeriod{PeriodWeek, PeriodMonth, PeriodQuarter}

// Label is the period's Chinese name (周报, 月报, 季报).
func (p BriefingPeriod) Label() string {
	switch p {
	case PeriodWeek:
		return "周"
	case PeriodMonth:
		return "月"
	case PeriodQuarter:
		return "季度"
	}
	return string(p)
}

// start returns the last day before the period that ends on day d.
func (p BriefingPeriod) start(d time.Time) time.Time {
	switch p {
	case PeriodMonth:
		return d.AddDate(0, -1, 0)
	case PeriodQuarter:
		return d.AddDate(0, -3, 0)
	}
	return d.AddDate(0, 0, -7)
}

// BriefingListLimit caps the problems a briefing names (red and listed):
// the counts are always whole; the names stop here.
const BriefingListLimit = 200

// BriefingTrendWeeks caps the weekly trend (ten years of weeks).
const BriefingTrendWeeks = 520

// ParseBriefingPeriod reads period (empty: a week).
func ParseBriefingPeriod(s string) (BriefingPeriod, error) {
	if s == "" {
		return PeriodWeek, nil
	}
	if p := BriefingPeriod(s); slices.Contains(BriefingPeriods, p) {
		return p, nil
	}
	return "", RefuseField(ReasonUnknownValue, "period", "unknown period %q; one of week, month, quarter", s)
}

// ParseBriefingDate reads a briefing's as_of: a date (2026-12-01) in Asia/Shanghai,
// returned as that day's midnight there. Empty means today by now.
func ParseBriefingDate(s string, now time.Time) (time.Time, error) {
	if s == "" {
		y, m, d := now.In(Shanghai).Date()
		return time.Date(y, m, d, 0, 0, 0, 0, Shanghai), nil
	}
	d, err := time.ParseInLocation(time.DateOnly, strings.TrimSpace(s), Shanghai)
	if err != nil {
		return time.Time{}, RefuseField(ReasonBadDate, "as_of", "as_of %q is not a date (2026-12-01)", s)
	}
	if d.Year() < 2000 {
		return time.Time{}, RefuseField(ReasonBadDate, "as_of", "as_of %q is out of range", s)
	}
	if d.After(now) {
		return time.Time{}, RefuseField(ReasonDateFuture, "as_of", "as_of %q is after today", s)
	}
	return d, nil
}

// dayEnd is the last instant of day d in Asia/Shanghai, as ParseAsOf makes
// of a date.
func dayEnd(d time.Time) time.Time {
	y, m, dd := d.In(Shanghai).Date()
	return time.Date(y, m, dd+1, 0, 0, 0, 0, Shanghai).Add(-time.Nanosecond).UTC()
}

// Briefing is one briefing (通报) as a viewer or the bureau reads it.
//
// Figures: Start and End are the ledger's statistics (StatsRow totals) at
// the end of the day before the period and at its end. Changes are their
// differences: New is exact (problems are never removed); Closed,
// Dismissed and Overdue are net changes of the ledger's figures (a reopened
// problem, or an overdue problem closed, counts against them).
type Briefing struct {
	Period      BriefingPeriod `json:"period"`
	Title       string         `json:"title"`
	From        time.Time      `json:"from"` // the first instant of the period
	To          time.Time      `json:"to"`   // its last instant (as_of's end)
	MadeAt      time.Time      `json:"made_at"`
	AuditHead   string         `json:"audit_head"` // SEQ:HASH of the chain when the briefing was made
	Head        ChainHead      `json:"-"`          // that head, for HeadLine
	Start       StatsRow       `json:"start"`
	End         StatsRow       `json:"end"`
	Changes     BriefingChange `json:"changes"`
	Counties    []BriefingRank `json:"counties"`
	LeadUnits   []BriefingRank `json:"lead_units"`
	Flagged     []FlaggedItem  `json:"flagged"`      // red and listed at To, worst and longest late first
	FlaggedMore int            `json:"flagged_more"` // those beyond BriefingListLimit, not named
	LateReports []LateReport   `json:"late_reports"` // reports of rounds due in the period, late or missing at To
	Letters     []LetterDue    `json:"letters"`      // letters unanswered at To (see UnansweredLetters)
	LettersKept bool           `json:"letters_kept"` // whether the ledger keeps letters at all
	Trend       []TrendPoint   `json:"trend"`        // weekly, oldest first, ending at To
}

// BriefingChange is what changed in the period (see Briefing).
type BriefingChange struct {
	New       int `json:"new"`
	Closed    int `json:"closed"` // closed rectified (销号), net
	Dismissed int `json:"dismissed"`
	Overdue   int `json:"overdue"` // net change of the overdue count
}

// BriefingRank is one county's or lead unit's standing at the period's end:
// ranked by overdue count (most first) and by completion rate (lowest
// first; a group with nothing to complete ranks last).
type BriefingRank struct {
	StatsRow
	NewOverdue     int `json:"overdue_change"` // net change in the period
	OverdueRank    int `json:"overdue_rank"`
	CompletionRank int `json:"completion_rank"`
}

// FlaggedItem is a red (红牌) or listed (挂牌督办) problem named in a briefing.
type FlaggedItem struct {
	ID          string    `json:"id"`
	Code        string    `json:"code"`
	Title       string    `json:"title"`
	County      string    `json:"county"`    // its name
	LeadUnit    string    `json:"lead_unit"` // its name
	Level       Level     `json:"level"`
	Deadline    time.Time `json:"deadline"` // in force (an extension's included)
	DaysOverdue int       `json:"days_overdue"`
}

// LateReport is a report of a dispatch round due in the period that was
// filed late, or was still missing, at the period's end.
type LateReport struct {
	Round  string    `json:"round"`
	Title  string    `json:"title"` // the round's
	Due    time.Time `json:"due"`
	Item   string    `json:"item"` // the problem's or work point's title
	Unit   string    `json:"unit"` // the name of the unit owing it
	Status string    `json:"status"`
}

// LetterDue is a letter (督办函) still unanswered at a briefing's end.
type LetterDue struct {
	ID     string    `json:"id"`
	Title  string    `json:"title"`
	Unit   string    `json:"unit"`
	SentAt time.Time `json:"sent_at"`
	DueAt  time.Time `json:"due_at"`
}

// TrendPoint is the ledger at the end of one week.
type TrendPoint struct {
	At      time.Time `json:"at"`
	Open    int       `json:"open"`
	Overdue int       `json:"overdue"`
}

// CanReadBriefings tells whether a may read briefings: the bureau and viewers.
func CanReadBriefings(a Actor) error {
	if a.Role == RoleBureau || a.Role == RoleViewer {
		return nil
	}
	return Refuse(ReasonRole, "role %s may not read briefings; it needs role bureau or viewer", a.Role)
}

// Briefing builds the briefing of period ending on day asOf (a date as
// ParseBriefingDate returns it).
//
// Cost: the statistics at both ends and at every week's end since the
// first problem (StatsReports: with rollups, the groups; without, every
// history each time), the rounds due in the period, and the red and listed
// problems: at a period ending today, the overdue problems the index tags;
// at a past end, every problem rebuilt as of then (EachProblemAsOf).
func (s *Service) Briefing(ctx context.Context, a Actor, period BriefingPeriod, asOf time.Time) (*Briefing, error) {
	if err := CanReadBriefings(a); err != nil {
		return nil, err
	}
	if !slices.Contains(BriefingPeriods, period) {
		return nil, RefuseField(ReasonUnknownValue, "period", "unknown period %q; one of week, month, quarter", period)
	}
	now := s.clock.Now()
	head, err := s.DocumentHead(ctx)
	if err != nil {
		return nil, err
	}
	to := dayEnd(asOf)
	before := dayEnd(period.start(asOf))
	b := &Briefing{Period: period, From: before.Add(time.Nanosecond), To: to, MadeAt: now, AuditHead: head.String(), Head: head,
		Counties: []BriefingRank{}, LeadUnits: []BriefingRank{}, Flagged: []FlaggedItem{},
		LateReports: []LateReport{}, Letters: []LetterDue{}, Trend: []TrendPoint{}}
	b.Title = briefingTitle(period, b.From, to)
	endReps, err := s.StatsReports(ctx, a, ProblemFilter{}, to, GroupByCounty, GroupByLeadUnit)
	if err != nil {
		return nil, err
	}
	startReps, err := s.StatsReports(ctx, a, ProblemFilter{}, before, GroupByCounty, GroupByLeadUnit)
	if err != nil {
		return nil, err
	}
	b.Start, b.End = startReps[0].Total, endReps[0].Total
	b.Changes = BriefingChange{
		New:       b.End.Total - b.Start.Total,
		Closed:    b.End.ClosedRectified - b.Start.ClosedRectified,
		Dismissed: b.End.Dismissed - b.Start.Dismissed,
		Overdue:   b.End.Overdue - b.Start.Overdue,
	}
	b.Counties = rank(endReps[0], startReps[0])
	b.LeadUnits = rank(endReps[1], startReps[1])
	if b.Flagged, b.FlaggedMore, err = s.flagged(ctx, a, to, now, b.End.Total); err != nil {
		return nil, err
	}
	if b.LateReports, err = s.lateReports(ctx, a, b.From, to); err != nil {
		return nil, err
	}
	if b.Letters, b.LettersKept, err = s.UnansweredLetters(ctx, a, to); err != nil {
		return nil, err
	}
	if b.Trend, err = s.trend(ctx, a, to); err != nil {
		return nil, err
	}
	return b, nil
}

// briefingTitle names a briefing by its period, in Chinese.
func briefingTitle(p BriefingPeriod, from, to time.Time) string {
	f, t := from.In(Shanghai), to.In(Shanghai)
	return "生态环境问题整改工作" + p.Label() + "通报（" + f.Format("2006年1月2日") + "至" + t.Format("2006年1月2日") + "）"
}

// rank orders the groups of end (those with problems, the unassigned
// group aside) by overdue count and numbers both rankings.
func rank(end, start *StatsReport) []BriefingRank {
	was := map[string]int{}
	for _, r := range start.Rows {
		was[r.Key] = r.Overdue
	}
	out := []BriefingRank{}
	for _, r := range end.Rows {
		if r.Key == "" || r.Total == 0 {
			continue
		}
		out = append(out, BriefingRank{StatsRow: r, NewOverdue: r.Overdue - was[r.Key]})
	}
	rate := func(r *BriefingRank) float64 {
		if r.CompletionRate == nil {
			return 2 // nothing to complete: last
		}
		return *r.CompletionRate
	}
	byRate := make([]*BriefingRank, len(out))
	for i := range out {
		byRate[i] = &out[i]
	}
	slices.SortStableFunc(byRate, func(x, y *BriefingRank) int {
		if c := compareFloat(rate(x), rate(y)); c != 0 {
			return c
		}
		return strings.Compare(x.Key, y.Key)
	})
	for i, r := range byRate {
		r.CompletionRank = i + 1
		if i > 0 && rate(r) == rate(byRate[i-1]) {
			r.CompletionRank = byRate[i-1].CompletionRank
		}
	}
	slices.SortStableFunc(out, func(x, y BriefingRank) int {
		if x.Overdue != y.Overdue {
			return y.Overdue - x.Overdue
		}
		if x.CompletionRank != y.CompletionRank {
			return x.CompletionRank - y.CompletionRank
		}
		return strings.Compare(x.Key, y.Key)
	})
	for i := range out {
		out[i].OverdueRank = i + 1
		if i > 0 && out[i].Overdue == out[i-1].Overdue {
			out[i].OverdueRank = out[i-1].OverdueRank
		}
	}
	return out
}

func compareFloat(x, y float64) int {
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}

// trend gives the open and overdue problems at the end of every week from
// the week of the first problem to to.
func (s *Service) trend(ctx context.Context, a Actor, to time.Time) ([]TrendPoint, error) {
	first, _, err := s.store.Problems(ctx, ProblemFilter{Limit: 1})
	if err != nil || len(first) == 0 || first[0].CreatedAt.After(to) {
		return []TrendPoint{}, err
	}
	var ends []time.Time
	for d := to; len(ends) < BriefingTrendWeeks; d = dayEnd(d.In(Shanghai).AddDate(0, 0, -7)) {
		ends = append(ends, d)
		if !d.After(first[0].CreatedAt) {
			break
		}
	}
	slices.Reverse(ends)
	out := make([]TrendPoint, 0, len(ends))
	for _, at := range ends {
		r, err := s.Stats(ctx, a, GroupByState, at)
		if err != nil {
			return nil, err
		}
		out = append(out, TrendPoint{At: at, Open: r.Total.Open, Overdue: r.Total.Overdue})
	}
	return out, nil
}

// flagged names the red and listed problems at to, worst first, at most
// BriefingListLimit of them, and counts the rest (flagged.go says which
// records it reads).
func (s *Service) flagged(ctx context.Context, a Actor, to, now time.Time, total int) ([]FlaggedItem, int, error) {
	units, err := s.unitMap(ctx, false)
	if err != nil {
		return nil, 0, err
	}
	pol := s.Policy()
	var items []FlaggedItem
	err = s.flaggedCandidates(ctx, a, to, now, total, func(p *Problem) {
		l := p.LevelAt(to, pol)
		if l != LevelRed && l != LevelListed {
			return
		}
		days, _, _ := p.DaysOverdue(to)
		items = append(items, FlaggedItem{ID: p.ID, Code: p.Code, Title: p.Title,
			County: units[p.CountyID].Name, LeadUnit: units[p.LeadUnit].Name, Level: l,
			Deadline: *p.EffectiveDeadline(), DaysOverdue: days})
	})
	if err != nil {
		return nil, 0, err
	}
	slices.SortStableFunc(items, func(x, y FlaggedItem) int {
		if x.Level != y.Level {
			return y.Level.rank() - x.Level.rank()
		}
		if x.DaysOverdue != y.DaysOverdue {
			return y.DaysOverdue - x.DaysOverdue
		}
		return strings.Compare(x.Code, y.Code)
	})
	more := 0
	if len(items) > BriefingListLimit {
		more = len(items) - BriefingListLimit
		items = items[:BriefingListLimit]
	}
	if items == nil {
		items = []FlaggedItem{}
	}
	return items, more, nil
}

// lateReports lists the reports of the rounds due in [from, to] that were
// late or missing at to.
func (s *Service) lateReports(ctx context.Context, a Actor, from, to time.Time) ([]LateReport, error) {
	out := []LateReport{}
	rs, ok := s.store.(Rounds)
	if !ok {
		return out, nil
	}
	heads, err := rs.Rounds(ctx)
	if err != nil {
		return nil, err
	}
	units, err := s.unitMap(ctx, false)
	if err != nil {
		return nil, err
	}
	for _, h := range heads {
		if h.Due.Before(from) || h.Due.After(to) || h.OpenedAt.After(to) {
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
		then := entries[:0:0]
		for _, e := range entries {
			if !e.At.After(to) {
				then = append(then, e)
			}
		}
		for _, row := range buildBoard(r, then, to, units).Rows {
			if row.Status == ReportOnTime {
				continue
			}
			name := row.Item.Unit
			if u, ok := units[name]; ok {
				name = u.Name
			}
			out = append(out, LateReport{Round: r.ID, Title: r.Title, Due: r.Due, Item: row.Item.Title, Unit: name, Status: row.Status})
		}
	}
	return out, nil
}

// UnansweredLetters returns the letters (督办函) a may see that were
// issued by at and not replied to by then, oldest first, and whether the
// ledger keeps letters at all (a store without Letters keeps none).
func (s *Service) UnansweredLetters(ctx context.Context, a Actor, at time.Time) ([]LetterDue, bool, error) {
	out := []LetterDue{}
	if _, ok := s.store.(Letters); !ok {
		return out, false, nil
	}
	ls, err := s.Letters(ctx, a, LetterFilter{})
	if err != nil {
		return nil, false, err
	}
	units, err := s.unitMap(ctx, false)
	if err != nil {
		return nil, false, err
	}
	for _, l := range ls {
		if l.IssuedAt == nil || l.IssuedAt.After(at) || l.Reply != nil && !l.Reply.At.After(at) {
			continue
		}
		d := LetterDue{ID: l.ID, Title: l.DocNo + " " + l.Kind.Label(), Unit: l.ToUnit, SentAt: *l.IssuedAt}
		if u, ok := units[l.ToUnit]; ok {
			d.Unit = u.Name
		}
		if l.ReplyDue != nil {
			d.DueAt = *l.ReplyDue
		}
		out = append(out, d)
	}
	slices.SortFunc(out, func(x, y LetterDue) int { return x.SentAt.Compare(y.SentAt) })
	return out, true, nil
}
