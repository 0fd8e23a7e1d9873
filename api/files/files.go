// Package files streams evidence files (佐证材料) in and out over HTTP, for
// the JSON API and the web pages alike: multipart uploads streamed into the
// blob store with their type sniffed from the content as they pass, and
// guarded downloads with the Content-Disposition a Chinese file name needs.
// It decides no rule: callers check with the workflow service first.
package files

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jdz-eco/rectify/workflow"
)

// SniffLen is how much of a file decides its type (http.DetectContentType).
const SniffLen = 512

// MultipartAllowance is how much an upload's body may exceed the file limit:
// boundaries, part headers and the description (at most workflow.MaxText
// characters of up to 4 bytes).
const MultipartAllowance = 64<<10 + 4*workflow.MaxText

// Upload is what ReadUpload got from a multipart body.
type Upload struct {
	SHA256, Name, Type, Description string
	Size                            int64
	// Phase is the phase part, if any (before, after, document).
	Phase string
	// Image is the whole file when it is a JPEG, PNG or WebP image of at
	// most UploadOptions.KeepImage bytes, kept as it streamed by, for the
	// photo checks; ImageTooLarge says an image was larger.
	Image         []byte
	ImageTooLarge bool
}

// UploadOptions configure ReadUpload.
type UploadOptions struct {
	// Max is the largest file in bytes.
	Max int64
	// TooLarge is the error for a file or body over the limit.
	TooLarge func() error
	// Field, if set, receives every part other than file and description
	// (form fields such as a CSRF token), read whole up to 4 KiB; an error
	// ends the upload. Without it such a part is refused.
	Field func(name, value string) error
	// BeforeFile, if set, runs when the file part begins, before anything is
	// stored; an error ends the upload (a form field that must precede the
	// file, such as a CSRF token, is checked here).
	BeforeFile func() error
	// KeepImage is the largest image kept in memory for the photo checks
	// (Upload.Image); 0 keeps none.
	KeepImage int64
}

// KeepImageBytes is the largest image an upload keeps in memory for the
// photo checks (48 MiB: a 48-megapixel phone photo; the checker refuses to
// decode more than 40 megapixels anyway). A larger image is stored and
// flagged as not checked.
const KeepImageBytes = 48 << 20

// maxField is the largest form field ReadUpload passes to Field.
const maxField = 4 << 10

// ReadUpload reads the parts of an evidence upload in any order: exactly one
// file part, streamed into blobs (never buffered whole), at most one
// description part, and the form fields Field takes. A disallowed type, an
// empty file or one over the limit is refused by failing the stream, so the
// store keeps nothing of it.
func ReadUpload(ctx context.Context, mr *multipart.Reader, blobs workflow.Blobs, o UploadOptions) (Upload, error) {
	var (
		up                Upload
		haveFile, hasDesc bool
	)
	readErr := func(err error) error {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return o.TooLarge()
		}
		return invalid(workflow.ReasonMalformed, "", "the multipart body is malformed or truncated")
	}
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return up, readErr(err)
		}
		switch name := part.FormName(); name {
		case "file":
			if haveFile {
				return up, invalid(workflow.ReasonUnknownField, "file", "send one file per upload")
			}
			haveFile = true
			if o.BeforeFile != nil {
				if err := o.BeforeFile(); err != nil {
					return up, err
				}
			}
			up.Name = strings.TrimSpace(part.FileName())
			if up.Name == "" {
				return up, invalid(workflow.ReasonFileMissing, "file", "the file part needs a filename")
			}
			if utf8.RuneCountInString(up.Name) > workflow.MaxTitle {
				return up, invalid(workflow.ReasonTooLong, "name", "a file name of 1 to "+strconv.Itoa(workflow.MaxTitle)+" characters is required")
			}
			sr := &sniffReader{r: part, keep: o.KeepImage}
			sha, size, err := blobs.Put(ctx, sr, o.Max)
			switch {
			case sr.refused != nil:
				return up, sr.refused
			case sr.readErr != nil:
				return up, readErr(sr.readErr)
			case workflow.ErrorCode(err) == workflow.CodeTooLarge:
				return up, o.TooLarge()
			case err != nil:
				return up, err
			}
			up.SHA256, up.Size, up.Type = sha, size, sr.typ
			up.Image, up.ImageTooLarge = sr.image, sr.imageTooLarge
		case "phase":
			b, err := io.ReadAll(io.LimitReader(part, 33))
			switch {
			case err != nil:
				return up, readErr(err)
			case len(b) > 32 || !utf8.Valid(b):
				return up, invalid(workflow.ReasonUnknownValue, "phase", "phase must be before, after or document")
			}
			up.Phase = strings.TrimSpace(string(b))
		case "description":
			if hasDesc {
				return up, invalid(workflow.ReasonUnknownField, "description", "send one description per upload")
			}
			hasDesc = true
			max := int64(4 * workflow.MaxText)
			b, err := io.ReadAll(io.LimitReader(part, max+1))
			switch {
			case err != nil:
				return up, readErr(err)
			case int64(len(b)) > max || utf8.RuneCount(b) > workflow.MaxText:
				return up, invalid(workflow.ReasonTooLong, "description", "description is longer than "+strconv.Itoa(workflow.MaxText)+" characters")
			case !utf8.Valid(b):
				return up, invalid(workflow.ReasonMalformed, "description", "description must be UTF-8 text")
			}
			up.Description = string(b)
		default:
			if o.Field == nil {
				return up, invalid(workflow.ReasonUnknownField, name, fmt.Sprintf("unknown part %q; an upload has the parts file and description", name))
			}
			b, err := io.ReadAll(io.LimitReader(part, maxField+1))
			switch {
			case err != nil:
				return up, readErr(err)
			case len(b) > maxField || !utf8.Valid(b):
				return up, invalid(workflow.ReasonMalformed, name, fmt.Sprintf("part %q is too long or not UTF-8 text", name))
			}
			if err := o.Field(name, string(b)); err != nil {
				return up, err
			}
		}
		part.Close()
	}
	if !haveFile {
		return up, invalid(workflow.ReasonFileMissing, "file", "the upload has no part named file")
	}
	return up, nil
}

