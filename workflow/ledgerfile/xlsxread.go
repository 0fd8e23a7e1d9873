package ledgerfile

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/xml"
	"errors"
	"io"
	"path"
	"strconv"
	"strings"

	"github.com/jdz-eco/rectify/workflow"
)

// An .xlsx workbook is read here, not by excelize: excelize reads every part
// of the zip into memory, decodes the shared strings table whole, decodes a
// cell's value whole before anyone can look at its size, and pads a row to
// its last cell (16,384 strings for a cell in column XFD). This reader
// streams the sheet's XML token by token and refuses a file as soon as it
// crosses one of the bounds in limits.go.

// xlsxSource is an opened workbook: its ledger sheet located, its shared
// strings read.
type xlsxSource struct {
	zr       *zip.Reader
	sheet    *zip.File
	date1904 bool
	sst      sharedStrings
	at       int // the row being read
}

// sharedStrings is the shared strings table: every item's text in one
// buffer, item i at text[ends[i-1]:ends[i]].
type sharedStrings struct {
	text []byte
	ends []uint32
}

func (s *sharedStrings) get(i int) (string, bool) {
	if i < 0 || i >= len(s.ends) {
		return "", false
	}
	start := uint32(0)
	if i > 0 {
		start = s.ends[i-1]
	}
	return string(s.text[start:s.ends[i]]), true
}

