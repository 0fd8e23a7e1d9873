package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/jdz-eco/rectify/workflow"
)

// routeEvidenceUpload is the route of POST /problems/{id}/evidence: limitBody
// holds it to evidenceBodyLimit instead of Config.BodyLimit.
const routeEvidenceUpload = "/api/v1/problems/:id/evidence"

// multipartAllowance is how much an upload's body may exceed the file limit:
// boundaries, part headers and the description (at most workflow.MaxText
// characters of up to 4 bytes).
const multipartAllowance = 64<<10 + 4*workflow.MaxText

// uploadReadWindow is how long an evidence upload may take to arrive once
// the caller is known to be allowed to send it; it replaces the server's
// ReadTimeout for that request, so a large file on a slow line is not cut.
const uploadReadWindow = 15 * time.Minute

// sniffLen is how much of a file decides its type (http.DetectContentType).
const sniffLen = 512

func (s *server) evidenceBodyLimit() int64 { return s.evidenceMax + multipartAllowance }

func (s *server) evidenceTooLarge() error {
	return &workflow.Error{Code: workflow.CodeTooLarge, Field: "file",
		Message: "the file is larger than the evidence limit of " + formatBytes(s.evidenceMax)}
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
}

// evidenceOf renders p's evidence; dups (nil for callers who may not see
// them) maps a file's SHA-256 to the other problems holding it.
func evidenceOf(p *workflow.Problem, dups map[string][]string) []evidenceJSON {
	out := make([]evidenceJSON, 0, len(p.Evidence))
	for _, e := range p.Evidence {
		out = append(out, evidenceJSON{
			SHA256: e.SHA256, Name: e.Name, Size: e.Size, Type: e.Type, Description: e.Description,
			UploadedBy: e.UploadedBy, Uploader: e.Uploader, UnitID: e.UnitID, At: e.At.UTC(),
			Round: e.Round, Submitted: e.Submitted, Duplicates: dups[e.SHA256],
		})
	}
	return out
}

// duplicatesFor returns the duplicates of p's evidence that a may see: none
// for unit officers, who may not learn the codes of problems they cannot see.
func (s *server) duplicatesFor(ctx context.Context, a workflow.Actor, p *workflow.Problem) (map[string][]string, error) {
	if len(p.Evidence) == 0 || a.Role == workflow.RoleUnit || !workflow.CanSee(a, p) {
		return nil, nil
	}
	return s.svc.Duplicates(ctx, p)
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
	ifVersion, err := ifMatch(c)
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
	up, err := s.readUpload(ctx, mr, blobs)
	if err != nil {
		return err
	}
	p, err = s.svc.AddEvidence(ctx, a, id, workflow.EvidenceInput{
		SHA256: up.sha, Name: up.name, Size: up.size, Type: up.typ, Description: up.description,
	}, ifVersion)
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderLocation, "/api/v1/evidence/"+up.sha)
	return s.sendProblem(c, http.StatusCreated, a, p)
}

// precheckEvidence refuses early, with the domain's codes, what AddEvidence
// would refuse for p as it stands; AddEvidence checks again in its
// transaction and decides.
func (s *server) precheckEvidence(a workflow.Actor, p *workflow.Problem, ifVersion uint64) error {
	if ifVersion != 0 && ifVersion != p.Version {
		return workflow.Errorf(workflow.CodePreconditionFailed, "problem %s is at version %d, not %d", p.ID, p.Version, ifVersion)
	}
	return s.svc.CanAddEvidence(a, p)
}

// upload is what readUpload got from the multipart body.
type upload struct {
	sha, name, typ, description string
	size                        int64
}

