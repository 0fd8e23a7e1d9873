package etcd

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/jdz-eco/rectify/api"
	"github.com/jdz-eco/rectify/store/storetest"
	"github.com/jdz-eco/rectify/workflow"
)

// answer is one HTTP answer of the readiness test.
type answer struct {
	status     int
	code       string
	retryAfter string
}

func get(t *testing.T, url, token string) answer {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	var body struct {
		Code string `json:"code"`
	}
	_ = json.Unmarshal(data, &body)
	return answer{res.StatusCode, body.Code, res.Header.Get("Retry-After")}
}

// TestReadiness serves the API on a replica of the three-member cluster:
// with two members stopped (quorum lost) /readyz answers 503 unavailable
// with Retry-After, and so does an API call, never 500; /healthz stays 200;
// with the members back /readyz answers 200 again and so does the API.
func TestReadiness(t *testing.T) {
	c := three(t)
	defer func() {
		if err := c.restartAll(); err != nil {
			t.Fatal(err)
		}
	}()
	reps := newReplicas(t, c, 1, workflow.NewManualClock(storetest.T0), Config{RequestTimeout: 2 * time.Second})
	r := reps[0]
	_, token, err := r.svc.CreateUser(t.Context(), workflow.Actor{ID: "system", Role: workflow.RoleSystem},
		workflow.NewUser{Name: "局办", Role: workflow.RoleBureau, UnitID: storetest.Bureau})
	if err != nil {
		t.Fatal(err)
	}
	createAssigned(t, r, 1, 30)
	srv := httptest.NewServer(api.New(api.Config{Service: r.svc,
		Checks: []api.Check{{Name: "store", Check: r.st.Ready}}}))
	defer srv.Close()
	ready, healthy, list := srv.URL+"/readyz", srv.URL+"/healthz", srv.URL+"/api/v1/problems"
	if a := get(t, ready, ""); a.status != 200 {
		t.Fatalf("/readyz with every member up: %+v", a)
	}
	if a := get(t, list, token); a.status != 200 {
		t.Fatalf("GET /api/v1/problems with every member up: %+v", a)
	}

	// Quorum lost: two of three members stopped.
	for _, m := range c.members[:2] {
		m.stop()
	}
	lost := time.Now()
	// The answer of the last probe is kept a second: poll (a guard of 20 s
	// against hanging, not a measurement).
	var a answer
	for a = get(t, ready, ""); a.status == 200 && time.Since(lost) < 20*time.Second; a = get(t, ready, "") {
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("/readyz answered %d %s %v after the quorum was lost", a.status, a.code, time.Since(lost).Round(time.Millisecond))
	if a.status != 503 || a.code != "unavailable" || a.retryAfter == "" {
		t.Errorf("/readyz without quorum: %+v, want 503 unavailable with Retry-After", a)
	}
	if a := get(t, healthy, ""); a.status != 200 {
		t.Errorf("/healthz without quorum: %+v, want 200 (liveness)", a)
	}
	start := time.Now()
	a = get(t, list, token)
	t.Logf("GET /api/v1/problems without quorum: %d %s after %v", a.status, a.code, time.Since(start).Round(time.Millisecond))
	if a.status != 503 || a.code != "unavailable" || a.retryAfter == "" {
		t.Errorf("GET /api/v1/problems without quorum: %+v, want 503 unavailable with Retry-After", a)
	}
	if _, err := r.st.Problem(t.Context(), "1"); workflow.ErrorCode(err) != workflow.CodeUnavailable {
		t.Errorf("Problem without quorum: %v, want CodeUnavailable", err)
	}

	// The members back: ready again.
	if err := c.restartAll(); err != nil {
		t.Fatal(err)
	}
	back := time.Now()
	for a = get(t, ready, ""); a.status != 200 && time.Since(back) < 30*time.Second; a = get(t, ready, "") {
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("/readyz answered %d %v after the members were back", a.status, time.Since(back).Round(time.Millisecond))
	if a.status != 200 {
		t.Fatalf("/readyz with the members back: %+v", a)
	}
	if a := get(t, list, token); a.status != 200 {
		t.Errorf("GET /api/v1/problems with the members back: %+v", a)
	}
}
