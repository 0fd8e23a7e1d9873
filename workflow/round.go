package workflow

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Dispatch rounds (调度): the bureau asks every unit in scope for its
// progress by a due time. docs/design.md#dispatch-rounds describes the
// entity, its keys in both stores and how reports chain.

// History actions of dispatch rounds.
const (
	// ActionReport is a progress report filed in a round: on a problem's
	// history, or on a work point's.
	ActionReport = "report"
	// ActionRoundOpen records a round's opening on the chain (an entry of
	// no problem and no work point) with the digest of the round as opened.
	ActionRoundOpen = "round_open"
)

// AlertReportLate is the alert (an ActionAlert entry, Params.Level) of a
// report still missing when its round fell due: recorded once per missing
// report, against the unit that owes it.
const AlertReportLate = "report_late"

// Against values of a report_late alert: the problem's lead unit, or a
// unit a work point charges.
const (
	AgainstLeadUnit = "lead_unit"
	AgainstUnit     = "unit"
)

// Round is one dispatch round. Its items, the reports it expects, are fixed
// when it opens; the reports are history entries (ActionReport) that name
// it, found through the stores' round index (Rounds.RoundEntries).
type Round struct {
	ID     string `json:"id"` // "1", "2", … in opening order
	Title  string `json:"title"`
	Period string `json:"period"` // as the bureau names it, e.g. 2026年3月
	// Key is the period key of a scheduled round (monthly-25:2026-03): a
	// store keeps at most one round per key.
	Key      string      `json:"key,omitempty"`
	Due      time.Time   `json:"due"`
	Scope    RoundScope  `json:"scope"`
	Items    []RoundItem `json:"items,omitempty"`
	OpenedAt time.Time   `json:"opened_at"`
	OpenedBy Actor       `json:"opened_by"`
	// Unstaffed are the work points in scope that name no unit to report
	// (no lead or responsible unit, or only unresolved groups).
	Unstaffed []int `json:"unstaffed,omitempty"`
	// LateRecordedAt is when every report missing at the due time had its
	// report_late alert recorded; nil until then. The only field that
	// changes after opening.
	LateRecordedAt *time.Time `json:"late_recorded_at,omitempty"`
}

// RoundScope is what a round asks about, as the bureau chose it. Problems:
// those named, or the open problems with a lead unit that match every
// filter given (a filter lists alternatives); every such problem when no
// filter and no work point is given, or with AllProblems. Work points: each
// point listed is reported on by each of its reporting units.
type RoundScope struct {
	ProblemIDs  []string `json:"problem_ids,omitempty"`
	Sources     []Source `json:"sources,omitempty"`
	Counties    []string `json:"counties,omitempty"`
	LeadUnits   []string `json:"lead_units,omitempty"`
	AllProblems bool     `json:"all_problems,omitempty"`
	WorkPoints  []int    `json:"work_points,omitempty"`
}

// filtersProblems reports whether the scope selects problems by a filter.
func (sc *RoundScope) filtersProblems() bool {
	return len(sc.Sources) > 0 || len(sc.Counties) > 0 || len(sc.LeadUnits) > 0
}

// wantsProblems reports whether the scope takes in problems at all.
func (sc *RoundScope) wantsProblems() bool {
	return sc.AllProblems || len(sc.ProblemIDs) > 0 || sc.filtersProblems() || len(sc.WorkPoints) == 0
}

// RoundItem is one report a round expects: on a problem, from its lead
// unit, or on a work point, from one of its reporting units.
type RoundItem struct {
	ProblemID string `json:"problem_id,omitempty"`
	Code      string `json:"code,omitempty"`
	WorkPoint int    `json:"work_point,omitempty"`
	// Title is the problem's or the work point's, as the round opened.
	Title string `json:"title"`
	// County is the problem's county.
	County string `json:"county,omitempty"`
	// Unit owes the report: the problem's lead unit, or the work point's
	// unit (Duty says how the point charges it).
	Unit string `json:"unit"`
	Duty string `json:"duty,omitempty"`
}

// Key names the item within its round: p/<problem id> or w/<point>/<unit>.
func (it RoundItem) Key() string {
	if it.ProblemID != "" {
		return problemItemKey(it.ProblemID)
	}
	return pointItemKey(it.WorkPoint, it.Unit)
}

func problemItemKey(id string) string { return "p/" + id }

func pointItemKey(n int, unit string) string { return "w/" + strconv.Itoa(n) + "/" + unit }

