package main

import (
	"context"
	"fmt"
	"time"

	"github.com/jdz-eco/rectify/store/bolt"
	"github.com/jdz-eco/rectify/workflow"
)

// runRollups counts the statistics' tallies (docs/design.md#rollups) afresh
// from every history, under the level thresholds the flags give (serve's
// defaults otherwise): for an etcd ledger written before rollups (or to
// follow other thresholds), with no replica running; a bbolt file opened
// read-write gets them counted whenever they are missing or follow other
// thresholds, so on bbolt this is the same as opening it with them.
func runRollupsCount(ctx context.Context, args []string, env Env) error {
	def := workflow.DefaultPolicy()
	fs := newFlagSet("rollups count", env)
	kind, ef := addStoreFlags(fs)
	db := fs.String("db", "./rectify.db", "bbolt database file (server stopped)")
	dueSoon := fs.Int("due-soon-days", days(def.DueSoon), "as serve's: due_soon this many days before the deadline")
	red := fs.Int("red-days", days(def.Red), "as serve's: red card when overdue by more than this many days")
	listed := fs.Int("listed-days", days(def.Listed), "as serve's: listed supervision when overdue by more than this many days")
	if err := parseFlags(fs, args, env); err != nil {
		return err
	}
	pol := def
	pol.DueSoon, pol.Red, pol.Listed = time.Duration(*dueSoon)*workflow.Day, time.Duration(*red)*workflow.Day, time.Duration(*listed)*workflow.Day
	if err := pol.Validate(); err != nil {
		return fmt.Errorf("the level thresholds: %s", workflow.ErrorMessage(err))
	}
	start := time.Now()
	switch *kind {
	case storeEtcd:
		st, err := openEtcd(ctx, ef)
		if err != nil {
			return err
		}
		defer st.Close()
		if err := st.CountRollups(ctx, pol); err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "rollups of %s counted in %.1fs\n", ef.describe(), time.Since(start).Seconds())
	case storeBolt:
		st, err := openStore(*db, bolt.Options{Policy: &pol})
		if err != nil {
			return err
		}
		if err := st.Close(); err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "rollups of %s up to date (%.1fs)\n", *db, time.Since(start).Seconds())
	default:
		return fmt.Errorf("--store %q: bolt or etcd", *kind)
	}
	return nil
}
