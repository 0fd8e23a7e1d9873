package ledgerfile

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/jdz-eco/rectify/workflow"
)

// source is a ledger file opened for reading: rows calls fn with each row's
// number and cells (valid until fn returns), and row tells the row being
// read when it stopped.
type source interface {
	rows(ctx context.Context, fn func(num int, cells []string) error) error
	row() int
}

func (x *xlsxSource) row() int { return x.at }

// openSource opens a ledger file of kind KindXLSX or KindCSV.
func openSource(ctx context.Context, r io.ReaderAt, size int64, kind string) (source, bool, error) {
	switch kind {
	case KindXLSX:
		x, err := openXLSX(ctx, r, size)
		if err != nil {
			return nil, false, err
		}
		return x, x.date1904, nil
	case KindCSV:
		c, err := openCSV(r, size)
		return c, false, err
	}
	return nil, false, refuse(workflow.ReasonUnreadable, "unknown file kind %q; xlsx or csv", kind)
}

// Import reads a ledger file of size bytes from r (see Scan) and returns its
// rows, or the errors that refuse it. It holds every row: for a large file,
// Scan hands them over one at a time.
func Import(ctx context.Context, r io.ReaderAt, size int64, kind string, lk Lookup) (rows []Row, errs []RowError) {
	errs = Scan(ctx, r, size, kind, lk, func(row *Row) error {
		rows = append(rows, *row)
		return nil
	})
	if len(errs) > 0 {
		return nil, errs
	}
	return rows, nil
}

// Scan reads a ledger file of kind KindXLSX (the sheet 「整改台账」, or the
// first sheet) or KindCSV (UTF-8 with or without BOM, UTF-16 with BOM, or
// GB18030/GBK; comma or tab separated), of size bytes, from r, and calls fn
// with each of its rows that has no error, in order. Columns are found by
// their header (one of the first rows; spaces and ASCII or full-width
// parentheses do not matter; usual variants such as 责任单位 and 完成时限
// accepted), in any order; only 问题描述, 问题来源 and 所在县（市、区） are
// required. Export-only columns (序号, 整改方案, 原定时限, 当前状态 …) and
// unknown ones are ignored.
//
// Each row becomes a Row: units by name through lk.Unit, sources by their
// Chinese names and usual short forms (中央环保督察, 省环保督察 …; a bare
// 环保督察 is refused as ambiguous), 工作要点 by number (7, 第7条, 第七条) or,
// with lk.WorkPoints, by title; dates as date cells or text (see parseDate);
// 配合单位 split on 、 and commas; the title from 问题名称 or else the
// description's first sentence. 牵头单位 and 整改时限 go together (both make
// the problem assigned); 配合单位 and 整改要求 need them. Blank rows are
// skipped.
//
// Every problem found is a RowError: a missing required column (at the
// header's row, 1 when there is no header), an empty required cell, an
// unknown unit, source or work point, an unparseable date, a row that
// repeats an earlier one's 来源文件 and 问题描述 (and 问题名称, when given;
// see Row.DedupeKey) or 问题编号, and every bound of limits.go crossed (the
// reading then stops). At most MaxErrors are listed. Import nothing unless
// the errors are empty: fn has then seen every row of the file.
//
// The reading stops when ctx ends (the client went away) or after
// ReadBudget; an error from fn stops it too, and is returned as the reason
// of a RowError.
func Scan(ctx context.Context, r io.ReaderAt, size int64, kind string, lk Lookup, fn func(*Row) error) []RowError {
	ctx = withBudget(ctx, lk.Clock)
	src, date1904, err := openSource(ctx, r, size, kind)
	if err != nil {
		return []RowError{rowError(1, err)}
	}
	s := newScanner(lk, date1904, fn)
	err = src.rows(ctx, s.record)
	switch {
	case errors.Is(err, errStop):
	case err != nil:
		s.errs = append(s.errs[:0], rowError(max(src.row(), 1), err))
		return s.errs
	case s.header == 0:
		s.missingColumns(1)
	}
	if s.more > 0 {
		s.errs = append(s.errs, RowError{Row: s.moreAt, Rule: workflow.ReasonMoreErrors, Reason: fmt.Sprintf("and %d more errors, not listed", s.more)})
	}
	return s.errs
}

// rowError says on row why a reading stopped: a bound or format refusal,
// the budget or the client ending it, a refusal of the domain.
func rowError(row int, err error) RowError {
	var r *refusal
	switch {
	case errors.As(err, &r):
		return RowError{Row: row, Rule: r.rule, Reason: r.reason}
	case errors.Is(err, context.DeadlineExceeded):
		return RowError{Row: row, Rule: workflow.ReasonReadTimeout, Reason: budgetReason(err)}
	case errors.Is(err, context.Canceled):
		return RowError{Row: row, Rule: workflow.ReasonImportCancelled, Reason: budgetReason(err)}
	}
	return RowError{Row: row, Rule: workflow.ErrorReason(err), Reason: err.Error()}
}

