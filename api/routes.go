package api

import (
	"strings"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// routes registers every route. Health, readiness, metrics and the OpenAPI
// document need no credentials; everything else under /api/v1 needs a bearer
// token. Each route is described in openapi.json (a test checks it).
func (s *server) routes(e *echo.Echo) {
	e.GET("/healthz", s.healthz)
	e.GET("/readyz", s.readyz)
	e.GET("/metrics", echo.WrapHandler(promhttp.HandlerFor(s.gather, promhttp.HandlerOpts{})))

	v1 := e.Group("/api/v1")
	v1.GET("/openapi.json", s.openapi)

	auth := s.authenticate
	v1.GET("/units", s.listUnits, auth)
	v1.GET("/workpoints", s.listWorkPoints, auth)
	v1.PUT("/workpoints/:number/unit-groups", s.resolveUnitGroup, auth)
	v1.POST("/users", s.createUser, auth)
	v1.GET("/workflow", s.workflowDoc, auth)
	v1.POST("/problems", s.createProblem, auth)
	v1.GET("/problems", s.listProblems, auth)
	v1.GET("/problems/:id", s.getProblem, auth)
	v1.POST("/problems/:id/transitions", s.fireTransition, auth)
	v1.POST("/problems/:id/notes", s.addNote, auth)
	v1.GET("/problems/:id/history", s.history, auth)
	v1.POST(strings.TrimPrefix(routeEvidenceUpload, "/api/v1"), s.addEvidence, auth)
	v1.GET("/evidence/:sha256", s.getEvidence, auth)
	v1.POST("/problems/:id/extensions", s.requestExtension, auth)
	v1.GET("/problems/:id/extensions/:ext_id", s.getExtension, auth)
	v1.POST("/problems/:id/extensions/:ext_id/decision", s.decideExtension, auth)
	v1.GET("/alerts", s.listAlerts, auth)
	v1.POST("/deadlines/scan", s.scan, auth)
	v1.GET("/events", s.listEvents, auth)
	v1.GET("/calendars", s.listCalendars, auth)
	v1.PUT("/calendars/:year", s.putCalendar, auth)
	v1.GET("/audit/head", s.getAuditHead, auth)
	v1.GET("/admin/backup", s.backup, auth)
	v1.GET("/ledger.xlsx", s.exportLedger, auth)
	v1.POST(strings.TrimPrefix(routeLedgerImport, "/api/v1"), s.importLedger, auth)
	v1.GET("/ledger/import-jobs/:id", s.importJob, auth)
	v1.GET("/stats", s.stats, auth)
}
