// Package api is rectify's HTTP interface: an echo v4 server whose handlers
// translate between HTTP and the workflow package and never touch a store.
// Errors are RFC 9457 application/problem+json bodies whose code comes from
// one table (errors.go); every route is described by the embedded OpenAPI
// document served at /api/v1/openapi.json.
package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/jdz-eco/rectify/api/ratelimit"
	"github.com/jdz-eco/rectify/workflow"
	"github.com/jdz-eco/rectify/workflow/ledgerfile"
)

// DefaultBodyLimit is the largest request body accepted when Config.BodyLimit
// is not set.
const DefaultBodyLimit int64 = 1 << 20

// DefaultEvidenceMaxBytes is the largest evidence file accepted when
// Config.EvidenceMaxBytes is not set.
const DefaultEvidenceMaxBytes int64 = 32 << 20

// Config configures the HTTP server.
type Config struct {
	// Service runs the workflow; required.
	Service *workflow.Service
	// Logger receives one line per request; nil discards.
	Logger *slog.Logger
	// Metrics records request, transition and refusal metrics; nil records nothing.
	Metrics *Metrics
	// Gatherer is what /metrics exposes; nil means prometheus.DefaultGatherer.
	Gatherer prometheus.Gatherer
	// BodyLimit is the largest request body in bytes; 0 means DefaultBodyLimit.
	// A larger body is refused with 413 and code too_large.
	BodyLimit int64
	// EvidenceMaxBytes is the largest evidence file in bytes; 0 means
	// DefaultEvidenceMaxBytes. It, not BodyLimit, limits evidence uploads
	// (the multipart body may exceed it by a small allowance for the part
	// headers and the description). A larger file is refused with 413 and
	// code too_large. Evidence needs Service.SetBlobs.
	EvidenceMaxBytes int64
	// Ready reports whether the server may take traffic (/readyz); nil means
	// always ready. It is the readiness check named "store".
	Ready func(context.Context) error
	// Checks are more named readiness checks /readyz runs after Ready.
	Checks []Check
	// Panics records the panics recovered from requests; its check
	// ("panics", run last) keeps /readyz at 503 once one was recorded,
	// until the process restarts. nil: the server keeps its own.
	Panics *Panics
	// UnitAliases resolves the unit names a ledger import (POST
	// /ledger/import) may use besides the units' ids and exact names, e.g.
	// seeds.ResolveUnit (市工信局 → city-industry); it returns a unit id, used
	// only if that unit exists. nil: ids and exact names only.
	UnitAliases func(string) (string, bool)
	// Imports runs ledger imports as jobs; nil: New starts its own (on
	// Service, logging to Logger). The web pages share it to show their
	// progress.
	Imports *ledgerfile.Jobs
	// Web, if set, serves the web pages (package api/web) beside the API.
	Web Web
	// TrustedProxies are the reverse proxies in front of the server. The
	// client's address (the request log, the sign-in throttle) is the
	// connection's peer, unless the peer is one of these: then it is the
	// nearest address in X-Forwarded-For that is not one of these. Empty:
	// X-Forwarded-For is never read.
	TrustedProxies []*net.IPNet
	// Objections limits public objections per client address (see
	// NewObjectionLimiter; share it with the pages). nil: a limiter of
	// DefaultObjectionsPerHour of its own.
	Objections *ratelimit.Limiter
}

// Web is a set of routes api.New serves beside the API: the web pages
// (package api/web). Its routes share the API's request ids, request log,
// metrics and panic recovery.
type Web interface {
	// Register adds the routes to e.
	Register(e *echo.Echo)
	// BodyLimit returns the largest request body of one of its routes (an
	// echo route path) when it is not Config.BodyLimit.
	BodyLimit(route string) (limit int64, ok bool)
	// HandleError answers err for a request that is not the API's (its
	// routes, or an unknown path outside /api/) and reports true; false
	// leaves the answer to the API (application/problem+json).
	HandleError(err error, c echo.Context) bool
}

// server holds what the handlers need.
type server struct {
	svc     *workflow.Service
	log     *slog.Logger
	metrics *Metrics
	gather  prometheus.Gatherer
	limit   int64
	// evidenceMax limits one evidence file; the multipart body of an upload
	// may be up to evidenceBodyLimit.
	evidenceMax int64
	// checks are the readiness checks of /readyz, in order.
	checks []Check
	panics *Panics
	// aliases resolves other unit names in ledger imports (Config.UnitAliases).
	aliases func(string) (string, bool)
	// web serves the web pages (Config.Web), or nil.
	web Web
	// routeSet holds every registered route as "METHOD path" (noRoute).
	routeSet map[string]bool
	// imports runs ledger imports (Config.Imports).
	imports *ledgerfile.Jobs
	// objections limits public objections per client address.
	objections *ratelimit.Limiter
}

