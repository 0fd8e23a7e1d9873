package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"text/tabwriter"
	"time"

	"github.com/jdz-eco/rectify/store/blob"
	"github.com/jdz-eco/rectify/store/bolt"
	"github.com/jdz-eco/rectify/workflow"
)

// runAuditVerify checks a database file, read-only: the hash chain, every
// problem record against its replayed history and every evidence file
// against its SHA-256. It prints a summary and fails naming the first bad
// entry, problem or file.
func runAuditVerify(ctx context.Context, args []string, env Env) error {
	fset := newFlagSet("audit verify", env)
	kind := fset.String("store", "bolt", "bolt (a database file) or etcd (a live cluster, read at one revision)")
	db := fset.String("db", "./rectify.db", "bbolt database file: a stopped server's, a copy or a backup (opened read-only)")
	evidenceDir := fset.String("evidence-dir", "", "directory of the evidence files (default: evidence beside the --db file; not checked if that is absent)")
	expectHead := fset.String("expect-head", "", "a head SEQ:HASH recorded earlier (GET /api/v1/audit/head): prove the history up to it is intact")
	expectHeads := fset.String("expect-heads", "", "a file listing heads SEQ:HASH collected from documents (dossiers, letters, briefings, webhook copies of the daily anchor), any text around them: check each against the chain, - for standard input")
	ef := addEtcdFlags(fset)
	if err := parseFlags(fset, args, env); err != nil {
		return err
	}
	if *kind != "bolt" && *kind != "etcd" {
		return fmt.Errorf("--store %q: bolt or etcd", *kind)
	}
	var expect *workflow.ChainHead
	if *expectHead != "" {
		h, err := workflow.ParseChainHead(*expectHead)
		if err != nil {
			return fmt.Errorf("--expect-head: %s", workflow.ErrorMessage(err))
		}
		expect = &h
	}
	var listed []workflow.ListedHead
	if *expectHeads != "" {
		var err error
		if listed, err = readHeadList(*expectHeads, env); err != nil {
			return err
		}
	}
	var (
		blobs        *blob.Store
		evidenceNote string
		ledger       workflow.Ledger
		name         = *db
		what         = *db + " (read-only)"
	)
	if *kind == "etcd" {
		// A live cluster: the audit reads one revision, so replicas may
		// keep writing. Evidence is checked where --evidence-dir says.
		if *evidenceDir != "" {
			var err error
			if blobs, evidenceNote, err = openEvidenceReadOnly("", *evidenceDir); err != nil {
				return err
			}
		} else {
			evidenceNote = "no --evidence-dir given (the replicas' shared evidence directory)"
		}
		st, err := openEtcd(ctx, ef)
		if err != nil {
			return err
		}
		defer st.Close()
		sn, err := st.Snapshot(ctx)
		if err != nil {
			return err
		}
		ledger, name = sn, ef.describe()
		what = fmt.Sprintf("%s at revision %d (read-only)", name, sn.Revision())
	} else {
		var err error
		if blobs, evidenceNote, err = openEvidenceReadOnly(*db, *evidenceDir); err != nil {
			return err
		}
		st, err := openReadOnly(*db, true)
		if err != nil {
			return err
		}
		defer st.Close()
		ledger = st
	}
	var ablobs workflow.Blobs
	if blobs != nil {
		ablobs = blobs
	}
	var (
		rep    workflow.AuditReport
		checks []workflow.HeadCheck
		err    error
	)
	if listed == nil {
		rep, err = workflow.Audit(ctx, ledger, ablobs, expect)
	} else {
		heads := make([]workflow.ChainHead, 0, len(listed)+1)
		for _, l := range listed {
			heads = append(heads, l.ChainHead)
		}
		if expect != nil {
			heads = append(heads, *expect)
			listed = append(listed, workflow.ListedHead{ChainHead: *expect, Text: "--expect-head"})
		}
		rep, checks, err = workflow.AuditHeads(ctx, ledger, ablobs, heads)
		if perr := printHeadChecks(env, *expectHeads, listed, checks, rep); perr != nil && err == nil {
			err = perr
		}
	}
	var acc workflow.AccountAuditReport
	if al, ok := ledger.(workflow.AccountLedger); ok && err == nil {
		acc, err = workflow.AuditAccounts(ctx, al)
	}
	if err != nil {
		var aerr *workflow.AuditError
		var accErr *workflow.AccountAuditError
		if errors.As(err, &aerr) || errors.As(err, &accErr) {
			return fmt.Errorf("audit of %s FAILED: %w", name, err)
		}
		return fmt.Errorf("audit of %s: %w", name, err)
	}

	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "database\t%s\n", what)
	fmt.Fprintf(tw, "entries\t%d, hash chain intact up to the recorded head\n", rep.Entries)
	if rep.Pending > 0 {
		fmt.Fprintf(tw, "pending\t%d entries committed at that revision, not sealed yet (the sealer appends them)\n", rep.Pending)
	}
	fmt.Fprintf(tw, "problems\t%d, each record equal to its replayed history\n", rep.Problems)
	if rep.Rounds > 0 || rep.WorkPoints > 0 {
		fmt.Fprintf(tw, "dispatch rounds\t%d, each as opened, its reports and alerts all in its index\n", rep.Rounds)
		fmt.Fprintf(tw, "work points\t%d with a history, each index equal to the chain's entries\n", rep.WorkPoints)
	}
	if rep.Letters > 0 {
		fmt.Fprintf(tw, "letters\t%d, each as the history entries that recorded it say\n", rep.Letters)
	}
	if blobs != nil {
		fmt.Fprintf(tw, "evidence files\t%d in %s, each present with its SHA-256\n", rep.Evidence, evidenceNote)
	} else {
		fmt.Fprintf(tw, "evidence files\tNOT CHECKED: %s\n", evidenceNote)
	}
	if rep.Head.Seq == 0 {
		fmt.Fprintln(tw, "head\tnone (empty history)")
	} else {
		fmt.Fprintf(tw, "head\t%s\n", rep.Head)
	}
	if expect != nil {
		fmt.Fprintf(tw, "expected head\t%s found: the history up to it was neither truncated nor rewritten\n", expect)
	}
	if len(checks) > 0 {
		fmt.Fprintf(tw, "expected heads\t%d, each found: the history up to each was neither truncated nor rewritten\n", len(checks))
	}
	switch {
	case acc.Uncovered:
		fmt.Fprintf(tw, "account log\tempty: %d users and %d tokens predate it (rectify serve records them at its next start)\n", acc.Users, acc.Tokens)
	case acc.Events > 0:
		fmt.Fprintf(tw, "account log\t%d events, hash chain intact; %d users and %d tokens, each as the log left them\n", acc.Events, acc.Users, acc.Tokens)
		fmt.Fprintf(tw, "account head\t%s\n", acc.Head)
	default:
		fmt.Fprintln(tw, "account log\tempty, and no users")
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(env.Stdout, "audit passed")
	return nil
}

