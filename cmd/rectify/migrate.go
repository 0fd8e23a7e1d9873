package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/jdz-eco/rectify/store/bolt"
	"github.com/jdz-eco/rectify/store/etcd"
	"github.com/jdz-eco/rectify/workflow"
)

const migrateUsage = "usage: rectify migrate --from bolt:PATH|backup:FILE --to etcd:ENDPOINTS [--etcd-prefix P] [--evidence-dir DIR]"

// runMigrate copies a whole ledger into an empty etcd prefix: from a
// stopped server's bbolt file (bolt:PATH) or from a backup of an etcd
// ledger (backup:FILE, what GET /api/v1/admin/backup streams from an etcd
// store). The history is copied as it is, its hash chain checked entry by
// entry rather than sealed again; the indexes are rebuilt from the records.
// The copy is then audited on the target (with --evidence-dir, the evidence
// files too) and its head compared with the source's.
func runMigrate(ctx context.Context, args []string, env Env) error {
	fs := newFlagSet("migrate", env)
	from := fs.String("from", "", "the source: bolt:PATH (a stopped server's database file) or backup:FILE (an etcd ledger's backup)")
	to := fs.String("to", "", "the target: etcd:ENDPOINTS (comma-separated client URLs; or etcd: with --etcd-endpoints)")
	ef := addEtcdFlags(fs)
	evidenceDir := fs.String("evidence-dir", "", "the shared evidence directory: every file the ledger references is checked there after the copy")
	if err := parseFlags(fs, args, env); err != nil {
		return err
	}
	eps, ok := strings.CutPrefix(*to, "etcd:")
	if !ok {
		return errors.New(migrateUsage)
	}
	if eps != "" {
		ef.endpoints = eps
	}
	dst, err := openEtcd(ctx, ef)
	if err != nil {
		return err
	}
	defer dst.Close()

	var (
		srcHead workflow.ChainHead
		what    string
		backup  bool
	)
	switch kind, path, _ := strings.Cut(*from, ":"); kind {
	case "bolt":
		src, err := openReadOnly(path, false)
		if err != nil {
			return err
		}
		defer src.Close()
		rep, err := migrateBolt(ctx, src, dst)
		if err != nil {
			return fmt.Errorf("migrate %s to %s: %w", path, ef.describe(), err)
		}
		srcHead, what = rep.Head, fmt.Sprintf("%d history entries, %d keys", rep.Entries, rep.Keys)
	case "backup":
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		h, err := dst.Restore(ctx, f)
		if err != nil {
			return fmt.Errorf("restore %s to %s: %w", path, ef.describe(), err)
		}
		srcHead, what, backup = h.Head, fmt.Sprintf("the backup of %s at revision %d", h.Prefix, h.Revision), true
	default:
		return errors.New(migrateUsage)
	}

	// Audit the copy where it now is.
	var blobs workflow.Blobs
	evidenceNote := "NOT CHECKED (give --evidence-dir)"
	if *evidenceDir != "" {
		b, dir, err := openEvidenceReadOnly("", *evidenceDir)
		if err != nil {
			return err
		}
		blobs, evidenceNote = b, dir
	}
	sn, err := dst.Snapshot(ctx)
	if err != nil {
		return err
	}
	var expect *workflow.ChainHead
	if srcHead.Seq > 0 {
		expect = &srcHead
	}
	rep, err := workflow.Audit(ctx, sn, blobs, expect)
	if err != nil {
		return fmt.Errorf("migrated to %s, but its audit FAILED: %w", ef.describe(), err)
	}
	// A backup of a live etcd ledger may hold commands committed but not
	// yet sealed when it was read: sealed here (the snapshot above), they
	// extend the chain past the backup's head, which the audit found intact.
	sealedHere := backup && rep.Head.Seq > srcHead.Seq
	if (rep.Head.Seq != srcHead.Seq || rep.Head.Hash != srcHead.Hash) && !sealedHere {
		return fmt.Errorf("migrated to %s, but its head %s is not the source's %s", ef.describe(), rep.Head, srcHead)
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "copied\t%s into %s\n", what, ef.describe())
	fmt.Fprintf(tw, "entries\t%d, hash chain intact, as in the source\n", rep.Entries)
	fmt.Fprintf(tw, "problems\t%d, each record equal to its replayed history\n", rep.Problems)
	if blobs != nil {
		fmt.Fprintf(tw, "evidence files\t%d in %s, each present with its SHA-256\n", rep.Evidence, evidenceNote)
	} else {
		fmt.Fprintf(tw, "evidence files\t%s\n", evidenceNote)
	}
	switch {
	case sealedHere:
		fmt.Fprintf(tw, "head\t%s (the source's %s, then %d entries the backup held unsealed, sealed here)\n", rep.Head, srcHead, rep.Head.Seq-srcHead.Seq)
	case rep.Head.Seq > 0:
		fmt.Fprintf(tw, "head\t%s (the source's)\n", rep.Head)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(env.Stdout, "migration done")
	return nil
}

// The etcd importer takes a bbolt ledger as the bolt store exports it.
var _ bolt.Sink = (*etcd.Importer)(nil)

// migrateBolt copies everything src holds into dst's (empty) prefix.
func migrateBolt(ctx context.Context, src *bolt.Store, dst *etcd.Store) (etcd.ImportReport, error) {
	imp, err := dst.BeginImport(ctx)
	if err != nil {
		return etcd.ImportReport{}, err
	}
	srcHead, err := src.Export(ctx, imp)
	if err != nil {
		return etcd.ImportReport{}, err
	}
	rep, err := imp.Finish(ctx)
	if err != nil {
		return rep, err
	}
	if rep.Head.Seq != srcHead.Seq || rep.Head.Hash != srcHead.Hash {
		return rep, fmt.Errorf("the source's recorded head is %s but its history ends at %s (run rectify audit verify on it)", srcHead, rep.Head)
	}
	return rep, nil
}
