package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"github.com/jdz-eco/rectify/api"
	"github.com/jdz-eco/rectify/api/web"
	"github.com/jdz-eco/rectify/seeds"
	"github.com/jdz-eco/rectify/store/blob"
	"github.com/jdz-eco/rectify/workflow"
	"github.com/jdz-eco/rectify/workflow/ledgerfile"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// serveConfig is rectify serve's configuration.
type serveConfig struct {
	// The store: bolt (the file db) or etcd (a cluster shared by replicas).
	store          string
	etcd           *etcdFlags
	evidenceDirSet bool

	db        string
	dbInit    bool
	dbCheck   string
	addr      string
	demo      bool
	logFormat string
	logLevel  slog.Level
	bodyLimit int64
	shutdown  time.Duration

	// Evidence (佐证材料) files: where they are stored, the largest accepted.
	evidenceDir      string
	evidenceMaxBytes int64

	// Supervision (督办): scanner and thresholds.
	scanInterval       time.Duration
	dueSoonDays        int
	redDays            int
	listedDays         int
	acceptDays         int
	verifyDays         int
	extensionGraceDays int
	separation         string

	// Web pages: sessions and cookies.
	sessionMaxAge time.Duration
	sessionIdle   time.Duration
	secureCookies bool
	// trustedProxies are the reverse proxies whose X-Forwarded-For names
	// the client (the sign-in throttle's address).
	trustedProxies []*net.IPNet
	// notice configures public notices and objections.
	notice *noticeFlags

	// The routine (日常调度): scheduled dispatch rounds, late reports.
	routine *routineConfig
	// Reminders: digests, immediate notices, robots and e-mail (notify.go).
	notify *notifyConfig

	// Webhooks.
	webhooks       []string
	webhookSecret  string
	webhookPoll    time.Duration
	webhookTimeout time.Duration

	// Evidence checks, site checks and look-backs (serve_checks.go).
	checks *checkFlags
}

// parseServeFlags reads serve's flags (and RECTIFY_* variables) and checks
// them.
func parseServeFlags(args []string, env Env) (serveConfig, error) {
	var cfg serveConfig
	var webhooks string
	def := workflow.DefaultPolicy()
	fs := newFlagSet("serve", env)
	fs.StringVar(&cfg.store, "store", storeBolt, "bolt (the --db file) or etcd (a cluster that several replicas share: --etcd-endpoints …)")
	cfg.etcd = addEtcdFlags(fs)
	fs.StringVar(&cfg.db, "db", "./rectify.db", "bbolt database file")
	fs.BoolVar(&cfg.dbInit, "init", false, "make an existing empty (0-byte) --db file a new ledger (a missing file is always created; an empty one is otherwise refused)")
	fs.StringVar(&cfg.dbCheck, "db-check", dbCheckFull, "how --db is checked before serving: full (every page and bbolt's consistency check, about 1 s per 1,000,000 problems) or quick (meta pages, size, freelist and the tail of the hash chain)")
	fs.StringVar(&cfg.addr, "addr", "127.0.0.1:8080", "listen address")
	fs.BoolVar(&cfg.demo, "demo", false, "create one demo user per role and print their tokens")
	fs.StringVar(&cfg.logFormat, "log-format", "text", "log format: text or json")
	fs.TextVar(&cfg.logLevel, "log-level", slog.LevelInfo, "log level: debug, info, warn, error")
	fs.Int64Var(&cfg.bodyLimit, "body-limit", 1<<20, "largest JSON request body in bytes")
	fs.DurationVar(&cfg.shutdown, "shutdown-timeout", 10*time.Second, "how long to wait for requests on shutdown")
	fs.StringVar(&cfg.evidenceDir, "evidence-dir", "", "directory of the evidence files (default: evidence beside the --db file)")
	fs.Int64Var(&cfg.evidenceMaxBytes, "evidence-max-bytes", defaultEvidenceMaxBytes, "largest evidence file accepted, in bytes (413 beyond)")

	fs.DurationVar(&cfg.scanInterval, "scan-interval", time.Minute,
		"how often to scan deadlines, also once at start; 0 disables automatic scans (POST /api/v1/deadlines/scan still works)")
	fs.IntVar(&cfg.dueSoonDays, "due-soon-days", days(def.DueSoon), "a problem is due_soon this many days before its deadline")
	fs.IntVar(&cfg.redDays, "red-days", days(def.Red), "red card (红牌) when overdue by more than this many days")
	fs.IntVar(&cfg.listedDays, "listed-days", days(def.Listed), "listed supervision (挂牌督办) when overdue by more than this many days")
	fs.IntVar(&cfg.acceptDays, "accept-days", def.AcceptDays, "working days the lead unit has to accept an assignment")
	fs.IntVar(&cfg.verifyDays, "verify-days", def.VerifyDays, "working days the inspectors have to verify or reject a submission")
	fs.IntVar(&cfg.extensionGraceDays, "extension-grace-days", days(def.ExtensionGrace),
		"days after the deadline the lead unit may still request an extension (0: only before it)")
	fs.StringVar(&cfg.separation, "separation", string(def.Separation),
		"who may not verify, reject or close: strict (nobody of the lead or a cooperating unit, nor who submitted or uploaded evidence) or lead-only (only the lead unit's inspectors, the submitter and the verifier)")

	cfg.checks = addCheckFlags(fs)
	sessions := workflow.DefaultSessionPolicy()
	fs.DurationVar(&cfg.sessionMaxAge, "session-max-age", sessions.MaxAge, "web pages: a session ends this long after sign-in")
	fs.DurationVar(&cfg.sessionIdle, "session-idle", sessions.Idle, "web pages: a session ends after this long without a request")
	fs.BoolVar(&cfg.secureCookies, "secure-cookies", false, "web pages: always mark cookies Secure (behind a TLS-terminating proxy); otherwise only over TLS")

	var proxies string
	fs.StringVar(&proxies, "trusted-proxies", "", "reverse proxies (CIDR ranges or addresses, comma-separated) whose X-Forwarded-For names the client; otherwise the client is the connection's peer")

	cfg.routine = addRoutineFlags(fs)
	cfg.notify = addNotifyFlags(fs)
	cfg.notice = addNoticeFlags(fs)

	fs.StringVar(&webhooks, "webhook", "", "comma-separated URLs to POST every history event to (signed; needs --webhook-secret)")
	fs.StringVar(&cfg.webhookSecret, "webhook-secret", "", "HMAC-SHA256 key of the X-Rectify-Signature header; prefer RECTIFY_WEBHOOK_SECRET")
	fs.DurationVar(&cfg.webhookPoll, "webhook-poll-interval", time.Second, "how often to look for new events to deliver")
	fs.DurationVar(&cfg.webhookTimeout, "webhook-timeout", 10*time.Second, "how long to wait for a webhook endpoint to answer")
	if err := parseFlags(fs, args, env); err != nil {
		return cfg, err
	}
	cfg.webhooks = splitList(webhooks)
	var err error
	if cfg.trustedProxies, err = api.ParseTrustedProxies(proxies); err != nil {
		return cfg, fmt.Errorf("--trusted-proxies: %w", err)
	}
	cfg.evidenceDirSet = cfg.evidenceDir != ""
	if cfg.evidenceDir == "" {
		cfg.evidenceDir = defaultEvidenceDir(cfg.db)
	}
	return cfg, cfg.check()
}

