package main

import (
	"archive/zip"
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/jdz-eco/rectify/seeds"
	"github.com/jdz-eco/rectify/store/bolt"
	"github.com/jdz-eco/rectify/workflow"
	"github.com/jdz-eco/rectify/workflow/ledgerfile"
)

const exportUsage = "usage: rectify export --db PATH --out FILE [--as-of DATE] [--county UNIT] [--lead-unit UNIT] [--state S] [--source S]"

// runExport writes the ledger (整改台账) of a stopped server's database, or of
// a copy or backup, to an .xlsx workbook: the whole ledger (every problem,
// as the system sees it), or the part the filters select, now or as it stood
// at --as-of, as GET /api/v1/ledger.xlsx would. The database is opened
// read-only. The workbook is written to FILE.tmp, fsynced, read back (its
// rows counted), then renamed to FILE, so that FILE is only ever a whole
// workbook.
//
// 是否逾期 and 督办等级 are computed under the default supervision thresholds
// (workflow.DefaultPolicy), not any --red-days etc. the server runs with.
func runExport(ctx context.Context, args []string, env Env) error {
	fs := newFlagSet("export", env)
	db := fs.String("db", "./rectify.db", "bbolt database file: a stopped server's, a copy or a backup (opened read-only)")
	out := fs.String("out", "", "the .xlsx file to write (written to FILE.tmp, then renamed)")
	asOf := fs.String("as-of", "", "the ledger as it stood then: a date (2021-12-31, the end of that day in Asia/Shanghai) or an RFC 3339 time; default now")
	county := fs.String("county", "", "only problems of this county (unit id or exact Chinese name)")
	lead := fs.String("lead-unit", "", "only problems led by this unit (unit id or exact Chinese name)")
	state := fs.String("state", "", "only problems in this state: "+joinEnum(workflow.States))
	source := fs.String("source", "", "only problems from this source: "+joinEnum(workflow.Sources))
	if err := parseFlags(fs, args, env); err != nil {
		return err
	}
	if *out == "" {
		return errors.New("--out is required; " + exportUsage)
	}
	var at time.Time
	if *asOf != "" {
		t, err := workflow.ParseAsOf(*asOf)
		if err != nil {
			return fmt.Errorf("--as-of: %s", workflow.ErrorMessage(err))
		}
		at = t
	}
	f := workflow.ProblemFilter{State: workflow.State(*state), Source: workflow.Source(*source)}
	if f.State != "" && !f.State.Valid() {
		return fmt.Errorf("--state %q: one of %s", *state, joinEnum(workflow.States))
	}
	if f.Source != "" && !f.Source.Valid() {
		return fmt.Errorf("--source %q: one of %s", *source, joinEnum(workflow.Sources))
	}
	if _, err := os.Stat(*db); err != nil {
		return fmt.Errorf("open %s: %w", *db, err)
	}

	st, err := openStore(*db, bolt.Options{ReadOnly: true})
	if err != nil {
		return err
	}
	defer st.Close()
	svc := workflow.NewService(st, workflow.SystemClock{})
	// Stage clocks count working days, as the server does.
	if err := svc.LoadCalendars(ctx, seeds.Calendars()); err != nil {
		return fmt.Errorf("load calendars: %w", err)
	}
	for _, u := range []struct {
		flag, ref string
		dst       *string
	}{{"--county", *county, &f.County}, {"--lead-unit", *lead, &f.LeadUnit}} {
		if u.ref == "" {
			continue
		}
		unit, err := svc.FindUnit(ctx, u.ref)
		if err != nil {
			return fmt.Errorf("%s: %s", u.flag, workflow.ErrorMessage(err))
		}
		*u.dst = unit.ID
	}

	start := time.Now()
	rows, size, err := exportLedgerFile(ctx, svc, f, at, *out)
	if err != nil {
		return err
	}
	when := "now"
	if !at.IsZero() {
		when = "as of " + at.In(workflow.Shanghai).Format("2006-01-02 15:04:05 MST")
	}
	fmt.Fprintf(env.Stdout, "exported %d problems (%s) to %s: %d bytes in %s\n",
		rows, when, *out, size, time.Since(start).Round(time.Millisecond))
	return nil
}

