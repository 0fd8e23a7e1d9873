package api_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/jdz-eco/rectify/api"
)

// TestPanicMakesNotReady: a panic inside a request is a 500 whose stack is
// logged, and from then on /readyz is 503 naming it, however many requests
// succeed meanwhile: only a restart clears it.
func TestPanicMakesNotReady(t *testing.T) {
	v := newEnv(t)
	id := v.create("问题")
	v.ok(v.do("GET", "/readyz", "", nil), 200)
	v.store.panicProblem = "assertion failed: page 12 is not a leaf"
	rec := v.do("GET", "/api/v1/problems/"+id, "bureau", nil, "X-Request-ID", "req-panic")
	if p := v.fails(rec, 500, "internal"); p.Detail != "internal error" {
		t.Errorf("the 500 shows %q", p.Detail)
	}
	logs := v.logs.String()
	if !strings.Contains(logs, "assertion failed: page 12") || !strings.Contains(logs, "goroutine") || !strings.Contains(logs, `"request_id":"req-panic"`) {
		t.Errorf("the panic and its stack are not logged: %s", logs)
	}
	v.store.panicProblem = nil
	v.ok(v.do("GET", "/api/v1/problems/"+id, "bureau", nil), 200)
	for range 2 {
		p := v.fails(v.do("GET", "/readyz", "", nil), 503, "unavailable")
		if !strings.Contains(p.Checks["panics"], "1 panic(s)") || !strings.Contains(p.Checks["panics"], "GET /api/v1/problems/:id: assertion failed") ||
			!strings.Contains(p.Checks["panics"], "restart") || p.Checks["store"] != "ok" {
			t.Errorf("readyz after a panic: %+v", p)
		}
	}
}

// TestReadinessChecks: checks given in Config run after the store's, each
// named with its reason; a shared Panics is the one /readyz reports.
func TestReadinessChecks(t *testing.T) {
	var diskFull error
	panics := &api.Panics{}
	v := newEnvWith(t, api.Config{
		Checks: []api.Check{
			{Name: "bolt_writes", Check: func(context.Context) error { return diskFull }},
			{Name: "bolt_file", Check: func(context.Context) error { return nil }},
		},
		Panics: panics,
	})
	m := v.ok(v.do("GET", "/readyz", "", nil), 200)
	if c, _ := m["checks"].(map[string]any); len(c) != 4 || c["bolt_writes"] != "ok" || c["bolt_file"] != "ok" {
		t.Errorf("readyz %v", m)
	}
	diskFull = errors.New("writes have failed since 09:00: no space left on device")
	p := v.fails(v.do("GET", "/readyz", "", nil), 503, "unavailable")
	if p.Checks["bolt_writes"] != diskFull.Error() || p.Checks["bolt_file"] != "ok" || !strings.Contains(p.Detail, "bolt_writes: writes have failed") {
		t.Errorf("readyz with the disk full: %+v", p)
	}
	diskFull = nil
	v.ok(v.do("GET", "/readyz", "", nil), 200)
	panics.Record("deadline scanner", "boom")
	p = v.fails(v.do("GET", "/readyz", "", nil), 503, "unavailable")
	if !strings.Contains(p.Checks["panics"], "in deadline scanner: boom") {
		t.Errorf("readyz after a background panic: %+v", p)
	}
}
