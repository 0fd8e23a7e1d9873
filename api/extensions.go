package api

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/jdz-eco/rectify/workflow"
)

// extensionRequest is the body of POST /problems/{id}/extensions; deadline
// is parsed by workflow.ParseDeadline.
type extensionRequest struct {
	Deadline *string `json:"deadline"`
	Reason   string  `json:"reason"`
}

// requestExtension records the lead unit's request for a later deadline and
// answers 201 with the problem (ETag) and the request's Location.
func (s *server) requestExtension(c echo.Context) error {
	var req extensionRequest
	if err := decodeBody(c, &req); err != nil {
		return err
	}
	var in workflow.ExtensionRequest
	in.Reason = req.Reason
	if req.Deadline != nil {
		d, err := workflow.ParseDeadline(*req.Deadline)
		if err != nil {
			return err
		}
		in.Deadline = d
	}
	v, err := s.ifMatch(c)
	if err != nil {
		return err
	}
	a := actor(c)
	p, err := s.svc.RequestExtension(c.Request().Context(), a, c.Param("id"), in, v)
	if err != nil {
		return err
	}
	s.metrics.extensionRequest()
	// The request just made is the last one (the domain appends).
	if n := len(p.Extensions); n > 0 {
		c.Response().Header().Set(echo.HeaderLocation, "/api/v1/problems/"+p.ID+"/extensions/"+p.Extensions[n-1].ID)
	}
	return s.sendProblem(c, http.StatusCreated, a, p)
}

// extensionDecision is the body of POST /problems/{id}/extensions/{ext_id}/decision.
type extensionDecision struct {
	Decision string `json:"decision"`
	Note     string `json:"note"`
}

// decideExtension records the bureau's decision and answers 200 with the
// problem, whose deadline an approval has moved.
func (s *server) decideExtension(c echo.Context) error {
	var req extensionDecision
	if err := decodeBody(c, &req); err != nil {
		return err
	}
	v, err := s.ifMatch(c)
	if err != nil {
		return err
	}
	a := actor(c)
	p, err := s.svc.DecideExtension(c.Request().Context(), a, c.Param("id"), c.Param("ext_id"), req.Decision, req.Note, v)
	if err != nil {
		return err
	}
	s.metrics.extensionDecision(req.Decision)
	return s.sendProblem(c, http.StatusOK, a, p)
}

// getExtension serves GET /problems/{id}/extensions/{ext_id}, the Location of
// a request: one extension of a problem the caller may see.
func (s *server) getExtension(c echo.Context) error {
	p, err := s.svc.Problem(c.Request().Context(), actor(c), c.Param("id"))
	if err != nil {
		return err
	}
	for _, x := range p.Extensions {
		if x.ID == c.Param("ext_id") {
			return c.JSON(http.StatusOK, extensionOf(x))
		}
	}
	return workflow.Refuse(workflow.ReasonExtensionNotFound, "problem %s has no extension request %s", p.ID, c.Param("ext_id"))
}
