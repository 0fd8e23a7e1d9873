package api_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// assignTo logs a problem in county and assigns it to lead with deadline
// (as the bureau); it returns the problem's id.
func (v *env) assignTo(title, county, lead, deadline string) string {
	v.t.Helper()
	m := v.ok(v.do("POST", "/api/v1/problems", "bureau", map[string]any{
		"title": title, "description": "督办测试", "source": "audit", "county_id": county,
	}), http.StatusCreated)
	id := m["id"].(string)
	v.fire(id, "bureau", "assign", map[string]any{"lead_unit": lead, "deadline": deadline})
	return id
}

// get returns problem id as who sees it.
func (v *env) get(id, who string) map[string]any {
	v.t.Helper()
	return v.ok(v.do("GET", "/api/v1/problems/"+id, who, nil), http.StatusOK)
}

// ids returns the ids (or problem_ids) of a list's items.
func ids(m map[string]any) []string {
	out := []string{}
	for _, x := range m["items"].([]any) {
		it := x.(map[string]any)
		if id, ok := it["problem_id"].(string); ok {
			out = append(out, id)
		} else {
			out = append(out, it["id"].(string))
		}
	}
	return out
}

// wantSupervision checks a problem's computed deadline fields; an empty level
// and nil days mean the field must be absent.
func wantSupervision(t *testing.T, at string, p map[string]any, level string, overdue, left any, paused bool) {
	t.Helper()
	if got, ok := p["level"]; level == "" && ok || level != "" && got != level {
		t.Errorf("%s: level %v, want %q", at, got, level)
	}
	for name, want := range map[string]any{"days_overdue": overdue, "days_left": left} {
		got, ok := p[name]
		if want == nil && ok || want != nil && got != float64(want.(int)) {
			t.Errorf("%s: %s %v, want %v", at, name, got, want)
		}
	}
	if p["paused"] != paused {
		t.Errorf("%s: paused %v, want %v", at, p["paused"], paused)
	}
}

