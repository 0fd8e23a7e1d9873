package workflow

import (
	"context"
	"fmt"
	"time"
)

// CaseFile is what a problem's case file (一案一档) holds: the record, its
// whole history (every kind of entry, whatever later features add), its
// evidence and sign-offs (in the record), the names of the units it names,
// and the chain head when it was made. workflow/dossier writes it as a zip
// that `rectify audit verify-dossier` checks offline
// (docs/design.md#the-case-file).
type CaseFile struct {
	Problem    *Problem          `json:"problem"`
	History    []Entry           `json:"history"`
	Units      map[string]string `json:"units"` // id → name of every unit the record or history names
	Head       ChainHead         `json:"head"`
	ExportedAt time.Time         `json:"exported_at"`
	ExportedBy Actor             `json:"exported_by"`
}

// CaseFile gathers problem id's case file for a, who must see the problem
// (else it is not found). The record is the replay of the history read, so
// the two agree even while the problem changes; the head is read after the
// history, so it covers every entry of it.
func (s *Service) CaseFile(ctx context.Context, a Actor, id string) (*CaseFile, error) {
	hist, err := s.History(ctx, a, id)
	if err != nil {
		return nil, err
	}
	for _, e := range hist {
		if e.Hash == "" {
			return nil, fmt.Errorf("case file of %s: entry of version %d is not sealed yet", id, e.Version)
		}
	}
	p, err := Replay(hist)
	if err != nil {
		return nil, fmt.Errorf("case file of %s: %w", id, err)
	}
	head, err := s.DocumentHead(ctx)
	if err != nil {
		return nil, err
	}
	units, err := s.unitMap(ctx, false)
	if err != nil {
		return nil, err
	}
	names := map[string]string{}
	name := func(id string) {
		if u, ok := units[id]; ok && id != "" {
			names[id] = u.Name
		}
	}
	name(p.CountyID)
	name(p.LeadUnit)
	for _, u := range p.CooperatingUnits {
		name(u)
	}
	for _, e := range hist {
		name(e.Actor.UnitID)
		name(e.Params.LeadUnit)
		name(e.Params.Unit)
		name(e.Params.CountyID)
		for _, u := range e.Params.CooperatingUnits {
			name(u)
		}
	}
	return &CaseFile{Problem: p, History: hist, Units: names, Head: head,
		ExportedAt: s.clock.Now().UTC().Truncate(time.Second), ExportedBy: a}, nil
}
