package main

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"
)

// flagLine matches a flag in a command's help.
var flagLine = regexp.MustCompile(`(?m)^  --([a-z0-9-]+)`)

// TestHelpEveryCommand: every command and subcommand answers -h (and
// --help, and help COMMAND) with its help on standard output and no error
// (exit 0): its command line, its own flags, then the etcd flags grouped
// after them. The groups (user, calendar, audit) and the binary itself
// answer with their usage.
func TestHelpEveryCommand(t *testing.T) {
	for _, c := range commands {
		for _, args := range [][]string{
			append(strings.Fields(c.name), "-h"),
			append(strings.Fields(c.name), "--help"),
			append([]string{"help"}, strings.Fields(c.name)...),
		} {
			var out, errb bytes.Buffer
			err := Main(context.Background(), args, Env{Stdout: &out, Stderr: &errb})
			if err != nil {
				t.Errorf("rectify %s: %v\n%s", strings.Join(args, " "), err, errb.String())
				continue
			}
			help := out.String()
			if !strings.HasPrefix(help, "usage: rectify "+c.name) || !strings.Contains(help, c.summary) {
				t.Errorf("rectify %s prints:\n%s", strings.Join(args, " "), help)
			}
			if errb.Len() > 0 {
				t.Errorf("rectify %s writes to standard error:\n%s", strings.Join(args, " "), errb.String())
			}
			seenEtcd := false
			for _, m := range flagLine.FindAllStringSubmatch(help, -1) {
				etcd := strings.HasPrefix(m[1], "etcd-")
				if seenEtcd && !etcd {
					t.Errorf("rectify %s: --%s comes after the etcd flags:\n%s", c.name, m[1], help)
				}
				seenEtcd = seenEtcd || etcd
			}
			if seenEtcd && !strings.Contains(help, "Flags of the etcd store") {
				t.Errorf("rectify %s: the etcd flags have no heading of their own:\n%s", c.name, help)
			}
		}
	}
	// Flags that every such command has are listed.
	for name, want := range map[string][]string{
		"serve": {"db", "addr", "demo", "store", "etcd-endpoints"}, "seed": {"db", "store", "etcd-prefix"},
		"units": {"db"}, "healthcheck": {"addr", "ready", "timeout"}, "version": nil,
	} {
		var out bytes.Buffer
		if err := Main(context.Background(), []string{name, "-h"}, Env{Stdout: &out}); err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, m := range flagLine.FindAllStringSubmatch(out.String(), -1) {
			got = append(got, m[1])
		}
		for _, f := range want {
			if !strings.Contains(" "+strings.Join(got, " ")+" ", " "+f+" ") {
				t.Errorf("rectify %s -h lacks --%s: %v", name, f, got)
			}
		}
	}

	for _, args := range [][]string{{"-h"}, {"--help"}, {"help"}, {"user", "-h"}, {"calendar", "-h"}, {"audit", "--help"}} {
		var out bytes.Buffer
		if err := Main(context.Background(), args, Env{Stdout: &out}); err != nil {
			t.Errorf("rectify %s: %v", strings.Join(args, " "), err)
		}
		for _, c := range commands {
			if (len(args) == 1 || strings.HasPrefix(c.name, args[0]+" ")) && !strings.Contains(out.String(), "rectify "+c.name) {
				t.Errorf("rectify %s does not list %s:\n%s", strings.Join(args, " "), c.name, out.String())
			}
		}
	}
}

// TestCommandLineRefusals: a missing or unknown command or subcommand, and
// an unknown flag, are errors (exit 2) that say what to run instead.
func TestCommandLineRefusals(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "no command given"},
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"user"}, "rectify user needs a subcommand"},
		{[]string{"calendar", "drop"}, `unknown command "rectify calendar drop"`},
		{[]string{"units", "--bogus"}, "'rectify units -h' lists its flags"},
		{[]string{"user", "add", "--db", "x.db", "--bogus"}, "'rectify user add -h' lists its flags"},
	} {
		var out, errb bytes.Buffer
		err := Main(context.Background(), tc.args, Env{Stdout: &out, Stderr: &errb})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("rectify %s: %v, want %q", strings.Join(tc.args, " "), err, tc.want)
		}
		if out.Len() > 0 {
			t.Errorf("rectify %s printed on standard output:\n%s", strings.Join(tc.args, " "), out.String())
		}
	}
}
