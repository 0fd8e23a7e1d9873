package workflow

import (
	"context"
	"fmt"
	"slices"
	"time"
	"unicode/utf8"
)

// ActionSiteCheck is the history action of an inspector's site check
// (现场核查) of a submission.
const ActionSiteCheck = "site_check"

// SiteCheckResult is what an inspector found on site.
type SiteCheckResult string

// Site-check results.
const (
	SiteCheckPassed SiteCheckResult = "passed" // 整改到位
	SiteCheckFailed SiteCheckResult = "failed" // 整改不到位
)

// SiteCheckResults lists every result.
var SiteCheckResults = []SiteCheckResult{SiteCheckPassed, SiteCheckFailed}

// SiteCheck is an inspector's visit to the site of a submitted problem.
// Its photos are the inspector's site-check photos (PhaseSiteCheck) of the
// round, uploaded before it, which no earlier check holds.
type SiteCheck struct {
	Round    int             `json:"round"` // Problem.EvidenceRound when checked
	By       string          `json:"by"`
	ByName   string          `json:"by_name"`
	At       time.Time       `json:"at"`
	Result   SiteCheckResult `json:"result"`
	Findings string          `json:"findings"`
	Photos   []string        `json:"photos,omitempty"` // SHA-256 of the photos
}

// canAddSitePhoto tells whether inspector a may add a site-check photo to
// p now: while p waits on the inspectors, if a may decide it (the rules of
// reject); permitted are the triggers a may fire, for the refusal.
func canAddSitePhoto(a Actor, p *Problem, permitted []Trigger, sep Separation) error {
	if p.State != StateSubmitted {
		return Refuse(ReasonSiteCheckClosed, "site checks and their photos are recorded only while a submission waits on the inspectors").
			InState(p.State, permitted)
	}
	return authorize(TriggerReject, a, p, sep)
}

// CanSiteCheck tells whether a may record a site check of p now.
func (s *Service) CanSiteCheck(a Actor, p *Problem) error {
	if a.Role != RoleInspector {
		return Refuse(ReasonRole, "only inspectors record site checks")
	}
	return canAddSitePhoto(a, p, s.PermittedTriggers(a, p), s.Policy().Separation)
}

// RecordSiteCheck records inspector a's site check of problem id with its
// result and findings; the inspector's site-check photos of the round not in
// an earlier check become its photos.
func (s *Service) RecordSiteCheck(ctx context.Context, a Actor, id string, result SiteCheckResult, findings string, ifVersion uint64) (*Problem, error) {
	note, err := CleanText("findings", findings)
	if err != nil {
		return nil, err
	}
	switch {
	case !slices.Contains(SiteCheckResults, result):
		return nil, RefuseField(ReasonUnknownValue, "result", "result must be passed or failed")
	case note == "":
		return nil, RefuseField(ReasonRequired, "findings", "a site check needs findings: what was seen on site")
	case utf8.RuneCountInString(note) > MaxText:
		return nil, RefuseField(ReasonTooLong, "findings", "findings are longer than %d characters", MaxText)
	}
	now := s.clock.Now()
	return s.command(ctx, a, id, ifVersion, func(p *Problem) (Entry, error) {
		if err := s.CanSiteCheck(a, p); err != nil {
			return Entry{}, err
		}
		sc := &SiteCheck{Round: p.EvidenceRound, By: a.ID, ByName: a.Name, At: now, Result: result, Findings: note,
			Photos: p.unfiledSitePhotos(a.ID)}
		return Entry{At: now, Actor: a, Action: ActionSiteCheck, From: p.State, To: p.State, Params: Params{SiteCheck: sc}}, nil
	})
}

// unfiledSitePhotos returns the SHA-256 of inspector's site-check photos
// of p's current round that no site check holds yet.
func (p *Problem) unfiledSitePhotos(inspector string) []string {
	filed := map[string]bool{}
	for _, c := range p.SiteChecks {
		for _, sha := range c.Photos {
			filed[sha] = true
		}
	}
	var out []string
	for _, e := range p.Evidence {
		if e.Phase == PhaseSiteCheck && e.UploadedBy == inspector && e.Round == p.EvidenceRound && !filed[e.SHA256] {
			out = append(out, e.SHA256)
		}
	}
	return out
}

// hasSiteCheck reports whether p has a site check of its current round.
func (p *Problem) hasSiteCheck() bool {
	for _, c := range p.SiteChecks {
		if c.Round == p.EvidenceRound {
			return true
		}
	}
	return false
}

