package workflow

import (
	"slices"
	"time"
	"unicode/utf8"
)

// Problem is one tracked case in the ledger (台账).
type Problem struct {
	ID          string `json:"id"`
	Code        string `json:"code"` // human readable, e.g. JDZ-2021-0007
	Title       string `json:"title"`
	Description string `json:"description"`
	Source      Source `json:"source"`
	SourceRef   string `json:"source_ref"`
	CountyID    string `json:"county_id"`
	WorkPoint   int    `json:"work_point,omitempty"`
	Location    string `json:"location,omitempty"`
	// Position is where the problem is (WGS-84), if known: photos are
	// checked against it. Location describes the place in words.
	Position *LatLng `json:"position,omitempty"`
	// DedupeKey makes creation idempotent: a second create with the same key
	// returns the first problem. Empty means no deduplication.
	DedupeKey string `json:"dedupe_key,omitempty"`

	State            State      `json:"state"`
	Resolution       Resolution `json:"resolution"`
	LeadUnit         string     `json:"lead_unit"`
	CooperatingUnits []string   `json:"cooperating_units"`
	Requirements     string     `json:"requirements,omitempty"`
	Plan             string     `json:"plan,omitempty"`
	Deadline         *time.Time `json:"deadline"`
	OriginalDeadline *time.Time `json:"original_deadline"`

	// Who did what last, kept for the separation-of-duty rules.
	SubmittedBy string `json:"submitted_by,omitempty"`
	VerifiedBy  string `json:"verified_by,omitempty"`
	ClosedBy    string `json:"closed_by,omitempty"`
	Summary     string `json:"summary,omitempty"`
	Opinion     string `json:"opinion,omitempty"`
	Statement   string `json:"statement,omitempty"`

	// Supervision is the deadline bookkeeping (levels, stage clocks, pauses).
	Supervision Supervision `json:"supervision"`
	// Extensions are the lead unit's deadline extension requests, oldest first.
	Extensions []Extension `json:"extensions,omitempty"`
	// Evidence is every file handed in, oldest first; EvidenceRound counts
	// the rejections (a submission needs evidence of the current round).
	Evidence      []Evidence `json:"evidence,omitempty"`
	EvidenceRound int        `json:"evidence_round,omitempty"`
	// Signatures are the sign-offs of verify and close, oldest first.
	Signatures []Signature `json:"signatures,omitempty"`
	// Acknowledged are the evidence flags verifiers acknowledged, oldest
	// first; SiteChecks the inspectors' site checks (现场核查); Lookback
	// the latest look-back drawn for the problem (回头看).
	Acknowledged []FlagRef   `json:"acknowledged_flags,omitempty"`
	SiteChecks   []SiteCheck `json:"site_checks,omitempty"`
	Lookback     *Lookback   `json:"lookback,omitempty"`
	// Notice is the problem's public notice (公示), running or ended with
	// its write-off; Objections every objection to its notices, oldest
	// first (notice.go).
	Notice     *NoticePeriod `json:"notice,omitempty"`
	Objections []Objection   `json:"objections,omitempty"`
	// Letters are the supervision letters issued about the problem, as its
	// history records them (docs/design.md#supervision-letters).
	Letters []LetterMark `json:"letters,omitempty"`

	Version   uint64    `json:"version"`
	CreatedBy string    `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Clone returns a deep copy of p.
func (p *Problem) Clone() *Problem {
	c := *p
	c.CooperatingUnits = slices.Clone(p.CooperatingUnits)
	if p.Deadline != nil {
		d := *p.Deadline
		c.Deadline = &d
	}
	if p.OriginalDeadline != nil {
		d := *p.OriginalDeadline
		c.OriginalDeadline = &d
	}
	c.Supervision = p.Supervision.clone()
	c.Evidence = slices.Clone(p.Evidence)
	for i := range c.Evidence {
		c.Evidence[i].PHash = clonePtr(c.Evidence[i].PHash)
		c.Evidence[i].Flags = slices.Clone(c.Evidence[i].Flags)
	}
	c.Position = clonePtr(p.Position)
	c.Acknowledged = slices.Clone(p.Acknowledged)
	c.SiteChecks = slices.Clone(p.SiteChecks)
	for i := range c.SiteChecks {
		c.SiteChecks[i].Photos = slices.Clone(c.SiteChecks[i].Photos)
	}
	if p.Lookback != nil {
		l := *p.Lookback
		l.ResolvedAt = clonePtr(l.ResolvedAt)
		c.Lookback = &l
	}
	c.Notice = clonePtr(p.Notice)
	c.Objections = slices.Clone(p.Objections)
	for i := range c.Objections {
		c.Objections[i].DecidedAt = clonePtr(c.Objections[i].DecidedAt)
	}
	c.Signatures = slices.Clone(p.Signatures)
	c.Letters = slices.Clone(p.Letters)
	c.Extensions = slices.Clone(p.Extensions)
	for i := range c.Extensions {
		c.Extensions[i] = c.Extensions[i].clone()
	}
	return &c
}

// Involves reports whether unitID is the lead or a cooperating unit of p.
func (p *Problem) Involves(unitID string) bool {
	return unitID != "" && (p.LeadUnit == unitID || slices.Contains(p.CooperatingUnits, unitID))
}

// Units returns the lead and cooperating units of p, lead first.
func (p *Problem) Units() []string {
	if p.LeadUnit == "" {
		return slices.Clone(p.CooperatingUnits)
	}
	return append([]string{p.LeadUnit}, p.CooperatingUnits...)
}

// Open reports whether p is still to be done (未办结): neither verified (in
// notice included) nor closed.
func (p *Problem) Open() bool {
	return p.State != StateVerified && p.State != StateInNotice && p.State != StateClosed
}

// Returned reports whether p came back to rectification after a rejection
// or a reopening (回头看): its next submission needs evidence added since.
func (p *Problem) Returned() bool { return p.EvidenceRound > 0 }

// Paused reports whether p's deadline clock is paused: submitted, waiting
// on the inspectors, whose time does not count against the lead unit.
func (p *Problem) Paused() bool { return p.State == StateSubmitted }

// SubmittedAt is when p was submitted for the submission now waiting on the
// inspectors (its last update if the clock records none); zero unless p is
// submitted.
func (p *Problem) SubmittedAt() time.Time {
	if !p.Paused() {
		return time.Time{}
	}
	if t := p.Supervision.PausedAt; t != nil {
		return *t
	}
	return p.UpdatedAt
}

// InRectifying reports whether p is rectifying, including its submitted substate.
func (p *Problem) InRectifying() bool {
	return p.State == StateRectifying || p.State == StateSubmitted
}

// NewProblem is what the bureau supplies to log a problem.
type NewProblem struct {
	Title       string `json:"title"`
	Description string `json:"description"`
	Source      Source `json:"source"`
	CountyID    string `json:"county_id"`
	WorkPoint   int    `json:"work_point,omitempty"`
	SourceRef   string `json:"source_ref,omitempty"`
	Location    string `json:"location,omitempty"`
	// Position is optional coordinates (PositionInput: WGS-84, or GCJ-02
	// converted); the seven tailings ponds of the plan have none.
	Position  *PositionInput `json:"position,omitempty"`
	DedupeKey string         `json:"-"`
}

// Text field limits, in characters.
const (
	MaxTitle = 200
	MaxText  = 10000
)

// Validate checks the fields that need no lookup; counties and work points are
// checked by Service against the stored units.
func (n *NewProblem) Validate() error {
	for _, f := range []struct {
		name string
		v    *string
	}{{"title", &n.Title}, {"description", &n.Description}, {"source_ref", &n.SourceRef}, {"location", &n.Location}} {
		var err error
		if *f.v, err = CleanText(f.name, *f.v); err != nil {
			return err
		}
	}
	if err := CheckText("county_id", n.CountyID); err != nil {
		return err
	}
	switch {
	case n.Title == "":
		return RefuseField(ReasonRequired, "title", "title is required")
	case utf8.RuneCountInString(n.Title) > MaxTitle:
		return RefuseField(ReasonTooLong, "title", "title is longer than %d characters", MaxTitle)
	case n.Description == "":
		return RefuseField(ReasonRequired, "description", "description is required")
	case utf8.RuneCountInString(n.Description) > MaxText:
		return RefuseField(ReasonTooLong, "description", "description is longer than %d characters", MaxText)
	case n.Source == "":
		return RefuseField(ReasonRequired, "source", "source is required")
	case !n.Source.Valid():
		return RefuseField(ReasonUnknownValue, "source", "unknown source %q; one of %v", n.Source, Sources)
	case n.CountyID == "":
		return RefuseField(ReasonRequired, "county_id", "county_id is required")
	case n.WorkPoint < 0:
		return RefuseField(ReasonUnknownWorkPoint, "work_point", "work_point must be positive")
	case utf8.RuneCountInString(n.SourceRef) > MaxTitle:
		return RefuseField(ReasonTooLong, "source_ref", "source_ref is longer than %d characters", MaxTitle)
	case utf8.RuneCountInString(n.Location) > MaxTitle:
		return RefuseField(ReasonTooLong, "location", "location is longer than %d characters", MaxTitle)
	}
	if n.Position != nil {
		if _, err := n.Position.LatLng(); err != nil {
			return err
		}
	}
	return nil
}
