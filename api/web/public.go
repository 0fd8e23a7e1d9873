package web

import (
	"net/http"
	"net/url"
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
	// Next is the next page's address ("" on the last); Later whether this
	// is not the first page.
	Next  string
	Later bool
}

// publicPageSize is how many notices a page of /public/ shows.
const publicPageSize = 20

// photoURL is where anyone reads a public photo (the API's public route).
func photoURL(id, sha string) string { return "/api/v1/public/notices/" + id + "/photos/" + sha }

// publicNotices serves GET /public/: no sign-in.
func (w *Web) publicNotices(c echo.Context) error {
	ctx := c.Request().Context()
	cursor := c.QueryParam("cursor")
	list, next, err := w.svc.PublicNotices(ctx, cursor, publicPageSize)
	if err != nil {
		return err
	}
	page := publicPage{Notices: list, Received: c.QueryParam("received") != "", Later: cursor != ""}
	if next != "" {
		page.Next = "/public/?" + url.Values{"cursor": {next}}.Encode()
	}
	head, err := w.svc.PublicHead(ctx)
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderCacheControl, "no-cache")
	page.AuditHead = head.String()
	return w.render(c, http.StatusOK, "public", "整改销号公示", "", page)
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
