package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"time"

	"github.com/jdz-eco/rectify/api"
	"github.com/jdz-eco/rectify/store/bolt"
	"github.com/jdz-eco/rectify/store/etcd"
	"github.com/jdz-eco/rectify/workflow"
)

// Store kinds of rectify serve --store.
const (
	storeBolt = "bolt"
	storeEtcd = "etcd"
)

// servedStore is the store rectify serve runs on. On bbolt one process owns
// the file; on etcd any number of replicas share the ledger, and the
// deadline scanner and the webhook dispatcher run on the elected leader
// only.
type servedStore struct {
	workflow.Store
	etcd    *etcd.Store  // nil on bbolt
	bolt    *bolt.Store  // nil on etcd
	name    string       // for logs: the file, or endpoints and prefix
	metrics *api.Metrics // the roles led
}

// openServed opens the store cfg names.
func openServed(ctx context.Context, cfg serveConfig, metrics *api.Metrics, log *slog.Logger) (*servedStore, error) {
	// The statistics' rollups count levels under the served policy.
	pol, err := cfg.policy()
	if err != nil {
		return nil, err
	}
	if cfg.store == storeEtcd {
		ecfg, err := cfg.etcd.config()
		if err != nil {
			return nil, err
		}
		ecfg.Policy = &pol
		st, err := etcd.Open(ctx, ecfg)
		if err != nil {
			return nil, err
		}
		return &servedStore{Store: st, etcd: st, name: cfg.etcd.describe(), metrics: metrics}, nil
	}
	start := time.Now()
	st, err := openStore(cfg.db, bolt.Options{ObserveCommit: metrics.ObserveCommit, ObserveGroup: metrics.ObserveGroup,
		Init: cfg.dbInit, QuickCheck: cfg.dbCheck == dbCheckQuick, Policy: &pol})
	if err != nil {
		return nil, err
	}
	log.Info("database file checked", "db", cfg.db, "check", cfg.dbCheck, "took", time.Since(start).Round(time.Millisecond))
	return &servedStore{Store: st, bolt: st, name: cfg.db, metrics: metrics}, nil
}

// Checks of --db-check.
const (
	dbCheckFull  = "full"
	dbCheckQuick = "quick"
)

// checks are the readiness checks of the store besides the service's own
// (api.Config.Ready): on bbolt, damage found in the file while serving and
// commits that fail (a full disk).
func (s *servedStore) checks() []api.Check {
	if s.bolt == nil {
		return nil
	}
	return []api.Check{
		{Name: "bolt_file", Check: func(context.Context) error { return s.bolt.Damage() }},
		{Name: "bolt_writes", Check: s.bolt.WriteFailure},
	}
}

// runLeading runs f in bg: at once on bbolt; on etcd only while this
// replica is the elected leader of role (a context that ends with the
// leadership and fences the store's writes on the election key), campaigning
// again whenever it is not.
func (s *servedStore) runLeading(bg *background, role string, log *slog.Logger, f func(context.Context)) {
	if s.etcd == nil {
		s.metrics.SetLeading(role, true)
		bg.run(f)
		return
	}
	s.metrics.SetLeading(role, false)
	host, _ := os.Hostname()
	opts := etcd.LeaderOptions{ID: host + ":" + strconv.Itoa(os.Getpid()), Logger: log.With("component", role),
		OnLead: func(string, int64) { s.metrics.SetLeading(role, true) },
		OnLoss: func() { s.metrics.SetLeading(role, false) },
	}
	bg.run(func(ctx context.Context) {
		err := s.etcd.RunAsLeaderWith(ctx, role, opts, func(lctx context.Context) error {
			f(lctx)
			return nil
		})
		if err != nil {
			log.Error("leader election", "role", role, "err", err)
		}
	})
}

// runSealer runs the etcd store's sealer on the elected leader of role
// "sealer": it appends the commands of every replica to the hash chain as
// they commit. bbolt seals in each command's transaction and needs none.
func (s *servedStore) runSealer(bg *background, log *slog.Logger) {
	if s.etcd == nil {
		return
	}
	slg := log.With("component", "sealer")
	s.runLeading(bg, "sealer", log, func(ctx context.Context) {
		err := s.etcd.RunSealer(ctx, 0, func(err error) { slg.Warn("sealing the history failed", "err", err) })
		if err != nil && ctx.Err() == nil {
			slg.Warn("sealer stopped", "err", err)
		}
	})
}

// handOverOnShutdown makes a replica on etcd stop its background work as
// soon as ctx ends (SIGTERM), so that it resigns the roles it leads and
// another replica takes them over at once, while its HTTP server drains.
// (On bbolt the scanner and the dispatcher run until the server has
// drained.) The function returned undoes it.
func (s *servedStore) handOverOnShutdown(ctx context.Context, bg *background) func() bool {
	if s.etcd == nil {
		return func() bool { return false }
	}
	return context.AfterFunc(ctx, bg.stop)
}

// readyCheck is the store's condition of /readyz: on etcd a linearizable
// read answered within a second (cached for a second: etcd.Store.Ready);
// on bbolt a read of the units.
func (s *servedStore) readyCheck(svc *workflow.Service) api.Check {
	check := func(ctx context.Context) error {
		_, err := svc.Units(ctx)
		return err
	}
	if s.etcd != nil {
		check = s.etcd.Ready
	}
	return api.Check{Name: "store", Check: check}
}

// checkStore checks the --store settings.
func (c serveConfig) checkStore() error {
	switch c.store {
	case storeBolt:
		return nil
	case storeEtcd:
		if _, err := c.etcd.config(); err != nil {
			return err
		}
		if !c.evidenceDirSet {
			return fmt.Errorf("--store etcd needs --evidence-dir: the evidence directory every replica shares (a network filesystem)")
		}
		return nil
	}
	return fmt.Errorf("--store %q: bolt or etcd", c.store)
}