// readUpload reads the parts of an upload in any order: exactly one file
// part, streamed into blobs, and at most one description part.
func (s *server) readUpload(ctx context.Context, mr *multipart.Reader, blobs workflow.Blobs) (upload, error) {
	var (
		up                upload
		haveFile, hasDesc bool
	)
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return up, s.uploadReadError(err)
		}
		switch name := part.FormName(); name {
		case "file":
			if haveFile {
				return up, apiError(workflow.CodeInvalid, "file", "send one file per upload")
			}
			haveFile = true
			up.name = strings.TrimSpace(part.FileName())
			if up.name == "" {
				return up, apiError(workflow.CodeInvalid, "file", "the file part needs a filename")
			}
			if utf8.RuneCountInString(up.name) > workflow.MaxTitle {
				return up, apiError(workflow.CodeInvalid, "name", "a file name of 1 to "+strconv.Itoa(workflow.MaxTitle)+" characters is required")
			}
			sr := &sniffReader{r: part}
			sha, size, err := blobs.Put(ctx, sr, s.evidenceMax)
			switch {
			case sr.refused != nil:
				return up, sr.refused
			case sr.readErr != nil:
				return up, s.uploadReadError(sr.readErr)
			case workflow.ErrorCode(err) == workflow.CodeTooLarge:
				return up, s.evidenceTooLarge()
			case err != nil:
				return up, err
			}
			up.sha, up.size, up.typ = sha, size, sr.typ
		case "description":
			if hasDesc {
				return up, apiError(workflow.CodeInvalid, "description", "send one description per upload")
			}
			hasDesc = true
			max := int64(4 * workflow.MaxText)
			b, err := io.ReadAll(io.LimitReader(part, max+1))
			switch {
			case err != nil:
				return up, s.uploadReadError(err)
			case int64(len(b)) > max || utf8.RuneCount(b) > workflow.MaxText:
				return up, apiError(workflow.CodeInvalid, "description", "description is longer than "+strconv.Itoa(workflow.MaxText)+" characters")
			case !utf8.Valid(b):
				return up, apiError(workflow.CodeInvalid, "description", "description must be UTF-8 text")
			}
			up.description = string(b)
		default:
			return up, apiError(workflow.CodeInvalid, name, fmt.Sprintf("unknown part %q; an upload has the parts file and description", name))
		}
		part.Close()
	}
	if !haveFile {
		return up, apiError(workflow.CodeInvalid, "file", "the upload has no part named file")
	}
	return up, nil
}

// uploadReadError classifies a failure to read the multipart body.
func (s *server) uploadReadError(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return s.evidenceTooLarge()
	}
	return apiError(workflow.CodeInvalid, "", "the multipart body is malformed or truncated")
}

// sniffReader passes a file through to the blob store, keeping its first
// sniffLen bytes. Once it has them (or the whole of a shorter file) it sniffs
// the type and, if the type is not allowed or the file is empty, fails the
// stream instead of ending it, so that the store keeps nothing.
type sniffReader struct {
	r       io.Reader
	head    []byte
	n       int64
	checked bool
	typ     string
	refused error // an upload the content decides against
	readErr error // the body could not be read
}

func (r *sniffReader) Read(p []byte) (int, error) {
	if r.refused != nil {
		return 0, r.refused
	}
	n, err := r.r.Read(p)
	r.n += int64(n)
	if !r.checked {
		if room := sniffLen - len(r.head); room > 0 {
			r.head = append(r.head, p[:min(n, room)]...)
		}
		if len(r.head) >= sniffLen || err == io.EOF {
			r.checked = true
			if r.refused = r.check(); r.refused != nil {
				return 0, r.refused
			}
		}
	}
	if err != nil && err != io.EOF {
		r.readErr = err
	}
	return n, err
}

func (r *sniffReader) check() error {
	if r.n == 0 {
		return apiError(workflow.CodeInvalid, "file", "the file is empty")
	}
	t, ok := workflow.SniffType(r.head)
	r.typ = t
	if !ok {
		return &workflow.Error{Code: workflow.CodeUnsupportedType, Field: "file",
			Message: "files of type " + t + " are not accepted as evidence; send images, PDF, Office documents, plain text or video"}
	}
	return nil
}

