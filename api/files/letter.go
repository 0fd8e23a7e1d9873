package files

import (
	"bytes"
	"net/http"

	"github.com/jdz-eco/rectify/workflow"
	"github.com/jdz-eco/rectify/workflow/letterfile"
)

// DocxContentType is the media type of a Word document.
const DocxContentType = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"

// ServeLetterDocx writes letter id as a Word document (workflow/letterfile)
// to a, who must see the letter, named by its document number. An error
// returned means nothing was written.
func ServeLetterDocx(w http.ResponseWriter, r *http.Request, svc *workflow.Service, a workflow.Actor, id string) error {
	d, err := svc.LetterDocument(r.Context(), a, id)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := letterfile.Docx(&buf, letterfile.Compose(d)); err != nil {
		return err
	}
	name := "督办函-" + id + ".docx"
	if d.Letter.DocNo != "" {
		name = d.Letter.DocNo + ".docx"
	}
	h := w.Header()
	h.Set("Content-Type", DocxContentType)
	h.Set("Content-Disposition", ContentDispositionFallback("attachment", name, "letter-"+id+".docx"))
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	_, err = w.Write(buf.Bytes())
	return err
}
