package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/jdz-eco/rectify/workflow"
)

// TestUnitGroupsOnStats: the 统计 page's work point table shows a group a
// work point names without its units as 待明确 to everyone; the bureau
// names its units there, other roles may not, and a refusal says why.
func TestUnitGroupsOnStats(t *testing.T) {
	v := newEnv(t)
	if err := v.svc.PutWorkPoints(context.Background(), []workflow.WorkPoint{{
		Number: 13, Section: "三", Title: "加快构建综合交通枢纽和现代流通体系", LeadUnits: []string{}, ResponsibleUnits: []string{"city-water"},
		UnitGroups: []workflow.UnitGroup{{Name: "有关县（市、区）政府", Duty: workflow.DutyResponsible, Kinds: []workflow.UnitKind{workflow.UnitCounty}}},
	}}); err != nil {
		t.Fatal(err)
	}
	b, insp := v.as("bureau"), v.as("inspector")
	res := b.get("/stats")
	wantBody(t, "the bureau's 统计", res, "有关县（市、区）政府负责：待明确", `action="/workpoints/13/unit-groups"`, `<option value="fuliang"`)
	wantNot(t, "the bureau's 统计", res, `<option value="city-water"`) // a department is no county
	res = insp.get("/stats")
	wantBody(t, "the inspector's 统计", res, "有关县（市、区）政府负责：待明确")
	wantNot(t, "the inspector's 统计", res, `action="/workpoints/13/unit-groups"`)

	form := func() url.Values {
		return url.Values{"name": {"有关县（市、区）政府"}, "units": {"fuliang", "leping"}}
	}
	wantStatus(t, "the inspector resolves", insp.post("/workpoints/13/unit-groups", form()), http.StatusForbidden)
	res = b.post("/workpoints/13/unit-groups", url.Values{"name": {"有关县（市、区）政府"}, "units": {"city-water"}})
	wantStatus(t, "a department for the counties", res, http.StatusBadRequest)
	wantBody(t, "a department for the counties", res, "第13条「有关县（市、区）政府」：所选单位不在该单位组可指的范围内。")
	res = b.post("/workpoints/13/unit-groups", url.Values{"name": {"有关县（市、区）政府"}})
	wantStatus(t, "no units", res, http.StatusBadRequest)
	wantBody(t, "no units", res, "请至少选择一个单位。")
	res = b.post("/workpoints/14/unit-groups", form())
	wantStatus(t, "an unknown point", res, http.StatusNotFound)
	wantBody(t, "an unknown point", res, "未找到该工作要点或单位组。")
	if wps, _ := v.svc.WorkPoints(context.Background()); len(wps[2].Unresolved()) != 1 {
		t.Fatalf("a refused form changed the work point: %+v", wps[2])
	}

	res = b.post("/workpoints/13/unit-groups", form())
	if res.status != http.StatusSeeOther || !strings.HasPrefix(res.location, "/stats?done=unit-group") {
		t.Fatalf("resolving: %d %s", res.status, res.location)
	}
	res = b.get(res.location)
	wantBody(t, "after resolving", res, "已明确单位组所指的单位。", "有关县（市、区）政府负责：浮梁县、乐平市", "改为其他单位")
	wantBody(t, "the inspector after", insp.get("/stats"), "有关县（市、区）政府负责：浮梁县、乐平市")
}