// getEvidence serves GET /evidence/{sha256}: the file, to callers who may see
// a problem that holds it (404 otherwise, as for an unknown or malformed
// hash), with the type sniffed at upload, its size, and its hash as ETag.
// If-None-Match and, when the blob store's files can seek, Range requests
// are honoured.
func (s *server) getEvidence(c echo.Context) error {
	ctx := c.Request().Context()
	a := actor(c)
	sha := c.Param("sha256")
	notFound := workflow.Errorf(workflow.CodeNotFound, "evidence %s not found", sha)
	if !validSHA256(sha) {
		return workflow.Errorf(workflow.CodeNotFound, "no evidence has that name; evidence is named by its SHA-256 in 64 lowercase hex digits")
	}
	ok, err := s.svc.CanSeeEvidence(ctx, a, sha)
	if err != nil {
		return err
	}
	if !ok {
		return notFound
	}
	ev, err := s.evidenceRecord(ctx, a, sha)
	if err != nil {
		return err
	}
	if ev == nil {
		return notFound // no longer visible since CanSeeEvidence
	}
	blobs := s.svc.Blobs()
	if blobs == nil {
		return errors.New("api: evidence download without an evidence store (workflow.Service.SetBlobs)")
	}
	// A referenced file that is missing is a fault (audit verify names
	// it), not a 404: %v keeps its not_found code out of the answer.
	size, err := blobs.Stat(ctx, sha)
	if err != nil {
		return fmt.Errorf("evidence %s is referenced but cannot be read: %v", sha, err)
	}
	rc, err := blobs.Open(ctx, sha)
	if err != nil {
		return fmt.Errorf("evidence %s is referenced but cannot be opened: %v", sha, err)
	}
	defer rc.Close()
	typ := ev.Type
	if typ == "" {
		typ = "application/octet-stream"
	}
	kind := "attachment"
	if strings.HasPrefix(typ, "image/") {
		kind = "inline"
	}
	h := c.Response().Header()
	tag := `"` + sha + `"`
	h.Set("ETag", tag)
	h.Set(echo.HeaderCacheControl, "private, no-cache") // revalidate: access may be lost
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set(echo.HeaderContentType, typ)
	h.Set(echo.HeaderContentDisposition, contentDisposition(kind, ev.Name))
	if rs, ok := rc.(io.ReadSeeker); ok {
		// Conditional and range requests (a video's player seeks).
		http.ServeContent(c.Response(), c.Request(), "", time.Time{}, rs)
		return nil
	}
	if matchesETag(c.Request().Header.Get("If-None-Match"), tag) {
		h.Del(echo.HeaderContentType)
		h.Del(echo.HeaderContentDisposition)
		return c.NoContent(http.StatusNotModified)
	}
	h.Set(echo.HeaderContentLength, strconv.FormatInt(size, 10))
	c.Response().WriteHeader(http.StatusOK)
	if n, err := io.Copy(c.Response(), rc); err != nil {
		// The client sees a body shorter than Content-Length.
		s.log.ErrorContext(ctx, "streaming evidence", "sha256", sha, "written", n, "size", size, "err", err, "request_id", requestIDOf(c))
	}
	return nil
}

// evidenceRecord returns the evidence item of sha on the first problem a may
// see that holds it, or nil.
func (s *server) evidenceRecord(ctx context.Context, a workflow.Actor, sha string) (*workflow.Evidence, error) {
	items, _, err := s.svc.Problems(ctx, a, workflow.ProblemFilter{Evidence: sha, Limit: 1})
	if err != nil {
		return nil, err
	}
	for _, p := range items {
		for i := range p.Evidence {
			if p.Evidence[i].SHA256 == sha {
				return &p.Evidence[i], nil
			}
		}
	}
	return nil, nil
}

func validSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := range len(s) {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// matchesETag reports whether an If-None-Match header lists tag (or is *).
func matchesETag(header, tag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == "*" || t == tag {
			return true
		}
	}
	return false
}

// contentDisposition returns a Content-Disposition header of kind (inline or
// attachment) naming the file: an ASCII fallback in filename and the
// original name, UTF-8 and percent-encoded, in filename* (RFC 6266, RFC 5987).
func contentDisposition(kind, name string) string {
	var ascii strings.Builder
	for _, r := range name {
		if r < 0x20 || r >= 0x7f || r == '"' || r == '\\' {
			ascii.WriteByte('_')
		} else {
			ascii.WriteRune(r)
		}
	}
	return contentDispositionFallback(kind, name, ascii.String())
}

// contentDispositionFallback is contentDisposition with a given ASCII
// fallback name (printable ASCII without quotes or backslashes), for names
// whose fallback should read better than underscores.
func contentDispositionFallback(kind, name, fallback string) string {
	var enc strings.Builder
	for _, b := range []byte(name) {
		if isAttrChar(b) {
			enc.WriteByte(b)
		} else {
			fmt.Fprintf(&enc, "%%%02X", b)
		}
	}
	return kind + `; filename="` + fallback + `"; filename*=UTF-8''` + enc.String()
}

// isAttrChar reports whether b may stand unencoded in an RFC 5987 value.
func isAttrChar(b byte) bool {
	return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' ||
		strings.IndexByte("!#$&+-.^_`|~", b) >= 0
}
