package api

import (
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/jdz-eco/rectify/api/files"
	"github.com/jdz-eco/rectify/workflow"
)

// Supervision letters (督办函):
//
//	POST /api/v1/letters                 issue a letter (bureau)
//	GET  /api/v1/letters?unit=&state=    the letters the caller may see
//	GET  /api/v1/letters/{id}            one letter
//	GET  /api/v1/letters/{id}.docx       the letter as a Word document
//	POST /api/v1/letters/{id}/issue      issue a draft (bureau)
//	POST /api/v1/letters/{id}/discard    discard a draft (bureau)
//	POST /api/v1/letters/{id}/reply      the addressed unit's reply

// letterRequest is the body of POST /letters and of POST
// /letters/{id}/issue (where every field is optional).
type letterRequest struct {
	ToUnit     string   `json:"to_unit"`
	ProblemIDs []string `json:"problem_ids"`
	Kind       string   `json:"kind"`
	Demands    string   `json:"demands"`
	ReplyDue   string   `json:"reply_due"`
}

func (r *letterRequest) input() (workflow.NewLetter, error) {
	in := workflow.NewLetter{ToUnit: r.ToUnit, ProblemIDs: r.ProblemIDs, Kind: workflow.LetterKind(r.Kind), Demands: r.Demands}
	if r.ReplyDue != "" {
		d, err := workflow.ParseDeadline(r.ReplyDue)
		if err != nil {
			return in, workflow.RefuseField(workflow.ReasonBadDate, "reply_due", "reply_due %q is neither a date (2026-03-31) nor an RFC 3339 time", r.ReplyDue)
		}
		in.ReplyDue = d
	}
	return in, nil
}

// letterJSON is a letter as the API shows it: every list present, times
// in UTC.
type letterJSON struct {
	ID          string               `json:"id"`
	State       workflow.LetterState `json:"state"`
	Kind        workflow.LetterKind  `json:"kind"`
	ToUnit      string               `json:"to_unit"`
	ProblemIDs  []string             `json:"problem_ids"`
	Demands     string               `json:"demands"`
	ReplyDue    *time.Time           `json:"reply_due"`
	Year        int                  `json:"year,omitempty"`
	Number      int                  `json:"number,omitempty"`
	DocNo       string               `json:"doc_no,omitempty"`
	Level       workflow.Level       `json:"level,omitempty"`
	CreatedAt   time.Time            `json:"created_at"`
	CreatedBy   workflow.Actor       `json:"created_by"`
	IssuedAt    *time.Time           `json:"issued_at,omitempty"`
	IssuedBy    *workflow.Actor      `json:"issued_by,omitempty"`
	DiscardedAt *time.Time           `json:"discarded_at,omitempty"`
	Reply       *replyJSON           `json:"reply,omitempty"`
	ReplyLate   bool                 `json:"reply_late"`
}

type replyJSON struct {
	Text     string         `json:"text"`
	At       time.Time      `json:"at"`
	By       workflow.Actor `json:"by"`
	Evidence []string       `json:"evidence"`
	Late     bool           `json:"late"`
}

func letterOf(l *workflow.Letter, now time.Time) letterJSON {
	out := letterJSON{ID: l.ID, State: l.State, Kind: l.Kind, ToUnit: l.ToUnit, ProblemIDs: orEmpty(l.ProblemIDs),
		Demands: l.Demands, ReplyDue: utcPtr(l.ReplyDue), Year: l.Year, Number: l.Number, DocNo: l.DocNo, Level: l.Level,
		CreatedAt: l.CreatedAt.UTC(), CreatedBy: l.CreatedBy, IssuedAt: utcPtr(l.IssuedAt), IssuedBy: l.IssuedBy,
		DiscardedAt: utcPtr(l.DiscardedAt), ReplyLate: workflow.LetterReplyLate(l, now)}
	if r := l.Reply; r != nil {
		out.Reply = &replyJSON{Text: r.Text, At: r.At.UTC(), By: r.By, Evidence: orEmpty(r.Evidence), Late: r.Late}
	}
	return out
}

// issueLetter serves POST /letters (bureau): 201 with the letter, its
// number taken.
func (s *server) issueLetter(c echo.Context) error {
	var req letterRequest
	if err := decodeBody(c, &req); err != nil {
		return err
	}
	in, err := req.input()
	if err != nil {
		return err
	}
	l, err := s.svc.IssueLetter(c.Request().Context(), actor(c), in)
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderLocation, "/api/v1/letters/"+l.ID)
	return c.JSON(http.StatusCreated, letterOf(l, s.svc.Clock().Now()))
}

// issueDraft serves POST /letters/{id}/issue (bureau): the draft issued,
// with what the body changes.
func (s *server) issueDraft(c echo.Context) error {
	var req letterRequest
	if err := decodeBody(c, &req); err != nil {
		return err
	}
	in, err := req.input()
	if err != nil {
		return err
	}
	l, err := s.svc.IssueDraft(c.Request().Context(), actor(c), c.Param("id"), in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, letterOf(l, s.svc.Clock().Now()))
}

// discardDraft serves POST /letters/{id}/discard (bureau).
func (s *server) discardDraft(c echo.Context) error {
	var req struct{}
	if err := decodeBody(c, &req); err != nil {
		return err
	}
	l, err := s.svc.DiscardDraft(c.Request().Context(), actor(c), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, letterOf(l, s.svc.Clock().Now()))
}

// replyRequest is the body of POST /letters/{id}/reply.
type replyRequest struct {
	Text     string   `json:"text"`
	Evidence []string `json:"evidence"`
}

// replyLetter serves POST /letters/{id}/reply (the addressed unit): 201
// with the letter replied.
func (s *server) replyLetter(c echo.Context) error {
	var req replyRequest
	if err := decodeBody(c, &req); err != nil {
		return err
	}
	l, err := s.svc.ReplyLetter(c.Request().Context(), actor(c), c.Param("id"), workflow.LetterReplyInput{Text: req.Text, Evidence: req.Evidence})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, letterOf(l, s.svc.Clock().Now()))
}

// listLetters serves GET /letters?unit=&state=: the letters the caller may
// see, newest first.
func (s *server) listLetters(c echo.Context) error {
	q := c.QueryParams()
	if err := checkQuery(q, "unit", "state"); err != nil {
		return err
	}
	letters, err := s.svc.Letters(c.Request().Context(), actor(c), workflow.LetterFilter{Unit: q.Get("unit"), State: workflow.LetterState(q.Get("state"))})
	if err != nil {
		return err
	}
	now := s.svc.Clock().Now()
	items := make([]letterJSON, len(letters))
	for i, l := range letters {
		items[i] = letterOf(l, now)
	}
	return c.JSON(http.StatusOK, map[string]any{"items": items})
}

// getLetter serves GET /letters/{id} and GET /letters/{id}.docx (one echo
// route: a path parameter takes the whole segment).
func (s *server) getLetter(c echo.Context) error {
	if err := checkQuery(c.QueryParams()); err != nil {
		return err
	}
	id, isDocx := strings.CutSuffix(c.Param("id"), ".docx")
	if isDocx {
		return s.letterDocx(c, id)
	}
	l, err := s.svc.Letter(c.Request().Context(), actor(c), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, letterOf(l, s.svc.Clock().Now()))
}

// letterDocx answers with letter id as a Word document.
func (s *server) letterDocx(c echo.Context, id string) error {
	return files.ServeLetterDocx(c.Response(), c.Request(), s.svc, actor(c), id)
}
