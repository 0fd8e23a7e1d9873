// Package web is rectify's web pages for the bureau, the units' officers,
// the inspectors and the city's leaders: server-rendered html/template pages
// in Chinese, with every asset embedded and no JavaScript, readable on a
// phone. It is mounted beside the JSON API by api.New (Config.Web) and, like
// the API, only calls the workflow service.
//
// Users sign in with a name and a password (argon2id, password.go) and get
// a session cookie (HttpOnly, SameSite=Strict, Secure over TLS) naming a
// session kept in the store (workflow.Accounts), so that any replica can
// serve it; every form carries the session's CSRF token, and wrong passwords
// are slowed down (throttle.go). API tokens are not accepted here, and
// cookies are not accepted by the API.
//
// Routes:
//
//	GET  /                                      start page for the user's role
//	GET  /login, POST /login, POST /logout      sign-in and sign-out
//	GET  /password, POST /password              change one's password
//	GET  /ledger                                台账: filters and pages
//	GET  /ledger.xlsx                           the same filter as an Excel workbook
//	GET  /stats                                 统计: SVG charts and the work point table
//	GET  /briefings, /briefings.xlsx, .docx     通报 (bureau, viewers): printable, with SVG charts; as a workbook; as a document
//	POST /workpoints/:number/unit-groups        the units a work point's unit group stands for (bureau)
//	GET  /workpoints/:number                    a work point: its units, targets, problems and report history
//	GET  /rounds, POST /rounds                  调度: the rounds; the bureau opens one
//	GET  /rounds/:id                            a round's board (missing units marked) and the unit's report forms
//	POST /rounds/:id/reports                    a unit's report (or its amendment)
//	GET  /rounds/:id/summary.xlsx               the round's 调度汇总表
//	GET  /letters, POST /letters                督办函: the letters; the bureau issues one, sees its drafts
//	GET  /letters/:id                           a letter as printed (print CSS), the unit's reply form, a draft's issue and discard
//	GET  /letters/:id.docx                      the letter as a Word document
//	POST /letters/:id/reply                     the addressed unit's reply
//	POST /letters/:id/issue, /letters/:id/discard  the bureau issues or discards a draft
//	POST /problems                              新增问题 (bureau)
//	GET  /problems/:id                          问题详情 with the forms the user may use
//	POST /problems/:id/fire                     a trigger with its parameters
//	POST /problems/:id/notes                    a progress note
//	POST /problems/:id/evidence                 an evidence file (multipart, streamed)
//	POST /problems/:id/extensions               an extension request
//	POST /problems/:id/extensions/:ext/decision the bureau's decision
//	POST /problems/:id/site-checks              an inspector's site check (现场核查)
//	POST /problems/:id/position                 the bureau sets the coordinates
//	POST /problems/:id/lookback                 an inspector confirms a look-back (回头看)
//	GET  /evidence/:sha256                      an evidence file (?download=1 to save)
//	GET  /users, GET /users/:id                 用户管理 (admins): users, tokens, the account log
//	POST /users/:id/disable, …/enable           停用, 启用
//	POST /users/:id/password                    重置密码 (and revoke the user's tokens)
//	POST /users/:id/tokens                      a new token, shown once
//	POST /users/:id/tokens/:token/revoke|rotate 吊销, 轮换
//	GET  /admin/reminders                       提醒 (admins): units' robots, users' e-mail, the delivery log
//	POST /admin/reminders/units/:id, …/users/:id set a unit's robots, a user's e-mail address
//	GET  /static/*                              CSS and icon
package web

import (
	"crypto/rand"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/jdz-eco/rectify/api/ratelimit"
	"github.com/jdz-eco/rectify/workflow"
	"github.com/jdz-eco/rectify/workflow/ledgerfile"
)

//go:embed templates/*.html static/*
var assets embed.FS

// Config configures the web pages.
type Config struct {
	// Service runs the workflow; required, on a store with workflow.Accounts.
	Service *workflow.Service
	// Logger receives what the pages log (failed sign-ins, streaming
	// failures); nil discards.
	Logger *slog.Logger
	// Sessions bounds a session's life; zero means
	// workflow.DefaultSessionPolicy.
	Sessions workflow.SessionPolicy
	// SecureCookies marks cookies Secure on every request, for a server
	// behind a TLS-terminating proxy; without it they are Secure only when
	// the request came over TLS.
	SecureCookies bool
	// EvidenceMaxBytes is the largest evidence file; 0 means 32 MiB.
	EvidenceMaxBytes int64
	// Throttle slows down wrong passwords (zero fields take the defaults).
	Throttle ThrottleConfig
	// Argon2 are the parameters of new password hashes; zero means
	// DefaultArgon2.
	Argon2 Argon2Params
	// Clock is the time of the sign-in throttle; nil means the service's.
	Clock workflow.Clock
	// Imports runs ledger imports as jobs (shared with the API); nil: New
	// starts its own.
	Imports *ledgerfile.Jobs
	// UnitAliases resolves other unit names in ledger imports (see
	// api.Config.UnitAliases).
	UnitAliases func(string) (string, bool)
	// Objections limits public objections per client address, shared
	// with the API; nil: 10 an hour of its own.
	Objections *ratelimit.Limiter
}

