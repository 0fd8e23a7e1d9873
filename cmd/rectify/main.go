// Command rectify is the issue-rectification workflow engine: one binary that
// serves the JSON API on an embedded bbolt database and administers it.
//
//	rectify serve [--db PATH | --store etcd --etcd-endpoints URLS] [--addr ADDR] [--demo] [--webhook URL,…] …
//	rectify seed --db PATH
//	rectify user add --db PATH --name N --role R --unit UNIT [--password-stdin] [--expires DATE]
//	rectify user passwd --db PATH --name N --password-stdin [--revoke-tokens]
//	rectify user disable|enable|tokens|revoke|rotate --db PATH --name N …
//	rectify units --db PATH
//	rectify calendar load --db PATH FILE | rectify calendar list --db PATH
//	rectify audit verify [--store etcd --etcd-endpoints URLS | --db PATH] [--evidence-dir DIR] [--expect-head SEQ:HASH] [--expect-heads FILE]
//	rectify audit verify-dossier FILE
//	rectify migrate --from bolt:PATH|backup:FILE --to etcd:URLS [--etcd-prefix P]
//	rectify backup --addr URL --token T --out FILE
//	rectify workflow [--format mermaid|dot]
//	rectify export --db PATH --out FILE [--as-of DATE]
//	rectify healthcheck [--addr ADDR] [--ready] [--timeout D]
//	rectify bench [--problems N] [--clients C] [--duration D] [--json] [--url URL --tokens B,U,I]
//	rectify version
//
// Every command answers -h with its flags (commands.go holds the table).
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
	if err != nil {
		fmt.Fprintln(os.Stderr, "rectify:", err)
		var e *exitError
		if errors.As(err, &e) {
			os.Exit(e.code)
		}
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

// Main runs the rectify command line with args (without the program name).
func Main(ctx context.Context, args []string, env Env) error {
	if env.Getenv == nil {
		env.Getenv = func(string) string { return "" }
	}
	if env.Stdout == nil {
		env.Stdout = io.Discard
	}
	if env.Stderr == nil {
		env.Stderr = io.Discard
	}
	err := dispatch(ctx, args, env)
	if errors.Is(err, flag.ErrHelp) {
		return nil // the help is printed
	}
	return err
}
