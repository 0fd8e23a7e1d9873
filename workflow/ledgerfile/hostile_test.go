package ledgerfile_test

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"context"
	"errors"
	"fmt"
	"github.com/jdz-eco/rectify/workflow"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jdz-eco/rectify/workflow/ledgerfile"
)

// importBound is what reading any file, however built, may add to the heap.
const importBound = ledgerfile.MaxImportHeap

// readFile reads data as an import would, with the seed's units.
func readFile(ctx context.Context, t testing.TB, data []byte, kind string) ([]ledgerfile.Row, []ledgerfile.RowError) {
	t.Helper()
	e := newEnv(t)
	lk := ledgerfile.Lookup{Unit: ledgerfile.UnitResolver(mustUnits(t, e), nil)}
	return ledgerfile.Import(ctx, bytes.NewReader(data), int64(len(data)), kind, lk)
}

// refusedWithin reads data, expecting a refusal whose reason contains want,
// no rows, and at most importBound added to the heap.
func refusedWithin(t *testing.T, data []byte, kind, want string) {
	t.Helper()
	var (
		rows []ledgerfile.Row
		errs []ledgerfile.RowError
	)
	grew := peakHeapGrowth(func() { rows, errs = readFile(context.Background(), t, data, kind) })
	t.Logf("%d bytes: heap grew %.1f MiB; %d errors, first %v", len(data), float64(grew)/(1<<20), len(errs), first(errs))
	if len(errs) == 0 || !strings.Contains(errs[0].Reason, want) {
		t.Errorf("errors %v, want a first one saying %q", first(errs), want)
	}
	if len(rows) != 0 {
		t.Errorf("%d rows read from a refused file", len(rows))
	}
	if grew > importBound {
		t.Errorf("the heap grew %.1f MiB, more than the bound of %d MiB", float64(grew)/(1<<20), importBound>>20)
	}
}

func first(errs []ledgerfile.RowError) any {
	if len(errs) == 0 {
		return nil
	}
	return errs[0]
}

// A 32 KB workbook whose rows hold one cell in column XFD: the reader padded
// each row to 16,384 strings (4,000 rows ran out of memory).
func TestImportRefusesCellsPastTheLedgersColumns(t *testing.T) {
	data := xlsxParts(t, func(w io.Writer) error {
		for r := 1; r <= 4000; r++ {
			if _, err := fmt.Fprintf(w, `<row r="%d"><c r="XFD%d" t="inlineStr"><is><t>x</t></is></c></row>`, r, r); err != nil {
				return err
			}
		}
		return nil
	}, nil)
	refusedWithin(t, data, ledgerfile.KindXLSX, "column XFD")

	// The same cell after a valid header and rows.
	data = xlsxParts(t, func(w io.Writer) error {
		for r := 1; r <= 3; r++ {
			cells := ledgerHeader
			if r > 1 {
				cells = ledgerRow(r)
			}
			if err := inlineRow(w, r, cells...); err != nil {
				return err
			}
		}
		_, err := io.WriteString(w, `<row r="4"><c r="A4" t="inlineStr"><is><t>x</t></is></c><c r="XFD4"><v>1</v></c></row>`)
		return err
	}, nil)
	refusedWithin(t, data, ledgerfile.KindXLSX, "column XFD")

	// A dimension that says so is refused before any row is read.
	data = xlsxParts(t, func(w io.Writer) error {
		_, err := io.WriteString(w, `</sheetData><dimension ref="A1:XFD1048576"/><sheetData>`)
		return err
	}, nil)
	refusedWithin(t, data, ledgerfile.KindXLSX, "XFD1048576")

	// A CSV row of more fields than a ledger has.
	csv := strings.Join(ledgerHeader, ",") + "\n" + strings.Join(ledgerRow(1), ",") + strings.Repeat(",", 16383) + "\n"
	refusedWithin(t, []byte(csv), ledgerfile.KindCSV, "columns")
}

