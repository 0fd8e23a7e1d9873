package api

import (
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
	v1.POST("/users", s.createUser, auth)
	v1.GET("/workflow", s.workflowDoc, auth)
	v1.POST("/problems", s.createProblem, auth)
	v1.GET("/problems", s.listProblems, auth)
	v1.GET("/problems/:id", s.getProblem, auth)
	v1.POST("/problems/:id/transitions", s.fireTransition, auth)
	v1.POST("/problems/:id/notes", s.addNote, auth)
	v1.GET("/problems/:id/history", s.history, auth)
}
