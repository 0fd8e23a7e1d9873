package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"sync"
	"time"

	"github.com/jdz-eco/rectify/api"
	"github.com/jdz-eco/rectify/workflow"
	"github.com/jdz-eco/rectify/workflow/webhook"
	"github.com/prometheus/client_golang/prometheus"
)

// background runs the server's long-lived goroutines (deadline scanner,
// webhook dispatcher) on a context of their own, so that they keep going
// while the HTTP server drains and stop only when told to.
type background struct {
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	panics *api.Panics
	log    *slog.Logger
}

// startBackground returns a background whose context carries parent's
// values but not its cancellation. A panic in one of its goroutines ends
// that goroutine, is logged with its stack and recorded in panics.
func startBackground(parent context.Context, panics *api.Panics, log *slog.Logger) *background {
	ctx, cancel := context.WithCancel(context.WithoutCancel(parent))
	return &background{ctx: ctx, cancel: cancel, panics: panics, log: log}
}

// run starts f; f must return soon after its context ends.
func (b *background) run(f func(context.Context)) {
	b.wg.Go(func() {
		defer func() {
			if r := recover(); r != nil {
				b.log.Error("background task panicked; the server is not ready until it is restarted", "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
				b.panics.Record("a background task", r)
			}
		}()
		f(b.ctx)
	})
}

// stop cancels every goroutine and waits for them.
func (b *background) stop() {
	b.cancel()
	b.wg.Wait()
}

// scanner records due deadline alerts: once at start, then every interval.
type scanner struct {
	svc      *workflow.Service
	interval time.Duration
	log      *slog.Logger
	observe  func(changes int, err error) // metrics; may be nil
}

// run scans until ctx ends.
func (s *scanner) run(ctx context.Context) {
	s.scan(ctx)
	t := time.NewTicker(s.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.scan(ctx)
		}
	}
}

// scan runs one scan and reports it.
func (s *scanner) scan(ctx context.Context) {
	start := time.Now()
	n, err := s.svc.Scan(ctx)
	if err != nil && ctx.Err() != nil {
		return // interrupted by shutdown; the next start scans again
	}
	if s.observe != nil {
		s.observe(n, err)
	}
	took := time.Since(start)
	// The look-back draw (回头看) rides on the scan, on the leader only.
	if drawn, lerr := s.svc.DrawLookbacks(ctx); lerr != nil && ctx.Err() == nil {
		s.log.Error("look-back draw failed", "err", lerr, "drawn", drawn)
	} else if drawn > 0 {
		s.log.Info("look-back draw", "drawn", drawn)
	}
	switch {
	case err != nil:
		s.log.Error("deadline scan failed", "err", err, "changes", n, "took", took)
	case n > 0:
		s.log.Info("deadline scan", "changes", n, "took", took)
	default:
		s.log.Debug("deadline scan", "changes", 0, "took", took)
	}
}

// newDispatcher returns the webhook dispatcher cfg asks for, or nil when no
// webhook is configured. Its attempts are counted in reg.
func newDispatcher(cfg serveConfig, st webhook.Outbox, log *slog.Logger, reg prometheus.Registerer) (*webhook.Dispatcher, error) {
	if len(cfg.webhooks) == 0 {
		return nil, nil
	}
	attempts := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "rectify_webhook_attempts_total",
		Help: "Webhook delivery attempts, by result (ok or error).",
	}, []string{"result"})
	if err := reg.Register(attempts); err != nil {
		return nil, fmt.Errorf("webhook metrics: %w", err)
	}
	d, err := webhook.New(webhook.Config{
		Outbox:       st,
		URLs:         cfg.webhooks,
		Secret:       []byte(cfg.webhookSecret),
		Client:       &http.Client{Timeout: cfg.webhookTimeout},
		Logger:       log.With("component", "webhook"),
		Jitter:       true,
		PollInterval: cfg.webhookPoll,
		OnAttempt: func(a webhook.Attempt) {
			result := "ok"
			if !a.OK() {
				result = "error"
			}
			attempts.WithLabelValues(result).Inc()
		},
	})
	if err != nil {
		return nil, fmt.Errorf("--webhook: %w", err)
	}
	var hosts []string
	for _, u := range cfg.webhooks {
		hosts = append(hosts, webhook.Redact(u))
	}
	log.Info("webhooks enabled", "endpoints", hosts, "poll_interval", cfg.webhookPoll)
	return d, nil
}
