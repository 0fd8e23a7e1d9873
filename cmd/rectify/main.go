// Command rectify is the issue-rectification workflow engine: one binary that
// serves the JSON API on an embedded bbolt database and administers it.
//
//	rectify serve [--db PATH | --store etcd --etcd-endpoints URLS] [--addr ADDR] [--demo] [--webhook URL,…] …
//	rectify seed --db PATH
//	rectify user add --db PATH --name N --role R --unit UNIT [--password-stdin]
//	rectify user passwd --db PATH --name N --password-stdin
//	rectify units --db PATH
//	rectify calendar load --db PATH FILE | rectify calendar list --db PATH
//	rectify audit verify [--store etcd --etcd-endpoints URLS | --db PATH] [--evidence-dir DIR] [--expect-head SEQ:HASH]
//	rectify migrate --from bolt:PATH|backup:FILE --to etcd:URLS [--etcd-prefix P]
//	rectify backup --addr URL --token T --out FILE
//	rectify workflow [--format mermaid|dot]
//	rectify export --db PATH --out FILE [--as-of DATE]
//	rectify bench [--problems N] [--clients C] [--duration D] [--json] [--url URL --tokens B,U,I]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if wantDefaultGC(os.Args[1:], os.Getenv) {
		setDefaultGC()
	}
	if wantMoreProcs(os.Args[1:], os.Getenv) {
		setMoreProcs()
	}
	err := Main(ctx, os.Args[1:], Env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv})
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "rectify:", err)
		os.Exit(2)
	}
}

// Env is what Main needs from the process, injectable for tests.
type Env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	Getenv func(string) string
	// Listening, if set, is called with the server's address once it accepts
	// connections (tests start the server on port 0).
	Listening func(net.Addr)
}

const usage = `rectify: issue-rectification workflow engine

Usage:
  rectify serve [--db PATH] [--addr ADDR] [--demo]   run the API server
  rectify serve --store etcd --etcd-endpoints URLS --evidence-dir SHARED [--etcd-prefix P] …
                                                    run one of several replicas on an etcd cluster
  rectify seed --db PATH                            load the Jingdezhen 2021 seed data
  rectify user add --db PATH --name N --role R --unit UNIT [--password-stdin]
                                                    add a user, print its token (and set its web password)
  rectify user passwd --db PATH --name N --password-stdin
                                                    set a user's web password (its web sessions end)
  rectify units --db PATH                           list the units
  rectify calendar load --db PATH FILE              store a working-day calendar file (server stopped)
  rectify calendar list --db PATH                   list the years with a calendar
  rectify audit verify --db PATH [--evidence-dir DIR] [--expect-head SEQ:HASH]
                                                    check the hash chain, records and evidence (read-only)
  rectify audit verify --store etcd --etcd-endpoints URLS [--etcd-prefix P] [--evidence-dir DIR]
                                                    the same on a live etcd ledger, at one revision
  rectify migrate --from bolt:PATH --to etcd:URLS [--etcd-prefix P] [--evidence-dir DIR]
                                                    copy a stopped server's ledger into an empty etcd prefix
  rectify rollups count --store etcd --etcd-endpoints URLS [--etcd-prefix P]
                                                    count the statistics' sums of an older etcd ledger (replicas stopped)
  rectify backup --addr URL --token T --out FILE    save a running server's database (admin token)
  rectify workflow [--format mermaid|dot]           print the workflow diagram
  rectify export --db PATH --out FILE [--as-of DATE] [--county UNIT] [--state S]
                                                    write the ledger as .xlsx (server stopped)
  rectify bench [--problems N] [--clients C] [--duration D] [--json]
                                                    load test on a temporary database (or --url)

Flags may also be set as RECTIFY_<FLAG> environment variables, e.g. RECTIFY_DB.
Run 'rectify COMMAND -h' for a command's flags.
`

// Main runs the rectify command line with args (without the program name).
func Main(ctx context.Context, args []string, env Env) error {
	if env.Getenv == nil {
		env.Getenv = func(string) string { return "" }
	}
	if len(args) == 0 {
		fmt.Fprint(env.Stderr, usage)
		return errors.New("no command given")
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return runServe(ctx, rest, env)
	case "seed":
		return runSeed(ctx, rest, env)
	case "user":
		return runUser(ctx, rest, env)
	case "units":
		return runUnits(ctx, rest, env)
	case "calendar":
		return runCalendar(ctx, rest, env)
	case "audit":
		return runAudit(ctx, rest, env)
	case "backup":
		return runBackup(ctx, rest, env)
	case "migrate":
		return runMigrate(ctx, rest, env)
	case "rollups":
		return runRollups(ctx, rest, env)
	case "workflow":
		return runWorkflow(rest, env)
	case "export":
		return runExport(ctx, rest, env)
	case "bench":
		return runBench(ctx, rest, env)
	case "help", "-h", "--help":
		fmt.Fprint(env.Stdout, usage)
		return nil
	}
	fmt.Fprint(env.Stderr, usage)
	return fmt.Errorf("unknown command %q", cmd)
}
