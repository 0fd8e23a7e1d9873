package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"os"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/jdz-eco/rectify/workflow"
)

// Idempotency-Key (the IETF httpapi draft): every POST of the API takes an
// optional Idempotency-Key header. The first request with a key is
// processed and its answer kept for a day (workflow.KeyLife); a retry with
// the same key and the same request gets that answer again (status, body,
// Content-Type, Location, ETag, Preference-Applied) with
// Idempotent-Replayed: true, and no second effect. The same key with
// another request (route or body) is 422 idempotency_key_reused; a retry
// while the first is still being processed is 409 idempotency_key_in_flight.
// Keys belong to the caller: two users' keys never meet. The rules are the
// workflow's (Service.BeginKey); this file only carries them over HTTP.
//
// Answers are kept except a fault's (5xx), after which a retry runs again,
// and one marked Cache-Control: no-store (a new user's token, which the
// server keeps only hashed), after which a retry runs again too and finds
// the user's name taken (409). A problem command (create, transition, note,
// evidence, extension request or decision) records its effect in its own
// transaction (workflow.WithClaim), so that a retry after a crash between
// the effect and the kept answer answers from the effect, rebuilt from the
// problem's history at the version the command wrote, instead of applying
// it again.

// headerIdempotencyKey is the request header of the draft.
const headerIdempotencyKey = "Idempotency-Key"

// keptHeaders are the response headers an answer keeps.
var keptHeaders = []string{echo.HeaderContentType, echo.HeaderLocation, "ETag", "Preference-Applied", "X-Content-Type-Options"}

// maxKeptAnswer bounds a kept answer's body; a larger answer is not kept
// (the key is released, as after a fault).
const maxKeptAnswer = 4 << 20

// claimRoutes are the routes whose handler runs one problem command, whose
// effect the store records under the request's claim.
var claimRoutes = map[string]bool{
	"/api/v1/problems":                                 true,
	"/api/v1/problems/:id/transitions":                 true,
	"/api/v1/problems/:id/notes":                       true,
	routeEvidenceUpload:                                true,
	"/api/v1/problems/:id/extensions":                  true,
	"/api/v1/problems/:id/extensions/:ext_id/decision": true,
}

// keptAnswer is an answer as kept in the key's record.
type keptAnswer struct {
	Status int                 `json:"status"`
	Header map[string][]string `json:"header,omitempty"`
	Body   []byte              `json:"body,omitempty"`
}

// idempotent is the middleware of every authenticated POST route.
func (s *server) idempotent(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		raw, present := req.Header[headerIdempotencyKey]
		if !present || !s.svc.KeepsKeys() {
			return next(c)
		}
		key, err := parseIdempotencyKey(raw)
		if err != nil {
			return err
		}
		body, fp, err := spoolBody(req)
		if err != nil {
			return err
		}
		defer body.Close()
		req.Body = body
		a := actor(c)
		ctx := req.Context()
		rec, err := s.svc.BeginKey(ctx, a, key, fp)
		if err != nil {
			return err
		}
		// Settling the key must not depend on the client still waiting.
		settle := context.WithoutCancel(ctx)
		switch {
		case rec.Answer != nil:
			return replay(c, rec.Answer)
		case rec.Effect != nil:
			return s.answerFromEffect(c, settle, a, key, rec.Claim, *rec.Effect)
		}
		if claimRoutes[c.Path()] {
			c.SetRequest(req.WithContext(workflow.WithClaim(ctx, rec.Claim)))
		}
		rw := &answerRecorder{ResponseWriter: c.Response().Writer}
		c.Response().Writer = rw
		err = next(c)
		if err != nil && !c.Response().Committed && claimRoutes[c.Path()] {
			// Another holder of the key (a takeover) may have applied it
			// first: then this request's refusal is not its answer.
			var applied *workflow.AppliedError
			eff, eerr := s.svc.KeyEffect(settle, a, key, rec.Claim)
			if errors.As(err, &applied) {
				eff, eerr = &applied.Effect, nil
			}
			if eerr == nil && eff != nil {
				c.Response().Writer = rw.ResponseWriter
				return s.answerFromEffect(c, settle, a, key, rec.Claim, *eff)
			}
		}
		if err != nil && !c.Response().Committed {
			c.Error(err) // answer it here, to keep it; observe logs err
		}
		c.Response().Writer = rw.ResponseWriter
		if !rw.keep(c.Response()) {
			if rerr := s.svc.ReleaseKey(settle, a, key, rec.Claim); rerr != nil {
				s.log.Warn("releasing an idempotency key", "err", rerr, "request_id", requestIDOf(c))
			}
			return err
		}
		if ferr := s.svc.FinishKey(settle, a, key, rec.Claim, rw.answer(c.Response())); ferr != nil {
			s.log.Warn("keeping the answer of an idempotency key", "err", ferr, "request_id", requestIDOf(c))
		}
		return err
	}
}

