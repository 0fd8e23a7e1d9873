package api

import (
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/jdz-eco/rectify/workflow"
)

// problemResponse is a problem as the API shows it: workflow.Problem's fields
// (without dedupe_key) plus the triggers the caller may fire now.
type problemResponse struct {
	ID               string              `json:"id"`
	Code             string              `json:"code"`
	Title            string              `json:"title"`
	Description      string              `json:"description"`
	Source           workflow.Source     `json:"source"`
	SourceRef        string              `json:"source_ref"`
	CountyID         string              `json:"county_id"`
	WorkPoint        int                 `json:"work_point,omitempty"`
	Location         string              `json:"location,omitempty"`
	State            workflow.State      `json:"state"`
	Resolution       workflow.Resolution `json:"resolution"`
	LeadUnit         string              `json:"lead_unit"`
	CooperatingUnits []string            `json:"cooperating_units"`
	Requirements     string              `json:"requirements,omitempty"`
	Plan             string              `json:"plan,omitempty"`
	Deadline         *time.Time          `json:"deadline"`
	OriginalDeadline *time.Time          `json:"original_deadline"`
	SubmittedBy      string              `json:"submitted_by,omitempty"`
	VerifiedBy       string              `json:"verified_by,omitempty"`
	ClosedBy         string              `json:"closed_by,omitempty"`
	Summary          string              `json:"summary,omitempty"`
	Opinion          string              `json:"opinion,omitempty"`
	Statement        string              `json:"statement,omitempty"`
	Version          uint64              `json:"version"`
	CreatedBy        string              `json:"created_by"`
	CreatedAt        time.Time           `json:"created_at"`
	UpdatedAt        time.Time           `json:"updated_at"`

	PermittedTriggers []workflow.Trigger `json:"permitted_triggers"`
}

func (s *server) problemJSON(a workflow.Actor, p *workflow.Problem) problemResponse {
	coop := slices.Clone(p.CooperatingUnits)
	if coop == nil {
		coop = []string{}
	}
	return problemResponse{
		ID: p.ID, Code: p.Code, Title: p.Title, Description: p.Description,
		Source: p.Source, SourceRef: p.SourceRef, CountyID: p.CountyID,
		WorkPoint: p.WorkPoint, Location: p.Location,
		State: p.State, Resolution: p.Resolution, LeadUnit: p.LeadUnit,
		CooperatingUnits: coop, Requirements: p.Requirements, Plan: p.Plan,
		Deadline: utcPtr(p.Deadline), OriginalDeadline: utcPtr(p.OriginalDeadline),
		SubmittedBy: p.SubmittedBy, VerifiedBy: p.VerifiedBy, ClosedBy: p.ClosedBy,
		Summary: p.Summary, Opinion: p.Opinion, Statement: p.Statement,
		Version: p.Version, CreatedBy: p.CreatedBy,
		CreatedAt: p.CreatedAt.UTC(), UpdatedAt: p.UpdatedAt.UTC(),
		PermittedTriggers: s.svc.PermittedTriggers(a, p),
	}
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// sendProblem writes p with its ETag.
func (s *server) sendProblem(c echo.Context, status int, a workflow.Actor, p *workflow.Problem) error {
	c.Response().Header().Set("ETag", etag(p.Version))
	return c.JSON(status, s.problemJSON(a, p))
}

// createProblemRequest is the body of POST /problems.
type createProblemRequest struct {
	Title       string `json:"title"`
	Description string `json:"description"`
	Source      string `json:"source"`
	CountyID    string `json:"county_id"`
	WorkPoint   int    `json:"work_point"`
	SourceRef   string `json:"source_ref"`
	Location    string `json:"location"`
}

func (s *server) createProblem(c echo.Context) error {
	var req createProblemRequest
	if err := decodeBody(c, &req); err != nil {
		return err
	}
	a := actor(c)
	p, _, err := s.svc.CreateProblem(c.Request().Context(), a, workflow.NewProblem{
		Title: req.Title, Description: req.Description, Source: workflow.Source(req.Source),
		CountyID: req.CountyID, WorkPoint: req.WorkPoint, SourceRef: req.SourceRef, Location: req.Location,
	})
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderLocation, "/api/v1/problems/"+p.ID)
	return s.sendProblem(c, http.StatusCreated, a, p)
}

// problemList is the body of GET /problems.
type problemList struct {
	Items      []problemResponse `json:"items"`
	NextCursor string            `json:"next_cursor"`
}

func (s *server) listProblems(c echo.Context) error {
	q := c.QueryParams()
	if err := checkQuery(q, "state", "lead_unit", "county", "source", "limit", "cursor"); err != nil {
		return err
	}
	var f workflow.ProblemFilter
	var state, source, limit string
	for _, p := range []struct {
		name string
		dst  *string
	}{
		{"state", &state}, {"lead_unit", &f.LeadUnit}, {"county", &f.County},
		{"source", &source}, {"limit", &limit}, {"cursor", &f.Cursor},
	} {
		v, err := query(q, p.name)
		if err != nil {
			return err
		}
		*p.dst = v
	}
	f.State, f.Source = workflow.State(state), workflow.Source(source)
	if limit != "" {
		n, err := strconv.Atoi(limit)
		if err != nil || n < 1 {
			return apiError(workflow.CodeInvalid, "limit", "limit must be a whole number from 1 to "+strconv.Itoa(workflow.MaxLimit))
		}
		f.Limit = n
	}
	a := actor(c)
	items, next, err := s.svc.Problems(c.Request().Context(), a, f)
	if err != nil {
		return err
	}
	out := problemList{Items: make([]problemResponse, 0, len(items)), NextCursor: next}
	for _, p := range items {
		out.Items = append(out.Items, s.problemJSON(a, p))
	}
	return c.JSON(http.StatusOK, out)
}

