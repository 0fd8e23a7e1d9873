package workflow

import (
	"strings"
	"time"
)

// Shanghai is the zone deadlines are given and shown in. China has kept UTC+8
// without daylight saving since 1991, so a fixed zone is exact and needs no
// tzdata in the binary.
var Shanghai = time.FixedZone("CST", 8*60*60)

// ParseDeadline reads an RFC 3339 time, or a date (2021-12-31) meaning the end
// of that day in Asia/Shanghai. The result is in UTC, whole seconds.
func ParseDeadline(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if t, err := time.ParseInLocation(time.DateOnly, s, Shanghai); err == nil {
		if t.Year() < 2000 || t.Year() > 2100 {
			return time.Time{}, RefuseField(ReasonBadDate, "deadline", "deadline %q is out of range", s)
		}
		return EndOfDay(t), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, RefuseField(ReasonBadDate, "deadline", "deadline %q is neither a date (2021-12-31) nor an RFC 3339 time", s)
	}
	if u := t.UTC(); u.Year() < 2000 || u.Year() > 2100 {
		return time.Time{}, RefuseField(ReasonBadDate, "deadline", "deadline %q is out of range", s)
	}
	return t.UTC().Truncate(time.Second), nil
}

// EndOfDay returns the last second of t's calendar day in Asia/Shanghai, in UTC.
func EndOfDay(t time.Time) time.Time {
	y, m, d := t.In(Shanghai).Date()
	return time.Date(y, m, d, 23, 59, 59, 0, Shanghai).UTC()
}
