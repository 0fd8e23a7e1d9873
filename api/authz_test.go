package api_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/jdz-eco/rectify/api"
	"github.com/jdz-eco/rectify/api/web"
	"github.com/jdz-eco/rectify/seeds"
	"github.com/jdz-eco/rectify/store/blob"
	"github.com/jdz-eco/rectify/store/bolt"
	"github.com/jdz-eco/rectify/workflow"
)

// The authorization matrix: every route of the server (API and pages, as
// echo lists them) against every kind of caller, with the status each must
// get. A route registered without a row fails TestAuthorizationMatrix, as
// does a row for a route that is not registered.

// caller is a kind of caller.
type caller int

const (
	anon      caller = iota // no credentials
	badCred                 // a token (API) or session cookie (pages) nobody was given
	bureau                  // 市生态环境局, role bureau
	lead                    // an officer of the lead unit (浮梁县)
	coop                    // an officer of a cooperating unit (市水利局)
	unrelated               // an officer of a unit with no part in the problem (乐平市)
	inspector               // role inspector
	viewer                  // a leader, role viewer
	admin                   // role admin
	disabled                // a bureau user disabled after it got its token and session
	revoked                 // a bureau user whose token was revoked and session signed out
	expired                 // a bureau user whose token and session have expired
	nCallers
)

var callerNames = [nCallers]string{"no credentials", "bad credentials", "bureau", "lead unit", "cooperating unit",
	"unrelated unit", "inspector", "viewer", "admin", "disabled user", "revoked token", "expired token"}

// signedIn are the callers whose credentials work.
var signedIn = []caller{bureau, lead, coop, unrelated, inspector, viewer, admin}

// authzWorld is the state every row starts from: a database file with the
// users, their tokens and sessions, and problems in the states the rows
// need; each row runs on a copy of it.
type authzWorld struct {
	dir      string // the template database and evidence directory
	now      time.Time
	tokens   [nCallers]string
	sessions [nCallers]string
	csrf     [nCallers]string
	ids      map[string]string // placeholders in row paths: {assigned}, {rectifying}, {ext}, {sha}, {target}, {token}
}

var pw = map[caller]string{bureau: "pw-bureau", lead: "pw-lead", coop: "pw-coop", unrelated: "pw-unrelated", inspector: "pw-inspector",
	viewer: "pw-viewer", admin: "pw-admin", disabled: "pw-disabled", revoked: "pw-revoked", expired: "pw-expired"}

