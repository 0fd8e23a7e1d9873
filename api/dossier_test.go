package api_test

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"github.com/jdz-eco/rectify/workflow/dossier"
)

// TestDossier: whoever sees the problem downloads its case file, which
// verifies offline, holds the evidence uploaded and carries the head of
// the chain at export in dossier.json and the X-Rectify-Head header; who
// cannot see the problem gets 404, as for an unknown problem.
func TestDossier(t *testing.T) {
	v := newEnv(t)
	id := v.assigned()
	v.fire(id, "fuliang", "accept", map[string]any{"plan": "封堵"})
	img := v.png()
	v.ok(v.upload(id, "fuliang", "现场.png", img, "整改后"), http.StatusCreated)
	path := "/api/v1/problems/" + id + "/dossier.zip"
	for _, who := range []string{"bureau", "fuliang", "water", "inspector", "viewer", "admin"} {
		rec := v.do("GET", path, who, nil)
		if rec.Code != http.StatusOK {
			t.Fatalf("%s: %d %s", who, rec.Code, rec.Body)
		}
		h := rec.Header()
		b := rec.Body.Bytes()
		rep, err := dossier.Verify(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			t.Fatalf("%s: the dossier does not verify: %v", who, err)
		}
		head, err := v.svc.DocumentHead(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if h.Get("Content-Type") != "application/zip" || h.Get("X-Rectify-Head") != head.String() || rep.Head != head ||
			!strings.HasPrefix(h.Get("Content-Disposition"), `attachment; filename="JDZ-`) || h.Get("Cache-Control") != "no-store" {
			t.Errorf("%s: headers %v, report %+v, head %s", who, h, rep, head)
		}
		if rep.ProblemID != id || rep.Evidence != 1 || rep.Entries != 4 || rep.Info.ExportedBy.ID != v.users[who].ID {
			t.Errorf("%s: report %+v", who, rep)
		}
	}
	v.fails(v.do("GET", path, "leping", nil), http.StatusNotFound, "not_found")
	v.fails(v.do("GET", "/api/v1/problems/P-999/dossier.zip", "bureau", nil), http.StatusNotFound, "not_found")
	v.fails(v.do("GET", path, "", nil), http.StatusUnauthorized, "unauthorized")
}
