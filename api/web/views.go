package web

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jdz-eco/rectify/api/files"
	"github.com/jdz-eco/rectify/workflow"
	"github.com/jdz-eco/rectify/workflow/ledgerfile"
)

// multipartAllowance is how much an upload's body may exceed the file.
const multipartAllowance = files.MultipartAllowance

// option is one choice of a select; optgroup a labelled group of them.
type option struct {
	Value, Label string
	Selected     bool
}

type optgroup struct {
	Label   string
	Options []option
}

// catalog is what the pages look names up in, read once per request.
type catalog struct {
	units  map[string]workflow.Unit
	list   []workflow.Unit // by kind, then id
	wps    map[int]workflow.WorkPoint
	wpList []workflow.WorkPoint
	now    time.Time
	pol    workflow.Policy
}

func (w *Web) catalog(ctx context.Context) (*catalog, error) {
	units, err := w.svc.Units(ctx)
	if err != nil {
		return nil, err
	}
	wps, err := w.svc.WorkPoints(ctx)
	if err != nil {
		return nil, err
	}
	cat := &catalog{units: map[string]workflow.Unit{}, wps: map[int]workflow.WorkPoint{}, wpList: wps,
		now: w.svc.Clock().Now(), pol: w.svc.Policy()}
	for _, u := range units {
		cat.units[u.ID] = u
	}
	cat.list = slices.Clone(units)
	slices.SortStableFunc(cat.list, func(a, b workflow.Unit) int {
		return slices.Index(workflow.UnitKinds, a.Kind) - slices.Index(workflow.UnitKinds, b.Kind)
	})
	for _, wp := range wps {
		cat.wps[wp.Number] = wp
	}
	return cat, nil
}

// unit is the name of unit id ("" for none; the id if unknown).
func (cat *catalog) unit(id string) string {
	if id == "" {
		return ""
	}
	if u, ok := cat.units[id]; ok {
		return u.Name
	}
	return id
}

func (cat *catalog) unitList(ids []string) string {
	names := make([]string, 0, len(ids))
	for _, id := range ids {
		names = append(names, cat.unit(id))
	}
	return strings.Join(names, "、")
}

// unitGroups lists the units of the given kinds (all if none) by kind,
// marking those selected.
func (cat *catalog) unitGroups(selected []string, kinds ...workflow.UnitKind) []optgroup {
	var out []optgroup
	for _, u := range cat.list {
		if len(kinds) > 0 && !slices.Contains(kinds, u.Kind) {
			continue
		}
		label := u.Kind.Label()
		if label == "" {
			label = string(u.Kind)
		}
		if len(out) == 0 || out[len(out)-1].Label != label {
			out = append(out, optgroup{Label: label})
		}
		g := &out[len(out)-1]
		g.Options = append(g.Options, option{Value: u.ID, Label: u.Name, Selected: slices.Contains(selected, u.ID)})
	}
	return out
}

// countyKinds are the units a problem is located in.
var countyKinds = []workflow.UnitKind{workflow.UnitCounty, workflow.UnitZone, workflow.UnitCity}

// leadKinds are the units that may lead or cooperate (any but the city itself).
var leadKinds = []workflow.UnitKind{
	workflow.UnitCounty, workflow.UnitZone, workflow.UnitDepartment, workflow.UnitCompany,
	workflow.UnitOffice, workflow.UnitJudicial, workflow.UnitOther,
}

func (cat *catalog) workPointOptions(selected string) []option {
	out := make([]option, 0, len(cat.wpList))
	for _, wp := range cat.wpList {
		v := strconv.Itoa(wp.Number)
		out = append(out, option{Value: v, Label: ledgerfile.WorkPointLabel(wp.Number, cat.wps), Selected: v == selected})
	}
	return out
}

func sourceOptions(selected string) []option {
	out := make([]option, 0, len(workflow.Sources))
	for _, s := range workflow.Sources {
		out = append(out, option{Value: string(s), Label: s.Label(), Selected: string(s) == selected})
	}
	return out
}

func stateOptions(selected string) []option {
	out := make([]option, 0, len(workflow.States))
	for _, s := range workflow.States {
		out = append(out, option{Value: string(s), Label: s.Label(), Selected: string(s) == selected})
	}
	return out
}

// levelFilters are the 督办等级 filter's values: the alert tags.
var levelFilters = workflow.AlertTags

func levelOptions(selected string) []option {
	out := make([]option, 0, len(levelFilters))
	for _, l := range levelFilters {
		out = append(out, option{Value: l, Label: workflow.AlertLabel(l), Selected: l == selected})
	}
	return out
}

// row is a problem in a list.
type row struct {
	ID, Code, Title         string
	County, Source, Lead    string
	Deadline, Status        string
	StatusClass             string
	Level, LevelClass, Days string
	Note                    string // what the list adds (a role, a time waited)
}

func (cat *catalog) row(p *workflow.Problem) row {
	r := row{
		ID: p.ID, Code: p.Code, Title: p.Title, County: cat.unit(p.CountyID), Source: p.Source.Label(),
		Lead: cat.unit(p.LeadUnit), Deadline: fmtDate(p.Deadline), Status: p.StatusLabel(), StatusClass: string(p.State),
	}
	if l := p.LevelAt(cat.now, cat.pol); l != workflow.LevelNone {
		r.Level, r.LevelClass = l.Label(), levelClass(string(l))
	}
	r.Days = daysText(p, cat.now)
	return r
}

// daysText says how late p is, or how long it has left.
func daysText(p *workflow.Problem, now time.Time) string {
	over, left, ok := p.DaysOverdue(now)
	switch {
	case !ok:
		return ""
	case over > 0:
		return "逾期 " + strconv.Itoa(over) + " 天"
	case p.Paused():
		return "待验收，计时暂停"
	}
	return "剩余 " + strconv.Itoa(left) + " 天"
}

// section is a titled list of problems on a start page.
type section struct {
	Title, Hint, Empty string
	Note               string // the heading of the rows' Note column, if shown
	Rows               []row
	More               string // a link to the whole list, when cut
}

// collect returns up to limit problems matching f that the user may see,
// and whether there were more.
func (w *Web) collect(ctx context.Context, a workflow.Actor, f workflow.ProblemFilter, keep func(*workflow.Problem) bool, limit int) ([]*workflow.Problem, bool, error) {
	var out []*workflow.Problem
	for p, err := range w.svc.EachProblem(ctx, a, f) {
		if err != nil {
			return nil, false, err
		}
		if keep != nil && !keep(p) {
			continue
		}
		if limit > 0 && len(out) == limit {
			return out, true, nil
		}
		out = append(out, p)
	}
	return out, false, nil
}
