package ledgerfile_test

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Hostile and large files are generated here, in the test, never stored.

// xlsxParts writes a minimal workbook: one sheet whose sheetData body sheet
// writes, and a shared strings table when sst is not nil. Parts are deflated
// at the fastest level, so that gigabytes of repeated XML cost seconds.
func xlsxParts(t testing.TB, sheet func(w io.Writer) error, sst func(w io.Writer) error) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	zw.RegisterCompressor(zip.Deflate, func(w io.Writer) (io.WriteCloser, error) {
		return flate.NewWriter(w, flate.BestSpeed)
	})
	put := func(name string, body func(w io.Writer) error) {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		if err := body(w); err != nil {
			t.Fatal(err)
		}
	}
	str := func(s string) func(io.Writer) error {
		return func(w io.Writer) error { _, err := io.WriteString(w, s); return err }
	}
	put("[Content_Types].xml", str(`<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/><Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>`))
	put("_rels/.rels", str(`<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>`))
	put("xl/workbook.xml", str(`<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="整改台账" sheetId="1" r:id="rId1"/></sheets></workbook>`))
	rels := `<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>`
	if sst != nil {
		rels += `<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/>`
	}
	put("xl/_rels/workbook.xml.rels", str(`<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">`+rels+`</Relationships>`))
	put("xl/worksheets/sheet1.xml", func(w io.Writer) error {
		if _, err := io.WriteString(w, `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>`); err != nil {
			return err
		}
		if err := sheet(w); err != nil {
			return err
		}
		_, err := io.WriteString(w, `</sheetData></worksheet>`)
		return err
	})
	if sst != nil {
		put("xl/sharedStrings.xml", func(w io.Writer) error {
			if _, err := io.WriteString(w, `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">`); err != nil {
				return err
			}
			if err := sst(w); err != nil {
				return err
			}
			_, err := io.WriteString(w, `</sst>`)
			return err
		})
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// inlineRow is a sheet row of inline string cells from column A; r is the
// row number (0: no r attributes at all).
func inlineRow(w io.Writer, r int, cells ...string) error {
	var b strings.Builder
	if r > 0 {
		fmt.Fprintf(&b, `<row r="%d">`, r)
	} else {
		b.WriteString(`<row>`)
	}
	for i, c := range cells {
		if r > 0 {
			fmt.Fprintf(&b, `<c r="%s%d" t="inlineStr"><is><t>%s</t></is></c>`, colName(i+1), r, c)
		} else {
			fmt.Fprintf(&b, `<c t="inlineStr"><is><t>%s</t></is></c>`, c)
		}
	}
	b.WriteString(`</row>`)
	_, err := io.WriteString(w, b.String())
	return err
}

func colName(n int) string {
	s := ""
	for n > 0 {
		n--
		s = string(rune('A'+n%26)) + s
		n /= 26
	}
	return s
}

// ledgerHeader and ledgerRow make a valid ledger of generated problems.
var ledgerHeader = []string{"问题描述", "问题来源", "所在县（市、区）", "牵头单位", "整改时限"}

var genCounties = []string{"浮梁县", "乐平市", "珠山区", "昌江区"}

func ledgerRow(i int) []string {
	c := genCounties[i%len(genCounties)]
	return []string{c + "第" + strconv.Itoa(i) + "号问题：某企业废气超标排放，群众多次投诉。", "自查", c, c, "2021-12-31"}
}

// ledgerCSV is a header and n generated problems.
func ledgerCSV(n int) []byte {
	var b bytes.Buffer
	b.WriteString(strings.Join(ledgerHeader, ",") + "\n")
	for i := 1; i <= n; i++ {
		b.WriteString(strings.Join(ledgerRow(i), ",") + "\n")
	}
	return b.Bytes()
}

// ledgerXLSX is the same as a workbook of inline strings.
func ledgerXLSX(t testing.TB, n int) []byte {
	return xlsxParts(t, func(w io.Writer) error {
		if err := inlineRow(w, 1, ledgerHeader...); err != nil {
			return err
		}
		for i := 1; i <= n; i++ {
			if err := inlineRow(w, i+1, ledgerRow(i)...); err != nil {
				return err
			}
		}
		return nil
	}, nil)
}

// heapObjects is the heap memory occupied by objects, live or not yet swept.
func heapObjects() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// peakHeapGrowth runs fn and returns the most the heap's objects (live and
// garbage alike, sampled every millisecond, with the collector running
// often) grew above what they were before: a bound on what fn added.
func peakHeapGrowth(fn func()) uint64 {
	defer debug.SetGCPercent(debug.SetGCPercent(25))
	runtime.GC()
	base := heapObjects()
	var (
		peak uint64
		wg   sync.WaitGroup
		done = make(chan struct{})
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			peak = max(peak, heapObjects())
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	fn()
	close(done)
	wg.Wait()
	peak = max(peak, heapObjects())
	if peak < base {
		return 0
	}
	return peak - base
}
