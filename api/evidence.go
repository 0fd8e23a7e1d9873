package api

import (
	"errors"
	"fmt"
	"mime"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/jdz-eco/rectify/api/files"
	"github.com/jdz-eco/rectify/workflow"
)

// routeEvidenceUpload is the route of POST /problems/{id}/evidence: limitBody
// holds it to evidenceBodyLimit instead of Config.BodyLimit.
const routeEvidenceUpload = "/api/v1/problems/:id/evidence"

// multipartAllowance is how much an upload's body may exceed the file limit
// (files.MultipartAllowance).
const multipartAllowance = files.MultipartAllowance

// uploadReadWindow is how long an evidence upload may take to arrive once
// the caller is known to be allowed to send it; it replaces the server's
// ReadTimeout for that request, so a large file on a slow line is not cut.
const uploadReadWindow = 15 * time.Minute

func (s *server) evidenceBodyLimit() int64 { return s.evidenceMax + multipartAllowance }

func (s *server) evidenceTooLarge() error {
	return workflow.RefuseField(workflow.ReasonFileTooLarge, "file", "the file is larger than the evidence limit of %s", formatBytes(s.evidenceMax))
}

// evidenceJSON is one evidence item as the API shows it. Duplicates are the
// codes of other problems that hold the same file (a sign of fake
// rectification); they are shown to callers who may see every problem, never
// to unit officers.
type evidenceJSON struct {
	SHA256      string    `json:"sha256"`
	Name        string    `json:"name"`
	Size        int64     `json:"size"`
	Type        string    `json:"type"`
	Description string    `json:"description,omitempty"`
	UploadedBy  string    `json:"uploaded_by"`
	Uploader    string    `json:"uploader"`
	UnitID      string    `json:"unit_id"`
	At          time.Time `json:"at"`
	Round       int       `json:"round"`
	Submitted   bool      `json:"submitted"`
	Duplicates  []string  `json:"duplicates,omitempty"`
	// Phase: before, after, document or site_check; PHash the perceptual
	// hash (16 hex digits); Flags what the evidence checks found.
	Phase workflow.Phase  `json:"phase,omitempty"`
	PHash string          `json:"phash,omitempty"`
	Flags []workflow.Flag `json:"flags"`
	// Public: the bureau marked the photo public (the public notice page).
	Public bool `json:"public,omitempty"`
}

// evidenceOf renders p's evidence for a; dups (nil for callers who may not
// see them) maps a file's SHA-256 to the other problems holding it. Flags
// are shown as a may see them (workflow.FlagsFor).
func evidenceOf(a workflow.Actor, p *workflow.Problem, dups map[string][]string) []evidenceJSON {
	out := make([]evidenceJSON, 0, len(p.Evidence))
	for _, e := range p.Evidence {
		j := evidenceJSON{
			SHA256: e.SHA256, Name: e.Name, Size: e.Size, Type: e.Type, Description: e.Description,
			UploadedBy: e.UploadedBy, Uploader: e.Uploader, UnitID: e.UnitID, At: e.At.UTC(),
			Round: e.Round, Submitted: e.Submitted, Duplicates: dups[e.SHA256],
			Phase: e.Phase, Flags: nonNil(workflow.FlagsFor(a, p, e)), Public: e.Public,
		}
		if e.PHash != nil {
			j.PHash = fmt.Sprintf("%016x", *e.PHash)
		}
		out = append(out, j)
	}
	return out
}

// signatureJSON is a sign-off of verify or close as the API shows it.
type signatureJSON struct {
	Action     string        `json:"action"`
	SignerID   string        `json:"signer_id"`
	SignerName string        `json:"signer_name"`
	UnitID     string        `json:"unit_id"`
	Role       workflow.Role `json:"role"`
	At         time.Time     `json:"at"`
	Meaning    string        `json:"meaning"`
	Version    uint64        `json:"version"`
	Digest     string        `json:"digest"`
}

