package ledgerfile

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/jdz-eco/rectify/workflow"
)

// Action is what an import does with one row.
type Action string

// Actions of an import.
const (
	// ActionCreate logs a new problem (found, or assigned when the row gives
	// 牵头单位 and 整改时限).
	ActionCreate Action = "create"
	// ActionSkip leaves a problem already in the ledger as it is: one with the
	// row's 问题编号, or with its 来源文件 and 问题描述.
	ActionSkip Action = "skip"
	// ActionAssign assigns a problem an earlier, interrupted import of the
	// same row created but did not get to assign (still found, untouched).
	ActionAssign Action = "assign"
)

// RowResult says what an import does (dry run) or did with one row.
type RowResult struct {
	Row       int            `json:"row"`
	Action    Action         `json:"action"`
	Title     string         `json:"title"`
	State     workflow.State `json:"state"`                // the problem's state after the import
	ProblemID string         `json:"problem_id,omitempty"` // empty for a problem a dry run would create
	Code      string         `json:"code,omitempty"`
	Note      string         `json:"note,omitempty"` // why a row is skipped, or what to know about it
}

// Result is the outcome of an import. When Errors is not empty nothing was
// written and Rows is empty.
type Result struct {
	DryRun   bool        `json:"dry_run"`
	Created  int         `json:"created"`
	Assigned int         `json:"assigned"` // of the created, and interrupted ones completed
	Skipped  int         `json:"skipped"`
	Rows     []RowResult `json:"rows"`
	Errors   []RowError  `json:"errors"`
}

// ImportFile reads a ledger file of size bytes at r, of kind KindXLSX or
// KindCSV (see Read), and applies it (see Reading.Apply) as actor a.
// Refusals of the file's content come back in Result.Errors, with nothing
// written; the error is for the rest: forbidden (only the bureau may
// import), a concurrent import of the same rows, storage failures.
func ImportFile(ctx context.Context, svc *workflow.Service, a workflow.Actor, r io.ReaderAt, size int64, kind string,
	aliases func(string) (string, bool), dryRun bool) (*Result, error) {
	rd, errs, err := Read(ctx, svc, a, Upload{R: r, Size: size, Kind: kind}, aliases)
	if err != nil {
		return nil, err
	}
	if len(errs) > 0 {
		return &Result{DryRun: dryRun, Rows: []RowResult{}, Errors: errs}, nil
	}
	return rd.Apply(ctx, svc, a, dryRun, nil)
}

func canImport(a workflow.Actor) error {
	return workflow.CanImportLedger(a)
}

// known is what Apply remembers of a problem already in the ledger.
type known struct {
	id, code, dedupe, title string
	content                 [32]byte
	state                   workflow.State
	version                 uint64
}

// is reports whether k is row r's problem: the same 来源文件 and 问题描述,
// and the same title if the row gives one.
func (k *known) is(r *Row) bool {
	return k.content == contentSum(r.SourceRef, r.Description) && (!r.TitleGiven || k.title == r.Title)
}

// contentSum is a row's or problem's identity without its title: what a row
// without 问题名称 matches an existing problem on.
func contentSum(sourceRef, description string) [32]byte {
	return sha256.Sum256([]byte(identityText(sourceRef, description, "")))
}

// Stage is what an import is doing.
type Stage string

// Stages of Reading.Apply.
const (
	// StageChecking: reading the ledger and checking each row against it.
	StageChecking Stage = "checking"
	// StageWriting: writing the problems, all at once.
	StageWriting Stage = "writing"
)

// Progress is told an import's stage and how many of its rows are done.
type Progress func(stage Stage, done int)

// Apply imports the rows rd read as actor a, a member of the bureau, all or
// nothing, idempotently:
//
//  1. It reads the ledger once, keeping the problems whose 问题编号, or
//     来源文件 and 问题描述, are those of a row, and reads the file again,
//     checking every row as CreateProblem and the assign trigger would
//     (county kind, work point, units, lengths, lead unit not cooperating).
//     A row whose 问题编号 is a problem in the ledger, or whose 来源文件 and
//     问题描述 (and 问题名称, if the file gives it) are those of one, is
//     skipped; a 问题编号 that names a problem with a different 来源文件,
//     问题描述 or 问题名称 is an error.
//  2. Any error: it returns them all in Result.Errors and writes nothing.
//  3. A dry run stops here and reports what it would do per row.
//  4. Otherwise it reads the file a third time and creates every new
//     problem at once (workflow.Service.CreateProblems, one commit), each
//     with the dedupe key Row.DedupeKey and assigned when the row gives
//     牵头单位 and 整改时限. If anything fails (the connection, the context,
//     the store, a concurrent import of the same rows), nothing is written;
//     the same file imported again is safe and does it.
//
// Imports before this one created and assigned each problem in its own
// transactions, so an interrupted one may have left a problem created but
// not assigned: a row whose problem that is gets assigned now
// (ActionAssign), after the commit, each in its own transaction.
//
// It holds, besides the ledger's problems that rows name, one RowResult per
// row; the file is read again rather than held.
func (rd *Reading) Apply(ctx context.Context, svc *workflow.Service, a workflow.Actor, dryRun bool, progress Progress) (*Result, error) {
	if err := canImport(a); err != nil {
		return nil, err
	}
	if progress == nil {
		progress = func(Stage, int) {}
	}
	pl, err := rd.check(ctx, svc, a, progress)
	if err != nil {
		return nil, err
	}
	res := pl.res
	res.DryRun = dryRun
	if len(res.Errors) > 0 {
		res.Rows = []RowResult{}
		return res, nil
	}
	if !dryRun {
		progress(StageWriting, 0)
		if err := rd.commit(ctx, svc, a, pl, progress); err != nil {
			return nil, err
		}
		for i, k := range pl.resume {
			r := pl.resumeRows[i]
			if err := resume(ctx, svc, a, &r, &res.Rows[k], pl.matches[k]); err != nil {
				return nil, fmt.Errorf("ledger import, row %d: %w", r.Row, err)
			}
		}
	}
	for i := range res.Rows {
		res.count(&res.Rows[i])
	}
	return res, nil
}