// check refuses inconsistent settings before anything is opened.
func (c serveConfig) check() error {
	if err := c.checkStore(); err != nil {
		return err
	}
	if c.dbCheck != dbCheckFull && c.dbCheck != dbCheckQuick {
		return fmt.Errorf("--db-check %q: %s or %s", c.dbCheck, dbCheckFull, dbCheckQuick)
	}
	if c.evidenceMaxBytes <= 0 {
		return errors.New("--evidence-max-bytes must be positive")
	}
	if c.scanInterval < 0 {
		return errors.New("--scan-interval must not be negative (0 disables automatic scans)")
	}
	if _, err := c.policy(); err != nil {
		return err
	}
	if _, err := c.checks.policy(); err != nil {
		return err
	}
	if _, err := c.routine.roundSchedules(); err != nil {
		return err
	}
	if err := c.notify.check(); err != nil {
		return err
	}
	if _, err := c.notice.policy(); err != nil {
		return err
	}
	if err := c.routine.letters().Validate(); err != nil {
		return fmt.Errorf("--letter-number-format, --letter-office: %w", err)
	}
	if err := c.sessionPolicy().Validate(); err != nil {
		return errors.New("--session-max-age and --session-idle must be positive, the idle timeout no longer than the maximum age")
	}
	if len(c.webhooks) > 0 && c.webhookSecret == "" {
		return errors.New("--webhook needs --webhook-secret (or RECTIFY_WEBHOOK_SECRET): every delivery is signed with it")
	}
	if len(c.webhooks) > 0 && (c.webhookPoll <= 0 || c.webhookTimeout <= 0) {
		return errors.New("--webhook-poll-interval and --webhook-timeout must be positive")
	}
	return nil
}

// policyFlags names the flags behind each field workflow.Policy.Validate
// may refuse.
var policyFlags = map[string]string{
	"due_soon":        "--due-soon-days",
	"red":             "--red-days and --listed-days",
	"accept_days":     "--accept-days and --verify-days",
	"extension_grace": "--extension-grace-days",
	"separation":      "--separation",
}

