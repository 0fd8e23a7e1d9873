package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jdz-eco/rectify/store/bolt"
	"github.com/jdz-eco/rectify/workflow"
)

// cal2022 is the State Council's 2022 arrangement, enough of it for tests.
const cal2022 = `{
  "year": 2022,
  "source": "国务院办公厅关于2022年部分节假日安排的通知",
  "holidays": [
    {"name": "元旦", "from": "2022-01-01", "to": "2022-01-03"},
    {"name": "春节", "from": "2022-01-31", "to": "2022-02-06"}
  ],
  "workdays": ["2022-01-29", "2022-01-30"]
}`

func TestCalendarCommands(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "rectify.db")
	run(t, "seed", "--db", db)
	list := run(t, "calendar", "list", "--db", db)
	if !strings.Contains(list, "2021") || !strings.Contains(list, "shipped") || strings.Contains(list, "2022") {
		t.Errorf("list before loading:\n%s", list)
	}

	file := filepath.Join(dir, "2022.json")
	if err := os.WriteFile(file, []byte(cal2022), 0o600); err != nil {
		t.Fatal(err)
	}
	if out := run(t, "calendar", "load", "--db", db, file); !strings.Contains(out, "2022") || !strings.Contains(out, "2 holidays") {
		t.Errorf("load: %s", out)
	}
	// Flags may follow the file; - reads standard input.
	var out bytes.Buffer
	env := Env{Stdin: strings.NewReader(strings.ReplaceAll(cal2022, "2022", "2021")), Stdout: &out, Stderr: io.Discard}
	if err := Main(context.Background(), []string{"calendar", "load", "-", "--db", db}, env); err != nil {
		t.Fatalf("load from stdin: %v", err)
	}
	list = run(t, "calendar", "list", "--db", db)
	for _, want := range []string{"2021  stored (replaces shipped)", "2022  stored", "国务院办公厅关于2022年部分节假日安排的通知"} {
		if !strings.Contains(list, want) {
			t.Errorf("list lacks %q:\n%s", want, list)
		}
	}

	// The server's service reads the stored files over the shipped ones.
	st, err := bolt.Open(db, bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := parseServeFlags(nil, envOf(nil))
	if err != nil {
		t.Fatal(err)
	}
	svc, err := newService(context.Background(), st, cfg, slogTo(io.Discard))
	if err != nil {
		t.Fatal(err)
	}
	cal := svc.Calendar()
	if years := cal.Years(); !slices.Contains(years, 2021) || !slices.Contains(years, 2022) {
		t.Errorf("calendar years %v", years)
	}
	day := func(s string) time.Time {
		d, _ := time.ParseInLocation(time.DateOnly, s, workflow.Shanghai)
		return d.Add(12 * time.Hour)
	}
	// 2022-01-29 is a make-up Saturday; 2021-02-11 (春节 in the shipped
	// file) is a Thursday the stored 2021 file does not list.
	if !cal.IsWorkday(day("2022-01-29")) || cal.IsWorkday(day("2022-02-01")) || !cal.IsWorkday(day("2021-02-11")) {
		t.Errorf("calendar does not follow the stored files: %s", cal)
	}
	st.Close()

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"calendar"}, "needs a subcommand: rectify calendar load, rectify calendar list"},
		{[]string{"calendar", "drop"}, `unknown command "rectify calendar drop"`},
		{[]string{"calendar", "load", "--db", db}, "usage"},
		{[]string{"calendar", "load", "--db", db, file, file}, "usage"},
		{[]string{"calendar", "load", "--db", db, filepath.Join(dir, "missing.json")}, "missing.json"},
		{[]string{"calendar", "list", "--db", db, "extra"}, "unexpected argument"},
	} {
		if err := Main(context.Background(), tc.args, Env{Stdout: io.Discard, Stderr: io.Discard}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v; want an error with %q", tc.args, err, tc.want)
		}
	}
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`{"year":2022,"workdays":["2022-02-30"]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Main(context.Background(), []string{"calendar", "load", "--db", db, bad}, Env{Stdout: io.Discard, Stderr: io.Discard}); err == nil ||
		!strings.Contains(err.Error(), "bad.json") || !strings.Contains(err.Error(), "2022-02-30") {
		t.Errorf("bad file: %v", err)
	}
}

func TestParseFlagsArgs(t *testing.T) {
	for _, tc := range []struct {
		args []string
		pos  []string
		db   string
	}{
		{[]string{"--db", "x", "a"}, []string{"a"}, "x"},
		{[]string{"a", "--db", "x"}, []string{"a"}, "x"},
		{[]string{"a", "--db", "x", "b"}, []string{"a", "b"}, "x"},
		{[]string{"--", "--db", "x"}, []string{"--db", "x"}, "env"},
		{[]string{"a", "--", "-b"}, []string{"a", "-b"}, "env"},
		{nil, nil, "env"},
	} {
		fs := newFlagSet("t", Env{Stderr: io.Discard})
		db := fs.String("db", "", "")
		pos, err := parseFlagsArgs(fs, tc.args, envOf(map[string]string{"RECTIFY_DB": "env"}))
		if err != nil || !slices.Equal(pos, tc.pos) || *db != tc.db {
			t.Errorf("%q: positional %q, db %q, %v; want %q, %q", tc.args, pos, *db, err, tc.pos, tc.db)
		}
	}
}
