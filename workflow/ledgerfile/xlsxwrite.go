package ledgerfile

import (
	"archive/zip"
	"bufio"
	"compress/flate"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jdz-eco/rectify/workflow"
)

// A workbook written as it is read: the zip parts of an .xlsx written
// straight to the output, the sheet's XML streamed into its zip entry row by
// row and flushed to the output every few hundred rows, so that the first
// bytes leave at once and memory does not grow with the rows. (excelize's
// StreamWriter spools the sheet to a temporary file and writes the workbook
// only at the end.) The parts are the few an .xlsx needs: content types,
// relationships, the workbook, the styles, the sheets; strings are inline
// (no shared strings table to hold).

// Styles of the cells (their index in styles.xml's cellXfs).
const (
	styleDefault = iota
	styleHeader
	styleText
	styleCenter
	styleDate
	styleDateTime
	styleTitle
	styleInt
	stylePercent
	styleDays
)

// Number formats of the date cells.
const (
	DateFormat     = "yyyy-mm-dd"
	DateTimeFormat = "yyyy-mm-dd hh:mm"
)

const stylesXML = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">` +
	`<numFmts count="4"><numFmt numFmtId="164" formatCode="` + DateFormat + `"/><numFmt numFmtId="165" formatCode="` + DateTimeFormat + `"/>` +
	`<numFmt numFmtId="166" formatCode="0.0%"/><numFmt numFmtId="167" formatCode="0.0"/></numFmts>` +
	`<fonts count="3"><font><sz val="11"/><name val="宋体"/><family val="2"/><charset val="134"/></font>` +
	`<font><b/><sz val="11"/><name val="宋体"/><family val="2"/><charset val="134"/></font>` +
	`<font><b/><sz val="12"/><name val="宋体"/><family val="2"/><charset val="134"/></font></fonts>` +
	`<fills count="3"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill>` +
	`<fill><patternFill patternType="solid"><fgColor rgb="FFDDEBF7"/><bgColor indexed="64"/></patternFill></fill></fills>` +
	`<borders count="2"><border><left/><right/><top/><bottom/><diagonal/></border>` +
	`<border><left style="thin"><color rgb="FFBFBFBF"/></left><right style="thin"><color rgb="FFBFBFBF"/></right>` +
	`<top style="thin"><color rgb="FFBFBFBF"/></top><bottom style="thin"><color rgb="FFBFBFBF"/></bottom><diagonal/></border></borders>` +
	`<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>` +
	`<cellXfs count="10">` +
	`<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>` +
	`<xf numFmtId="0" fontId="1" fillId="2" borderId="1" xfId="0" applyFont="1" applyFill="1" applyBorder="1" applyAlignment="1"><alignment horizontal="center" vertical="center" wrapText="1"/></xf>` +
	`<xf numFmtId="0" fontId="0" fillId="0" borderId="1" xfId="0" applyBorder="1" applyAlignment="1"><alignment vertical="top" wrapText="1"/></xf>` +
	`<xf numFmtId="0" fontId="0" fillId="0" borderId="1" xfId="0" applyBorder="1" applyAlignment="1"><alignment horizontal="center" vertical="top" wrapText="1"/></xf>` +
	`<xf numFmtId="164" fontId="0" fillId="0" borderId="1" xfId="0" applyNumberFormat="1" applyBorder="1" applyAlignment="1"><alignment horizontal="center" vertical="top" wrapText="1"/></xf>` +
	`<xf numFmtId="165" fontId="0" fillId="0" borderId="1" xfId="0" applyNumberFormat="1" applyBorder="1" applyAlignment="1"><alignment horizontal="center" vertical="top" wrapText="1"/></xf>` +
	`<xf numFmtId="0" fontId="2" fillId="0" borderId="0" xfId="0" applyFont="1"/>` +
	`<xf numFmtId="0" fontId="0" fillId="0" borderId="1" xfId="0" applyBorder="1" applyAlignment="1"><alignment horizontal="right" vertical="top"/></xf>` +
	`<xf numFmtId="166" fontId="0" fillId="0" borderId="1" xfId="0" applyNumberFormat="1" applyBorder="1" applyAlignment="1"><alignment horizontal="right" vertical="top"/></xf>` +
	`<xf numFmtId="167" fontId="0" fillId="0" borderId="1" xfId="0" applyNumberFormat="1" applyBorder="1" applyAlignment="1"><alignment horizontal="right" vertical="top"/></xf>` +
	`</cellXfs><cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles></styleSheet>`