// budget is a reading's context: it ends with its parent (the client went
// away) or ReadBudget after it began, by its clock. Readers poll Err.
type budget struct {
	context.Context
	clock workflow.Clock
	end   time.Time
}

func withBudget(ctx context.Context, c workflow.Clock) *budget {
	if c == nil {
		c = workflow.SystemClock{}
	}
	return &budget{Context: ctx, clock: c, end: c.Now().Add(ReadBudget)}
}

func (b *budget) Deadline() (time.Time, bool) { return b.end, true }

func (b *budget) Err() error {
	if err := b.Context.Err(); err != nil {
		return err
	}
	if b.clock.Now().After(b.end) {
		return context.DeadlineExceeded
	}
	return nil
}

// errStop ends a reading the scanner has decided.
var errStop = errors.New("stop")

// scanner turns a file's rows into Rows.
type scanner struct {
	lk       Lookup
	unit     func(string) (string, bool)
	byTitle  map[string]int
	known    map[int]bool
	date1904 bool
	fn       func(*Row) error

	header    int            // the header's row number (0 until found)
	cols      map[string]int // column → cell index
	problems  int            // non-blank rows under the header
	seen      map[[32]byte]int
	codes     map[string]int
	errs      []RowError
	more      int // errors not listed
	moreAt    int
	rowErrors []RowError // the row at hand's
}

func newScanner(lk Lookup, date1904 bool, fn func(*Row) error) *scanner {
	s := &scanner{lk: lk, unit: lk.Unit, date1904: date1904, fn: fn,
		byTitle: map[string]int{}, known: map[int]bool{}, seen: map[[32]byte]int{}, codes: map[string]int{}}
	if s.unit == nil {
		s.unit = func(string) (string, bool) { return "", false }
	}
	for _, wp := range lk.WorkPoints {
		s.byTitle[wp.Title] = wp.Number
		s.known[wp.Number] = true
	}
	return s
}

// record takes one row of the file.
func (s *scanner) record(num int, cells []string) error {
	if s.header == 0 {
		return s.findHeader(num, cells)
	}
	if s.blank(cells) {
		return nil
	}
	s.problems++
	if s.problems > MaxRows {
		s.errs = []RowError{{Row: num, Rule: workflow.ReasonTooManyRows, Reason: fmt.Sprintf("the file has more than %d rows of problems; split it", MaxRows)}}
		s.more = 0
		return errStop
	}
	row := s.parseRow(num, cells)
	if len(s.rowErrors) > 0 {
		s.fail(s.rowErrors...)
		return nil
	}
	if len(s.errs) > 0 {
		return nil // the file is refused: no more rows for fn
	}
	if err := s.fn(&row); err != nil {
		s.errs = append(s.errs, rowError(num, err))
		return errStop
	}
	return nil
}

// fail lists errors, at most MaxErrors.
func (s *scanner) fail(errs ...RowError) {
	for _, e := range errs {
		if len(s.errs) < MaxErrors {
			s.errs = append(s.errs, e)
			continue
		}
		if s.more == 0 {
			s.moreAt = e.Row
		}
		s.more++
	}
}

// findHeader takes a row above the header: the first of the top rows naming
// a required column is the header.
func (s *scanner) findHeader(num int, cells []string) error {
	if num > headerSearch {
		s.missingColumns(1)
		return errStop
	}
	if !slices.ContainsFunc(cells, func(c string) bool { return slices.Contains(Required, headerAliases[normalizeHeader(c)]) }) {
		return nil
	}
	s.header, s.cols = num, map[string]int{}
	for j, cell := range cells {
		c, ok := headerAliases[normalizeHeader(cell)]
		if !ok {
			continue
		}
		if _, dup := s.cols[c]; dup {
			s.fail(RowError{Row: num, Column: c, Rule: workflow.ReasonColumnTwice, Reason: fmt.Sprintf("the column appears twice (as %q)", strings.TrimSpace(cell))})
			continue
		}
		s.cols[c] = j
	}
	s.missingColumns(num)
	if len(s.errs) > 0 {
		return errStop
	}
	return nil
}

// missingColumns lists the required columns the header lacks.
func (s *scanner) missingColumns(row int) {
	for _, c := range Required {
		if _, ok := s.cols[c]; !ok {
			s.fail(RowError{Row: row, Column: c, Rule: workflow.ReasonMissingColumn, Reason: "required column is missing"})
		}
	}
}

// blank reports whether a row is empty in every column the header names.
func (s *scanner) blank(cells []string) bool {
	for _, j := range s.cols {
		if j < len(cells) && strings.TrimSpace(cells[j]) != "" {
			return false
		}
	}
	return true
}