// Web serves the pages; it implements api.Web.
type Web struct {
	svc         *workflow.Service
	log         *slog.Logger
	sessions    workflow.SessionPolicy
	secure      bool
	evidenceMax int64
	throttle    *throttle
	hasher      *hasher
	pages       map[string]*template.Template
	objections  *ratelimit.Limiter
	static      fs.FS
	imports     *ledgerfile.Jobs
	aliases     func(string) (string, bool)
}

// Cookie names.
const (
	cookieSession = "rectify_session"
	cookieLogin   = "rectify_login" // the sign-in form's CSRF token
	// cookieDevice and a user id name a device cookie (workflow.KnownDevice),
	// sent only to /login.
	cookieDevice = "rectify_device_"
)

// Context keys.
const (
	keyUser    = "web.user"
	keySession = "web.session"
)

// New returns the web pages on cfg.Service.
func New(cfg Config) (*Web, error) {
	if cfg.Service == nil {
		return nil, errors.New("web: Config.Service is nil")
	}
	if !cfg.Service.HasAccounts() {
		return nil, errors.New("web: the store keeps no passwords or sessions (workflow.Accounts)")
	}
	if cfg.Sessions == (workflow.SessionPolicy{}) {
		cfg.Sessions = workflow.DefaultSessionPolicy()
	}
	if err := cfg.Sessions.Validate(); err != nil {
		return nil, fmt.Errorf("web: %s", workflow.ErrorMessage(err))
	}
	if cfg.Argon2 == (Argon2Params{}) {
		cfg.Argon2 = DefaultArgon2
	}
	if cfg.EvidenceMaxBytes <= 0 {
		cfg.EvidenceMaxBytes = 32 << 20
	}
	if cfg.Clock == nil {
		cfg.Clock = cfg.Service.Clock()
	}
	w := &Web{
		svc: cfg.Service, log: cfg.Logger, sessions: cfg.Sessions, secure: cfg.SecureCookies,
		evidenceMax: cfg.EvidenceMaxBytes, throttle: newThrottle(cfg.Throttle, cfg.Clock),
		imports: cfg.Imports, aliases: cfg.UnitAliases,
	}
	if w.log == nil {
		w.log = slog.New(slog.DiscardHandler)
	}
	if w.imports == nil {
		w.imports = ledgerfile.NewJobs(w.svc, w.log)
	}
	w.objections = cfg.Objections
	if w.objections == nil {
		w.objections = ratelimit.New(10, time.Hour, cfg.Clock.Now)
	}
	var err error
	if w.hasher, err = newHasher(cfg.Argon2, min(runtime.NumCPU(), 4)); err != nil {
		return nil, err
	}
	if w.pages, err = parsePages(); err != nil {
		return nil, err
	}
	if w.static, err = fs.Sub(assets, "static"); err != nil {
		return nil, err
	}
	return w, nil
}

// pageNames are the templates besides the layout, one per page.
var pageNames = []string{"login", "home", "ledger", "problem", "stats", "password", "error", "users", "user", "rounds", "round", "workpoint", "import", "importjob", "reminders", "public", "briefing", "letters", "letter"}

func parsePages() (map[string]*template.Template, error) {
	funcs := template.FuncMap{
		"fmtTime":    fmtTime,
		"fmtDate":    fmtDate,
		"fmtSize":    fmtSize,
		"levelClass": levelClass,
		"field":      workflow.FieldLabel, // a field's name in the glossary
	}
	out := map[string]*template.Template{}
	for _, name := range pageNames {
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(assets, "templates/layout.html", "templates/parts.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("web: template %s: %w", name, err)
		}
		out[name] = t
	}
	return out, nil
}

// Routes whose bodies may exceed the API's JSON limit.
const routeEvidence = "/problems/:id/evidence"

