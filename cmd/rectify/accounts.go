package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jdz-eco/rectify/store/bolt"
	"github.com/jdz-eco/rectify/workflow"
)

// The account lifecycle on the command line: on a stopped server's file
// (or an etcd ledger), as the system actor, each change recorded in the
// account log like one an admin makes through the API.

// userCommand is an account command's flags and the user it names.
type userCommand struct {
	fs   *flag.FlagSet
	db   *string
	kind *string
	ef   *etcdFlags
	name *string
}

func newUserCommand(name string, env Env) *userCommand {
	fs := newFlagSet(name, env)
	c := &userCommand{fs: fs}
	c.db = fs.String("db", "./rectify.db", "bbolt database file (the server must be stopped)")
	c.kind, c.ef = addStoreFlags(fs)
	c.name = fs.String("name", "", "the user's name")
	return c
}

// open parses args, opens the store and finds the user called --name.
func (c *userCommand) open(ctx context.Context, args []string, env Env) (*workflow.Service, *workflow.User, func(), error) {
	if err := parseFlags(c.fs, args, env); err != nil {
		return nil, nil, nil, err
	}
	if strings.TrimSpace(*c.name) == "" {
		return nil, nil, nil, errors.New("--name is required")
	}
	st, err := openCLIStore(ctx, *c.kind, *c.db, c.ef, bolt.Options{})
	if err != nil {
		return nil, nil, nil, err
	}
	svc := workflow.NewService(st, workflow.SystemClock{})
	u, err := svc.UserByName(ctx, *c.name)
	if err != nil {
		st.Close()
		return nil, nil, nil, fmt.Errorf("--name: %s", workflow.ErrorMessage(err))
	}
	return svc, u, func() { st.Close() }, nil
}

// parseExpiry reads --expires: empty for none, else a date (the end of
// that day in Asia/Shanghai) or an RFC 3339 time.
func parseExpiry(s string) (*time.Time, error) {
	if s == "" {
		return nil, nil
	}
	t, err := workflow.ParseDeadline(s)
	if err != nil {
		return nil, fmt.Errorf("--expires %q: a date (2026-12-31) or an RFC 3339 time", s)
	}
	return &t, nil
}

// runUserDisable disables (or enables) the user called --name.
func runUserDisable(ctx context.Context, args []string, env Env, disabled bool) error {
	verb := map[bool]string{true: "disable", false: "enable"}[disabled]
	c := newUserCommand("user "+verb, env)
	svc, u, done, err := c.open(ctx, args, env)
	if err != nil {
		return err
	}
	defer done()
	if _, err := svc.SetUserDisabled(ctx, cliActor, u.ID, disabled); err != nil {
		return errors.New(workflow.ErrorMessage(err))
	}
	if disabled {
		fmt.Fprintf(env.Stderr, "disabled user %s (%s): its tokens and web sessions stop working\n", u.ID, u.Name)
	} else {
		fmt.Fprintf(env.Stderr, "enabled user %s (%s)\n", u.ID, u.Name)
	}
	return nil
}

// runUserTokens lists the tokens of the user called --name: ids, never
// secrets.
func runUserTokens(ctx context.Context, args []string, env Env) error {
	c := newUserCommand("user tokens", env)
	svc, u, done, err := c.open(ctx, args, env)
	if err != nil {
		return err
	}
	defer done()
	tokens, err := svc.UserTokens(ctx, cliActor, u.ID)
	if err != nil {
		return errors.New(workflow.ErrorMessage(err))
	}
	now := time.Now()
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TOKEN\tCREATED\tEXPIRES\tSTATE")
	for _, t := range tokens {
		exp, state := "never", "valid"
		if t.ExpiresAt != nil {
			exp = t.ExpiresAt.In(workflow.Shanghai).Format(time.DateTime)
		}
		switch {
		case u.Disabled:
			state = "user disabled"
		case t.Expired(now):
			state = "expired"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", t.ID(), t.CreatedAt.In(workflow.Shanghai).Format(time.DateTime), exp, state)
	}
	return tw.Flush()
}

// runUserRevoke revokes the tokens --token names (comma-separated ids), or
// all with --all.
func runUserRevoke(ctx context.Context, args []string, env Env) error {
	c := newUserCommand("user revoke", env)
	ids := c.fs.String("token", "", "ids of the tokens to revoke, comma-separated (see rectify user tokens)")
	all := c.fs.Bool("all", false, "revoke every token of the user")
	svc, u, done, err := c.open(ctx, args, env)
	if err != nil {
		return err
	}
	defer done()
	list := splitList(*ids)
	if (len(list) == 0) == !*all {
		return errors.New("give --token ID[,ID…] or --all")
	}
	revoked, err := svc.RevokeTokens(ctx, cliActor, u.ID, list)
	if err != nil {
		return errors.New(workflow.ErrorMessage(err))
	}
	fmt.Fprintf(env.Stderr, "revoked %d tokens of user %s (%s)\n", len(revoked), u.ID, u.Name)
	for _, id := range revoked {
		fmt.Fprintln(env.Stdout, id)
	}
	return nil
}

// runUserRotate replaces token --token by a new one and prints its secret.
func runUserRotate(ctx context.Context, args []string, env Env) error {
	c := newUserCommand("user rotate", env)
	id := c.fs.String("token", "", "id of the token to replace (see rectify user tokens)")
	expires := c.fs.String("expires", "", "when the new token stops working: a date or an RFC 3339 time (default: the old token's lifetime from now, or never)")
	svc, u, done, err := c.open(ctx, args, env)
	if err != nil {
		return err
	}
	defer done()
	if *id == "" {
		return errors.New("--token is required")
	}
	exp, err := parseExpiry(*expires)
	if err != nil {
		return err
	}
	secret, t, err := svc.RotateToken(ctx, cliActor, u.ID, *id, exp)
	if err != nil {
		return errors.New(workflow.ErrorMessage(err))
	}
	fmt.Fprintf(env.Stderr, "replaced token %s of user %s (%s) by token %s; its secret, shown once:\n", *id, u.ID, u.Name, t.ID())
	fmt.Fprintln(env.Stdout, secret)
	return nil
}