// RoundRef returns the round and the item a history entry belongs to: a
// report or a report_late alert names both; ok is false for every other
// entry. Stores index entries by it (Rounds.RoundEntries).
func RoundRef(e *Entry) (round, item string, ok bool) {
	if e.Params.Round == "" || (e.Action != ActionReport && e.Action != ActionAlert) {
		return "", "", false
	}
	switch {
	case e.ProblemID != "":
		return e.Params.Round, problemItemKey(e.ProblemID), true
	case e.WorkPoint > 0 && e.Params.Unit != "":
		return e.Params.Round, pointItemKey(e.WorkPoint, e.Params.Unit), true
	}
	return "", "", false
}

// ParseRoundID returns the number of round id; ok is false when id is not
// one rectify issued.
func ParseRoundID(id string) (n uint64, ok bool) { return ParseProblemID(id) }

// RoundID returns the id of round number n.
func RoundID(n uint64) string { return ProblemID(n) }

// Figure is a report's figure against a work point's target (目标任务).
type Figure struct {
	Target string  `json:"target"`
	Value  float64 `json:"value"`
}

// Target is a figure a work point's text sets, e.g. 营造林 28.91 万亩.
type Target struct {
	Name   string  `json:"name"`
	Amount float64 `json:"amount"`
	Unit   string  `json:"unit,omitempty"`
}

// ReportingUnits returns the units that report on wp in a round: its lead
// and responsible units and the units of its resolved groups of those
// duties, each once, with the duty it has (lead before responsible).
// Cooperating units (配合) do not report.
func (wp WorkPoint) ReportingUnits() (units, duties []string) {
	add := func(ids []string, duty string) {
		for _, id := range ids {
			if !slices.Contains(units, id) {
				units, duties = append(units, id), append(duties, duty)
			}
		}
	}
	add(wp.LeadUnits, DutyLead)
	for _, g := range wp.UnitGroups {
		if g.Duty == DutyLead {
			add(g.Units, DutyLead)
		}
	}
	add(wp.ResponsibleUnits, DutyResponsible)
	for _, g := range wp.UnitGroups {
		if g.Duty == DutyResponsible {
			add(g.Units, DutyResponsible)
		}
	}
	return units, duties
}

// Item returns the round's item with key, if it has one.
func (r *Round) Item(key string) (RoundItem, bool) {
	for _, it := range r.Items {
		if it.Key() == key {
			return it, true
		}
	}
	return RoundItem{}, false
}

// Involves reports whether unit owes a report in r.
func (r *Round) Involves(unit string) bool {
	return slices.ContainsFunc(r.Items, func(it RoundItem) bool { return it.Unit == unit })
}

// Header returns r without its items and with its fixed fields only.
func (r *Round) Header() *Round {
	c := r.Clone()
	c.Items = nil
	return c
}

// Clone returns a deep copy of r.
func (r *Round) Clone() *Round {
	c := *r
	c.Items = slices.Clone(r.Items)
	c.Unstaffed = slices.Clone(r.Unstaffed)
	c.Scope.ProblemIDs = slices.Clone(r.Scope.ProblemIDs)
	c.Scope.Sources = slices.Clone(r.Scope.Sources)
	c.Scope.Counties = slices.Clone(r.Scope.Counties)
	c.Scope.LeadUnits = slices.Clone(r.Scope.LeadUnits)
	c.Scope.WorkPoints = slices.Clone(r.Scope.WorkPoints)
	c.LateRecordedAt = clonePtr(r.LateRecordedAt)
	return &c
}

// RoundDigest is the SHA-256 (hex) of r as opened: its JSON without
// LateRecordedAt. The round_open entry carries it, so that an audit finds
// a round whose items or due time were changed afterwards.
func RoundDigest(r *Round) string {
	c := r.Clone()
	c.LateRecordedAt = nil
	b, _ := json.Marshal(c) // a Round always encodes
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// RoundOpenEntry is the chain entry that records r's opening.
func RoundOpenEntry(r *Round) Entry {
	due := r.Due
	return Entry{At: r.OpenedAt, Actor: r.OpenedBy, Action: ActionRoundOpen,
		Params: Params{Round: r.ID, Title: r.Title, Due: &due, Digest: RoundDigest(r)}}
}

// sortedUnits returns the units items name, each once, sorted by id.
func sortedUnits(items []RoundItem) []string {
	var out []string
	for _, it := range items {
		if !slices.Contains(out, it.Unit) {
			out = append(out, it.Unit)
		}
	}
	slices.SortFunc(out, strings.Compare)
	return out
}
