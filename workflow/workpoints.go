package workflow

import (
	"context"
	"slices"
	"strings"
	"time"
)

// Duties a work point gives its units, as the plan words them.
const (
	DutyLead        = "lead"        // 牵头
	DutyResponsible = "responsible" // 负责
	DutyCooperating = "cooperating" // 配合
)

// Duties lists the duties.
var Duties = []string{DutyLead, DutyResponsible, DutyCooperating}

// UnitGroup is a group of units a work point names without saying which
// (有关县（市、区）政府负责, 市直有关部门配合): kept as written, unresolved,
// until the bureau names the units it stands for (Service.ResolveUnitGroup).
type UnitGroup struct {
	// Name is the group as the plan writes it.
	Name string `json:"name"`
	// Duty is what the plan asks of it: DutyResponsible, DutyCooperating.
	Duty string `json:"duty"`
	// Kinds are the kinds of unit it can stand for (the counties for
	// 有关县（市、区）政府).
	Kinds []UnitKind `json:"kinds"`
	// Units are the units the bureau named; none while unresolved.
	Units []string `json:"units,omitempty"`
	// Who resolved it, and when.
	ResolvedBy   string     `json:"resolved_by,omitempty"`
	ResolverName string     `json:"resolver_name,omitempty"`
	ResolvedAt   *time.Time `json:"resolved_at,omitempty"`
}

// Resolved reports whether the bureau has named the group's units.
func (g UnitGroup) Resolved() bool { return len(g.Units) > 0 }

// Unresolved returns the names of wp's groups the bureau has not resolved.
func (wp WorkPoint) Unresolved() []string {
	var out []string
	for _, g := range wp.UnitGroups {
		if !g.Resolved() {
			out = append(out, g.Name)
		}
	}
	return out
}

// Units returns every unit wp charges: lead, responsible, cooperating and
// the resolved groups' units, each once, in that order.
func (wp WorkPoint) Units() []string {
	var out []string
	add := func(ids []string) {
		for _, id := range ids {
			if !slices.Contains(out, id) {
				out = append(out, id)
			}
		}
	}
	add(wp.LeadUnits)
	add(wp.ResponsibleUnits)
	add(wp.CooperatingUnits)
	for _, g := range wp.UnitGroups {
		add(g.Units)
	}
	return out
}

// Validate checks wp's own fields; unit ids are checked against the ledger's
// units by the caller.
func (wp WorkPoint) Validate() error {
	if wp.Number <= 0 || strings.TrimSpace(wp.Title) == "" {
		return RefuseField(ReasonRequired, "work_points", "a work point needs a positive number and a title")
	}
	for i, g := range wp.UnitGroups {
		switch {
		case strings.TrimSpace(g.Name) == "":
			return RefuseField(ReasonRequired, "unit_groups", "work point %d: unit group %d has no name", wp.Number, i+1)
		case g.Duty != DutyResponsible && g.Duty != DutyCooperating && g.Duty != DutyLead:
			return RefuseField(ReasonUnknownValue, "unit_groups", "work point %d: group %s has unknown duty %q; one of %v", wp.Number, g.Name, g.Duty, Duties)
		case len(g.Kinds) == 0:
			return RefuseField(ReasonRequired, "unit_groups", "work point %d: group %s names no kind of unit", wp.Number, g.Name)
		}
		for _, k := range g.Kinds {
			if !k.Valid() {
				return RefuseField(ReasonUnknownValue, "unit_groups", "work point %d: group %s: unknown kind %q", wp.Number, g.Name, k)
			}
		}
		for _, other := range wp.UnitGroups[:i] {
			if other.Name == g.Name {
				return RefuseField(ReasonBadConfig, "unit_groups", "work point %d names group %s twice", wp.Number, g.Name)
			}
		}
	}
	for i, t := range wp.Targets {
		switch {
		case strings.TrimSpace(t.Name) == "":
			return RefuseField(ReasonRequired, "targets", "work point %d: target %d has no name", wp.Number, i+1)
		case slices.ContainsFunc(wp.Targets[:i], func(o Target) bool { return o.Name == t.Name }):
			return RefuseField(ReasonBadConfig, "targets", "work point %d names target %s twice", wp.Number, t.Name)
		}
	}
	return nil
}

// resolverRoles may resolve unit groups.
var resolverRoles = []Role{RoleBureau}

// MayResolveUnitGroups reports whether a may resolve work points' unit
// groups (ResolveUnitGroup).
func (s *Service) MayResolveUnitGroups(a Actor) bool { return hasRole(a, resolverRoles) }

// ResolveUnitGroup records which units group name of work point number
// stands for, as the bureau decides it: units are ids or exact Chinese
// names, at least one, each of a kind the group can stand for. A group
// resolved already is resolved again (the new list replaces the old). It
// returns the work point as stored.
func (s *Service) ResolveUnitGroup(ctx context.Context, a Actor, number int, name string, units []string) (*WorkPoint, error) {
	if err := needRole("resolve unit groups", a, resolverRoles...); err != nil {
		return nil, err
	}
	if len(units) == 0 {
		return nil, RefuseField(ReasonRequired, "units", "name at least one unit the group stands for")
	}
	ids := slices.Clone(units)
	for i := range ids {
		if err := s.unitRefs(ctx, &ids[i]); err != nil {
			return nil, err
		}
	}
	// One resolution at a time: the work point is read, changed and written
	// whole.
	s.wpMu.Lock()
	defer s.wpMu.Unlock()
	wps, err := s.store.WorkPoints(ctx)
	if err != nil {
		return nil, err
	}
	i := slices.IndexFunc(wps, func(wp WorkPoint) bool { return wp.Number == number })
	if i < 0 {
		return nil, Refuse(ReasonWorkPointNotFound, "work point %d not found", number)
	}
	wp := wps[i]
	j := slices.IndexFunc(wp.UnitGroups, func(g UnitGroup) bool { return g.Name == name })
	if j < 0 {
		return nil, Refuse(ReasonUnitGroupNotFound, "work point %d has no unit group %q", number, name)
	}
	g := wp.UnitGroups[j]
	for k, id := range ids {
		u, err := s.Unit(ctx, id)
		if err != nil {
			return nil, RefuseField(ReasonUnknownUnit, "units", "unknown unit %q", units[k])
		}
		if !slices.Contains(g.Kinds, u.Kind) {
			return nil, RefuseField(ReasonNotInGroup, "units", "%s (%s) is not a unit the group %s can stand for (%v)", u.Name, u.Kind, g.Name, g.Kinds)
		}
		if slices.Contains(ids[:k], id) {
			return nil, RefuseField(ReasonUnitListedTwice, "units", "unit %s is listed twice", u.Name)
		}
	}
	now := s.clock.Now()
	g.Units, g.ResolvedBy, g.ResolverName, g.ResolvedAt = ids, a.ID, a.Name, &now
	wp.UnitGroups = slices.Clone(wp.UnitGroups)
	wp.UnitGroups[j] = g
	if err := s.store.PutWorkPoints(ctx, []WorkPoint{wp}); err != nil {
		return nil, err
	}
	return &wp, nil
}