// NeedsSiteCheck reports whether verifying p needs a site check first
// under policy c: its source is one of c.SiteCheckSources and no check of
// the current round is recorded.
func (c EvidencePolicy) NeedsSiteCheck(p *Problem) bool {
	return slices.Contains(c.SiteCheckSources, p.Source) && !p.hasSiteCheck()
}

// UnacknowledgedFlags returns the flags on the evidence of the lead or
// cooperating units no verifier has acknowledged yet, in evidence order:
// what a verify must acknowledge.
func (p *Problem) UnacknowledgedFlags() []FlagRef {
	var out []FlagRef
	for _, e := range p.Evidence {
		if e.Phase == PhaseSiteCheck {
			continue
		}
		for _, f := range e.Flags {
			r := FlagRef{SHA256: e.SHA256, Code: f.Code}
			if !slices.Contains(p.Acknowledged, r) && !slices.Contains(out, r) {
				out = append(out, r)
			}
		}
	}
	return out
}

// checkVerify applies the evidence rules of verify to p as it stands: a
// site check where the policy requires one, and every unacknowledged flag
// acknowledged in prm, with a note.
func checkVerify(p *Problem, prm *Params, c EvidencePolicy) error {
	if c.NeedsSiteCheck(p) {
		return Refuse(ReasonNeedsSiteCheck, "problems from %s need a site check of this submission before verify", p.Source).InState(p.State, nil)
	}
	open := p.UnacknowledgedFlags()
	var acks []FlagRef
	for _, r := range prm.AcknowledgedFlags {
		if !slices.Contains(open, r) {
			return RefuseField(ReasonUnknownValue, "acknowledged_flags", "%s is not an unacknowledged flag of this problem's evidence", r)
		}
		if !slices.Contains(acks, r) {
			acks = append(acks, r)
		}
	}
	var missing []FlagRef
	for _, r := range open {
		if !slices.Contains(acks, r) {
			missing = append(missing, r)
		}
	}
	if len(missing) > 0 {
		e := Refuse(ReasonUnacknowledgedFlags, "the evidence has %d flags not acknowledged; acknowledge them in acknowledged_flags with an acknowledgement_note", len(missing)).InState(p.State, nil)
		e.Flags = missing
		return e
	}
	if len(acks) > 0 && prm.AcknowledgementNote == "" {
		return RefuseField(ReasonRequired, "acknowledgement_note", "acknowledging flags needs a note on why the evidence stands")
	}
	prm.AcknowledgedFlags = acks
	return nil
}

// applyChecks applies the effects of the evidence-check actions.
func applyChecks(p *Problem, e *Entry) {
	prm := &e.Params
	switch e.Action {
	case ActionPosition:
		p.Position = clonePtr(prm.Position)
	case ActionSiteCheck:
		if prm.SiteCheck != nil {
			c := *prm.SiteCheck
			c.Photos = slices.Clone(c.Photos)
			p.SiteChecks = append(p.SiteChecks, c)
		}
	case ActionLookbackDrawn:
		if prm.Lookback != nil {
			l := *prm.Lookback
			l.ResolvedAt = nil
			p.Lookback = &l
		}
	case ActionLookbackConfirmed:
		if p.Lookback != nil {
			p.Lookback.resolve(LookbackConfirmed, e)
		}
	}
}

// FlaggedEvidence counts the evidence items of the lead and cooperating
// units that carry a flag.
func (p *Problem) FlaggedEvidence() int {
	n := 0
	for _, e := range p.Evidence {
		if e.Phase != PhaseSiteCheck && len(e.Flags) > 0 {
			n++
		}
	}
	return n
}

// FlagsFor returns e's flags as actor a may see them: a unit officer,
// who may not learn the codes of problems it cannot see, gets a
// near-duplicate flag of another problem without its link or code.
func FlagsFor(a Actor, p *Problem, e Evidence) []Flag {
	if a.Role != RoleUnit {
		return e.Flags
	}
	out := make([]Flag, 0, len(e.Flags))
	for _, f := range e.Flags {
		if f.Similar != nil && f.Similar.ProblemID != p.ID {
			f = Flag{Code: f.Code, Text: fmt.Sprintf("与其他问题的佐证材料相似（汉明距离 %d）", f.Similar.Distance)}
		}
		out = append(out, f)
	}
	return out
}
