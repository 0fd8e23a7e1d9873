package api

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// routes registers every route. Health, readiness, metrics and the OpenAPI
// document need no credentials; everything else under /api/v1 needs a bearer
// token. Each route is described in openapi.json (a test checks it).
func (s *server) routes(e *echo.Echo) {
	e.GET("/healthz", s.healthz)
	e.GET("/readyz", s.readyz)
	e.GET("/metrics", echo.WrapHandler(promhttp.HandlerFor(s.gather, promhttp.HandlerOpts{})))

	// Any other path under /api is 404 problem+json, whatever credentials
	// come with it: without these the pages' catch-all (a group route with
	// the sign-in check) would answer it.
	e.RouteNotFound("/api", s.noRoute)
	e.RouteNotFound("/api/*", s.noRoute)

	v1 := e.Group("/api/v1")
	v1.GET("/openapi.json", s.openapi)

	auth := s.authenticate
	// Every POST takes an Idempotency-Key (idempotency.go).
	post := func(path string, h echo.HandlerFunc) { v1.POST(path, h, auth, s.idempotent) }
	v1.GET("/units", s.listUnits, auth)
	v1.GET("/workpoints", s.listWorkPoints, auth)
	v1.PUT("/workpoints/:number/unit-groups", s.resolveUnitGroup, auth)
	v1.GET("/users", s.listUsers, auth)
	post("/users", s.createUser)
	v1.GET("/users/:id", s.getUser, auth)
	post("/users/:id/disable", s.setDisabled(true))
	post("/users/:id/enable", s.setDisabled(false))
	v1.PUT("/users/:id/password", s.resetPassword, auth)
	v1.GET("/users/:id/tokens", s.listTokens, auth)
	post("/users/:id/tokens", s.issueToken)
	v1.DELETE("/users/:id/tokens", s.revokeTokens, auth)
	v1.DELETE("/users/:id/tokens/:token_id", s.revokeToken, auth)
	post("/users/:id/tokens/:token_id/rotate", s.rotateToken)
	v1.GET("/workflow", s.workflowDoc, auth)
	post("/problems", s.createProblem)
	v1.GET("/problems", s.listProblems, auth)
	v1.GET("/problems/:id", s.getProblem, auth)
	post("/problems/:id/transitions", s.fireTransition)
	post("/problems/:id/notes", s.addNote)
	v1.GET("/problems/:id/history", s.history, auth)
	v1.GET("/problems/:id/dossier.zip", s.getDossier, auth)
	post(strings.TrimPrefix(routeEvidenceUpload, "/api/v1"), s.addEvidence)
	v1.GET("/evidence/:sha256", s.getEvidence, auth)
	v1.PUT("/problems/:id/position", s.setPosition, auth)
	post("/problems/:id/site-checks", s.addSiteCheck)
	post("/problems/:id/lookback/confirmation", s.confirmLookback)
	post("/problems/:id/extensions", s.requestExtension)
	v1.GET("/problems/:id/extensions/:ext_id", s.getExtension, auth)
	post("/problems/:id/extensions/:ext_id/decision", s.decideExtension)
	v1.GET("/alerts", s.listAlerts, auth)
	post("/deadlines/scan", s.scan)
	v1.GET("/events", s.listEvents, auth)
	v1.GET("/calendars", s.listCalendars, auth)
	v1.PUT("/calendars/:year", s.putCalendar, auth)
	v1.GET("/audit/head", s.getAuditHead, auth)
	v1.GET("/audit/accounts", s.listAccountEvents, auth)
	v1.GET("/admin/backup", s.backup, auth)
	v1.GET("/ledger.xlsx", s.exportLedger, auth)
	post(strings.TrimPrefix(routeLedgerImport, "/api/v1"), s.importLedger)
	v1.GET("/ledger/import-jobs/:id", s.importJob, auth)
	v1.GET("/stats", s.stats, auth)
	v1.GET("/stats/reporting", s.reportingRates, auth)
	v1.GET("/briefings", s.briefing, auth)
	v1.GET("/briefings.xlsx", s.briefingXLSX, auth)
	v1.GET("/briefings.docx", s.briefingDOCX, auth)
	post("/dispatch-rounds", s.openRound)
	v1.GET("/dispatch-rounds", s.listRounds, auth)
	v1.GET("/dispatch-rounds/:rid", s.getRound, auth)
	post("/dispatch-rounds/:rid/reports", s.fileReport)
	v1.GET("/dispatch-rounds/:rid/summary.xlsx", s.roundSummary, auth)
	v1.GET("/workpoints/:number/history", s.workPointHistory, auth)
	v1.GET("/admin/contacts", s.listContacts, auth)
	v1.PUT("/units/:id/contact", s.setUnitContact, auth)
	v1.PUT("/users/:id/email", s.setUserEmail, auth)
	v1.GET("/admin/deliveries", s.listDeliveries, auth)
	// Public notices: the public routes need no credentials.
	v1.GET("/public/notices", s.listPublicNotices, s.public)
	v1.GET("/public/notices/:id/photos/:sha256", s.getPublicPhoto, s.public)
	v1.POST("/public/notices/:id/objections", s.fileObjection, s.public, s.limitObjections, middleware.BodyLimit(strconv.Itoa(objectionBodyLimit/1024)+"K"), s.idempotent)
	v1.GET("/objections", s.listObjections, auth)
	post("/problems/:id/objections/:oid/dismissal", s.dismissObjection)
	v1.PUT("/problems/:id/evidence/:sha256/public", s.setEvidencePublic, auth)
	post("/letters", s.issueLetter)
	v1.GET("/letters", s.listLetters, auth)
	v1.GET("/letters/:id", s.getLetter, auth) // also {id}.docx
	post("/letters/:id/issue", s.issueDraft)
	post("/letters/:id/discard", s.discardDraft)
	post("/letters/:id/reply", s.replyLetter)
}

// noRoute answers a path under /api that no route serves for the request's
// method: 405 with Allow when a route serves the path for other methods
// (echo gives a path-wide not-found route precedence over its 405), else 404.
func (s *server) noRoute(c echo.Context) error {
	e := c.Echo()
	path := c.Request().URL.RawPath
	if path == "" {
		path = c.Request().URL.Path
	}
	var allow []string
	for _, m := range routeMethods {
		probe := e.NewContext(nil, nil)
		e.Router().Find(m, path, probe)
		if s.routeSet[m+" "+probe.Path()] {
			allow = append(allow, m)
		}
	}
	if len(allow) == 0 {
		return echo.ErrNotFound
	}
	c.Response().Header().Set(echo.HeaderAllow, strings.Join(allow, ", "))
	return echo.ErrMethodNotAllowed
}

// routeMethods are the methods noRoute looks for.
var routeMethods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// registered returns the method and path of every route of e ("GET /api/v1/units").
func registered(e *echo.Echo) map[string]bool {
	set := map[string]bool{}
	for _, r := range e.Routes() {
		if r.Method != echo.RouteNotFound {
			set[r.Method+" "+r.Path] = true
		}
	}
	return set
}
