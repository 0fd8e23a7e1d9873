package workflow

import (
	"context"
	"fmt"
	"time"
)

// BatchCreator is a store that creates many problems in one step, all or
// nothing: an import of the ledger commits once (Service.CreateProblems).
// Both stores have it; see each for how (bbolt: one write transaction; etcd:
// staged, then published under one decision).
type BatchCreator interface {
	// CreateProblems allocates count consecutive problem numbers and, for
	// each in order (i from 0, n its number), calls next, which returns the
	// problem as built: its dedupe key, record and history entries, each
	// entry carrying the version it brings and the record the last one's.
	// The store writes every problem with its entries (sealed on the chain
	// in order), indexes and dedupe key, and moves the counter, all at
	// once: if anything fails (an error from next, a dedupe key already
	// taken, which is CodeConflict, ctx ending before the step is decided, a
	// storage failure), nothing is written. progress, if not nil, is told
	// how many problems are written so far.
	CreateProblems(ctx context.Context, count int, next func(i int, n uint64) (BatchRecord, error), progress func(done int)) error
}

// BatchRecord is one problem of BatchCreator.CreateProblems.
type BatchRecord struct {
	DedupeKey string
	Problem   *Problem
	Entries   []Entry
}

// Check is what a store checks of a record built for problem number n: its
// id, and entries whose versions start at 1, rise one at a time (several
// entries of one command share one) and end at the record's.
func (r *BatchRecord) Check(n uint64) error {
	p := r.Problem
	switch {
	case p == nil:
		return fmt.Errorf("no problem built for number %d", n)
	case p.ID != ProblemID(n):
		return fmt.Errorf("problem %q built for number %d", p.ID, n)
	case len(r.Entries) == 0 || r.Entries[0].Version != 1 || r.Entries[len(r.Entries)-1].Version != p.Version:
		return fmt.Errorf("problem %d built at version %d with entries that do not lead there", n, p.Version)
	}
	for i := 1; i < len(r.Entries); i++ {
		if v, prev := r.Entries[i].Version, r.Entries[i-1].Version; v != prev && v != prev+1 {
			return fmt.Errorf("problem %d built with entry versions %d then %d", n, prev, v)
		}
	}
	return nil
}

// BatchItem is one problem of Service.CreateProblems: logged as New, then
// assigned with Assign when it is not nil.
type BatchItem struct {
	New    NewProblem
	Assign *Params
}

// CreateProblems logs count problems at once as actor a (the bureau, or the
// system actor), all or nothing: items(i) gives the i-th (called once each,
// in order), done(i, p), if not nil, learns the problem it became. Each is
// checked as CreateProblem and, with Assign, the assign trigger would check
// it, and recorded as they would record it (create, then assign, at the
// same time); the first refusal aborts the whole, naming the item. A dedupe
// key already used is CodeConflict, and nothing is written. The store must
// be a BatchCreator.
func (s *Service) CreateProblems(ctx context.Context, a Actor, count int, items func(i int) (BatchItem, error),
	done func(i int, p *Problem), progress func(written int)) error {
	if err := canCreate(a); err != nil {
		return err
	}
	bc, ok := s.store.(BatchCreator)
	if !ok {
		return fmt.Errorf("workflow: the store %T cannot create problems in one step", s.store)
	}
	wps, err := s.store.WorkPoints(ctx)
	if err != nil {
		return err
	}
	known := make(map[int]bool, len(wps))
	for _, wp := range wps {
		known[wp.Number] = true
	}
	now := s.clock.Now()
	pol, cal := s.Policy(), s.Calendar()
	return bc.CreateProblems(ctx, count, func(i int, n uint64) (BatchRecord, error) {
		it, err := items(i)
		if err != nil {
			return BatchRecord{}, err
		}
		rec, err := s.buildBatchRecord(ctx, a, it, n, now, known, cal, pol)
		if err != nil {
			return BatchRecord{}, fmt.Errorf("problem %d of %d: %w", i+1, count, err)
		}
		if done != nil {
			done(i, rec.Problem)
		}
		return rec, nil
	}, progress)
}

// buildBatchRecord decides one item of CreateProblems as problem number n.
func (s *Service) buildBatchRecord(ctx context.Context, a Actor, it BatchItem, n uint64, now time.Time,
	known map[int]bool, cal *Calendar, pol Policy) (BatchRecord, error) {
	in := it.New
	if err := in.Validate(); err != nil {
		return BatchRecord{}, err
	}
	if err := s.unitRefs(ctx, &in.CountyID); err != nil {
		return BatchRecord{}, err
	}
	county, err := s.Unit(ctx, in.CountyID)
	if err != nil || (county.Kind != UnitCounty && county.Kind != UnitZone && county.Kind != UnitCity) {
		return BatchRecord{}, RefuseField(ReasonNotCounty, "county_id", "county_id %q is not a county, city, district or zone (or the city itself, for a city-wide problem)", in.CountyID)
	}
	if in.WorkPoint != 0 && !known[in.WorkPoint] {
		return BatchRecord{}, RefuseField(ReasonUnknownWorkPoint, "work_point", "unknown work point %d", in.WorkPoint)
	}
	pos, err := positionOf(in.Position)
	if err != nil {
		return BatchRecord{}, err
	}
	e := Entry{At: now, Actor: a, Action: ActionCreate, To: StateFound, Version: 1, Params: Params{
		Title: in.Title, Description: in.Description, Source: in.Source, SourceRef: in.SourceRef,
		CountyID: in.CountyID, WorkPoint: in.WorkPoint, Location: in.Location, DedupeKey: in.DedupeKey,
		Position: pos,
	}}
	p := newFromEntry(n, &e)
	p.CooperatingUnits = []string{}
	p.Version = 1
	entries := []Entry{e}
	if it.Assign != nil {
		prm := *it.Assign
		if err := ValidateParams(TriggerAssign, &prm); err != nil {
			return BatchRecord{}, err
		}
		if err := s.checkUnits(ctx, &prm); err != nil {
			return BatchRecord{}, err
		}
		prm.Evidence, prm.Signature, prm.Warnings = nil, nil, nil
		prm.Position, prm.SiteCheck, prm.Lookback = nil, nil, nil
		ae, err := s.triggerDecision(ctx, a, TriggerAssign, prm, now)(p)
		if err != nil {
			return BatchRecord{}, err
		}
		assigned := step(p, ae, cal, pol)
		p.Version = 2
		for i := range assigned {
			assigned[i].Version = 2
		}
		entries = append(entries, assigned...)
	}
	return BatchRecord{DedupeKey: in.DedupeKey, Problem: p, Entries: entries}, nil
}
