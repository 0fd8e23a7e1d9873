package ledgerfile

import (
	"context"
	"io"

	"github.com/jdz-eco/rectify/workflow"
)

// Upload is a ledger file to import: Size bytes at R (a file the upload was
// saved to, or memory), of kind KindXLSX or KindCSV. An import reads it up
// to three times rather than hold its rows.
type Upload struct {
	R    io.ReaderAt
	Size int64
	Kind string
}

// Reading is an upload that reads well: Rows rows of problems, and what the
// check needs to find the ledger's problems among them (a hash of each row's
// 来源文件 and 问题描述, and its 问题编号).
type Reading struct {
	Upload
	// Rows is the number of problem rows.
	Rows     int
	lk       Lookup
	contents map[[32]byte]struct{}
	codes    map[string]struct{}
}

// Read reads up as actor a (the bureau) with the units and work points of
// svc (aliases, if not nil, resolves other unit names, e.g.
// seeds.ResolveUnit), within the bounds of limits.go: see Scan. The row
// errors refuse the file; the error is for the rest (forbidden, storage).
// ctx is the client's: the reading stops when it goes away.
func Read(ctx context.Context, svc *workflow.Service, a workflow.Actor, up Upload, aliases func(string) (string, bool)) (*Reading, []RowError, error) {
	if err := canImport(a); err != nil {
		return nil, nil, err
	}
	units, err := svc.Units(ctx)
	if err != nil {
		return nil, nil, err
	}
	wps, err := svc.WorkPoints(ctx)
	if err != nil {
		return nil, nil, err
	}
	rd := &Reading{Upload: up, lk: Lookup{Unit: UnitResolver(units, aliases), WorkPoints: wps},
		contents: map[[32]byte]struct{}{}, codes: map[string]struct{}{}}
	errs := Scan(ctx, up.R, up.Size, up.Kind, rd.lk, func(r *Row) error {
		rd.Rows++
		rd.contents[contentSum(r.SourceRef, r.Description)] = struct{}{}
		if r.Code != "" {
			rd.codes[r.Code] = struct{}{}
		}
		return nil
	})
	if len(errs) > 0 {
		return nil, errs, nil
	}
	return rd, nil, nil
}

// scan reads the upload again, as Read did.
func (rd *Reading) scan(ctx context.Context, fn func(*Row) error) []RowError {
	return Scan(ctx, rd.R, rd.Size, rd.Kind, rd.lk, fn)
}
