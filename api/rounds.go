package api

import (
	"bytes"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/jdz-eco/rectify/api/files"
	"github.com/jdz-eco/rectify/workflow"
	"github.com/jdz-eco/rectify/workflow/roundfile"
)

// Dispatch rounds (调度):
//
//	POST /api/v1/dispatch-rounds                    open a round (bureau)
//	GET  /api/v1/dispatch-rounds                    the rounds the caller may see
//	GET  /api/v1/dispatch-rounds/{rid}              its board: rows, per unit, per work point
//	POST /api/v1/dispatch-rounds/{rid}/reports      file or amend a report (unit)
//	GET  /api/v1/dispatch-rounds/{rid}/summary.xlsx the 调度汇总表
//	GET  /api/v1/workpoints/{number}/history        a work point's reports and alerts
//	GET  /api/v1/stats/reporting                    报送及时率 per unit

// openRoundRequest is the body of POST /dispatch-rounds.
type openRoundRequest struct {
	Title  string              `json:"title"`
	Period string              `json:"period"`
	Due    string              `json:"due"`
	Scope  workflow.RoundScope `json:"scope"`
}

// roundJSON is a round as the API shows it: every list present.
type roundJSON struct {
	ID             string               `json:"id"`
	Title          string               `json:"title"`
	Period         string               `json:"period"`
	Key            string               `json:"key,omitempty"`
	Due            time.Time            `json:"due"`
	Scope          workflow.RoundScope  `json:"scope"`
	Items          []workflow.RoundItem `json:"items,omitempty"`
	Unstaffed      []int                `json:"unstaffed"`
	OpenedAt       time.Time            `json:"opened_at"`
	OpenedBy       workflow.Actor       `json:"opened_by"`
	LateRecordedAt *time.Time           `json:"late_recorded_at,omitempty"`
}

func roundOf(r *workflow.Round) roundJSON {
	return roundJSON{
		ID: r.ID, Title: r.Title, Period: r.Period, Key: r.Key, Due: r.Due.UTC(), Scope: r.Scope, Items: r.Items,
		Unstaffed: orEmpty(r.Unstaffed), OpenedAt: r.OpenedAt.UTC(), OpenedBy: r.OpenedBy, LateRecordedAt: utcPtr(r.LateRecordedAt),
	}
}

// roundEntry is a report or report_late alert as the API shows it: a
// history entry with what it is about.
type roundEntry struct {
	ProblemID string `json:"problem_id,omitempty"`
	WorkPoint int    `json:"work_point,omitempty"`
	historyEntry
}

func roundEntryOf(e *workflow.Entry) *roundEntry {
	if e == nil {
		return nil
	}
	return &roundEntry{ProblemID: e.ProblemID, WorkPoint: e.WorkPoint, historyEntry: historyOf(*e)}
}

// roundRowJSON is one expected report on the board.
type roundRowJSON struct {
	Item    workflow.RoundItem `json:"item"`
	Status  string             `json:"status"`
	Report  *roundEntry        `json:"report"`
	FirstAt *time.Time         `json:"first_at"`
	Reports int                `json:"reports"`
	Alerted bool               `json:"alerted"`
}

// roundBoardJSON is the body of GET /dispatch-rounds/{rid}.
type roundBoardJSON struct {
	Round  roundJSON             `json:"round"`
	At     time.Time             `json:"at"`
	Due    bool                  `json:"due"`
	Rows   []roundRowJSON        `json:"rows"`
	Units  []workflow.RoundTally `json:"units"`
	Points []workflow.RoundTally `json:"points"`
	Total  workflow.RoundTally   `json:"total"`
}

func boardOf(b *workflow.RoundBoard) roundBoardJSON {
	out := roundBoardJSON{Round: roundOf(b.Round), At: b.At.UTC(), Due: b.Due, Rows: make([]roundRowJSON, len(b.Rows)),
		Units: b.Units, Points: b.Points, Total: b.Total}
	out.Round.Items = nil // the rows carry them
	for i, row := range b.Rows {
		out.Rows[i] = roundRowJSON{Item: row.Item, Status: row.Status, Report: roundEntryOf(row.Report),
			FirstAt: utcPtr(row.FirstAt), Reports: row.Reports, Alerted: row.Alerted}
	}
	return out
}