// A 1.4 MB file of 10 million rows without r= was parsed for minutes after
// the client had gone; blank ones too.
func TestImportRefusesMillionsOfRows(t *testing.T) {
	if testing.Short() {
		t.Skip("generates 10 million rows")
	}
	for _, c := range []struct{ name, row string }{
		{"rows with a cell", `<row><c t="inlineStr"><is><t>某问题</t></is></c></row>`},
		{"blank rows", `<row></row>`},
	} {
		t.Run(c.name, func(t *testing.T) {
			data := xlsxParts(t, func(w io.Writer) error {
				if err := inlineRow(w, 0, ledgerHeader...); err != nil {
					return err
				}
				chunk := strings.Repeat(c.row, 1000)
				for range 10000 {
					if _, err := io.WriteString(w, chunk); err != nil {
						return err
					}
				}
				return nil
			}, nil)
			refusedWithin(t, data, ledgerfile.KindXLSX, "rows")
		})
	}
}

// A 400 MB single cell took 76 s and 2 GB: inline, through the shared
// strings table, and (within the upload's size) in a CSV file.
func TestImportRefusesHugeCells(t *testing.T) {
	if testing.Short() {
		t.Skip("generates a 400 MB cell")
	}
	huge := func(w io.Writer) error {
		chunk := strings.Repeat("污", 1<<20)
		for range 400 / 3 {
			if _, err := io.WriteString(w, chunk); err != nil {
				return err
			}
		}
		return nil
	}
	data := xlsxParts(t, func(w io.Writer) error {
		if err := inlineRow(w, 1, ledgerHeader...); err != nil {
			return err
		}
		if _, err := io.WriteString(w, `<row r="2"><c r="A2" t="inlineStr"><is><t>`); err != nil {
			return err
		}
		if err := huge(w); err != nil {
			return err
		}
		_, err := io.WriteString(w, `</t></is></c></row>`)
		return err
	}, nil)
	t.Run("inline", func(t *testing.T) { refusedWithin(t, data, ledgerfile.KindXLSX, "larger than") })

	data = xlsxParts(t, func(w io.Writer) error {
		if err := inlineRow(w, 1, ledgerHeader...); err != nil {
			return err
		}
		_, err := io.WriteString(w, `<row r="2"><c r="A2" t="s"><v>0</v></c></row>`)
		return err
	}, func(w io.Writer) error {
		if _, err := io.WriteString(w, `<si><t>`); err != nil {
			return err
		}
		if err := huge(w); err != nil {
			return err
		}
		_, err := io.WriteString(w, `</t></si>`)
		return err
	})
	t.Run("shared string", func(t *testing.T) { refusedWithin(t, data, ledgerfile.KindXLSX, "larger than") })

	csv := strings.Join(ledgerHeader, ",") + "\n" + strings.Repeat("污", (ledgerfile.MaxFileSize-200)/3) + ",自查,浮梁县,,\n"
	t.Run("csv", func(t *testing.T) { refusedWithin(t, []byte(csv), ledgerfile.KindCSV, "larger than") })
}

// 100,001 rows passed a 100,000-row limit.
func TestImportRowLimitIsExact(t *testing.T) {
	if testing.Short() {
		t.Skip("reads 400,000 rows")
	}
	kinds := []string{ledgerfile.KindCSV, ledgerfile.KindXLSX}
	if raceDetector {
		kinds = kinds[:1] // the same limit, read by the same scanner
	}
	for _, kind := range kinds {
		t.Run(kind, func(t *testing.T) {
			gen := func(n int) []byte {
				if kind == ledgerfile.KindCSV {
					return ledgerCSV(n)
				}
				return ledgerXLSX(t, n)
			}
			rows, errs := readFile(context.Background(), t, gen(ledgerfile.MaxRows), kind)
			if len(errs) != 0 || len(rows) != ledgerfile.MaxRows {
				t.Fatalf("%d rows: %d read, errors %v", ledgerfile.MaxRows, len(rows), first(errs))
			}
			rows, errs = readFile(context.Background(), t, gen(ledgerfile.MaxRows+1), kind)
			if len(errs) != 1 || !strings.Contains(errs[0].Reason, "100000 rows") || errs[0].Row != ledgerfile.MaxRows+2 || len(rows) != 0 {
				t.Fatalf("%d rows: %d read, errors %v", ledgerfile.MaxRows+1, len(rows), first(errs))
			}
		})
	}
}

