package api

import (
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/jdz-eco/rectify/workflow"
)

// alertJSON is one current alert: a problem at a deadline level, or with a
// breached stage clock, as the scanner last recorded it.
type alertJSON struct {
	Kind        string         `json:"kind"`
	Level       workflow.Level `json:"level,omitempty"`
	ProblemID   string         `json:"problem_id"`
	Code        string         `json:"code"`
	Title       string         `json:"title"`
	State       workflow.State `json:"state"`
	LeadUnit    string         `json:"lead_unit"`
	CountyID    string         `json:"county_id"`
	Deadline    *time.Time     `json:"deadline"`
	DaysOverdue int            `json:"days_overdue"`
	DaysLeft    *int           `json:"days_left,omitempty"`
	StageDue    *stageDue      `json:"stage_due,omitempty"`
}

// listAlerts serves GET /alerts?level=&unit=&county=: the current alerts the
// caller may see, most severe first (workflow.AlertKinds), each kind in
// creation order.
func (s *server) listAlerts(c echo.Context) error {
	q := c.QueryParams()
	if err := checkQuery(q, "level", "unit", "county"); err != nil {
		return err
	}
	var f workflow.AlertFilter
	for _, p := range []struct {
		name string
		dst  *string
	}{{"level", &f.Kind}, {"unit", &f.LeadUnit}, {"county", &f.County}} {
		v, err := query(q, p.name)
		if err != nil {
			return err
		}
		*p.dst = v
	}
	alerts, err := s.svc.Alerts(c.Request().Context(), actor(c), f)
	if err != nil {
		return err
	}
	now := s.svc.Clock().Now()
	items := make([]alertJSON, 0, len(alerts))
	for _, al := range alerts {
		p := al.Problem
		overdue, left := daysOf(p, now)
		days := 0
		if overdue != nil {
			days = *overdue
		}
		items = append(items, alertJSON{
			Kind: al.Kind, Level: p.Supervision.Level, ProblemID: p.ID, Code: p.Code, Title: p.Title,
			State: p.State, LeadUnit: p.LeadUnit, CountyID: p.CountyID, Deadline: utcPtr(p.Deadline),
			DaysOverdue: days, DaysLeft: left, StageDue: stageDueOf(p, now),
		})
	}
	return c.JSON(http.StatusOK, map[string]any{"items": items})
}

// scanResult is the body of POST /deadlines/scan.
type scanResult struct {
	Changes int `json:"changes"`
}

// scan runs the deadline scanner now (bureau or admin) and answers with the
// number of alerts it recorded. It takes no body.
func (s *server) scan(c echo.Context) error {
	n, err := s.svc.ScanAs(c.Request().Context(), actor(c))
	if workflow.ErrorCode(err) != workflow.CodeForbidden {
		s.metrics.ObserveScan(n, err) // a refused caller ran no scan
	}
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, scanResult{Changes: n})
}

// calendarJSON is a working-day calendar file as the API shows it.
type calendarJSON struct {
	Year     int                `json:"year"`
	Source   string             `json:"source,omitempty"`
	Holidays []workflow.Holiday `json:"holidays"`
	Workdays []string           `json:"workdays"`
}

// putCalendar serves PUT /calendars/{year}: the body is the calendar file of
// that year, decoded as strictly as any other body, then checked by the
// domain, which stores it (bureau or admin) and uses it from now on. Input
// errors (400) are reported before the role (403), as for transitions.
func (s *server) putCalendar(c echo.Context) error {
	year, err := strconv.Atoi(c.Param("year"))
	if err != nil || strconv.Itoa(year) != c.Param("year") || year < 1 {
		return apiError(workflow.CodeInvalid, "year", "the year in the path must be a whole number such as 2025, not "+strconv.Quote(c.Param("year")))
	}
	b, err := readBody(c)
	if err != nil {
		return err
	}
	var f workflow.CalendarFile
	if err := decodeStrict(b, &f); err != nil {
		return err
	}
	if f.Year != year {
		return apiError(workflow.CodeInvalid, "year", "the file is the calendar of "+strconv.Itoa(f.Year)+", not of "+strconv.Itoa(year)+" as the path says")
	}
	f, err = s.svc.PutCalendar(c.Request().Context(), actor(c), b)
	if err != nil {
		return err
	}
	out := calendarJSON{Year: f.Year, Source: f.Source, Holidays: f.Holidays, Workdays: f.Workdays}
	if out.Holidays == nil {
		out.Holidays = []workflow.Holiday{}
	}
	if out.Workdays == nil {
		out.Workdays = []string{}
	}
	return c.JSON(http.StatusOK, out)
}

// calendarYears is the body of GET /calendars.
type calendarYears struct {
	Years []int `json:"years"`
}

// listCalendars serves GET /calendars: the years with a calendar file loaded
// (shipped or stored), in order. Other years rest on weekends only.
func (s *server) listCalendars(c echo.Context) error {
	years := s.svc.Calendar().Years()
	if years == nil {
		years = []int{}
	}
	slices.Sort(years)
	return c.JSON(http.StatusOK, calendarYears{Years: years})
}
