package api_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/jdz-eco/rectify/api"
	"github.com/jdz-eco/rectify/workflow"
)

// TestReadyChecks: /readyz asks every check and answers 503 unavailable,
// with Retry-After, naming the ones that fail; the log has their errors.
func TestReadyChecks(t *testing.T) {
	var full error
	v := newEnvWith(t, api.Config{Checks: []api.Check{
		{Name: "store", Check: func(context.Context) error { return nil }},
		{Name: "disk", Check: func(context.Context) error { return full }},
	}})
	v.ok(v.do("GET", "/readyz", "", nil), 200)
	full = errors.New("no space left on device")
	rec := v.do("GET", "/readyz", "", nil)
	if ra := rec.Header().Get("Retry-After"); ra != "1" {
		t.Errorf("Retry-After %q, want 1", ra)
	}
	p := v.fails(rec, 503, "unavailable")
	if !strings.Contains(p.Detail, "disk") || strings.Contains(p.Detail, "store") {
		t.Errorf("detail %q, want the failing check (disk) only", p.Detail)
	}
	if logs := v.logs.String(); !strings.Contains(logs, "no space left on device") || !strings.Contains(logs, `disk: no space`) {
		t.Errorf("the failing check is not logged: %s", logs)
	}
}

// TestStoreUnavailable: an error the store marks unavailable (etcd without
// quorum, no answer in time) is 503 unavailable with Retry-After, not 500.
func TestStoreUnavailable(t *testing.T) {
	v := newEnv(t)
	id := v.create("浮梁县尾矿库渗漏")
	v.store.failProblem = fmt.Errorf("%w: %w", &workflow.Error{Code: workflow.CodeUnavailable, Message: "the ledger store is unavailable for now"},
		context.DeadlineExceeded)
	rec := v.do("GET", "/api/v1/problems/"+id, "bureau", nil)
	if ra := rec.Header().Get("Retry-After"); ra != "1" {
		t.Errorf("Retry-After %q, want 1", ra)
	}
	v.fails(rec, 503, "unavailable")
}

// TestClientGone: a request whose client went away before the answer is
// logged and counted as 499 (client closed request), not as a 500 error.
func TestClientGone(t *testing.T) {
	v := newEnv(t)
	id := v.create("乐平市养殖场废水")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req := httptest.NewRequest("GET", "/api/v1/problems/"+id, nil).WithContext(ctx)
	req.Header.Set("Authorization", "Bearer "+v.tokens["bureau"])
	v.e.ServeHTTP(httptest.NewRecorder(), req)
	logs := v.logs.String()
	if !strings.Contains(logs, `"status":499`) || strings.Contains(logs, `"level":"ERROR"`) {
		t.Errorf("a gone client is not logged as 499 without an error: %s", logs)
	}
	metrics := v.do("GET", "/metrics", "", nil).Body.String()
	if !strings.Contains(metrics, `rectify_http_requests_total{method="GET",route="/api/v1/problems/:id",status="499"} 1`) ||
		strings.Contains(metrics, `status="500"`) || strings.Contains(metrics, `rectify_refusals_total{code="internal"}`) {
		t.Errorf("a gone client is not counted as 499 alone:\n%s", metrics)
	}
}
