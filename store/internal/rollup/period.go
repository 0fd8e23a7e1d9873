package rollup

import (
	"time"

	"github.com/jdz-eco/rectify/workflow"
)

// Periods of the series: days and months of the calendar in Asia/Shanghai
// (workflow.Shanghai), numbered from 1970-01-01 and from January of year 0.

const dayNs = int64(24 * time.Hour)

// Day is the day in Asia/Shanghai of an instant (unix nanoseconds).
func Day(ns int64) int32 {
	y, m, d := time.Unix(0, ns).In(workflow.Shanghai).Date()
	return int32(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / (dayNs / int64(time.Second)))
}

// Month is the month in Asia/Shanghai of an instant (unix nanoseconds).
func Month(ns int64) int32 {
	y, m, _ := time.Unix(0, ns).In(workflow.Shanghai).Date()
	return int32(y*12 + int(m) - 1)
}

// MonthOfDay is the month of a day.
func MonthOfDay(day int32) int32 {
	y, m, _ := dayDate(day)
	return int32(y*12 + int(m) - 1)
}

// FirstDay is the first day of a month.
func FirstDay(month int32) int32 {
	t := time.Date(int(month/12), time.Month(month%12+1), 1, 0, 0, 0, 0, time.UTC)
	return int32(t.Unix() / (dayNs / int64(time.Second)))
}

func dayDate(day int32) (int, time.Month, int) {
	return time.Unix(int64(day)*(dayNs/int64(time.Second)), 0).UTC().Date()
}

// DayEnd returns the day whose last instant t is (23:59:59.999999999 in
// Asia/Shanghai: what workflow.ParseAsOf makes of a date), and false when t
// is no such instant.
func DayEnd(t time.Time) (int32, bool) {
	d := Day(t.UnixNano())
	next := t.Add(1)
	return d, !next.IsZero() && Day(next.UnixNano()) == d+1
}

func timeOf(ns int64) string {
	return time.Unix(0, ns).In(workflow.Shanghai).Format("2006-01-02 15:04:05.999999999")
}
