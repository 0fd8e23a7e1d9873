package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/jdz-eco/rectify/workflow"
)

// problemResponse is a problem as the API shows it: workflow.Problem's fields
// (without dedupe_key and the internal supervision record), its deadline
// supervision as of the request (level, days, stage clock, pause) and the
// triggers the caller may fire now.
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
	Position         *workflow.LatLng    `json:"position,omitempty"`
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

	// Supervision (督办), computed at the request's time. Level, the days and
	// effective_deadline are omitted when they do not apply.
	Level             workflow.Level  `json:"level,omitempty"`
	DaysOverdue       *int            `json:"days_overdue,omitempty"`
	DaysLeft          *int            `json:"days_left,omitempty"`
	EffectiveDeadline *time.Time      `json:"effective_deadline,omitempty"`
	StageDue          *stageDue       `json:"stage_due,omitempty"`
	Paused            bool            `json:"paused"`
	Extended          bool            `json:"extended"`
	Extensions        []extensionJSON `json:"extensions"`

	// Evidence (佐证材料) handed in, oldest first; EvidenceRound counts the
	// rejections (submit needs an item whose round is the current one).
	// Signatures are the sign-offs of verify and close, oldest first.
	Evidence      []evidenceJSON  `json:"evidence"`
	EvidenceRound int             `json:"evidence_round"`
	Signatures    []signatureJSON `json:"signatures"`

	// The evidence checks (issue 16): the flags still to acknowledge at
	// verify, those acknowledged, the inspectors' site checks and the
	// look-back task.
	UnacknowledgedFlags []workflow.FlagRef   `json:"unacknowledged_flags"`
	AcknowledgedFlags   []workflow.FlagRef   `json:"acknowledged_flags"`
	SiteChecks          []workflow.SiteCheck `json:"site_checks"`
	SiteCheckNeeded     bool                 `json:"site_check_needed"`
	Lookback            *workflow.Lookback   `json:"lookback,omitempty"`

	// The public notice (公示) and the objections to it; a unit officer
	// does not see who objected.
	Notice     *workflow.NoticePeriod `json:"notice,omitempty"`
	Objections []workflow.Objection   `json:"objections,omitempty"`

	Version   uint64    `json:"version"`
	CreatedBy string    `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`

	PermittedTriggers []workflow.Trigger `json:"permitted_triggers"`
}

// view is what a response's computed fields depend on: the time of the
// request and the supervision thresholds.
type view struct {
	now time.Time
	pol workflow.Policy
}

// view returns the service's time and policy, read once per request.
func (s *server) view() view {
	return view{now: s.svc.Clock().Now(), pol: s.svc.Policy()}
}

// stageDue is a running stage clock: the lead unit's acceptance or the
// inspectors' decision, due at Due.
type stageDue struct {
	Stage workflow.Stage `json:"stage"`
	Due   time.Time      `json:"due"`
	Late  bool           `json:"late"`
}

// stageDueOf returns p's running stage clock as of now, or nil. Late is live
// (the due time has passed), like the problem's level.
func stageDueOf(p *workflow.Problem, now time.Time) *stageDue {
	sv := p.Supervision
	if sv.Stage == "" || sv.StageDue == nil {
		return nil
	}
	return &stageDue{Stage: sv.Stage, Due: sv.StageDue.UTC(), Late: sv.StageLate || now.After(*sv.StageDue)}
}

// daysOf returns p's days overdue or days left at now; both nil when its
// deadline clock does not run.
func daysOf(p *workflow.Problem, now time.Time) (overdue, left *int) {
	o, l, ok := p.DaysOverdue(now)
	switch {
	case !ok:
		return nil, nil
	case o > 0:
		return &o, nil
	}
	return nil, &l
}

// extensionJSON is one extension request as the API shows it.
type extensionJSON struct {
	ID               string                   `json:"id"`
	Deadline         time.Time                `json:"deadline"`
	PreviousDeadline time.Time                `json:"previous_deadline"`
	Reason           string                   `json:"reason"`
	Status           workflow.ExtensionStatus `json:"status"`
	RequestedBy      string                   `json:"requested_by"`
	RequestedAt      time.Time                `json:"requested_at"`
	DecidedBy        string                   `json:"decided_by,omitempty"`
	DecidedAt        *time.Time               `json:"decided_at,omitempty"`
	Note             string                   `json:"note,omitempty"`
}

