package main

import (
	"context"
	"errors"
	"fmt"
	"text/tabwriter"

	"github.com/jdz-eco/rectify/seeds"
	"github.com/jdz-eco/rectify/store/bolt"
	"github.com/jdz-eco/rectify/workflow"
)

func runSeed(ctx context.Context, args []string, env Env) error {
	fs := newFlagSet("seed", env)
	db := fs.String("db", "./rectify.db", "bbolt database file (the server must be stopped)")
	if err := parseFlags(fs, args, env); err != nil {
		return err
	}
	st, err := openStore(*db, bolt.Options{})
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
	fmt.Fprintf(env.Stdout, "%+v\n", rep)
	return nil
}

func runUser(ctx context.Context, args []string, env Env) error {
	if len(args) == 0 || args[0] != "add" {
		return errors.New("usage: rectify user add --db PATH --name N --role R --unit UNIT")
	}
	fs := newFlagSet("user add", env)
	db := fs.String("db", "./rectify.db", "bbolt database file (the server must be stopped)")
	name := fs.String("name", "", "the user's name")
	role := fs.String("role", "", "admin, bureau, unit, inspector or viewer")
	unit := fs.String("unit", "", "unit id or its exact Chinese name")
	if err := parseFlags(fs, args[1:], env); err != nil {
		return err
	}
	st, err := openStore(*db, bolt.Options{})
	if err != nil {
		return err
	}
	defer st.Close()
	svc := workflow.NewService(st, workflow.SystemClock{})
	u, err := svc.FindUnit(ctx, *unit)
	if err != nil {
		return fmt.Errorf("--unit: %s", workflow.ErrorMessage(err))
	}
	system := workflow.Actor{ID: "system", Name: "rectify", Role: workflow.RoleSystem}
	user, token, err := svc.CreateUser(ctx, system, workflow.NewUser{Name: *name, Role: workflow.Role(*role), UnitID: u.ID})
	if err != nil {
		return errors.New(workflow.ErrorMessage(err))
	}
	fmt.Fprintf(env.Stderr, "created user %s (%s, %s, %s); its token, shown once:\n", user.ID, user.Name, user.Role, u.Name)
	fmt.Fprintln(env.Stdout, token)
	return nil
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
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tKIND\tPARENT")
	for _, u := range units {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", u.ID, u.Name, u.Kind, u.Parent)
	}
	return tw.Flush()
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
