// Package seeds holds the Jingdezhen 2021 seed data, embedded, and its
// idempotent loader.
//
// The data is transcribed from 景长江办字〔2021〕1号, 《2021年景德镇市推进长江经济带发展工作要点》
// (景德镇市推动长江经济带发展领导小组, 2021-06-24): every unit its work points
// charge in their unit lists (or, for point 23, in its text), with the city
// itself, parent of the counties and zones and home of city-wide problems
// (data/units.json); its 25 work points (data/workpoints.json); and the
// concrete problems it names (data/problems.json). Bodies the text names
// without charging them are not units: the central and provincial ones
// (中央环保督察, 省委、省政府, 省生态环境厅, 省广播电视台, 省长江办) and the two
// mining companies that own tailings ponds in point 7 (浮梁县金丰矿业开发有限公司,
// 乐平市宏大矿业有限责任公司). The one provincial body a unit list charges,
// 省财政局 (point 16), is a unit as written.
//
// A work point's units keep the plan's wording: lead (牵头), responsible
// (负责) and cooperating (配合); a group named without its units (有关县（市、区）
// 政府, 市直有关部门) is kept as an unresolved unit group the bureau resolves.
// The text is the document's own words; only page-break artefacts, line
// breaks and the spaces that text extraction put next to Chinese characters
// were removed. Where the data rests on a reading of the project's rather
// than on the words (各县（市、区）政府 as the four counties, a list without a
// verb as responsible, one lead unit for a problem), the notes of the unit,
// work point or problem say so, with “本项目的理解”. The 2021 holiday
// calendar ships beside it (data/calendar/2021.json).
package seeds

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/jdz-eco/rectify/workflow"
)

//go:embed data/units.json data/workpoints.json data/problems.json data/calendar/*.json
var files embed.FS

// The seed document.
const (
	DocumentRef   = "景长江办字〔2021〕1号"
	DocumentTitle = "2021年景德镇市推进长江经济带发展工作要点"
	DocumentDate  = "2021-06-24"
)

// Unit ids other packages need: the city bureau (the system actor's unit), the
// city itself (parent of the counties and zones, and the county_id of a
// city-wide problem), and the county-level units the CLI's demo mode uses.
const (
	BureauUnitID     = "city-eeb"  // 市生态环境局
	OfficeUnitID     = "lg-office" // 领导小组办公室
	CityUnitID       = "jdz"       // 景德镇市
	FuliangUnitID    = "fuliang"   // 浮梁县
	LepingUnitID     = "leping"    // 乐平市
	ZhushanUnitID    = "zhushan"   // 珠山区
	ChangjiangUnitID = "changjiang"
)

// CountyUnitIDs returns the ids of the four county-level units that
// “各县（市、区）政府” stands for, in the document's usual order (the
// project's reading: the two zones, 高新区 and 昌南新区, have 管委会, not
// 政府, and the lists name them beside it).
func CountyUnitIDs() []string {
	return []string{FuliangUnitID, LepingUnitID, ZhushanUnitID, ChangjiangUnitID}
}

// SeedUnit is a unit with the other names the document gives it, and notes
// on how the document was read.
type SeedUnit struct {
	workflow.Unit
	Aliases []string `json:"aliases,omitempty"`
	Notes   string   `json:"notes,omitempty"`
}

// SeedWorkPoint is a work point as transcribed: the workflow's work point
// (sub-section included) with what it does not hold, the parenthesised unit
// lists exactly as written and notes on how they were read. In the data file
// lead_units, responsible_units and cooperating_units are always present, if
// empty; unit_groups are never resolved (the bureau resolves them).
type SeedWorkPoint struct {
	workflow.WorkPoint
	UnitLists []string `json:"unit_lists"`
	Notes     string   `json:"notes,omitempty"`
}