func (s *server) getProblem(c echo.Context) error {
	a := actor(c)
	p, err := s.svc.Problem(c.Request().Context(), a, c.Param("id"))
	if err != nil {
		return err
	}
	return s.sendProblem(c, http.StatusOK, a, p)
}

// transitionParams are the parameters of POST /problems/{id}/transitions
// besides "trigger"; deadline is parsed by workflow.ParseDeadline.
type transitionParams struct {
	LeadUnit         string   `json:"lead_unit"`
	CooperatingUnits []string `json:"cooperating_units"`
	Deadline         *string  `json:"deadline"`
	Requirements     string   `json:"requirements"`
	Reason           string   `json:"reason"`
	Plan             string   `json:"plan"`
	Summary          string   `json:"summary"`
	Opinion          string   `json:"opinion"`
	Statement        string   `json:"statement"`
}

// decodeTransition reads {trigger, ...params}: the trigger first, then the
// fields that trigger takes (workflow.CheckFields), then their values.
func decodeTransition(c echo.Context) (workflow.Command, error) {
	var cmd workflow.Command
	b, err := readBody(c)
	if err != nil {
		return cmd, err
	}
	var fields map[string]json.RawMessage
	if err := decodeStrict(b, &fields); err != nil {
		return cmd, err
	}
	raw, ok := fields["trigger"]
	if !ok {
		return cmd, apiError(workflow.CodeInvalid, "trigger", "trigger is required")
	}
	var name string
	if err := json.Unmarshal(raw, &name); err != nil {
		return cmd, apiError(workflow.CodeInvalid, "trigger", "field trigger must be a string")
	}
	cmd.Trigger = workflow.Trigger(name)
	if !cmd.Trigger.Valid() {
		return cmd, apiError(workflow.CodeInvalid, "trigger", "unknown trigger "+strconv.Quote(name)+"; one of "+triggerList())
	}
	delete(fields, "trigger")
	keys := slices.Sorted(maps.Keys(fields))
	if err := workflow.CheckFields(cmd.Trigger, keys); err != nil {
		return cmd, err
	}
	rest, err := json.Marshal(fields)
	if err != nil {
		return cmd, err
	}
	var tp transitionParams
	if err := decodeStrict(rest, &tp); err != nil {
		return cmd, err
	}
	cmd.Params = workflow.Params{
		LeadUnit: tp.LeadUnit, CooperatingUnits: tp.CooperatingUnits, Requirements: tp.Requirements,
		Reason: tp.Reason, Plan: tp.Plan, Summary: tp.Summary, Opinion: tp.Opinion, Statement: tp.Statement,
	}
	if tp.Deadline != nil {
		d, err := workflow.ParseDeadline(*tp.Deadline)
		if err != nil {
			return cmd, err
		}
		cmd.Params.Deadline = &d
	}
	if cmd.IfVersion, err = ifMatch(c); err != nil {
		return cmd, err
	}
	return cmd, nil
}

func triggerList() string {
	names := make([]string, len(workflow.Triggers))
	for i, t := range workflow.Triggers {
		names[i] = string(t)
	}
	return strings.Join(names, ", ")
}

func (s *server) fireTransition(c echo.Context) error {
	cmd, err := decodeTransition(c)
	if err != nil {
		return err
	}
	a := actor(c)
	p, err := s.svc.Fire(c.Request().Context(), a, c.Param("id"), cmd)
	if err != nil {
		return err
	}
	s.metrics.transition(string(cmd.Trigger))
	return s.sendProblem(c, http.StatusOK, a, p)
}

// noteRequest is the body of POST /problems/{id}/notes.
type noteRequest struct {
	Text string `json:"text"`
}

// addNote records a progress note and answers 200 with the problem (a note
// is a history entry, not a resource of its own).
func (s *server) addNote(c echo.Context) error {
	var req noteRequest
	if err := decodeBody(c, &req); err != nil {
		return err
	}
	v, err := ifMatch(c)
	if err != nil {
		return err
	}
	a := actor(c)
	p, err := s.svc.AddNote(c.Request().Context(), a, c.Param("id"), req.Text, v)
	if err != nil {
		return err
	}
	return s.sendProblem(c, http.StatusOK, a, p)
}

// historyEntry is one history record as the API shows it.
type historyEntry struct {
	Seq     uint64          `json:"seq"`
	Version uint64          `json:"version"`
	At      time.Time       `json:"at"`
	Actor   workflow.Actor  `json:"actor"`
	Action  string          `json:"action"`
	From    workflow.State  `json:"from,omitempty"`
	To      workflow.State  `json:"to,omitempty"`
	Params  workflow.Params `json:"params"`
}

func (s *server) history(c echo.Context) error {
	entries, err := s.svc.History(c.Request().Context(), actor(c), c.Param("id"))
	if err != nil {
		return err
	}
	items := make([]historyEntry, 0, len(entries))
	for _, e := range entries {
		prm := e.Params
		prm.Deadline = utcPtr(prm.Deadline)
		prm.DedupeKey = "" // internal, as on the problem
		items = append(items, historyEntry{
			Seq: e.Seq, Version: e.Version, At: e.At.UTC(), Actor: e.Actor,
			Action: e.Action, From: e.From, To: e.To, Params: prm,
		})
	}
	return c.JSON(http.StatusOK, map[string]any{"items": items})
}