const (
	nsMain = `http://schemas.openxmlformats.org/spreadsheetml/2006/main`
	nsRel  = `http://schemas.openxmlformats.org/officeDocument/2006/relationships`
	nsPkg  = `http://schemas.openxmlformats.org/package/2006/relationships`
	ctMain = `application/vnd.openxmlformats-officedocument.spreadsheetml`
)

// workbookWriter writes an .xlsx workbook to w part by part.
type workbookWriter struct {
	out    io.Writer
	zw     *zip.Writer
	flate  *flate.Writer // the compressor of the part being written
	part   *bufio.Writer // the part being written
	sheets []string
	filter string // the ledger sheet's autofilter range, for the workbook's defined name
}

func newWorkbookWriter(w io.Writer) *workbookWriter {
	ww := &workbookWriter{out: w, zw: zip.NewWriter(w)}
	ww.zw.RegisterCompressor(zip.Deflate, func(out io.Writer) (io.WriteCloser, error) {
		fw, err := flate.NewWriter(out, flate.BestSpeed)
		ww.flate = fw
		return fw, err
	})
	return ww
}

// begin starts part name, ending the one before.
func (ww *workbookWriter) begin(name string) error {
	if err := ww.end(); err != nil {
		return err
	}
	w, err := ww.zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, Modified: time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		return err
	}
	ww.part = bufio.NewWriterSize(w, 32<<10)
	return nil
}

// end ends the part being written.
func (ww *workbookWriter) end() error {
	if ww.part == nil {
		return nil
	}
	err := ww.part.Flush()
	ww.part, ww.flate = nil, nil
	return err
}

func (ww *workbookWriter) put(name, body string) error {
	if err := ww.begin(name); err != nil {
		return err
	}
	_, err := ww.part.WriteString(body)
	return err
}

// flush sends what is written so far on to the output, and the output on
// to its client when it can (an http.ResponseWriter).
func (ww *workbookWriter) flush() error {
	if ww.part != nil {
		if err := ww.part.Flush(); err != nil {
			return err
		}
		if ww.flate != nil {
			if err := ww.flate.Flush(); err != nil {
				return err
			}
		}
	}
	if err := ww.zw.Flush(); err != nil {
		return err
	}
	switch f := ww.out.(type) {
	case interface{ Flush() error }:
		return f.Flush()
	case interface{ Flush() }:
		f.Flush()
	}
	return nil
}

// prelude writes the parts that do not depend on the rows.
func (ww *workbookWriter) prelude(sheets ...string) error {
	ww.sheets = sheets
	var ct strings.Builder
	ct.WriteString(`<?xml version="1.0" encoding="UTF-8" standalone="yes"?>` + "\n" +
		`<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">` +
		`<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>` +
		`<Default Extension="xml" ContentType="application/xml"/>` +
		`<Override PartName="/xl/workbook.xml" ContentType="` + ctMain + `.sheet.main+xml"/>` +
		`<Override PartName="/xl/styles.xml" ContentType="` + ctMain + `.styles+xml"/>`)
	for i := range sheets {
		fmt.Fprintf(&ct, `<Override PartName="/xl/worksheets/sheet%d.xml" ContentType="`+ctMain+`.worksheet+xml"/>`, i+1)
	}
	ct.WriteString(`</Types>`)
	if err := ww.put("[Content_Types].xml", ct.String()); err != nil {
		return err
	}
	if err := ww.put("_rels/.rels", `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>`+"\n"+
		`<Relationships xmlns="`+nsPkg+`"><Relationship Id="rId1" Type="`+nsRel+`/officeDocument" Target="xl/workbook.xml"/></Relationships>`); err != nil {
		return err
	}
	var rels strings.Builder
	rels.WriteString(`<?xml version="1.0" encoding="UTF-8" standalone="yes"?>` + "\n" + `<Relationships xmlns="` + nsPkg + `">`)
	for i := range sheets {
		fmt.Fprintf(&rels, `<Relationship Id="rId%d" Type="`+nsRel+`/worksheet" Target="worksheets/sheet%d.xml"/>`, i+1, i+1)
	}
	fmt.Fprintf(&rels, `<Relationship Id="rId%d" Type="`+nsRel+`/styles" Target="styles.xml"/></Relationships>`, len(sheets)+1)
	if err := ww.put("xl/_rels/workbook.xml.rels", rels.String()); err != nil {
		return err
	}
	return ww.put("xl/styles.xml", stylesXML)
}