// Register adds the pages to e.
func (w *Web) Register(e *echo.Echo) {
	g := e.Group("", w.headers)
	g.GET("/static/*", w.serveStatic)
	g.GET("/login", w.loginPage)
	// The public notices (公示): no sign-in.
	g.GET("/public/", w.publicNotices)
	g.POST("/public/notices/:id/objections", w.fileObjection)
	g.POST("/login", w.login)

	auth := g.Group("", w.authenticate, w.checkCSRF)
	auth.POST("/logout", w.logout)
	auth.GET("/", w.home)
	auth.GET("/password", w.passwordPage)
	auth.POST("/password", w.changePassword)
	auth.GET("/ledger", w.ledger)
	auth.GET("/ledger.xlsx", w.ledgerExport)
	auth.GET(routeImport, w.importForm)
	auth.POST(routeImport, w.importFile)
	auth.GET("/ledger/import/:id", w.importJob)
	auth.GET("/stats", w.stats)
	auth.GET("/briefings", w.briefing)
	auth.GET("/briefings.xlsx", w.briefingXLSX)
	auth.GET("/briefings.docx", w.briefingDOCX)
	auth.POST("/workpoints/:number/unit-groups", w.resolveUnitGroup)
	auth.GET("/workpoints/:number", w.workPoint)
	auth.GET("/admin/reminders", w.reminders)
	auth.POST("/admin/reminders/units/:id", w.setUnitRobots)
	auth.POST("/admin/reminders/users/:id", w.setUserEmail)
	auth.GET("/rounds", w.rounds)
	auth.POST("/rounds", w.openRound)
	auth.GET("/rounds/:id", w.round)
	auth.POST("/rounds/:id/reports", w.fileReport)
	auth.GET("/rounds/:id/summary.xlsx", w.roundSummary)
	auth.GET("/letters", w.letters)
	auth.POST("/letters", w.issueLetter)
	auth.GET("/letters/:id", w.letter) // also :id.docx
	auth.POST("/letters/:id/reply", w.replyLetter)
	auth.POST("/letters/:id/issue", w.issueDraft)
	auth.POST("/letters/:id/discard", w.discardDraft)
	auth.POST("/problems", w.createProblem)
	auth.GET("/problems/:id", w.problem)
	auth.POST("/problems/:id/fire", w.fire)
	auth.POST("/problems/:id/notes", w.addNote)
	auth.POST(routeEvidence, w.addEvidence)
	auth.POST("/problems/:id/extensions", w.requestExtension)
	auth.POST("/problems/:id/site-checks", w.addSiteCheck)
	auth.POST("/problems/:id/position", w.setPosition)
	auth.POST("/problems/:id/lookback", w.confirmLookback)
	auth.POST("/problems/:id/extensions/:ext/decision", w.decideExtension)
	auth.POST("/problems/:id/objections/:oid/dismissal", w.dismissObjection)
	auth.POST("/problems/:id/evidence/:sha256/public", w.setEvidencePublic)
	auth.GET("/evidence/:sha256", w.evidence)
	auth.GET("/problems/:id/dossier.zip", w.dossier)
	auth.GET("/users", w.usersList)
	auth.GET("/users/:id", w.userDetail)
	auth.POST("/users/:id/disable", w.setUserDisabled(true))
	auth.POST("/users/:id/enable", w.setUserDisabled(false))
	auth.POST("/users/:id/password", w.resetPassword)
	auth.POST("/users/:id/tokens", w.issueToken)
	auth.POST("/users/:id/tokens/:token/revoke", w.revokeToken)
	auth.POST("/users/:id/tokens/:token/rotate", w.rotateToken)
}

// BodyLimit lets an evidence upload be as large as the evidence limit
// allows, and a ledger import as large as a ledger file; the upload answers
// a larger one itself.
func (w *Web) BodyLimit(route string) (int64, bool) {
	switch route {
	case routeEvidence:
		return w.evidenceMax + multipartAllowance, true
	case routeImport:
		return ledgerfile.MaxFileSize + multipartAllowance, true
	}
	return 0, false
}

// isAPI reports whether path belongs to the JSON API (or its probes).
func isAPI(path string) bool {
	switch path {
	case "/healthz", "/readyz", "/metrics":
		return true
	}
	return path == "/api" || strings.HasPrefix(path, "/api/")
}