// answerFromEffect answers a request whose command was applied but whose
// answer was not kept: the problem as the command left it, with the status
// and Location the route gives, then keeps that answer.
func (s *server) answerFromEffect(c echo.Context, settle context.Context, a workflow.Actor, key, claim string, eff workflow.Effect) error {
	p, err := s.svc.ProblemAtVersion(settle, a, eff.ProblemID, eff.Version)
	if err != nil {
		return err
	}
	status, h := http.StatusOK, c.Response().Header()
	switch c.Path() {
	case "/api/v1/problems":
		status = http.StatusCreated
		h.Set(echo.HeaderLocation, "/api/v1/problems/"+p.ID)
	case routeEvidenceUpload:
		status = http.StatusCreated
		if n := len(p.Evidence); n > 0 {
			h.Set(echo.HeaderLocation, "/api/v1/evidence/"+p.Evidence[n-1].SHA256)
		}
	case "/api/v1/problems/:id/extensions":
		status = http.StatusCreated
		if n := len(p.Extensions); n > 0 {
			h.Set(echo.HeaderLocation, "/api/v1/problems/"+p.ID+"/extensions/"+p.Extensions[n-1].ID)
		}
	}
	rw := &answerRecorder{ResponseWriter: c.Response().Writer}
	c.Response().Writer = rw
	err = s.sendProblem(c, status, a, p)
	c.Response().Writer = rw.ResponseWriter
	if err != nil {
		return err
	}
	if rw.keep(c.Response()) {
		if ferr := s.svc.FinishKey(settle, a, key, claim, rw.answer(c.Response())); ferr != nil {
			s.log.Warn("keeping the answer of an idempotency key", "err", ferr, "request_id", requestIDOf(c))
		}
	}
	return nil
}

// replay sends a kept answer again.
func replay(c echo.Context, kept []byte) error {
	var ans keptAnswer
	if err := json.Unmarshal(kept, &ans); err != nil || ans.Status < 100 {
		return errors.New("api: undecodable kept answer of an idempotency key")
	}
	h := c.Response().Header()
	for k, vs := range ans.Header {
		h[http.CanonicalHeaderKey(k)] = vs
	}
	h.Set("Idempotent-Replayed", "true")
	if len(ans.Body) == 0 {
		return c.NoContent(ans.Status)
	}
	h.Set(echo.HeaderContentLength, strconv.Itoa(len(ans.Body)))
	c.Response().WriteHeader(ans.Status)
	_, err := c.Response().Write(ans.Body)
	return err
}

// answerRecorder passes a response through and keeps a copy of its body.
type answerRecorder struct {
	http.ResponseWriter
	body bytes.Buffer
	over bool
}

