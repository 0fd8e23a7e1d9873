package workflow

import (
	"context"
	"slices"
	"strconv"
	"time"
)

// Statuses of an expected report on a round's board.
const (
	ReportOnTime  = "on_time" // 按时报送: filed by the due time
	ReportLate    = "late"    // 逾期报送: first filed after it
	ReportMissing = "missing" // 未报送 (逾期未报送 once the round is due)
)

// RoundRow is one expected report on a round's board.
type RoundRow struct {
	Item   RoundItem `json:"item"`
	Status string    `json:"status"`
	// Report is the latest report (amendments replace what it says);
	// FirstAt when the first came; Reports how many were filed.
	Report  *Entry     `json:"report,omitempty"`
	FirstAt *time.Time `json:"first_at,omitempty"`
	Reports int        `json:"reports"`
	// Alerted: the report_late alert was recorded.
	Alerted bool `json:"alerted"`
}

// RoundTally counts a group of a round's expected reports (a unit, a work
// point, or all): Reported were filed (Late of them after the due time),
// Missing were not; Expected = Reported + Missing.
type RoundTally struct {
	Key      string `json:"key"`   // the unit id or work point number; "" for the total
	Label    string `json:"label"` // its Chinese name
	Expected int    `json:"expected"`
	Reported int    `json:"reported"`
	Late     int    `json:"late"`
	Missing  int    `json:"missing"`
}

func (t *RoundTally) add(row *RoundRow) {
	t.Expected++
	switch row.Status {
	case ReportMissing:
		t.Missing++
	case ReportLate:
		t.Reported++
		t.Late++
	default:
		t.Reported++
	}
}

// RoundBoard is a round as a caller sees it at At: the rows it may see (a
// unit: its own), tallied per unit and per work point.
type RoundBoard struct {
	Round *Round       `json:"round"`
	At    time.Time    `json:"at"`
	Due   bool         `json:"due"` // the due time has passed
	Rows  []RoundRow   `json:"rows"`
	Units []RoundTally `json:"units"`
	// Points tallies the work points' reports (none in a round of problems).
	Points []RoundTally `json:"points"`
	Total  RoundTally   `json:"total"`
}

// Round returns round id with the items a may see: a unit officer those its
// unit owes (a round that asks nothing of it is not found), other roles all.
func (s *Service) Round(ctx context.Context, a Actor, id string) (*Round, error) {
	rs, err := s.rounds()
	if err != nil {
		return nil, err
	}
	r, err := s.wholeRound(ctx, rs, a, id)
	if err != nil {
		return nil, err
	}
	if a.Role == RoleUnit {
		r.Items = slices.DeleteFunc(r.Items, func(it RoundItem) bool { return it.Unit != a.UnitID })
	}
	return r, nil
}

// wholeRound returns round id with all its items if a may see it at all.
func (s *Service) wholeRound(ctx context.Context, rs Rounds, a Actor, id string) (*Round, error) {
	if _, ok := ParseRoundID(id); !ok {
		return nil, roundNotFound(id)
	}
	r, err := rs.Round(ctx, id)
	if err != nil {
		return nil, err
	}
	if a.Role == RoleUnit && !r.Involves(a.UnitID) || a.Role != RoleUnit && !CanSee(a, &Problem{}) {
		return nil, roundNotFound(id)
	}
	return r, nil
}

func roundNotFound(id string) error {
	return Refuse(ReasonRoundNotFound, "dispatch round %s not found", id)
}

// Rounds lists the rounds a may see, newest first, without items: a unit
// officer those that ask its unit for a report.
func (s *Service) Rounds(ctx context.Context, a Actor) ([]*Round, error) {
	rs, err := s.rounds()
	if err != nil {
		return nil, err
	}
	heads, err := rs.Rounds(ctx)
	if err != nil {
		return nil, err
	}
	out := []*Round{}
	if !CanSee(a, &Problem{}) && a.Role != RoleUnit {
		return out, nil
	}
	for i := len(heads) - 1; i >= 0; i-- {
		h := heads[i]
		if a.Role == RoleUnit {
			r, err := rs.Round(ctx, h.ID)
			if err != nil {
				return nil, err
			}
			if !r.Involves(a.UnitID) {
				continue
			}
		}
		out = append(out, h)
	}
	return out, nil
}

