package seeds

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jdz-eco/rectify/store/bolt"
	"github.com/jdz-eco/rectify/workflow"
)

// docDate is the seed document's date, 2021-06-24, in the morning in Jingdezhen.
var docDate = time.Date(2021, 6, 24, 9, 0, 0, 0, workflow.Shanghai)

func TestEmbeddedDataValid(t *testing.T) {
	d, err := embedded()
	if err != nil {
		t.Fatal(err)
	}
	if got := len(d.units); got != 42 {
		t.Errorf("%d units, want 42", got)
	}
	if got := len(WorkPoints()); got != 25 {
		t.Fatalf("%d work points, want 25", got)
	}
	var subsections []int
	for i, w := range WorkPoints() {
		if w.Number != i+1 || w.Title == "" || w.Text == "" || w.Section == "" {
			t.Errorf("work point at %d: %+v", i, w)
		}
		if w.Subsection != "" {
			subsections = append(subsections, w.Number)
		}
	}
	// Points 4–12 sit under the sub-headings of section 二, and only they.
	if want := []int{4, 5, 6, 7, 8, 9, 10, 11, 12}; !slices.Equal(subsections, want) {
		t.Errorf("work points with a sub-section %v, want %v", subsections, want)
	}
	if got := WorkPoints()[3].Subsection; got != "（一）深入推进生态环境污染治理“4+1”工程" {
		t.Errorf("work point 4 sub-section %q", got)
	}
	kinds := map[string]workflow.UnitKind{}
	for _, u := range Units() {
		kinds[u.ID] = u.Kind
	}
	for id, kind := range map[string]workflow.UnitKind{
		BureauUnitID: workflow.UnitDepartment, OfficeUnitID: workflow.UnitOffice, CityUnitID: workflow.UnitCity,
		FuliangUnitID: workflow.UnitCounty, LepingUnitID: workflow.UnitCounty,
		ZhushanUnitID: workflow.UnitCounty, ChangjiangUnitID: workflow.UnitCounty,
		"gaoxin": workflow.UnitZone, "changnan": workflow.UnitZone,
		"city-court": workflow.UnitJudicial, "co-guokong": workflow.UnitCompany,
	} {
		if kinds[id] != kind {
			t.Errorf("unit %s has kind %q, want %q", id, kinds[id], kind)
		}
	}
	var counties []string
	for _, u := range Units() {
		if u.Kind == workflow.UnitCounty {
			counties = append(counties, u.ID)
		}
	}
	if !reflect.DeepEqual(counties, CountyUnitIDs()) {
		t.Errorf("county units %v, want %v", counties, CountyUnitIDs())
	}
}

// TestCityUnit checks the city and that it is the parent of exactly the four
// counties and the two zones.
func TestCityUnit(t *testing.T) {
	var city []workflow.Unit
	var children []string
	for _, u := range Units() {
		if u.Kind == workflow.UnitCity {
			city = append(city, u)
		}
		if u.Parent != "" {
			if u.Parent != CityUnitID {
				t.Errorf("unit %s has parent %q", u.ID, u.Parent)
			}
			children = append(children, u.ID)
		}
	}
	if want := (workflow.Unit{ID: "jdz", Name: "景德镇市", Kind: workflow.UnitCity}); len(city) != 1 || city[0] != want {
		t.Errorf("city units %+v, want only %+v", city, want)
	}
	if want := append(CountyUnitIDs(), "gaoxin", "changnan"); !slices.Equal(children, want) {
		t.Errorf("units with a parent %v, want %v", children, want)
	}
}

func TestTailingsPonds(t *testing.T) {
	ponds := []struct{ name, county string }{
		{"浮梁大背坞金矿牛栏坑尾矿库", FuliangUnitID},
		{"浮梁朱溪铜矿水坞尾矿库", FuliangUnitID},
		{"浮梁县金丰矿业开发有限公司大舟金矿尾矿库", FuliangUnitID},
		{"浮梁县金丰矿业开发有限公司大舟金矿2号尾矿库", FuliangUnitID},
		{"乐平市宏大矿业有限责任公司月形铜矿尾矿库", LepingUnitID},
		{"乐平市刘家滩金矿尾矿库", LepingUnitID},
		{"浮梁县茅棚店锡矿尾矿库", FuliangUnitID},
	}
	byName := map[string]SeedProblem{}
	for _, p := range Problems() {
		if p.WorkPoint == 7 {
			byName[p.Name] = p
		}
	}
	if len(byName) != len(ponds) {
		t.Errorf("%d problems of work point 7, want the %d tailings ponds", len(byName), len(ponds))
	}
	if n := len(Problems()); n != len(ponds)+1 {
		t.Errorf("%d problems, want the %d ponds and the black and odorous water of point 4", n, len(ponds))
	}
	for _, tc := range ponds {
		p, ok := byName[tc.name]
		switch {
		case !ok:
			t.Errorf("pond %s missing", tc.name)
		case p.CountyID != tc.county:
			t.Errorf("pond %s: county %s, want %s", tc.name, p.CountyID, tc.county)
		case p.WorkPoint != 7 || p.Source != workflow.SourceOther || p.SourceRef != "景长江办字〔2021〕1号 第7条":
			t.Errorf("pond %s: work point %d, source %s, ref %q", tc.name, p.WorkPoint, p.Source, p.SourceRef)
		case !strings.Contains(p.Title, tc.name) || !strings.HasPrefix(p.Key, "seed:2021:wp7:"):
			t.Errorf("pond %s: title %q, key %q", tc.name, p.Title, p.Key)
		case p.LeadUnit != "" || p.Deadline != "":
			t.Errorf("pond %s: the document gives no deadline, so it must not be assigned", tc.name)
		}
	}
}

