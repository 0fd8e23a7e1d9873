package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/jdz-eco/rectify/api/files"
	"github.com/jdz-eco/rectify/api/ratelimit"
	"github.com/jdz-eco/rectify/workflow"
	"github.com/labstack/echo/v4"
)

// Public notices (公示): the routes under /api/v1/public need no
// credentials; what they show is workflow.PublicNotice and nothing else.

// Default limits of public objections: per client address, so many an hour,
// and the largest body.
const (
	DefaultObjectionsPerHour = 10
	objectionBodyLimit       = 16 << 10
)

// NewObjectionLimiter returns the limiter of public objections: perHour
// objections per client address in any hour, on the service's clock. The
// API and the pages share one (Config.Objections, web.Config).
func NewObjectionLimiter(svc *workflow.Service, perHour int) *ratelimit.Limiter {
	return ratelimit.New(perHour, time.Hour, svc.Clock().Now)
}

// publicUser is who an unsigned request to a public route acts as.
var publicUser = &workflow.User{ID: workflow.PublicActor.ID, Name: workflow.PublicActor.Name, Role: workflow.RolePublic}

// public lets a route be called without credentials, as the public actor.
func (s *server) public(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		c.Set(keyUser, publicUser)
		return next(c)
	}
}

type publicPhotoOut struct {
	SHA256 string         `json:"sha256"`
	Phase  workflow.Phase `json:"phase,omitempty"`
	URL    string         `json:"url"`
}

type publicNoticeOut struct {
	ID          string           `json:"id"`
	Code        string           `json:"code"`
	Title       string           `json:"title"`
	County      string           `json:"county"`
	State       workflow.State   `json:"state"`
	Summary     string           `json:"summary"`
	Statement   string           `json:"statement"`
	NoticeStart time.Time        `json:"notice_start"`
	NoticeEnd   time.Time        `json:"notice_end"`
	Photos      []publicPhotoOut `json:"photos"`
}

type publicNoticesOut struct {
	// AuditHead is the audit chain's head as the list was made (SEQ:HASH).
	AuditHead string            `json:"audit_head"`
	Notices   []publicNoticeOut `json:"notices"`
	// NextCursor reads the next page; "" after the last.
	NextCursor string `json:"next_cursor"`
}

// PublicPhotoURL is where anyone reads photo sha of problem id.
func PublicPhotoURL(id, sha string) string {
	return "/api/v1/public/notices/" + id + "/photos/" + sha
}

// listPublicNotices serves GET /public/notices?cursor=&limit=: a page.
func (s *server) listPublicNotices(c echo.Context) error {
	ctx := c.Request().Context()
	q := c.QueryParams()
	if err := checkQuery(q, "cursor", "limit"); err != nil {
		return err
	}
	cursor, err := query(q, "cursor")
	if err != nil {
		return err
	}
	limit, err := query(q, "limit")
	if err != nil {
		return err
	}
	n := 0
	if limit != "" {
		if n, err = strconv.Atoi(limit); err != nil || n < 1 {
			return apiError(workflow.CodeInvalid, "limit", "limit must be a whole number from 1 to "+strconv.Itoa(workflow.MaxLimit))
		}
	}
	list, next, err := s.svc.PublicNotices(ctx, cursor, n)
	if err != nil {
		return err
	}
	head, err := s.svc.PublicHead(ctx)
	if err != nil {
		return err
	}
	out := publicNoticesOut{AuditHead: head.String(), Notices: make([]publicNoticeOut, 0, len(list)), NextCursor: next}
	for _, n := range list {
		o := publicNoticeOut{ID: n.ID, Code: n.Code, Title: n.Title, County: n.County, State: n.State, Summary: n.Summary,
			Statement: n.Statement, NoticeStart: n.NoticeStart, NoticeEnd: n.NoticeEnd, Photos: []publicPhotoOut{}}
		for _, ph := range n.Photos {
			o.Photos = append(o.Photos, publicPhotoOut{SHA256: ph.SHA256, Phase: ph.Phase, URL: PublicPhotoURL(n.ID, ph.SHA256)})
		}
		out.Notices = append(out.Notices, o)
	}
	c.Response().Header().Set(echo.HeaderCacheControl, "no-cache")
	return c.JSON(http.StatusOK, out)
}