// New returns the echo instance serving rectify's API with every route
// registered. It panics if cfg.Service is nil.
func New(cfg Config) *echo.Echo {
	if cfg.Service == nil {
		panic("api: Config.Service is nil")
	}
	s := &server{
		svc:         cfg.Service,
		log:         cfg.Logger,
		metrics:     cfg.Metrics,
		gather:      cfg.Gatherer,
		limit:       cfg.BodyLimit,
		evidenceMax: cfg.EvidenceMaxBytes,
		panics:      cfg.Panics,
		aliases:     cfg.UnitAliases,
		web:         cfg.Web,
		objections:  cfg.Objections,
		imports:     cfg.Imports,
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.imports == nil {
		s.imports = ledgerfile.NewJobs(s.svc, s.log)
	}
	if s.objections == nil {
		s.objections = NewObjectionLimiter(cfg.Service, DefaultObjectionsPerHour)
	}
	if s.gather == nil {
		s.gather = prometheus.DefaultGatherer
	}
	if s.limit <= 0 {
		s.limit = DefaultBodyLimit
	}
	if s.evidenceMax <= 0 {
		s.evidenceMax = DefaultEvidenceMaxBytes
	}
	if s.panics == nil {
		s.panics = &Panics{}
	}
	if cfg.Ready != nil {
		s.checks = append(s.checks, Check{Name: "store", Check: cfg.Ready})
	}
	s.checks = append(s.checks, cfg.Checks...)
	s.checks = append(s.checks, Check{Name: "panics", Check: s.panics.Check})
	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.IPExtractor = clientIP(cfg.TrustedProxies)
	e.HTTPErrorHandler = s.handleError
	e.JSONSerializer = jsonSerializer{}
	e.Use(s.requestID, s.observe, s.recover, s.limitBody)
	s.routes(e)
	if s.web != nil {
		s.web.Register(e)
	}
	s.routeSet = registered(e)
	return e
}

// clientIP returns how the client's address is found: the connection's
// peer, or, from a trusted proxy, the nearest untrusted address in
// X-Forwarded-For. echo's defaults (its RealIP trusts X-Forwarded-For from
// anyone; its extractor trusts every loopback, link-local and private
// address) are switched off: only the configured ranges are trusted.
func clientIP(trusted []*net.IPNet) echo.IPExtractor {
	if len(trusted) == 0 {
		return echo.ExtractIPDirect()
	}
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, n := range trusted {
		opts = append(opts, echo.TrustIPRange(n))
	}
	return echo.ExtractIPFromXFFHeader(opts...)
}

// ParseTrustedProxies reads a comma-separated list of CIDR ranges or single
// addresses (Config.TrustedProxies).
func ParseTrustedProxies(list string) ([]*net.IPNet, error) {
	var out []*net.IPNet
	for f := range strings.SplitSeq(list, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if !strings.Contains(f, "/") {
			ip := net.ParseIP(f)
			if ip == nil {
				return nil, fmt.Errorf("%q is neither an address nor a CIDR range", f)
			}
			bits := 128
			if ip4 := ip.To4(); ip4 != nil {
				ip, bits = ip4, 32
			}
			out = append(out, &net.IPNet{IP: ip, Mask: net.CIDRMask(bits, bits)})
			continue
		}
		_, n, err := net.ParseCIDR(f)
		if err != nil {
			return nil, fmt.Errorf("%q is neither an address nor a CIDR range", f)
		}
		out = append(out, n)
	}
	return out, nil
}

// Context keys.
const (
	keyRequestID = "rectify.request_id"
	keyUser      = "rectify.user"
)

// requestID takes a well-formed X-Request-ID from the client or makes one,
// and echoes it in the response.
func (s *server) requestID(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		id := c.Request().Header.Get(echo.HeaderXRequestID)
		if !validRequestID(id) {
			b := make([]byte, 12)
			_, _ = rand.Read(b)
			id = hex.EncodeToString(b)
		}
		c.Set(keyRequestID, id)
		c.Response().Header().Set(echo.HeaderXRequestID, id)
		return next(c)
	}
}

// validRequestID accepts short IDs of safe characters, so that a client's ID
// cannot forge log lines.
func validRequestID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, r := range id {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_.:", r)
		if !ok {
			return false
		}
	}
	return true
}