// blackWaterKey is the one seed problem the document gives a deadline.
const blackWaterKey = "seed:2021:wp4:black-odorous-water"

func TestBlackOdorousWater(t *testing.T) {
	ps := Problems()
	if len(ps) == 0 || ps[0].Key != blackWaterKey {
		t.Fatalf("the first problem (in document order) is not %s", blackWaterKey)
	}
	p := ps[0]
	const sentence = "2021年底前全市建成区黑臭水体基本消除。"
	wp := SeedWorkPoints()[3]
	switch {
	case p.CountyID != CityUnitID || p.WorkPoint != 4 || p.Source != workflow.SourceOther || p.SourceRef != "景长江办字〔2021〕1号 第4条":
		t.Errorf("county %s, work point %d, source %s, ref %q", p.CountyID, p.WorkPoint, p.Source, p.SourceRef)
	case p.Quote != sentence || !strings.Contains(wp.Text, p.Quote) || !strings.Contains(p.Description, p.Quote):
		t.Errorf("quote %q is not the document's sentence, verbatim in point 4 and the description", p.Quote)
	case !strings.Contains(p.Title, "建成区黑臭水体") || !strings.Contains(wp.Text, p.Name):
		t.Errorf("title %q, name %q", p.Title, p.Name)
	case p.Requirements != sentence || p.Deadline != "2021-12-31":
		t.Errorf("requirements %q, deadline %q", p.Requirements, p.Deadline)
	}
	// Lead: 市住房城乡建设局, first of point 4's list; the rest of the list
	// cooperates, 新区管委会 being 昌南新区 again.
	if p.LeadUnit != "city-housing" {
		t.Errorf("lead %s, want city-housing", p.LeadUnit)
	}
	wantCoop := []string{"city-drc", BureauUnitID, FuliangUnitID, LepingUnitID, ZhushanUnitID, ChangjiangUnitID, "gaoxin", "changnan"}
	if !slices.Equal(p.CooperatingUnits, wantCoop) {
		t.Errorf("cooperating %v, want %v", p.CooperatingUnits, wantCoop)
	}
	if !slices.Equal(append([]string{p.LeadUnit}, p.CooperatingUnits...), wp.ResponsibleUnits) || len(wp.LeadUnits) != 0 {
		t.Errorf("lead and cooperating units are not point 4's list %v (lead %v)", wp.ResponsibleUnits, wp.LeadUnits)
	}
	prm, ok, err := p.Assignment()
	if err != nil || !ok {
		t.Fatalf("Assignment: %v, %v", ok, err)
	}
	if got := prm.Deadline.UTC().Format(time.RFC3339); got != "2021-12-31T15:59:59Z" {
		t.Errorf("deadline %s, want the end of 2021-12-31 in Jingdezhen", got)
	}
}

