package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// command is one command of the binary: its name (one word, or a group and
// a subcommand), the forms of its command line after the name, a one-line
// summary and what runs it. The usage, each command's -h and the dispatch
// all come from the table below.
type command struct {
	name    string
	forms   []string
	summary string
	run     func(ctx context.Context, args []string, env Env) error
}

// commands is every command, in the order the usage lists them (set in
// init: the commands' functions print their help from it).
var commands []command

// groups are the commands that only gather subcommands.
var groups = map[string]string{
	"user":     "users: add, set a password, disable and enable, list, revoke and rotate tokens",
	"calendar": "working-day calendars: load a year's file, list the years",
	"audit":    "check a ledger's hash chain, records and evidence",
	"rollups":  "the statistics' sums kept with every write: count them afresh",
}

func init() {
	commands = []command{
		{"serve", []string{
			"[--db PATH] [--addr ADDR] [--demo] [--webhook URL,…] …",
			"--store etcd --etcd-endpoints URLS --evidence-dir SHARED [--etcd-prefix P] …",
		}, "run the API server and the web pages", runServe},
		{"seed", []string{"[--db PATH]", "--store etcd --etcd-endpoints URLS [--etcd-prefix P]"},
			"load the Jingdezhen 2021 seed data (idempotent)", runSeed},
		{"user add", []string{"[--db PATH] --name N --role R --unit UNIT [--password-stdin] [--expires DATE]"},
			"add a user, print its token (and set its web password)", runUserAdd},
		{"user passwd", []string{"[--db PATH] --name N --password-stdin [--revoke-tokens]"},
			"set a user's web password (its web sessions end; its tokens too if asked)", runUserPasswd},
		{"user disable", []string{"[--db PATH] --name N"}, "stop a user's tokens and web sessions at once",
			func(ctx context.Context, args []string, env Env) error { return runUserDisable(ctx, args, env, true) }},
		{"user enable", []string{"[--db PATH] --name N"}, "let a disabled user's tokens and password work again",
			func(ctx context.Context, args []string, env Env) error { return runUserDisable(ctx, args, env, false) }},
		{"user tokens", []string{"[--db PATH] --name N"}, "list a user's tokens (ids, never secrets)", runUserTokens},
		{"user revoke", []string{"[--db PATH] --name N (--token ID[,ID…] | --all)"}, "revoke a user's tokens", runUserRevoke},
		{"user rotate", []string{"[--db PATH] --name N --token ID [--expires DATE]"},
			"replace a token by a new one, printed once", runUserRotate},
		{"units", []string{"[--db PATH]"}, "list the units", runUnits},
		{"calendar load", []string{"[--db PATH] FILE"},
			"store a working-day calendar file (server stopped)", runCalendarLoad},
		{"calendar list", []string{"[--db PATH]"}, "list the years with a calendar", runCalendarList},
		{"audit verify", []string{
			"[--db PATH] [--evidence-dir DIR] [--expect-head SEQ:HASH] [--expect-heads FILE]",
			"--store etcd --etcd-endpoints URLS [--etcd-prefix P] [--evidence-dir DIR] [--expect-head SEQ:HASH] [--expect-heads FILE]",
		}, "check the hash chain, records and evidence (read-only)", runAuditVerify},
		{"audit verify-dossier", []string{"FILE"},
			"check a case file (dossier .zip) offline: every file, every history entry against its hash", runVerifyDossier},
		{"migrate", []string{"--from bolt:PATH|backup:FILE --to etcd:URLS [--etcd-prefix P] [--evidence-dir DIR]"},
			"copy a ledger into an empty etcd prefix, then audit it", runMigrate},
		{"rollups count", []string{"[--db PATH] [--due-soon-days N] [--red-days N] [--listed-days N]", "--store etcd --etcd-endpoints URLS [--etcd-prefix P] [--due-soon-days N] …"},
			"count the statistics' sums of an older etcd ledger, or under other thresholds (replicas stopped)", runRollupsCount},
		{"backup", []string{"--addr URL --token T --out FILE"}, "save a running server's database (admin token)", runBackup},
		{"export", []string{"[--db PATH] --out FILE [--as-of DATE] [--county UNIT] [--lead-unit UNIT] [--state S] [--source S]"},
			"write the ledger as .xlsx (server stopped)", runExport},
		{"workflow", []string{"[--format mermaid|dot]"}, "print the workflow diagram",
			func(_ context.Context, args []string, env Env) error { return runWorkflow(args, env) }},
		{"healthcheck", []string{"[--addr ADDR] [--ready] [--timeout D]"},
			"exit 0 if a running server answers /healthz, else 1", runHealthcheck},
		{"bench", []string{"[--problems N] [--clients C] [--duration D] [--prefer-minimal] [--reads=false] [--json]", "--url URL --tokens B,U,I"},
			"load test on a temporary database (or --url)", runBench},
		{"version", nil, "print the version and build information", runVersion},
	}
}

// findCommand returns the command args start with and the arguments after
// its name.
func findCommand(args []string) (*command, []string, bool) {
	for i := range commands {
		c := &commands[i]
		words := strings.Fields(c.name)
		if len(args) >= len(words) && strings.Join(args[:len(words)], " ") == c.name {
			return c, args[len(words):], true
		}
	}
	return nil, nil, false
}

// commandNamed returns the command called name (nil if none).
func commandNamed(name string) *command {
	c, _, _ := findCommand(strings.Fields(name))
	if c != nil && c.name != name {
		return nil
	}
	return c
}

