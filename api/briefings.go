package api

import (
	"bytes"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/jdz-eco/rectify/api/files"
	"github.com/jdz-eco/rectify/workflow"
	"github.com/jdz-eco/rectify/workflow/briefingfile"
)

// briefingOf reads period and as_of and builds the briefing.
func (s *server) briefingOf(c echo.Context) (*workflow.Briefing, time.Time, error) {
	q := c.QueryParams()
	if err := checkQuery(q, "period", "as_of"); err != nil {
		return nil, time.Time{}, err
	}
	if err := workflow.CanReadBriefings(actor(c)); err != nil {
		return nil, time.Time{}, err
	}
	period, err := workflow.ParseBriefingPeriod(q.Get("period"))
	if err != nil {
		return nil, time.Time{}, err
	}
	day, err := workflow.ParseBriefingDate(q.Get("as_of"), s.svc.Clock().Now())
	if err != nil {
		return nil, time.Time{}, err
	}
	b, err := s.svc.Briefing(c.Request().Context(), actor(c), period, day)
	return b, day, err
}

// briefing serves GET /briefings: the briefing (通报) of the period ending
// on as_of, as JSON.
func (s *server) briefing(c echo.Context) error {
	b, _, err := s.briefingOf(c)
	if err != nil {
		return err
	}
	b.MadeAt = b.MadeAt.UTC()
	return c.JSON(http.StatusOK, b)
}

// briefingXLSX serves GET /briefings.xlsx: the briefing as a workbook.
func (s *server) briefingXLSX(c echo.Context) error {
	b, day, err := s.briefingOf(c)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := briefingfile.WriteXLSX(&buf, b); err != nil {
		return err
	}
	return sendFile(c, "通报-"+b.Period.Label()+"-"+day.Format("20060102")+".xlsx",
		"briefing-"+string(b.Period)+"-"+day.Format("20060102")+".xlsx", briefingfile.ContentTypeXLSX, buf.Bytes())
}

// sendFile sends data as an attachment named name (ascii for old clients).
func sendFile(c echo.Context, name, ascii, contentType string, data []byte) error {
	h := c.Response().Header()
	h.Set(echo.HeaderContentDisposition, files.ContentDispositionFallback("attachment", name, ascii))
	h.Set(echo.HeaderCacheControl, "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	return c.Blob(http.StatusOK, contentType, data)
}

// briefingDOCX serves GET /briefings.docx: the briefing as an official
// document with its charts as images.
func (s *server) briefingDOCX(c echo.Context) error {
	b, day, err := s.briefingOf(c)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := briefingfile.WriteDOCX(&buf, b); err != nil {
		return err
	}
	return sendFile(c, "通报-"+b.Period.Label()+"-"+day.Format("20060102")+".docx",
		"briefing-"+string(b.Period)+"-"+day.Format("20060102")+".docx", briefingfile.ContentTypeDOCX, buf.Bytes())
}
