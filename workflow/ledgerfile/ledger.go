// Package ledgerfile is the ledger (整改台账) as a spreadsheet, both ways: it
// reads the workbooks and CSV files the bureau, counties and the provincial
// office exchange (.xlsx, and CSV in UTF-8 with or without BOM, UTF-16 with
// BOM, or GB18030/GBK, which Excel saves on a Chinese Windows) and writes the
// ledger as an .xlsx workbook.
//
// It builds on the domain (package workflow) and the domain never imports
// it: no HTTP, no store. The API server, the web pages and the CLI wire it:
//
//	GET  /api/v1/ledger.xlsx        → WriteLedger (or Export): streamed as the ledger is read
//	POST /api/v1/ledger/import      → Read while the client waits, then Reading.Apply in a job (Jobs)
//	GET  /ledger/import (pages)     → the same
//	rectify export --db PATH --out  → WriteLedger with the system actor
//
// Reading is bounded (limits.go): a file is streamed row by row, never held,
// and refused as soon as it crosses a bound; ImportFile and Import are the
// same in one call, for small files and tests. An import writes all its
// problems at once or none (workflow.BatchCreator).
//
// The sheet 「整改台账」 has the columns of Columns, one problem a row. Its
// first 19 are the ledger the bureau asked for; the last two (问题名称,
// 具体位置) carry the problem's title and location so that a file exported
// and imported again reproduces the problem; an import does not need them.
package ledgerfile

import (
	"iter"
	"strconv"
	"strings"
	"time"

	"github.com/jdz-eco/rectify/workflow"
)

// Column names of the ledger sheet: the glossary's (workflow/glossary.go).
const (
	ColSeq          = workflow.LabelSeq
	ColCode         = workflow.LabelCode
	ColSource       = workflow.LabelSource
	ColSourceRef    = workflow.LabelSourceRef
	ColDescription  = workflow.LabelDescription
	ColCounty       = workflow.LabelCounty
	ColWorkPoint    = workflow.LabelWorkPoint
	ColLeadUnit     = workflow.LabelLeadUnit
	ColCooperating  = workflow.LabelCooperatingUnits
	ColRequirements = workflow.LabelRequirements
	ColPlan         = workflow.LabelPlan
	ColDeadline     = workflow.LabelDeadline
	ColOriginal     = workflow.LabelOriginalDeadline
	ColState        = workflow.LabelState
	ColProgress     = workflow.LabelProgress
	ColOverdue      = workflow.LabelOverdue
	ColLevel        = workflow.LabelLevel
	ColVerifiedAt   = workflow.LabelVerifiedAt
	ColClosedAt     = workflow.LabelClosedAt
	ColTitle        = workflow.LabelTitle
	ColLocation     = workflow.LabelLocation
	ColPosition     = workflow.LabelPosition // "纬度, 经度" in WGS-84
)

// Columns are the ledger sheet's columns, in order.
var Columns = []string{
	ColSeq, ColCode, ColSource, ColSourceRef, ColDescription, ColCounty, ColWorkPoint,
	ColLeadUnit, ColCooperating, ColRequirements, ColPlan, ColDeadline, ColOriginal,
	ColState, ColProgress, ColOverdue, ColLevel, ColVerifiedAt, ColClosedAt,
	ColTitle, ColLocation, ColPosition,
}

// Required are the columns an import cannot do without.
var Required = []string{ColDescription, ColSource, ColCounty}

// Sheet names.
const (
	SheetLedger = "整改台账"
	SheetStats  = "统计"
)

// ContentType is the media type of an .xlsx workbook.
const ContentType = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

// Kinds of file Import reads.
const (
	KindXLSX = "xlsx"
	KindCSV  = "csv"
)

// Sniff tells an .xlsx workbook (a zip) from a CSV file by its first bytes.
func Sniff(head []byte) string {
	if len(head) >= 4 && string(head[:4]) == "PK\x03\x04" {
		return KindXLSX
	}
	return KindCSV
}

// Slice yields the problems of a slice, for Export.
func Slice(ps []*workflow.Problem) iter.Seq2[*workflow.Problem, error] {
	return func(yield func(*workflow.Problem, error) bool) {
		for _, p := range ps {
			if !yield(p, nil) {
				return
			}
		}
	}
}

// WorkPointLabel is how the ledger writes work point n: 第7条 深入推进尾矿库污染治理.
func WorkPointLabel(n int, wps map[int]workflow.WorkPoint) string {
	if n == 0 {
		return ""
	}
	s := "第" + strconv.Itoa(n) + "条"
	if wp, ok := wps[n]; ok && wp.Title != "" {
		s += " " + wp.Title
	}
	return s
}

// signedAt returns when p's current cycle was last signed for action (verify
// or close): the verification of a verified or closed-rectified problem, the
// close of a closed-rectified one; nil otherwise (a reopened problem's old
// sign-offs stay on record but are not shown).
func signedAt(p *workflow.Problem, action workflow.Trigger) *time.Time {
	switch {
	case action == workflow.TriggerVerify && (p.State == workflow.StateVerified || p.State == workflow.StateInNotice ||
		p.State == workflow.StateClosed && p.Resolution == workflow.ResolutionRectified):
	case action == workflow.TriggerClose && p.State == workflow.StateClosed && p.Resolution == workflow.ResolutionRectified:
	default:
		return nil
	}
	for i := len(p.Signatures) - 1; i >= 0; i-- {
		if p.Signatures[i].Action == string(action) {
			t := p.Signatures[i].At
			return &t
		}
	}
	return nil
}

// normalizeHeader folds the spellings of a column name people type: spaces
// and line breaks dropped, ASCII parentheses and commas made full-width.
func normalizeHeader(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == '\u3000' || r == '\ufeff':
		case r == '(':
			b.WriteRune('（')
		case r == ')':
			b.WriteRune('）')
		case r == ',' || r == '，':
			b.WriteRune('、')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
