package workflow_test

import (
	"context"
	"slices"
	"testing"

	"github.com/jdz-eco/rectify/workflow"
)

// TestResolveUnitGroup: the bureau names the units a group of a work point
// stands for, by id or name, of the kinds the group allows; anything else
// is refused and changes nothing.
func TestResolveUnitGroup(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	wp := workflow.WorkPoint{Number: 13, Section: "三", Title: "加快构建综合交通枢纽", LeadUnits: []string{},
		ResponsibleUnits: []string{"city-water"},
		UnitGroups: []workflow.UnitGroup{
			{Name: "有关县（市、区）政府", Duty: workflow.DutyResponsible, Kinds: []workflow.UnitKind{workflow.UnitCounty}},
			{Name: "市直有关部门", Duty: workflow.DutyCooperating, Kinds: []workflow.UnitKind{workflow.UnitDepartment, workflow.UnitOffice}},
		}}
	if err := f.svc.PutWorkPoints(ctx, []workflow.WorkPoint{wp}); err != nil {
		t.Fatal(err)
	}
	if un := wp.Unresolved(); !slices.Equal(un, []string{"有关县（市、区）政府", "市直有关部门"}) {
		t.Errorf("unresolved %v", un)
	}
	const counties = "有关县（市、区）政府"
	for _, tc := range []struct {
		who    workflow.Actor
		number int
		name   string
		units  []string
		code   workflow.Code
	}{
		{inspector, 13, counties, []string{"fuliang"}, workflow.CodeForbidden},
		{officer, 13, counties, []string{"fuliang"}, workflow.CodeForbidden},
		{bureau, 14, counties, []string{"fuliang"}, workflow.CodeNotFound},
		{bureau, 13, "有关乡镇政府", []string{"fuliang"}, workflow.CodeNotFound},
		{bureau, 13, counties, nil, workflow.CodeInvalid},
		{bureau, 13, counties, []string{"火星县"}, workflow.CodeInvalid},
		{bureau, 13, counties, []string{"市水利局"}, workflow.CodeInvalid}, // a department is not a county
		{bureau, 13, counties, []string{"fuliang", "浮梁县"}, workflow.CodeInvalid},
	} {
		_, err := f.svc.ResolveUnitGroup(ctx, tc.who, tc.number, tc.name, tc.units)
		if workflow.ErrorCode(err) != tc.code {
			t.Errorf("%s resolves %d %s to %v: %v, want %s", tc.who.ID, tc.number, tc.name, tc.units, err, tc.code)
		}
	}
	stored, err := f.svc.WorkPoints(ctx)
	if err != nil || len(stored) != 2 || len(stored[1].Unresolved()) != 2 {
		t.Fatalf("after the refusals: %+v, %v", stored, err)
	}

	got, err := f.svc.ResolveUnitGroup(ctx, bureau, 13, counties, []string{"浮梁县", "leping"})
	if err != nil {
		t.Fatal(err)
	}
	g := got.UnitGroups[0]
	if !slices.Equal(g.Units, []string{"fuliang", "leping"}) || g.ResolvedBy != bureau.ID || g.ResolverName != bureau.Name ||
		g.ResolvedAt == nil || !g.ResolvedAt.Equal(t0) || !g.Resolved() {
		t.Errorf("resolved: %+v", g)
	}
	if un := got.Unresolved(); !slices.Equal(un, []string{"市直有关部门"}) {
		t.Errorf("still unresolved %v", un)
	}
	if units := got.Units(); !slices.Equal(units, []string{"city-water", "fuliang", "leping"}) {
		t.Errorf("the point's units %v", units)
	}
	// Resolving again replaces the list; the other group is untouched.
	if _, err := f.svc.ResolveUnitGroup(ctx, bureau, 13, "市直有关部门", []string{"市生态环境局"}); err != nil {
		t.Fatal(err)
	}
	got, err = f.svc.ResolveUnitGroup(ctx, bureau, 13, counties, []string{"乐平市"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.UnitGroups[0].Units, []string{"leping"}) || !slices.Equal(got.UnitGroups[1].Units, []string{"city-eeb"}) {
		t.Errorf("after resolving again: %+v", got.UnitGroups)
	}
	stored, _ = f.svc.WorkPoints(ctx)
	if len(stored[1].Unresolved()) != 0 || !slices.Equal(stored[1].UnitGroups[0].Units, []string{"leping"}) {
		t.Errorf("stored: %+v", stored[1].UnitGroups)
	}
}

// TestWorkPointValidate: a unit group needs a name, a known duty and the
// kinds it can stand for, and a name once per work point.
func TestWorkPointValidate(t *testing.T) {
	f := newFixture(t)
	ok := workflow.UnitGroup{Name: "有关县（市、区）政府", Duty: workflow.DutyResponsible, Kinds: []workflow.UnitKind{workflow.UnitCounty}}
	for name, groups := range map[string][]workflow.UnitGroup{
		"no name":       {{Duty: ok.Duty, Kinds: ok.Kinds}},
		"unknown duty":  {{Name: ok.Name, Duty: "help", Kinds: ok.Kinds}},
		"no kinds":      {{Name: ok.Name, Duty: ok.Duty}},
		"unknown kind":  {{Name: ok.Name, Duty: ok.Duty, Kinds: []workflow.UnitKind{"province"}}},
		"twice":         {ok, ok},
		"unknown units": {{Name: ok.Name, Duty: ok.Duty, Kinds: ok.Kinds, Units: []string{"mars"}}},
	} {
		wp := workflow.WorkPoint{Number: 13, Title: "交通", LeadUnits: []string{}, UnitGroups: groups}
		if err := f.svc.PutWorkPoints(context.Background(), []workflow.WorkPoint{wp}); workflow.ErrorCode(err) != workflow.CodeInvalid {
			t.Errorf("%s: %v", name, err)
		}
	}
}
