package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/jdz-eco/rectify/workflow"
)

// Error codes the API adds to the domain's for conditions only HTTP knows.
const (
	CodeMethodNotAllowed workflow.Code = "method_not_allowed" // 405
)

// CodeUnavailable (503, with Retry-After) answers a request the store
// cannot serve for now, and /readyz when a readiness check fails; it is
// the domain's code, kept here under its earlier name.
const CodeUnavailable = workflow.CodeUnavailable

// RetryAfterSeconds is the Retry-After of a 503 answer: about how long a
// replica's readiness is cached, so that a retry finds it probed again.
const RetryAfterSeconds = 1

// CodeTooLarge (413) refuses a body over Config.BodyLimit or an evidence file
// over Config.EvidenceMaxBytes; it is the domain's code, kept here under its
// earlier name.
const CodeTooLarge = workflow.CodeTooLarge

// statusOf is the one table from error code to HTTP status. One answer
// lies outside it: a ledger import (POST /ledger/import) whose file's rows
// are refused is 422 with code invalid and the row errors (refuseImport),
// since the request itself was well-formed; everything else it refuses goes
// through this table.
var statusOf = map[workflow.Code]int{
	workflow.CodeInvalid:            http.StatusBadRequest,
	workflow.CodeUnauthorized:       http.StatusUnauthorized,
	workflow.CodeForbidden:          http.StatusForbidden,
	workflow.CodeNotFound:           http.StatusNotFound,
	CodeMethodNotAllowed:            http.StatusMethodNotAllowed,
	workflow.CodeConflict:           http.StatusConflict,
	workflow.CodePreconditionFailed: http.StatusPreconditionFailed,
	workflow.CodeTooLarge:           http.StatusRequestEntityTooLarge,
	workflow.CodeUnsupportedType:    http.StatusUnsupportedMediaType,
	workflow.CodeKeyReused:          http.StatusUnprocessableEntity,
	workflow.CodeKeyInFlight:        http.StatusConflict,
	workflow.CodeInternal:           http.StatusInternalServerError,
	CodeUnavailable:                 http.StatusServiceUnavailable,
	workflow.CodeRateLimited:        http.StatusTooManyRequests,
}

// mimeProblem is the media type of RFC 9457 problem details.
const mimeProblem = "application/problem+json"

// problemDetail is an RFC 9457 problem body with rectify's extension members.
type problemDetail struct {
	Type              string             `json:"type"`
	Title             string             `json:"title"`
	Status            int                `json:"status"`
	Detail            string             `json:"detail"`
	Code              workflow.Code      `json:"code"`
	Reason            workflow.Reason    `json:"reason,omitempty"`
	Instance          string             `json:"instance,omitempty"`
	Field             string             `json:"field,omitempty"`
	State             workflow.State     `json:"state,omitempty"`
	PermittedTriggers []workflow.Trigger `json:"permitted_triggers,omitzero"`
	// Checks, on a 503 from /readyz: every readiness check, "ok" or why it
	// failed.
	Checks map[string]string `json:"checks,omitempty"`
	// Flags lists the evidence flags a verify left unacknowledged.
	Flags []workflow.FlagRef `json:"flags,omitempty"`
}

// apiError builds a domain error for conditions found in api/ itself.
func apiError(code workflow.Code, field, msg string) *workflow.Error {
	return &workflow.Error{Code: code, Field: field, Message: msg}
}

// classify turns any handler error into a domain error; anything unknown is
// internal, and its message is never shown.
func classify(err error) *workflow.Error {
	var we *workflow.Error
	if errors.As(err, &we) {
		if _, ok := statusOf[we.Code]; ok {
			return we
		}
		return apiError(workflow.CodeInternal, "", "internal error")
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return tooLarge(mbe.Limit)
	}
	var he *echo.HTTPError
	if errors.As(err, &he) {
		switch he.Code {
		case http.StatusNotFound:
			return apiError(workflow.CodeNotFound, "", "no such route")
		case http.StatusMethodNotAllowed:
			return apiError(CodeMethodNotAllowed, "", "method not allowed on this route")
		case http.StatusRequestEntityTooLarge:
			return workflow.Refuse(workflow.ReasonBodyTooLarge, "request body too large")
		}
		for code, status := range statusOf {
			if status == he.Code && status < 500 {
				return apiError(code, "", http.StatusText(status))
			}
		}
	}
	return apiError(workflow.CodeInternal, "", "internal error")
}

// handleError is the echo HTTPErrorHandler: every error becomes an RFC 9457
// application/problem+json response. Internal errors are logged by the
// request logger (observe), never shown.
func (s *server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	if s.web != nil && s.web.HandleError(err, c) {
		return
	}
	we := classify(err)
	status := statusOf[we.Code]
	msg := we.Message
	if we.Code == workflow.CodeInternal {
		msg = "internal error"
	}
	body := problemDetail{
		Type:     "urn:rectify:error:" + string(we.Code),
		Title:    http.StatusText(status),
		Status:   status,
		Detail:   msg,
		Code:     we.Code,
		Reason:   we.Reason,
		Instance: c.Request().URL.Path,
		Field:    we.Field,
		State:    we.State,
		Flags:    we.Flags,
	}
	if we.Code == workflow.CodeConflict && we.State != "" {
		body.PermittedTriggers = we.Permitted
		if body.PermittedTriggers == nil {
			body.PermittedTriggers = []workflow.Trigger{}
		}
	}
	h := c.Response().Header()
	if status == http.StatusServiceUnavailable {
		h.Set("Retry-After", strconv.Itoa(RetryAfterSeconds))
	}
	if status == http.StatusUnauthorized {
		challenge := `Bearer realm="rectify"`
		if c.Request().Header.Get(echo.HeaderAuthorization) != "" {
			challenge += `, error="invalid_token"` // RFC 6750 section 3.1
		}
		h.Set(echo.HeaderWWWAuthenticate, challenge)
	}
	s.metrics.refusal(string(we.Code))
	h.Set(echo.HeaderContentType, mimeProblem)
	h.Set("X-Content-Type-Options", "nosniff")
	c.Response().WriteHeader(status)
	if c.Request().Method == http.MethodHead {
		return
	}
	if err := json.NewEncoder(c.Response()).Encode(body); err != nil {
		s.log.Debug("writing problem response", "err", err)
	}
}

func tooLarge(limit int64) *workflow.Error {
	return workflow.Refuse(workflow.ReasonBodyTooLarge, "request body is larger than %s", formatBytes(limit))
}

func formatBytes(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return strconv.FormatInt(n>>20, 10) + " MiB"
	case n >= 1<<10 && n%(1<<10) == 0:
		return strconv.FormatInt(n>>10, 10) + " KiB"
	}
	return strconv.FormatInt(n, 10) + " bytes"
}