// TestUnitLists re-reads every parenthesised unit list as written and checks
// that the work point's units are exactly what it says: the names before
// 牵头 lead, the others before 负责 are responsible (a list with no verb too,
// point 1), those before 配合 cooperate, and the groups named without their
// units (有关县（市、区）政府, 市直有关部门, 市直有关单位) are unit groups of that
// duty, unresolved.
func TestUnitLists(t *testing.T) {
	type group struct{ name, duty string }
	for _, w := range SeedWorkPoints() {
		var lead, resp, coop []string
		var groups []group
		seen := func(id string) bool {
			return slices.Contains(lead, id) || slices.Contains(resp, id) || slices.Contains(coop, id)
		}
		for _, l := range w.UnitLists {
			for clause := range strings.SplitSeq(l, "，") {
				duty := workflow.DutyResponsible
				if c, ok := strings.CutSuffix(clause, "配合"); ok {
					clause, duty = c, workflow.DutyCooperating
				} else {
					clause = strings.TrimSuffix(clause, "负责")
				}
				clause = strings.ReplaceAll(clause, "各县（市、区）政府", "@各县")
				clause = strings.ReplaceAll(clause, "有关县（市、区）政府", "@有关县")
				names := strings.Split(clause, "、")
				leadUpTo := slices.IndexFunc(names, func(n string) bool { return strings.HasSuffix(n, "牵头") })
				for i, name := range names {
					name = strings.TrimSuffix(name, "牵头")
					d := duty
					if i <= leadUpTo {
						d = workflow.DutyLead
					}
					list := map[string]*[]string{workflow.DutyLead: &lead, workflow.DutyResponsible: &resp, workflow.DutyCooperating: &coop}[d]
					var ids []string
					switch name {
					case "@各县":
						ids = CountyUnitIDs()
					case "@有关县", "市直有关单位", "市直有关部门":
						g := group{strings.Replace(name, "@有关县", "有关县（市、区）政府", 1), d}
						if !slices.Contains(groups, g) {
							groups = append(groups, g)
						}
					default:
						id, ok := ResolveUnit(name)
						if !ok {
							t.Errorf("work point %d: %q names no known unit", w.Number, name)
						}
						ids = []string{id}
					}
					for _, id := range ids {
						if !seen(id) {
							*list = append(*list, id)
						}
					}
				}
			}
		}
		if w.Number == 23 { // no list; the text names them
			lead, resp = []string{BureauUnitID}, []string{OfficeUnitID}
		}
		if !slices.Equal(w.LeadUnits, lead) || !slices.Equal(w.ResponsibleUnits, resp) || !slices.Equal(w.CooperatingUnits, coop) {
			t.Errorf("work point %d: lead %v responsible %v coop %v, the lists say lead %v responsible %v coop %v",
				w.Number, w.LeadUnits, w.ResponsibleUnits, w.CooperatingUnits, lead, resp, coop)
		}
		var got []group
		for _, g := range w.UnitGroups {
			got = append(got, group{g.Name, g.Duty})
			if g.Resolved() {
				t.Errorf("work point %d: group %s is resolved in the seed data", w.Number, g.Name)
			}
		}
		if !slices.Equal(got, groups) {
			t.Errorf("work point %d: unit groups %v, the lists say %v", w.Number, got, groups)
		}
		if strings.Contains(w.Text, "负责") && len(w.UnitLists) == 0 && w.Number != 23 {
			t.Errorf("work point %d names responsible units but has no unit list", w.Number)
		}
	}
	if wp := SeedWorkPoints()[6]; len(wp.UnitLists) != 2 || wp.ResponsibleUnits[0] != "city-emergency" {
		t.Errorf("work point 7: %d unit lists, responsible %v", len(wp.UnitLists), wp.ResponsibleUnits)
	}
}

// TestSeedReadings: the three readings the check of the data against the
// plan revisited. Point 8's zones are responsible, not lead units; point
// 13's 有关县（市、区）政府负责 is an unresolved group of counties, not lost;
// the bodies the text names without charging them are not units, and the
// one the project keeps as written says so in its notes.
func TestSeedReadings(t *testing.T) {
	wps := SeedWorkPoints()
	p8 := wps[7]
	if want := append([]string{"city-water"}, CountyUnitIDs()...); !slices.Equal(p8.LeadUnits, want) {
		t.Errorf("point 8 lead units %v, want %v", p8.LeadUnits, want)
	}
	if !slices.Equal(p8.ResponsibleUnits, []string{"gaoxin", "changnan"}) || slices.Contains(p8.LeadUnits, "gaoxin") || slices.Contains(p8.LeadUnits, "changnan") {
		t.Errorf("point 8: the zones are responsible, not lead: lead %v, responsible %v", p8.LeadUnits, p8.ResponsibleUnits)
	}
	p13 := wps[12]
	if len(p13.UnitGroups) == 0 {
		t.Fatal("point 13 has no unit groups")
	}
	if g := p13.UnitGroups[0]; g.Name != "有关县（市、区）政府" || g.Duty != workflow.DutyResponsible ||
		!slices.Equal(g.Kinds, []workflow.UnitKind{workflow.UnitCounty}) || g.Resolved() {
		t.Errorf("point 13's relevant counties: %+v", g)
	}
	if un := p13.Stored().Unresolved(); !slices.Equal(un, []string{"有关县（市、区）政府", "市直有关部门"}) {
		t.Errorf("point 13 unresolved %v", un)
	}
	for _, name := range []string{"省生态环境厅", "省广播电视台", "省长江办", "中央环保督察办公室", "浮梁县金丰矿业开发有限公司", "乐平市宏大矿业有限责任公司", "省委", "省政府"} {
		if id, ok := ResolveUnit(name); ok {
			t.Errorf("%s is unit %s; the plan names it but charges it with nothing", name, id)
		}
	}
	charged := map[string]bool{CityUnitID: true}
	for _, w := range wps {
		for _, id := range w.Stored().Units() {
			charged[id] = true
		}
	}
	for _, u := range SeedUnits() {
		if !charged[u.ID] {
			t.Errorf("unit %s (%s) is charged by no work point", u.ID, u.Name)
		}
		if u.ID == "prov-finance" && !strings.Contains(u.Notes, "本项目的理解") {
			t.Errorf("省财政局's notes do not say it is the project's reading: %q", u.Notes)
		}
	}
	for _, n := range []int{1, 23} {
		if !strings.Contains(wps[n-1].Notes, "本项目的理解") {
			t.Errorf("point %d's notes do not say where the reading is the project's: %q", n, wps[n-1].Notes)
		}
	}
	if !strings.Contains(Problems()[0].Notes, "本项目的理解") {
		t.Errorf("the black and odorous water's notes: %q", Problems()[0].Notes)
	}
}