func extensionOf(x workflow.Extension) extensionJSON {
	return extensionJSON{
		ID: x.ID, Deadline: x.Deadline.UTC(), PreviousDeadline: x.Previous.UTC(), Reason: x.Reason,
		Status: x.Status, RequestedBy: x.RequestedBy, RequestedAt: x.RequestedAt.UTC(),
		DecidedBy: x.DecidedBy, DecidedAt: utcPtr(x.DecidedAt), Note: x.Note,
	}
}

// problemJSON renders p for a. It reads the store only for the duplicates
// of p's evidence.
func (s *server) problemJSON(ctx context.Context, v view, a workflow.Actor, p *workflow.Problem) (problemResponse, error) {
	dups, err := s.svc.DuplicatesFor(ctx, a, p)
	if err != nil {
		return problemResponse{}, err
	}
	coop := slices.Clone(p.CooperatingUnits)
	if coop == nil {
		coop = []string{}
	}
	exts := make([]extensionJSON, 0, len(p.Extensions))
	for _, x := range p.Extensions {
		exts = append(exts, extensionOf(x))
	}
	var effective *time.Time
	if e := p.EffectiveDeadline(); e != nil && !e.Equal(*p.Deadline) {
		effective = utcPtr(e)
	}
	overdue, left := daysOf(p, v.now)
	var objections []workflow.Objection
	if len(p.Objections) > 0 {
		objections = workflow.ObjectionsFor(a, p.Objections)
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
		Level: p.LevelAt(v.now, v.pol), DaysOverdue: overdue, DaysLeft: left,
		EffectiveDeadline: effective, StageDue: stageDueOf(p, v.now),
		Paused: p.Paused(), Extended: p.Extended(), Extensions: exts,
		Evidence: evidenceOf(a, p, dups), EvidenceRound: p.EvidenceRound, Signatures: signaturesOf(p),
		UnacknowledgedFlags: nonNil(p.UnacknowledgedFlags()), AcknowledgedFlags: nonNil(p.Acknowledged),
		SiteChecks: nonNil(p.SiteChecks), SiteCheckNeeded: s.svc.EvidencePolicy().NeedsSiteCheck(p), Lookback: p.Lookback,
		Position: p.Position, Notice: p.Notice,
		Version: p.Version, CreatedBy: p.CreatedBy,
		CreatedAt: p.CreatedAt.UTC(), UpdatedAt: p.UpdatedAt.UTC(),
		PermittedTriggers: s.svc.PermittedTriggers(a, p), Objections: objections,
	}, nil
}

// nonNil returns s, or an empty slice for nil (a JSON [] rather than null).
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// sendProblem writes p with its ETag. A write whose caller sent Prefer:
// return=minimal (RFC 7240) is answered without the problem: 204 No Content
// instead of 200, or 201 with an empty body, with the ETag (the version) and
// Preference-Applied: return=minimal.
func (s *server) sendProblem(c echo.Context, status int, a workflow.Actor, p *workflow.Problem) error {
	h := c.Response().Header()
	if m := c.Request().Method; m != http.MethodGet && m != http.MethodHead && preferMinimal(c.Request().Header) {
		h.Set("ETag", etag(p.Version))
		h.Set("Preference-Applied", "return=minimal")
		if status == http.StatusOK {
			status = http.StatusNoContent
		}
		return c.NoContent(status)
	}
	out, err := s.problemJSON(c.Request().Context(), s.view(), a, p)
	if err != nil {
		return err
	}
	h.Set("ETag", etag(p.Version))
	return c.JSON(status, out)
}