// buildAuthzWorld makes the template database.
func buildAuthzWorld(t *testing.T) *authzWorld {
	t.Helper()
	ctx := context.Background()
	w := &authzWorld{dir: t.TempDir(), ids: map[string]string{}}
	st, err := bolt.Open(filepath.Join(w.dir, "rectify.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	clock := workflow.NewManualClock(t0)
	svc := workflow.NewService(st, clock)
	blobs, err := blob.Open(filepath.Join(w.dir, "evidence"))
	if err != nil {
		t.Fatal(err)
	}
	svc.SetBlobs(blobs)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(svc.PutUnits(ctx, []workflow.Unit{
		{ID: "fuliang", Name: "浮梁县", Kind: workflow.UnitCounty},
		{ID: "leping", Name: "乐平市", Kind: workflow.UnitCounty},
		{ID: "city-eeb", Name: "市生态环境局", Kind: workflow.UnitDepartment},
		{ID: "city-water", Name: "市水利局", Kind: workflow.UnitDepartment},
		{ID: "inspect", Name: "领导小组办公室", Kind: workflow.UnitOffice},
	}))
	must(svc.PutWorkPoints(ctx, []workflow.WorkPoint{{Number: 7, Title: "尾矿库污染治理", LeadUnits: []string{"city-eeb"},
		UnitGroups: []workflow.UnitGroup{{Name: "有关县（市、区）政府", Duty: workflow.DutyResponsible, Kinds: []workflow.UnitKind{workflow.UnitCounty}}}}}))
	sys := workflow.SystemActor
	users := [nCallers]*workflow.User{}
	for c, spec := range map[caller]struct {
		name string
		role workflow.Role
		unit string
	}{
		bureau: {"局办", workflow.RoleBureau, "city-eeb"}, lead: {"浮梁县干部", workflow.RoleUnit, "fuliang"},
		coop: {"水利局干部", workflow.RoleUnit, "city-water"}, unrelated: {"乐平市干部", workflow.RoleUnit, "leping"},
		inspector: {"验收员", workflow.RoleInspector, "inspect"}, viewer: {"市领导", workflow.RoleViewer, "inspect"},
		admin: {"管理员", workflow.RoleAdmin, "city-eeb"}, disabled: {"已停用", workflow.RoleBureau, "city-eeb"},
		revoked: {"已吊销", workflow.RoleBureau, "city-eeb"}, expired: {"已过期", workflow.RoleBureau, "city-eeb"},
	} {
		u, token, err := svc.CreateUser(ctx, sys, workflow.NewUser{Name: spec.name, Role: spec.role, UnitID: spec.unit})
		must(err)
		hash, err := web.HashPasswordParams(pw[c], web.Argon2Params{Memory: 64, Time: 1, Threads: 1})
		must(err)
		must(svc.SetPassword(ctx, sys, u.ID, hash))
		users[c], w.tokens[c] = u, token
	}
	target, _, err := svc.CreateUser(ctx, sys, workflow.NewUser{Name: "对象用户", Role: workflow.RoleUnit, UnitID: "fuliang"})
	must(err)
	targetTokens, err := svc.UserTokens(ctx, sys, target.ID)
	must(err)
	w.ids["{target}"], w.ids["{token}"] = target.ID, targetTokens[0].ID()
	pol := workflow.DefaultSessionPolicy()
	for c := bureau; c < nCallers; c++ {
		_, id, ss, err := svc.SignIn(ctx, users[c].Name, func(h string) (bool, error) { return web.CheckPassword(h, pw[c]) }, pol)
		must(err)
		w.sessions[c], w.csrf[c] = id, ss.CSRF
	}
	w.tokens[badCred] = "rt_" + strings.Repeat("x", 43)
	w.sessions[badCred] = strings.Repeat("y", 43)

	// Problems: one assigned to 浮梁县 with 市水利局 cooperating; one being
	// rectified, with evidence and a pending extension request.
	b, l := users[bureau].Actor(), users[lead].Actor()
	deadline := t0.Add(90 * 24 * time.Hour)
	assign := workflow.Command{Trigger: workflow.TriggerAssign, Params: workflow.Params{LeadUnit: "fuliang", CooperatingUnits: []string{"city-water"}, Deadline: &deadline}}
	for _, key := range []string{"{assigned}", "{rectifying}"} {
		p, _, err := svc.CreateProblem(ctx, b, workflow.NewProblem{Title: "尾矿库渗漏" + key, Description: "浮梁县尾矿库", Source: workflow.SourceSelfInspection, CountyID: "fuliang", WorkPoint: 7})
		must(err)
		_, err = svc.Fire(ctx, b, p.ID, assign)
		must(err)
		w.ids[key] = p.ID
	}
	r := w.ids["{rectifying}"]
	_, err = svc.Fire(ctx, l, r, workflow.Command{Trigger: workflow.TriggerAccept, Params: workflow.Params{Plan: "清淤"}})
	must(err)
	img := pngBytes(1)
	sha, size, err := blobs.Put(ctx, bytes.NewReader(img), 1<<20)
	must(err)
	_, err = svc.AddEvidence(ctx, l, r, workflow.EvidenceInput{SHA256: sha, Name: "现场.png", Size: size, Type: "image/png"}, 0)
	must(err)
	w.ids["{sha}"] = sha
	p, err := svc.RequestExtension(ctx, l, r, workflow.ExtensionRequest{Deadline: deadline.Add(30 * 24 * time.Hour), Reason: "雨季"}, 0)
	must(err)
	w.ids["{ext}"] = p.Extensions[len(p.Extensions)-1].ID

	// A problem in public notice (公示), its photo public, an objection open.
	np := workflow.DefaultNoticePolicy()
	np.Sources = append(np.Sources, workflow.SourceSelfInspection)
	must(svc.SetNoticePolicy(np))
	n, _, err := svc.CreateProblem(ctx, b, workflow.NewProblem{Title: "河道采砂", Description: "浮梁县河道", Source: workflow.SourceSelfInspection, CountyID: "fuliang"})
	must(err)
	_, err = svc.Fire(ctx, b, n.ID, assign)
	must(err)
	_, err = svc.Fire(ctx, l, n.ID, workflow.Command{Trigger: workflow.TriggerAccept, Params: workflow.Params{Plan: "清理"}})
	must(err)
	nsha, nsize, err := blobs.Put(ctx, bytes.NewReader(pngBytes(2)), 1<<20)
	must(err)
	_, err = svc.AddEvidence(ctx, l, n.ID, workflow.EvidenceInput{SHA256: nsha, Name: "整改后.png", Size: nsize, Type: "image/png"}, 0)
	must(err)
	_, err = svc.Fire(ctx, l, n.ID, workflow.Command{Trigger: workflow.TriggerSubmit, Params: workflow.Params{Summary: "已清理"}})
	must(err)
	_, err = svc.Fire(ctx, users[inspector].Actor(), n.ID, workflow.Command{Trigger: workflow.TriggerVerify, Params: workflow.Params{Opinion: "合格"}})
	must(err)
	_, err = svc.Fire(ctx, b, n.ID, workflow.Command{Trigger: workflow.TriggerClose, Params: workflow.Params{Statement: "同意销号"}})
	must(err)
	_, err = svc.SetEvidencePublic(ctx, b, n.ID, nsha, true, 0)
	must(err)
	_, err = svc.FileObjection(ctx, n.ID, workflow.ObjectionInput{Text: "仍有砂堆"})
	must(err)
	w.ids["{notice}"], w.ids["{nsha}"] = n.ID, nsha

	// A dispatch round asking 浮梁县 about both problems.
	round, _, err := svc.OpenRound(ctx, b, workflow.NewRound{Title: "调度", Due: t0.Add(365 * 24 * time.Hour)})
	must(err)
	w.ids["{round}"] = round.ID

	// A letter to 浮梁县 about the assigned problem, and a draft.
	letter, err := svc.IssueLetter(ctx, b, workflow.NewLetter{ToUnit: "fuliang", ProblemIDs: []string{w.ids["{assigned}"]},
		Kind: workflow.KindSupervision, Demands: "限期整改", ReplyDue: t0.Add(365 * 24 * time.Hour)})
	must(err)
	w.ids["{letter}"] = letter.ID
	due := t0.Add(365 * 24 * time.Hour)
	draft, _, err := st.CreateLetter(ctx, "draft/test", 0, func(id string, _ int) (*workflow.Letter, error) {
		return &workflow.Letter{ID: id, State: workflow.LetterDraft, Kind: workflow.KindSupervision, ToUnit: "fuliang",
			ProblemIDs: []string{w.ids["{assigned}"]}, Demands: "请整改", ReplyDue: &due, Key: "draft/test", CreatedAt: t0, CreatedBy: sys}, nil
	})
	must(err)
	w.ids["{draft}"] = draft.ID

	// The callers whose credentials stopped working.
	_, err = svc.SetUserDisabled(ctx, sys, users[disabled].ID, true)
	must(err)
	_, err = svc.RevokeTokens(ctx, sys, users[revoked].ID, nil)
	must(err)
	must(svc.SignOut(ctx, w.sessions[revoked]))
	exp := clock.Now().Add(time.Minute)
	w.tokens[expired], _, err = svc.IssueUserToken(ctx, sys, users[expired].ID, &exp)
	must(err)
	acc := st
	ss, err := acc.Session(ctx, workflow.HashToken(w.sessions[expired]))
	must(err)
	ss.ExpiresAt = clock.Now().Add(time.Minute)
	must(acc.PutSession(ctx, *ss))
	w.now = clock.Now().Add(2 * time.Minute) // both have expired by then
	return w
}

// pngBytes is a small PNG image.
func pngBytes(seed byte) []byte {
	b := []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\x00\x05\x00\x01\xff\x89\x99=\x1d\x00\x00\x00\x00IEND\xaeB`\x82")
	return append(b, seed)
}

// server opens a copy of the template database and serves it.
func (w *authzWorld) server(t *testing.T) *echo.Echo {
	t.Helper()
	dir := t.TempDir()
	data, err := os.ReadFile(filepath.Join(w.dir, "rectify.db"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "rectify.db"), data, 0o600); err != nil {
		t.Fatal(err)
	}
	st, err := bolt.Open(filepath.Join(dir, "rectify.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	svc := workflow.NewService(st, workflow.NewManualClock(w.now))
	blobs, err := blob.Open(filepath.Join(w.dir, "evidence"))
	if err != nil {
		t.Fatal(err)
	}
	svc.SetBlobs(blobs)
	objections := api.NewObjectionLimiter(svc, 100)
	pages, err := web.New(web.Config{Service: svc, Argon2: web.Argon2Params{Memory: 64, Time: 1, Threads: 1}, Objections: objections})
	if err != nil {
		t.Fatal(err)
	}
	// Every caller of a row objects from the same address: allow them all.
	return api.New(api.Config{Service: svc, Web: pages, Logger: slog.New(slog.DiscardHandler), Objections: objections})
}

// row is one route and what each caller gets from it.
type row struct {
	method, route string // as echo registered it (RouteNotFound for a catch-all)
	send          string // the method sent, if not method (a catch-all's)
	path          string // the request's path, placeholders from authzWorld.ids
	page          bool   // a web page: session cookies (and the form's CSRF token), not tokens
	public        bool   // no credentials needed
	body          func(w *authzWorld, c caller) (ctype string, body []byte)
	ok            map[caller]int // statuses of signed-in callers
	other         int            // status of signed-in callers not in ok
}

// sent is the method r's requests use.
func (r row) sent() string {
	if r.send != "" {
		return r.send
	}
	return r.method
}

// want returns the status caller c must get.
func (r row) want(c caller) int {
	if !r.public && !slices.Contains(signedIn, c) {
		if r.page && r.sent() == http.MethodGet {
			return http.StatusSeeOther // to the sign-in page
		}
		return http.StatusUnauthorized
	}
	if s, ok := r.ok[c]; ok {
		return s
	}
	return r.other
}

// request builds r's request as caller c.
func (r row) request(w *authzWorld, c caller) *http.Request {
	path := r.path
	for k, v := range w.ids {
		path = strings.ReplaceAll(path, k, v)
	}
	var ctype string
	var body []byte
	if r.body != nil {
		ctype, body = r.body(w, c)
	}
	req := httptest.NewRequest(r.sent(), path, bytes.NewReader(body))
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if r.page {
		if s := w.sessions[c]; s != "" {
			req.AddCookie(&http.Cookie{Name: "rectify_session", Value: s})
		}
	} else if tok := w.tokens[c]; tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	return req
}

// Bodies.
func jsonBody(s string) func(*authzWorld, caller) (string, []byte) {
	return func(*authzWorld, caller) (string, []byte) { return "application/json", []byte(s) }
}

// jsonWith is a JSON body with the world's placeholders replaced.
func jsonWith(s string) func(*authzWorld, caller) (string, []byte) {
	return func(w *authzWorld, _ caller) (string, []byte) {
		body := s
		for k, v := range w.ids {
			body = strings.ReplaceAll(body, k, v)
		}
		return "application/json", []byte(body)
	}
}

// formWith is form with the world's placeholders replaced in its values.
func formWith(fields url.Values) func(*authzWorld, caller) (string, []byte) {
	return func(w *authzWorld, c caller) (string, []byte) {
		f := url.Values{}
		for k, vs := range fields {
			for _, v := range vs {
				for p, id := range w.ids {
					v = strings.ReplaceAll(v, p, id)
				}
				f.Add(k, v)
			}
		}
		return form(f)(w, c)
	}
}

// roundSeeing: the round asks only 浮梁县 (the lead unit); other units do
// not see it.
func roundSeeing(s int) map[caller]int {
	m := every(s)
	m[coop], m[unrelated] = s404, s404
	return m
}

// letterSeeing: the letter is addressed to 浮梁县 (the lead unit); other
// units do not see it.
func letterSeeing(s int) map[caller]int { return roundSeeing(s) }

// form is a page's form with the caller's CSRF token.
func form(fields url.Values) func(*authzWorld, caller) (string, []byte) {
	return func(w *authzWorld, c caller) (string, []byte) {
		f := url.Values{"csrf": {w.csrf[c]}}
		for k, v := range fields {
			f[k] = v
		}
		return "application/x-www-form-urlencoded", []byte(f.Encode())
	}
}

// upload is an evidence upload, with the caller's CSRF token on a page.
func upload(page bool) func(*authzWorld, caller) (string, []byte) {
	return func(w *authzWorld, c caller) (string, []byte) {
		var b bytes.Buffer
		mw := multipart.NewWriter(&b)
		if page {
			_ = mw.WriteField("csrf", w.csrf[c])
		}
		_ = mw.WriteField("description", "整改后")
		fw, _ := mw.CreateFormFile("file", "整改后.png")
		_, _ = fw.Write(pngBytes(byte(c) + 10))
		_ = mw.Close()
		return mw.FormDataContentType(), b.Bytes()
	}
}

func calendarBody(*authzWorld, caller) (string, []byte) {
	return "application/json", seeds.Calendars()[2021]
}

func importBody(*authzWorld, caller) (string, []byte) {
	return "text/csv", []byte("问题描述,问题来源,所在县（市、区）\n河道采砂,自查,浮梁县\n")
}

// importForm is the import page's form checking a file (mode check), with
// the caller's CSRF token.
func importForm(w *authzWorld, c caller) (string, []byte) {
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	_ = mw.WriteField("csrf", w.csrf[c])
	_ = mw.WriteField("mode", "check")
	fw, _ := mw.CreateFormFile("file", "台账.csv")
	_, body := importBody(w, c)
	_, _ = fw.Write(body)
	_ = mw.Close()
	return mw.FormDataContentType(), b.Bytes()
}

// All statuses by kind of caller.
const (
	s200, s201, s204, s303, s403, s404, s409 = http.StatusOK, http.StatusCreated, http.StatusNoContent, http.StatusSeeOther, http.StatusForbidden, http.StatusNotFound, http.StatusConflict
)

// every gives each signed-in caller status s.
func every(s int) map[caller]int {
	m := map[caller]int{}
	for _, c := range signedIn {
		m[c] = s
	}
	return m
}

// seeing: the callers who may see the problems (not the unrelated unit).
func seeing(s int) map[caller]int {
	m := every(s)
	m[unrelated] = s404
	return m
}

func only(s int, cs ...caller) map[caller]int {
	m := map[caller]int{}
	for _, c := range cs {
		m[c] = s
	}
	return m
}

// with sets caller c's status in m.
func with(m map[caller]int, c caller, s int) map[caller]int {
	m[c] = s
	return m
}

// withUnrelated adds the unrelated unit's 404 (it may not see the problem).
func withUnrelated(m map[caller]int) map[caller]int {
	m[unrelated] = s404
	return m
}

// authzRows is the matrix.
var authzRows = []row{
	// Probes and the document: nobody needs credentials.
	{method: "GET", route: "/healthz", path: "/healthz", public: true, other: s200, ok: map[caller]int{}},
	{method: "GET", route: "/readyz", path: "/readyz", public: true, other: s200, ok: map[caller]int{}},
	{method: "GET", route: "/metrics", path: "/metrics", public: true, other: s200, ok: map[caller]int{}},
	{method: "GET", route: "/api/v1/openapi.json", path: "/api/v1/openapi.json", public: true, other: s200, ok: map[caller]int{}},

	// The API.
	{method: "GET", route: "/api/v1/units", path: "/api/v1/units", ok: every(s200)},
	{method: "GET", route: "/api/v1/workflow", path: "/api/v1/workflow", ok: every(s200)},
	{method: "GET", route: "/api/v1/problems", path: "/api/v1/problems", ok: every(s200)},
	{method: "POST", route: "/api/v1/problems", path: "/api/v1/problems", other: s403, ok: only(s201, bureau),
		body: jsonBody(`{"title":"新问题","description":"描述","source":"self_inspection","county_id":"fuliang"}`)},
	{method: "GET", route: "/api/v1/problems/:id", path: "/api/v1/problems/{assigned}", ok: seeing(s200)},
	{method: "GET", route: "/api/v1/problems/:id/history", path: "/api/v1/problems/{assigned}/history", ok: seeing(s200)},
	{method: "GET", route: "/api/v1/problems/:id/dossier.zip", path: "/api/v1/problems/{assigned}/dossier.zip", ok: seeing(s200)},
	{method: "POST", route: "/api/v1/problems/:id/transitions", path: "/api/v1/problems/{assigned}/transitions", other: s403,
		ok: withUnrelated(only(s200, lead)), body: jsonBody(`{"trigger":"accept","plan":"拆除"}`)},
	{method: "POST", route: "/api/v1/problems/:id/notes", path: "/api/v1/problems/{assigned}/notes", other: s403,
		ok: withUnrelated(only(s200, lead, coop)), body: jsonBody(`{"text":"已开展排查"}`)},
	// Inspectors add site-check photos, only while a submission waits (409 here).
	{method: "POST", route: "/api/v1/problems/:id/evidence", path: "/api/v1/problems/{assigned}/evidence", other: s403,
		ok: withUnrelated(with(only(s201, lead, coop), inspector, s409)), body: upload(false)},
	{method: "PUT", route: "/api/v1/problems/:id/position", path: "/api/v1/problems/{assigned}/position", other: s403,
		ok: withUnrelated(only(s200, bureau)), body: jsonBody(`{"lat":29.35,"lng":117.21}`)},
	{method: "POST", route: "/api/v1/problems/:id/site-checks", path: "/api/v1/problems/{assigned}/site-checks", other: s403,
		ok: withUnrelated(only(s409, inspector)), body: jsonBody(`{"result":"passed","findings":"现场已整改"}`)},
	{method: "POST", route: "/api/v1/problems/:id/lookback/confirmation", path: "/api/v1/problems/{assigned}/lookback/confirmation", other: s403,
		ok: withUnrelated(only(s409, inspector)), body: jsonBody(`{"text":"回头看未发现反弹"}`)},
	{method: "GET", route: "/api/v1/evidence/:sha256", path: "/api/v1/evidence/{sha}", ok: seeing(s200)},
	{method: "POST", route: "/api/v1/problems/:id/extensions", path: "/api/v1/problems/{assigned}/extensions", other: s403,
		ok: withUnrelated(only(s201, lead)), body: jsonBody(`{"deadline":"2022-03-31","reason":"雨季施工受限"}`)},
	{method: "GET", route: "/api/v1/problems/:id/extensions/:ext_id", path: "/api/v1/problems/{rectifying}/extensions/{ext}", ok: seeing(s200)},
	{method: "POST", route: "/api/v1/problems/:id/extensions/:ext_id/decision", path: "/api/v1/problems/{rectifying}/extensions/{ext}/decision",
		other: s403, ok: withUnrelated(only(s200, bureau)), body: jsonBody(`{"decision":"approve","note":"同意"}`)},
	{method: "GET", route: "/api/v1/alerts", path: "/api/v1/alerts", ok: every(s200)},
	{method: "POST", route: "/api/v1/deadlines/scan", path: "/api/v1/deadlines/scan", other: s403, ok: only(s200, bureau, admin)},
	{method: "GET", route: "/api/v1/events", path: "/api/v1/events", ok: every(s200)},
	{method: "GET", route: "/api/v1/calendars", path: "/api/v1/calendars", ok: every(s200)},
	{method: "PUT", route: "/api/v1/calendars/:year", path: "/api/v1/calendars/2021", other: s403, ok: only(s200, bureau, admin), body: calendarBody},
	{method: "GET", route: "/api/v1/audit/head", path: "/api/v1/audit/head", other: s403, ok: only(s200, bureau, inspector, viewer, admin)},
	{method: "GET", route: "/api/v1/audit/accounts", path: "/api/v1/audit/accounts", other: s403, ok: only(s200, admin)},
	{method: "GET", route: "/api/v1/admin/backup", path: "/api/v1/admin/backup", other: s403, ok: only(s200, admin)},
	{method: "GET", route: "/api/v1/ledger.xlsx", path: "/api/v1/ledger.xlsx", ok: every(s200)},
	{method: "POST", route: "/api/v1/ledger/import", path: "/api/v1/ledger/import?dry_run=true", other: s403, ok: only(s200, bureau), body: importBody},
	{method: "GET", route: "/api/v1/ledger/import-jobs/:id", path: "/api/v1/ledger/import-jobs/none", other: s403, ok: only(s404, bureau)},
	{method: "GET", route: "/api/v1/workpoints", path: "/api/v1/workpoints", ok: every(s200)},
	{method: "PUT", route: "/api/v1/workpoints/:number/unit-groups", path: "/api/v1/workpoints/7/unit-groups", other: s403, ok: only(s200, bureau),
		body: jsonBody(`{"name":"有关县（市、区）政府","units":["fuliang"]}`)},
	{method: "GET", route: "/api/v1/stats", path: "/api/v1/stats?group_by=county", ok: every(s200)},
	{method: "GET", route: "/api/v1/stats/reporting", path: "/api/v1/stats/reporting", ok: every(s200)},
	{method: "GET", route: "/api/v1/briefings", path: "/api/v1/briefings?period=week", other: s403, ok: only(s200, bureau, viewer)},
	{method: "GET", route: "/api/v1/briefings.xlsx", path: "/api/v1/briefings.xlsx?period=month", other: s403, ok: only(s200, bureau, viewer)},
	{method: "GET", route: "/api/v1/briefings.docx", path: "/api/v1/briefings.docx", other: s403, ok: only(s200, bureau, viewer)},

	// Dispatch rounds: the bureau opens, the unit that owes a report files it.
	{method: "GET", route: "/api/v1/dispatch-rounds", path: "/api/v1/dispatch-rounds", ok: every(s200)},
	{method: "POST", route: "/api/v1/dispatch-rounds", path: "/api/v1/dispatch-rounds", other: s403, ok: only(s201, bureau),
		body: jsonBody(`{"title":"新调度","due":"2022-12-31"}`)},
	{method: "GET", route: "/api/v1/dispatch-rounds/:rid", path: "/api/v1/dispatch-rounds/{round}", ok: roundSeeing(s200)},
	{method: "POST", route: "/api/v1/dispatch-rounds/:rid/reports", path: "/api/v1/dispatch-rounds/{round}/reports", other: s403,
		ok: map[caller]int{lead: s201, coop: s404, unrelated: s404}, body: jsonWith(`{"problem_id":"{assigned}","progress":"已开展排查"}`)},
	{method: "GET", route: "/api/v1/dispatch-rounds/:rid/summary.xlsx", path: "/api/v1/dispatch-rounds/{round}/summary.xlsx", ok: roundSeeing(s200)},
	{method: "GET", route: "/api/v1/workpoints/:number/history", path: "/api/v1/workpoints/7/history", ok: every(s200)},

	// Reminders: contacts and the delivery log, admins only.
	{method: "GET", route: "/api/v1/admin/contacts", path: "/api/v1/admin/contacts", other: s403, ok: only(s200, admin)},
	{method: "PUT", route: "/api/v1/units/:id/contact", path: "/api/v1/units/fuliang/contact", other: s403, ok: only(s200, admin),
		body: jsonBody(`{"wecom_url":""}`)},
	{method: "PUT", route: "/api/v1/users/:id/email", path: "/api/v1/users/{target}/email", other: s403, ok: only(s200, admin),
		body: jsonBody(`{"email":""}`)},
	{method: "GET", route: "/api/v1/admin/deliveries", path: "/api/v1/admin/deliveries", other: s403, ok: only(s200, admin)},
	// Public notices: the public routes need no credentials; the bureau
	// keeps the queue, decides objections and marks photos public.
	{method: "GET", route: "/api/v1/public/notices", path: "/api/v1/public/notices", public: true, other: s200, ok: map[caller]int{}},
	{method: "GET", route: "/api/v1/public/notices/:id/photos/:sha256", path: "/api/v1/public/notices/{notice}/photos/{nsha}", public: true, other: s200, ok: map[caller]int{}},
	{method: "POST", route: "/api/v1/public/notices/:id/objections", path: "/api/v1/public/notices/{notice}/objections", public: true, other: http.StatusAccepted, ok: map[caller]int{},
		body: jsonBody(`{"text":"河道里仍有砂堆","name":"李四"}`)},
	{method: "GET", route: "/api/v1/objections", path: "/api/v1/objections", other: s403, ok: only(s200, bureau)},
	{method: "POST", route: "/api/v1/problems/:id/objections/:oid/dismissal", path: "/api/v1/problems/{notice}/objections/1/dismissal", other: s403,
		ok: withUnrelated(only(s200, bureau)), body: jsonBody(`{"reason":"经核实，已清理"}`)},
	{method: "PUT", route: "/api/v1/problems/:id/evidence/:sha256/public", path: "/api/v1/problems/{notice}/evidence/{nsha}/public", other: s403,
		ok: withUnrelated(only(s200, bureau)), body: jsonBody(`{"public":false}`)},
	// Letters: the bureau issues, the addressed unit (浮梁县) sees and replies.
	{method: "GET", route: "/api/v1/letters", path: "/api/v1/letters", ok: every(s200)},
	{method: "POST", route: "/api/v1/letters", path: "/api/v1/letters", other: s403, ok: only(s201, bureau),
		body: jsonWith(`{"to_unit":"fuliang","problem_ids":["{assigned}"],"kind":"督办函","demands":"限期整改","reply_due":"2030-12-31"}`)},
	{method: "GET", route: "/api/v1/letters/:id", path: "/api/v1/letters/{letter}", ok: letterSeeing(s200)},
	{method: "POST", route: "/api/v1/letters/:id/issue", path: "/api/v1/letters/{draft}/issue", other: s403, ok: only(s200, bureau), body: jsonBody(`{}`)},
	{method: "POST", route: "/api/v1/letters/:id/discard", path: "/api/v1/letters/{draft}/discard", other: s403, ok: only(s200, bureau), body: jsonBody(`{}`)},
	{method: "POST", route: "/api/v1/letters/:id/reply", path: "/api/v1/letters/{letter}/reply", other: s403,
		ok: map[caller]int{lead: s201, coop: s404, unrelated: s404}, body: jsonBody(`{"text":"已完成整改"}`)},

	// Accounts: admins only.
	{method: "GET", route: "/api/v1/users", path: "/api/v1/users", other: s403, ok: only(s200, admin)},
	{method: "POST", route: "/api/v1/users", path: "/api/v1/users", other: s403, ok: only(s201, admin),
		body: jsonBody(`{"name":"新用户","role":"viewer","unit_id":"inspect"}`)},
	{method: "GET", route: "/api/v1/users/:id", path: "/api/v1/users/{target}", other: s403, ok: only(s200, admin)},
	{method: "POST", route: "/api/v1/users/:id/disable", path: "/api/v1/users/{target}/disable", other: s403, ok: only(s200, admin)},
	{method: "POST", route: "/api/v1/users/:id/enable", path: "/api/v1/users/{target}/enable", other: s403, ok: only(s200, admin)},
	{method: "PUT", route: "/api/v1/users/:id/password", path: "/api/v1/users/{target}/password", other: s403, ok: only(s200, admin),
		body: jsonBody(`{"password":"一个足够长的密码","revoke_tokens":true}`)},
	{method: "GET", route: "/api/v1/users/:id/tokens", path: "/api/v1/users/{target}/tokens", other: s403, ok: only(s200, admin)},
	{method: "POST", route: "/api/v1/users/:id/tokens", path: "/api/v1/users/{target}/tokens", other: s403, ok: only(s201, admin)},
	{method: "DELETE", route: "/api/v1/users/:id/tokens", path: "/api/v1/users/{target}/tokens", other: s403, ok: only(s200, admin)},
	{method: "DELETE", route: "/api/v1/users/:id/tokens/:token_id", path: "/api/v1/users/{target}/tokens/{token}", other: s403, ok: only(s204, admin)},
	{method: "POST", route: "/api/v1/users/:id/tokens/:token_id/rotate", path: "/api/v1/users/{target}/tokens/{token}/rotate", other: s403, ok: only(s201, admin)},

	// Under /api, an unknown path is 404 to everyone.
	{method: echo.RouteNotFound, route: "/api", send: "GET", path: "/api", public: true, other: s404, ok: map[caller]int{}},
	{method: echo.RouteNotFound, route: "/api/*", send: "POST", path: "/api/v1/nothing", public: true, other: s404, ok: map[caller]int{}},

	// The pages.
	{method: "GET", route: "/login", path: "/login", page: true, public: true, other: s200, ok: map[caller]int{}},
	// Without the sign-in form's own token (cookie and field), nobody signs in.
	{method: "POST", route: "/login", path: "/login", page: true, public: true, other: s403, ok: map[caller]int{},
		body: func(w *authzWorld, c caller) (string, []byte) {
			return "application/x-www-form-urlencoded", []byte(url.Values{"name": {"局办"}, "password": {"pw-bureau"}}.Encode())
		}},
	{method: "GET", route: "/static/*", path: "/static/style.css", page: true, public: true, other: s200, ok: map[caller]int{}},
	{method: "POST", route: "/logout", path: "/logout", page: true, ok: every(s303), body: form(nil)},
	// Leaders start on 统计, admins on 台账.
	{method: "GET", route: "/", path: "/", page: true, ok: func() map[caller]int { m := every(s200); m[viewer], m[admin] = s303, s303; return m }()},
	{method: "GET", route: "/password", path: "/password", page: true, ok: every(s200)},
	{method: "POST", route: "/password", path: "/password", page: true, ok: every(s303),
		body: func(w *authzWorld, c caller) (string, []byte) {
			return form(url.Values{"current": {pw[c]}, "new": {"new-password-1"}, "again": {"new-password-1"}})(w, c)
		}},
	{method: "GET", route: "/ledger", path: "/ledger", page: true, ok: every(s200)},
	{method: "GET", route: "/ledger.xlsx", path: "/ledger.xlsx", page: true, ok: every(s200)},
	{method: "GET", route: "/ledger/import", path: "/ledger/import", page: true, other: s403, ok: only(s200, bureau)},
	{method: "POST", route: "/ledger/import", path: "/ledger/import", page: true, other: s403, ok: only(s200, bureau), body: importForm},
	{method: "GET", route: "/ledger/import/:id", path: "/ledger/import/none", page: true, other: s403, ok: only(s404, bureau)},
	{method: "GET", route: "/stats", path: "/stats", page: true, ok: every(s200)},
	{method: "GET", route: "/briefings", path: "/briefings", page: true, other: s403, ok: only(s200, bureau, viewer)},
	{method: "GET", route: "/briefings.xlsx", path: "/briefings.xlsx?period=quarter", page: true, other: s403, ok: only(s200, bureau, viewer)},
	{method: "GET", route: "/briefings.docx", path: "/briefings.docx?period=week", page: true, other: s403, ok: only(s200, bureau, viewer)},
	{method: "POST", route: "/workpoints/:number/unit-groups", path: "/workpoints/7/unit-groups", page: true, other: s403, ok: only(s303, bureau),
		body: form(url.Values{"name": {"有关县（市、区）政府"}, "units": {"fuliang"}})},
	{method: "POST", route: "/problems", path: "/problems", page: true, other: s403, ok: only(s303, bureau),
		body: form(url.Values{"title": {"新问题"}, "description": {"描述"}, "source": {"self_inspection"}, "county_id": {"fuliang"}})},
	{method: "GET", route: "/rounds", path: "/rounds", page: true, ok: every(s200)},
	{method: "POST", route: "/rounds", path: "/rounds", page: true, other: s403, ok: only(s303, bureau),
		body: form(url.Values{"title": {"新调度"}, "due": {"2022-12-31"}, "scope": {"problems"}})},
	{method: "GET", route: "/rounds/:id", path: "/rounds/{round}", page: true, ok: roundSeeing(s200)},
	{method: "POST", route: "/rounds/:id/reports", path: "/rounds/{round}/reports", page: true, other: s403,
		ok: map[caller]int{lead: s303, coop: s404, unrelated: s404}, body: formWith(url.Values{"item": {"p-{assigned}"}, "progress": {"已开展排查"}})},
	{method: "GET", route: "/rounds/:id/summary.xlsx", path: "/rounds/{round}/summary.xlsx", page: true, ok: roundSeeing(s200)},
	{method: "GET", route: "/workpoints/:number", path: "/workpoints/7", page: true, ok: every(s200)},
	{method: "GET", route: "/letters", path: "/letters", page: true, ok: every(s200)},
	{method: "POST", route: "/letters", path: "/letters", page: true, other: s403, ok: only(s303, bureau),
		body: formWith(url.Values{"to_unit": {"fuliang"}, "kind": {"督办函"}, "problems": {"{assigned}"}, "demands": {"限期整改"}, "reply_due": {"2030-12-31"}})},
	{method: "GET", route: "/letters/:id", path: "/letters/{letter}", page: true, ok: letterSeeing(s200)},
	{method: "POST", route: "/letters/:id/reply", path: "/letters/{letter}/reply", page: true, other: s403,
		ok: map[caller]int{lead: s303, coop: s404, unrelated: s404}, body: form(url.Values{"text": {"已完成整改"}})},
	{method: "POST", route: "/letters/:id/issue", path: "/letters/{draft}/issue", page: true, other: s403, ok: only(s303, bureau), body: form(nil)},
	{method: "POST", route: "/letters/:id/discard", path: "/letters/{draft}/discard", page: true, other: s403, ok: only(s303, bureau), body: form(nil)},
	{method: "GET", route: "/problems/:id", path: "/problems/{assigned}", page: true, ok: seeing(s200)},
	{method: "POST", route: "/problems/:id/fire", path: "/problems/{assigned}/fire", page: true, other: s403,
		ok: withUnrelated(only(s303, lead)), body: form(url.Values{"trigger": {"accept"}, "plan": {"拆除"}})},
	{method: "POST", route: "/problems/:id/notes", path: "/problems/{assigned}/notes", page: true, other: s403,
		ok: withUnrelated(only(s303, lead, coop)), body: form(url.Values{"text": {"已开展排查"}})},
	{method: "POST", route: "/problems/:id/evidence", path: "/problems/{assigned}/evidence", page: true, other: s403,
		ok: withUnrelated(with(only(s303, lead, coop), inspector, s409)), body: upload(true)},
	{method: "POST", route: "/problems/:id/position", path: "/problems/{assigned}/position", page: true, other: s403,
		ok: withUnrelated(only(s303, bureau)), body: form(url.Values{"lat": {"29.35"}, "lng": {"117.21"}})},
	{method: "POST", route: "/problems/:id/site-checks", path: "/problems/{assigned}/site-checks", page: true, other: s403,
		ok: withUnrelated(only(s409, inspector)), body: form(url.Values{"result": {"passed"}, "findings": {"现场已整改"}})},
	{method: "POST", route: "/problems/:id/lookback", path: "/problems/{assigned}/lookback", page: true, other: s403,
		ok: withUnrelated(only(s409, inspector)), body: form(url.Values{"text": {"回头看未发现反弹"}})},
	{method: "POST", route: "/problems/:id/extensions", path: "/problems/{assigned}/extensions", page: true, other: s403,
		ok: withUnrelated(only(s303, lead)), body: form(url.Values{"deadline": {"2022-03-31"}, "reason": {"雨季施工受限"}})},
	{method: "POST", route: "/problems/:id/extensions/:ext/decision", path: "/problems/{rectifying}/extensions/{ext}/decision", page: true,
		other: s403, ok: withUnrelated(only(s303, bureau)), body: form(url.Values{"decision": {"approve"}, "note": {"同意"}})},
	{method: "GET", route: "/evidence/:sha256", path: "/evidence/{sha}", page: true, ok: seeing(s200)},
	{method: "GET", route: "/problems/:id/dossier.zip", path: "/problems/{assigned}/dossier.zip", page: true, ok: seeing(s200)},
	{method: "GET", route: "/users", path: "/users", page: true, other: s403, ok: only(s200, admin)},
	{method: "GET", route: "/admin/reminders", path: "/admin/reminders", page: true, other: s403, ok: only(s200, admin)},
	{method: "POST", route: "/admin/reminders/units/:id", path: "/admin/reminders/units/fuliang", page: true, other: s403, ok: only(s303, admin),
		body: form(url.Values{"clear_wecom_url": {"1"}})},
	{method: "POST", route: "/admin/reminders/users/:id", path: "/admin/reminders/users/{target}", page: true, other: s403, ok: only(s303, admin),
		body: form(url.Values{"email": {""}})},
	{method: "GET", route: "/users/:id", path: "/users/{target}", page: true, other: s403, ok: only(s200, admin)},
	{method: "POST", route: "/users/:id/disable", path: "/users/{target}/disable", page: true, other: s403, ok: only(s303, admin), body: form(nil)},
	{method: "POST", route: "/users/:id/enable", path: "/users/{target}/enable", page: true, other: s403, ok: only(s303, admin), body: form(nil)},
	{method: "POST", route: "/users/:id/password", path: "/users/{target}/password", page: true, other: s403, ok: only(s303, admin),
		body: form(url.Values{"new": {"new-password-1"}, "again": {"new-password-1"}, "revoke_tokens": {"1"}})},
	{method: "POST", route: "/users/:id/tokens", path: "/users/{target}/tokens", page: true, other: s403, ok: only(s201, admin), body: form(nil)},
	{method: "POST", route: "/users/:id/tokens/:token/revoke", path: "/users/{target}/tokens/{token}/revoke", page: true, other: s403, ok: only(s303, admin), body: form(nil)},
	{method: "POST", route: "/users/:id/tokens/:token/rotate", path: "/users/{target}/tokens/{token}/rotate", page: true, other: s403, ok: only(s201, admin), body: form(nil)},

	// The bureau decides objections and marks photos public on the problem page.
	{method: "POST", route: "/problems/:id/objections/:oid/dismissal", path: "/problems/{notice}/objections/1/dismissal", page: true, other: s403,
		ok: withUnrelated(only(s303, bureau)), body: form(url.Values{"reason": {"经核实，已清理"}})},
	{method: "POST", route: "/problems/:id/evidence/:sha256/public", path: "/problems/{notice}/evidence/{nsha}/public", page: true, other: s403,
		ok: withUnrelated(only(s303, bureau)), body: form(url.Values{"public": {""}})},

	// The public notice page and its objection form: no sign-in.
	{method: "GET", route: "/public/", path: "/public/", page: true, public: true, other: s200, ok: map[caller]int{}},
	{method: "POST", route: "/public/notices/:id/objections", path: "/public/notices/{notice}/objections", page: true, public: true, other: s303, ok: map[caller]int{},
		body: form(url.Values{"text": {"河道里仍有砂堆"}})},

	// Any other path is the pages' 404, after the sign-in check.
	{method: echo.RouteNotFound, route: "/*", send: "GET", path: "/nothing", page: true, other: s404, ok: map[caller]int{}},
	// The root's catch-all answers the methods / has no route for.
	{method: echo.RouteNotFound, route: "/", send: "PUT", path: "/", page: true, other: s404, ok: map[caller]int{}, body: form(nil)},
}

// TestAuthorizationMatrix runs every row for every kind of caller, each row
// on a fresh copy of the world; within a row the callers expected to
// succeed go last, so that what they change cannot turn another caller's
// refusal into something else.
func TestAuthorizationMatrix(t *testing.T) {
	w := buildAuthzWorld(t)
	rows := map[string]row{}
	for _, r := range authzRows {
		key := r.method + " " + r.route
		if _, dup := rows[key]; dup {
			t.Errorf("two rows for %s", key)
		}
		rows[key] = r
	}
	e := w.server(t)
	registered := map[string]bool{}
	for _, rt := range e.Routes() {
		key := rt.Method + " " + rt.Path
		registered[key] = true
		if _, ok := rows[key]; !ok {
			t.Errorf("route %s has no row in the authorization matrix (authzRows)", key)
		}
	}
	for key := range rows {
		if !registered[key] {
			t.Errorf("the matrix has a row for %s, which is not a route", key)
		}
	}
	for _, r := range authzRows {
		t.Run(r.method+" "+r.route, func(t *testing.T) {
			e := w.server(t)
			order := make([]caller, 0, nCallers)
			for c := range nCallers {
				order = append(order, c)
			}
			slices.SortStableFunc(order, func(a, b caller) int { return boolInt(r.want(a) < 400) - boolInt(r.want(b) < 400) })
			for _, c := range order {
				req := r.request(w, c)
				rec := httptest.NewRecorder()
				e.ServeHTTP(rec, req)
				if want := r.want(c); rec.Code != want {
					body, _ := io.ReadAll(rec.Body)
					t.Errorf("%s: %d, want %d\n%s", callerNames[c], rec.Code, want, body)
				}
				if !r.page && rec.Code >= 400 && rec.Header().Get("Content-Type") != "application/problem+json" {
					t.Errorf("%s: a refusal of type %q", callerNames[c], rec.Header().Get("Content-Type"))
				}
			}
		})
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