func TestResolveUnit(t *testing.T) {
	for _, u := range SeedUnits() {
		for _, name := range append([]string{u.ID, u.Name, " " + u.Name + " "}, u.Aliases...) {
			if id, ok := ResolveUnit(name); !ok || id != u.ID {
				t.Errorf("ResolveUnit(%q) = %q, %v; want %q", name, id, ok, u.ID)
			}
		}
	}
	for name, want := range map[string]string{
		"市工信局": "city-industry", "市工业和信息化局": "city-industry",
		"市自然资源局": "city-natres", "市自然资源规划局": "city-natres",
		"市住房城乡建设局": "city-housing", "市住房和城乡建设局": "city-housing",
		"国控集团": "co-guokong", "市国控集团": "co-guokong",
		"高新区管委会": "gaoxin", "昌南新区管委会": "changnan", "新区管委会": "changnan",
		"浮梁县政府": FuliangUnitID, "市生态环境局": BureauUnitID, "领导小组办公室": OfficeUnitID,
		"景德镇市": CityUnitID, "景德镇": CityUnitID,
	} {
		if id, ok := ResolveUnit(name); !ok || id != want {
			t.Errorf("ResolveUnit(%q) = %q, %v; want %q", name, id, ok, want)
		}
	}
	for _, name := range []string{"", "各县（市、区）政府", "市直有关单位", "市直有关部门", "景德镇市推动长江经济带发展领导小组", "全市"} {
		if id, ok := ResolveUnit(name); ok {
			t.Errorf("ResolveUnit(%q) = %q, want no unit", name, id)
		}
	}
}

// copyData returns a deep enough copy of the embedded data to break.
func copyData(t *testing.T) *dataset {
	t.Helper()
	d, err := embedded()
	if err != nil {
		t.Fatal(err)
	}
	c := &dataset{units: slices.Clone(d.units), workPoints: SeedWorkPoints(), problems: Problems()}
	return c
}

// unitByID returns the unit id of d, to break.
func (d *dataset) unitByID(id string) *SeedUnit {
	for i := range d.units {
		if d.units[i].ID == id {
			return &d.units[i]
		}
	}
	panic("no unit " + id)
}

// problem returns the problem with key of d, to break.
func (d *dataset) problem(key string) *SeedProblem {
	for i := range d.problems {
		if d.problems[i].Key == key {
			return &d.problems[i]
		}
	}
	panic("no problem " + key)
}

const pondKey = "seed:2021:wp7:niulankeng"