// preferMinimal reports whether the request's Prefer headers (RFC 7240)
// ask for return=minimal: the first return preference decides, a
// preference's parameters are ignored, names and values are
// case-insensitive and the value may be quoted.
func preferMinimal(h http.Header) bool {
	for _, line := range h.Values("Prefer") {
		for pref := range strings.SplitSeq(line, ",") {
			pref, _, _ = strings.Cut(pref, ";")
			name, value, _ := strings.Cut(pref, "=")
			if !strings.EqualFold(strings.TrimSpace(name), "return") {
				continue
			}
			value = strings.Trim(strings.TrimSpace(value), `"`)
			return strings.EqualFold(value, "minimal")
		}
	}
	return false
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
	// Position is optional coordinates: lat, lng and datum (wgs84 or gcj02).
	Position *workflow.PositionInput `json:"position"`
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
		Position: req.Position,
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

// listFilterParams are the query parameters of GET /problems, parsed by
// problemFilter; GET /ledger.xlsx takes them too.
var listFilterParams = []string{"state", "lead_unit", "county", "source", "work_point", "level", "overdue", "limit", "cursor"}

// problemFilter reads the problem list's filters from q (the parameters of
// listFilterParams; the caller refuses any other with checkQuery). State and
// source are checked by the service.
func problemFilter(q url.Values) (workflow.ProblemFilter, error) {
	var f workflow.ProblemFilter
	var state, source, workPoint, level, overdue, limit string
	for _, p := range []struct {
		name string
		dst  *string
	}{
		{"state", &state}, {"lead_unit", &f.LeadUnit}, {"county", &f.County},
		{"source", &source}, {"work_point", &workPoint}, {"level", &level}, {"overdue", &overdue},
		{"limit", &limit}, {"cursor", &f.Cursor},
	} {
		v, err := query(q, p.name)
		if err != nil {
			return f, err
		}
		*p.dst = v
	}
	f.State, f.Source = workflow.State(state), workflow.Source(source)
	tag, err := alertTag(level, overdue)
	if err != nil {
		return f, err
	}
	f.Tag = tag
	if workPoint != "" {
		n, err := strconv.Atoi(workPoint)
		if err != nil || n < 1 {
			return f, workflow.RefuseField(workflow.ReasonUnknownWorkPoint, "work_point", "unknown work point %q: a work point's number (1, 2, …)", workPoint)
		}
		f.WorkPoint = n
	}
	if limit != "" {
		n, err := strconv.Atoi(limit)
		if err != nil || n < 1 {
			return f, apiError(workflow.CodeInvalid, "limit", "limit must be a whole number from 1 to "+strconv.Itoa(workflow.MaxLimit))
		}
		f.Limit = n
	}
	return f, nil
}

func (s *server) listProblems(c echo.Context) error {
	q := c.QueryParams()
	if err := checkQuery(q, listFilterParams...); err != nil {
		return err
	}
	f, err := problemFilter(q)
	if err != nil {
		return err
	}
	a := actor(c)
	items, next, err := s.svc.Problems(c.Request().Context(), a, f)
	if err != nil {
		return err
	}
	out := problemList{Items: make([]problemResponse, 0, len(items)), NextCursor: next}
	v := s.view()
	for _, p := range items {
		pj, err := s.problemJSON(c.Request().Context(), v, a, p)
		if err != nil {
			return err
		}
		out.Items = append(out.Items, pj)
	}
	return c.JSON(http.StatusOK, out)
}

// alertTag turns the level= and overdue= filters into the alert index tag
// they select (workflow.Problem.Tags): the level or stage breach the scanner
// last recorded, or workflow.TagLate for overdue=true. overdue=false is
// refused, since "not late" is no tag; overdue=true with a level is accepted
// only when that level is itself overdue or worse.
func alertTag(level, overdue string) (string, error) {
	if level != "" && !slices.Contains(workflow.AlertKinds, level) {
		return "", apiError(workflow.CodeInvalid, "level", fmt.Sprintf("unknown level %q; one of %s", level, strings.Join(workflow.AlertKinds, ", ")))
	}
	switch overdue {
	case "":
		return level, nil
	case "true":
	case "false":
		return "", apiError(workflow.CodeInvalid, "overdue", "overdue=false is not supported; omit overdue to list every problem")
	default:
		return "", apiError(workflow.CodeInvalid, "overdue", fmt.Sprintf("overdue must be true, not %q", overdue))
	}
	switch workflow.Level(level) {
	case "":
		return workflow.TagLate, nil
	case workflow.LevelOverdue, workflow.LevelRed, workflow.LevelListed:
		return level, nil // overdue or worse implies late
	}
	return "", apiError(workflow.CodeInvalid, "overdue", fmt.Sprintf("overdue=true cannot be combined with level=%s; give one of them", level))
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

	AcknowledgedFlags   []workflow.FlagRef `json:"acknowledged_flags"`
	AcknowledgementNote string             `json:"acknowledgement_note"`

	ObjectionID string `json:"objection_id"`
	Note        string `json:"note"`
}

// decode sets the parameters named by keys (in that order) from their
// values in fields, refusing unknown names and ill-typed values as
// decodeStrict would.
func (tp *transitionParams) decode(keys []string, fields map[string]json.RawMessage) error {
	for _, k := range keys {
		var dst any
		switch k {
		case "lead_unit":
			dst = &tp.LeadUnit
		case "cooperating_units":
			dst = &tp.CooperatingUnits
		case "deadline":
			dst = &tp.Deadline
		case "requirements":
			dst = &tp.Requirements
		case "reason":
			dst = &tp.Reason
		case "plan":
			dst = &tp.Plan
		case "summary":
			dst = &tp.Summary
		case "opinion":
			dst = &tp.Opinion
		case "statement":
			dst = &tp.Statement
		case "acknowledged_flags":
			dst = &tp.AcknowledgedFlags
		case "acknowledgement_note":
			dst = &tp.AcknowledgementNote
		case "objection_id":
			dst = &tp.ObjectionID
		case "note":
			dst = &tp.Note
		default:
			return apiError(workflow.CodeInvalid, k, fmt.Sprintf("unknown field %q", k))
		}
		if err := json.Unmarshal(fields[k], dst); err != nil {
			var typ *json.UnmarshalTypeError
			if errors.As(err, &typ) {
				typ.Field = k
			}
			return jsonError(err)
		}
	}
	return nil
}

// decodeTransition reads {trigger, ...params}: the trigger first, then the
// fields that trigger takes (workflow.CheckFields), then their values.
func decodeTransition(c echo.Context) (workflow.Command, error) {
	var cmd workflow.Command
	b, err := readBody(c)
	if err != nil {
		return cmd, err
	}
	if err := checkJSON(b); err != nil {
		return cmd, err
	}
	var fields map[string]json.RawMessage
	// A map knows no unknown fields and Unmarshal refuses trailing data, so
	// what it accepts decodeStrict accepts alike; decodeStrict words the refusal.
	if json.Unmarshal(b, &fields) != nil || fields == nil {
		fields = nil
		if err := decodeStrict(b, &fields); err != nil {
			return cmd, err
		}
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
	var tp transitionParams
	if err := tp.decode(keys, fields); err != nil {
		return cmd, err
	}
	cmd.Params = workflow.Params{
		LeadUnit: tp.LeadUnit, CooperatingUnits: tp.CooperatingUnits, Requirements: tp.Requirements,
		Reason: tp.Reason, Plan: tp.Plan, Summary: tp.Summary, Opinion: tp.Opinion, Statement: tp.Statement,
		AcknowledgedFlags: tp.AcknowledgedFlags, AcknowledgementNote: tp.AcknowledgementNote,
		ObjectionID: tp.ObjectionID, Note: tp.Note,
	}
	if tp.Deadline != nil {
		d, err := workflow.ParseDeadline(*tp.Deadline)
		if err != nil {
			return cmd, err
		}
		cmd.Params.Deadline = &d
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
	if cmd.IfVersion, err = s.ifMatch(c); err != nil {
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
	v, err := s.ifMatch(c)
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

// historyEntry is one history record as the API shows it, with its links in
// the ledger's hash chain. The supervision snapshot the domain records with
// each entry (for replay) is not shown.
type historyEntry struct {
	Seq      uint64          `json:"seq"`
	Version  uint64          `json:"version"`
	At       time.Time       `json:"at"`
	Actor    workflow.Actor  `json:"actor"`
	Action   string          `json:"action"`
	From     workflow.State  `json:"from,omitempty"`
	To       workflow.State  `json:"to,omitempty"`
	Params   workflow.Params `json:"params"`
	PrevHash string          `json:"prev_hash,omitempty"`
	Hash     string          `json:"hash,omitempty"`
}

func (s *server) history(c echo.Context) error {
	entries, err := s.svc.History(c.Request().Context(), actor(c), c.Param("id"))
	if err != nil {
		return err
	}
	items := make([]historyEntry, 0, len(entries))
	for _, e := range entries {
		items = append(items, historyFor(actor(c), e))
	}
	return c.JSON(http.StatusOK, map[string]any{"items": items})
}

// historyFor is historyOf as a may read it: a unit officer does not see who
// objected to a notice (workflow.SeesObjectors).
func historyFor(a workflow.Actor, e workflow.Entry) historyEntry {
	h := historyOf(e)
	if o := h.Params.Objection; o != nil {
		h.Params.Objection = &workflow.ObjectionsFor(a, []workflow.Objection{*o})[0]
	}
	return h
}

func historyOf(e workflow.Entry) historyEntry {
	prm := e.Params
	prm.Deadline = utcPtr(prm.Deadline)
	prm.Due = utcPtr(prm.Due)
	prm.DedupeKey = "" // internal, as on the problem
	if prm.Evidence != nil {
		ev := *prm.Evidence
		ev.At = ev.At.UTC()
		prm.Evidence = &ev
	}
	if prm.Signature != nil {
		sg := *prm.Signature
		sg.At = sg.At.UTC()
		prm.Signature = &sg
	}
	return historyEntry{
		Seq: e.Seq, Version: e.Version, At: e.At.UTC(), Actor: e.Actor,
		Action: e.Action, From: e.From, To: e.To, Params: prm,
		PrevHash: e.PrevHash, Hash: e.Hash,
	}
}
