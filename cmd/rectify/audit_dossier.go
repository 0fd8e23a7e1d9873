package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"text/tabwriter"

	"github.com/jdz-eco/rectify/workflow/dossier"
)

// runVerifyDossier checks a case file (GET /api/v1/problems/{id}/dossier.zip)
// offline, without any database: dossier.Verify.
func runVerifyDossier(_ context.Context, args []string, env Env) error {
	fset := newFlagSet("audit verify-dossier", env)
	rest, err := parseFlagsArgs(fset, args, env)
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		return errors.New("audit verify-dossier takes one FILE, the dossier .zip")
	}
	f, err := os.Open(rest[0])
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	rep, err := dossier.Verify(f, fi.Size())
	if err != nil {
		return fmt.Errorf("dossier %s FAILED: %w", rest[0], err)
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "dossier\t%s\n", rest[0])
	fmt.Fprintf(tw, "problem\t%s %s (%s)\n", rep.Code, rep.Title, rep.ProblemID)
	fmt.Fprintf(tw, "exported\t%s by %s\n", rep.Info.ExportedAt.Format("2006-01-02 15:04:05Z07:00"), rep.Info.ExportedBy.Name)
	fmt.Fprintf(tw, "files\t%d, each as the manifest lists it, the zip as written\n", rep.Files)
	fmt.Fprintf(tw, "history\t%d entries, each matching its hash on the chain, the record their replay\n", rep.Entries)
	fmt.Fprintf(tw, "evidence files\t%d, each of its SHA-256\n", rep.Evidence)
	fmt.Fprintf(tw, "sign-offs\t%d\n", rep.Signoffs)
	fmt.Fprintf(tw, "head at export\t%s (check it against the ledger: rectify audit verify --expect-heads)\n", rep.Head)
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(env.Stdout, "dossier verified")
	return nil
}
