package api

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/jdz-eco/rectify/workflow"
)

// The evidence checks' commands besides upload and verify (issue 16): the
// bureau sets a problem's position, an inspector records a site check or
// confirms a look-back task.

// setPosition serves PUT /problems/{id}/position: {lat, lng, datum}, the
// datum wgs84 (default) or gcj02, converted to WGS-84.
func (s *server) setPosition(c echo.Context) error {
	var req workflow.PositionInput
	if err := decodeBody(c, &req); err != nil {
		return err
	}
	v, err := s.ifMatch(c)
	if err != nil {
		return err
	}
	a := actor(c)
	p, err := s.svc.SetPosition(c.Request().Context(), a, c.Param("id"), &req, v)
	if err != nil {
		return err
	}
	return s.sendProblem(c, http.StatusOK, a, p)
}

// siteCheckRequest is the body of POST /problems/{id}/site-checks.
type siteCheckRequest struct {
	Result   string `json:"result"`
	Findings string `json:"findings"`
}

// addSiteCheck serves POST /problems/{id}/site-checks: an inspector's site
// check of a submission; the inspector's site-check photos uploaded before
// it (POST /problems/{id}/evidence) become its photos.
func (s *server) addSiteCheck(c echo.Context) error {
	var req siteCheckRequest
	if err := decodeBody(c, &req); err != nil {
		return err
	}
	v, err := s.ifMatch(c)
	if err != nil {
		return err
	}
	a := actor(c)
	p, err := s.svc.RecordSiteCheck(c.Request().Context(), a, c.Param("id"), workflow.SiteCheckResult(req.Result), req.Findings, v)
	if err != nil {
		return err
	}
	return s.sendProblem(c, http.StatusOK, a, p)
}

// confirmLookback serves POST /problems/{id}/lookback/confirmation: an
// inspector found the rectification holds ({text}); one that does not
// reopens the problem (transition reopen).
func (s *server) confirmLookback(c echo.Context) error {
	var req noteRequest
	if err := decodeBody(c, &req); err != nil {
		return err
	}
	v, err := s.ifMatch(c)
	if err != nil {
		return err
	}
	a := actor(c)
	p, err := s.svc.ConfirmLookback(c.Request().Context(), a, c.Param("id"), req.Text, v)
	if err != nil {
		return err
	}
	return s.sendProblem(c, http.StatusOK, a, p)
}