// TestProblemSupervisionFields: level, days, stage clock, pause and
// effective deadline at a few positions of the clock.
func TestProblemSupervisionFields(t *testing.T) {
	v := newEnv(t)
	// Created at t0 (Thursday 2021-06-24 09:00Z), assigned at 10:00Z; the
	// deadline is 2021-07-10T15:59:59Z.
	id := v.assignTo("临期问题", "fuliang", "fuliang", "2021-07-10")
	deadline := "2021-07-10T15:59:59Z"

	p := v.get(id, "fuliang")
	wantSupervision(t, "assigned", p, "", nil, 16, false)
	sd := p["stage_due"].(map[string]any)
	// Three working days after Thursday: Friday, Monday, Tuesday 29th.
	if sd["stage"] != "accept" || sd["due"] != "2021-06-29T15:59:59Z" || sd["late"] != false {
		t.Errorf("stage_due %v", sd)
	}
	if _, ok := p["effective_deadline"]; ok || p["extended"] != false || len(p["extensions"].([]any)) != 0 {
		t.Errorf("assigned problem %v", p)
	}
	if _, ok := p["supervision"]; ok {
		t.Error("the supervision record (wake_at) is exposed")
	}

	// Due soon: 5 days 15:59:59 left; the acceptance is late.
	v.clock.Set(time.Date(2021, 7, 5, 0, 0, 0, 0, time.UTC))
	p = v.get(id, "viewer")
	wantSupervision(t, "due soon", p, "due_soon", nil, 5, false)
	if sd := p["stage_due"].(map[string]any); sd["late"] != true {
		t.Errorf("stage_due %v after its due time", sd)
	}
	p = v.fire(id, "fuliang", "accept", map[string]any{"plan": "方案"})
	if _, ok := p["stage_due"]; ok {
		t.Errorf("stage_due %v after accept", p["stage_due"])
	}

	// Exactly at the deadline: no day left, not yet overdue.
	v.clock.Set(time.Date(2021, 7, 10, 15, 59, 59, 0, time.UTC))
	wantSupervision(t, "at the deadline", v.get(id, "fuliang"), "due_soon", nil, 0, false)
	// One second late is one day overdue.
	v.clock.Set(time.Date(2021, 7, 10, 16, 0, 0, 0, time.UTC))
	wantSupervision(t, "one second late", v.get(id, "fuliang"), "overdue", 1, nil, false)

	// Submitted at 17:00 (one hour late), with evidence uploaded at 16:00:
	// the clock stops.
	v.evidence(id, "fuliang")
	p = v.fire(id, "fuliang", "submit", map[string]any{"summary": "完成"})
	wantSupervision(t, "submitted", p, "overdue", 1, nil, true)
	if sd := p["stage_due"].(map[string]any); sd["stage"] != "verify" || sd["late"] != false {
		t.Errorf("stage_due %v after submit", sd)
	}
	v.clock.Advance(40 * 24 * time.Hour)
	p = v.get(id, "fuliang")
	wantSupervision(t, "submitted 40 days", p, "overdue", 1, nil, true)
	if sd := p["stage_due"].(map[string]any); sd["late"] != true {
		t.Errorf("stage_due %v: the inspectors are late", sd)
	}

	// Rejected: the clock runs again from where it stopped; the 40 days and
	// 1 hour waiting count for the unit.
	p = v.fire(id, "inspector", "reject", map[string]any{"reason": "不合格"})
	wantSupervision(t, "rejected", p, "overdue", 1, nil, false)
	if p["deadline"] != deadline || p["effective_deadline"] != "2021-08-19T16:59:59Z" {
		t.Errorf("deadline %v effective %v", p["deadline"], p["effective_deadline"])
	}
	if _, ok := p["stage_due"]; ok {
		t.Errorf("stage_due %v after reject", p["stage_due"])
	}
	// 30 days and a second past the effective deadline: red card.
	v.clock.Set(time.Date(2021, 9, 18, 17, 0, 0, 0, time.UTC))
	wantSupervision(t, "red", v.get(id, "fuliang"), "red", 31, nil, false)
	v.clock.Set(time.Date(2021, 10, 18, 17, 0, 0, 0, time.UTC))
	wantSupervision(t, "listed", v.get(id, "fuliang"), "listed", 61, nil, false)

	// Verified: no level, no days. The second submission needs new evidence.
	v.evidence(id, "fuliang")
	v.fire(id, "fuliang", "submit", map[string]any{"summary": "再次提交"})
	p = v.fire(id, "inspector", "verify", map[string]any{"opinion": "合格"})
	wantSupervision(t, "verified", p, "", nil, nil, false)

	// The history records each level the commands reached, as alerts by the
	// system, with their parameters; no supervision snapshot is shown.
	h := v.ok(v.do("GET", "/api/v1/problems/"+id+"/history", "bureau", nil), 200)["items"].([]any)
	var alerts []string
	for _, x := range h {
		e := x.(map[string]any)
		if _, ok := e["supervision"]; ok {
			t.Fatalf("history entry shows supervision: %v", e)
		}
		if e["action"] != "alert" {
			continue
		}
		prm := e["params"].(map[string]any)
		alerts = append(alerts, prm["level"].(string)+"/"+prm["against"].(string))
		if prm["level"] == "overdue" && prm["days_overdue"] != 1.0 || e["actor"].(map[string]any)["role"] != "system" {
			t.Errorf("alert entry %v", e)
		}
	}
	// accept (07-05) records the late acceptance, though no scan ran, and
	// due_soon; the evidence upload (07-10 16:00) records overdue; the reject
	// 40 days later records the inspectors' breach; the second upload jumps
	// to listed.
	if want := []string{"accept_late/lead_unit", "due_soon/lead_unit", "overdue/lead_unit", "verify_late/inspectors", "listed/lead_unit"}; !slices.Equal(alerts, want) {
		t.Errorf("alerts in history %v, want %v", alerts, want)
	}
}

