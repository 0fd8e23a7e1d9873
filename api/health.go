package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
)

// Check is one named readiness check of /readyz: nil means it passes, an
// error says why the replica should take no traffic.
type Check struct {
	Name  string
	Check func(context.Context) error
}

// Panics records the panics the server recovered from: in a request (the
// server records those itself) or in background work that shares it. A
// panic means the process is in a state nobody planned for, a bug or a
// database that bbolt panicked on, so once one is recorded its check
// ("panics") fails until the process restarts: a restart reopens the
// database and checks it, and rectify serve refuses a damaged file. The
// zero value is ready to use.
type Panics struct {
	mu    sync.Mutex
	n     int
	first string
	at    time.Time
}

// Record notes a panic with value v recovered in where (a route, or the
// name of a background task).
func (p *Panics) Record(where string, v any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.n == 0 {
		p.first, p.at = fmt.Sprintf("in %s: %v", where, v), time.Now()
	}
	p.n++
}

// Check fails once a panic was recorded, naming the first.
func (p *Panics) Check(context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.n == 0 {
		return nil
	}
	return fmt.Errorf("%d panic(s) recovered since the start, the first at %s %s (logged with its stack); restart the server, which checks its database file as it starts",
		p.n, p.at.UTC().Format(time.RFC3339), firstLine(p.first))
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// readiness is the answer of /readyz: every check by name, "ok" or why it
// failed.
type readiness struct {
	Status string            `json:"status"`
	Checks map[string]string `json:"checks"`
}

// readyz runs every readiness check: 200 when all pass, otherwise 503
// (problem+json, code unavailable) naming each that failed and why.
func (s *server) readyz(c echo.Context) error {
	ctx := c.Request().Context()
	checks := map[string]string{}
	var failed []string
	for _, ch := range s.checks {
		if err := ch.Check(ctx); err != nil {
			checks[ch.Name] = err.Error()
			failed = append(failed, ch.Name+": "+err.Error())
			continue
		}
		checks[ch.Name] = "ok"
	}
	if len(failed) == 0 {
		return c.JSON(http.StatusOK, readiness{Status: "ready", Checks: checks})
	}
	s.log.WarnContext(ctx, "not ready", "failed", failed, "request_id", requestIDOf(c))
	s.metrics.refusal(string(CodeUnavailable))
	body, err := json.Marshal(problemDetail{
		Type:     "urn:rectify:error:" + string(CodeUnavailable),
		Title:    http.StatusText(http.StatusServiceUnavailable),
		Status:   http.StatusServiceUnavailable,
		Detail:   "not ready: " + strings.Join(failed, "; "),
		Code:     CodeUnavailable,
		Instance: c.Request().URL.Path,
		Checks:   checks,
	})
	if err != nil {
		return err
	}
	c.Response().Header().Set("Retry-After", strconv.Itoa(RetryAfterSeconds))
	return c.Blob(http.StatusServiceUnavailable, mimeProblem, body)
}