// Stored returns w as the workflow stores it: lead units never nil, the
// other lists nil when empty (their JSON fields are omitempty), so that a
// stored and reloaded work point equals this one. It shares no slice with w.
func (w SeedWorkPoint) Stored() workflow.WorkPoint {
	wp := w.WorkPoint
	wp.LeadUnits = append([]string{}, w.LeadUnits...)
	wp.ResponsibleUnits = nilIfEmpty(w.ResponsibleUnits)
	wp.CooperatingUnits = nilIfEmpty(w.CooperatingUnits)
	wp.UnitGroups = nil
	for _, g := range w.UnitGroups {
		g.Kinds = slices.Clone(g.Kinds)
		g.Units = nilIfEmpty(g.Units)
		wp.UnitGroups = append(wp.UnitGroups, g)
	}
	return wp
}

// nilIfEmpty is a copy of list, nil when it is empty.
func nilIfEmpty(list []string) []string {
	if len(list) == 0 {
		return nil
	}
	return slices.Clone(list)
}

// SeedProblem is a concrete problem the document names. Key is its dedupe
// key. Name is the problem's object exactly as the document writes it, and
// Quote the document's words the description quotes; both occur in the text of
// work point WorkPoint. CountyID is a county or zone, or CityUnitID for a
// city-wide problem. LeadUnit and Deadline (a date, meaning the end of that
// day in Asia/Shanghai) are set only where the document gives both; such a
// problem is assigned when it is loaded, its lead and cooperating units taken
// from the work point's units and its Requirements, if any, in the document's
// words. Notes say how the document was read.
type SeedProblem struct {
	Key              string          `json:"key"`
	Name             string          `json:"name"`
	Title            string          `json:"title"`
	Description      string          `json:"description"`
	Quote            string          `json:"quote"`
	Source           workflow.Source `json:"source"`
	SourceRef        string          `json:"source_ref"`
	CountyID         string          `json:"county_id"`
	WorkPoint        int             `json:"work_point"`
	Location         string          `json:"location,omitempty"`
	LeadUnit         string          `json:"lead_unit,omitempty"`
	CooperatingUnits []string        `json:"cooperating_units,omitempty"`
	Deadline         string          `json:"deadline,omitempty"`
	Requirements     string          `json:"requirements,omitempty"`
	Notes            string          `json:"notes,omitempty"`
}

// NewProblem returns what CreateProblem takes to log p.
func (p SeedProblem) NewProblem() workflow.NewProblem {
	return workflow.NewProblem{
		Title:       p.Title,
		Description: p.Description,
		Source:      p.Source,
		CountyID:    p.CountyID,
		WorkPoint:   p.WorkPoint,
		SourceRef:   p.SourceRef,
		Location:    p.Location,
		DedupeKey:   p.Key,
	}
}

// Assignment returns the parameters of p's assign trigger; ok is false when
// the document gives p no lead unit and deadline.
func (p SeedProblem) Assignment() (prm workflow.Params, ok bool, err error) {
	if p.LeadUnit == "" && p.Deadline == "" {
		return workflow.Params{}, false, nil
	}
	d, err := workflow.ParseDeadline(p.Deadline)
	if err != nil {
		return workflow.Params{}, false, fmt.Errorf("seed problem %s: %w", p.Key, err)
	}
	return workflow.Params{
		LeadUnit:         p.LeadUnit,
		CooperatingUnits: append([]string{}, p.CooperatingUnits...),
		Deadline:         &d,
		Requirements:     p.Requirements,
	}, true, nil
}

// dataset is the parsed, validated seed data.
type dataset struct {
	units      []SeedUnit
	workPoints []SeedWorkPoint
	problems   []SeedProblem
	names      map[string]string // id, name or alias → id
}

