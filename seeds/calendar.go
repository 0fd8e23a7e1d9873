package seeds

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"
	"time"
)

// Calendar is one year's official holiday arrangement: the holidays (days off,
// weekends included) and the 调休 make-up working days that fall on weekends.
// Dates are YYYY-MM-DD in Asia/Shanghai.
type Calendar struct {
	Year     int       `json:"year"`
	Source   string    `json:"source"`
	Holidays []Holiday `json:"holidays"`
	Workdays []string  `json:"workdays"`
}

// Holiday is one public holiday period, From and To inclusive.
type Holiday struct {
	Name string `json:"name"`
	From string `json:"from"`
	To   string `json:"to"`
}

// Calendars returns the calendar files shipped with the seed data, by year,
// byte for byte (today only 2021, the seed plan's year). Each call returns
// fresh copies.
func Calendars() map[int][]byte {
	out := map[int][]byte{}
	entries, err := fs.ReadDir(files, "data/calendar")
	if err != nil {
		panic(err) // the directory is embedded; tests rule this out
	}
	for _, e := range entries {
		name := e.Name()
		year, err := strconv.Atoi(strings.TrimSuffix(name, path.Ext(name)))
		if err != nil || path.Ext(name) != ".json" {
			continue
		}
		b, err := files.ReadFile("data/calendar/" + name)
		if err != nil {
			panic(err)
		}
		out[year] = b
	}
	return out
}

// ParseCalendar reads and checks a calendar file: every date is a valid date
// of its year, and no holiday ends before it starts.
func ParseCalendar(b []byte) (Calendar, error) {
	var c Calendar
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return Calendar{}, fmt.Errorf("calendar: %w", err)
	}
	if c.Year < 2000 || c.Year > 2100 {
		return Calendar{}, fmt.Errorf("calendar: year %d out of range", c.Year)
	}
	day := func(s string) (time.Time, error) {
		t, err := time.Parse(time.DateOnly, s)
		if err != nil || t.Year() != c.Year {
			return time.Time{}, fmt.Errorf("calendar %d: %q is not a date of that year", c.Year, s)
		}
		return t, nil
	}
	for _, h := range c.Holidays {
		from, err := day(h.From)
		if err != nil {
			return Calendar{}, err
		}
		to, err := day(h.To)
		if err != nil {
			return Calendar{}, err
		}
		if h.Name == "" || to.Before(from) {
			return Calendar{}, fmt.Errorf("calendar %d: bad holiday %q %s–%s", c.Year, h.Name, h.From, h.To)
		}
	}
	for _, w := range c.Workdays {
		if _, err := day(w); err != nil {
			return Calendar{}, err
		}
	}
	return c, nil
}

// CalendarFor returns the shipped calendar of year, parsed; ok is false when
// none is shipped for that year.
func CalendarFor(year int) (c Calendar, ok bool, err error) {
	b, ok := Calendars()[year]
	if !ok {
		return Calendar{}, false, nil
	}
	c, err = ParseCalendar(b)
	if err == nil && c.Year != year {
		err = fmt.Errorf("calendar file %d.json holds year %d", year, c.Year)
	}
	return c, err == nil, err
}