// openXLSX reads a workbook's directory, relationships, workbook part and
// shared strings, and finds the sheet 「整改台账」 (or the first sheet).
func openXLSX(ctx context.Context, r io.ReaderAt, size int64) (*xlsxSource, error) {
	if err := checkZipDirectory(r, size); err != nil {
		return nil, err
	}
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return nil, refuse(workflow.ReasonUnreadable, "not an .xlsx workbook: %v", err)
	}
	files := make(map[string]*zip.File, len(zr.File))
	for _, f := range zr.File {
		files[strings.ToLower(strings.TrimPrefix(strings.ReplaceAll(f.Name, `\`, "/"), "/"))] = f
	}
	m := &meter{}
	part := func(name string, limit int64) (*zip.File, io.ReadCloser, error) {
		f := files[strings.ToLower(name)]
		if f == nil {
			return nil, nil, nil
		}
		rc, err := openPart(f, limit, m)
		return f, rc, err
	}
	wbName := "xl/workbook.xml"
	if rels, err := readRels(ctx, part, "_rels/.rels", ""); err != nil {
		return nil, err
	} else if t := rels.byType("/officeDocument"); t != "" {
		wbName = t
	}
	_, wb, err := part(wbName, maxPartBytes)
	if err != nil {
		return nil, err
	}
	if wb == nil {
		return nil, refuse(workflow.ReasonUnreadable, "not an .xlsx workbook: it has no workbook part")
	}
	sheets, date1904, err := readWorkbook(ctx, wb)
	wb.Close()
	if err != nil {
		return nil, err
	}
	if len(sheets) == 0 {
		return nil, refuse(workflow.ReasonUnreadable, "the workbook has no sheet")
	}
	dir := path.Dir(wbName)
	rels, err := readRels(ctx, part, path.Join(dir, "_rels", path.Base(wbName)+".rels"), dir)
	if err != nil {
		return nil, err
	}
	pick := sheets[0]
	for _, s := range sheets {
		if s.name == SheetLedger {
			pick = s
			break
		}
	}
	target := rels.byID[pick.rid]
	src := &xlsxSource{zr: zr, date1904: date1904, sheet: files[strings.ToLower(target)]}
	if src.sheet == nil {
		return nil, refuse(workflow.ReasonUnreadable, "the workbook names sheet %s but does not hold it", pick.name)
	}
	sstName := rels.byType("/sharedStrings")
	if sstName == "" {
		sstName = path.Join(dir, "sharedStrings.xml")
	}
	if _, rc, err := part(sstName, maxDecodedBytes); err != nil {
		return nil, err
	} else if rc != nil {
		err := src.sst.read(ctx, rc)
		rc.Close()
		if err != nil {
			return nil, err
		}
	}
	return src, nil
}

// checkZipDirectory reads the end of central directory record and refuses a
// zip of more than maxZipEntries entries before archive/zip reads (and
// allocates) them all.
func checkZipDirectory(r io.ReaderAt, size int64) error {
	const eocdLen, maxComment = 22, 65535
	n := min(size, eocdLen+maxComment)
	if n < eocdLen {
		return refuse(workflow.ReasonUnreadable, "not an .xlsx workbook: too short for a zip file")
	}
	tail := make([]byte, n)
	if _, err := r.ReadAt(tail, size-n); err != nil && err != io.EOF {
		return refuse(workflow.ReasonUnreadable, "cannot read the file: %v", err)
	}
	i := bytes.LastIndex(tail, []byte("PK\x05\x06"))
	if i < 0 || len(tail)-i < eocdLen {
		return refuse(workflow.ReasonUnreadable, "not an .xlsx workbook: no zip directory")
	}
	entries := uint64(binary.LittleEndian.Uint16(tail[i+10:]))
	if entries == 0xFFFF && i >= 20 && string(tail[i-20:i-16]) == "PK\x06\x07" {
		// Zip64: the count is in the zip64 end record the locator points to.
		off := int64(binary.LittleEndian.Uint64(tail[i-20+8:]))
		var rec [40]byte
		if off < 0 || off > size-int64(len(rec)) {
			return refuse(workflow.ReasonUnreadable, "not an .xlsx workbook: a bad zip64 directory")
		}
		if _, err := r.ReadAt(rec[:], off); err != nil || string(rec[:4]) != "PK\x06\x06" {
			return refuse(workflow.ReasonUnreadable, "not an .xlsx workbook: a bad zip64 directory")
		}
		entries = binary.LittleEndian.Uint64(rec[32:])
	}
	if entries > maxZipEntries {
		return refuse(workflow.ReasonContentTooLarge, "the workbook has %d parts, more than %d", entries, maxZipEntries)
	}
	return nil
}

// openPart opens a zip entry, refusing one whose declared size is over limit
// and reading no more than it declares.
func openPart(f *zip.File, limit int64, m *meter) (io.ReadCloser, error) {
	if f.UncompressedSize64 > uint64(limit) {
		return nil, refuse(workflow.ReasonContentTooLarge, "the part %s of the workbook is larger than %d MiB", f.Name, limit>>20)
	}
	if f.Method != zip.Store && f.Method != zip.Deflate {
		return nil, refuse(workflow.ReasonUnreadable, "the part %s of the workbook uses an unknown compression method %d", f.Name, f.Method)
	}
	rc, err := f.Open()
	if err != nil {
		return nil, refuse(workflow.ReasonUnreadable, "cannot read the part %s of the workbook: %v", f.Name, err)
	}
	return struct {
		io.Reader
		io.Closer
	}{&cappedReader{r: rc, name: f.Name, left: int64(f.UncompressedSize64), m: m, limit: int64(f.UncompressedSize64)}, rc}, nil
}

// xmlWalker reads XML tokens within the bounds: token size (tokenInput),
// nesting depth.
type xmlWalker struct {
	in    *tokenInput
	d     *xml.Decoder
	depth int
}

func newXMLWalker(ctx context.Context, r io.Reader) *xmlWalker {
	in := newTokenInput(ctx, r)
	d := xml.NewDecoder(in)
	d.Strict = true
	return &xmlWalker{in: in, d: d}
}

// next returns the next token (valid until the next call), or io.EOF.
func (w *xmlWalker) next() (xml.Token, error) {
	w.in.mark()
	tok, err := w.d.RawToken()
	if err != nil {
		if err == io.EOF {
			return nil, io.EOF
		}
		return nil, w.in.cause(refuse(workflow.ReasonUnreadable, "the workbook's XML is malformed: %v", err))
	}
	switch tok.(type) {
	case xml.StartElement:
		w.depth++
		if w.depth > maxDepth {
			return nil, refuse(workflow.ReasonContentTooLarge, "the workbook's XML nests deeper than %d elements", maxDepth)
		}
	case xml.EndElement:
		w.depth--
	}
	return tok, nil
}

// text reads the text of the element just started, appending it to buf, at
// most MaxCellBytes: all its character data for a value (v), the text of its
// t elements for a string item (si, is: plain or in rich text runs, but not
// in phonetic runs, rPh).
func (w *xmlWalker) text(buf []byte, runs bool) ([]byte, error) {
	depth := w.depth
	inT, inPh := !runs, 0
	for {
		tok, err := w.next()
		if err != nil {
			return buf, unexpectedEOF(err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			switch {
			case t.Name.Local == "rPh" || inPh > 0:
				inPh++
			case runs && t.Name.Local == "t":
				inT = true
			}
		case xml.EndElement:
			if w.depth < depth {
				return buf, nil
			}
			switch {
			case inPh > 0:
				inPh--
			case runs && t.Name.Local == "t":
				inT = false
			}
		case xml.CharData:
			if !inT || inPh > 0 {
				continue
			}
			if len(buf)+len(t) > MaxCellBytes {
				return buf, refuse(workflow.ReasonContentTooLarge, "a cell is larger than %d KiB", MaxCellBytes>>10)
			}
			buf = append(buf, t...)
		}
	}
}

// skip reads up to the end of the element just started.
func (w *xmlWalker) skip() error {
	depth := w.depth
	for w.depth >= depth {
		if _, err := w.next(); err != nil {
			return unexpectedEOF(err)
		}
	}
	return nil
}

func unexpectedEOF(err error) error {
	if err == io.EOF {
		return refuse(workflow.ReasonUnreadable, "the workbook's XML ends too early")
	}
	return err
}

func attr(se xml.StartElement, local string) string {
	for _, a := range se.Attr {
		if a.Name.Local == local {
			return a.Value
		}
	}
	return ""
}

// relationships of a part: targets by id, resolved against the part's folder.
type relationships struct {
	byID   map[string]string
	byKind map[string]string // the first target of each type's last segment
}

func (r *relationships) byType(suffix string) string { return r.byKind[suffix] }

type partOpener func(name string, limit int64) (*zip.File, io.ReadCloser, error)

func readRels(ctx context.Context, part partOpener, name, dir string) (*relationships, error) {
	rels := &relationships{byID: map[string]string{}, byKind: map[string]string{}}
	_, rc, err := part(name, maxPartBytes)
	if err != nil || rc == nil {
		return rels, err
	}
	defer rc.Close()
	w := newXMLWalker(ctx, rc)
	for {
		tok, err := w.next()
		if err == io.EOF {
			return rels, nil
		}
		if err != nil {
			return nil, err
		}
		se, ok := tok.(xml.StartElement)
		if !ok || se.Name.Local != "Relationship" || len(rels.byID) >= maxZipEntries {
			continue
		}
		target := attr(se, "Target")
		if strings.HasPrefix(target, "/") {
			target = strings.TrimPrefix(target, "/")
		} else {
			target = path.Join(dir, target)
		}
		rels.byID[attr(se, "Id")] = target
		kind := attr(se, "Type")
		if i := strings.LastIndex(kind, "/"); i >= 0 {
			kind = kind[i:]
		}
		if _, seen := rels.byKind[kind]; !seen {
			rels.byKind[kind] = target
		}
	}
}

type sheetRef struct{ name, rid string }

// readWorkbook returns the workbook's sheets and whether it counts dates
// from 1904.
func readWorkbook(ctx context.Context, r io.Reader) ([]sheetRef, bool, error) {
	var (
		sheets   []sheetRef
		date1904 bool
	)
	w := newXMLWalker(ctx, r)
	for {
		tok, err := w.next()
		if err == io.EOF {
			return sheets, date1904, nil
		}
		if err != nil {
			return nil, false, err
		}
		se, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		switch se.Name.Local {
		case "workbookPr":
			v := attr(se, "date1904")
			date1904 = v == "1" || v == "true"
		case "sheet":
			if len(sheets) < maxZipEntries {
				sheets = append(sheets, sheetRef{name: attr(se, "name"), rid: attr(se, "id")})
			}
		}
	}
}

// read reads the shared strings table within maxSharedText and
// maxSharedStrings.
func (s *sharedStrings) read(ctx context.Context, r io.Reader) error {
	w := newXMLWalker(ctx, r)
	var buf []byte
	for {
		tok, err := w.next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		se, ok := tok.(xml.StartElement)
		if !ok || se.Name.Local != "si" {
			continue
		}
		if buf, err = w.text(buf[:0], true); err != nil {
			return sharedRefusal(err)
		}
		if len(s.ends) >= maxSharedStrings {
			return refuse(workflow.ReasonContentTooLarge, "the shared strings table holds more than %d strings", maxSharedStrings)
		}
		if len(s.text)+len(buf) > maxSharedText {
			return refuse(workflow.ReasonContentTooLarge, "the shared strings table holds more than %d MiB of text", maxSharedText>>20)
		}
		s.text = append(s.text, buf...)
		s.ends = append(s.ends, uint32(len(s.text)))
	}
}

func sharedRefusal(err error) error {
	var r *refusal
	if errors.As(err, &r) && strings.HasPrefix(r.reason, "a cell is larger") {
		return refuse(workflow.ReasonContentTooLarge, "a shared string is larger than %d KiB (a cell is at most that)", MaxCellBytes>>10)
	}
	return err
}

// rows calls fn with each row of the sheet: its number and its cells by
// column (index 0 for column A), at most MaxColumns; cells holds text and
// numbers raw (a date cell is its date number). It refuses a dimension, a
// cell or a row past the bounds before it reads the row's values.
func (x *xlsxSource) rows(ctx context.Context, fn func(num int, cells []string) error) error {
	rc, err := openPart(x.sheet, maxDecodedBytes, &meter{})
	if err != nil {
		return err
	}
	defer rc.Close()
	w := newXMLWalker(ctx, rc)
	var (
		num   int
		cells = make([]string, 0, MaxColumns)
		buf   []byte
	)
	for {
		tok, err := w.next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		se, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		switch se.Name.Local {
		case "dimension":
			if err := checkDimension(attr(se, "ref")); err != nil {
				return err
			}
		case "row":
			num, err = rowNumber(se, num)
			x.at = num
			if err != nil {
				return err
			}
			if cells, buf, err = x.readRow(w, num, cells[:0], buf); err != nil {
				return err
			}
			if err := fn(num, cells); err != nil {
				return err
			}
		}
	}
}

// rowNumber is a row's number: its r attribute, or the one after prev.
func rowNumber(se xml.StartElement, prev int) (int, error) {
	num := prev + 1
	if v := attr(se, "r"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return prev + 1, refuse(workflow.ReasonUnreadable, "row %q: not a row number", v)
		}
		num = n
	}
	if num > MaxSheetRows {
		return num, refuse(workflow.ReasonTooManyRows, "the sheet has more than %d rows (at most %d rows of problems)", MaxSheetRows, MaxRows)
	}
	return num, nil
}

// readRow reads the cells of the row element just started into cells.
func (x *xlsxSource) readRow(w *xmlWalker, num int, cells []string, buf []byte) ([]string, []byte, error) {
	depth, col := w.depth, 0
	for {
		tok, err := w.next()
		if err != nil {
			return cells, buf, unexpectedEOF(err)
		}
		switch t := tok.(type) {
		case xml.EndElement:
			if w.depth < depth {
				return cells, buf, nil
			}
		case xml.StartElement:
			if t.Name.Local != "c" {
				if err := w.skip(); err != nil {
					return cells, buf, err
				}
				continue
			}
			if col, err = cellColumn(t, num, col); err != nil {
				return cells, buf, err
			}
			var v string
			if v, buf, err = x.cell(w, t, buf); err != nil {
				return cells, buf, err
			}
			for len(cells) < col {
				cells = append(cells, "")
			}
			cells[col-1] = v
		}
	}
}

// cellColumn is a cell's column (1 for A): from its r attribute, or the one
// after prev; past MaxColumns, or a reference to another row, is refused.
func cellColumn(se xml.StartElement, row, prev int) (int, error) {
	ref := attr(se, "r")
	if ref == "" {
		if prev+1 > MaxColumns {
			return 0, refuse(workflow.ReasonTooManyColumns, "row %d has cells past column %s (the ledger's columns end there)", row, columnName(MaxColumns))
		}
		return prev + 1, nil
	}
	col, r, ok := splitCellRef(ref)
	switch {
	case !ok:
		return 0, refuse(workflow.ReasonUnreadable, "row %d: %q is not a cell reference", row, ref)
	case col > MaxColumns:
		return 0, refuse(workflow.ReasonTooManyColumns, "cell %s lies in column %s, past column %s (the ledger's columns end there)", ref, strings.TrimRight(ref, "0123456789"), columnName(MaxColumns))
	case r != row:
		return 0, refuse(workflow.ReasonUnreadable, "cell %s is in row %d's data", ref, row)
	}
	return col, nil
}

// cell reads a cell's value: shared strings looked up, inline strings,
// numbers, booleans and error values as written.
func (x *xlsxSource) cell(w *xmlWalker, se xml.StartElement, buf []byte) (string, []byte, error) {
	typ := attr(se, "t")
	depth := w.depth
	var v string
	for {
		tok, err := w.next()
		if err != nil {
			return "", buf, unexpectedEOF(err)
		}
		switch t := tok.(type) {
		case xml.EndElement:
			if w.depth < depth {
				return v, buf, nil
			}
		case xml.StartElement:
			switch t.Name.Local {
			case "v", "is":
				if buf, err = w.text(buf[:0], t.Name.Local == "is"); err != nil {
					return "", buf, err
				}
				if v, err = x.value(typ, buf); err != nil {
					return "", buf, err
				}
			default: // a formula: its value is in v
				if err := w.skip(); err != nil {
					return "", buf, err
				}
			}
		}
	}
}

func (x *xlsxSource) value(typ string, raw []byte) (string, error) {
	switch typ {
	case "s":
		i, err := strconv.Atoi(strings.TrimSpace(string(raw)))
		if err != nil {
			return "", refuse(workflow.ReasonUnreadable, "a shared string index %q is not a number", raw)
		}
		s, ok := x.sst.get(i)
		if !ok {
			return "", refuse(workflow.ReasonUnreadable, "a cell names shared string %d, which the workbook does not hold", i)
		}
		return s, nil
	case "b":
		if strings.TrimSpace(string(raw)) == "1" {
			return "TRUE", nil
		}
		return "FALSE", nil
	}
	return string(raw), nil
}

// checkDimension refuses a sheet whose declared range reaches past the
// bounds.
func checkDimension(ref string) error {
	_, last, _ := strings.Cut(ref, ":")
	if last == "" {
		last = ref
	}
	col, row, ok := splitCellRef(last)
	if !ok {
		return nil // a malformed dimension says nothing; the cells are checked
	}
	if col > MaxColumns || row > MaxSheetRows {
		return refuse(workflow.ReasonTooManyColumns, "the sheet's range %s reaches past column %s or row %d", ref, columnName(MaxColumns), MaxSheetRows)
	}
	return nil
}

// splitCellRef reads a cell reference such as "B12" (or "$B$12").
func splitCellRef(ref string) (col, row int, ok bool) {
	ref = strings.ReplaceAll(ref, "$", "")
	i := 0
	for i < len(ref) && ref[i] >= 'A' && ref[i] <= 'Z' {
		if i == 3 {
			return 0, 0, false
		}
		col = col*26 + int(ref[i]-'A'+1)
		i++
	}
	if i == 0 || i == len(ref) {
		return 0, 0, false
	}
	row, err := strconv.Atoi(ref[i:])
	if err != nil || row < 1 || row > 1<<20 {
		return 0, 0, false
	}
	return col, row, true
}

// columnName is column n's letters (1: A).
func columnName(n int) string {
	s := ""
	for n > 0 {
		n--
		s = string(rune('A'+n%26)) + s
		n /= 26
	}
	return s
}