// finish writes the workbook part (the sheets' names, the autofilter's
// defined name) and the zip's directory.
func (ww *workbookWriter) finish() error {
	var wb strings.Builder
	wb.WriteString(`<?xml version="1.0" encoding="UTF-8" standalone="yes"?>` + "\n" +
		`<workbook xmlns="` + nsMain + `" xmlns:r="` + nsRel + `"><bookViews><workbookView activeTab="0"/></bookViews><sheets>`)
	for i, name := range ww.sheets {
		fmt.Fprintf(&wb, `<sheet name="%s" sheetId="%d" r:id="rId%d"/>`, xmlEscape(name), i+1, i+1)
	}
	wb.WriteString(`</sheets>`)
	if ww.filter != "" {
		wb.WriteString(`<definedNames><definedName name="_xlnm._FilterDatabase" localSheetId="0" hidden="1">` + xmlEscape(ww.filter) + `</definedName></definedNames>`)
	}
	wb.WriteString(`</workbook>`)
	if err := ww.put("xl/workbook.xml", wb.String()); err != nil {
		return err
	}
	if err := ww.end(); err != nil {
		return err
	}
	return ww.zw.Close()
}

// sheetWriter writes one worksheet's XML.
type sheetWriter struct {
	ww  *workbookWriter
	w   *bufio.Writer
	row int
	buf []byte
}

// column is a sheet column's width, in characters.
type column struct{ width float64 }

// beginSheet starts sheet number n (1 for the first): its view (the header
// row frozen when frozen), its columns, its data.
func (ww *workbookWriter) beginSheet(n int, cols []column, frozen bool) (*sheetWriter, error) {
	if err := ww.begin(fmt.Sprintf("xl/worksheets/sheet%d.xml", n)); err != nil {
		return nil, err
	}
	w := ww.part
	w.WriteString(`<?xml version="1.0" encoding="UTF-8" standalone="yes"?>` + "\n" + `<worksheet xmlns="` + nsMain + `" xmlns:r="` + nsRel + `">`)
	w.WriteString(`<sheetViews><sheetView workbookViewId="0"`)
	if n == 1 {
		w.WriteString(` tabSelected="1"`)
	}
	w.WriteString(`>`)
	if frozen {
		w.WriteString(`<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/><selection pane="bottomLeft" activeCell="A2" sqref="A2"/>`)
	}
	w.WriteString(`</sheetView></sheetViews><sheetFormatPr defaultRowHeight="15"/><cols>`)
	for i, c := range cols {
		fmt.Fprintf(w, `<col min="%d" max="%d" width="%s" customWidth="1"/>`, i+1, i+1, strconv.FormatFloat(c.width, 'f', -1, 64))
	}
	_, err := w.WriteString(`</cols><sheetData>`)
	return &sheetWriter{ww: ww, w: w}, err
}

// cell is one cell to write: text, a number or a time, with a style; the
// zero cell is empty.
type cell struct {
	style int
	text  string
	num   float64
	kind  byte // 0 empty, 's' text, 'n' number
}

func textCell(style int, s string) cell {
	if s == "" {
		return cell{style: style}
	}
	return cell{style: style, text: s, kind: 's'}
}

func numCell(style int, v float64) cell { return cell{style: style, num: v, kind: 'n'} }

// timeCell is t as a date number (days since 1899-12-30, the wall clock in
// Asia/Shanghai), or an empty cell for nil.
func timeCell(style int, t *time.Time) cell {
	if t == nil {
		return cell{style: style}
	}
	return numCell(style, excelDate(*t))
}

var excelEpoch = time.Date(1899, 12, 30, 0, 0, 0, 0, time.UTC)

