package workflow

import (
	"context"
	"maps"
	"slices"
	"strings"
)

// Units returns every unit, ordered by ID.
func (s *Service) Units(ctx context.Context) ([]Unit, error) {
	m, err := s.unitMap(ctx, false)
	if err != nil {
		return nil, err
	}
	out := slices.Collect(maps.Values(m))
	slices.SortFunc(out, func(a, b Unit) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// Unit returns unit id, or CodeNotFound.
func (s *Service) Unit(ctx context.Context, id string) (Unit, error) {
	m, err := s.unitMap(ctx, false)
	if err != nil {
		return Unit{}, err
	}
	u, ok := m[id]
	if !ok {
		// Another process (rectify seed, a second replica) may have added it.
		if m, err = s.unitMap(ctx, true); err != nil {
			return Unit{}, err
		}
		if u, ok = m[id]; !ok {
			return Unit{}, Refuse(ReasonUnitNotFound, "unit %q not found", id)
		}
	}
	return u, nil
}

// FindUnit returns the unit whose ID or exact Chinese name is ref.
func (s *Service) FindUnit(ctx context.Context, ref string) (Unit, error) {
	if u, err := s.Unit(ctx, ref); err == nil {
		return u, nil
	}
	m, err := s.unitMap(ctx, false)
	if err != nil {
		return Unit{}, err
	}
	for _, u := range m {
		if u.Name == ref {
			return u, nil
		}
	}
	return Unit{}, Refuse(ReasonUnitNotFound, "no unit has id or name %q", ref)
}

// unitRef returns the id of the unit ref names, by its id or its exact
// Chinese name, so that every command and filter takes either: ref itself
// when no unit has that id or name (the caller's check refuses it, or a
// filter matches nothing) or when it is empty.
func (s *Service) unitRef(ctx context.Context, ref string) (string, error) {
	if ref == "" {
		return ref, nil
	}
	u, err := s.FindUnit(ctx, ref)
	switch {
	case err == nil:
		return u.ID, nil
	case ErrorCode(err) == CodeNotFound:
		return ref, nil
	}
	return "", err
}

// unitRefs applies unitRef to each of refs, in place.
func (s *Service) unitRefs(ctx context.Context, refs ...*string) error {
	for _, r := range refs {
		id, err := s.unitRef(ctx, *r)
		if err != nil {
			return err
		}
		*r = id
	}
	return nil
}

// PutUnits validates and stores units, replacing those with the same ID.
func (s *Service) PutUnits(ctx context.Context, units []Unit) error {
	for _, u := range units {
		if u.ID == "" || u.Name == "" {
			return RefuseField(ReasonRequired, "units", "a unit needs an id and a name")
		}
		if err := CheckText("units", u.ID+u.Name+u.Parent); err != nil {
			return err
		}
		if !u.Kind.Valid() {
			return RefuseField(ReasonUnknownValue, "kind", "unit %s has unknown kind %q", u.ID, u.Kind)
		}
	}
	if err := s.store.PutUnits(ctx, units); err != nil {
		return err
	}
	s.mu.Lock()
	s.units = nil
	s.mu.Unlock()
	return nil
}

func (s *Service) unitMap(ctx context.Context, reload bool) (map[string]Unit, error) {
	s.mu.RLock()
	m := s.units
	s.mu.RUnlock()
	if m != nil && !reload {
		return m, nil
	}
	list, err := s.store.Units(ctx)
	if err != nil {
		return nil, err
	}
	m = make(map[string]Unit, len(list))
	for _, u := range list {
		m[u.ID] = u
	}
	s.mu.Lock()
	s.units = m
	s.mu.Unlock()
	return m, nil
}

// WorkPoints returns the work points of the plan, ordered by number.
func (s *Service) WorkPoints(ctx context.Context) ([]WorkPoint, error) {
	return s.store.WorkPoints(ctx)
}

// PutWorkPoints validates and stores work points, replacing those with the
// same number. Every unit they name must exist.
func (s *Service) PutWorkPoints(ctx context.Context, wps []WorkPoint) error {
	for _, wp := range wps {
		if err := wp.Validate(); err != nil {
			return err
		}
		for _, id := range wp.Units() {
			if _, err := s.Unit(ctx, id); err != nil {
				return RefuseField(ReasonUnknownUnit, "work_points", "work point %d names unknown unit %q", wp.Number, id)
			}
		}
	}
	s.wpMu.Lock()
	defer s.wpMu.Unlock()
	return s.store.PutWorkPoints(ctx, wps)
}

func (s *Service) checkWorkPoint(ctx context.Context, n int) error {
	wps, err := s.store.WorkPoints(ctx)
	if err != nil {
		return err
	}
	for _, wp := range wps {
		if wp.Number == n {
			return nil
		}
	}
	return RefuseField(ReasonUnknownWorkPoint, "work_point", "unknown work point %d", n)
}