// policy returns the supervision thresholds the flags set, checked.
func (c serveConfig) policy() (workflow.Policy, error) {
	p := workflow.Policy{
		DueSoon:        time.Duration(c.dueSoonDays) * workflow.Day,
		Red:            time.Duration(c.redDays) * workflow.Day,
		Listed:         time.Duration(c.listedDays) * workflow.Day,
		AcceptDays:     c.acceptDays,
		VerifyDays:     c.verifyDays,
		ExtensionGrace: time.Duration(c.extensionGraceDays) * workflow.Day,
		Separation:     workflow.Separation(c.separation),
	}
	if err := p.Validate(); err != nil {
		var e *workflow.Error
		if errors.As(err, &e) && policyFlags[e.Field] != "" {
			return p, fmt.Errorf("%s: %s", policyFlags[e.Field], e.Message)
		}
		return p, err
	}
	return p, nil
}

// sessionPolicy returns the web sessions' life the flags set.
func (c serveConfig) sessionPolicy() workflow.SessionPolicy {
	return workflow.SessionPolicy{MaxAge: c.sessionMaxAge, Idle: c.sessionIdle}
}

// defaultEvidenceMaxBytes is the default of --evidence-max-bytes: 32 MiB.
const defaultEvidenceMaxBytes = 32 << 20

// defaultEvidenceDir is where the evidence files of the database at db are
// kept unless --evidence-dir says otherwise: the directory evidence beside
// the database file (./rectify.db → ./evidence, /data/rectify.db →
// /data/evidence), so that one volume or one copy holds both.
func defaultEvidenceDir(db string) string {
	return filepath.Join(filepath.Dir(db), "evidence")
}

// days is d in whole days.
func days(d time.Duration) int { return int(d / workflow.Day) }

