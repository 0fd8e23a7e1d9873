package api

import (
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/jdz-eco/rectify/workflow"
)

// maxEvents is the largest page of GET /events (the domain's limit).
const maxEvents = 1000

// eventJSON is one outbox event: its id and seq, then its history entry's
// fields flattened beside them, as in GET /problems/{id}/history plus
// problem_id.
type eventJSON struct {
	ID        string `json:"id"`
	ProblemID string `json:"problem_id"`
	WorkPoint int    `json:"work_point,omitempty"` // an entry of a work point's history (problem_id "")
	historyEntry
}

// eventList is the body of GET /events.
type eventList struct {
	Items     []eventJSON `json:"items"`
	NextAfter uint64      `json:"next_after"`
}

// listEvents serves GET /events?after=SEQ&limit=N: the events after seq the
// caller may see, in seq order, and the seq to poll after next.
func (s *server) listEvents(c echo.Context) error {
	after, limit, err := pageQuery(c)
	if err != nil {
		return err
	}
	evs, next, err := s.svc.Events(c.Request().Context(), actor(c), after, limit)
	if err != nil {
		return err
	}
	out := eventList{Items: make([]eventJSON, 0, len(evs)), NextAfter: next}
	for _, ev := range evs {
		h := historyFor(actor(c), ev.Entry)
		h.Seq = ev.Seq
		out.Items = append(out.Items, eventJSON{ID: ev.ID, ProblemID: ev.Entry.ProblemID, WorkPoint: ev.Entry.WorkPoint, historyEntry: h})
	}
	return c.JSON(http.StatusOK, out)
}

// pageQuery reads ?after=SEQ&limit=N of a log's page (and no other
// parameter): after 0 and limit 100 when absent.
func pageQuery(c echo.Context) (uint64, int, error) {
	q := c.QueryParams()
	if err := checkQuery(q, "after", "limit"); err != nil {
		return 0, 0, err
	}
	afterStr, err := query(q, "after")
	if err != nil {
		return 0, 0, err
	}
	limitStr, err := query(q, "limit")
	if err != nil {
		return 0, 0, err
	}
	var after uint64
	if afterStr != "" {
		if after, err = strconv.ParseUint(afterStr, 10, 64); err != nil {
			return 0, 0, apiError(workflow.CodeInvalid, "after", "after must be a whole number (the next_after of the previous poll, or 0)")
		}
	}
	limit := 100
	if limitStr != "" {
		if limit, err = strconv.Atoi(limitStr); err != nil || limit < 1 || limit > maxEvents {
			return 0, 0, apiError(workflow.CodeInvalid, "limit", "limit must be a whole number from 1 to "+strconv.Itoa(maxEvents))
		}
	}
	return after, limit, nil
}
