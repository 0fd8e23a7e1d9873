package api_test

import (
	"errors"
	"strings"
	"sync"
	"time"

	"bytes"
	"github.com/jdz-eco/rectify/workflow"
	"net/http"
	"net/http/httptest"
	"testing"
)

const newProblemBody = `{"title":"河道非法采砂","description":"昌江浮梁段","source":"self_inspection","county_id":"fuliang"}`

// problemCount is how many problems the bureau sees.
func (v *env) problemCount() int {
	v.t.Helper()
	return len(v.ok(v.do("GET", "/api/v1/problems?limit=500", "bureau", nil), http.StatusOK)["items"].([]any))
}

// TestIdempotencyKeyRetriedCreate reproduces issue 12 item 7: three
// identical retried POST /problems with one Idempotency-Key created three
// problems. The retries get the first answer again, and one problem exists.
func TestIdempotencyKeyRetriedCreate(t *testing.T) {
	v := newEnv(t)
	var first *httptest.ResponseRecorder
	for i := range 3 {
		rec := v.do("POST", "/api/v1/problems", "bureau", newProblemBody, "Idempotency-Key", `"8e03978e-40d5-43e8-bc93-6894a57f9324"`)
		if rec.Code != http.StatusCreated {
			t.Fatalf("try %d: %d %s", i+1, rec.Code, rec.Body)
		}
		if i == 0 {
			first = rec
			continue
		}
		if !bytes.Equal(rec.Body.Bytes(), first.Body.Bytes()) {
			t.Fatalf("try %d answered another body:\n%s\nfirst:\n%s", i+1, rec.Body, first.Body)
		}
		for _, h := range []string{"Location", "ETag", "Content-Type"} {
			if rec.Header().Get(h) != first.Header().Get(h) || rec.Header().Get(h) == "" {
				t.Fatalf("try %d: %s %q, first %q", i+1, h, rec.Header().Get(h), first.Header().Get(h))
			}
		}
		if rec.Header().Get("Idempotent-Replayed") != "true" {
			t.Fatalf("try %d: a replay without Idempotent-Replayed", i+1)
		}
	}
	if n := v.problemCount(); n != 1 {
		t.Fatalf("three tries with one key created %d problems", n)
	}
}