// signaturesOf renders p's sign-offs.
func signaturesOf(p *workflow.Problem) []signatureJSON {
	out := make([]signatureJSON, 0, len(p.Signatures))
	for _, sg := range p.Signatures {
		out = append(out, signatureJSON{
			Action: sg.Action, SignerID: sg.SignerID, SignerName: sg.SignerName, UnitID: sg.UnitID,
			Role: sg.Role, At: sg.At.UTC(), Meaning: sg.Meaning, Version: sg.Version, Digest: sg.Digest,
		})
	}
	return out
}

// addEvidence serves POST /problems/{id}/evidence: a multipart/form-data body
// with a file part named file and an optional description part. The file is
// streamed into the blob store (never buffered whole), its type sniffed from
// its first 512 bytes as it passes, then attached to the problem.
//
// What AddEvidence would refuse for the problem as it stands (visibility,
// If-Match, role and state) is refused before the body is read, so nothing is
// stored for it; so is a bad file name. A disallowed type, an empty file or
// one over the limit is refused by failing the stream, so the store keeps
// nothing of it either. A refusal after the file was stored (a bad part after
// the file part, or a write racing this one) leaves a file no problem
// references: harmless in content-addressed storage, where a later upload of
// the same content reuses it.
func (s *server) addEvidence(c echo.Context) error {
	ctx := c.Request().Context()
	a := actor(c)
	id := c.Param("id")
	ifVersion, err := s.ifMatch(c)
	if err != nil {
		return err
	}
	blobs := s.svc.Blobs()
	if blobs == nil {
		return errors.New("api: evidence upload without an evidence store (workflow.Service.SetBlobs)")
	}
	p, err := s.svc.Problem(ctx, a, id)
	if err != nil {
		return err
	}
	if err := s.precheckEvidence(a, p, ifVersion); err != nil {
		return err
	}
	ct, _, _ := mime.ParseMediaType(c.Request().Header.Get(echo.HeaderContentType))
	if ct != "multipart/form-data" {
		return apiError(workflow.CodeUnsupportedType, "Content-Type", "an evidence upload must be multipart/form-data with a part named file")
	}
	mr, err := c.Request().MultipartReader()
	if err != nil {
		return apiError(workflow.CodeInvalid, "Content-Type", "the multipart/form-data body has no boundary")
	}
	_ = http.NewResponseController(c.Response()).SetReadDeadline(time.Now().Add(uploadReadWindow))
	up, err := files.ReadUpload(ctx, mr, blobs, files.UploadOptions{Max: s.evidenceMax, TooLarge: s.evidenceTooLarge,
		KeepImage: files.KeepImageBytes})
	if err != nil {
		return err
	}
	// The checks run before the command, on the file as it streamed by;
	// the command decides the flags (docs/design.md#evidence-checks).
	report, err := files.CheckUpload(ctx, s.svc, up)
	if err != nil {
		return err
	}
	p, err = s.svc.AddEvidence(ctx, a, id, workflow.EvidenceInput{
		SHA256: up.SHA256, Name: up.Name, Size: up.Size, Type: up.Type, Description: up.Description,
		Phase: workflow.Phase(up.Phase), Photo: report,
	}, ifVersion)
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderLocation, "/api/v1/evidence/"+up.SHA256)
	return s.sendProblem(c, http.StatusCreated, a, p)
}

// precheckEvidence refuses early, with the domain's codes, what AddEvidence
// would refuse for p as it stands; AddEvidence checks again in its
// transaction and decides.
func (s *server) precheckEvidence(a workflow.Actor, p *workflow.Problem, ifVersion uint64) error {
	if err := workflow.CheckVersion(p, ifVersion); err != nil {
		return err
	}
	return s.svc.CanAddEvidence(a, p)
}

// getEvidence serves GET /evidence/{sha256}: the file, to callers who may see
// a problem that holds it (404 otherwise, as for an unknown or malformed
// hash), with the type sniffed at upload, its size, and its hash as ETag.
// If-None-Match and, when the blob store's files can seek, Range requests
// are honoured (files.ServeEvidence).
func (s *server) getEvidence(c echo.Context) error {
	return files.ServeEvidence(c.Response(), c.Request(), s.svc, actor(c), c.Param("sha256"), false,
		s.log, "request_id", requestIDOf(c))
}