// RoundBoard returns round id's board as a may see it now.
func (s *Service) RoundBoard(ctx context.Context, a Actor, id string) (*RoundBoard, error) {
	r, err := s.Round(ctx, a, id)
	if err != nil {
		return nil, err
	}
	rs, _ := s.rounds()
	entries, err := rs.RoundEntries(ctx, id, "")
	if err != nil {
		return nil, err
	}
	units, err := s.unitMap(ctx, false)
	if err != nil {
		return nil, err
	}
	return buildBoard(r, entries, s.clock.Now(), units), nil
}

// buildBoard tallies r's items (those it holds) from its entries at now.
func buildBoard(r *Round, entries []Entry, now time.Time, units map[string]Unit) *RoundBoard {
	b := &RoundBoard{Round: r, At: now, Due: now.After(r.Due), Rows: make([]RoundRow, len(r.Items)),
		Units: []RoundTally{}, Points: []RoundTally{}, Total: RoundTally{Label: LabelTotal}}
	rows := map[string]*RoundRow{}
	for i, it := range r.Items {
		b.Rows[i] = RoundRow{Item: it, Status: ReportMissing}
		rows[it.Key()] = &b.Rows[i]
	}
	for i := range entries {
		e := &entries[i]
		_, key, ok := RoundRef(e)
		row := rows[key]
		if !ok || row == nil {
			continue
		}
		switch {
		case e.Action == ActionReport:
			if row.FirstAt == nil {
				at := e.At
				row.FirstAt = &at
				row.Status = ReportOnTime
				if e.Params.Late {
					row.Status = ReportLate
				}
			}
			row.Report = e
			row.Reports++
		case e.Params.Level == AlertReportLate:
			row.Alerted = true
		}
	}
	byUnit := map[string]*RoundTally{}
	byPoint := map[int]*RoundTally{}
	for i := range b.Rows {
		row := &b.Rows[i]
		b.Total.add(row)
		u := row.Item.Unit
		if byUnit[u] == nil {
			label := u
			if x, ok := units[u]; ok {
				label = x.Name
			}
			byUnit[u] = &RoundTally{Key: u, Label: label}
		}
		byUnit[u].add(row)
		if n := row.Item.WorkPoint; n > 0 {
			if byPoint[n] == nil {
				byPoint[n] = &RoundTally{Key: strconv.Itoa(n), Label: row.Item.Title}
			}
			byPoint[n].add(row)
		}
	}
	for _, u := range sortedUnits(r.Items) {
		b.Units = append(b.Units, *byUnit[u])
	}
	for _, it := range r.Items {
		if t := byPoint[it.WorkPoint]; t != nil {
			b.Points = append(b.Points, *t)
			delete(byPoint, it.WorkPoint)
		}
	}
	return b
}

// WorkPointHistory returns work point n's history (its reports and
// report_late alerts in rounds) as a may see it: a unit officer the
// entries of its own unit, other roles all.
func (s *Service) WorkPointHistory(ctx context.Context, a Actor, n int) ([]Entry, error) {
	if _, err := s.workPoint(ctx, n); err != nil {
		return nil, err
	}
	rs, ok := s.store.(Rounds)
	if !ok {
		return []Entry{}, nil
	}
	if !CanSee(a, &Problem{}) && a.Role != RoleUnit {
		return []Entry{}, nil
	}
	hist, err := rs.WorkPointHistory(ctx, n)
	if err != nil {
		return nil, err
	}
	if a.Role == RoleUnit {
		hist = slices.DeleteFunc(hist, func(e Entry) bool { return e.Params.Unit != a.UnitID })
	}
	return hist, nil
}