// TestIdempotencyKeyRules: another request under a kept key is 422; keys
// belong to their user; a malformed key is 400; a fault releases the key;
// a key is kept a day, then forgotten.
func TestIdempotencyKeyRules(t *testing.T) {
	v := newEnv(t)
	key := []string{"Idempotency-Key", "k-rules"}
	v.ok(v.do("POST", "/api/v1/problems", "bureau", newProblemBody, key...), http.StatusCreated)
	other := strings.Replace(newProblemBody, "河道非法采砂", "另一个问题", 1)
	p := v.fails(v.do("POST", "/api/v1/problems", "bureau", other, key...), http.StatusUnprocessableEntity, "idempotency_key_reused")
	if p.Field != "Idempotency-Key" {
		t.Errorf("422 names field %q", p.Field)
	}
	v.fails(v.do("POST", "/api/v1/problems/1/transitions", "bureau", `{"trigger":"dismiss","reason":"r"}`, key...), http.StatusUnprocessableEntity, "idempotency_key_reused")
	// The same key of another user is another key.
	sys := workflow.Actor{ID: "system", Role: workflow.RoleSystem}
	_, tok, err := v.svc.CreateUser(t.Context(), sys, workflow.NewUser{Name: "局办二", Role: workflow.RoleBureau, UnitID: "city-eeb"})
	if err != nil {
		t.Fatal(err)
	}
	v.tokens["bureau2"] = tok
	v.ok(v.do("POST", "/api/v1/problems", "bureau2", other, key...), http.StatusCreated)
	if n := v.problemCount(); n != 2 {
		t.Fatalf("%d problems, want 2", n)
	}

	for name, h := range map[string][]string{
		"empty":        {"Idempotency-Key", `""`},
		"too long":     {"Idempotency-Key", strings.Repeat("k", 256)},
		"not ASCII":    {"Idempotency-Key", `"密钥"`},
		"unterminated": {"Idempotency-Key", `"abc`},
		"bad escape":   {"Idempotency-Key", `"a\b"`},
		"two strings":  {"Idempotency-Key", `"a", "b"`},
		"inner space":  {"Idempotency-Key", `a b`},
	} {
		t.Run(name, func(t *testing.T) {
			v.t = t
			p := v.fails(v.do("POST", "/api/v1/problems", "bureau", newProblemBody, h...), http.StatusBadRequest, "invalid")
			if p.Field != "Idempotency-Key" {
				t.Errorf("field %q", p.Field)
			}
		})
	}
	v.t = t
	// Parameters after the string are ignored; escapes are the key's.
	v.ok(v.do("POST", "/api/v1/problems", "bureau", other, "Idempotency-Key", `"k\\q" ;x=1`), http.StatusCreated)
	rec := v.do("POST", "/api/v1/problems", "bureau", other, "Idempotency-Key", `k\q`) // the same key, bare
	if rec.Code != http.StatusCreated || rec.Header().Get("Idempotent-Replayed") != "true" {
		t.Fatalf("the bare form of a key: %d %s", rec.Code, rec.Body)
	}
	if n := v.problemCount(); n != 3 {
		t.Fatalf("%d problems, want 3", n)
	}

	// A fault is not kept: the retry runs again.
	v.store.beforeCreate = func() error { return errors.New("disk on fire") }
	v.fails(v.do("POST", "/api/v1/problems", "bureau", newProblemBody, "Idempotency-Key", "k-fault"), http.StatusInternalServerError, "internal")
	v.store.beforeCreate = nil
	rec = v.do("POST", "/api/v1/problems", "bureau", newProblemBody, "Idempotency-Key", "k-fault")
	v.ok(rec, http.StatusCreated)
	if rec.Header().Get("Idempotent-Replayed") != "" {
		t.Fatal("the retry after a fault was a replay")
	}
	if n := v.problemCount(); n != 4 {
		t.Fatalf("%d problems, want 4", n)
	}

	// A day later the key is forgotten: the other body is a new request.
	v.clock.Advance(workflow.KeyLife + time.Second)
	v.ok(v.do("POST", "/api/v1/problems", "bureau", other, key...), http.StatusCreated)
	if n := v.problemCount(); n != 5 {
		t.Fatalf("%d problems, want 5", n)
	}
}

// TestIdempotencyKeyInFlight: a retry while the first request is being
// processed is 409; the first completes, and only once.
func TestIdempotencyKeyInFlight(t *testing.T) {
	v := newEnv(t)
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	v.store.beforeCreate = func() error {
		once.Do(func() { close(entered); <-release })
		return nil
	}
	var first *httptest.ResponseRecorder
	var wg sync.WaitGroup
	wg.Go(func() {
		req := httptest.NewRequest("POST", "/api/v1/problems", strings.NewReader(newProblemBody))
		req.Header.Set("Authorization", "Bearer "+v.tokens["bureau"])
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", "k-flight")
		first = httptest.NewRecorder()
		v.e.ServeHTTP(first, req)
		checkContract(t, req, first)
	})
	<-entered
	for range 3 {
		v.fails(v.do("POST", "/api/v1/problems", "bureau", newProblemBody, "Idempotency-Key", "k-flight"), http.StatusConflict, "idempotency_key_in_flight")
	}
	close(release)
	wg.Wait()
	if first.Code != http.StatusCreated {
		t.Fatalf("the first request: %d %s", first.Code, first.Body)
	}
	rec := v.do("POST", "/api/v1/problems", "bureau", newProblemBody, "Idempotency-Key", "k-flight")
	if rec.Code != http.StatusCreated || !bytes.Equal(rec.Body.Bytes(), first.Body.Bytes()) {
		t.Fatalf("after the first: %d %s", rec.Code, rec.Body)
	}
	if n := v.problemCount(); n != 1 {
		t.Fatalf("%d problems, want 1", n)
	}

	// Many at once: one effect, the rest replays or 409.
	v.store.beforeCreate = nil
	var mu sync.Mutex
	codes := map[int]int{}
	for range 20 {
		wg.Go(func() {
			req := httptest.NewRequest("POST", "/api/v1/problems", strings.NewReader(newProblemBody))
			req.Header.Set("Authorization", "Bearer "+v.tokens["bureau"])
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Idempotency-Key", "k-burst")
			w := httptest.NewRecorder()
			v.e.ServeHTTP(w, req)
			checkContract(t, req, w)
			mu.Lock()
			codes[w.Code]++
			mu.Unlock()
		})
	}
	wg.Wait()
	if codes[http.StatusCreated]+codes[http.StatusConflict] != 20 || codes[http.StatusCreated] == 0 {
		t.Fatalf("answers %v, want 201 and 409 only", codes)
	}
	if n := v.problemCount(); n != 2 {
		t.Fatalf("%d problems after a burst of one key, want 2", n)
	}
}