func invalid(r workflow.Reason, field, msg string) error {
	return workflow.RefuseField(r, field, "%s", msg)
}

// sniffReader passes a file through to the blob store, keeping its first
// SniffLen bytes. Once it has them (or the whole of a shorter file) it sniffs
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

	keep          int64  // the largest image to keep (0: none)
	image         []byte // the image so far, while it is kept
	imageTooLarge bool
}

// checkedImages are the types the photo checks decode.
var checkedImages = map[string]bool{"image/jpeg": true, "image/png": true, "image/webp": true}

// keepImage adds p, the bytes just read, to the image kept for the checks.
func (r *sniffReader) keepImage(p []byte) {
	if r.keep <= 0 || r.imageTooLarge || !checkedImages[r.typ] {
		return
	}
	if int64(len(r.image)+len(p)) > r.keep {
		r.image, r.imageTooLarge = nil, true
		return
	}
	r.image = append(r.image, p...)
}

func (r *sniffReader) Read(p []byte) (int, error) {
	if r.refused != nil {
		return 0, r.refused
	}
	n, err := r.r.Read(p)
	r.n += int64(n)
	if !r.checked {
		if room := SniffLen - len(r.head); room > 0 {
			r.head = append(r.head, p[:min(n, room)]...)
		}
		if len(r.head) >= SniffLen || err == io.EOF {
			r.checked = true
			if r.refused = r.check(); r.refused != nil {
				return 0, r.refused
			}
			// What was read before the type was known: the head, and
			// the rest of this read.
			r.keepImage(r.head)
			if int64(len(r.head)) < r.n {
				r.keepImage(p[len(r.head)-(int(r.n)-n) : n])
			}
		}
	} else {
		r.keepImage(p[:n])
	}
	if err != nil && err != io.EOF {
		r.readErr = err
	}
	return n, err
}

func (r *sniffReader) check() error {
	if r.n == 0 {
		return invalid(workflow.ReasonFileEmpty, "file", "the file is empty")
	}
	t, ok := SniffType(r.head)
	r.typ = t
	if !ok {
		return workflow.RefuseField(workflow.ReasonFileType, "file",
			"files of type %s are not accepted as evidence; send images, PDF, Office documents, plain text or video", t)
	}
	return nil
}

// ServeEvidence writes evidence file sha to w for actor a, who must see a
// problem that holds it (CodeNotFound otherwise, as for an unknown or
// malformed hash): the type sniffed at upload, its size and its hash as
// ETag, inline for images unless attachment is set. If-None-Match and, when
// the blob store's files can seek, Range requests are honoured. An error
// returned means nothing was written; a failure while streaming is logged
// to log (with attrs) and cuts the body short.
func ServeEvidence(w http.ResponseWriter, r *http.Request, svc *workflow.Service, a workflow.Actor, sha string, attachment bool, log *slog.Logger, attrs ...any) error {
	ctx := r.Context()
	notFound := workflow.Refuse(workflow.ReasonEvidenceNotFound, "evidence %s not found", sha)
	if !ValidSHA256(sha) {
		return workflow.Refuse(workflow.ReasonEvidenceNotFound, "no evidence has that name; evidence is named by its SHA-256 in 64 lowercase hex digits")
	}
	ok, err := svc.CanSeeEvidence(ctx, a, sha)
	if err != nil {
		return err
	}
	if !ok {
		return notFound
	}
	ev, err := EvidenceRecord(ctx, svc, a, sha)
	if err != nil {
		return err
	}
	if ev == nil {
		return notFound // no longer visible since CanSeeEvidence
	}
	return serveBlob(w, r, svc, ev, attachment, "private, no-cache", log, attrs...)
}

