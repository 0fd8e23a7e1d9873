package api_test

import (
	"net/http"
	"net/url"
	"testing"
)

// TestUnitNamesAccepted: the API takes a unit's exact Chinese name wherever
// it takes its id, as the command line does: a problem's county, an
// assignment's lead and cooperating units, a user's unit and the list,
// alert and ledger filters. Answers carry the id.
func TestUnitNamesAccepted(t *testing.T) {
	v := newEnv(t)
	m := v.ok(v.do("POST", "/api/v1/problems", "bureau", map[string]any{
		"title": "河道采砂", "description": "昌江浮梁段", "source": "self_inspection", "county_id": "浮梁县",
	}), http.StatusCreated)
	if m["county_id"] != "fuliang" {
		t.Fatalf("county_id %v", m["county_id"])
	}
	id := m["id"].(string)
	m = v.fire(id, "bureau", "assign", map[string]any{"lead_unit": "浮梁县", "cooperating_units": []string{"市水利局"}, "deadline": "2021-07-01"})
	if m["lead_unit"] != "fuliang" || len(m["cooperating_units"].([]any)) != 1 || m["cooperating_units"].([]any)[0] != "city-water" {
		t.Fatalf("assigned: lead %v, cooperating %v", m["lead_unit"], m["cooperating_units"])
	}
	for _, q := range []string{"county=" + url.QueryEscape("浮梁县"), "lead_unit=" + url.QueryEscape("浮梁县")} {
		l := v.ok(v.do("GET", "/api/v1/problems?"+q, "bureau", nil), http.StatusOK)
		if n := len(l["items"].([]any)); n != 1 {
			t.Errorf("GET /problems?%s: %d items", q, n)
		}
	}
	v.clock.Advance(30 * 24 * 3600e9)
	v.ok(v.do("POST", "/api/v1/deadlines/scan", "bureau", nil), http.StatusOK)
	al := v.ok(v.do("GET", "/api/v1/alerts?unit="+url.QueryEscape("浮梁县")+"&county="+url.QueryEscape("浮梁县"), "bureau", nil), http.StatusOK)
	if n := len(al["items"].([]any)); n == 0 {
		t.Errorf("GET /alerts?unit=浮梁县: %s", al)
	}
	if rec := v.do("GET", "/api/v1/ledger.xlsx?county="+url.QueryEscape("浮梁县"), "bureau", nil); rec.Code != http.StatusOK {
		t.Errorf("GET /ledger.xlsx?county=浮梁县: %d %s", rec.Code, rec.Body)
	} else if wb := openWorkbook(t, rec.Body.Bytes()); len(wb.rows) != 2 {
		t.Errorf("the ledger of 浮梁县 has %d rows, want the header and one problem", len(wb.rows))
	}
	u := v.ok(v.do("POST", "/api/v1/users", "admin", map[string]any{"name": "浮梁李", "role": "unit", "unit_id": "浮梁县"}), http.StatusCreated)
	if user, _ := u["user"].(map[string]any); user == nil || user["unit_id"] != "fuliang" {
		t.Errorf("POST /users with unit 浮梁县: %v", u)
	}
	v.fails(v.do("POST", "/api/v1/problems", "bureau", map[string]any{
		"title": "x", "description": "x", "source": "self_inspection", "county_id": "火星县",
	}), http.StatusBadRequest, "invalid")
}
