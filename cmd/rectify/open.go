package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jdz-eco/rectify/seeds"
	"github.com/jdz-eco/rectify/store/bolt"
	"github.com/jdz-eco/rectify/workflow"
)

// cliActor is the server itself acting from the command line (seeding,
// creating users and their passwords); no user holds its role.
var cliActor = workflow.Actor{ID: "system", Name: "rectify", Role: workflow.RoleSystem}

// openStore opens the bbolt file at path, explaining the usual failure: a
// server still holding the file.
func openStore(path string, opts bolt.Options) (*bolt.Store, error) {
	if opts.Timeout == 0 {
		opts.Timeout = 2 * time.Second
	}
	st, err := bolt.Open(path, opts)
	if errors.Is(err, bolt.ErrInUse) {
		return nil, fmt.Errorf("open %s: the database is in use (is a rectify server running on it?)", path)
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return st, nil
}

// seedIfEmpty loads the seed data into a database that has no units yet.
func seedIfEmpty(ctx context.Context, svc *workflow.Service) (loaded bool, rep seeds.Report, err error) {
	units, err := svc.Units(ctx)
	if err != nil || len(units) > 0 {
		return false, rep, err
	}
	rep, err = seeds.Load(ctx, svc)
	return err == nil, rep, err
}
