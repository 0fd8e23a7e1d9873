package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/jdz-eco/rectify/api/web"
	"github.com/jdz-eco/rectify/seeds"
	"github.com/jdz-eco/rectify/store/bolt"
	"github.com/jdz-eco/rectify/workflow"
)

func runSeed(ctx context.Context, args []string, env Env) error {
	fs := newFlagSet("seed", env)
	db := fs.String("db", "./rectify.db", "bbolt database file (the server must be stopped)")
	kind, ef := addStoreFlags(fs)
	initEmpty := fs.Bool("init", false, "make an existing empty (0-byte) --db file a new ledger (a missing file is always created)")
	if err := parseFlags(fs, args, env); err != nil {
		return err
	}
	st, err := openCLIStore(ctx, *kind, *db, ef, bolt.Options{Init: *initEmpty})
	if err != nil {
		return err
	}
	defer st.Close()
	svc := workflow.NewService(st, workflow.SystemClock{})
	// The seed assignment starts a stage clock, counted in working days.
	if err := svc.LoadCalendars(ctx, seeds.Calendars()); err != nil {
		return fmt.Errorf("load calendars: %w", err)
	}
	rep, err := seeds.Load(ctx, svc)
	if err != nil {
		return err
	}
	fmt.Fprintln(env.Stdout, rep.String())
	return nil
}

func runUserAdd(ctx context.Context, args []string, env Env) error {
	fs := newFlagSet("user add", env)
	db := fs.String("db", "./rectify.db", "bbolt database file (the server must be stopped)")
	kind, ef := addStoreFlags(fs)
	name := fs.String("name", "", "the user's name (unique; it signs in to the web pages)")
	role := fs.String("role", "", "admin, bureau, unit, inspector or viewer")
	unit := fs.String("unit", "", "unit id or its exact Chinese name")
	withPassword := fs.Bool("password-stdin", false, "read a password for the web pages from the first line of standard input")
	expires := fs.String("expires", "", "when the token stops working: a date (2026-12-31) or an RFC 3339 time (default: never)")
	if err := parseFlags(fs, args, env); err != nil {
		return err
	}
	if err := checkNewUserFlags(*name, *role, *unit); err != nil {
		return err
	}
	exp, err := parseExpiry(*expires)
	if err != nil {
		return err
	}
	var hash string
	if *withPassword {
		if hash, err = readPasswordHash(env); err != nil {
			return err
		}
	}
	st, err := openCLIStore(ctx, *kind, *db, ef, bolt.Options{})
	if err != nil {
		return err
	}
	defer st.Close()
	svc := workflow.NewService(st, workflow.SystemClock{})
	u, err := svc.FindUnit(ctx, *unit)
	if err != nil {
		return fmt.Errorf("--unit: %s", workflow.ErrorMessage(err))
	}
	user, token, err := svc.CreateUser(ctx, cliActor, workflow.NewUser{Name: *name, Role: workflow.Role(*role), UnitID: u.ID, TokenExpiresAt: exp})
	if err != nil {
		return errors.New(workflow.ErrorMessage(err))
	}
	withPw := ""
	if hash != "" {
		if err := svc.SetPassword(ctx, cliActor, user.ID, hash); err != nil {
			return fmt.Errorf("created user %s, but setting its password failed: %s", user.ID, workflow.ErrorMessage(err))
		}
		withPw = ", with a password"
	}
	fmt.Fprintf(env.Stderr, "created user %s (%s, %s, %s%s); its token, shown once:\n", user.ID, user.Name, user.Role, u.Name, withPw)
	fmt.Fprintln(env.Stdout, token)
	return nil
}

// checkNewUserFlags refuses, before the database is opened, a user add
// without a name, a known role or a unit, saying which flag is missing.
func checkNewUserFlags(name, role, unit string) error {
	switch {
	case strings.TrimSpace(name) == "":
		return errors.New("--name is required: the user's name, with which it signs in to the web pages")
	case !workflow.Role(role).Valid():
		roles := make([]string, len(workflow.UserRoles))
		for i, r := range workflow.UserRoles {
			roles[i] = string(r)
		}
		return fmt.Errorf("--role %q: one of %s", role, strings.Join(roles, ", "))
	case strings.TrimSpace(unit) == "" && workflow.Role(role) == workflow.RoleUnit:
		return errors.New("--role unit needs --unit: the county, zone, department or company the officer acts for (its id or exact Chinese name; 'rectify units' lists them)")
	case strings.TrimSpace(unit) == "":
		return errors.New("--unit is required: the unit the user belongs to (its id or exact Chinese name; 'rectify units' lists them)")
	}
	return nil
}