// expiringContext reports err from the n-th time it is asked on: a client
// that goes away part-way through a reading.
type expiringContext struct {
	context.Context
	n   atomic.Int64
	err error
}

func (c *expiringContext) Err() error {
	if c.n.Add(-1) < 0 {
		return c.err
	}
	return nil
}

// steppingClock moves on a second each time it is read: a reading's time
// budget runs out part-way, without waiting for it.
type steppingClock struct{ t atomic.Int64 }

func (c *steppingClock) Now() time.Time {
	return time.Unix(c.t.Add(1), 0).UTC()
}

// A reading stops when its time budget ends or the client goes away,
// part-way through a large file.
func TestImportStopsWhenTheBudgetEndsOrTheClientGoes(t *testing.T) {
	for _, kind := range []string{ledgerfile.KindCSV, ledgerfile.KindXLSX} {
		data := ledgerCSV(20000)
		if kind == ledgerfile.KindXLSX {
			data = ledgerXLSX(t, 20000)
		}
		for _, end := range []error{context.DeadlineExceeded, context.Canceled} {
			t.Run(kind+"/"+end.Error(), func(t *testing.T) {
				e := newEnv(t)
				lk := ledgerfile.Lookup{Unit: ledgerfile.UnitResolver(mustUnits(t, e), nil)}
				ctx := context.Background()
				want := "took longer than"
				if end == context.Canceled {
					want = "client went away"
					c := &expiringContext{Context: ctx, err: end}
					c.n.Store(20)
					ctx = c
				} else {
					lk.Clock = &steppingClock{}
				}
				seen := 0
				errs := ledgerfile.Scan(ctx, bytes.NewReader(data), int64(len(data)), kind, lk, func(*ledgerfile.Row) error {
					seen++
					return nil
				})
				if len(errs) != 1 || !strings.Contains(errs[0].Reason, want) || errs[0].Row < 2 {
					t.Fatalf("errors %v, want one saying %q", errs, want)
				}
				if seen == 0 || seen >= 20000 {
					t.Fatalf("%d rows read before the end, want some but not all", seen)
				}
			})
		}
	}
}

