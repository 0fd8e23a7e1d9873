package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"

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
	etcd *etcd.Store // nil on bbolt
	name string      // for logs: the file, or endpoints and prefix
}

// openServed opens the store cfg names.
func openServed(ctx context.Context, cfg serveConfig, metrics *api.Metrics) (*servedStore, error) {
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
		return &servedStore{Store: st, etcd: st, name: cfg.etcd.describe()}, nil
	}
	st, err := openStore(cfg.db, bolt.Options{ObserveCommit: metrics.ObserveCommit, ObserveGroup: metrics.ObserveGroup, Policy: &pol})
	if err != nil {
		return nil, err
	}
	return &servedStore{Store: st, name: cfg.db}, nil
}

// runLeading runs f in bg: at once on bbolt; on etcd only while this
// replica is the elected leader of role (a context that ends with the
// leadership and fences the store's writes on the election key), campaigning
// again whenever it is not.
func (s *servedStore) runLeading(bg *background, role string, log *slog.Logger, f func(context.Context)) {
	if s.etcd == nil {
		bg.run(f)
		return
	}
	host, _ := os.Hostname()
	opts := etcd.LeaderOptions{ID: host + ":" + strconv.Itoa(os.Getpid()), Logger: log.With("component", role)}
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