// splitList splits a comma-separated list, dropping blanks.
func splitList(s string) []string {
	var out []string
	for f := range strings.SplitSeq(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func runServe(ctx context.Context, args []string, env Env) error {
	cfg, err := parseServeFlags(args, env)
	if err != nil {
		return err
	}
	log, err := newLogger(env, cfg.logFormat, cfg.logLevel)
	if err != nil {
		return err
	}
	// Bind the address first: a port in use stops the server before it
	// creates, seeds or writes anything (no database file, no demo tokens).
	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return fmt.Errorf("--addr: %w", err)
	}
	defer ln.Close() // a no-op once the server has closed it

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	metrics := api.NewMetrics(reg)
	st, err := openServed(ctx, cfg, metrics, log)
	if err != nil {
		return err
	}
	defer st.Close()
	// The service and the dispatcher get the store itself, not the
	// wrapper: the service finds Accounts and Backuper on it.
	svc, err := newService(ctx, st.Store, cfg, log)
	if err != nil {
		return err
	}
	if err := svc.SetLetterConfig(cfg.routine.letters()); err != nil {
		return err
	}
	if missing := workflow.MissingCapabilities(st.Store); len(missing) > 0 {
		log.Warn("the store lacks capabilities: their features are off or slower (workflow/store.go)", "missing", missing)
	}
	blobs, err := blob.Open(cfg.evidenceDir)
	if err != nil {
		return fmt.Errorf("--evidence-dir: %w", err)
	}
	svc.SetBlobs(blobs)
	log.Info("evidence", "dir", cfg.evidenceDir, "max_bytes", cfg.evidenceMaxBytes)
	// Build the dispatcher before anything is written, so that a bad URL
	// stops the server at once.
	dispatcher, err := newDispatcher(cfg, st.Store, log, reg)
	if err != nil {
		return err
	}
	if loaded, rep, err := seedIfEmpty(ctx, svc); err != nil {
		return fmt.Errorf("load seed data: %w", err)
	} else if loaded {
		log.Info("loaded seed data", "report", rep)
	}
	// Users a database held before its account log are recorded in it
	// once, so that the audit covers them.
	if wrote, err := svc.RecordAccountBaseline(ctx); err != nil {
		return fmt.Errorf("account log baseline: %w", err)
	} else if wrote {
		log.Info("recorded the existing accounts in the account log (baseline)")
	}
	if cfg.demo {
		if err := createDemoUsers(ctx, svc, env.Stdout); err != nil {
			return fmt.Errorf("demo users: %w", err)
		}
	}

	// The scanner and the dispatcher stop (deferred, so before the store
	// closes) once the HTTP server has drained. A panic in them, as in a
	// request, makes the replica not ready.
	panics := &api.Panics{}
	bg := startBackground(ctx, panics, log)
	defer bg.stop()
	defer st.handOverOnShutdown(ctx, bg)()
	st.runSealer(bg, log)
	if cfg.scanInterval > 0 {
		sc := &scanner{svc: svc, interval: cfg.scanInterval, log: log, observe: metrics.ObserveScan}
		st.runLeading(bg, "scanner", log, sc.run)
	}
	if dispatcher != nil {
		st.runLeading(bg, "webhook-dispatcher", log, dispatcher.Run)
	}
	observe, err := routineMetrics(reg)
	if err != nil {
		return err
	}
	deliveries, digests, err := cfg.notify.reminders(svc, log, observe)
	if err != nil {
		return err
	}
	if deliveries != nil {
		st.runLeading(bg, "notify", log, deliveries.Run)
	}
	rt, err := newRoutine(cfg.routine, svc, log, observe, digests...)
	if err != nil {
		return err
	}
	if rt != nil {
		st.runLeading(bg, "routine", log, rt.Run)
	}

	// Ledger imports run as jobs the API and the pages share; a job still
	// running at shutdown is cancelled and writes nothing.
	imports := ledgerfile.NewJobs(svc, log)
	defer imports.Close()
	// One limit of public objections for the API and the pages.
	objections := api.NewObjectionLimiter(svc, cfg.notice.objections)
	pages, err := web.New(web.Config{
		Objections:       objections,
		Imports:          imports,
		UnitAliases:      seeds.ResolveUnit,
		Service:          svc,
		Logger:           log,
		Sessions:         cfg.sessionPolicy(),
		SecureCookies:    cfg.secureCookies,
		EvidenceMaxBytes: cfg.evidenceMaxBytes,
	})
	if err != nil {
		return err
	}
	handler := api.New(api.Config{
		Service:   svc,
		Logger:    log,
		Metrics:   metrics,
		Gatherer:  reg,
		BodyLimit: cfg.bodyLimit,
		// Uploads are limited by this, not by BodyLimit.
		EvidenceMaxBytes: cfg.evidenceMaxBytes,
		Checks:           append([]api.Check{st.readyCheck(svc)}, st.checks()...),
		Panics:           panics,
		// Ledger imports know units by the names the plan uses too.
		UnitAliases: seeds.ResolveUnit,
		Imports:     imports,
		// The web pages for the bureau, the units and the inspectors.
		Web:            pages,
		TrustedProxies: cfg.trustedProxies,
		Objections:     objections,
	})
	return serveHTTP(ctx, cfg, ln, handler, log, env)
}

// newService returns the workflow service on st with the configured
// supervision policy and the working-day calendars (shipped and stored).
func newService(ctx context.Context, st workflow.Store, cfg serveConfig, log *slog.Logger) (*workflow.Service, error) {
	svc := workflow.NewService(st, workflow.SystemClock{})
	pol, err := cfg.policy()
	if err != nil {
		return nil, err
	}
	if err := svc.SetPolicy(pol); err != nil {
		return nil, err
	}
	if err := cfg.checks.apply(svc); err != nil {
		return nil, err
	}
	svc.SetAddressCheck(cfg.notify.guard().AddressCheck())
	np, err := cfg.notice.policy()
	if err != nil {
		return nil, err
	}
	if err := svc.SetNoticePolicy(np); err != nil {
		return nil, err
	}
	if err := svc.LoadCalendars(ctx, seeds.Calendars()); err != nil {
		return nil, fmt.Errorf("load calendars: %w", err)
	}
	log.Info("supervision", "policy", fmt.Sprintf("%+v", pol), "calendar", svc.Calendar().String(), "scan_interval", cfg.scanInterval)
	return svc, nil
}

// serveHTTP serves handler on ln until ctx ends, then shuts down
// gracefully.
func serveHTTP(ctx context.Context, cfg serveConfig, ln net.Listener, handler http.Handler, log *slog.Logger, env Env) error {
	// No WriteTimeout: it bounds a whole response, and would cut a large
	// evidence download (GET /api/v1/evidence/{sha256}) to a slow client;
	// the backup handler sets a write window of its own. ReadTimeout stays:
	// the evidence upload handler widens it for its request once the caller
	// is known to be allowed to send a file (up to --evidence-max-bytes).
	// Slow clients are otherwise bounded by ReadHeaderTimeout, ReadTimeout and
	// IdleTimeout, and every handler by its request's context.
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	store := cfg.db
	if cfg.store == storeEtcd {
		store = cfg.etcd.describe()
	}
	log.Info("rectify listening", "addr", "http://"+ln.Addr().String(), "store", cfg.store, "db", store)
	if env.Listening != nil {
		env.Listening(ln.Addr())
	}

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), cfg.shutdown)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
