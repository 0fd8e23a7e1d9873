package workflow

import "context"

// ActionPosition is the history action of the bureau setting (or clearing)
// a problem's coordinates after its creation.
const ActionPosition = "position"

// PositionInput is a position as a caller gives it: latitude and
// longitude in Datum ("" or "wgs84"; "gcj02" for the coordinates of
// Chinese web maps, converted to WGS-84).
type PositionInput struct {
	Lat   *float64 `json:"lat"`
	Lng   *float64 `json:"lng"`
	Datum Datum    `json:"datum,omitempty"`
}

// LatLng returns the WGS-84 position of in, refusing a missing or
// out-of-range coordinate or an unknown datum (CodeInvalid).
func (in *PositionInput) LatLng() (LatLng, error) {
	switch {
	case in.Lat == nil:
		return LatLng{}, RefuseField(ReasonRequired, "lat", "lat is required with a position")
	case in.Lng == nil:
		return LatLng{}, RefuseField(ReasonRequired, "lng", "lng is required with a position")
	}
	return NewLatLng(*in.Lat, *in.Lng, in.Datum)
}

// positionOf converts an optional input.
func positionOf(in *PositionInput) (*LatLng, error) {
	if in == nil {
		return nil, nil
	}
	p, err := in.LatLng()
	if err != nil {
		return nil, err
	}
	return &p, nil
}

// SetPosition sets problem id's coordinates (nil clears them): the bureau,
// in any state; recorded as an ActionPosition entry.
func (s *Service) SetPosition(ctx context.Context, a Actor, id string, in *PositionInput, ifVersion uint64) (*Problem, error) {
	pos, err := positionOf(in)
	if err != nil {
		return nil, err
	}
	now := s.clock.Now()
	return s.command(ctx, a, id, ifVersion, func(p *Problem) (Entry, error) {
		// After the visibility check of command: a problem the caller may
		// not see stays not found.
		if a.Role != RoleBureau {
			return Entry{}, Refuse(ReasonRole, "only the bureau may set a problem's position")
		}
		return Entry{At: now, Actor: a, Action: ActionPosition, From: p.State, To: p.State, Params: Params{Position: pos}}, nil
	})
}