// openRound serves POST /dispatch-rounds (bureau): 201 with the round and
// the reports it expects.
func (s *server) openRound(c echo.Context) error {
	var req openRoundRequest
	if err := decodeBody(c, &req); err != nil {
		return err
	}
	in := workflow.NewRound{Title: req.Title, Period: req.Period, Scope: req.Scope}
	if req.Due != "" {
		d, err := workflow.ParseDeadline(req.Due)
		if err != nil {
			e := workflow.RefuseField(workflow.ReasonBadDate, "due", "due %q is neither a date (2026-03-31) nor an RFC 3339 time", req.Due)
			return e
		}
		in.Due = d
	}
	r, _, err := s.svc.OpenRound(c.Request().Context(), actor(c), in)
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderLocation, "/api/v1/dispatch-rounds/"+r.ID)
	return c.JSON(http.StatusCreated, roundOf(r))
}

// listRounds serves GET /dispatch-rounds: the rounds the caller may see,
// newest first, without their items.
func (s *server) listRounds(c echo.Context) error {
	if err := checkQuery(c.QueryParams()); err != nil {
		return err
	}
	rounds, err := s.svc.Rounds(c.Request().Context(), actor(c))
	if err != nil {
		return err
	}
	items := make([]roundJSON, len(rounds))
	for i, r := range rounds {
		items[i] = roundOf(r)
	}
	return c.JSON(http.StatusOK, map[string]any{"items": items})
}

// getRound serves GET /dispatch-rounds/{rid}: the board as the caller may
// see it (a unit: its own rows).
func (s *server) getRound(c echo.Context) error {
	if err := checkQuery(c.QueryParams()); err != nil {
		return err
	}
	b, err := s.svc.RoundBoard(c.Request().Context(), actor(c), c.Param("rid"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, boardOf(b))
}

// reportRequest is the body of POST /dispatch-rounds/{rid}/reports.
type reportRequest struct {
	ProblemID    string            `json:"problem_id"`
	WorkPoint    int               `json:"work_point"`
	Progress     string            `json:"progress"`
	Percent      *int              `json:"percent"`
	NextSteps    string            `json:"next_steps"`
	Difficulties string            `json:"difficulties"`
	Figures      []workflow.Figure `json:"figures"`
}

// fileReport serves POST /dispatch-rounds/{rid}/reports (a unit officer):
// 201 with the report as recorded (late: true after the due time).
func (s *server) fileReport(c echo.Context) error {
	var req reportRequest
	if err := decodeBody(c, &req); err != nil {
		return err
	}
	e, err := s.svc.FileReport(c.Request().Context(), actor(c), c.Param("rid"), workflow.ReportInput{
		ProblemID: req.ProblemID, WorkPoint: req.WorkPoint, Progress: req.Progress, Percent: req.Percent,
		NextSteps: req.NextSteps, Difficulties: req.Difficulties, Figures: req.Figures,
	})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, roundEntryOf(e))
}

// roundSummary serves GET /dispatch-rounds/{rid}/summary.xlsx: the
// 调度汇总表 as the caller may see it.
func (s *server) roundSummary(c echo.Context) error {
	if err := checkQuery(c.QueryParams()); err != nil {
		return err
	}
	var buf bytes.Buffer
	b, err := roundfile.WriteRound(c.Request().Context(), &buf, s.svc, actor(c), c.Param("rid"))
	if err != nil {
		return err
	}
	name := "调度汇总表-" + b.Round.ID + ".xlsx"
	h := c.Response().Header()
	h.Set(echo.HeaderContentDisposition, files.ContentDispositionFallback("attachment", name, "dispatch-round-"+b.Round.ID+".xlsx"))
	h.Set(echo.HeaderCacheControl, "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	return c.Blob(http.StatusOK, roundfile.ContentType, buf.Bytes())
}

// workPointHistory serves GET /workpoints/{number}/history: the point's
// reports and report_late alerts (a unit: its own).
func (s *server) workPointHistory(c echo.Context) error {
	if err := checkQuery(c.QueryParams()); err != nil {
		return err
	}
	n, err := strconv.Atoi(c.Param("number"))
	if err != nil || strconv.Itoa(n) != c.Param("number") || n < 1 {
		return workflow.Refuse(workflow.ReasonWorkPointNotFound, "work point %q not found", c.Param("number"))
	}
	entries, err := s.svc.WorkPointHistory(c.Request().Context(), actor(c), n)
	if err != nil {
		return err
	}
	items := make([]*roundEntry, len(entries))
	for i := range entries {
		items[i] = roundEntryOf(&entries[i])
	}
	return c.JSON(http.StatusOK, map[string]any{"items": items})
}

// reportingRates serves GET /stats/reporting: each unit's reporting record
// over the rounds that have fallen due (报送及时率).
func (s *server) reportingRates(c echo.Context) error {
	if err := checkQuery(c.QueryParams()); err != nil {
		return err
	}
	rates, err := s.svc.ReportingRates(c.Request().Context(), actor(c))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"items": rates})
}
