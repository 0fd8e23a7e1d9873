package ledgerfile

import (
	"context"
	"errors"
	"fmt"
	"iter"

	"github.com/jdz-eco/rectify/workflow"
)

// plan is what the check decided: a RowResult per row, the rows that create
// a problem (their indexes in res.Rows, in order), the ledger's problem each
// matched row is, and the rows of interrupted imports to complete.
type plan struct {
	res        *Result
	creates    []int32
	matches    map[int]*known
	resume     []int
	resumeRows []Row
}

// errAborted stops a reading whose caller has what it needs, or an error of
// its own.
var errAborted = errors.New("aborted")

// ledgerMatches reads the ledger once and keeps the problems a row of rd
// names by 问题编号, or by 来源文件 and 问题描述.
func (rd *Reading) ledgerMatches(ctx context.Context, svc *workflow.Service, a workflow.Actor) (map[string]*known, map[[32]byte][]*known, error) {
	byCode := map[string]*known{}
	byContent := map[[32]byte][]*known{} // in creation order
	for p, err := range svc.EachProblem(ctx, a, workflow.ProblemFilter{}) {
		if err != nil {
			return nil, nil, err
		}
		sum := contentSum(p.SourceRef, p.Description)
		_, byRowContent := rd.contents[sum]
		_, byRowCode := rd.codes[p.Code]
		if !byRowContent && !byRowCode {
			continue
		}
		k := &known{id: p.ID, code: p.Code, dedupe: p.DedupeKey, content: sum, title: p.Title, state: p.State, version: p.Version}
		if byRowCode {
			byCode[p.Code] = k
		}
		if byRowContent {
			byContent[sum] = append(byContent[sum], k)
		}
	}
	return byCode, byContent, nil
}

// check is Apply's first step: the ledger's problems the rows name, then
// every row checked and matched.
func (rd *Reading) check(ctx context.Context, svc *workflow.Service, a workflow.Actor, progress Progress) (*plan, error) {
	progress(StageChecking, 0)
	byCode, byContent, err := rd.ledgerMatches(ctx, svc, a)
	if err != nil {
		return nil, err
	}
	wps, err := svc.WorkPoints(ctx)
	if err != nil {
		return nil, err
	}
	wpSet := map[int]bool{}
	for _, wp := range wps {
		wpSet[wp.Number] = true
	}
	pl := &plan{res: &Result{Rows: make([]RowResult, 0, rd.Rows), Errors: []RowError{}}, matches: map[int]*known{}}
	var failure error
	errs := rd.scan(ctx, func(r *Row) error {
		rowErrs, err := check(ctx, svc, r, wpSet)
		if err != nil {
			failure = err
			return errAborted
		}
		pl.res.Errors = append(pl.res.Errors, rowErrs...)
		pl.decide(r, byCode, byContent)
		if n := len(pl.res.Rows); n%1024 == 0 {
			progress(StageChecking, n)
		}
		return nil
	})
	if failure != nil {
		return nil, failure
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("ledger import: nothing was imported: %w", err)
	}
	if len(errs) > 0 {
		pl.res.Errors = append(pl.res.Errors, errs...)
	}
	if len(pl.res.Errors) > MaxErrors {
		more := len(pl.res.Errors) - MaxErrors
		pl.res.Errors = append(pl.res.Errors[:MaxErrors], RowError{Row: pl.res.Errors[MaxErrors].Row, Rule: workflow.ReasonMoreErrors, Reason: fmt.Sprintf("and %d more errors, not listed", more)})
	}
	progress(StageChecking, len(pl.res.Rows))
	return pl, nil
}

// decide says what the import does with row r: create its problem, skip it
// (its problem is in the ledger), or assign a problem an interrupted import
// left unassigned.
func (pl *plan) decide(r *Row, byCode map[string]*known, byContent map[[32]byte][]*known) {
	rr := RowResult{Row: r.Row, Action: ActionCreate, Title: r.Title, State: workflow.StateFound}
	if r.Assigned() {
		rr.State = workflow.StateAssigned
	}
	var match *known
	if r.Code != "" {
		if k, ok := byCode[r.Code]; ok {
			if !k.is(r) {
				pl.res.Errors = append(pl.res.Errors, RowError{Row: r.Row, Column: ColCode, Rule: workflow.ReasonCodeMismatch,
					Reason: fmt.Sprintf("问题编号 %s is a problem of this ledger with a different 来源文件, 问题描述 or 问题名称", r.Code)})
			}
			match = k
		} else {
			rr.Note = fmt.Sprintf("问题编号 %s is not in this ledger; the problem gets a new code", r.Code)
		}
	}
	if match == nil {
		for _, k := range byContent[contentSum(r.SourceRef, r.Description)] {
			if k.is(r) {
				match = k
				break
			}
		}
	}
	i := len(pl.res.Rows)
	switch {
	case match == nil:
		pl.creates = append(pl.creates, int32(i))
	case resumable(match, r):
		rr.Action, rr.ProblemID, rr.Code, rr.State, rr.Note = ActionAssign, match.id, match.code, workflow.StateAssigned,
			"created by an earlier, interrupted import of this row; it is assigned now"
		pl.matches[i] = match
		pl.resume = append(pl.resume, i)
		pl.resumeRows = append(pl.resumeRows, *r)
	default:
		rr.Action, rr.ProblemID, rr.Code, rr.State, rr.Note = ActionSkip, match.id, match.code, match.state,
			"already in the ledger as "+match.code
	}
	pl.res.Rows = append(pl.res.Rows, rr)
}

// commit is Apply's last step: the file read a third time, the rows that
// create a problem handed to Service.CreateProblems one by one as the store
// asks for them, all written at once.
func (rd *Reading) commit(ctx context.Context, svc *workflow.Service, a workflow.Actor, pl *plan, progress Progress) error {
	if len(pl.creates) == 0 {
		return nil
	}
	var scanErrs []RowError
	rows := func(yield func(*Row) bool) {
		scanErrs = rd.scan(ctx, func(r *Row) error {
			if !yield(r) {
				return errAborted
			}
			return nil
		})
	}
	next, stop := iter.Pull(iter.Seq[*Row](rows))
	defer stop()
	k := -1 // the row next returned last, as an index of res.Rows
	items := func(i int) (workflow.BatchItem, error) {
		for {
			r, ok := next()
			if !ok {
				return workflow.BatchItem{}, fmt.Errorf("ledger import: the file read differently the third time: %v", scanErrs)
			}
			k++
			if k != int(pl.creates[i]) {
				continue
			}
			it := workflow.BatchItem{New: r.NewProblem()}
			if r.Assigned() {
				prm := r.Assignment()
				it.Assign = &prm
			}
			return it, nil
		}
	}
	done := func(i int, p *workflow.Problem) {
		rr := &pl.res.Rows[pl.creates[i]]
		rr.ProblemID, rr.Code, rr.State = p.ID, p.Code, p.State
	}
	skipped := len(pl.res.Rows) - len(pl.creates)
	written := func(n int) { progress(StageWriting, skipped+n) }
	if err := svc.CreateProblems(ctx, a, len(pl.creates), items, done, written); err != nil {
		return fmt.Errorf("ledger import: nothing was imported: %w", err)
	}
	return nil
}
