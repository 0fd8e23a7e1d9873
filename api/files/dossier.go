package files

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"

	"github.com/jdz-eco/rectify/workflow"
	"github.com/jdz-eco/rectify/workflow/dossier"
)

// DossierContentType is the media type of a case file.
const DossierContentType = "application/zip"

// HeaderHead carries the chain head a document printed (SEQ:HASH).
const HeaderHead = "X-Rectify-Head"

// ServeDossier streams problem id's case file (一案一档, workflow/dossier)
// to a, who must see the problem. An error returned means nothing was
// written (a problem a cannot see is not found); a failure while streaming
// is logged to log (with attrs) and aborts the connection, so that no
// truncated zip looks complete.
func ServeDossier(w http.ResponseWriter, r *http.Request, svc *workflow.Service, a workflow.Actor, id string, log *slog.Logger, attrs ...any) error {
	ctx := r.Context()
	cf, err := svc.CaseFile(ctx, a, id)
	if err != nil {
		return err
	}
	blobs := svc.Blobs()
	if blobs == nil && len(cf.Problem.Evidence) > 0 {
		return fmt.Errorf("files: the case file of %s without an evidence store (workflow.Service.SetBlobs)", id)
	}
	// Every file is there before the answer starts. A referenced file
	// that is missing is a fault (audit verify names it), not a 404.
	for _, sha := range cf.Problem.EvidenceHashes() {
		if _, err := blobs.Stat(ctx, sha); err != nil {
			return fmt.Errorf("evidence %s of %s is referenced but cannot be read: %v", sha, id, err)
		}
	}
	disposition := ContentDispositionFallback("attachment", cf.Problem.Code+"-一案一档.zip", cf.Problem.Code+"-dossier.zip")
	out := &startOnWrite{w: w, start: func(h http.Header) {
		h.Set("Content-Type", DossierContentType)
		h.Set("Content-Disposition", disposition)
		h.Set("Cache-Control", "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set(HeaderHead, cf.Head.String())
	}}
	err = dossier.Write(out, cf, func(sha string) (io.ReadCloser, error) { return blobs.Open(ctx, sha) })
	if err != nil {
		if !out.started {
			return err
		}
		log.ErrorContext(ctx, "dossier failed while streaming", append([]any{"problem", id, "err", err}, attrs...)...)
		panic(http.ErrAbortHandler)
	}
	out.begin()
	return nil
}

// startOnWrite sends the status and headers with the first byte.
type startOnWrite struct {
	w       http.ResponseWriter
	start   func(http.Header)
	started bool
}

func (s *startOnWrite) begin() {
	if !s.started {
		s.started = true
		s.start(s.w.Header())
		s.w.WriteHeader(http.StatusOK)
	}
}

func (s *startOnWrite) Write(p []byte) (int, error) {
	s.begin()
	return s.w.Write(p)
}
