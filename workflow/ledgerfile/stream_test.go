package ledgerfile_test

import (
	"archive/zip"
	"bytes"
	"context"
	"io"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jdz-eco/rectify/workflow"
	"github.com/jdz-eco/rectify/workflow/ledgerfile"
)

// exportBound is what exporting any ledger may add to the heap.
const exportBound = 64 << 20

// generatedLedger logs n problems in batches of 10,000 (every other one
// assigned, every tenth with a progress note).
func generatedLedger(t testing.TB, n int) *env {
	t.Helper()
	e := newEnv(t)
	ctx := context.Background()
	for start := 0; start < n; start += 10000 {
		count := min(10000, n-start)
		err := e.svc.CreateProblems(ctx, bureau, count, func(i int) (workflow.BatchItem, error) {
			r := ledgerRow(start + i)
			it := workflow.BatchItem{New: workflow.NewProblem{Title: "生成问题" + strconv.Itoa(start+i), Description: r[0],
				Source: workflow.SourceSelfInspection, SourceRef: "生成台账", CountyID: countyIDs[(start+i)%len(countyIDs)]}}
			if i%2 == 0 {
				it.Assign = &workflow.Params{LeadUnit: it.New.CountyID, CooperatingUnits: []string{"city-water"}, Deadline: date("2021-12-31"),
					Requirements: "限期整改到位，建立长效机制。"}
			}
			return it, nil
		}, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
	}
	return e
}

var countyIDs = []string{"fuliang", "leping", "zhushan", "changjiang"}

// countingWriter counts bytes and remembers when the first arrived.
type countingWriter struct {
	n     int64
	first time.Time
}

func (w *countingWriter) Write(p []byte) (int, error) {
	if w.n == 0 && len(p) > 0 {
		w.first = time.Now()
	}
	w.n += int64(len(p))
	return len(p), nil
}

// TestExportMemoryBound exports a generated ledger (20,000 problems; set
// RECTIFY_EXPORT_ROWS for more, e.g. 1000000) now and as of a date while
// sampling the heap: the export adds at most 64 MiB, whatever the rows.
func TestExportMemoryBound(t *testing.T) {
	if testing.Short() {
		t.Skip("generates a ledger of 20,000 problems")
	}
	n := 20000
	if raceDetector {
		n = 5000
	}
	if v := os.Getenv("RECTIFY_EXPORT_ROWS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil {
			t.Fatal(err)
		}
	}
	e := generatedLedger(t, n)
	for _, asOf := range []time.Time{{}, cst("2021-07-01 00:00")} {
		var out countingWriter
		var err error
		start := time.Now()
		grew := peakHeapGrowth(func() {
			err = ledgerfile.WriteLedger(context.Background(), &out, e.svc, bureau, workflow.ProblemFilter{}, asOf)
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%d problems, as of %v: %d bytes in %v, first byte after %v, heap grew %.1f MiB",
			n, asOf, out.n, time.Since(start).Round(time.Millisecond), out.first.Sub(start).Round(time.Millisecond), float64(grew)/(1<<20))
		if grew > exportBound {
			t.Errorf("the export added %.1f MiB to the heap, more than %d MiB", float64(grew)/(1<<20), exportBound>>20)
		}
	}
}

// sheetXML returns a part of a workbook.
func sheetXML(t *testing.T, data []byte, name string) string {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range zr.File {
		if f.Name == name {
			rc, err := f.Open()
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			b, err := io.ReadAll(rc)
			if err != nil {
				t.Fatal(err)
			}
			return string(b)
		}
	}
	t.Fatalf("no part %s", name)
	return ""
}

// The ledger sheet's header row carries an autofilter over every row, as
// Excel records one: in the sheet and as the workbook's defined name.
func TestExportAutofilter(t *testing.T) {
	e, _ := workbookLedger(t)
	data := e.export(t, bureau, workflow.ProblemFilter{}, time.Time{})
	if sheet := sheetXML(t, data, "xl/worksheets/sheet1.xml"); !strings.Contains(sheet, `<autoFilter ref="A1:V4"/>`) {
		t.Errorf("sheet 1 has no autofilter over A1:V4:\n%.2000s", sheet[strings.Index(sheet, "</sheetData>"):])
	}
	if wb := sheetXML(t, data, "xl/workbook.xml"); !strings.Contains(wb, `<definedName name="_xlnm._FilterDatabase" localSheetId="0" hidden="1">'整改台账'!$A$1:$V$4</definedName>`) {
		t.Errorf("workbook without the filter's defined name:\n%s", wb)
	}
	f := openWorkbook(t, data)
	if names := f.GetDefinedName(); len(names) != 1 || names[0].Name != "_xlnm._FilterDatabase" || names[0].RefersTo != "'整改台账'!$A$1:$V$4" {
		t.Errorf("defined names as Excel reads them: %+v", names)
	}
	// An empty ledger filters its header alone.
	empty := newEnv(t).export(t, bureau, workflow.ProblemFilter{}, time.Time{})
	if sheet := sheetXML(t, empty, "xl/worksheets/sheet1.xml"); !strings.Contains(sheet, `<autoFilter ref="A1:V1"/>`) {
		t.Error("an empty ledger's sheet has no autofilter over its header")
	}
}