func excelDate(t time.Time) float64 {
	l := t.In(workflow.Shanghai)
	wall := time.Date(l.Year(), l.Month(), l.Day(), l.Hour(), l.Minute(), l.Second(), l.Nanosecond(), time.UTC)
	return float64(wall.Sub(excelEpoch)) / float64(24*time.Hour)
}

// writeRow writes the next row; height, if not zero, is its height in
// points.
func (sw *sheetWriter) writeRow(height float64, cells ...cell) error {
	sw.row++
	b := sw.buf[:0]
	b = append(b, `<row r="`...)
	b = strconv.AppendInt(b, int64(sw.row), 10)
	if height > 0 {
		b = append(b, `" ht="`...)
		b = strconv.AppendFloat(b, height, 'f', -1, 64)
		b = append(b, `" customHeight="1`...)
	}
	b = append(b, `">`...)
	for i, c := range cells {
		b = append(b, `<c r="`...)
		if i < len(columnNames) {
			b = append(b, columnNames[i]...)
		} else {
			b = append(b, columnName(i+1)...)
		}
		b = strconv.AppendInt(b, int64(sw.row), 10)
		b = append(b, '"')
		if c.style != 0 {
			b = append(b, ` s="`...)
			b = strconv.AppendInt(b, int64(c.style), 10)
			b = append(b, '"')
		}
		switch c.kind {
		case 's':
			b = append(b, ` t="inlineStr"><is><t xml:space="preserve">`...)
			b = appendXMLText(b, c.text)
			b = append(b, `</t></is></c>`...)
		case 'n':
			b = append(b, `><v>`...)
			b = strconv.AppendFloat(b, c.num, 'f', -1, 64)
			b = append(b, `</v></c>`...)
		default:
			b = append(b, `/>`...)
		}
	}
	b = append(b, `</row>`...)
	sw.buf = b
	_, err := sw.w.Write(b)
	return err
}

// endSheet ends the data and the sheet; autoFilter, if not "", is the range
// an autofilter covers.
func (sw *sheetWriter) endSheet(autoFilter string) error {
	sw.w.WriteString(`</sheetData>`)
	if autoFilter != "" {
		sw.w.WriteString(`<autoFilter ref="` + autoFilter + `"/>`)
	}
	_, err := sw.w.WriteString(`<pageMargins left="0.7" right="0.7" top="0.75" bottom="0.75" header="0.3" footer="0.3"/></worksheet>`)
	return err
}

// columnNames are the names of the first columns (A, B, …), written in
// every cell reference.
var columnNames = func() []string {
	out := make([]string, 64)
	for i := range out {
		out[i] = columnName(i + 1)
	}
	return out
}()

// appendXMLText appends s escaped for XML text: the markup characters, and
// characters XML 1.0 cannot hold (controls but tab and line breaks, lone
// surrogates, invalid UTF-8) replaced by U+FFFD.
func appendXMLText(b []byte, s string) []byte {
	if xmlClean(s) {
		return append(b, s...)
	}
	return appendXMLEscaped(b, s)
}

// appendXMLEscaped is appendXMLText character by character.
func appendXMLEscaped(b []byte, s string) []byte {
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == '&':
			b = append(b, "&amp;"...)
		case r == '<':
			b = append(b, "&lt;"...)
		case r == '>':
			b = append(b, "&gt;"...)
		case r == '\r':
			b = append(b, "&#13;"...)
		case r == utf8.RuneError && size == 1, r < 0x20 && r != '\t' && r != '\n', r == 0xFFFE, r == 0xFFFF:
			b = append(b, "\uFFFD"...)
		default:
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return b
}

// xmlClean reports whether s is XML text as it is: valid UTF-8 without
// markup characters, carriage returns, other controls than tab and line
// feed, U+FFFE or U+FFFF. Most cells are, and are copied whole.
func xmlClean(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20 && c != '\t' && c != '\n', c == '&', c == '<', c == '>':
			return false
		case c == 0xEF && i+2 < len(s) && s[i+1] == 0xBF && (s[i+2] == 0xBE || s[i+2] == 0xBF):
			return false
		}
	}
	return utf8.ValidString(s)
}

func xmlEscape(s string) string { return string(appendXMLText(nil, s)) }

// finite is v, or 0 for a value no cell can hold.
func finite(v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0
	}
	return v
}
