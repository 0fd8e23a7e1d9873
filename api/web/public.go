package web

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/jdz-eco/rectify/workflow"
)

// publicPage is the public notice page (公示): the notices, the audit head,
// and after an objection the answer.
type publicPage struct {
	Notices   []workflow.PublicNotice
	AuditHead string
	Received  bool
}

// photoURL is where anyone reads a public photo (the API's public route).
func photoURL(id, sha string) string { return "/api/v1/public/notices/" + id + "/photos/" + sha }

// publicNotices serves GET /public/: no sign-in.
func (w *Web) publicNotices(c echo.Context) error {
	ctx := c.Request().Context()
	list, err := w.svc.PublicNotices(ctx)
	if err != nil {
		return err
	}
	head, err := w.svc.PublicHead(ctx)
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderCacheControl, "no-cache")
	return w.render(c, http.StatusOK, "public", "整改销号公示", "", publicPage{Notices: list, AuditHead: head.String(), Received: c.QueryParam("received") != ""})
}

// fileObjection serves POST /public/notices/{id}/objections: the page's
// form, limited per client address with the API's objections; the hidden
// field website is the honeypot.
func (w *Web) fileObjection(c echo.Context) error {
	if !w.objections.Allow(c.RealIP()) {
		return workflow.Refuse(workflow.ReasonRateLimited, "too many objections from this address")
	}
	if strings.TrimSpace(c.FormValue("website")) == "" {
		in := workflow.ObjectionInput{Text: c.FormValue("text"), Name: c.FormValue("name"), Contact: c.FormValue("contact")}
		if _, err := w.svc.FileObjection(c.Request().Context(), c.Param("id"), in); err != nil {
			return err
		}
	}
	return c.Redirect(http.StatusSeeOther, "/public/?received=1")
}