// getPublicPhoto serves GET /public/notices/{id}/photos/{sha256}.
func (s *server) getPublicPhoto(c echo.Context) error {
	return files.ServePublicPhoto(c.Response(), c.Request(), s.svc, c.Param("id"), c.Param("sha256"), s.log, "request_id", requestIDOf(c))
}

// objectionIn is an objection as the public sends it. Website is the
// honeypot: a field people never see (the page hides it) and bots fill in.
type objectionIn struct {
	Text    string `json:"text"`
	Name    string `json:"name,omitempty"`
	Contact string `json:"contact,omitempty"`
	Website string `json:"website,omitempty"`
}

// objectionAck is the answer to an objection: received, nothing more (the
// public learns no internal id; a honeypot's catch gets the same answer).
type objectionAck struct {
	Received bool `json:"received"`
}

// limitObjections refuses a client over its objection rate, by its address
// as the trusted proxies configuration finds it (never from a header a
// client sets itself).
func (s *server) limitObjections(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if !s.objections.Allow(c.RealIP()) {
			c.Response().Header().Set("Retry-After", "3600")
			return workflow.Refuse(workflow.ReasonRateLimited, "too many objections from this address; try again later")
		}
		return next(c)
	}
}

// fileObjection serves POST /public/notices/{id}/objections.
func (s *server) fileObjection(c echo.Context) error {
	var in objectionIn
	if err := decodeBody(c, &in); err != nil {
		return err
	}
	if in.Website != "" {
		s.log.InfoContext(c.Request().Context(), "objection honeypot filled: dropped", "ip", c.RealIP(), "problem", c.Param("id"))
		return c.JSON(http.StatusAccepted, objectionAck{Received: true})
	}
	if _, err := s.svc.FileObjection(c.Request().Context(), c.Param("id"), workflow.ObjectionInput{Text: in.Text, Name: in.Name, Contact: in.Contact}); err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, objectionAck{Received: true})
}

type objectionQueueItem struct {
	ProblemID string             `json:"problem_id"`
	Code      string             `json:"code"`
	Title     string             `json:"title"`
	NoticeEnd time.Time          `json:"notice_end"`
	Objection workflow.Objection `json:"objection"`
}

// listObjections serves GET /objections: the bureau's queue.
func (s *server) listObjections(c echo.Context) error {
	q, err := s.svc.ObjectionQueue(c.Request().Context(), actor(c))
	if err != nil {
		return err
	}
	out := make([]objectionQueueItem, 0, len(q))
	for _, x := range q {
		out = append(out, objectionQueueItem{ProblemID: x.Problem.ID, Code: x.Problem.Code, Title: x.Problem.Title,
			NoticeEnd: x.Problem.Notice.End, Objection: x.Objection})
	}
	return c.JSON(http.StatusOK, map[string]any{"items": out})
}

type dismissalIn struct {
	Reason string `json:"reason"`
}

// dismissObjection serves POST /problems/{id}/objections/{oid}/dismissal.
func (s *server) dismissObjection(c echo.Context) error {
	var in dismissalIn
	if err := decodeBody(c, &in); err != nil {
		return err
	}
	v, err := s.ifMatch(c)
	if err != nil {
		return err
	}
	a := actor(c)
	p, err := s.svc.DismissObjection(c.Request().Context(), a, c.Param("id"), c.Param("oid"), in.Reason, v)
	if err != nil {
		return err
	}
	return s.sendProblem(c, http.StatusOK, a, p)
}

type publicIn struct {
	Public *bool `json:"public"`
}

// setEvidencePublic serves PUT /problems/{id}/evidence/{sha256}/public.
func (s *server) setEvidencePublic(c echo.Context) error {
	var in publicIn
	if err := decodeBody(c, &in); err != nil {
		return err
	}
	if in.Public == nil {
		return workflow.RefuseField(workflow.ReasonRequired, "public", "public (true or false) is required")
	}
	v, err := s.ifMatch(c)
	if err != nil {
		return err
	}
	a := actor(c)
	p, err := s.svc.SetEvidencePublic(c.Request().Context(), a, c.Param("id"), c.Param("sha256"), *in.Public, v)
	if err != nil {
		return err
	}
	return s.sendProblem(c, http.StatusOK, a, p)
}
