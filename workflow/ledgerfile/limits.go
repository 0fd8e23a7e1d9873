package ledgerfile

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Bounds of an import. Reading a file (xlsx or CSV) streams it row by row and
// holds only the row at hand, the header, the shared strings table and a few
// bytes per row to tell duplicate rows: whatever the file, reading it adds at
// most MaxImportHeap to the heap and stops after ReadBudget. A file that
// crosses a bound is refused with a RowError saying which, and nothing is
// imported.
const (
	// MaxFileSize bounds the uploaded file (bytes).
	MaxFileSize = 32 << 20
	// MaxRows bounds the problems (non-blank rows under the header) of a
	// file: MaxRows pass, one more is refused as soon as it is read.
	MaxRows = 100000
	// MaxSheetRows bounds every row of a sheet or CSV file, blank ones and
	// those above the header included.
	MaxSheetRows = MaxRows + 10000
	// MaxColumns bounds the columns of a row: every cell of a sheet lies in
	// columns A to BL, a CSV record has at most 64 fields. The ledger has 22
	// columns (Columns); the rest leaves room for the columns a county adds
	// (备注, 责任人 …), which an import ignores.
	MaxColumns = 64
	// MaxCellBytes bounds one cell's text (a description holds at most
	// workflow.MaxText characters, at most 40,000 bytes).
	MaxCellBytes = 64 << 10
	// MaxImportHeap is what reading one file may add to the heap.
	MaxImportHeap = 64 << 20
	// ReadBudget bounds the time one reading of a file may take.
	ReadBudget = time.Minute
	// MaxErrors bounds the row errors listed; the last one says how many
	// more there were.
	MaxErrors = 1000
)

// Bounds of a workbook's parts, within MaxImportHeap.
const (
	// maxZipEntries bounds the parts of a workbook (each costs a few hundred
	// bytes once the zip directory is read).
	maxZipEntries = 1000
	// maxPartBytes bounds the small parts read whole: relationships and the
	// workbook.
	maxPartBytes = 4 << 20
	// maxDecodedBytes bounds the XML decompressed from one workbook, all
	// parts together, in one reading.
	maxDecodedBytes = 1 << 30
	// maxSharedText and maxSharedStrings bound the shared strings table,
	// which is held while the sheet is read (its text, and four bytes an
	// item).
	maxSharedText    = 24 << 20
	maxSharedStrings = 1 << 20
	// maxToken bounds one XML token (a tag with its attributes, a run of
	// text or CDATA, a comment), escaped: a cell of MaxCellBytes written
	// with character references is at most about six times longer.
	maxToken = 6 * MaxCellBytes
	// maxDepth bounds XML element nesting.
	maxDepth = 64
	// maxRecordBytes bounds one CSV record (all its fields with quotes and
	// separators).
	maxRecordBytes = 4 << 20
)

// budgetReason words a context's end for the file's sender.
func budgetReason(err error) string {
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Sprintf("reading the file took longer than %s; nothing was imported (split the file)", ReadBudget)
	}
	return "the import was cancelled (the client went away); nothing was imported"
}