// TestIdempotencyKeyAfterCrash: the server applied the command but did not
// keep its answer (it died, or its store refused the write): the retry is
// answered from the recorded effect, and the command is not applied again.
func TestIdempotencyKeyAfterCrash(t *testing.T) {
	v := newEnv(t)
	id := v.assigned()
	lost := true
	v.store.keyHook = func(cur *workflow.KeyRecord) error {
		if lost && cur != nil && cur.Effect != nil && cur.Answer == nil {
			lost = false
			return errors.New("the server died before keeping the answer")
		}
		return nil
	}
	path := "/api/v1/problems/" + id + "/transitions"
	body := `{"trigger":"accept","plan":"拆除采砂设备"}`
	first := v.do("POST", path, "fuliang", body, "Idempotency-Key", "k-crash")
	v.ok(first, http.StatusOK)
	if lost {
		t.Fatal("the answer was kept: the test did not lose it")
	}
	for range 2 {
		rec := v.do("POST", path, "fuliang", body, "Idempotency-Key", "k-crash")
		v.ok(rec, http.StatusOK)
		if rec.Header().Get("ETag") != first.Header().Get("ETag") || !bytes.Equal(rec.Body.Bytes(), first.Body.Bytes()) {
			t.Fatalf("retry answered %s %s\nfirst %s %s", rec.Header().Get("ETag"), rec.Body, first.Header().Get("ETag"), first.Body)
		}
	}
	h := v.ok(v.do("GET", "/api/v1/problems/"+id+"/history", "bureau", nil), http.StatusOK)
	accepts := 0
	for _, e := range h["items"].([]any) {
		if e.(map[string]any)["action"] == "accept" {
			accepts++
		}
	}
	if accepts != 1 {
		t.Fatalf("%d accept entries, want 1", accepts)
	}

	// The same for a create, answered 201 with its Location.
	lost = true
	first = v.do("POST", "/api/v1/problems", "bureau", newProblemBody, "Idempotency-Key", "k-crash-create")
	v.ok(first, http.StatusCreated)
	rec := v.do("POST", "/api/v1/problems", "bureau", newProblemBody, "Idempotency-Key", "k-crash-create")
	v.ok(rec, http.StatusCreated)
	if rec.Header().Get("Location") != first.Header().Get("Location") || !bytes.Equal(rec.Body.Bytes(), first.Body.Bytes()) {
		t.Fatalf("create retry: %s %s", rec.Header().Get("Location"), rec.Body)
	}
	if n := v.problemCount(); n != 2 {
		t.Fatalf("%d problems, want 2", n)
	}
}

