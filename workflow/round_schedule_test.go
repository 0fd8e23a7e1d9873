package workflow_test

import (
	"context"
	"testing"
	"time"

	"github.com/jdz-eco/rectify/workflow"
)

func shanghai(s string) time.Time {
	t, err := time.ParseInLocation("2006-01-02 15:04", s, workflow.Shanghai)
	if err != nil {
		panic(err)
	}
	return t
}

func TestParseRoundSchedule(t *testing.T) {
	for _, bad := range []string{"", "monthly", "monthly:0", "monthly:29", "weekly:8", "daily:1", "monthly:x"} {
		if _, err := workflow.ParseRoundSchedule(bad, 9*time.Hour, 5, workflow.ScopeProblems); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	for _, c := range []struct {
		at    time.Duration
		due   int
		scope string
	}{{-time.Minute, 5, workflow.ScopeProblems}, {24 * time.Hour, 5, workflow.ScopeProblems}, {0, 0, workflow.ScopeProblems}, {0, 5, "all"}} {
		if _, err := workflow.ParseRoundSchedule("monthly:25", c.at, c.due, c.scope); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
	sc, err := workflow.ParseRoundSchedule(" monthly:25 ", 9*time.Hour+30*time.Minute, 5, workflow.ScopeBoth)
	if err != nil || sc.String() != "monthly:25@09:30" {
		t.Fatalf("%v %v", sc, err)
	}
}

// TestRoundSchedulePeriod: the latest opening at or before now, its key and
// name, across month and year ends and weeks.
func TestRoundSchedulePeriod(t *testing.T) {
	monthly, _ := workflow.ParseRoundSchedule("monthly:25", 9*time.Hour, 5, workflow.ScopeProblems)
	weekly, _ := workflow.ParseRoundSchedule("weekly:1", 8*time.Hour, 2, workflow.ScopePoints)
	for _, c := range []struct {
		sc         workflow.RoundSchedule
		now, opens string
		key, name  string
	}{
		{monthly, "2026-03-25 09:00", "2026-03-25 09:00", "monthly-25:2026-03", "2026年3月"},
		{monthly, "2026-03-25 08:59", "2026-02-25 09:00", "monthly-25:2026-02", "2026年2月"},
		{monthly, "2026-04-10 12:00", "2026-03-25 09:00", "monthly-25:2026-03", "2026年3月"},
		{monthly, "2026-01-03 00:00", "2025-12-25 09:00", "monthly-25:2025-12", "2025年12月"},
		{weekly, "2026-03-09 08:00", "2026-03-09 08:00", "weekly-1:2026-W11", "2026年第11周"},
		{weekly, "2026-03-15 23:00", "2026-03-09 08:00", "weekly-1:2026-W11", "2026年第11周"},
		{weekly, "2026-03-09 07:59", "2026-03-02 08:00", "weekly-1:2026-W10", "2026年第10周"},
	} {
		opens, key, name := c.sc.Period(shanghai(c.now))
		if !opens.Equal(shanghai(c.opens)) || key != c.key || name != c.name {
			t.Errorf("%s at %s: %s %s %s, want %s %s %s", c.sc, c.now, opens.In(workflow.Shanghai).Format("2006-01-02 15:04"), key, name, c.opens, c.key, c.name)
		}
	}
}

// TestScheduledRounds: the schedule opens one round per period however
// often it is looked at, restarts included; the next period opens the next
// round; a period whose due time passed while the server was down is not
// caught up; the due time counts working days by the calendar.
func TestScheduledRounds(t *testing.T) {
	f := newRoundFixture(t)
	ctx := context.Background()
	f.assigned("浮梁县尾矿库渗漏", "fuliang", "fuliang")
	// 2021-06-28 is a holiday in this calendar: the five working days after
	// Friday 25 June end on Monday 5 July instead of Friday 2 July.
	if _, err := f.svc.PutCalendar(ctx, bureau, []byte(`{"year":2021,"holidays":[{"name":"测试假日","from":"2021-06-28","to":"2021-06-28"}],"workdays":[]}`)); err != nil {
		t.Fatal(err)
	}
	sc, _ := workflow.ParseRoundSchedule("monthly:25", 9*time.Hour, 5, workflow.ScopeBoth)
	f.clock.Set(shanghai("2021-06-25 08:00"))
	// Before the opening time of this period, the last period's round
	// would be past due: nothing opens.
	if r, created, err := f.svc.OpenScheduledRound(ctx, sc); err != nil || r != nil || created {
		t.Fatalf("before the opening: %+v %v %v", r, created, err)
	}
	f.clock.Set(shanghai("2021-06-25 09:05"))
	r, created, err := f.svc.OpenScheduledRound(ctx, sc)
	if err != nil || !created {
		t.Fatalf("open: %v %v", created, err)
	}
	if r.Key != "monthly-25:2021-06" || r.Title != "2021年6月问题整改和工作要点落实情况调度" || !r.Due.Equal(workflow.EndOfDay(shanghai("2021-07-05 12:00"))) ||
		r.OpenedBy.Role != workflow.RoleSystem || len(r.Items) != 1+5 {
		t.Fatalf("round %+v", r)
	}
	for range 3 {
		f.clock.Advance(time.Hour)
		again, created, err := f.svc.OpenScheduledRound(ctx, sc)
		if err != nil || created || again.ID != r.ID {
			t.Fatalf("again: %+v %v %v", again, created, err)
		}
	}
	f.restart()
	if again, created, err := f.svc.OpenScheduledRound(ctx, sc); err != nil || created || again.ID != r.ID {
		t.Fatalf("after a restart: %+v %v %v", again, created, err)
	}
	f.clock.Set(shanghai("2021-07-25 10:00"))
	next, created, err := f.svc.OpenScheduledRound(ctx, sc)
	if err != nil || !created || next.ID == r.ID || next.Key != "monthly-25:2021-07" {
		t.Fatalf("next period: %+v %v %v", next, created, err)
	}
	// Down from before 25 August until after the round would have been due.
	f.clock.Set(shanghai("2021-09-10 10:00"))
	if r, created, err := f.svc.OpenScheduledRound(ctx, sc); err != nil || r != nil || created {
		t.Fatalf("a missed period: %+v %v %v", r, created, err)
	}
	if list, _ := f.svc.Rounds(ctx, bureau); len(list) != 2 {
		t.Fatalf("%d rounds", len(list))
	}
}
