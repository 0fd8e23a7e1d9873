package workflow

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// CalendarFile is one year's official holiday arrangement as the State
// Council publishes it: holidays (days off, weekends included) and the 调休
// make-up working days that fall on weekends. Dates are YYYY-MM-DD.
type CalendarFile struct {
	Year     int       `json:"year"`
	Source   string    `json:"source,omitempty"`
	Holidays []Holiday `json:"holidays"`
	Workdays []string  `json:"workdays"`
}

// Holiday is one public holiday period, From and To inclusive.
type Holiday struct {
	Name string `json:"name"`
	From string `json:"from"`
	To   string `json:"to"`
}

// ParseCalendarFile reads and checks a calendar file: every date is a valid
// date of its year and no holiday ends before it starts.
func ParseCalendarFile(b []byte) (CalendarFile, error) {
	var c CalendarFile
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return c, RefuseField(ReasonBadConfig, "calendar", "calendar file: %v", err)
	}
	if c.Year < 2000 || c.Year > 2100 {
		return c, RefuseField(ReasonBadConfig, "year", "calendar year %d is out of range", c.Year)
	}
	day := func(s string) (time.Time, error) {
		t, err := time.ParseInLocation(time.DateOnly, s, Shanghai)
		if err != nil || t.Year() != c.Year {
			return t, RefuseField(ReasonBadConfig, "calendar", "%q is not a date of %d", s, c.Year)
		}
		return t, nil
	}
	for _, h := range c.Holidays {
		from, err := day(h.From)
		if err != nil {
			return c, err
		}
		to, err := day(h.To)
		if err != nil {
			return c, err
		}
		if to.Before(from) {
			return c, RefuseField(ReasonBadConfig, "calendar", "holiday %s ends (%s) before it starts (%s)", h.Name, h.To, h.From)
		}
	}
	for _, w := range c.Workdays {
		if _, err := day(w); err != nil {
			return c, err
		}
	}
	return c, nil
}

// Calendar tells working days from rest days. Years without a file rest on
// Saturdays and Sundays only. The zero value is ready to use.
type Calendar struct {
	holidays map[string]bool // YYYY-MM-DD
	workdays map[string]bool // 调休 working weekend days
	years    map[int]bool
}

// NewCalendar builds a calendar from parsed files.
func NewCalendar(files ...CalendarFile) *Calendar {
	c := &Calendar{holidays: map[string]bool{}, workdays: map[string]bool{}, years: map[int]bool{}}
	for _, f := range files {
		c.add(f)
	}
	return c
}

func (c *Calendar) add(f CalendarFile) {
	c.years[f.Year] = true
	for _, h := range f.Holidays {
		from, _ := time.ParseInLocation(time.DateOnly, h.From, Shanghai)
		to, _ := time.ParseInLocation(time.DateOnly, h.To, Shanghai)
		for d := from; !d.After(to); d = d.AddDate(0, 0, 1) {
			c.holidays[d.Format(time.DateOnly)] = true
		}
	}
	for _, w := range f.Workdays {
		c.workdays[w] = true
	}
}

// Years returns the years the calendar has files for.
func (c *Calendar) Years() []int {
	var out []int
	if c == nil {
		return out
	}
	for y := range c.years {
		out = append(out, y)
	}
	return out
}

// IsWorkday reports whether the Shanghai calendar day of t is a working day.
func (c *Calendar) IsWorkday(t time.Time) bool {
	d := t.In(Shanghai)
	key := d.Format(time.DateOnly)
	if c != nil && c.workdays[key] {
		return true
	}
	if c != nil && c.holidays[key] {
		return false
	}
	return d.Weekday() != time.Saturday && d.Weekday() != time.Sunday
}

// AddWorkdays returns the end (23:59:59, Asia/Shanghai, in UTC) of the n-th
// working day after the day of t: the stage clock's due time for a stage that
// starts at t and must end within n working days.
func (c *Calendar) AddWorkdays(t time.Time, n int) time.Time {
	d := t.In(Shanghai)
	d = time.Date(d.Year(), d.Month(), d.Day(), 12, 0, 0, 0, Shanghai)
	for n > 0 {
		d = d.AddDate(0, 0, 1)
		if c.IsWorkday(d) {
			n--
		}
	}
	return EndOfDay(d)
}

// String describes the calendar for logs.
func (c *Calendar) String() string {
	return fmt.Sprintf("calendar(%d years, %d holidays, %d make-up workdays)", len(c.years), len(c.holidays), len(c.workdays))
}

// LoadCalendars builds the service's working-day calendar from the shipped
// files and those the bureau stored, the stored file winning for its year.
func (s *Service) LoadCalendars(ctx context.Context, shipped map[int][]byte) error {
	stored, err := s.store.Calendars(ctx)
	if err != nil {
		return err
	}
	byYear := map[int]CalendarFile{}
	for _, src := range []map[int][]byte{shipped, stored} {
		for year, b := range src {
			f, err := ParseCalendarFile(b)
			if err != nil {
				return fmt.Errorf("calendar %d: %w", year, err)
			}
			byYear[f.Year] = f
		}
	}
	files := make([]CalendarFile, 0, len(byYear))
	for _, f := range byYear {
		files = append(files, f)
	}
	s.mu.Lock()
	s.shipped = shipped
	s.calendar = NewCalendar(files...)
	s.mu.Unlock()
	return nil
}

// PutCalendar stores a calendar file the bureau loads (bureau or admin) and
// uses it for stage clocks started from now on.
func (s *Service) PutCalendar(ctx context.Context, a Actor, data []byte) (CalendarFile, error) {
	if err := needRole("load calendars", a, RoleBureau, RoleAdmin); err != nil {
		return CalendarFile{}, err
	}
	f, err := ParseCalendarFile(data)
	if err != nil {
		return f, err
	}
	if err := s.store.PutCalendar(ctx, f.Year, data); err != nil {
		return f, err
	}
	s.mu.RLock()
	shipped := s.shipped
	s.mu.RUnlock()
	return f, s.LoadCalendars(ctx, shipped)
}