// runUserPasswd sets the web password of the user called --name, read from
// standard input; the user's sessions end.
func runUserPasswd(ctx context.Context, args []string, env Env) error {
	fs := newFlagSet("user passwd", env)
	db := fs.String("db", "./rectify.db", "bbolt database file (the server must be stopped)")
	kind, ef := addStoreFlags(fs)
	name := fs.String("name", "", "the user's name")
	stdin := fs.Bool("password-stdin", false, "read the password from the first line of standard input (required)")
	revoke := fs.Bool("revoke-tokens", false, "revoke every API token of the user as well")
	if err := parseFlags(fs, args, env); err != nil {
		return err
	}
	if !*stdin {
		return errors.New("pass the password on standard input with --password-stdin (never on the command line)")
	}
	if strings.TrimSpace(*name) == "" {
		return errors.New("--name is required")
	}
	hash, err := readPasswordHash(env)
	if err != nil {
		return err
	}
	st, err := openCLIStore(ctx, *kind, *db, ef, bolt.Options{})
	if err != nil {
		return err
	}
	defer st.Close()
	svc := workflow.NewService(st, workflow.SystemClock{})
	u, err := svc.UserByName(ctx, *name)
	if err != nil {
		return fmt.Errorf("--name: %s", workflow.ErrorMessage(err))
	}
	revoked, err := svc.ChangePassword(ctx, cliActor, u.ID, workflow.PasswordChange{Hash: hash, RevokeTokens: *revoke})
	if err != nil {
		return errors.New(workflow.ErrorMessage(err))
	}
	fmt.Fprintf(env.Stderr, "set the password of user %s (%s); its web sessions have ended\n", u.ID, u.Name)
	if *revoke {
		fmt.Fprintf(env.Stderr, "revoked its %d API tokens\n", len(revoked))
	}
	return nil
}

// readPasswordHash reads a password from the first line of standard input
// and returns its argon2id hash.
func readPasswordHash(env Env) (string, error) {
	if env.Stdin == nil {
		return "", errors.New("--password-stdin: no standard input")
	}
	line, err := bufio.NewReader(io.LimitReader(env.Stdin, 4096)).ReadString('\n')
	if err != nil && err != io.EOF {
		return "", fmt.Errorf("--password-stdin: %w", err)
	}
	pw := strings.TrimRight(line, "\r\n")
	if err := web.CheckPasswordRules(pw); err != nil {
		return "", fmt.Errorf("--password-stdin: %s (%w)", passwordRuleEnglish(pw), err)
	}
	return web.HashPassword(pw)
}

// passwordRuleEnglish says in English which rule pw breaks.
func passwordRuleEnglish(pw string) string {
	if n := utf8.RuneCountInString(pw); n < web.MinPassword {
		return fmt.Sprintf("the password needs at least %d characters", web.MinPassword)
	}
	return fmt.Sprintf("the password must be valid text of at most %d characters", web.MaxPassword)
}

func runUnits(ctx context.Context, args []string, env Env) error {
	fs := newFlagSet("units", env)
	db := fs.String("db", "./rectify.db", "bbolt database file")
	if err := parseFlags(fs, args, env); err != nil {
		return err
	}
	st, err := openStore(*db, bolt.Options{ReadOnly: true})
	if err != nil {
		return err
	}
	defer st.Close()
	units, err := workflow.NewService(st, workflow.SystemClock{}).Units(ctx)
	if err != nil {
		return err
	}
	t := &table{}
	t.row("ID", "NAME", "KIND", "PARENT")
	for _, u := range units {
		t.row(u.ID, u.Name, string(u.Kind), u.Parent)
	}
	return t.write(env.Stdout)
}

func runWorkflow(args []string, env Env) error {
	fs := newFlagSet("workflow", env)
	format := fs.String("format", "mermaid", "mermaid or dot")
	if err := parseFlags(fs, args, env); err != nil {
		return err
	}
	switch *format {
	case "mermaid":
		fmt.Fprint(env.Stdout, workflow.Mermaid())
	case "dot":
		fmt.Fprint(env.Stdout, workflow.DOT())
	default:
		return fmt.Errorf("unknown format %q (mermaid or dot)", *format)
	}
	return nil
}
