package seeds

import (
	"context"
	"fmt"
	"reflect"
	"time"

	"github.com/jdz-eco/rectify/workflow"
)

// Report says what Load did.
type Report struct {
	Units            int `json:"units"`              // units upserted
	WorkPoints       int `json:"work_points"`        // work points in the seed data
	WorkPointsStored int `json:"work_points_stored"` // of them, those written: new, or changed since the last load
	ProblemsCreated  int `json:"problems_created"`   // problems logged by this run
	ProblemsSkipped  int `json:"problems_skipped"`   // problems found already logged (by their dedupe key)
	ProblemsAssigned int `json:"problems_assigned"`  // problems this run assigned (lead unit and deadline from the document)
}

// String says what Load did in a sentence.
func (r Report) String() string {
	s := fmt.Sprintf("seed data of %s: %s stored, %s", DocumentRef, plural(r.Units, "unit"), plural(r.WorkPoints, "work point"))
	switch r.WorkPointsStored {
	case 0:
		s += " as stored already"
	case r.WorkPoints:
		s += " stored"
	default:
		s += fmt.Sprintf(" (%d of them brought up to date)", r.WorkPointsStored)
	}
	switch {
	case r.ProblemsCreated == 0 && r.ProblemsSkipped == 0:
		s += "; no problems"
	case r.ProblemsCreated == 0:
		s += fmt.Sprintf("; the %s it names were logged already and are left as they are", plural(r.ProblemsSkipped, "problem"))
	default:
		s += fmt.Sprintf("; %s logged", plural(r.ProblemsCreated, "problem"))
		if r.ProblemsSkipped > 0 {
			s += fmt.Sprintf(" (%d more were logged already and are left as they are)", r.ProblemsSkipped)
		}
	}
	if r.ProblemsAssigned > 0 {
		s += fmt.Sprintf(", %d of them assigned as the document says", r.ProblemsAssigned)
	}
	return s + "."
}

// plural is n and noun, with an s unless n is 1.
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// SystemActor is the actor the loader records in history: the server itself,
// acting as the city bureau.
func SystemActor() workflow.Actor {
	return workflow.Actor{ID: "system", Name: "种子数据", Role: workflow.RoleSystem, UnitID: BureauUnitID}
}

// Load writes the seed data through svc, idempotently. Units are upserted.
// Work points are written where they are new or differ from the stored ones
// (a database seeded with an earlier reading of the plan is brought up to
// this one), keeping the units the bureau named for a unit group of the same
// name. Each problem is created with its dedupe key; one that exists
// already is skipped and left as it is, so the bureau's later changes are never
// overwritten. A problem the document gives a lead unit and a deadline is
// assigned right after it is created; if an earlier run created it but stopped
// before assigning it (it is still found at version 1, untouched), this run
// assigns it. History times come from svc's clock.
func Load(ctx context.Context, svc *workflow.Service) (Report, error) {
	d, err := embedded()
	if err != nil {
		return Report{}, err
	}
	return load(ctx, svc, d)
}

func load(ctx context.Context, svc *workflow.Service, d *dataset) (Report, error) {
	var r Report
	units := make([]workflow.Unit, len(d.units))
	for i, u := range d.units {
		units[i] = u.Unit
	}
	if err := svc.PutUnits(ctx, units); err != nil {
		return r, fmt.Errorf("seeds: units: %w", err)
	}
	r.Units = len(units)

	wps := make([]workflow.WorkPoint, len(d.workPoints))
	for i, w := range d.workPoints {
		wps[i] = w.Stored()
	}
	stored, err := svc.WorkPoints(ctx)
	if err != nil {
		return r, fmt.Errorf("seeds: work points: %w", err)
	}
	if changed := changedWorkPoints(wps, stored); len(changed) > 0 {
		if err := svc.PutWorkPoints(ctx, changed); err != nil {
			return r, fmt.Errorf("seeds: work points: %w", err)
		}
		r.WorkPointsStored = len(changed)
	}
	r.WorkPoints = len(wps)

	// The plan's problems are logged as of the day it was issued, so their
	// codes and history carry that date (JDZ-2021-…), whatever the day the
	// database is seeded; supervision catches up on the next scan.
	svc, err = asIssued(ctx, svc)
	if err != nil {
		return r, err
	}
	actor := SystemActor()
	for _, sp := range d.problems {
		p, created, err := svc.CreateProblem(ctx, actor, sp.NewProblem())
		if err != nil {
			return r, fmt.Errorf("seeds: problem %s: %w", sp.Key, err)
		}
		if created {
			r.ProblemsCreated++
		} else {
			r.ProblemsSkipped++
		}
		prm, assign, err := sp.Assignment()
		if err != nil {
			return r, err
		}
		// Assign what this run created, or what an interrupted run created and
		// nobody has touched since; never re-assign anything else.
		if !assign || p.State != workflow.StateFound || (!created && p.Version != 1) {
			continue
		}
		_, err = svc.Fire(ctx, actor, p.ID, workflow.Command{Trigger: workflow.TriggerAssign, Params: prm, IfVersion: p.Version})
		switch code := workflow.ErrorCode(err); {
		case err == nil:
			r.ProblemsAssigned++
		case !created && (code == workflow.CodePreconditionFailed || code == workflow.CodeConflict):
			// Someone changed it meanwhile: theirs wins.
		default:
			return r, fmt.Errorf("seeds: assign problem %s (%s): %w", p.ID, sp.Key, err)
		}
	}
	return r, nil
}

// changedWorkPoints returns the seed work points that differ from the
// stored ones of the same number, or are not stored, each carrying the
// stored resolution of a unit group of the same name: what the bureau
// decided is kept.
func changedWorkPoints(seed, stored []workflow.WorkPoint) []workflow.WorkPoint {
	old := map[int]workflow.WorkPoint{}
	for _, wp := range stored {
		old[wp.Number] = wp
	}
	var out []workflow.WorkPoint
	for _, wp := range seed {
		prev, ok := old[wp.Number]
		for i, g := range wp.UnitGroups {
			for _, pg := range prev.UnitGroups {
				if pg.Name == g.Name && pg.Resolved() {
					g.Units, g.ResolvedBy, g.ResolverName, g.ResolvedAt = pg.Units, pg.ResolvedBy, pg.ResolverName, pg.ResolvedAt
				}
			}
			wp.UnitGroups[i] = g
		}
		if !ok || !reflect.DeepEqual(prev, wp) {
			out = append(out, wp)
		}
	}
	return out
}

// Issued is when the plan was issued: 9:00 on DocumentDate, Asia/Shanghai.
func Issued() time.Time {
	t, err := time.ParseInLocation(time.DateOnly, DocumentDate, workflow.Shanghai)
	if err != nil {
		panic(err)
	}
	return t.Add(9 * time.Hour).UTC()
}

// asIssued returns a service on svc's store whose clock stands at Issued, with
// svc's policy and the shipped calendars. A service already at or before that
// time (tests replaying 2021) is used as it is.
func asIssued(ctx context.Context, svc *workflow.Service) (*workflow.Service, error) {
	if !svc.Clock().Now().After(Issued()) {
		return svc, nil
	}
	doc := workflow.NewService(svc.Store(), workflow.NewManualClock(Issued()))
	if err := doc.SetPolicy(svc.Policy()); err != nil {
		return nil, err
	}
	if err := doc.LoadCalendars(ctx, Calendars()); err != nil {
		return nil, fmt.Errorf("seeds: calendars: %w", err)
	}
	return doc, nil
}