// isHelp reports whether arg asks for help.
func isHelp(arg string) bool {
	switch arg {
	case "-h", "--h", "-help", "--help", "help":
		return true
	}
	return false
}

// dispatch runs the command args name.
func dispatch(ctx context.Context, args []string, env Env) error {
	if len(args) == 0 {
		writeUsage(env.Stderr, "")
		return errors.New("no command given")
	}
	if isHelp(args[0]) {
		if len(args) > 1 && args[0] == "help" {
			return dispatch(ctx, append(args[1:len(args):len(args)], "-h"), env)
		}
		writeUsage(env.Stdout, "")
		return nil
	}
	if c, rest, ok := findCommand(args); ok {
		return c.run(ctx, rest, env)
	}
	if _, ok := groups[args[0]]; ok {
		if len(args) > 1 && isHelp(args[1]) {
			writeUsage(env.Stdout, args[0])
			return nil
		}
		writeUsage(env.Stderr, args[0])
		if len(args) == 1 {
			return fmt.Errorf("rectify %s needs a subcommand: %s", args[0], subcommands(args[0]))
		}
		return fmt.Errorf("unknown command %q; there are %s", "rectify "+args[0]+" "+args[1], subcommands(args[0]))
	}
	writeUsage(env.Stderr, "")
	return fmt.Errorf("unknown command %q", args[0])
}

// subcommands names the commands of group.
func subcommands(group string) string {
	var names []string
	for _, c := range commands {
		if strings.HasPrefix(c.name, group+" ") {
			names = append(names, "rectify "+c.name)
		}
	}
	return strings.Join(names, ", ")
}

// usageColumn is where the summaries start in the usage.
const usageColumn = 52

// writeUsage prints the usage of every command, or of a group's commands.
func writeUsage(w io.Writer, group string) {
	if group == "" {
		fmt.Fprint(w, "rectify: issue-rectification workflow engine\n\nUsage:\n")
	} else {
		fmt.Fprintf(w, "rectify %s: %s\n\nUsage:\n", group, groups[group])
	}
	for _, c := range commands {
		if group != "" && !strings.HasPrefix(c.name, group+" ") {
			continue
		}
		forms := c.forms
		if len(forms) == 0 {
			forms = []string{""}
		}
		for i, f := range forms {
			line := strings.TrimSpace("  rectify " + c.name + " " + f)
			line = "  " + line
			if i > 0 || len(forms) > 1 {
				fmt.Fprintln(w, line)
				continue
			}
			if len(line) < usageColumn-1 {
				fmt.Fprintf(w, "%-*s%s\n", usageColumn, line, c.summary)
			} else {
				fmt.Fprintf(w, "%s\n%*s%s\n", line, usageColumn, "", c.summary)
			}
		}
		if len(forms) > 1 {
			fmt.Fprintf(w, "%*s%s\n", usageColumn, "", c.summary)
		}
	}
	fmt.Fprint(w, "\nFlags may also be set as RECTIFY_<FLAG> environment variables, e.g. RECTIFY_DB.\n")
	fmt.Fprint(w, "Run 'rectify COMMAND -h' for a command's flags.\n")
}

// writeHelp prints the help of the command whose flags fs holds: its forms,
// its summary, its own flags, then the flags that reach etcd.
func writeHelp(w io.Writer, fs *flag.FlagSet) {
	name := strings.TrimPrefix(fs.Name(), "rectify ")
	if c := commandNamed(name); c != nil {
		forms := c.forms
		if len(forms) == 0 {
			forms = []string{""}
		}
		for i, f := range forms {
			lead := "usage: "
			if i > 0 {
				lead = "       "
			}
			fmt.Fprintln(w, strings.TrimRight(lead+"rectify "+name+" "+f, " "))
		}
		fmt.Fprintf(w, "\n%s\n", c.summary)
	} else {
		fmt.Fprintf(w, "usage: rectify %s\n", name)
	}
	var own, etcd []*flag.Flag
	fs.VisitAll(func(f *flag.Flag) {
		if strings.HasPrefix(f.Name, "etcd-") {
			etcd = append(etcd, f)
		} else {
			own = append(own, f)
		}
	})
	if len(own) > 0 {
		fmt.Fprint(w, "\nFlags:\n")
		for _, f := range own {
			writeFlag(w, f)
		}
	}
	if len(etcd) > 0 {
		fmt.Fprint(w, "\nFlags of the etcd store (with --store etcd):\n")
		for _, f := range etcd {
			writeFlag(w, f)
		}
	}
	if len(own)+len(etcd) > 0 {
		fmt.Fprint(w, "\nEvery flag may also be set as an environment variable RECTIFY_<FLAG>, dashes as\n"+
			"underscores (RECTIFY_DB for --db); the command line wins.\n")
	}
}

// writeFlag prints one flag as flag.PrintDefaults does, with two dashes.
func writeFlag(w io.Writer, f *flag.Flag) {
	kind, usage := flag.UnquoteUsage(f)
	line := "  --" + f.Name
	if kind != "" {
		line += " " + kind
	}
	switch f.DefValue {
	case "", "0", "0s", "false":
	default:
		if kind == "string" {
			usage += fmt.Sprintf(" (default %q)", f.DefValue)
		} else {
			usage += fmt.Sprintf(" (default %s)", f.DefValue)
		}
	}
	fmt.Fprintf(w, "%s\n        %s\n", line, strings.ReplaceAll(usage, "\n", "\n        "))
}