// HandleError answers an error of a page, or of an unknown path outside the
// API, with a page in Chinese: a sign-in redirect for GET requests without
// a session, otherwise the status and a plain message. The API's request
// log has the error itself.
func (w *Web) HandleError(err error, c echo.Context) bool {
	req := c.Request()
	if isAPI(req.URL.Path) {
		return false
	}
	status, title, msg := statusOf(err), "出错了", errorText(err, w.evidenceMax)
	var he *echo.HTTPError
	if errors.As(err, &he) && he.Code < http.StatusInternalServerError {
		// echo's own refusals: no route, wrong method, a body too large.
		status, title, msg = he.Code, "请求无效", "请求无效，请返回上一页后重试。"
		switch he.Code {
		case http.StatusNotFound:
			title, msg = "页面不存在", "您访问的页面不存在。"
		case http.StatusMethodNotAllowed:
			title, msg = "操作无效", "该页面不支持此操作。"
		case http.StatusRequestEntityTooLarge:
			title, msg = "内容过大", "提交的内容过大。"
		}
	}
	switch status {
	case http.StatusUnauthorized:
		if req.Method == http.MethodGet || req.Method == http.MethodHead {
			_ = c.Redirect(http.StatusSeeOther, loginURL(req.URL))
			return true
		}
		title, msg = "请重新登录", "登录已过期或已退出，请重新登录后再操作。"
	case http.StatusNotFound:
		if he == nil {
			title = "未找到"
		}
	case http.StatusForbidden:
		title = "无权操作"
	case http.StatusServiceUnavailable:
		title = "暂时无法访问"
		c.Response().Header().Set("Retry-After", "1")
	}
	if err := w.render(c, status, "error", title, "", errorPage{Title: title, Message: msg, Status: status}); err != nil {
		w.log.Error("rendering the error page", "err", err)
		c.Response().WriteHeader(status)
	}
	return true
}

type errorPage struct {
	Title, Message string
	Status         int
}

// loginURL is the sign-in page that returns to u afterwards.
func loginURL(u *url.URL) string {
	next := u.RequestURI()
	if next == "/" || next == "" {
		return "/login"
	}
	return "/login?next=" + url.QueryEscape(next)
}

// safeNext returns next if it is a path on this site, else "/". A browser
// reads a URL by the WHATWG rules, not Go's: it drops tabs and newlines
// anywhere, treats a backslash as a slash and "//" as the start of another
// host, so "/\t/evil.example" leads off-site. Only a path that starts with
// one slash and holds no control character, space, backslash or non-ASCII
// character is kept (a link this site makes is percent-encoded), and it
// must parse as a bare path.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/login") {
		return "/"
	}
	for i := 0; i < len(next); i++ {
		if b := next[i]; b <= ' ' || b >= 0x7f || b == '\\' {
			return "/"
		}
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" || !strings.HasPrefix(u.Path, "/") {
		return "/"
	}
	return next
}

// headers sets the security headers of every page: nothing but this site's
// own styles and images, no scripts, no framing, no caching of pages that
// hold the ledger.
func (w *Web) headers(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		if !strings.HasPrefix(c.Request().URL.Path, "/static/") {
			h.Set(echo.HeaderCacheControl, "no-store")
		}
		return next(c)
	}
}

func (w *Web) serveStatic(c echo.Context) error {
	c.Response().Header().Set(echo.HeaderCacheControl, "public, max-age=3600")
	return echo.WrapHandler(http.StripPrefix("/static/", http.FileServerFS(w.static)))(c)
}

// authenticate requires a live session: GET requests without one are sent
// to the sign-in page, others refused (401).
func (w *Web) authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		ck, err := c.Cookie(cookieSession)
		if err != nil || ck.Value == "" {
			return workflow.Refuse(workflow.ReasonSessionEnded, "not signed in")
		}
		u, ss, err := w.svc.SessionUser(c.Request().Context(), ck.Value, w.sessions)
		if err != nil {
			if workflow.ErrorCode(err) == workflow.CodeUnauthorized {
				w.clearCookie(c, cookieSession, "/")
			}
			return err
		}
		c.Set(keyUser, u)
		c.Set(keySession, ss)
		return next(c)
	}
}

// checkCSRF refuses a POST that another site could have sent: one whose
// Origin is not this site, or whose form lacks the session's CSRF token.
// An evidence upload (multipart) checks its token as it reads the body.
func (w *Web) checkCSRF(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		if req.Method == http.MethodGet || req.Method == http.MethodHead {
			return next(c)
		}
		if err := sameOrigin(req); err != nil {
			return err
		}
		if c.Path() == routeEvidence || c.Path() == routeImport {
			return next(c) // the upload checks the token before the file
		}
		if !w.validCSRF(c, c.FormValue("csrf")) {
			return errCSRF()
		}
		return next(c)
	}
}

func errCSRF() error {
	return workflow.Refuse(workflow.ReasonCSRF, "csrf: the form's token is missing or wrong")
}