// A zip's headers can lie: a part larger than it declares, a part declaring
// more than a workbook may hold, more parts than a workbook has.
func TestImportRefusesLyingZips(t *testing.T) {
	var sheet bytes.Buffer
	sheet.WriteString(`<?xml version="1.0"?><worksheet><sheetData>`)
	inlineRow(&sheet, 0, ledgerHeader...)
	for i := range 2000 {
		inlineRow(&sheet, 0, ledgerRow(i)...)
	}
	sheet.WriteString(`</sheetData></worksheet>`)
	sheetXML := sheet.Bytes()
	workbook := func(sheet func(zw *zip.Writer)) []byte {
		var buf bytes.Buffer
		zw := zip.NewWriter(&buf)
		for name, body := range map[string]string{
			"xl/workbook.xml":            `<workbook><sheets><sheet name="整改台账" r:id="rId1"/></sheets></workbook>`,
			"xl/_rels/workbook.xml.rels": `<Relationships><Relationship Id="rId1" Type="x/worksheet" Target="worksheets/sheet1.xml"/></Relationships>`,
		} {
			w, _ := zw.Create(name)
			io.WriteString(w, body)
		}
		sheet(zw)
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	raw := func(zw *zip.Writer, declared uint64) {
		var c bytes.Buffer
		fw, _ := flate.NewWriter(&c, flate.BestSpeed)
		fw.Write(sheetXML)
		fw.Close()
		w, err := zw.CreateRaw(&zip.FileHeader{Name: "xl/worksheets/sheet1.xml", Method: zip.Deflate,
			CRC32: crc32.ChecksumIEEE(sheetXML), CompressedSize64: uint64(c.Len()), UncompressedSize64: declared})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(c.Bytes())
	}
	refusedWithin(t, workbook(func(zw *zip.Writer) { raw(zw, 1000) }), ledgerfile.KindXLSX, "larger than")
	refusedWithin(t, workbook(func(zw *zip.Writer) { raw(zw, 8<<30) }), ledgerfile.KindXLSX, "larger than")
	refusedWithin(t, workbook(func(zw *zip.Writer) {
		for i := range 2000 {
			zw.Create(fmt.Sprintf("xl/media/%d.bin", i))
		}
	}), ledgerfile.KindXLSX, "parts")
}

// failingStore fails a batch's write inside the store's transaction, when
// the store asks for item failAt.
type failingStore struct {
	workflow.Store
	failAt int
}

var errDiskFull = errors.New("injected: no space left on device")

func (s *failingStore) CreateProblems(ctx context.Context, count int, next func(i int, n uint64) (workflow.BatchRecord, error), progress func(int)) error {
	return s.Store.(workflow.BatchCreator).CreateProblems(ctx, count, func(i int, n uint64) (workflow.BatchRecord, error) {
		if i == s.failAt {
			return workflow.BatchRecord{}, errDiskFull
		}
		return next(i, n)
	}, progress)
}

// An import cut off at any point (its context cancelled while checking or
// writing, a store write failing part-way) leaves nothing; one that runs
// to its end leaves everything; running the file again after a failure
// completes it.
func TestImportIsAllOrNothing(t *testing.T) {
	const n = 1000
	data := ledgerCSV(n)
	rnd := rand.New(rand.NewPCG(1, uint64(time.Now().UnixNano())))
	nothing := 0
	for round := range 9 {
		e := newEnv(t)
		fs := &failingStore{Store: e.svc.Store(), failAt: -1}
		svc := workflow.NewService(fs, e.clock)
		ctx, cancel := context.WithCancel(context.Background())
		var progress ledgerfile.Progress
		switch round % 3 {
		case 0: // the client goes away while the rows are checked
			at := rnd.IntN(n)
			progress = func(st ledgerfile.Stage, done int) {
				if st == ledgerfile.StageChecking && done >= at {
					cancel()
				}
			}
		case 1: // or while they are written
			at := rnd.IntN(n)
			progress = func(st ledgerfile.Stage, done int) {
				if st == ledgerfile.StageWriting && done >= at {
					cancel()
				}
			}
		case 2: // a write fails in the store
			fs.failAt = rnd.IntN(n)
		}
		rd, errs, err := ledgerfile.Read(ctx, svc, bureau, ledgerfile.Upload{R: bytes.NewReader(data), Size: int64(len(data)), Kind: ledgerfile.KindCSV}, nil)
		if err != nil || len(errs) > 0 {
			t.Fatal(err, errs)
		}
		res, err := rd.Apply(ctx, svc, bureau, false, progress)
		cancel()
		again := n // created when the file is imported again
		switch got := len(e.problems(t)); {
		case err != nil && got == 0:
			nothing++
		case err == nil && got == n && res.Created == n:
			// Cut off after the commit: everything is there.
			again = 0
		default:
			t.Fatalf("round %d: an import cut off (%v) left %d problems", round, err, got)
		}
		// Again, to the end: everything.
		fs.failAt = -1
		res, err = rd.Apply(context.Background(), svc, bureau, false, nil)
		if err != nil || res.Created != again || len(e.problems(t)) != n {
			t.Fatalf("round %d: the import run again: %v, %d created, %d problems", round, err, res.Created, len(e.problems(t)))
		}
		if _, err := workflow.Audit(context.Background(), e.svc.Store().(workflow.Ledger), nil, nil); err != nil {
			t.Fatalf("round %d: audit: %v", round, err)
		}
	}
	if nothing < 6 {
		t.Errorf("only %d of 9 imports were cut off before their commit", nothing)
	}
}