var embedded = sync.OnceValues(func() (*dataset, error) {
	var d dataset
	for _, f := range []struct {
		path string
		v    any
	}{
		{"data/units.json", &d.units},
		{"data/workpoints.json", &d.workPoints},
		{"data/problems.json", &d.problems},
	} {
		b, err := files.ReadFile(f.path)
		if err != nil {
			return nil, err
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(f.v); err != nil {
			return nil, fmt.Errorf("seeds: %s: %w", f.path, err)
		}
	}
	if err := d.validate(); err != nil {
		return nil, fmt.Errorf("seeds: %w", err)
	}
	return &d, nil
})

// data returns the embedded data set; it panics if the embedded files are
// broken, which the package's tests rule out.
func data() *dataset {
	d, err := embedded()
	if err != nil {
		panic(err)
	}
	return d
}

// Units returns every unit the document names and the city itself, the city
// bureau first.
func Units() []workflow.Unit {
	d := data()
	out := make([]workflow.Unit, len(d.units))
	for i, u := range d.units {
		out[i] = u.Unit
	}
	return out
}

// SeedUnits returns every unit with its aliases.
func SeedUnits() []SeedUnit {
	d := data()
	out := make([]SeedUnit, len(d.units))
	for i, u := range d.units {
		out[i] = u
		out[i].Aliases = slices.Clone(u.Aliases)
	}
	return out
}

// WorkPoints returns the 25 work points in order, as the workflow stores them.
func WorkPoints() []workflow.WorkPoint {
	d := data()
	out := make([]workflow.WorkPoint, len(d.workPoints))
	for i, w := range d.workPoints {
		out[i] = w.Stored()
	}
	return out
}

// SeedWorkPoints returns the 25 work points with their unit lists as written
// and notes.
func SeedWorkPoints() []SeedWorkPoint {
	d := data()
	out := make([]SeedWorkPoint, len(d.workPoints))
	for i, w := range d.workPoints {
		w.UnitLists = slices.Clone(w.UnitLists)
		w.LeadUnits = slices.Clone(w.LeadUnits)
		w.ResponsibleUnits = slices.Clone(w.ResponsibleUnits)
		w.CooperatingUnits = slices.Clone(w.CooperatingUnits)
		w.UnitGroups = slices.Clone(w.UnitGroups)
		for j := range w.UnitGroups {
			w.UnitGroups[j].Kinds = slices.Clone(w.UnitGroups[j].Kinds)
		}
		out[i] = w
	}
	return out
}

// Problems returns the concrete problems the document names.
func Problems() []SeedProblem {
	d := data()
	out := make([]SeedProblem, len(d.problems))
	for i, p := range d.problems {
		p.CooperatingUnits = slices.Clone(p.CooperatingUnits)
		out[i] = p
	}
	return out
}

// ResolveUnit returns the id of the unit whose id, name or alias is name, as
// the document writes it (e.g. 市工信局 and 市工业和信息化局 both give
// city-industry). Group names such as 各县（市、区）政府 are not one unit; see
// CountyUnitIDs.
func ResolveUnit(name string) (id string, ok bool) {
	id, ok = data().names[strings.TrimSpace(name)]
	return id, ok
}

var (
	slug       = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)
	keyPattern = regexp.MustCompile(`^seed:2021:wp[0-9]+:[a-z0-9]+(-[a-z0-9]+)*$`)
)

// validate checks the data set as a whole and builds its name index: the
// units, then the work points that name them, then the problems that name
// both.
func (d *dataset) validate() error {
	kinds, err := d.validateUnits()
	if err != nil {
		return err
	}
	if err := d.validateUnitTree(kinds); err != nil {
		return err
	}
	wpUnits, err := d.validateWorkPoints(kinds)
	if err != nil {
		return err
	}
	return d.validateProblems(kinds, wpUnits)
}

// validateUnits checks each unit's id, kind and names, and indexes every
// id, name and alias (d.names). It returns the units' kinds by id.
func (d *dataset) validateUnits() (map[string]workflow.UnitKind, error) {
	d.names = map[string]string{}
	kinds := map[string]workflow.UnitKind{}
	for _, u := range d.units {
		switch {
		case !slug.MatchString(u.ID):
			return nil, fmt.Errorf("unit id %q is not a lowercase ASCII slug", u.ID)
		case !u.Kind.Valid():
			return nil, fmt.Errorf("unit %s: unknown kind %q", u.ID, u.Kind)
		}
		if _, dup := kinds[u.ID]; dup {
			return nil, fmt.Errorf("unit id %s is used twice", u.ID)
		}
		kinds[u.ID] = u.Kind
		for _, name := range append([]string{u.ID, u.Name}, u.Aliases...) {
			if err := d.claimName(name, u.ID); err != nil {
				return nil, err
			}
		}
	}
	return kinds, nil
}

