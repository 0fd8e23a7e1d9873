package workflow_test

import (
	"context"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/jdz-eco/rectify/workflow"
)

// replayed is the ledger at t as an oracle sees it: every problem's
// history replayed up to t, independently of the statistics.
type replayed struct {
	total, rectified, dismissed, open, overdue int
	flagged                                    []string // codes of red and listed problems
	byCounty                                   map[string][2]int
}

func replayAt(t *testing.T, s *scenario, at time.Time) replayed {
	t.Helper()
	ctx := context.Background()
	pol := s.svc.Policy()
	all, _, err := s.svc.Problems(ctx, bureau, workflow.ProblemFilter{Limit: workflow.MaxLimit})
	if err != nil {
		t.Fatal(err)
	}
	r := replayed{byCounty: map[string][2]int{}}
	for _, cur := range all {
		hist, err := s.svc.History(ctx, bureau, cur.ID)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for n < len(hist) && !hist[n].At.After(at) {
			n++
		}
		if n == 0 {
			continue
		}
		p, err := workflow.Replay(hist[:n])
		if err != nil {
			t.Fatal(err)
		}
		r.total++
		c := r.byCounty[p.CountyID]
		c[0]++
		if p.Open() {
			r.open++
		}
		if p.State == workflow.StateClosed && p.Resolution == workflow.ResolutionRectified {
			r.rectified++
		}
		if p.State == workflow.StateClosed && p.Resolution == workflow.ResolutionDismissed {
			r.dismissed++
		}
		l := p.LevelAt(at, pol)
		if l.IsOverdue() {
			r.overdue++
			c[1]++
		}
		if l == workflow.LevelRed || l == workflow.LevelListed {
			r.flagged = append(r.flagged, p.Code)
		}
		r.byCounty[p.CountyID] = c
	}
	slices.Sort(r.flagged)
	return r
}

// briefingScenario is buildScenario with a dispatch round: opened 07-07,
// due 07-08 18:00, on the problems onTime (reported 07-08 09:00) and late
// (reported late, 07-09).
func briefingScenario(t *testing.T) *scenario {
	return buildScenarioWith(t, func(s *scenario) {
		ctx := context.Background()
		s.clock.Set(cst("2021-07-07 09:00"))
		r, _, err := s.svc.OpenRound(ctx, bureau, workflow.NewRound{Title: "七月第一次调度", Due: cst("2021-07-08 18:00"),
			Scope: workflow.RoundScope{ProblemIDs: []string{s.ids["onTime"], s.ids["late"]}}})
		if err != nil {
			t.Fatal(err)
		}
		s.clock.Set(cst("2021-07-08 09:00"))
		if _, err := s.svc.FileReport(ctx, officer, r.ID, workflow.ReportInput{ProblemID: s.ids["onTime"], Progress: "正在清理"}); err != nil {
			t.Fatal(err)
		}
		s.clock.Set(cst("2021-07-09 09:00"))
		if _, err := s.svc.FileReport(ctx, officer, r.ID, workflow.ReportInput{ProblemID: s.ids["late"], Progress: "补报"}); err != nil {
			t.Fatal(err)
		}
	})
}

func TestBriefingAgainstReplayedHistories(t *testing.T) {
	// The red and listed problems of a past period come from the outbox
	// since then, or from a walk of every problem when the outbox since is
	// long: the same either way.
	t.Run("outbox", testBriefingAgainstReplayedHistories)
	t.Run("walk", func(t *testing.T) {
		defer workflow.SetBriefingEventLimit(0)()
		testBriefingAgainstReplayedHistories(t)
	})
}