// ServePublicPhoto writes photo sha of problem id to w for anyone, if the
// bureau marked it public on a problem in notice or written off after one
// (workflow.Service.PublicPhoto); CodeNotFound otherwise.
func ServePublicPhoto(w http.ResponseWriter, r *http.Request, svc *workflow.Service, id, sha string, log *slog.Logger, attrs ...any) error {
	if !ValidSHA256(sha) {
		return workflow.Refuse(workflow.ReasonEvidenceNotFound, "no public photo has that name")
	}
	ev, err := svc.PublicPhoto(r.Context(), id, sha)
	if err != nil {
		return err
	}
	// Revalidated: the bureau may take the photo off the page.
	return serveBlob(w, r, svc, ev, false, "public, no-cache", log, attrs...)
}

// serveBlob streams the file of evidence ev (see ServeEvidence).
func serveBlob(w http.ResponseWriter, r *http.Request, svc *workflow.Service, ev *workflow.Evidence, attachment bool, cache string, log *slog.Logger, attrs ...any) error {
	ctx, sha := r.Context(), ev.SHA256
	blobs := svc.Blobs()
	if blobs == nil {
		return errors.New("files: evidence download without an evidence store (workflow.Service.SetBlobs)")
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
	if strings.HasPrefix(typ, "image/") && !attachment {
		kind = "inline"
	}
	h := w.Header()
	tag := `"` + sha + `"`
	h.Set("ETag", tag)
	h.Set("Cache-Control", cache) // revalidate: access may be lost
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Type", typ)
	h.Set("Content-Disposition", ContentDisposition(kind, ev.Name))
	if rs, ok := rc.(io.ReadSeeker); ok {
		// Conditional and range requests (a video's player seeks).
		http.ServeContent(w, r, "", time.Time{}, rs)
		return nil
	}
	if matchesETag(r.Header.Get("If-None-Match"), tag) {
		h.Del("Content-Type")
		h.Del("Content-Disposition")
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	h.Set("Content-Length", strconv.FormatInt(size, 10))
	w.WriteHeader(http.StatusOK)
	if n, err := io.Copy(w, rc); err != nil && log != nil {
		// The client sees a body shorter than Content-Length.
		log.ErrorContext(ctx, "streaming evidence", append([]any{"sha256", sha, "written", n, "size", size, "err", err}, attrs...)...)
	}
	return nil
}

// EvidenceRecord returns the evidence item of sha on the first problem a
// may see that holds it, or nil.
func EvidenceRecord(ctx context.Context, svc *workflow.Service, a workflow.Actor, sha string) (*workflow.Evidence, error) {
	items, _, err := svc.Problems(ctx, a, workflow.ProblemFilter{Evidence: sha, Limit: 1})
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

// ValidSHA256 reports whether s is a SHA-256 in 64 lowercase hex digits.
func ValidSHA256(s string) bool {
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

// ContentDisposition returns a Content-Disposition header of kind (inline or
// attachment) naming the file: an ASCII fallback in filename and the
// original name, UTF-8 and percent-encoded, in filename* (RFC 6266, RFC 5987).
func ContentDisposition(kind, name string) string {
	var ascii strings.Builder
	for _, r := range name {
		if r < 0x20 || r >= 0x7f || r == '"' || r == '\\' {
			ascii.WriteByte('_')
		} else {
			ascii.WriteRune(r)
		}
	}
	return ContentDispositionFallback(kind, name, ascii.String())
}

// ContentDispositionFallback is ContentDisposition with a given ASCII
// fallback name (printable ASCII without quotes or backslashes), for names
// whose fallback should read better than underscores.
func ContentDispositionFallback(kind, name, fallback string) string {
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

// CheckUpload runs the service's photo checks on what ReadUpload kept of
// up: nil for a file the checks do not examine (or without a checker); a
// report saying it could not be checked for an image too large to keep.
func CheckUpload(ctx context.Context, svc *workflow.Service, up Upload) (workflow.PhotoReport, error) {
	switch {
	case !svc.ChecksPhotos():
		return nil, nil
	case up.ImageTooLarge:
		return workflow.UncheckedPhoto(fmt.Sprintf("图片文件过大（%.1f MB），未作检查", float64(up.Size)/(1<<20))), nil
	case up.Image == nil:
		return nil, nil
	}
	return svc.CheckPhoto(ctx, up.Image)
}
