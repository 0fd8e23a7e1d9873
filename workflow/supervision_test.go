package workflow

import (
	"os"
	"testing"
	"time"
)

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestLevelAt(t *testing.T) {
	pol := DefaultPolicy()
	dateDeadline, _ := ParseDeadline("2021-12-31") // 2021-12-31T23:59:59+08:00
	due := at("2021-06-30T12:00:00Z")
	paused := due.Add(-2 * Day)
	cases := []struct {
		name     string
		p        Problem
		now      time.Time
		want     Level
		overdue  int
		daysLeft int
	}{
		{"far ahead", Problem{State: StateAssigned, Deadline: &due}, due.Add(-8 * Day), LevelNone, 0, 8},
		{"due soon opens at 7 days", Problem{State: StateAssigned, Deadline: &due}, due.Add(-7 * Day), LevelDueSoon, 0, 7},
		{"exactly at the deadline", Problem{State: StateRectifying, Deadline: &due}, due, LevelDueSoon, 0, 0},
		{"one second after", Problem{State: StateRectifying, Deadline: &due}, due.Add(time.Second), LevelOverdue, 1, 0},
		{"date deadline, last second of the day", Problem{State: StateAssigned, Deadline: &dateDeadline}, at("2021-12-31T23:59:59+08:00"), LevelDueSoon, 0, 0},
		{"date deadline, next midnight", Problem{State: StateAssigned, Deadline: &dateDeadline}, at("2022-01-01T00:00:00+08:00"), LevelOverdue, 1, 0},
		{"exactly 30 days over", Problem{State: StateRectifying, Deadline: &due}, due.Add(30 * Day), LevelOverdue, 30, 0},
		{"30 days and a second", Problem{State: StateRectifying, Deadline: &due}, due.Add(30*Day + time.Second), LevelRed, 31, 0},
		{"exactly 60 days over", Problem{State: StateRectifying, Deadline: &due}, due.Add(60 * Day), LevelRed, 60, 0},
		{"60 days and a second", Problem{State: StateRectifying, Deadline: &due}, due.Add(60*Day + time.Second), LevelListed, 61, 0},
		{"paused while submitted", Problem{State: StateSubmitted, Deadline: &due, Supervision: Supervision{PausedAt: &paused}}, due.Add(90 * Day), LevelDueSoon, 0, 2},
		{"resumed after reject: 10 paused days", Problem{State: StateRectifying, Deadline: &due, Supervision: Supervision{PausedSeconds: int64(10 * Day / time.Second)}}, due.Add(10 * Day), LevelDueSoon, 0, 0},
		{"resumed, then late", Problem{State: StateRectifying, Deadline: &due, Supervision: Supervision{PausedSeconds: int64(10 * Day / time.Second)}}, due.Add(41*Day + time.Second), LevelRed, 32, 0},
		{"verified has no level", Problem{State: StateVerified, Deadline: &due}, due.Add(90 * Day), LevelNone, 0, 0},
		{"closed has no level", Problem{State: StateClosed, Deadline: &due}, due.Add(90 * Day), LevelNone, 0, 0},
		{"found has no deadline", Problem{State: StateFound}, due, LevelNone, 0, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := c.p.LevelAt(c.now, pol); got != c.want {
				t.Errorf("level %q, want %q", got, c.want)
			}
			over, left, _ := c.p.DaysOverdue(c.now)
			if over != c.overdue || left != c.daysLeft {
				t.Errorf("days overdue %d left %d, want %d and %d", over, left, c.overdue, c.daysLeft)
			}
		})
	}
}

func TestThresholdsAreConfiguration(t *testing.T) {
	due := at("2021-06-30T12:00:00Z")
	p := Problem{State: StateRectifying, Deadline: &due}
	pol := Policy{DueSoon: 3 * Day, Red: 10 * Day, Listed: 20 * Day, AcceptDays: 1, VerifyDays: 1}
	if got := p.LevelAt(due.Add(-4*Day), pol); got != LevelNone {
		t.Errorf("4 days before with a 3-day window: %q", got)
	}
	if got := p.LevelAt(due.Add(11*Day), pol); got != LevelRed {
		t.Errorf("11 days over with red at 10: %q", got)
	}
	if got := p.LevelAt(due.Add(21*Day), pol); got != LevelListed {
		t.Errorf("21 days over with listed at 20: %q", got)
	}
	if err := (Policy{DueSoon: Day, Red: 5 * Day, Listed: 4 * Day, AcceptDays: 1, VerifyDays: 1}).Validate(); err == nil {
		t.Error("listed before red accepted")
	}
}

func calendar2021(t *testing.T) *Calendar {
	t.Helper()
	b, err := os.ReadFile("testdata/calendar-2021.json")
	if err != nil {
		t.Fatal(err)
	}
	f, err := ParseCalendarFile(b)
	if err != nil {
		t.Fatal(err)
	}
	return NewCalendar(f)
}