func TestValidateRejects(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(d *dataset)
	}{
		{"duplicate unit id", func(d *dataset) { d.units = append(d.units, d.units[3]) }},
		{"alias naming two units", func(d *dataset) { d.units[0].Aliases = []string{"市工信局"} }},
		{"unknown kind", func(d *dataset) { d.units[5].Kind = "province" }},
		{"non-slug id", func(d *dataset) { d.units[5].ID = "Fu Liang" }},
		{"unknown responsible unit", func(d *dataset) {
			d.workPoints[2].ResponsibleUnits = append(d.workPoints[2].ResponsibleUnits, "city-nowhere")
		}},
		{"responsible unit also cooperating", func(d *dataset) {
			d.workPoints[2].CooperatingUnits = []string{d.workPoints[2].ResponsibleUnits[0]}
		}},
		{"lead unit also responsible", func(d *dataset) { d.workPoints[7].LeadUnits = append(d.workPoints[7].LeadUnits, "gaoxin") }},
		{"responsible units missing", func(d *dataset) { d.workPoints[2].ResponsibleUnits = nil }},
		{"unit group not in the lists", func(d *dataset) { d.workPoints[12].UnitGroups[0].Name = "有关乡镇政府" }},
		{"unit group resolved in the data", func(d *dataset) { d.workPoints[12].UnitGroups[0].Units = []string{FuliangUnitID} }},
		{"unit group of unknown duty", func(d *dataset) { d.workPoints[12].UnitGroups[0].Duty = "help" }},
		{"unit group of no kind", func(d *dataset) { d.workPoints[12].UnitGroups[0].Kinds = nil }},
		{"unit group twice", func(d *dataset) {
			d.workPoints[12].UnitGroups = append(d.workPoints[12].UnitGroups, d.workPoints[12].UnitGroups[0])
		}},
		{"missing work point", func(d *dataset) { d.workPoints = d.workPoints[:24] }},
		{"numbering gap", func(d *dataset) { d.workPoints[4].Number = 40 }},
		{"empty title", func(d *dataset) { d.workPoints[9].Title = "" }},
		{"line-break artefact", func(d *dataset) { d.workPoints[9].Text += "\n- 8 -" }},
		{"unit list not in text", func(d *dataset) { d.workPoints[9].UnitLists = []string{"市林业局负责"} }},
		{"city of another kind", func(d *dataset) { d.unitByID(CityUnitID).Kind = workflow.UnitOther }},
		{"a second city", func(d *dataset) { d.unitByID("city-eeb").Kind = workflow.UnitCity }},
		{"city with a parent", func(d *dataset) { d.unitByID(CityUnitID).Parent = FuliangUnitID }},
		{"county without the city as parent", func(d *dataset) { d.unitByID(LepingUnitID).Parent = "" }},
		{"zone under a county", func(d *dataset) { d.unitByID("gaoxin").Parent = ZhushanUnitID }},
		{"city-wide alias naming another unit", func(d *dataset) { d.unitByID(CityUnitID).Aliases = []string{"乐平市"} }},
		{"problem county is a department", func(d *dataset) { d.problem(pondKey).CountyID = BureauUnitID }},
		{"city-wide problem county is unknown", func(d *dataset) { d.problem(blackWaterKey).CountyID = "quanshi" }},
		{"problem name not in the document", func(d *dataset) { d.problem(pondKey).Name = "浮梁县某尾矿库" }},
		{"problem quote not in the document", func(d *dataset) { d.problem(pondKey).Quote += "并于2021年底前完成" }},
		{"duplicate key", func(d *dataset) { d.problems[1].Key = d.problems[0].Key }},
		{"deadline without lead", func(d *dataset) { d.problem(pondKey).Deadline = "2021-12-31" }},
		{"lead without deadline", func(d *dataset) { d.problem(blackWaterKey).Deadline = "" }},
		{"bad deadline", func(d *dataset) {
			d.problem(pondKey).Deadline, d.problem(pondKey).LeadUnit = "年底", "city-emergency"
		}},
		{"unknown source", func(d *dataset) { d.problem(pondKey).Source = "rumour" }},
		{"lead also cooperating", func(d *dataset) {
			p := d.problem(blackWaterKey)
			p.CooperatingUnits = append(p.CooperatingUnits, p.LeadUnit)
		}},
		{"cooperating unit listed twice", func(d *dataset) {
			p := d.problem(blackWaterKey)
			p.CooperatingUnits = append(p.CooperatingUnits, p.CooperatingUnits[0])
		}},
		{"lead not in the work point's list", func(d *dataset) { d.problem(blackWaterKey).LeadUnit = "city-water" }},
		{"cooperating unit not in the work point's list", func(d *dataset) {
			p := d.problem(blackWaterKey)
			p.CooperatingUnits = append(p.CooperatingUnits, "city-forestry")
		}},
		{"requirements not the document's words", func(d *dataset) { d.problem(blackWaterKey).Requirements = "年底前消除黑臭水体" }},
		{"requirements without assignment", func(d *dataset) { d.problem(pondKey).Requirements = "实施闭库治理并销号。" }},
	}
	if err := copyData(t).validate(); err != nil {
		t.Fatalf("unbroken copy: %v", err)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := copyData(t)
			tc.mutate(d)
			if err := d.validate(); err == nil {
				t.Error("validate accepted broken data")
			}
		})
	}
}

