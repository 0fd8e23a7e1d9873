package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strconv"

	"github.com/jdz-eco/rectify/seeds"
	"github.com/jdz-eco/rectify/store/bolt"
	"github.com/jdz-eco/rectify/workflow"
)

// cliAdmin is the actor of administrative commands run on the server's
// host: PutCalendar needs the bureau or an admin.
var cliAdmin = workflow.Actor{ID: "cli", Name: "rectify cli", Role: workflow.RoleAdmin}

// runCalendarLoad stores a working-day calendar file (FILE, or - for stdin)
// for its year; the server picks it up when it starts.
func runCalendarLoad(ctx context.Context, args []string, env Env) error {
	fs := newFlagSet("calendar load", env)
	db := fs.String("db", "./rectify.db", "bbolt database file (the server must be stopped)")
	files, err := parseFlagsArgs(fs, args, env)
	if err != nil {
		return err
	}
	if len(files) != 1 {
		return errors.New("usage: rectify calendar load --db PATH FILE (a JSON calendar file, or - for standard input)")
	}
	data, err := readInput(files[0], env)
	if err != nil {
		return err
	}
	st, err := openStore(*db, bolt.Options{})
	if err != nil {
		return err
	}
	defer st.Close()
	svc := workflow.NewService(st, workflow.SystemClock{})
	f, err := svc.PutCalendar(ctx, cliAdmin, data)
	if err != nil {
		if workflow.ErrorCode(err) == workflow.CodeInvalid {
			return fmt.Errorf("%s: %s", files[0], workflow.ErrorMessage(err))
		}
		return err
	}
	fmt.Fprintf(env.Stdout, "stored the %d calendar: %d holidays, %d make-up working days\n", f.Year, len(f.Holidays), len(f.Workdays))
	fmt.Fprintln(env.Stderr, "the server uses it from its next start, for stage clocks started from then on")
	return nil
}

func readInput(name string, env Env) ([]byte, error) {
	if name == "-" {
		if env.Stdin == nil {
			return nil, errors.New("no standard input")
		}
		return io.ReadAll(env.Stdin)
	}
	return os.ReadFile(name)
}

// runCalendarList lists the years with a calendar: those stored in the
// database and those shipped with the binary (a stored file replaces the
// shipped one of its year).
func runCalendarList(ctx context.Context, args []string, env Env) error {
	fs := newFlagSet("calendar list", env)
	db := fs.String("db", "./rectify.db", "bbolt database file")
	if err := parseFlags(fs, args, env); err != nil {
		return err
	}
	st, err := openStore(*db, bolt.Options{ReadOnly: true})
	if err != nil {
		return err
	}
	defer st.Close()
	stored, err := st.Calendars(ctx)
	if err != nil {
		return err
	}
	shipped := seeds.Calendars()
	years := slices.Sorted(maps.Keys(shipped))
	for y := range stored {
		if _, ok := shipped[y]; !ok {
			years = append(years, y)
		}
	}
	slices.Sort(years)

	t := &table{}
	t.row("YEAR", "ORIGIN", "HOLIDAYS", "WORKDAYS", "SOURCE")
	for _, y := range years {
		data, origin := shipped[y], "shipped"
		if b, ok := stored[y]; ok {
			data, origin = b, "stored"
			if _, ok := shipped[y]; ok {
				origin = "stored (replaces shipped)"
			}
		}
		f, err := workflow.ParseCalendarFile(data)
		if err != nil {
			t.row(strconv.Itoa(y), origin, "-", "-", "unreadable: "+workflow.ErrorMessage(err))
			continue
		}
		t.row(strconv.Itoa(y), origin, strconv.Itoa(len(f.Holidays)), strconv.Itoa(len(f.Workdays)), f.Source)
	}
	return t.write(env.Stdout)
}