func TestWorkdays(t *testing.T) {
	cal := calendar2021(t)
	cases := []struct {
		name  string
		cal   *Calendar
		start string
		n     int
		want  string // the last working day, Shanghai date
	}{
		{"across a weekend", cal, "2021-03-05T10:00:00+08:00", 1, "2021-03-08"},
		{"three days across a weekend", cal, "2021-03-04T10:00:00+08:00", 3, "2021-03-09"},
		{"across the National Day holiday", cal, "2021-09-30T10:00:00+08:00", 1, "2021-10-08"},
		{"a 调休 working Saturday counts", cal, "2021-10-08T10:00:00+08:00", 1, "2021-10-09"},
		{"Mid-Autumn: make-up Saturday, then the holiday", cal, "2021-09-17T10:00:00+08:00", 3, "2021-09-23"},
		{"Spring Festival, 15 days", cal, "2021-02-05T10:00:00+08:00", 15, "2021-03-03"},
		{"late evening UTC is the next day in Shanghai", cal, "2021-03-04T17:00:00Z", 1, "2021-03-08"},
		{"no calendar: weekends only", nil, "2021-09-30T10:00:00+08:00", 1, "2021-10-01"},
		{"no file for the year: weekends only", cal, "2022-10-01T10:00:00+08:00", 1, "2022-10-03"},
	}
	for _, c := range cases {
		got := c.cal.AddWorkdays(at(c.start), c.n)
		want, _ := ParseDeadline(c.want)
		if !got.Equal(want) {
			t.Errorf("%s: %s + %d working days = %s, want end of %s", c.name, c.start, c.n, got.In(Shanghai), c.want)
		}
	}
	if cal.IsWorkday(at("2021-10-01T12:00:00+08:00")) || !cal.IsWorkday(at("2021-09-26T12:00:00+08:00")) {
		t.Error("IsWorkday ignores the calendar")
	}
}

func TestParseCalendarFileRefusals(t *testing.T) {
	bad := map[string]string{
		"not json":          `{`,
		"unknown field":     `{"year":2021,"holidays":[],"workdays":[],"extra":1}`,
		"wrong year":        `{"year":2021,"holidays":[{"name":"x","from":"2022-01-01","to":"2022-01-02"}],"workdays":[]}`,
		"reversed":          `{"year":2021,"holidays":[{"name":"x","from":"2021-01-03","to":"2021-01-01"}],"workdays":[]}`,
		"bad workday":       `{"year":2021,"holidays":[],"workdays":["2021-02-30"]}`,
		"year out of range": `{"year":1900,"holidays":[],"workdays":[]}`,
	}
	for name, b := range bad {
		if _, err := ParseCalendarFile([]byte(b)); ErrorCode(err) != CodeInvalid {
			t.Errorf("%s: got %v, want invalid", name, err)
		}
	}
}

func TestSuperviseRecordsEachLevelOnce(t *testing.T) {
	pol := DefaultPolicy()
	due := at("2021-06-30T12:00:00Z")
	p := &Problem{ID: "1", State: StateRectifying, Deadline: &due}
	var got []string
	for _, now := range []time.Time{
		due.Add(-10 * Day), due.Add(-7 * Day), due.Add(-6 * Day), due.Add(time.Second), due.Add(Day),
		due.Add(31 * Day), due.Add(31 * Day), due.Add(61 * Day), due.Add(400 * Day),
	} {
		for _, e := range supervise(p, now, pol) {
			got = append(got, e.Params.Level)
		}
		if p.Supervision.WakeAt != nil && !p.Supervision.WakeAt.After(now) {
			t.Fatalf("at %s the next wake %s is not in the future", now, p.Supervision.WakeAt)
		}
	}
	want := []string{"due_soon", "overdue", "red", "listed"}
	if len(got) != len(want) {
		t.Fatalf("alerts %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("alerts %v, want %v", got, want)
		}
	}
	if p.Supervision.WakeAt != nil {
		t.Fatalf("listed problem still wakes at %s", p.Supervision.WakeAt)
	}
}

func TestWakeIsTheNextAlert(t *testing.T) {
	pol := DefaultPolicy()
	due := at("2021-06-30T12:00:00Z")
	p := &Problem{ID: "1", State: StateAssigned, Deadline: &due}
	now := due.Add(-30 * Day)
	if alerts := supervise(p, now, pol); len(alerts) != 0 {
		t.Fatalf("alerts a month early: %v", alerts)
	}
	if want := due.Add(-7 * Day); !p.Supervision.WakeAt.Equal(want) {
		t.Fatalf("wake %s, want %s", p.Supervision.WakeAt, want)
	}
	// Each wake produces exactly one alert until there is nothing left to wake for.
	for i := 0; p.Supervision.WakeAt != nil; i++ {
		if i > 4 {
			t.Fatal("wakes forever")
		}
		if alerts := supervise(p, *p.Supervision.WakeAt, pol); len(alerts) != 1 {
			t.Fatalf("wake %d gave %d alerts", i, len(alerts))
		}
	}
}