func testBriefingAgainstReplayedHistories(t *testing.T) {
	ctx := context.Background()
	s := briefingScenario(t)
	// The red problem is rectified in September: a briefing of August still
	// names it, though no index tags it any more.
	s.do(t, "2021-09-01 10:00", outsider, "overdue", workflow.TriggerAccept, workflow.Params{Plan: "方案"})
	s.clock.Set(cst("2021-09-02 10:00"))
	s.evidence(t, outsider, s.ids["overdue"], "overdue")
	s.do(t, "2021-09-02 11:00", outsider, "overdue", workflow.TriggerSubmit, workflow.Params{Summary: "已整改"})
	s.do(t, "2021-09-03 10:00", inspector, "overdue", workflow.TriggerVerify, workflow.Params{Opinion: "通过"})
	now := s.clock.Now()
	for _, c := range []struct {
		date   string
		period workflow.BriefingPeriod
		late   []string // item title / status
	}{
		{"2021-06-24", workflow.PeriodWeek, nil},
		{"2021-07-08", workflow.PeriodWeek, []string{"问题late/missing"}},
		{"2021-07-10", workflow.PeriodWeek, []string{"问题late/late"}},
		{"2021-07-20", workflow.PeriodWeek, nil},
		{"2021-07-31", workflow.PeriodMonth, []string{"问题late/late"}},
		{"2021-08-15", workflow.PeriodWeek, nil},
		{"2021-08-20", workflow.PeriodQuarter, []string{"问题late/late"}},
		{"2021-09-03", workflow.PeriodWeek, nil},
	} {
		day, err := workflow.ParseBriefingDate(c.date, now)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range []workflow.Actor{bureau, viewer} {
			b, err := s.svc.Briefing(ctx, a, c.period, day)
			if err != nil {
				t.Fatalf("%s: %v", c.date, err)
			}
			end, _ := workflow.ParseAsOf(c.date)
			if !b.To.Equal(end) {
				t.Errorf("%s: to %v, want %v", c.date, b.To, end)
			}
			was := replayAt(t, s, b.From.Add(-time.Nanosecond))
			is := replayAt(t, s, b.To)
			if b.End.Total != is.total || b.End.Open != is.open || b.End.Overdue != is.overdue ||
				b.End.ClosedRectified != is.rectified || b.End.Dismissed != is.dismissed {
				t.Errorf("%s: end %+v, replayed %+v", c.date, b.End, is)
			}
			wantChange := workflow.BriefingChange{New: is.total - was.total, Closed: is.rectified - was.rectified,
				Dismissed: is.dismissed - was.dismissed, Overdue: is.overdue - was.overdue}
			if b.Changes != wantChange {
				t.Errorf("%s: changes %+v, want %+v", c.date, b.Changes, wantChange)
			}
			var codes []string
			for _, f := range b.Flagged {
				codes = append(codes, f.Code)
			}
			slices.Sort(codes)
			if !slices.Equal(codes, is.flagged) {
				t.Errorf("%s: red and listed %v, replayed %v", c.date, codes, is.flagged)
			}
			counties := map[string][2]int{}
			for _, r := range b.Counties {
				counties[r.Key] = [2]int{r.Total, r.Overdue}
			}
			wantCounties := map[string][2]int{}
			for k, v := range is.byCounty {
				if k != "" {
					wantCounties[k] = v
				}
			}
			if !reflect.DeepEqual(counties, wantCounties) {
				t.Errorf("%s: counties %v, replayed %v", c.date, counties, wantCounties)
			}
			var late []string
			for _, r := range b.LateReports {
				late = append(late, r.Item+"/"+r.Status)
			}
			if !slices.Equal(late, c.late) {
				t.Errorf("%s: late reports %v, want %v", c.date, late, c.late)
			}
			// The trend: one point a week back to the first problem, each
			// what the replay shows at that week's end.
			if len(b.Trend) == 0 || !b.Trend[len(b.Trend)-1].At.Equal(b.To) || b.Trend[0].At.After(cst("2021-06-24 09:00")) {
				t.Fatalf("%s: trend %v", c.date, b.Trend)
			}
			for i, p := range b.Trend {
				if i > 0 && p.At.Sub(b.Trend[i-1].At) != 7*24*time.Hour {
					t.Errorf("%s: trend point %d at %v", c.date, i, p.At)
				}
				r := replayAt(t, s, p.At)
				if p.Open != r.open || p.Overdue != r.overdue {
					t.Errorf("%s: trend at %v: %+v, replayed %+v", c.date, p.At, p, r)
				}
			}
			if b.AuditHead == "" || b.Title == "" || !b.LettersKept {
				t.Errorf("%s: head %q title %q letters %v", c.date, b.AuditHead, b.Title, b.LettersKept)
			}
		}
	}
}

func TestBriefingOfTodayMatchesThePast(t *testing.T) {
	s := buildScenario(t)
	ctx := context.Background()
	now := s.clock.Now()
	today, err := workflow.ParseBriefingDate("", now)
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.svc.Briefing(ctx, bureau, workflow.PeriodMonth, today)
	if err != nil {
		t.Fatal(err)
	}
	is := replayAt(t, s, b.To)
	var codes []string
	for _, f := range b.Flagged {
		codes = append(codes, f.Code)
	}
	slices.Sort(codes)
	// The overdue problem (deadline 07-10) is red on 08-20, from the tag index.
	if len(codes) != 1 || !slices.Equal(codes, is.flagged) || b.Flagged[0].Level != workflow.LevelRed || b.Flagged[0].LeadUnit != "乐平市" {
		t.Fatalf("flagged %+v, replayed %v", b.Flagged, is.flagged)
	}
}

func TestBriefingRefusals(t *testing.T) {
	s := buildScenario(t)
	ctx := context.Background()
	now := s.clock.Now()
	for _, c := range []struct {
		in     string
		reason workflow.Reason
	}{
		{"2021/08/01", workflow.ReasonBadDate},
		{"yesterday", workflow.ReasonBadDate},
		{"1999-12-31", workflow.ReasonBadDate},
		{"2021-08-21", workflow.ReasonDateFuture},
	} {
		_, err := workflow.ParseBriefingDate(c.in, now)
		if workflow.ErrorCode(err) != workflow.CodeInvalid || workflow.ErrorReason(err) != c.reason {
			t.Errorf("ParseBriefingDate(%q) = %v; want %s", c.in, err, c.reason)
		}
	}
	for _, p := range []string{"year", "Week", " week"} {
		_, err := workflow.ParseBriefingPeriod(p)
		if workflow.ErrorCode(err) != workflow.CodeInvalid || workflow.ErrorReason(err) != workflow.ReasonUnknownValue {
			t.Errorf("ParseBriefingPeriod(%q) = %v", p, err)
		}
	}
	day, _ := workflow.ParseBriefingDate("2021-08-01", now)
	for _, a := range []workflow.Actor{officer, inspector, {ID: "a", Role: workflow.RoleAdmin}} {
		if _, err := s.svc.Briefing(ctx, a, workflow.PeriodWeek, day); workflow.ErrorCode(err) != workflow.CodeForbidden {
			t.Errorf("%s: %v, want forbidden", a.Role, err)
		}
	}
}