// TestScanFiltersAndAlerts: the scanner records levels; the list filters and
// the alert list follow what it recorded; only the bureau and admins may
// scan.
func TestScanFiltersAndAlerts(t *testing.T) {
	v := newEnv(t)
	far := v.assignTo("远期", "fuliang", "fuliang", "2021-12-31")
	soon := v.assignTo("临期", "fuliang", "fuliang", "2021-07-20")
	late := v.assignTo("逾期", "fuliang", "fuliang", "2021-07-05")
	water := v.assignTo("水利", "leping", "city-water", "2021-07-12")
	for _, id := range []string{far, soon, water} {
		v.fire(id, map[string]string{far: "fuliang", soon: "fuliang", water: "water"}[id], "accept", map[string]any{"plan": "方案"})
	}
	list := func(q, who string) []string {
		t.Helper()
		return ids(v.ok(v.do("GET", "/api/v1/problems?"+q, who, nil), 200))
	}
	alerts := func(q, who string) []string {
		t.Helper()
		out := []string{}
		for _, x := range v.ok(v.do("GET", "/api/v1/alerts"+q, who, nil), 200)["items"].([]any) {
			a := x.(map[string]any)
			out = append(out, a["kind"].(string)+":"+a["problem_id"].(string))
		}
		return out
	}

	v.clock.Set(time.Date(2021, 7, 15, 0, 0, 0, 0, time.UTC))
	// Live levels already show; the filters wait for the scanner.
	if p := v.get(late, "bureau"); p["level"] != "overdue" {
		t.Fatalf("live level %v", p["level"])
	}
	for _, q := range []string{"level=overdue", "overdue=true", "level=due_soon", "level=accept_late"} {
		if got := list(q, "bureau"); len(got) != 0 {
			t.Errorf("before the scan, %s lists %v", q, got)
		}
	}
	if got := alerts("", "bureau"); len(got) != 0 {
		t.Errorf("alerts before the scan: %v", got)
	}

	// Only the bureau and admins may scan.
	for _, who := range []string{"fuliang", "viewer", "inspector"} {
		v.fails(v.do("POST", "/api/v1/deadlines/scan", who, nil), http.StatusForbidden, "forbidden")
	}
	// soon: due_soon; late: overdue and accept_late; water: overdue.
	if m := v.ok(v.do("POST", "/api/v1/deadlines/scan", "bureau", nil), 200); m["changes"] != 4.0 {
		t.Errorf("scan %v, want 4 changes", m)
	}
	if m := v.ok(v.do("POST", "/api/v1/deadlines/scan", "admin", nil), 200); m["changes"] != 0.0 {
		t.Errorf("second scan %v, want 0 changes", m)
	}

	for q, want := range map[string][]string{
		"level=due_soon":                 {soon},
		"level=overdue":                  {late, water},
		"level=accept_late":              {late},
		"level=red":                      {},
		"overdue=true":                   {late, water},
		"overdue=true&county=leping":     {water},
		"level=overdue&overdue=true":     {late, water},
		"overdue=true&lead_unit=fuliang": {late},
		"level=overdue&limit=1":          {late},
	} {
		if got := list(q, "bureau"); !slices.Equal(got, want) {
			t.Errorf("%s lists %v, want %v", q, got, want)
		}
	}
	// A unit officer sees only its own among them.
	if got := list("overdue=true", "water"); !slices.Equal(got, []string{water}) {
		t.Errorf("water lists %v", got)
	}
	if got := list("overdue=true", "leping"); len(got) != 0 {
		t.Errorf("leping lists %v", got)
	}
	for q, field := range map[string]string{
		"level=yellow": "level", "overdue=false": "overdue", "overdue=yes": "overdue",
		"level=due_soon&overdue=true": "overdue", "level=red&level=listed": "level",
	} {
		if p := v.fails(v.do("GET", "/api/v1/problems?"+q, "bureau", nil), 400, "invalid"); p.Field != field {
			t.Errorf("%s: field %q, want %q", q, p.Field, field)
		}
	}

	// Alerts: most severe first, then by creation.
	if got, want := alerts("", "bureau"), []string{"overdue:" + late, "overdue:" + water, "accept_late:" + late, "due_soon:" + soon}; !slices.Equal(got, want) {
		t.Errorf("alerts %v, want %v", got, want)
	}
	// Later late is red, soon overdue too.
	v.clock.Set(time.Date(2021, 8, 10, 0, 0, 0, 0, time.UTC))
	if m := v.ok(v.do("POST", "/api/v1/deadlines/scan", "bureau", nil), 200); m["changes"] != 2.0 {
		t.Errorf("scan %v, want 2 changes", m)
	}
	if got, want := alerts("", "bureau"), []string{"red:" + late, "overdue:" + soon, "overdue:" + water, "accept_late:" + late}; !slices.Equal(got, want) {
		t.Errorf("alerts %v, want %v", got, want)
	}
	for q, want := range map[string][]string{
		"?level=overdue":                {"overdue:" + soon, "overdue:" + water},
		"?unit=city-water":              {"overdue:" + water},
		"?county=fuliang&level=red":     {"red:" + late},
		"?county=leping&level=due_soon": {},
	} {
		if got := alerts(q, "bureau"); !slices.Equal(got, want) {
			t.Errorf("alerts%s %v, want %v", q, got, want)
		}
	}
	if got, want := alerts("", "water"), []string{"overdue:" + water}; !slices.Equal(got, want) {
		t.Errorf("water's alerts %v, want %v", got, want)
	}
	if got := alerts("", "leping"); len(got) != 0 {
		t.Errorf("leping's alerts %v", got)
	}
	for q, field := range map[string]string{"?level=late": "level", "?lead_unit=x": "lead_unit", "?unit=a&unit=b": "unit"} {
		if p := v.fails(v.do("GET", "/api/v1/alerts"+q, "bureau", nil), 400, "invalid"); p.Field != field {
			t.Errorf("alerts%s: field %q, want %q", q, p.Field, field)
		}
	}

	// One alert in full.
	items := v.ok(v.do("GET", "/api/v1/alerts?level=accept_late", "viewer", nil), 200)["items"].([]any)
	if len(items) != 1 {
		t.Fatalf("accept_late alerts %v", items)
	}
	a := items[0].(map[string]any)
	p := v.get(late, "bureau")
	sd, _ := a["stage_due"].(map[string]any)
	if a["kind"] != "accept_late" || a["level"] != "red" || a["code"] != p["code"] || a["title"] != "逾期" ||
		a["lead_unit"] != "fuliang" || a["county_id"] != "fuliang" || a["state"] != "assigned" ||
		a["deadline"] != "2021-07-05T15:59:59Z" || a["days_overdue"] != 36.0 || sd["stage"] != "accept" || sd["late"] != true {
		t.Errorf("alert %v", a)
	}
	if _, ok := a["days_left"]; ok {
		t.Errorf("an overdue alert has days_left: %v", a)
	}

	// The scans are counted.
	body := v.do("GET", "/metrics", "", nil).Body.String()
	for _, want := range []string{`rectify_deadline_scans_total{result="ok"} 3`, `rectify_deadline_alerts_total 6`} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

const calendar2021 = `{
  "year": 2021,
  "source": "测试",
  "holidays": [{"name": "假日", "from": "2021-06-25", "to": "2021-06-25"}, {"name": "假日二", "from": "2021-06-28", "to": "2021-06-28"}],
  "workdays": ["2021-06-27"]
}`

// TestCalendars: the bureau loads a calendar file, which the stage clocks
// use from then on; malformed files and a year mismatch are refused.
func TestCalendars(t *testing.T) {
	v := newEnv(t)
	if m := v.ok(v.do("GET", "/api/v1/calendars", "viewer", nil), 200); len(m["years"].([]any)) != 0 {
		t.Errorf("calendars %v", m)
	}
	for _, tt := range []struct {
		name, path, who, body string
		status                int
		code, field           string
	}{
		{"malformed", "/api/v1/calendars/2021", "bureau", `{"year":2021,`, 400, "invalid", ""},
		{"empty", "/api/v1/calendars/2021", "bureau", ``, 400, "invalid", ""},
		{"trailing data", "/api/v1/calendars/2021", "bureau", calendar2021 + `{}`, 400, "invalid", ""},
		{"unknown field", "/api/v1/calendars/2021", "bureau", `{"year":2021,"holidays":[],"workdays":[],"x":1}`, 400, "invalid", "x"},
		{"wrong type", "/api/v1/calendars/2021", "bureau", `{"year":"2021","holidays":[],"workdays":[]}`, 400, "invalid", "year"},
		{"date of another year", "/api/v1/calendars/2021", "bureau", `{"year":2021,"holidays":[],"workdays":["2022-01-01"]}`, 400, "invalid", "calendar"},
		{"not a date", "/api/v1/calendars/2021", "bureau", `{"year":2021,"holidays":[{"name":"h","from":"2021-02-30","to":"2021-03-01"}],"workdays":[]}`, 400, "invalid", "calendar"},
		{"backwards holiday", "/api/v1/calendars/2021", "bureau", `{"year":2021,"holidays":[{"name":"h","from":"2021-03-02","to":"2021-03-01"}],"workdays":[]}`, 400, "invalid", "calendar"},
		{"year mismatch", "/api/v1/calendars/2022", "bureau", calendar2021, 400, "invalid", "year"},
		{"year not a number", "/api/v1/calendars/twenty", "bureau", calendar2021, 400, "invalid", "year"},
		{"year out of range", "/api/v1/calendars/1999", "bureau", `{"year":1999,"holidays":[],"workdays":[]}`, 400, "invalid", "year"},
		{"unit officer", "/api/v1/calendars/2021", "fuliang", calendar2021, 403, "forbidden", ""},
		{"viewer", "/api/v1/calendars/2021", "viewer", calendar2021, 403, "forbidden", ""},
		{"no token", "/api/v1/calendars/2021", "", calendar2021, 401, "unauthorized", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			v.t = t
			if p := v.fails(v.do("PUT", tt.path, tt.who, tt.body), tt.status, tt.code); p.Field != tt.field {
				t.Errorf("field %q, want %q (%s)", p.Field, tt.field, p.Detail)
			}
		})
	}
	v.t = t
	if m := v.ok(v.do("GET", "/api/v1/calendars", "viewer", nil), 200); len(m["years"].([]any)) != 0 {
		t.Errorf("refused files were loaded: %v", m)
	}

	m := v.ok(v.do("PUT", "/api/v1/calendars/2021", "bureau", calendar2021), 200)
	if m["year"] != 2021.0 || m["source"] != "测试" || len(m["holidays"].([]any)) != 2 || len(m["workdays"].([]any)) != 1 {
		t.Errorf("PUT answered %v", m)
	}
	m = v.ok(v.do("PUT", "/api/v1/calendars/2022", "admin", `{"year":2022,"holidays":[]}`), 200)
	if len(m["workdays"].([]any)) != 0 {
		t.Errorf("PUT answered %v", m)
	}
	if m := v.ok(v.do("GET", "/api/v1/calendars", "fuliang", nil), 200); !slices.Equal(toFloats(m["years"]), []float64{2021, 2022}) {
		t.Errorf("calendars %v", m)
	}

	// Assigned on Thursday 24th: Friday 25th is a holiday, Sunday 27th a
	// make-up working day, Monday 28th a holiday; the third working day is
	// Wednesday 30th.
	id := v.assignTo("日历", "fuliang", "fuliang", "2021-12-31")
	if sd := v.get(id, "fuliang")["stage_due"].(map[string]any); sd["due"] != "2021-06-30T15:59:59Z" {
		t.Errorf("stage_due %v", sd)
	}
}