// observe writes the response for a handler error, then logs the request
// and records its metrics. It is the only place that logs the real error of
// a 500.
func (s *server) observe(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		req := c.Request()
		gone := err != nil && clientGone(req, err)
		if err != nil && !gone {
			c.Error(err)
		}
		d := time.Since(start)
		status := c.Response().Status
		if gone {
			// Nobody is left to answer: no 500, no refusal counted.
			status = StatusClientClosedRequest
		}
		route := c.Path()
		if route == "" || err == echo.ErrNotFound {
			route = "unmatched" // keep raw URLs out of labels
		}
		s.metrics.observeRequest(req.Method, route, status, d)
		attrs := []slog.Attr{
			slog.String("method", req.Method),
			slog.String("route", route),
			slog.String("path", req.URL.Path),
			slog.Int("status", status),
			slog.Duration("latency", d),
			slog.String("request_id", requestIDOf(c)),
			slog.String("ip", c.RealIP()),
		}
		level := slog.LevelInfo
		if gone {
			attrs = append(attrs, slog.String("error", err.Error()))
		}
		if status >= 500 {
			level = slog.LevelError
			if err != nil {
				attrs = append(attrs, slog.String("error", err.Error()))
			}
		}
		s.log.LogAttrs(req.Context(), level, "request", attrs...)
		return nil
	}
}

// StatusClientClosedRequest is the status logged and counted for a
// request whose client went away before its answer (nginx's 499): the
// handler's failure is the cancellation, not a fault.
const StatusClientClosedRequest = 499

// clientGone reports whether err failed req because its client went away:
// the request's context is cancelled (net/http cancels it when the
// connection closes) and err is that cancellation.
func clientGone(req *http.Request, err error) bool {
	return errors.Is(req.Context().Err(), context.Canceled) && errors.Is(err, context.Canceled)
}

func requestIDOf(c echo.Context) string {
	id, _ := c.Get(keyRequestID).(string)
	return id
}

// recover turns a handler panic into an internal error carrying the stack,
// which observe logs with the 500, and records it in s.panics: the replica
// is not ready from then on (see Panics).
func (s *server) recover(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		defer func() {
			r := recover()
			if r == nil {
				return
			}
			if r == http.ErrAbortHandler {
				panic(r)
			}
			s.panics.Record(c.Request().Method+" "+c.Path(), r)
			err = fmt.Errorf("panic: %v\n%s", r, debug.Stack())
		}()
		return next(c)
	}
}

// limitBody refuses bodies over the limit: at once when Content-Length says
// so, otherwise when the decoder reads past it (http.MaxBytesError). An
// evidence upload has its own, larger limit (evidenceBodyLimit); its file
// part is held to Config.EvidenceMaxBytes by the handler. So has a ledger
// import (ledgerImportBodyLimit); its file is held to ledgerfile.MaxFileSize by
// the handler.
func (s *server) limitBody(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		limit := s.limit
		if c.Path() == routeEvidenceUpload {
			limit = s.evidenceBodyLimit()
			if req.ContentLength > limit {
				return s.evidenceTooLarge()
			}
		}
		if c.Path() == routeLedgerImport {
			limit = ledgerImportBodyLimit
			if req.ContentLength > limit {
				return ledgerTooLarge()
			}
		}
		if s.web != nil {
			if l, ok := s.web.BodyLimit(c.Path()); ok {
				// The web page answers a body over its limit itself.
				req.Body = http.MaxBytesReader(c.Response(), req.Body, l)
				return next(c)
			}
		}
		if req.ContentLength > limit {
			return tooLarge(limit)
		}
		req.Body = http.MaxBytesReader(c.Response(), req.Body, limit)
		return next(c)
	}
}

// authenticate requires "Authorization: Bearer <token>" and stores the user.
func (s *server) authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Request().Header.Get(echo.HeaderAuthorization)
		scheme, token, ok := strings.Cut(h, " ")
		if h == "" {
			return workflow.Refuse(workflow.ReasonNoCredentials, "missing Authorization: Bearer token")
		}
		token = strings.TrimSpace(token)
		if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
			return workflow.Refuse(workflow.ReasonBadToken, "the Authorization header must be: Bearer <token>")
		}
		u, err := s.svc.Authenticate(c.Request().Context(), token)
		if err != nil {
			return err
		}
		c.Set(keyUser, u)
		return next(c)
	}
}

// actor returns the authenticated caller.
func actor(c echo.Context) workflow.Actor {
	u, ok := c.Get(keyUser).(*workflow.User)
	if !ok {
		// Only reachable if a route forgot the auth middleware.
		panic(errors.New("api: route without authentication"))
	}
	return u.Actor()
}
