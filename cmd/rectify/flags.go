package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// newFlagSet returns a flag set for command name (as the command table
// names it). Parsing it prints nothing: -h prints the command's help on
// standard output (see parseFlagsArgs), and a bad flag is an error.
func newFlagSet(name string, env Env) *flag.FlagSet {
	fs := flag.NewFlagSet("rectify "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}

// parseFlags parses args, taking any flag not given on the command line from
// its RECTIFY_<NAME> environment variable (dashes become underscores). It
// refuses positional arguments.
func parseFlags(fs *flag.FlagSet, args []string, env Env) error {
	rest, err := parseFlagsArgs(fs, args, env)
	if err == nil && len(rest) > 0 {
		err = fmt.Errorf("unexpected argument %q", rest[0])
	}
	return err
}

// parseFlagsArgs is parseFlags for commands that take positional arguments:
// flags may come before or after them (everything after "--" is
// positional). It returns the positional arguments.
func parseFlagsArgs(fs *flag.FlagSet, args []string, env Env) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				writeHelp(env.Stdout, fs)
				return nil, err
			}
			return nil, fmt.Errorf("%w ('%s -h' lists its flags)", err, fs.Name())
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			pos = append(pos, rest...)
			break
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] || err != nil {
			return
		}
		key := envKey(f.Name)
		if v := env.Getenv(key); v != "" {
			if e := f.Value.Set(v); e != nil {
				err = fmt.Errorf("%s=%q: %w", key, v, e)
			}
		}
	})
	return pos, err
}

// envKey is the environment variable of flag name: RECTIFY_<NAME>.
func envKey(name string) string {
	return "RECTIFY_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}