func newService(t *testing.T) (*workflow.Service, *workflow.ManualClock) {
	t.Helper()
	st, err := bolt.Open(filepath.Join(t.TempDir(), "rectify.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	clock := workflow.NewManualClock(docDate)
	return workflow.NewService(st, clock), clock
}

func TestLoadIdempotent(t *testing.T) {
	ctx := context.Background()
	svc, clock := newService(t)
	r1, err := Load(ctx, svc)
	if err != nil {
		t.Fatal(err)
	}
	if want := (Report{Units: 42, WorkPoints: 25, WorkPointsStored: 25, ProblemsCreated: 8, ProblemsAssigned: 1}); r1 != want {
		t.Errorf("first load: %+v, want %+v", r1, want)
	}
	clock.Advance(24 * time.Hour)
	r2, err := Load(ctx, svc)
	if err != nil {
		t.Fatal(err)
	}
	if want := (Report{Units: 42, WorkPoints: 25, ProblemsSkipped: 8}); r2 != want {
		t.Errorf("second load: %+v, want %+v", r2, want)
	}

	units, err := svc.Units(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wantUnits := Units()
	slices.SortFunc(wantUnits, func(a, b workflow.Unit) int { return strings.Compare(a.ID, b.ID) })
	if !reflect.DeepEqual(units, wantUnits) {
		t.Errorf("stored units differ from the seed units")
	}
	if u, err := svc.Unit(ctx, FuliangUnitID); err != nil || u.Parent != CityUnitID {
		t.Errorf("stored %s: %+v, %v; want parent %s", FuliangUnitID, u, err, CityUnitID)
	}
	wps, err := svc.WorkPoints(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(wps) != 25 {
		t.Fatalf("%d work points stored, want 25", len(wps))
	}
	for i, w := range WorkPoints() {
		if !reflect.DeepEqual(wps[i], w) {
			t.Errorf("stored work point %d: %#v\nwant %#v", w.Number, wps[i], w)
		}
	}
	if wps[6].Subsection != SeedWorkPoints()[6].Subsection || wps[6].Subsection == "" {
		t.Errorf("stored work point 7 has sub-section %q", wps[6].Subsection)
	}

	bureau := workflow.Actor{ID: "b1", Role: workflow.RoleBureau, UnitID: BureauUnitID}
	ps, _, err := svc.Problems(ctx, bureau, workflow.ProblemFilter{})
	if err != nil {
		t.Fatal(err)
	}
	seeds := Problems()
	if len(ps) != len(seeds) {
		t.Fatalf("%d problems stored, want %d", len(ps), len(seeds))
	}
	for i, p := range ps {
		sp := seeds[i]
		if p.DedupeKey != sp.Key || p.Title != sp.Title || p.CountyID != sp.CountyID || p.Description != sp.Description ||
			p.Source != sp.Source || p.SourceRef != sp.SourceRef || p.WorkPoint != sp.WorkPoint || p.Location != sp.Location {
			t.Errorf("problem %s: %+v\nwant %+v", p.ID, p, sp)
		}
		if !p.CreatedAt.Equal(docDate) || !p.UpdatedAt.Equal(docDate) || p.CreatedBy != "system" {
			t.Errorf("problem %s: created %v updated %v by %s; the second load must not touch it", p.ID, p.CreatedAt, p.UpdatedAt, p.CreatedBy)
		}
		wantState, wantVersion := workflow.StateFound, uint64(1)
		if sp.LeadUnit != "" {
			wantState, wantVersion = workflow.StateAssigned, 2
		}
		if p.State != wantState || p.Version != wantVersion {
			t.Errorf("problem %s (%s): state %s version %d, want %s %d", p.ID, sp.Key, p.State, p.Version, wantState, wantVersion)
		}
		h, err := svc.History(ctx, bureau, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(h) != int(wantVersion) {
			t.Fatalf("problem %s: %d history entries, want %d", p.ID, len(h), wantVersion)
		}
		for _, e := range h {
			if e.Actor != SystemActor() || !e.At.Equal(docDate) {
				t.Errorf("problem %s: entry %s by %+v at %v", p.ID, e.Action, e.Actor, e.At)
			}
		}
		if h[0].Params.DedupeKey != sp.Key {
			t.Errorf("problem %s: create entry records dedupe key %q, want %q", p.ID, h[0].Params.DedupeKey, sp.Key)
		}
		got, err := workflow.Replay(h)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, p) {
			t.Errorf("problem %s: replay gives %+v; stored %+v", p.ID, got, p)
		}
	}
}

// TestLoadAssigns checks the one problem the document gives a lead unit and a
// deadline, and that a later load leaves the bureau's changes alone.
func TestLoadAssigns(t *testing.T) {
	ctx := context.Background()
	svc, _ := newService(t)
	if _, err := Load(ctx, svc); err != nil {
		t.Fatal(err)
	}
	bureau := workflow.Actor{ID: "b1", Role: workflow.RoleBureau, UnitID: BureauUnitID}
	ps, _, err := svc.Problems(ctx, bureau, workflow.ProblemFilter{State: workflow.StateAssigned})
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 1 || ps[0].DedupeKey != blackWaterKey {
		t.Fatalf("assigned problems %+v, want only %s", ps, blackWaterKey)
	}
	p := ps[0]
	deadline, err := time.Parse(time.RFC3339, "2021-12-31T15:59:59Z")
	if err != nil {
		t.Fatal(err)
	}
	wantCoop := []string{"city-drc", BureauUnitID, FuliangUnitID, LepingUnitID, ZhushanUnitID, ChangjiangUnitID, "gaoxin", "changnan"}
	if p.CountyID != CityUnitID || p.WorkPoint != 4 || p.LeadUnit != "city-housing" || !slices.Equal(p.CooperatingUnits, wantCoop) ||
		p.Deadline == nil || !p.Deadline.Equal(deadline) || p.OriginalDeadline == nil || !p.OriginalDeadline.Equal(deadline) ||
		p.Requirements != "2021年底前全市建成区黑臭水体基本消除。" || p.Version != 2 {
		t.Errorf("assigned problem: %+v", p)
	}
	// The lead and every cooperating unit see it; a unit not named does not.
	for _, unit := range append([]string{"city-housing"}, wantCoop...) {
		if _, err := svc.Problem(ctx, workflow.Actor{ID: "u", Role: workflow.RoleUnit, UnitID: unit}, p.ID); err != nil {
			t.Errorf("unit %s cannot see the problem: %v", unit, err)
		}
	}
	if _, err := svc.Problem(ctx, workflow.Actor{ID: "u", Role: workflow.RoleUnit, UnitID: "city-water"}, p.ID); err == nil {
		t.Errorf("city-water sees a problem it is not named in")
	}

	// The bureau reassigns it; a second load must not undo that.
	if _, err := svc.Fire(ctx, bureau, p.ID, workflow.Command{Trigger: workflow.TriggerReassign,
		Params: workflow.Params{LeadUnit: BureauUnitID, CooperatingUnits: []string{"city-housing"}, Reason: "测试"}}); err != nil {
		t.Fatal(err)
	}
	r, err := Load(ctx, svc)
	if err != nil {
		t.Fatal(err)
	}
	if want := (Report{Units: 42, WorkPoints: 25, ProblemsSkipped: 8}); r != want {
		t.Errorf("second load %+v, want %+v", r, want)
	}
	if p, _ = svc.Problem(ctx, bureau, p.ID); p.LeadUnit != BureauUnitID || p.Version != 3 {
		t.Errorf("second load changed the problem: %+v", p)
	}
}

func TestLoadResumesInterruptedAssign(t *testing.T) {
	ctx := context.Background()
	svc, _ := newService(t)
	if err := svc.PutUnits(ctx, Units()); err != nil {
		t.Fatal(err)
	}
	if err := svc.PutWorkPoints(ctx, WorkPoints()); err != nil {
		t.Fatal(err)
	}
	// An earlier run created the point 4 problem and stopped before assigning.
	sp := Problems()[0]
	if sp.Key != blackWaterKey {
		t.Fatalf("first problem %s", sp.Key)
	}
	p, created, err := svc.CreateProblem(ctx, SystemActor(), sp.NewProblem())
	if err != nil || !created {
		t.Fatal(created, err)
	}
	r, err := Load(ctx, svc)
	if err != nil {
		t.Fatal(err)
	}
	if want := (Report{Units: 42, WorkPoints: 25, ProblemsCreated: 7, ProblemsSkipped: 1, ProblemsAssigned: 1}); r != want {
		t.Errorf("report %+v, want %+v", r, want)
	}
	if p, _ = svc.Problem(ctx, SystemActor(), p.ID); p.State != workflow.StateAssigned || p.LeadUnit != "city-housing" {
		t.Errorf("state %s lead %s, want assigned to city-housing", p.State, p.LeadUnit)
	}
}

func TestCalendar(t *testing.T) {
	cals := Calendars()
	if len(cals) != 1 {
		t.Fatalf("calendars for %d years, want 1", len(cals))
	}
	// The SHA-256 of /work/shared/calendar/2021.json: shipped byte for byte.
	sum := sha256.Sum256(cals[2021])
	if got := hex.EncodeToString(sum[:]); got != "0f1e96fe2cba083a1a70c09b0b8c86b70a1e14b58c2363ed1348661f18bdd26e" {
		t.Errorf("2021.json has SHA-256 %s; it must be the shared file unchanged", got)
	}
	// Every shipped file is in the domain's format, for the year its name says.
	for year, b := range cals {
		f, err := workflow.ParseCalendarFile(b)
		if err != nil || f.Year != year {
			t.Errorf("%d.json: year %d, %v", year, f.Year, err)
		}
	}
	c, ok, err := CalendarFor(2021)
	if err != nil || !ok {
		t.Fatalf("CalendarFor(2021): %v, %v", ok, err)
	}
	if c.Year != 2021 || len(c.Holidays) != 7 || len(c.Workdays) != 7 ||
		c.Holidays[1] != (workflow.Holiday{Name: "春节", From: "2021-02-11", To: "2021-02-17"}) ||
		c.Source != "国务院办公厅关于2021年部分节假日安排的通知" {
		t.Errorf("calendar: %+v", c)
	}
	if _, ok, err := CalendarFor(2022); ok || err != nil {
		t.Errorf("CalendarFor(2022): %v, %v; want none", ok, err)
	}

	// Read as the domain reads it: the 春节 week off, the Sunday before it
	// (2021-02-07) and the Saturday after it (2021-02-20) worked.
	cal := workflow.NewCalendar(c)
	for day, want := range map[string]bool{
		"2021-02-05": true, "2021-02-06": false, "2021-02-07": true, "2021-02-10": true,
		"2021-02-11": false, "2021-02-17": false, "2021-02-18": true, "2021-02-20": true, "2021-02-21": false,
		"2021-10-01": false, "2021-10-07": false, "2021-10-08": true, "2021-10-09": true,
	} {
		d, err := time.ParseInLocation(time.DateOnly, day, workflow.Shanghai)
		if err != nil {
			t.Fatal(err)
		}
		if got := cal.IsWorkday(d.Add(12 * time.Hour)); got != want {
			t.Errorf("%s: working day %v, want %v", day, got, want)
		}
	}
	// Three working days after Wednesday 2021-02-10: the 18th, 19th and the
	// make-up Saturday 20th.
	assigned := time.Date(2021, 2, 10, 10, 0, 0, 0, workflow.Shanghai)
	if got, want := cal.AddWorkdays(assigned, 3), workflow.EndOfDay(time.Date(2021, 2, 20, 12, 0, 0, 0, workflow.Shanghai)); !got.Equal(want) {
		t.Errorf("3 working days after %v: %v, want %v", assigned, got, want)
	}
}

// TestLoadDatesProblemsAtIssue: seeded in 2026, the plan's problems still carry
// the plan's date, in their codes and their history.
func TestLoadDatesProblemsAtIssue(t *testing.T) {
	svc, clock := newService(t)
	clock.Set(time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC))
	if _, err := Load(context.Background(), svc); err != nil {
		t.Fatal(err)
	}
	items, _, err := svc.Problems(context.Background(), SystemActor(), workflow.ProblemFilter{Limit: workflow.MaxLimit})
	if err != nil || len(items) == 0 {
		t.Fatalf("%d problems, %v", len(items), err)
	}
	for _, p := range items {
		if !strings.HasPrefix(p.Code, "JDZ-2021-") || !p.CreatedAt.Equal(Issued()) {
			t.Errorf("problem %s logged %s as %s", p.ID, p.CreatedAt, p.Code)
		}
	}
	if got := Issued().In(workflow.Shanghai).Format("2006-01-02 15:04"); got != "2021-06-24 09:00" {
		t.Errorf("issued %s", got)
	}
}

// TestLoadUpgradesEarlierSeed: a database seeded with the data before the
// work points said lead, responsible and cooperating apart (every unit of a
// list under lead_units, point 13's groups dropped; testdata holds that
// file as it was) is brought up to the present reading by the next load:
// every work point rewritten, the problems left as they are, the history
// untouched. Later loads write nothing, and keep a unit group the bureau
// resolved, also when the point's text changes.
func TestLoadUpgradesEarlierSeed(t *testing.T) {
	ctx := context.Background()
	svc, clock := newService(t)
	b, err := os.ReadFile("testdata/workpoints-before-duties.json")
	if err != nil {
		t.Fatal(err)
	}
	var earlier []SeedWorkPoint
	if err := json.Unmarshal(b, &earlier); err != nil {
		t.Fatal(err)
	}
	if len(earlier) != 25 || !slices.Contains(earlier[7].LeadUnits, "gaoxin") || len(earlier[12].UnitGroups) != 0 {
		t.Fatalf("the earlier data: %d points, point 8 lead %v", len(earlier), earlier[7].LeadUnits)
	}
	d := copyData(t)
	d.workPoints = earlier
	if _, err := load(ctx, svc, d); err != nil { // as the earlier loader did
		t.Fatal(err)
	}
	bureau := workflow.Actor{ID: "b1", Name: "局办", Role: workflow.RoleBureau, UnitID: BureauUnitID}
	before, _, err := svc.Problems(ctx, bureau, workflow.ProblemFilter{})
	if err != nil {
		t.Fatal(err)
	}
	head, err := svc.Store().Head(ctx)
	if err != nil {
		t.Fatal(err)
	}

	clock.Advance(24 * time.Hour)
	r, err := Load(ctx, svc)
	if err != nil {
		t.Fatal(err)
	}
	// Every point but 24 and 25, which charge no unit, changed.
	if want := (Report{Units: 42, WorkPoints: 25, WorkPointsStored: 23, ProblemsSkipped: 8}); r != want {
		t.Errorf("the upgrade: %+v, want %+v", r, want)
	}
	wps, err := svc.WorkPoints(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(wps, WorkPoints()) {
		t.Errorf("after the upgrade the stored work points differ from the seed's")
	}
	after, _, err := svc.Problems(ctx, bureau, workflow.ProblemFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(after, before) {
		t.Errorf("the upgrade changed problems")
	}
	if h, err := svc.Store().Head(ctx); err != nil || h != head {
		t.Errorf("the upgrade wrote history: head %v, was %v (%v)", h, head, err)
	}

	// The bureau names the relevant counties of point 13; loads keep them.
	wp, err := svc.ResolveUnitGroup(ctx, bureau, 13, "有关县（市、区）政府", []string{"浮梁县", LepingUnitID})
	if err != nil {
		t.Fatal(err)
	}
	resolved := wp.UnitGroups[0]
	if r, err := Load(ctx, svc); err != nil || r.WorkPointsStored != 0 {
		t.Errorf("a load after the resolution: %+v, %v; want nothing written", r, err)
	}
	d = copyData(t)
	d.workPoints[12].Title += "（修订）" // a later reading of point 13's text
	if r, err := load(ctx, svc, d); err != nil || r.WorkPointsStored != 1 {
		t.Errorf("a load changing point 13: %+v, %v; want it alone written", r, err)
	}
	wps, _ = svc.WorkPoints(ctx)
	if g := wps[12].UnitGroups[0]; !reflect.DeepEqual(g, resolved) || !slices.Equal(g.Units, []string{FuliangUnitID, LepingUnitID}) {
		t.Errorf("point 13's group after the loads: %+v, want %+v", g, resolved)
	}
	if wps[12].Title != d.workPoints[12].Title {
		t.Errorf("point 13's title %q", wps[12].Title)
	}
}