func (r *answerRecorder) Write(b []byte) (int, error) {
	if !r.over {
		if r.body.Len()+len(b) > maxKeptAnswer {
			r.over = true
			r.body = bytes.Buffer{}
		} else {
			r.body.Write(b)
		}
	}
	return r.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (r *answerRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// keep reports whether the answer written through r is one to keep.
func (r *answerRecorder) keep(res *echo.Response) bool {
	return res.Committed && res.Status < 500 && !r.over &&
		!strings.Contains(res.Header().Get(echo.HeaderCacheControl), "no-store")
}

// answer encodes what was written through r as a kept answer.
func (r *answerRecorder) answer(res *echo.Response) []byte {
	ans := keptAnswer{Status: res.Status, Header: map[string][]string{}, Body: r.body.Bytes()}
	for _, k := range keptHeaders {
		if vs := res.Header().Values(k); len(vs) > 0 {
			ans.Header[k] = vs
		}
	}
	b, _ := json.Marshal(ans) // a keptAnswer always encodes
	return b
}

// parseIdempotencyKey reads the header's value: a Structured Field String
// (RFC 8941: "…", with \" and \\ escapes; parameters after it are ignored),
// as the draft defines it, or the bare key many clients send. One field
// line only; the key itself is checked by the workflow (printable ASCII, at
// most 255 characters).
func parseIdempotencyKey(lines []string) (string, error) {
	bad := apiError(workflow.CodeInvalid, headerIdempotencyKey,
		`Idempotency-Key must be one string such as "8e03978e-40d5-43e8-bc93-6894a57f9324", of 1 to 255 printable ASCII characters`)
	if len(lines) != 1 {
		return "", bad
	}
	v := strings.Trim(lines[0], " \t")
	if !strings.HasPrefix(v, `"`) {
		if err := workflow.CheckKey(v); err != nil || strings.ContainsAny(v, `",;`) || strings.Contains(v, " ") {
			return "", bad
		}
		return v, nil
	}
	var b strings.Builder
	for i := 1; i < len(v); i++ {
		switch c := v[i]; {
		case c == '\\':
			if i+1 >= len(v) || (v[i+1] != '"' && v[i+1] != '\\') {
				return "", bad
			}
			b.WriteByte(v[i+1])
			i++
		case c == '"':
			if rest := strings.TrimLeft(v[i+1:], " \t"); rest != "" && rest[0] != ';' {
				return "", bad
			}
			if err := workflow.CheckKey(b.String()); err != nil {
				return "", bad
			}
			return b.String(), nil
		case c < 0x20 || c > 0x7E:
			return "", bad
		default:
			b.WriteByte(c)
		}
	}
	return "", bad // unterminated
}

// spooledInMemory is how much of a body spoolBody keeps in memory; the
// rest goes to a temporary file.
const spooledInMemory = 1 << 20

// spooledBody is a request body read ahead, to be read again by the handler.
type spooledBody struct {
	io.ReadSeeker
	file *os.File // nil when in memory
}

func (b *spooledBody) Close() error {
	if b.file == nil {
		return nil
	}
	name := b.file.Name()
	err := b.file.Close()
	_ = os.Remove(name)
	return err
}

// spoolBody reads the request body ahead (within the route's body limit,
// which limitBody set) and returns it, rewound, with the fingerprint of the
// request: its method, path, media type and content. A multipart body's
// content is its parts (names, file names, types and data), not its bytes,
// so that a retry that chose another boundary is the same request.
func spoolBody(req *http.Request) (*spooledBody, string, error) {
	var mem bytes.Buffer
	n, err := io.CopyN(&mem, req.Body, spooledInMemory+1)
	if err != nil && err != io.EOF {
		return nil, "", readError(err)
	}
	body := &spooledBody{ReadSeeker: bytes.NewReader(mem.Bytes())}
	if n > spooledInMemory {
		f, err := os.CreateTemp("", "rectify-body-*")
		if err != nil {
			return nil, "", err
		}
		body.file = f
		if _, err := f.Write(mem.Bytes()); err != nil {
			body.Close()
			return nil, "", err
		}
		if _, err := io.Copy(f, req.Body); err != nil {
			body.Close()
			return nil, "", readError(err)
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			body.Close()
			return nil, "", err
		}
		body.ReadSeeker = f
	}
	h := sha256.New()
	mt, params, _ := mime.ParseMediaType(req.Header.Get(echo.HeaderContentType))
	for _, s := range []string{req.Method, req.URL.Path, req.URL.RawQuery, mt} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	if !(strings.HasPrefix(mt, "multipart/") && hashParts(h, body, params["boundary"]) == nil) {
		h.Write([]byte("raw\x00"))
		if _, err := body.Seek(0, io.SeekStart); err != nil {
			body.Close()
			return nil, "", err
		}
		if _, err := io.Copy(h, body); err != nil {
			body.Close()
			return nil, "", err
		}
	}
	if _, err := body.Seek(0, io.SeekStart); err != nil {
		body.Close()
		return nil, "", err
	}
	return body, hex.EncodeToString(h.Sum(nil)), nil
}

// hashParts writes a multipart body's parts to h; an error means the body
// is no well-formed multipart body (the handler will say so).
func hashParts(h io.Writer, body io.ReadSeeker, boundary string) error {
	if boundary == "" {
		return errors.New("no boundary")
	}
	if _, err := body.Seek(0, io.SeekStart); err != nil {
		return err
	}
	mr := multipart.NewReader(body, boundary)
	h.Write([]byte("parts\x00"))
	for {
		part, err := mr.NextRawPart()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		for _, s := range []string{part.FormName(), part.FileName(), part.Header.Get(echo.HeaderContentType)} {
			h.Write([]byte(s))
			h.Write([]byte{0})
		}
		sum := sha256.New()
		if _, err := io.Copy(sum, part); err != nil {
			return err
		}
		h.Write(sum.Sum(nil))
	}
}

// readError is the error of a failed body read: a body over the limit
// stays an *http.MaxBytesError (413).
func readError(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return err
	}
	return apiError(workflow.CodeInvalid, "", "cannot read the request body")
}
