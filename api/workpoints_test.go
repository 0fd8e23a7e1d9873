package api_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/jdz-eco/rectify/workflow"
)

// TestWorkPointsAPI: everyone signed in reads the work points with their
// unit groups; the bureau resolves a group by names, others may not, and
// a bad request changes nothing.
func TestWorkPointsAPI(t *testing.T) {
	v := newEnv(t)
	err := v.svc.PutWorkPoints(context.Background(), []workflow.WorkPoint{{
		Number: 13, Section: "三", Title: "加快构建综合交通枢纽和现代流通体系", Text: "（市交通运输局、有关县（市、区）政府负责）",
		LeadUnits: []string{}, ResponsibleUnits: []string{"city-water"},
		UnitGroups: []workflow.UnitGroup{{Name: "有关县（市、区）政府", Duty: workflow.DutyResponsible, Kinds: []workflow.UnitKind{workflow.UnitCounty}}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	list := v.ok(v.do("GET", "/api/v1/workpoints", "fuliang", nil), http.StatusOK)
	items := list["items"].([]any)
	if len(items) != 2 {
		t.Fatalf("%d work points", len(items))
	}
	wp := items[1].(map[string]any)
	if un := wp["unresolved"].([]any); len(un) != 1 || un[0] != "有关县（市、区）政府" || len(wp["lead_units"].([]any)) != 0 {
		t.Errorf("work point 13: %v", wp)
	}
	path := "/api/v1/workpoints/13/unit-groups"
	body := map[string]any{"name": "有关县（市、区）政府", "units": []string{"浮梁县", "乐平市"}}
	v.fails(v.do("PUT", path, "inspector", body), http.StatusForbidden, "forbidden")
	v.fails(v.do("PUT", path, "admin", body), http.StatusForbidden, "forbidden")
	v.fails(v.do("PUT", "/api/v1/workpoints/99/unit-groups", "bureau", body), http.StatusNotFound, "not_found")
	v.fails(v.do("PUT", "/api/v1/workpoints/x/unit-groups", "bureau", body), http.StatusBadRequest, "invalid")
	v.fails(v.do("PUT", path, "bureau", map[string]any{"name": "有关县（市、区）政府", "units": []string{"市水利局"}}), http.StatusBadRequest, "invalid")
	v.fails(v.do("PUT", path, "bureau", map[string]any{"name": "有关县（市、区）政府", "units": []string{}}), http.StatusBadRequest, "invalid")
	v.fails(v.do("PUT", path, "bureau", map[string]any{"units": []string{"浮梁县"}}), http.StatusBadRequest, "invalid")
	v.fails(v.do("PUT", path, "bureau", map[string]any{"name": "有关县（市、区）政府", "units": []string{"浮梁县"}, "extra": 1}), http.StatusBadRequest, "invalid")
	if wps, _ := v.svc.WorkPoints(context.Background()); len(wps[1].Unresolved()) != 1 {
		t.Fatalf("a refused request changed the work point: %+v", wps[1])
	}

	got := v.ok(v.do("PUT", path, "bureau", body), http.StatusOK)
	g := got["unit_groups"].([]any)[0].(map[string]any)
	if g["resolved"] != true || g["resolver_name"] != "局办" || len(got["unresolved"].([]any)) != 0 {
		t.Errorf("after resolving: %v", got)
	}
	if units := g["units"].([]any); len(units) != 2 || units[0] != "fuliang" || units[1] != "leping" {
		t.Errorf("the group's units: %v", units)
	}
}
