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

// openStore opens the bbolt file at path, explaining the usual failures: a
// server still holding the file, a damaged or an empty file.
func openStore(path string, opts bolt.Options) (*bolt.Store, error) {
	if opts.Timeout == 0 {
		opts.Timeout = 2 * time.Second
	}
	st, err := bolt.Open(path, opts)
	if errors.Is(err, bolt.ErrInUse) {
		return nil, fmt.Errorf("open %s: the database is in use (is a rectify server running on it?)", path)
	}
	if err != nil {
		return nil, explainUnsound(path, err)
	}
	return st, nil
}

// explainUnsound says what to do about a file bolt.Open refused as damaged
// or empty; other errors come back as they are, with the file's name.
func explainUnsound(path string, err error) error {
	var damaged *bolt.DamagedError
	switch {
	case errors.As(err, &damaged):
		return fmt.Errorf("refusing the database file %s: it is damaged: %s. Nothing was written to it. "+
			"Stop anything using it, keep it aside for inspection, restore the latest backup in its place (rectify backup saves one from a running server) "+
			"and check the restored file with: rectify audit verify --db %s", path, damaged.Reason, path)
	case errors.Is(err, bolt.ErrEmptyFile):
		return fmt.Errorf("refusing the database file %s: it is empty (0 bytes) and holds no ledger. Nothing was written to it. "+
			"Restore it from a backup, or, to start a new, empty ledger in it, run: rectify serve --init --db %s", path, path)
	}
	return fmt.Errorf("open %s: %w", path, err)
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