// claimName indexes name as unit id's, refusing a blank or padded name and
// one that names another unit already.
func (d *dataset) claimName(name, id string) error {
	if name == "" || strings.TrimSpace(name) != name {
		return fmt.Errorf("unit %s: empty or padded name %q", id, name)
	}
	if other, dup := d.names[name]; dup {
		return fmt.Errorf("unit %s: name %q already names unit %s", id, name, other)
	}
	d.names[name] = id
	return nil
}

// validateUnitTree checks the parents (the city, and under it the counties
// and zones) and that the units other packages rely on are there.
func (d *dataset) validateUnitTree(kinds map[string]workflow.UnitKind) error {
	for _, u := range d.units {
		if u.Parent != "" {
			if _, ok := kinds[u.Parent]; !ok || u.Parent == u.ID {
				return fmt.Errorf("unit %s: bad parent %q", u.ID, u.Parent)
			}
		}
		switch {
		case u.Kind == workflow.UnitCity && u.ID != CityUnitID:
			return fmt.Errorf("unit %s: only %s is the city", u.ID, CityUnitID)
		case u.Kind == workflow.UnitCity && u.Parent != "":
			return fmt.Errorf("unit %s: the city has no parent", u.ID)
		case (u.Kind == workflow.UnitCounty || u.Kind == workflow.UnitZone) && u.Parent != CityUnitID:
			return fmt.Errorf("unit %s: a county or zone has parent %s, not %q", u.ID, CityUnitID, u.Parent)
		}
	}
	switch {
	case kinds[BureauUnitID] != workflow.UnitDepartment || kinds[OfficeUnitID] != workflow.UnitOffice:
		return fmt.Errorf("the bureau %s or the office %s is missing", BureauUnitID, OfficeUnitID)
	case kinds[CityUnitID] != workflow.UnitCity:
		return fmt.Errorf("the city %s is missing or not of kind %s", CityUnitID, workflow.UnitCity)
	}
	for _, id := range CountyUnitIDs() {
		if kinds[id] != workflow.UnitCounty {
			return fmt.Errorf("county %s is missing", id)
		}
	}
	return nil
}

// knownOnce refuses an unknown unit, or one listed twice, in lists.
func knownOnce(kinds map[string]workflow.UnitKind, where string, lists ...[]string) error {
	seen := map[string]bool{}
	for _, list := range lists {
		for _, id := range list {
			if _, ok := kinds[id]; !ok {
				return fmt.Errorf("%s: unknown unit %q", where, id)
			}
			if seen[id] {
				return fmt.Errorf("%s: unit %s is listed twice", where, id)
			}
			seen[id] = true
		}
	}
	return nil
}

// validateWorkPoints checks the 25 work points: numbering, the text as
// transcribed, the unit lists quoted from it, the units and groups read
// from them. It returns each point's units (workflow.WorkPoint.Units).
func (d *dataset) validateWorkPoints(kinds map[string]workflow.UnitKind) (map[int][]string, error) {
	if len(d.workPoints) != 25 {
		return nil, fmt.Errorf("%d work points, want 25", len(d.workPoints))
	}
	wpUnits := map[int][]string{}
	for i, w := range d.workPoints {
		if err := validateWorkPoint(w, i+1, kinds); err != nil {
			return nil, err
		}
		wpUnits[w.Number] = w.Units()
	}
	return wpUnits, nil
}