// exportLedgerFile writes the ledger svc's system actor sees, filtered by f,
// as of at (zero: now), to out.tmp, fsyncs it, counts its rows by reading it
// back and renames it to out. On failure out is untouched and out.tmp gone.
func exportLedgerFile(ctx context.Context, svc *workflow.Service, f workflow.ProblemFilter, at time.Time, out string) (rows int, size int64, err error) {
	tmp := out + ".tmp"
	file, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return 0, 0, fmt.Errorf("export: %w", err)
	}
	closed := false
	defer func() {
		if err != nil {
			if !closed {
				file.Close()
			}
			os.Remove(tmp)
		}
	}()
	bw := bufio.NewWriterSize(file, 1<<20)
	cw := &countingWriter{w: bw}
	if err = ledgerfile.WriteLedger(ctx, cw, svc, seeds.SystemActor(), f, at); err != nil {
		return 0, cw.n, fmt.Errorf("export: %w", err)
	}
	if err = bw.Flush(); err != nil {
		return 0, cw.n, fmt.Errorf("export: %w", err)
	}
	if err = file.Sync(); err != nil {
		return 0, cw.n, fmt.Errorf("export: %w", err)
	}
	closed = true
	if err = file.Close(); err != nil {
		return 0, cw.n, fmt.Errorf("export: %w", err)
	}
	if rows, err = countLedgerRows(tmp); err != nil {
		return 0, cw.n, fmt.Errorf("export: reading the workbook back: %w", err)
	}
	if err = os.Rename(tmp, out); err != nil {
		return 0, cw.n, fmt.Errorf("export: %w", err)
	}
	syncDir(filepath.Dir(out))
	return rows, cw.n, nil
}

// ledgerSheetPart is the part of an exported workbook holding the ledger
// sheet: ledgerfile.Export renames the first sheet of a new workbook, whose part
// keeps its name.
const ledgerSheetPart = "xl/worksheets/sheet1.xml"

// countLedgerRows checks that the workbook at path opens with the ledger's
// two sheets and counts the problem rows of the ledger sheet (the header
// aside). It counts the sheet's row elements in its XML as the zip inflates
// it, because excelize's row iterator parses every cell: on 100,000 problems
// it would take longer than the export.
func countLedgerRows(path string) (int, error) {
	f, err := excelize.OpenFile(path)
	if err != nil {
		return 0, err
	}
	sheets := f.GetSheetList()
	f.Close()
	if !slices.Equal(sheets, []string{ledgerfile.SheetLedger, ledgerfile.SheetStats}) {
		return 0, fmt.Errorf("the workbook's sheets are %v, not %s and %s", sheets, ledgerfile.SheetLedger, ledgerfile.SheetStats)
	}
	zr, err := zip.OpenReader(path)
	if err != nil {
		return 0, err
	}
	defer zr.Close()
	part, err := zr.Open(ledgerSheetPart)
	if err != nil {
		return 0, fmt.Errorf("the ledger sheet: %w", err)
	}
	defer part.Close()
	n, err := countRowTags(part)
	if err != nil {
		return 0, fmt.Errorf("the ledger sheet: %w", err)
	}
	if n == 0 {
		return 0, errors.New("the ledger sheet has no header row")
	}
	return n - 1, nil
}

// countRowTags counts the row elements (<row …> or <row>) of a worksheet's
// XML. Text cannot hold them: XML escapes its < as &lt;.
func countRowTags(r io.Reader) (int, error) {
	const tag = "<row"
	buf := make([]byte, 256<<10)
	keep := 0 // bytes carried over from the previous read: a tag may straddle reads
	n := 0
	for {
		m, err := r.Read(buf[keep:])
		data := buf[:keep+m]
		i := 0
		for {
			j := bytes.Index(data[i:], []byte(tag))
			if j < 0 || i+j+len(tag) >= len(data) {
				if j >= 0 {
					i += j // undecided: keep it for the next read
				} else {
					i = max(i, len(data)-len(tag))
				}
				break
			}
			i += j + len(tag)
			if c := data[i]; c == ' ' || c == '>' || c == '\t' || c == '\n' || c == '\r' {
				n++
			}
		}
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		keep = copy(buf, data[max(i, 0):])
	}
}

// countingWriter counts the bytes written through it.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// joinEnum lists the values of an enum for a flag's help.
func joinEnum[T ~string](xs []T) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = string(x)
	}
	return strings.Join(s, ", ")
}
