package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/jdz-eco/rectify/api"
	"github.com/jdz-eco/rectify/store/bolt"
	"github.com/jdz-eco/rectify/workflow"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// serveConfig is rectify serve's configuration.
type serveConfig struct {
	db        string
	addr      string
	demo      bool
	logFormat string
	logLevel  slog.Level
	bodyLimit int64
	shutdown  time.Duration
}

func runServe(ctx context.Context, args []string, env Env) error {
	var cfg serveConfig
	fs := newFlagSet("serve", env)
	fs.StringVar(&cfg.db, "db", "./rectify.db", "bbolt database file")
	fs.StringVar(&cfg.addr, "addr", "127.0.0.1:8080", "listen address")
	fs.BoolVar(&cfg.demo, "demo", false, "create one demo user per role and print their tokens")
	fs.StringVar(&cfg.logFormat, "log-format", "text", "log format: text or json")
	fs.TextVar(&cfg.logLevel, "log-level", slog.LevelInfo, "log level: debug, info, warn, error")
	fs.Int64Var(&cfg.bodyLimit, "body-limit", 1<<20, "largest JSON request body in bytes")
	fs.DurationVar(&cfg.shutdown, "shutdown-timeout", 10*time.Second, "how long to wait for requests on shutdown")
	if err := parseFlags(fs, args, env); err != nil {
		return err
	}
	log, err := newLogger(env, cfg.logFormat, cfg.logLevel)
	if err != nil {
		return err
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	metrics := api.NewMetrics(reg)
	st, err := openStore(cfg.db, bolt.Options{ObserveCommit: metrics.ObserveCommit})
	if err != nil {
		return err
	}
	defer st.Close()
	svc := workflow.NewService(st, workflow.SystemClock{})

	if loaded, rep, err := seedIfEmpty(ctx, svc); err != nil {
		return fmt.Errorf("load seed data: %w", err)
	} else if loaded {
		log.Info("loaded seed data", "report", rep)
	}
	if cfg.demo {
		if err := createDemoUsers(ctx, svc, env.Stdout); err != nil {
			return fmt.Errorf("demo users: %w", err)
		}
	}

	handler := api.New(api.Config{
		Service:   svc,
		Logger:    log,
		Metrics:   metrics,
		Gatherer:  reg,
		BodyLimit: cfg.bodyLimit,
		Ready: func(ctx context.Context) error {
			_, err := svc.Units(ctx)
			return err
		},
	})
	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute,
		WriteTimeout:      time.Minute,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	log.Info("rectify listening", "addr", "http://"+ln.Addr().String(), "db", cfg.db)
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
