package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/jdz-eco/rectify/seeds"
	"github.com/jdz-eco/rectify/store/bolt"
	"github.com/jdz-eco/rectify/workflow"
	"github.com/jdz-eco/rectify/workflow/ledgerfile"
)

// exportDB builds, through the service, a database holding the seed plan's
// problems and two more: one in 乐平市 logged on 2021-07-01 and assigned on
// 2021-08-02, one in 浮梁县 logged and left found. The store is closed when
// it returns, as a stopped server's would be. It returns the file and the
// number of problems.
func exportDB(t *testing.T) (string, int) {
	t.Helper()
	db := filepath.Join(t.TempDir(), "rectify.db")
	st, err := bolt.Open(db, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	clock := workflow.NewManualClock(time.Date(2021, 6, 24, 1, 0, 0, 0, time.UTC))
	svc := workflow.NewService(st, clock)
	ctx := context.Background()
	if err := svc.LoadCalendars(ctx, seeds.Calendars()); err != nil {
		t.Fatal(err)
	}
	if _, err := seeds.Load(ctx, svc); err != nil {
		t.Fatal(err)
	}
	bureau := seeds.SystemActor()
	clock.Set(time.Date(2021, 7, 1, 2, 0, 0, 0, time.UTC))
	p, _, err := svc.CreateProblem(ctx, bureau, workflow.NewProblem{Title: "工业园区污水直排", Description: "乐平市工业园区污水管网不完善，部分企业污水直排。",
		Source: workflow.SourceProvincialInspection, SourceRef: "省级生态环境保护督察反馈意见第12项", CountyID: seeds.LepingUnitID})
	if err != nil {
		t.Fatal(err)
	}
	clock.Set(time.Date(2021, 8, 2, 2, 0, 0, 0, time.UTC))
	d := workflow.EndOfDay(time.Date(2021, 12, 31, 0, 0, 0, 0, workflow.Shanghai))
	if _, err := svc.Fire(ctx, bureau, p.ID, workflow.Command{Trigger: workflow.TriggerAssign,
		Params: workflow.Params{LeadUnit: seeds.LepingUnitID, Deadline: &d}}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := svc.CreateProblem(ctx, bureau, workflow.NewProblem{Title: "建筑垃圾乱堆", Description: "浮梁县某地块建筑垃圾长期露天堆放。",
		Source: workflow.SourceWarningFilm, CountyID: seeds.FuliangUnitID}); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, err := range svc.EachProblem(ctx, bureau, workflow.ProblemFilter{}) {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	return db, n
}

// readLedger opens an exported workbook: its sheets and the ledger's rows.
func readLedger(t *testing.T, path string) ([]string, [][]string) {
	t.Helper()
	f, err := excelize.OpenFile(path)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	defer f.Close()
	rows, err := f.GetRows(ledgerfile.SheetLedger)
	if err != nil {
		t.Fatal(err)
	}
	return f.GetSheetList(), rows
}

func exportRun(args ...string) (string, error) {
	var out, errb bytes.Buffer
	err := runExport(context.Background(), args, Env{Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" }})
	return out.String() + errb.String(), err
}

func TestExport(t *testing.T) {
	db, total := exportDB(t)
	if total < 3 {
		t.Fatalf("only %d problems", total)
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "台账.xlsx")
	printed, err := exportRun("--db", db, "--out", out)
	if err != nil {
		t.Fatalf("export: %v\n%s", err, printed)
	}
	fi, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	want := regexp.MustCompile(`^exported ` + strconv.Itoa(total) + ` problems \(now\) to .*台账\.xlsx: ` + strconv.FormatInt(fi.Size(), 10) + ` bytes in `)
	if !want.MatchString(printed) {
		t.Errorf("printed %q, want %s", printed, want)
	}
	if _, err := os.Stat(out + ".tmp"); !os.IsNotExist(err) {
		t.Errorf("%s.tmp left behind: %v", out, err)
	}
	sheets, rows := readLedger(t, out)
	if !slices.Equal(sheets, []string{ledgerfile.SheetLedger, ledgerfile.SheetStats}) {
		t.Errorf("sheets %v", sheets)
	}
	if !slices.Equal(rows[0], ledgerfile.Columns) || rows[0][0] != "序号" || rows[0][18] != "销号时间" {
		t.Errorf("header %q", rows[0])
	}
	if len(rows) != total+1 {
		t.Fatalf("%d rows, want %d problems and the header", len(rows), total)
	}
	state, lead := slices.Index(ledgerfile.Columns, ledgerfile.ColState), slices.Index(ledgerfile.Columns, ledgerfile.ColLeadUnit)
	lp := rows[len(rows)-2]
	if lp[4] != "乐平市工业园区污水管网不完善，部分企业污水直排。" || lp[state] != "已交办" || lp[lead] != "乐平市" {
		t.Errorf("乐平市 row %q", lp)
	}

	// As of 2021-07-31: the 乐平市 problem was found; the last not yet logged.
	old := filepath.Join(dir, "old.xlsx")
	if printed, err := exportRun("--db", db, "--out", old, "--as-of", "2021-07-31"); err != nil || !strings.Contains(printed, "as of 2021-07-31 23:59:59 CST") {
		t.Fatalf("export --as-of: %v\n%s", err, printed)
	}
	_, rows = readLedger(t, old)
	if len(rows) != total || rows[len(rows)-1][state] != "待交办" || rows[len(rows)-1][lead] != "" {
		t.Errorf("as of 2021-07-31: %d rows, last %q", len(rows), rows[len(rows)-1])
	}

	// Filters: a county by name, a state, a source.
	for _, tc := range []struct {
		args []string
		want int
	}{
		{[]string{"--county", "乐平市", "--state", "assigned"}, 1},
		{[]string{"--county", seeds.LepingUnitID, "--as-of", "2021-07-31", "--state", "assigned"}, 0},
		{[]string{"--source", "warning_film", "--county", "浮梁县", "--state", "found"}, 1},
	} {
		path := filepath.Join(dir, "f.xlsx")
		if printed, err := exportRun(append([]string{"--db", db, "--out", path}, tc.args...)...); err != nil {
			t.Fatalf("export %v: %v\n%s", tc.args, err, printed)
		}
		if _, rows := readLedger(t, path); len(rows) != tc.want+1 {
			t.Errorf("export %v: %d rows, want %d", tc.args, len(rows)-1, tc.want)
		}
	}
}

func TestExportRefused(t *testing.T) {
	db, _ := exportDB(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "x.xlsx")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--db", db}, "--out is required"},
		{[]string{"--db", db, "--out", out, "--as-of", "yesterday"}, "--as-of"},
		{[]string{"--db", db, "--out", out, "--state", "lost"}, "--state"},
		{[]string{"--db", db, "--out", out, "--source", "rumour"}, "--source"},
		{[]string{"--db", db, "--out", out, "--county", "不存在县"}, "--county"},
		{[]string{"--db", filepath.Join(dir, "none.db"), "--out", out}, "none.db"},
		{[]string{"--db", db, "--out", filepath.Join(dir, "no", "such", "dir.xlsx")}, "export"},
	} {
		printed, err := exportRun(tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("export %v: %v, want an error about %s\n%s", tc.args, err, tc.want, printed)
		}
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("a refused export wrote %s: %v", out, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "none.db")); !os.IsNotExist(err) {
		t.Errorf("export created the missing database: %v", err)
	}
	// A database a server holds open is refused as in use.
	st, err := bolt.Open(db, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := exportRun("--db", db, "--out", out); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Errorf("export of an open database: %v", err)
	}
}

// TestExportCountRowTags: row elements are counted however the reads split them,
// and nothing else is.
func TestExportCountRowTags(t *testing.T) {
	xml := `<worksheet><sheetData><row r="1"><c t="inlineStr"><is><t>&lt;row &lt;rows</t></is></c></row>` +
		`<row>` + "<row\n" + `r="3"/><rows/><rowx/></sheetData></worksheet><row`
	for name, r := range map[string]io.Reader{
		"whole":    strings.NewReader(xml),
		"one byte": iotest.OneByteReader(strings.NewReader(xml)),
		"half":     iotest.HalfReader(strings.NewReader(xml)),
	} {
		if n, err := countRowTags(r); n != 3 || err != nil {
			t.Errorf("%s: %d rows, %v; want 3", name, n, err)
		}
	}
	if _, err := countRowTags(iotest.TimeoutReader(strings.NewReader(xml + xml))); err == nil {
		t.Error("a read error was not reported")
	}
}