func toFloats(x any) []float64 {
	out := []float64{}
	for _, f := range x.([]any) {
		out = append(out, f.(float64))
	}
	return out
}

// TestNoAlertOnceVerified: "a verified or closed problem has no level": it
// leaves the alert list and the overdue filter.
func TestNoAlertOnceVerified(t *testing.T) {
	v := newEnv(t)
	id := v.assignTo("验收后", "fuliang", "fuliang", "2021-07-05")
	v.fire(id, "fuliang", "accept", map[string]any{"plan": "方案"})
	v.clock.Set(time.Date(2021, 7, 15, 0, 0, 0, 0, time.UTC))
	v.ok(v.do("POST", "/api/v1/deadlines/scan", "bureau", nil), 200)
	v.evidence(id, "fuliang")
	v.fire(id, "fuliang", "submit", map[string]any{"summary": "完成"})
	if got := ids(v.ok(v.do("GET", "/api/v1/alerts", "bureau", nil), 200)); len(got) != 1 {
		t.Fatalf("alerts while submitted: %v", got)
	}
	v.fire(id, "inspector", "verify", map[string]any{"opinion": "合格"})
	if got := ids(v.ok(v.do("GET", "/api/v1/alerts", "bureau", nil), 200)); len(got) != 0 {
		t.Errorf("alerts after verify: %v", got)
	}
	if got := ids(v.ok(v.do("GET", "/api/v1/problems?overdue=true", "bureau", nil), 200)); len(got) != 0 {
		t.Errorf("overdue=true after verify: %v", got)
	}
}
