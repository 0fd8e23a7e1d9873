package ledgerfile

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"io"
	"unicode/utf8"

	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/transform"

	"github.com/jdz-eco/rectify/workflow"
)

// csvSource is a CSV file: UTF-8 (a BOM dropped), UTF-16 with a BOM, or
// else GB18030 (which includes GBK and GB2312), told from its first 64 KiB;
// comma separated or, if its first line has more tabs than commas, tab
// separated. It is decoded and parsed as it is read.
type csvSource struct {
	r     io.ReaderAt
	size  int64
	skip  int64 // a UTF-8 byte order mark
	dec   func() transform.Transformer
	utf8  bool // check every field is valid UTF-8
	comma rune
	at    int
}

const sniffBytes = 64 << 10

func openCSV(r io.ReaderAt, size int64) (*csvSource, error) {
	head := make([]byte, min(size, sniffBytes))
	if _, err := r.ReadAt(head, 0); err != nil && err != io.EOF {
		return nil, refuse(workflow.ReasonUnreadable, "cannot read the file: %v", err)
	}
	c := &csvSource{r: r, size: size, comma: ','}
	switch {
	case bytes.HasPrefix(head, []byte{0xEF, 0xBB, 0xBF}):
		c.skip, c.utf8 = 3, true
		head = head[3:]
	case bytes.HasPrefix(head, []byte{0xFF, 0xFE}), bytes.HasPrefix(head, []byte{0xFE, 0xFF}):
		c.dec = func() transform.Transformer { return unicode.UTF16(unicode.BigEndian, unicode.ExpectBOM).NewDecoder() }
	case validUTF8Prefix(head, int64(len(head)) < size):
		c.utf8 = true
	default:
		c.dec = func() transform.Transformer { return simplifiedchinese.GB18030.NewDecoder() }
	}
	if c.dec != nil {
		out, _, err := transform.Bytes(c.dec(), head)
		if err != nil && len(out) == 0 {
			return nil, refuse(workflow.ReasonUnreadable, "the file is neither UTF-8 nor GB18030: %v", err)
		}
		head = out
	}
	first, _, _ := bytes.Cut(head, []byte("\n"))
	if bytes.Count(first, []byte("\t")) > bytes.Count(first, []byte(",")) {
		c.comma = '\t'
	}
	return c, nil
}

// validUTF8Prefix reports whether b is valid UTF-8, but for a rune cut at
// its end when b is only the beginning of the file.
func validUTF8Prefix(b []byte, cut bool) bool {
	if cut {
		for i := 0; i < utf8.UTFMax && len(b) > 0; i++ {
			if utf8.Valid(b) {
				return true
			}
			b = b[:len(b)-1]
		}
	}
	return utf8.Valid(b)
}

// recordGuard stops a CSV reader that has read more than maxRecordBytes past
// the end of its last record: csv.Reader holds a record (and a line) whole.
type recordGuard struct {
	r     io.Reader
	n     int64
	limit int64
}

func (g *recordGuard) Read(p []byte) (int, error) {
	if g.n >= g.limit {
		return 0, errRecordTooLarge
	}
	p = p[:min(int64(len(p)), g.limit-g.n)]
	n, err := g.r.Read(p)
	g.n += int64(n)
	return n, err
}

var errRecordTooLarge = errors.New("record too large")

// rows calls fn with each record's number (1 for the first) and fields.
func (c *csvSource) rows(ctx context.Context, fn func(num int, cells []string) error) error {
	var in io.Reader = io.NewSectionReader(c.r, c.skip, c.size-c.skip)
	if c.dec != nil {
		in = transform.NewReader(in, c.dec())
	}
	g := &recordGuard{r: in, limit: maxRecordBytes + sniffBytes}
	cr := csv.NewReader(bufio.NewReaderSize(g, 4096))
	cr.Comma = c.comma
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	for c.at = 1; ; c.at++ {
		if c.at%256 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		rec, err := cr.Read()
		switch {
		case err == io.EOF:
			return nil
		case errors.Is(err, errRecordTooLarge):
			return refuse(workflow.ReasonContentTooLarge, "row %d is larger than %d MiB", c.at, maxRecordBytes>>20)
		case err != nil:
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return refuse(workflow.ReasonUnreadable, "bad CSV (line %d): %v", pe.StartLine, pe.Err)
			}
			return refuse(workflow.ReasonUnreadable, "the file is neither UTF-8 nor GB18030: %v", err)
		}
		g.limit = cr.InputOffset() + maxRecordBytes + sniffBytes
		if len(rec) > MaxColumns {
			return refuse(workflow.ReasonTooManyColumns, "row %d has %d columns, more than %d", c.at, len(rec), MaxColumns)
		}
		for _, f := range rec {
			if len(f) > MaxCellBytes {
				return refuse(workflow.ReasonContentTooLarge, "row %d: a cell is larger than %d KiB", c.at, MaxCellBytes>>10)
			}
			if c.utf8 && !utf8.ValidString(f) {
				return refuse(workflow.ReasonUnreadable, "row %d is not valid UTF-8 (save the whole file as UTF-8, or as GB18030)", c.at)
			}
		}
		if c.at > MaxSheetRows {
			return refuse(workflow.ReasonTooManyRows, "the file has more than %d rows (at most %d rows of problems)", MaxSheetRows, MaxRows)
		}
		if err := fn(c.at, rec); err != nil {
			return err
		}
	}
}

func (c *csvSource) row() int { return c.at }
