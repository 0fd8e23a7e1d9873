package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/jdz-eco/rectify/workflow"
)

// readHeadList reads the heads of --expect-heads from file (- is standard
// input): every SEQ:HASH in it, whatever text is around.
func readHeadList(file string, env Env) ([]workflow.ListedHead, error) {
	var r io.Reader = env.Stdin
	if file != "-" {
		f, err := os.Open(file)
		if err != nil {
			return nil, fmt.Errorf("--expect-heads: %w", err)
		}
		defer f.Close()
		r = f
	} else if r == nil {
		return nil, errors.New("--expect-heads -: no standard input")
	}
	heads, err := workflow.ParseHeadList(r)
	if err != nil {
		return nil, fmt.Errorf("--expect-heads %s: %s", file, workflow.ErrorMessage(err))
	}
	return heads, nil
}

// printHeadChecks prints one line per head of the list, with where it was
// found, and returns an error naming those not intact.
func printHeadChecks(env Env, file string, listed []workflow.ListedHead, checks []workflow.HeadCheck, rep workflow.AuditReport) error {
	bad := 0
	for i, c := range checks {
		where := listed[i].Text
		if listed[i].Line > 0 {
			where = fmt.Sprintf("%s:%d", file, listed[i].Line)
		}
		switch c.Status {
		case workflow.HeadIntact:
			fmt.Fprintf(env.Stdout, "head %s (%s): intact\n", c.Head, where)
		case workflow.HeadRewritten:
			bad++
			fmt.Fprintf(env.Stdout, "head %s (%s): REWRITTEN: entry %d now has hash %s\n", c.Head, where, c.Head.Seq, c.Found)
		default:
			bad++
			fmt.Fprintf(env.Stdout, "head %s (%s): GONE: the history ends at %d (truncated)\n", c.Head, where, rep.Entries)
		}
	}
	if bad > 0 {
		return &workflow.AuditError{Reason: fmt.Sprintf("%d of %d expected heads are not in the chain as recorded: the history was rewritten or truncated after they were recorded", bad, len(checks))}
	}
	return nil
}
