package ledgerfile

import (
	"context"
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

// ImportFile reads a ledger file (see Import) with the units and work points
// of svc (aliases, if not nil, resolves other unit names, e.g.
// seeds.ResolveUnit) and applies it (see Apply). Refusals of the file's
// content come back in Result.Errors, with nothing written; the error is for
// the rest: forbidden (only the bureau may import), storage failures.
func ImportFile(ctx context.Context, svc *workflow.Service, a workflow.Actor, r io.ReaderAt, size int64, kind string,
	aliases func(string) (string, bool), dryRun bool) (*Result, error) {
	if err := canImport(a); err != nil {
		return nil, err
	}
	units, err := svc.Units(ctx)
	if err != nil {
		return nil, err
	}
	wps, err := svc.WorkPoints(ctx)
	if err != nil {
		return nil, err
	}
	rows, errs := Import(ctx, r, size, kind, Lookup{Unit: UnitResolver(units, aliases), WorkPoints: wps})
	if len(errs) > 0 {
		return &Result{DryRun: dryRun, Rows: []RowResult{}, Errors: errs}, nil
	}
	return Apply(ctx, svc, a, rows, dryRun)
}

func canImport(a workflow.Actor) error {
	return workflow.CanImportLedger(a)
}

// known is what Apply remembers of a problem already in the ledger.
type known struct {
	id, code, dedupe, content, title string
	state                            workflow.State
	version                          uint64
}

// is reports whether k is row r's problem: the same 来源文件 and 问题描述,
// and the same title if the row gives one.
func (k *known) is(r *Row) bool {
	return k.content == contentKey(r.SourceRef, r.Description) && (!r.TitleGiven || k.title == r.Title)
}

// Apply imports rows (from Import) as actor a, a member of the bureau, all
// or nothing, idempotently:
//
//  1. It reads the ledger once (every problem's code, 来源文件, 问题描述 and
//     title) and checks every row against svc as CreateProblem and the
//     assign trigger would (county kind, work point, units, lengths, lead
//     unit not cooperating). A row whose 问题编号 is a problem in the ledger,
//     or whose 来源文件 and 问题描述 (and 问题名称, if the file gives it) are
//     those of one, is skipped; a 问题编号 that names a problem with a
//     different 来源文件, 问题描述 or 问题名称 is an error.
//  2. Any error: it returns them all in Result.Errors and writes nothing.
//  3. A dry run stops here and reports what it would do per row.
//  4. Otherwise it creates the problems in row order, each with the dedupe
//     key Row.DedupeKey, and assigns those that have 牵头单位 and 整改时限.
//
// Each CreateProblem and each assignment is its own transaction: there is no
// multi-problem transaction in the Store. Step 1 makes creation unable to
// fail for the input's sake; what remains is a storage failure, a crash or a
// cancelled context part-way, or a concurrent change of a unit or problem
// between the check and the write. Then the problems created so far stay (the
// ledger is append-only) and the error is returned with the partial Result;
// importing the same file again is safe and completes it: created rows are
// skipped (by 来源文件 + 问题描述, or by the dedupe key if two imports race)
// and a created but not yet assigned row is assigned (ActionAssign).
func Apply(ctx context.Context, svc *workflow.Service, a workflow.Actor, rows []Row, dryRun bool) (*Result, error) {
	if err := canImport(a); err != nil {
		return nil, err
	}
	res := &Result{DryRun: dryRun, Rows: []RowResult{}, Errors: []RowError{}}
	byCode := map[string]*known{}
	byContent := map[string][]*known{} // in creation order
	for p, err := range svc.EachProblem(ctx, a, workflow.ProblemFilter{}) {
		if err != nil {
			return nil, err
		}
		k := &known{id: p.ID, code: p.Code, dedupe: p.DedupeKey, content: contentKey(p.SourceRef, p.Description),
			title: p.Title, state: p.State, version: p.Version}
		byCode[p.Code] = k
		byContent[k.content] = append(byContent[k.content], k)
	}
	wps, err := svc.WorkPoints(ctx)
	if err != nil {
		return nil, err
	}
	wpSet := map[int]bool{}
	for _, wp := range wps {
		wpSet[wp.Number] = true
	}

	plans := make([]*known, len(rows)) // the existing problem a row matches
	for i := range rows {
		r := &rows[i]
		errs, err := check(ctx, svc, r, wpSet)
		if err != nil {
			return nil, err
		}
		res.Errors = append(res.Errors, errs...)
		rr := RowResult{Row: r.Row, Action: ActionCreate, Title: r.Title, State: workflow.StateFound}
		if r.Assigned() {
			rr.State = workflow.StateAssigned
		}
		var match *known
		if r.Code != "" {
			if k, ok := byCode[r.Code]; ok {
				if !k.is(r) {
					res.Errors = append(res.Errors, RowError{Row: r.Row, Column: ColCode,
						Reason: fmt.Sprintf("问题编号 %s is a problem of this ledger with a different 来源文件, 问题描述 or 问题名称", r.Code)})
				}
				match = k
			} else {
				rr.Note = fmt.Sprintf("问题编号 %s is not in this ledger; the problem gets a new code", r.Code)
			}
		}
		if match == nil {
			for _, k := range byContent[contentKey(r.SourceRef, r.Description)] {
				if k.is(r) {
					match = k
					break
				}
			}
		}
		if match != nil {
			plans[i] = match
			rr.Action, rr.ProblemID, rr.Code, rr.State, rr.Note = ActionSkip, match.id, match.code, match.state,
				"already in the ledger as "+match.code
			if resumable(match, r) {
				rr.Action, rr.State, rr.Note = ActionAssign, workflow.StateAssigned,
					"created by an earlier, interrupted import of this row; it is assigned now"
			}
		}
		res.Rows = append(res.Rows, rr)
	}
	if len(res.Errors) > 0 {
		res.Rows = []RowResult{}
		return res, nil
	}
	count := func(rr *RowResult) {
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
	if dryRun {
		for i := range res.Rows {
			count(&res.Rows[i])
		}
		return res, nil
	}
	for i := range rows {
		r, rr := &rows[i], &res.Rows[i]
		if err := ctx.Err(); err != nil {
			res.Rows = res.Rows[:i]
			return res, err
		}
		if err := perform(ctx, svc, a, r, rr, plans[i]); err != nil {
			res.Rows = res.Rows[:i]
			return res, fmt.Errorf("ledger import, row %d: %w", r.Row, err)
		}
		count(rr)
	}
	return res, nil
}

// resumable reports whether k is row r's problem as an interrupted import
// left it: created with r's dedupe key, not yet assigned, untouched since.
func resumable(k *known, r *Row) bool {
	return r.Assigned() && k.dedupe == r.DedupeKey() && k.state == workflow.StateFound && k.version == 1
}

// perform carries out rr's action for row r.
func perform(ctx context.Context, svc *workflow.Service, a workflow.Actor, r *Row, rr *RowResult, match *known) error {
	switch rr.Action {
	case ActionSkip:
		return nil
	case ActionAssign:
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
	p, created, err := svc.CreateProblem(ctx, a, r.NewProblem())
	if err != nil {
		return err
	}
	rr.ProblemID, rr.Code, rr.State = p.ID, p.Code, p.State
	if !created {
		// Another import of the same row got there first.
		k := &known{id: p.ID, code: p.Code, dedupe: p.DedupeKey, title: p.Title, state: p.State, version: p.Version}
		rr.Action, rr.Note = ActionSkip, "already in the ledger as "+p.Code
		if resumable(k, r) {
			rr.Action = ActionAssign
			return perform(ctx, svc, a, r, rr, k)
		}
		return nil
	}
	if !r.Assigned() {
		return nil
	}
	p, err = svc.Fire(ctx, a, p.ID, workflow.Command{Trigger: workflow.TriggerAssign, Params: r.Assignment(), IfVersion: p.Version})
	if err != nil {
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
	fail := func(col, format string, args ...any) {
		errs = append(errs, RowError{Row: r.Row, Column: col, Reason: fmt.Sprintf(format, args...)})
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
		fail(col, "%s", e.Message)
	}
	if r.CountyID != "" {
		u, ok, err := unit(r.CountyID)
		if err != nil {
			return nil, err
		}
		if !ok || (u.Kind != workflow.UnitCounty && u.Kind != workflow.UnitZone && u.Kind != workflow.UnitCity) {
			fail(ColCounty, "%s is not a county, city, district or zone", r.CountyID)
		}
	}
	if r.WorkPoint != 0 && !wps[r.WorkPoint] {
		fail(ColWorkPoint, "unknown work point %d", r.WorkPoint)
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
		fail(fieldColumns[e.Field], "%s", e.Message)
	}
	if _, ok, err := unit(r.LeadUnit); err != nil {
		return nil, err
	} else if !ok {
		fail(ColLeadUnit, "unknown unit %q", r.LeadUnit)
	}
	for i, id := range r.CooperatingUnits {
		if _, ok, err := unit(id); err != nil {
			return nil, err
		} else if !ok {
			fail(ColCooperating, "unknown unit %q", id)
		}
		if slices.Contains(r.CooperatingUnits[:i], id) {
			fail(ColCooperating, "unit %s is listed twice", id)
		}
		if id == r.LeadUnit {
			fail(ColCooperating, "the lead unit %s cannot also cooperate", id)
		}
	}
	return errs, nil
}