// validateWorkPoint checks work point w, the n-th.
func validateWorkPoint(w SeedWorkPoint, n int, kinds map[string]workflow.UnitKind) error {
	where := fmt.Sprintf("work point %d", w.Number)
	switch {
	case w.Number != n:
		return fmt.Errorf("work point %d is at position %d", w.Number, n)
	case w.Section == "" || w.Title == "" || w.Text == "":
		return fmt.Errorf("%s: section, title and text are required", where)
	case strings.ContainsAny(w.Title+w.Text, "\n\r\t "):
		return fmt.Errorf("%s: title or text holds whitespace (a line-break artefact)", where)
	case w.LeadUnits == nil || w.ResponsibleUnits == nil || w.CooperatingUnits == nil || w.UnitLists == nil:
		return fmt.Errorf("%s: lead_units, responsible_units, cooperating_units and unit_lists must be present (may be empty)", where)
	}
	for _, l := range w.UnitLists {
		if !strings.Contains(w.Text, l) {
			return fmt.Errorf("%s: unit list %q is not in the text", where, l)
		}
	}
	if err := knownOnce(kinds, where, w.LeadUnits, w.ResponsibleUnits, w.CooperatingUnits); err != nil {
		return err
	}
	for _, g := range w.UnitGroups {
		if !slices.ContainsFunc(w.UnitLists, func(l string) bool { return strings.Contains(l, g.Name) }) {
			return fmt.Errorf("%s: unit group %q is not in its unit lists", where, g.Name)
		}
		if g.Resolved() {
			return fmt.Errorf("%s: unit group %q is resolved in the seed data; only the bureau resolves groups", where, g.Name)
		}
	}
	for _, t := range w.Targets {
		if figure := strconv.FormatFloat(t.Amount, 'f', -1, 64) + t.Unit; !strings.Contains(w.Text, figure) {
			return fmt.Errorf("%s: target %s: %q is not in the text", where, t.Name, figure)
		}
	}
	if err := w.Stored().Validate(); err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	return nil
}

// validateProblems checks each problem against its work point: its name
// and quote are the point's words, its units among the point's units, its
// assignment well formed.
func (d *dataset) validateProblems(kinds map[string]workflow.UnitKind, wpUnits map[int][]string) error {
	texts := map[int]string{}
	for _, w := range d.workPoints {
		texts[w.Number] = w.Text
	}
	keys := map[string]bool{}
	for _, p := range d.problems {
		if keys[p.Key] {
			return fmt.Errorf("problem %s: key used twice", p.Key)
		}
		keys[p.Key] = true
		if err := validateProblem(p, kinds, texts, wpUnits); err != nil {
			return err
		}
	}
	return nil
}

// validateProblem checks problem p.
func validateProblem(p SeedProblem, kinds map[string]workflow.UnitKind, texts map[int]string, wpUnits map[int][]string) error {
	where := "problem " + p.Key
	np := p.NewProblem()
	if err := np.Validate(); err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	text, ok := texts[p.WorkPoint]
	switch {
	case !keyPattern.MatchString(p.Key):
		return fmt.Errorf("%s: key must look like seed:2021:wp7:name", where)
	case kinds[p.CountyID] != workflow.UnitCounty && kinds[p.CountyID] != workflow.UnitZone && kinds[p.CountyID] != workflow.UnitCity:
		return fmt.Errorf("%s: county_id %q is not a county, zone or the city", where, p.CountyID)
	case !ok:
		return fmt.Errorf("%s: unknown work point %d", where, p.WorkPoint)
	case p.Name == "" || !strings.Contains(text, p.Name):
		return fmt.Errorf("%s: name %q is not in work point %d", where, p.Name, p.WorkPoint)
	case p.Quote == "" || !strings.Contains(text, p.Quote):
		return fmt.Errorf("%s: quote is not in work point %d", where, p.WorkPoint)
	case !strings.Contains(p.Description, p.Quote):
		return fmt.Errorf("%s: description does not hold the quote", where)
	case (p.LeadUnit == "") != (p.Deadline == ""):
		return fmt.Errorf("%s: lead_unit and deadline go together", where)
	case p.LeadUnit == "" && (p.Requirements != "" || len(p.CooperatingUnits) > 0):
		return fmt.Errorf("%s: requirements or cooperating units without an assignment", where)
	case !strings.Contains(text, p.Requirements):
		return fmt.Errorf("%s: requirements are not the words of work point %d", where, p.WorkPoint)
	}
	if p.LeadUnit == "" {
		return nil
	}
	if err := knownOnce(kinds, where, []string{p.LeadUnit}, p.CooperatingUnits); err != nil {
		return err
	}
	for _, id := range append([]string{p.LeadUnit}, p.CooperatingUnits...) {
		if !slices.Contains(wpUnits[p.WorkPoint], id) {
			return fmt.Errorf("%s: unit %s is not among work point %d's units", where, id, p.WorkPoint)
		}
	}
	prm, _, err := p.Assignment()
	if err != nil {
		return err
	}
	if err := workflow.ValidateParams(workflow.TriggerAssign, &prm); err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	return nil
}