// openEvidenceReadOnly returns the evidence store of the database at db, and
// the directory (or why there is none). An explicit dir must exist; the
// default one beside the database may be absent, and then evidence is not
// checked. The directory is only read: blob.Open is never asked to create it.
func openEvidenceReadOnly(db, dir string) (*blob.Store, string, error) {
	explicit := dir != ""
	if !explicit {
		dir = defaultEvidenceDir(db)
	}
	fi, err := os.Stat(dir)
	switch {
	case err == nil && !fi.IsDir():
		return nil, "", fmt.Errorf("--evidence-dir %s is not a directory", dir)
	case errors.Is(err, fs.ErrNotExist) && !explicit:
		return nil, fmt.Sprintf("no evidence directory %s (give --evidence-dir)", dir), nil
	case err != nil:
		return nil, "", fmt.Errorf("--evidence-dir: %w", err)
	}
	b, err := blob.Open(dir)
	if err != nil {
		return nil, "", fmt.Errorf("--evidence-dir: %w", err)
	}
	return b, dir, nil
}

// openReadOnly opens the database at path read-only, explaining the usual
// failures: no file, a server holding it, a damaged or empty file, a file of
// an older schema. auditing leaves the hash chain to the caller's audit,
// which names the first bad entry; the file's structure is checked all the
// same.
func openReadOnly(path string, auditing bool) (*bolt.Store, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	st, err := bolt.Open(path, bolt.Options{ReadOnly: true, Timeout: 2 * time.Second, SkipChainCheck: auditing})
	switch {
	case errors.Is(err, bolt.ErrInUse):
		return nil, fmt.Errorf("open %s: the database is in use (is a rectify server running on it?): stop it, or verify a backup (rectify backup)", path)
	case errors.As(err, new(*bolt.DamagedError)) || errors.Is(err, bolt.ErrEmptyFile):
		return nil, explainUnsound(path, err)
	case errors.Is(err, bolt.ErrNeedsUpgrade):
		return nil, fmt.Errorf("%w; audit verify only reads: open the file read-write once to upgrade it (start rectify serve --db FILE, then stop it), or do that on a copy to leave the original untouched, then verify", err)
	case err != nil:
		return nil, err
	}
	return st, nil
}