func (res *Result) count(rr *RowResult) {
	switch rr.Action {
	case ActionCreate:
		res.Created++
		if rr.State == workflow.StateAssigned {
			res.Assigned++
		}
	case ActionAssign:
		res.Assigned++
	case ActionSkip:
		res.Skipped++
	}
}

// resumable reports whether k is row r's problem as an interrupted import
// left it: created with r's dedupe key, not yet assigned, untouched since.
func resumable(k *known, r *Row) bool {
	return r.Assigned() && k.dedupe == r.DedupeKey() && k.state == workflow.StateFound && k.version == 1
}

// resume assigns the problem an interrupted import of row r created but
// did not assign.
func resume(ctx context.Context, svc *workflow.Service, a workflow.Actor, r *Row, rr *RowResult, match *known) error {
	p, err := svc.Fire(ctx, a, match.id, workflow.Command{Trigger: workflow.TriggerAssign, Params: r.Assignment(), IfVersion: match.version})
	if c := workflow.ErrorCode(err); c == workflow.CodePreconditionFailed || c == workflow.CodeConflict {
		// Someone acted on it meanwhile: theirs wins.
		rr.Action, rr.Note = ActionSkip, "already in the ledger as "+match.code+" and changed since; left as it is"
		return nil
	} else if err != nil {
		return err
	}
	rr.State = p.State
	return nil
}

// fieldColumns maps the domain's field names to the ledger's columns.
var fieldColumns = map[string]string{
	"description": ColDescription, "source": ColSource, "county_id": ColCounty, "work_point": ColWorkPoint,
	"source_ref": ColSourceRef, "location": ColLocation, "lead_unit": ColLeadUnit,
	"cooperating_units": ColCooperating, "requirements": ColRequirements, "deadline": ColDeadline,
}

// check validates row r against svc as CreateProblem and the assign trigger
// will; the error is for a failure to read.
func check(ctx context.Context, svc *workflow.Service, r *Row, wps map[int]bool) ([]RowError, error) {
	var errs []RowError
	fail := func(col string, rule workflow.Reason, format string, args ...any) {
		errs = append(errs, RowError{Row: r.Row, Column: col, Rule: rule, Reason: fmt.Sprintf(format, args...)})
	}
	unit := func(id string) (workflow.Unit, bool, error) {
		u, err := svc.Unit(ctx, id)
		if workflow.ErrorCode(err) == workflow.CodeNotFound {
			return u, false, nil
		}
		return u, err == nil, err
	}
	np := r.NewProblem()
	if err := np.Validate(); err != nil {
		var e *workflow.Error
		if !errors.As(err, &e) {
			return nil, err
		}
		col := fieldColumns[e.Field]
		if e.Field == "title" {
			col = ColDescription
			if r.TitleGiven {
				col = ColTitle
			}
		}
		fail(col, e.Reason, "%s", e.Message)
	}
	if r.CountyID != "" {
		u, ok, err := unit(r.CountyID)
		if err != nil {
			return nil, err
		}
		if !ok || (u.Kind != workflow.UnitCounty && u.Kind != workflow.UnitZone && u.Kind != workflow.UnitCity) {
			fail(ColCounty, workflow.ReasonNotCounty, "%s is not a county, city, district or zone", r.CountyID)
		}
	}
	if r.WorkPoint != 0 && !wps[r.WorkPoint] {
		fail(ColWorkPoint, workflow.ReasonUnknownWorkPoint, "unknown work point %d", r.WorkPoint)
	}
	if !r.Assigned() {
		return errs, nil
	}
	prm := r.Assignment()
	if err := workflow.ValidateParams(workflow.TriggerAssign, &prm); err != nil {
		var e *workflow.Error
		if !errors.As(err, &e) {
			return nil, err
		}
		fail(fieldColumns[e.Field], e.Reason, "%s", e.Message)
	}
	if _, ok, err := unit(r.LeadUnit); err != nil {
		return nil, err
	} else if !ok {
		fail(ColLeadUnit, workflow.ReasonUnknownUnit, "unknown unit %q", r.LeadUnit)
		errs[len(errs)-1].Value = r.LeadUnit
	}
	for i, id := range r.CooperatingUnits {
		if _, ok, err := unit(id); err != nil {
			return nil, err
		} else if !ok {
			fail(ColCooperating, workflow.ReasonUnknownUnit, "unknown unit %q", id)
			errs[len(errs)-1].Value = id
		}
		if slices.Contains(r.CooperatingUnits[:i], id) {
			fail(ColCooperating, workflow.ReasonUnitListedTwice, "unit %s is listed twice", id)
		}
		if id == r.LeadUnit {
			fail(ColCooperating, workflow.ReasonLeadCooperates, "the lead unit %s cannot also cooperate", id)
		}
	}
	return errs, nil
}
