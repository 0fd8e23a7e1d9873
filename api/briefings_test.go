package api_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/jdz-eco/rectify/workflow"
)

func TestBriefingRoute(t *testing.T) {
	v := newEnv(t)
	id := v.assigned()
	v.create("第二个问题")
	head, err := v.svc.AuditHead(context.Background(), v.users["bureau"].Actor())
	if err != nil {
		t.Fatal(err)
	}
	b := v.ok(v.do("GET", "/api/v1/briefings?period=month", "viewer", nil), http.StatusOK)
	end := b["end"].(map[string]any)
	if b["audit_head"] != head.String() || end["total"] != 2.0 || b["period"] != "month" || b["letters_kept"] != true {
		t.Fatalf("briefing %v (head %s)", b, head)
	}
	if ch := b["changes"].(map[string]any); ch["new"] != 2.0 {
		t.Errorf("changes %v", ch)
	}
	if c := b["counties"].([]any); len(c) != 1 || c[0].(map[string]any)["label"] != "浮梁县" {
		t.Errorf("counties %v (problem %s)", c, id)
	}
	for _, c := range []struct {
		query, field string
		reason       workflow.Reason
	}{
		{"period=year", "period", workflow.ReasonUnknownValue},
		{"as_of=2021-02-30", "as_of", workflow.ReasonBadDate},
		{"as_of=2021-07-01T00:00:00Z", "as_of", workflow.ReasonBadDate},
		{"as_of=2099-01-01", "as_of", workflow.ReasonDateFuture},
	} {
		p := v.fails(v.do("GET", "/api/v1/briefings?"+c.query, "bureau", nil), http.StatusBadRequest, "invalid")
		if p.Field != c.field || p.Reason != string(c.reason) {
			t.Errorf("%s: %+v", c.query, p)
		}
	}
	v.fails(v.do("GET", "/api/v1/briefings?group_by=county", "bureau", nil), http.StatusBadRequest, "invalid")
	v.fails(v.do("GET", "/api/v1/briefings.xlsx", "fuliang", nil), http.StatusForbidden, "forbidden")
	rec := v.do("GET", "/api/v1/briefings.xlsx?period=quarter&as_of="+v.clock.Now().In(workflow.Shanghai).Format(time.DateOnly), "bureau", nil)
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" {
		t.Fatalf("xlsx: %d %v", rec.Code, rec.Header())
	}
}
