package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/jdz-eco/rectify/api"
	"github.com/jdz-eco/rectify/seeds"
	"github.com/jdz-eco/rectify/store/blob"
	"github.com/jdz-eco/rectify/store/bolt"
	"github.com/jdz-eco/rectify/workflow"
)

// The server rectify bench starts in-process: the same wiring as serve, on
// a temporary database with users of each role and its problems created
// beforehand.

// benchLocal is the in-process server the bench starts.
type benchLocal struct {
	dir, dbPath string
	st          *bolt.Store
	svc         *workflow.Service
	blobs       *blob.Store
	actors      [3]workflow.Actor // bureau, unit, inspector
	tokens      []string
	url         string
	stopServer  func()
	keep        bool
	county      string
}

func startBenchLocal(ctx context.Context, cfg benchConfig, env Env) (_ *benchLocal, err error) {
	dir, err := os.MkdirTemp(cfg.dir, "rectify-bench-")
	if err != nil {
		return nil, err
	}
	l := &benchLocal{dir: dir, dbPath: filepath.Join(dir, "rectify.db"), keep: cfg.keep, county: cfg.county}
	defer func() {
		if err != nil {
			l.close()
		}
	}()
	quiet := Env{Stderr: env.Stderr, Getenv: func(string) string { return "" }}
	sargs := []string{"--db", l.dbPath, "--addr", "127.0.0.1:0", "--scan-interval", "0"}
	if cfg.evidence != "" {
		sargs = append(sargs, "--evidence-dir", cfg.evidence)
	}
	scfg, err := parseServeFlags(sargs, quiet)
	if err != nil {
		return nil, err
	}
	log := slog.New(slog.DiscardHandler)
	reg := prometheus.NewRegistry()
	metrics := api.NewMetrics(reg)
	if l.st, err = openStore(l.dbPath, bolt.Options{ObserveCommit: metrics.ObserveCommit, MaxGroup: cfg.maxGroup}); err != nil {
		return nil, err
	}
	if l.svc, err = newService(ctx, l.st, scfg, log); err != nil {
		return nil, err
	}
	if l.blobs, err = blob.Open(scfg.evidenceDir); err != nil {
		return nil, err
	}
	l.svc.SetBlobs(l.blobs)
	if _, _, err := seedIfEmpty(ctx, l.svc); err != nil {
		return nil, fmt.Errorf("load seed data: %w", err)
	}
	system := workflow.Actor{ID: "system", Name: "rectify bench", Role: workflow.RoleSystem}
	users := []workflow.NewUser{
		{Name: "压测-生态环境局", Role: workflow.RoleBureau, UnitID: seeds.BureauUnitID},
		{Name: "压测-浮梁县整改专员", Role: workflow.RoleUnit, UnitID: seeds.FuliangUnitID},
		{Name: "压测-验收员", Role: workflow.RoleInspector, UnitID: seeds.OfficeUnitID},
	}
	for i, nu := range users {
		u, token, err := l.svc.CreateUser(ctx, system, nu)
		if err != nil {
			return nil, fmt.Errorf("bench user: %w", err)
		}
		l.actors[i] = u.Actor()
		l.tokens = append(l.tokens, token)
	}
	handler := api.New(api.Config{
		Service: l.svc, Logger: log, Metrics: metrics, Gatherer: reg,
		BodyLimit: scfg.bodyLimit, EvidenceMaxBytes: scfg.evidenceMaxBytes,
	})
	ln, err := net.Listen("tcp", scfg.addr)
	if err != nil {
		return nil, fmt.Errorf("bench server: %w", err)
	}
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	addrs := make(chan net.Addr, 1)
	served := make(chan error, 1)
	senv := Env{Stderr: env.Stderr, Listening: func(a net.Addr) { addrs <- a }}
	go func() { served <- serveHTTP(sctx, scfg, ln, handler, log, senv) }()
	select {
	case a := <-addrs:
		l.url = "http://" + a.String()
	case err := <-served:
		cancel()
		return nil, fmt.Errorf("bench server: %w", err)
	}
	l.stopServer = func() {
		cancel()
		<-served
	}
	return l, nil
}

func (l *benchLocal) close() {
	if l.stopServer != nil {
		l.stopServer()
	}
	if l.st != nil {
		_ = l.st.Close()
	}
	if !l.keep {
		_ = os.RemoveAll(l.dir)
	}
}

// create makes cfg.problems problems through the service, concurrently, and
// returns them.
func (l *benchLocal) create(ctx context.Context, cfg benchConfig, progress func(string, ...any)) (idSource, error) {
	var lo, hi atomic.Uint64
	lo.Store(^uint64(0))
	err := createConcurrently(ctx, cfg, progress, func(ctx context.Context, i int) error {
		p, _, err := l.svc.CreateProblem(ctx, l.actors[0], benchProblem(i, cfg.county))
		if err != nil {
			return err
		}
		n, _ := workflow.ParseProblemID(p.ID)
		for v := lo.Load(); n < v && !lo.CompareAndSwap(v, n); v = lo.Load() {
		}
		for v := hi.Load(); n > v && !hi.CompareAndSwap(v, n); v = hi.Load() {
		}
		return nil
	})
	if err != nil {
		return idSource{}, err
	}
	// Nothing else creates problems in the bench's own database, so the
	// numbers are consecutive.
	if hi.Load()-lo.Load()+1 != uint64(cfg.problems) {
		return idSource{}, fmt.Errorf("bench: created problems %d to %d, not %d consecutive numbers", lo.Load(), hi.Load(), cfg.problems)
	}
	return idSource{first: lo.Load(), count: uint64(cfg.problems)}, nil
}