// sameOrigin refuses a request a browser marks as sent from another site.
func sameOrigin(req *http.Request) error {
	if s := req.Header.Get("Sec-Fetch-Site"); s == "cross-site" || s == "same-site" {
		return errCSRF()
	}
	if o := req.Header.Get("Origin"); o != "" {
		u, err := url.Parse(o)
		if err != nil || u.Host != req.Host {
			return errCSRF()
		}
	}
	return nil
}

func (w *Web) validCSRF(c echo.Context, token string) bool {
	ss := session(c)
	return ss != nil && token != "" && subtle.ConstantTimeCompare([]byte(token), []byte(ss.CSRF)) == 1
}

func user(c echo.Context) *workflow.User {
	u, _ := c.Get(keyUser).(*workflow.User)
	return u
}

func session(c echo.Context) *workflow.Session {
	s, _ := c.Get(keySession).(*workflow.Session)
	return s
}

func actor(c echo.Context) workflow.Actor {
	u := user(c)
	if u == nil {
		panic("web: page without a session")
	}
	return u.Actor()
}

// page is what the layout needs, with the page's own data.
type page struct {
	Title    string
	Nav      string
	User     *workflow.User
	UnitName string
	RoleName string
	CSRF     string
	Flash    string
	Data     any
}

// render writes page name with status.
func (w *Web) render(c echo.Context, status int, name, title, nav string, data any) error {
	p := page{Title: title, Nav: nav, Data: data}
	if u := user(c); u != nil {
		p.User = u
		p.RoleName = u.Role.Label()
		if unit, err := w.svc.Unit(c.Request().Context(), u.UnitID); err == nil {
			p.UnitName = unit.Name
		}
	}
	if ss := session(c); ss != nil {
		p.CSRF = ss.CSRF
	}
	if done := c.QueryParam("done"); done != "" {
		p.Flash = doneMessage(done)
	}
	var b strings.Builder
	if err := w.pages[name].ExecuteTemplate(&b, "layout", p); err != nil {
		return fmt.Errorf("web: render %s: %w", name, err)
	}
	return c.HTML(status, b.String())
}

// doneMessage is the notice after a form succeeded (redirect ?done=…).
func doneMessage(done string) string {
	switch done {
	case "create":
		return "问题已登记。"
	case "note":
		return "进展已填报。"
	case "evidence":
		return "佐证材料已上传。"
	case "extension":
		return "延期申请已提交，等待市生态环境局审批。"
	case "decision":
		return "延期申请已审批。"
	case "dismissal":
		return "已认定异议不成立。"
	case "public":
		return "照片公开设置已保存。"
	case "uphold_objection":
		return "已认定异议成立，问题退回整改。"
	case "unit-group":
		return "已明确单位组所指的单位。"
	case "reminder-contact":
		return "提醒联系方式已保存。"
	case "user-disable":
		return "用户已停用，其登录和 API 令牌已失效。"
	case "user-enable":
		return "用户已启用。"
	case "user-password":
		return "密码已重置。"
	case "token-revoke":
		return "令牌已吊销。"
	case "site_check":
		return "现场核查已登记。"
	case "position":
		return "问题位置已更新。"
	case "lookback":
		return "回头看已确认。"
	case "round":
		return "调度已发起。"
	case "report":
		return "已报送。"
	case "letter":
		return "督办函已签发。"
	case "letter-issue":
		return "草稿已签发。"
	case "letter-discard":
		return "草稿已作废。"
	case "letter-reply":
		return "已回复。"
	}
	if t := workflow.Trigger(done); t.Valid() {
		return "已完成：" + t.Label() + "。"
	}
	return ""
}

// setCookie sets a cookie of this site: HttpOnly, SameSite=Strict, Secure
// over TLS (or always, with Config.SecureCookies). maxAge 0 makes it last
// until the browser closes.
func (w *Web) setCookie(c echo.Context, name, value, path string, maxAge int) {
	c.SetCookie(&http.Cookie{
		Name: name, Value: value, Path: path, MaxAge: maxAge,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: w.secure || c.IsTLS(),
	})
}

func (w *Web) clearCookie(c echo.Context, name, path string) {
	w.setCookie(c, name, "", path, -1)
}

func randomToken() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// waitText says, in Chinese, how long to wait.
func waitText(d time.Duration) string {
	if d < time.Minute {
		return fmt.Sprintf("%d 秒", int((d+time.Second-1)/time.Second))
	}
	return fmt.Sprintf("%d 分钟", int((d+time.Minute-1)/time.Minute))
}
