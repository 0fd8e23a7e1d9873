package api_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"image"
	"image/jpeg"
	"image/png"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/jdz-eco/rectify/api"
	"github.com/jdz-eco/rectify/store/blob"
	"github.com/jdz-eco/rectify/store/bolt"
	"github.com/jdz-eco/rectify/workflow"
	"github.com/jdz-eco/rectify/workflow/ledgerfile"
)

var t0 = time.Date(2021, 6, 24, 9, 0, 0, 0, time.UTC)

// fullStore is a store with everything bolt's has: the ledger, sign-in
// and the account log.
type fullStore interface {
	workflow.Store
	workflow.Accounts
	workflow.AccountLog
	workflow.Rounds
	workflow.Reminders
	workflow.Letters
}

// faultyStore is the real bolt store with one injectable fault.
type faultyStore struct {
	fullStore
	failProblem  error
	panicProblem any
	beforeCreate func() error // called by CreateProblem before the store's; its error is CreateProblem's
	// keyHook, if set, sees the record every UpdateKey reads, before the
	// decision; its error fails the UpdateKey.
	keyHook     func(cur *workflow.KeyRecord) error
	failBatchAt int
	// beforePage, if set, runs before each page of Problems is read.
	beforePage func(f workflow.ProblemFilter)
}

func (s *faultyStore) Problems(ctx context.Context, f workflow.ProblemFilter) ([]*workflow.Problem, string, error) {
	if s.beforePage != nil {
		s.beforePage(f)
	}
	return s.fullStore.Problems(ctx, f)
}

func (s *faultyStore) Problem(ctx context.Context, id string) (*workflow.Problem, error) {
	if s.failProblem != nil {
		return nil, s.failProblem
	}
	if s.panicProblem != nil {
		panic(s.panicProblem)
	}
	return s.fullStore.Problem(ctx, id)
}

// UpdateKey and PurgeKeys pass through to the bolt store (an embedded
// interface does not promote them).
func (s *faultyStore) UpdateKey(ctx context.Context, scope, key string, decide func(cur *workflow.KeyRecord) (*workflow.KeyRecord, error)) error {
	return s.fullStore.(workflow.IdempotencyKeys).UpdateKey(ctx, scope, key, func(cur *workflow.KeyRecord) (*workflow.KeyRecord, error) {
		if s.keyHook != nil {
			if err := s.keyHook(cur); err != nil {
				return nil, err
			}
		}
		return decide(cur)
	})
}

func (s *faultyStore) PurgeKeys(ctx context.Context, now time.Time, limit int) (int, error) {
	return s.fullStore.(workflow.IdempotencyKeys).PurgeKeys(ctx, now, limit)
}

// CreateProblem runs the test's hook, if any, first.
func (s *faultyStore) CreateProblem(ctx context.Context, dedupeKey string, build func(n uint64) (*workflow.Problem, []workflow.Entry, error)) (*workflow.Problem, bool, error) {
	if s.beforeCreate != nil {
		if err := s.beforeCreate(); err != nil {
			return nil, false, err
		}
	}
	return s.fullStore.CreateProblem(ctx, dedupeKey, build)
}

// CreateProblems passes through to the bolt store, failing inside its
// transaction at item failBatchAt when that is positive.
func (s *faultyStore) CreateProblems(ctx context.Context, count int, next func(i int, n uint64) (workflow.BatchRecord, error), progress func(int)) error {
	return s.fullStore.(workflow.BatchCreator).CreateProblems(ctx, count, func(i int, n uint64) (workflow.BatchRecord, error) {
		if s.failBatchAt > 0 && i == s.failBatchAt {
			return workflow.BatchRecord{}, errors.New("injected: a write failed")
		}
		return next(i, n)
	}, progress)
}

// Backup passes through to the bolt store (an embedded interface does not
// promote it).
func (s *faultyStore) Backup(ctx context.Context, w io.Writer) (int64, error) {
	return s.fullStore.(workflow.Backuper).Backup(ctx, w)
}