// TestIdempotencyKeyCommands: transitions, notes, evidence (whose retry may
// choose another multipart boundary), extensions and refusals are kept.
func TestIdempotencyKeyCommands(t *testing.T) {
	v := newEnv(t)
	id := v.assigned()
	tr := "/api/v1/problems/" + id + "/transitions"
	k := func(s string) []string { return []string{"Idempotency-Key", s} }
	// A refusal is an answer too: kept even once the problem moves on.
	refused := v.do("POST", tr, "fuliang", `{"trigger":"submit","summary":"s"}`, k("k-refused")...)
	refusedBody := bytes.Clone(refused.Body.Bytes())
	v.fails(refused, http.StatusConflict, "conflict")
	v.ok(v.do("POST", tr, "fuliang", `{"trigger":"accept","plan":"p"}`, k("k-accept")...), http.StatusOK)
	again := v.do("POST", tr, "fuliang", `{"trigger":"submit","summary":"s"}`, k("k-refused")...)
	if again.Code != http.StatusConflict || !bytes.Equal(again.Body.Bytes(), refusedBody) {
		t.Fatalf("the refusal's retry: %d %s\nfirst: %s", again.Code, again.Body, refusedBody)
	}
	before := v.snapshot(id)
	v.ok(v.do("POST", tr, "fuliang", `{"trigger":"accept","plan":"p"}`, k("k-accept")...), http.StatusOK)
	notes := "/api/v1/problems/" + id + "/notes"
	n1 := v.do("POST", notes, "fuliang", `{"text":"设备已拆除"}`, k("k-note")...)
	v.ok(n1, http.StatusOK)
	n2 := v.do("POST", notes, "fuliang", `{"text":"设备已拆除"}`, k("k-note")...)
	if !bytes.Equal(n1.Body.Bytes(), n2.Body.Bytes()) {
		t.Fatal("the note's retry answered another body")
	}
	if got := v.snapshot(id); got.version != before.version+1 {
		t.Fatalf("version %v after a retried accept and a retried note from %v", got.version, before.version)
	}
	img := v.png()
	up := func() *httptest.ResponseRecorder {
		// multipartBody picks a new random boundary each time.
		return v.upload(id, "fuliang", "现场.png", img, "整改后", k("k-upload")...)
	}
	u1, u2 := up(), up()
	v.ok(u1, http.StatusCreated)
	if u2.Code != http.StatusCreated || u2.Header().Get("Location") != u1.Header().Get("Location") || u2.Header().Get("Idempotent-Replayed") != "true" {
		t.Fatalf("the upload's retry: %d %s", u2.Code, u2.Body)
	}
	if ev := v.ok(v.do("GET", "/api/v1/problems/"+id, "bureau", nil), http.StatusOK)["evidence"].([]any); len(ev) != 1 {
		t.Fatalf("%d evidence items after a retried upload", len(ev))
	}
	// Minimal answers replay minimal.
	m1 := v.do("POST", notes, "fuliang", `{"text":"围挡已设置"}`, append(k("k-min"), "Prefer", "return=minimal")...)
	m2 := v.do("POST", notes, "fuliang", `{"text":"围挡已设置"}`, append(k("k-min"), "Prefer", "return=minimal")...)
	if m1.Code != http.StatusNoContent || m2.Code != http.StatusNoContent || m2.Header().Get("ETag") != m1.Header().Get("ETag") || m2.Body.Len() != 0 {
		t.Fatalf("minimal: %d %q, retry %d %q %q", m1.Code, m1.Header().Get("ETag"), m2.Code, m2.Header().Get("ETag"), m2.Body)
	}
}

// TestIdempotencyKeyOnEveryPost: every POST route of the API takes the
// header (a second request with the key and another body is 422).
func TestIdempotencyKeyOnEveryPost(t *testing.T) {
	v := newEnv(t)
	posts := 0
	for _, r := range v.e.Routes() {
		if r.Method != http.MethodPost || !strings.HasPrefix(r.Path, "/api/v1/") {
			continue
		}
		posts++
		path := strings.NewReplacer(":id", "1", ":ext_id", "1").Replace(r.Path)
		key := []string{"Idempotency-Key", "every-" + r.Path}
		v.do("POST", path, "viewer", `{"a":1}`, key...)
		v.fails(v.do("POST", path, "viewer", `{"a":2}`, key...), http.StatusUnprocessableEntity, "idempotency_key_reused")
	}
	if posts < 8 {
		t.Fatalf("only %d POST routes", posts)
	}
}
