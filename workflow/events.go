package workflow

import "context"

// Events reads up to limit outbox events after seq and returns those actor a
// may see, with the seq to poll after next time (the last one read, seen or
// not). A unit officer gets only events of problems its unit leads or
// cooperates in (as they stand now) and the entries of work points for its
// unit; other roles get all.
func (s *Service) Events(ctx context.Context, a Actor, after uint64, limit int) ([]Event, uint64, error) {
	if limit > MaxEventLimit {
		return nil, after, RefuseField(ReasonOutOfRange, "limit", "limit must be at most %d", MaxEventLimit)
	}
	limit = EventLimit(limit)
	if !CanSee(a, &Problem{}) && a.Role != RoleUnit {
		return []Event{}, after, nil
	}
	evs, err := s.store.Events(ctx, after, limit)
	if err != nil {
		return nil, after, err
	}
	next := after
	if len(evs) > 0 {
		next = evs[len(evs)-1].Seq
	}
	if a.Role != RoleUnit {
		return evs, next, nil
	}
	visible := map[string]bool{}
	out := []Event{}
	for _, ev := range evs {
		id := ev.Entry.ProblemID
		if id == "" {
			// A work point's entry: its unit's; a round's opening: none.
			if ev.Entry.WorkPoint > 0 && ev.Entry.Params.Unit == a.UnitID {
				out = append(out, ev)
			}
			continue
		}
		ok, seen := visible[id]
		if !seen {
			p, err := s.store.Problem(ctx, id)
			if err != nil && ErrorCode(err) != CodeNotFound {
				return nil, after, err
			}
			ok = err == nil && CanSee(a, p)
			visible[id] = ok
		}
		if ok {
			out = append(out, ev)
		}
	}
	return out, next, nil
}
