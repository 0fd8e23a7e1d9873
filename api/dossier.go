package api

import (
	"io"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/jdz-eco/rectify/api/files"
	"github.com/jdz-eco/rectify/workflow"
	"github.com/jdz-eco/rectify/workflow/dossier"
)

// dossierContentType is the media type of a dossier.
const dossierContentType = "application/zip"

// getDossier streams problem id's case file (一案一档) as a zip
// (workflow/dossier): whoever may see the problem may have it; a problem
// the caller cannot see is not found.
func (s *server) getDossier(c echo.Context) error {
	ctx := c.Request().Context()
	cf, err := s.svc.CaseFile(ctx, actor(c), c.Param("id"))
	if err != nil {
		return err
	}
	blobs := s.svc.Blobs()
	if blobs == nil && len(cf.Problem.Evidence) > 0 {
		return workflow.Refuse(workflow.ReasonFileNotStored, "no evidence store: the case file cannot include the evidence")
	}
	// Every file is there before the answer starts.
	for _, sha := range cf.Problem.EvidenceHashes() {
		if _, err := blobs.Stat(ctx, sha); err != nil {
			s.log.ErrorContext(ctx, "dossier: evidence file missing", "problem", cf.Problem.ID, "sha256", sha, "err", err, "request_id", requestIDOf(c))
			return err
		}
	}
	name := cf.Problem.Code + "-一案一档.zip"
	disposition := files.ContentDispositionFallback("attachment", name, cf.Problem.Code+"-dossier.zip")
	w := &startOnWrite{c: c, start: func(h http.Header) {
		h.Set(echo.HeaderContentType, dossierContentType)
		h.Set(echo.HeaderContentDisposition, disposition)
		h.Set(echo.HeaderCacheControl, "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Rectify-Head", cf.Head.String())
	}}
	err = dossier.Write(w, cf, func(sha string) (io.ReadCloser, error) { return blobs.Open(ctx, sha) })
	if err != nil {
		if !w.started {
			return err
		}
		s.log.ErrorContext(ctx, "dossier failed while streaming", "problem", cf.Problem.ID, "err", err, "request_id", requestIDOf(c))
		panic(http.ErrAbortHandler)
	}
	w.begin()
	return nil
}