// env is one server on a fresh bolt file and evidence directory, with a
// user per role.
type env struct {
	t      *testing.T
	e      *echo.Echo
	svc    *workflow.Service
	store  *faultyStore
	blobs  *blob.Store
	files  int // evidence files made by file()
	clock  *workflow.ManualClock
	reg    *prometheus.Registry
	logs   *bytes.Buffer
	tokens map[string]string
	users  map[string]*workflow.User
	ready  error
	// imports runs the server's import jobs.
	imports *ledgerfile.Jobs
}

func newEnv(t *testing.T) *env {
	t.Helper()
	return newEnvWith(t, api.Config{})
}

// newEnvWith is newEnv with cfg's limits.
func newEnvWith(t *testing.T, cfg api.Config) *env {
	t.Helper()
	reg := prometheus.NewRegistry()
	m := api.NewMetrics(reg)
	st, err := bolt.Open(t.TempDir()+"/rectify.db", bolt.Options{ObserveCommit: m.ObserveCommit, ObserveGroup: m.ObserveGroup})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	v := &env{t: t, store: &faultyStore{fullStore: st}, clock: workflow.NewManualClock(t0), reg: reg,
		logs: &bytes.Buffer{}, tokens: map[string]string{}, users: map[string]*workflow.User{}}
	v.svc = workflow.NewService(v.store, v.clock)
	if v.blobs, err = blob.Open(t.TempDir() + "/evidence"); err != nil {
		t.Fatal(err)
	}
	v.svc.SetBlobs(v.blobs)
	ctx := context.Background()
	err = v.svc.PutUnits(ctx, []workflow.Unit{
		{ID: "fuliang", Name: "浮梁县", Kind: workflow.UnitCounty},
		{ID: "leping", Name: "乐平市", Kind: workflow.UnitCounty},
		{ID: "city-eeb", Name: "市生态环境局", Kind: workflow.UnitDepartment},
		{ID: "city-water", Name: "市水利局", Kind: workflow.UnitDepartment},
		{ID: "inspect", Name: "领导小组办公室", Kind: workflow.UnitOffice},
	})
	if err != nil {
		t.Fatal(err)
	}
	err = v.svc.PutWorkPoints(ctx, []workflow.WorkPoint{
		{Number: 7, Section: "加强尾矿库治理", Title: "尾矿库污染治理", Text: "开展尾矿库污染治理", LeadUnits: []string{"city-eeb"}, CooperatingUnits: []string{"fuliang", "leping"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	sys := workflow.Actor{ID: "system", Name: "系统", Role: workflow.RoleSystem}
	for _, u := range []struct {
		key, name string
		role      workflow.Role
		unit      string
	}{
		{"admin", "管理员", workflow.RoleAdmin, "city-eeb"},
		{"bureau", "局办", workflow.RoleBureau, "city-eeb"},
		{"fuliang", "浮梁县干部", workflow.RoleUnit, "fuliang"},
		{"leping", "乐平市干部", workflow.RoleUnit, "leping"},
		{"water", "水利局干部", workflow.RoleUnit, "city-water"},
		{"inspector", "验收员", workflow.RoleInspector, "inspect"},
		{"inspector2", "复核员", workflow.RoleInspector, "inspect"},
		{"fl-inspector", "浮梁县检查员", workflow.RoleInspector, "fuliang"},
		{"viewer", "市领导", workflow.RoleViewer, "city-eeb"},
	} {
		user, token, err := v.svc.CreateUser(ctx, sys, workflow.NewUser{Name: u.name, Role: u.role, UnitID: u.unit})
		if err != nil {
			t.Fatal(err)
		}
		v.tokens[u.key], v.users[u.key] = token, user
	}
	cfg.Service = v.svc
	cfg.Logger = slog.New(slog.NewJSONHandler(v.logs, nil))
	cfg.Metrics = m
	cfg.Gatherer = reg
	cfg.Ready = func(context.Context) error { return v.ready }
	if cfg.Imports == nil {
		cfg.Imports = ledgerfile.NewJobs(v.svc, slog.New(slog.DiscardHandler))
		t.Cleanup(cfg.Imports.Close)
	}
	v.imports = cfg.Imports
	v.e = api.New(cfg)
	return v
}

// do sends a request as user who ("" for none). body is a string sent as is,
// an io.Reader (sent without Content-Length), or a value marshalled to JSON.
// hdr is header name/value pairs.
func (v *env) do(method, path, who string, body any, hdr ...string) *httptest.ResponseRecorder {
	v.t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	case io.Reader:
		r = b
	default:
		j, err := json.Marshal(b)
		if err != nil {
			v.t.Fatal(err)
		}
		r = bytes.NewReader(j)
	}
	req := httptest.NewRequest(method, path, r)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if who != "" {
		req.Header.Set("Authorization", "Bearer "+v.tokens[who])
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	v.e.ServeHTTP(rec, req)
	checkContract(v.t, req, rec)
	return rec
}

// ok checks the status of a successful call and decodes its JSON body.
func (v *env) ok(rec *httptest.ResponseRecorder, status int) map[string]any {
	v.t.Helper()
	if rec.Code != status {
		v.t.Fatalf("status %d, want %d: %s", rec.Code, status, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		v.t.Fatalf("Content-Type %q, want application/json", ct)
	}
	// JSON bodies are sent whole with their length, never chunked.
	if cl := rec.Header().Get("Content-Length"); cl != strconv.Itoa(rec.Body.Len()) {
		v.t.Fatalf("Content-Length %q for a body of %d bytes", cl, rec.Body.Len())
	}
	var m map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
		v.t.Fatalf("decoding %s: %v", rec.Body, err)
	}
	return m
}

// problemBody is an RFC 9457 body as a client reads it.
type problemBody struct {
	Type              string            `json:"type"`
	Title             string            `json:"title"`
	Status            int               `json:"status"`
	Detail            string            `json:"detail"`
	Code              string            `json:"code"`
	Instance          string            `json:"instance"`
	Reason            string            `json:"reason"`
	Field             string            `json:"field"`
	State             string            `json:"state"`
	PermittedTriggers []string          `json:"permitted_triggers"`
	Checks            map[string]string `json:"checks"`
	Flags             []struct {
		SHA256 string `json:"sha256"`
		Code   string `json:"code"`
	} `json:"flags"`
}

// fails checks a problem+json response with status and code.
func (v *env) fails(rec *httptest.ResponseRecorder, status int, code string) problemBody {
	v.t.Helper()
	if rec.Code != status {
		v.t.Fatalf("status %d, want %d: %s", rec.Code, status, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json" {
		v.t.Fatalf("Content-Type %q, want application/problem+json", ct)
	}
	var p problemBody
	dec := json.NewDecoder(rec.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		v.t.Fatalf("decoding problem: %v", err)
	}
	if p.Status != status || p.Code != code || p.Type != "urn:rectify:error:"+code || p.Title != http.StatusText(status) || p.Detail == "" {
		v.t.Fatalf("problem %+v, want status %d code %s", p, status, code)
	}
	return p
}

// create logs a problem in 浮梁县 as the bureau and returns its id.
func (v *env) create(title string) string {
	v.t.Helper()
	m := v.ok(v.do("POST", "/api/v1/problems", "bureau", map[string]any{
		"title": title, "description": "浮梁县茅棚店锡矿尾矿库", "source": "self_inspection",
		"county_id": "fuliang", "work_point": 7,
	}), http.StatusCreated)
	return m["id"].(string)
}

// fire fires trigger with params as who and expects 200.
func (v *env) fire(id, who, trigger string, params map[string]any) map[string]any {
	v.t.Helper()
	body := map[string]any{"trigger": trigger}
	for k, x := range params {
		body[k] = x
	}
	v.clock.Advance(time.Hour)
	return v.ok(v.do("POST", "/api/v1/problems/"+id+"/transitions", who, body), http.StatusOK)
}

// assigned creates a problem led by 浮梁县 with 市水利局 cooperating.
func (v *env) assigned() string {
	v.t.Helper()
	id := v.create("尾矿库污染隐患")
	v.fire(id, "bureau", "assign", map[string]any{"lead_unit": "fuliang", "deadline": "2021-12-31", "cooperating_units": []string{"city-water"}})
	return id
}

// snapshot is what must not change when a request is refused.
type snapshot struct {
	version float64
	history int
	etag    string
}

func (v *env) snapshot(id string) snapshot {
	v.t.Helper()
	rec := v.do("GET", "/api/v1/problems/"+id, "bureau", nil)
	p := v.ok(rec, http.StatusOK)
	h := v.ok(v.do("GET", "/api/v1/problems/"+id+"/history", "bureau", nil), http.StatusOK)
	return snapshot{version: p["version"].(float64), history: len(h["items"].([]any)), etag: rec.Header().Get("ETag")}
}

// formPart is one part of a multipart/form-data body.
type formPart struct {
	name, filename, ctype string
	data                  []byte
}

// multipartBody encodes parts; it returns the body and its Content-Type.
func multipartBody(t testing.TB, parts ...formPart) ([]byte, string) {
	t.Helper()
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	for _, p := range parts {
		h := textproto.MIMEHeader{}
		cd := `form-data; name="` + p.name + `"`
		if p.filename != "" {
			cd += `; filename="` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(p.filename) + `"`
		}
		h.Set("Content-Disposition", cd)
		if p.ctype != "" {
			h.Set("Content-Type", p.ctype)
		}
		pw, err := w.CreatePart(h)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := pw.Write(p.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes(), w.FormDataContentType()
}

// upload sends file data named filename, with a description if not empty,
// to problem id as who. The part claims application/octet-stream: the
// server must sniff the content.
func (v *env) upload(id, who, filename string, data []byte, description string, hdr ...string) *httptest.ResponseRecorder {
	v.t.Helper()
	parts := []formPart{{name: "file", filename: filename, ctype: "application/octet-stream", data: data}}
	if description != "" {
		parts = append(parts, formPart{name: "description", data: []byte(description)})
	}
	return v.uploadParts(id, who, parts, hdr...)
}

// uploadParts sends a multipart body of parts to problem id's evidence.
func (v *env) uploadParts(id, who string, parts []formPart, hdr ...string) *httptest.ResponseRecorder {
	v.t.Helper()
	body, ct := multipartBody(v.t, parts...)
	return v.do("POST", "/api/v1/problems/"+id+"/evidence", who, bytes.NewReader(body), append([]string{"Content-Type", ct}, hdr...)...)
}

// png returns a small PNG image no other call returns.
func (v *env) png() []byte {
	v.t.Helper()
	v.files++
	img := image.NewRGBA(image.Rect(0, 0, 4, 4))
	for i := range img.Pix {
		img.Pix[i] = byte(v.files*7 + i)
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		v.t.Fatal(err)
	}
	return b.Bytes()
}

// jpeg returns a small JPEG image no other call returns.
func (v *env) jpeg() []byte {
	v.t.Helper()
	v.files++
	img := image.NewGray(image.Rect(0, 0, 8, 8))
	for i := range img.Pix {
		img.Pix[i] = byte(v.files*7 + i*3)
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, nil); err != nil {
		v.t.Fatal(err)
	}
	return b.Bytes()
}

// evidence uploads a fresh PNG to problem id as who and returns the problem.
func (v *env) evidence(id, who string) map[string]any {
	v.t.Helper()
	return v.ok(v.upload(id, who, "现场照片.png", v.png(), "整改后现场"), http.StatusCreated)
}

// stored reports whether the blob store holds data.
func (v *env) stored(data []byte) bool {
	v.t.Helper()
	_, err := v.blobs.Stat(context.Background(), sha256Hex(data))
	return err == nil
}

func sha256Hex(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}
