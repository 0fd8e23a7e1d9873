package web_test

import (
	"archive/zip"
	"bytes"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/jdz-eco/rectify/workflow"
)

// TestStartPages: what each role sees first.
func TestStartPages(t *testing.T) {
	v := newEnv(t)
	ctx := t.Context()
	// 浮梁县: one to accept, one rectifying, one rejected, one submitted;
	// one of 乐平市's, and one due soon.
	toAccept := v.create("待签收的问题", "fuliang")
	v.assign(toAccept, "fuliang")
	rectifying := v.create("整改中的问题", "fuliang")
	v.assign(rectifying, "fuliang")
	rejected := v.create("被退回的问题", "fuliang")
	v.assign(rejected, "fuliang", "city-water")
	submitted := v.create("待验收的问题", "fuliang")
	v.assign(submitted, "fuliang")
	lp := v.create("乐平市的问题", "leping")
	v.assign(lp, "leping")
	found := v.create("待交办的问题", "fuliang")

	u := v.as("fuliang")
	for _, id := range []string{rectifying, rejected, submitted} {
		u.mustFire(id, workflow.TriggerAccept, url.Values{"plan": {"方案"}})
	}
	for i, id := range []string{rejected, submitted} {
		wantStatus(t, "upload", u.upload(id, "现场.png", pngFile(uint8(i)), "现场"), http.StatusSeeOther)
		u.mustFire(id, workflow.TriggerSubmit, url.Values{"summary": {"完成"}})
	}
	v.clock.Advance(24 * time.Hour)
	insp := v.as("inspector") // a day on
	insp.mustFire(rejected, workflow.TriggerReject, url.Values{"reason": {"照片不清"}})
	// An older submission on 乐平市's problem waits longer than 浮梁县's.
	// (Submitted after it, so the queue is not creation order.)
	lu := v.as("leping")
	lu.mustFire(lp, workflow.TriggerAccept, url.Values{"plan": {"方案"}})
	wantStatus(t, "upload", lu.upload(lp, "乐平.png", pngFile(9), "现场"), http.StatusSeeOther)
	lu.mustFire(lp, workflow.TriggerSubmit, url.Values{"summary": {"完成"}})
	// 86 days after assignment: due soon, and late to accept.
	v.clock.Advance(85 * 24 * time.Hour)
	if _, err := v.svc.Scan(ctx); err != nil {
		t.Fatal(err)
	}
	u, insp = v.as("fuliang"), v.as("inspector")

	res := u.get("/")
	wantStatus(t, "the unit's start page", res, http.StatusOK)
	sections := splitSections(res.body)
	for title, want := range map[string][]string{
		"待签收":    {"待签收的问题"},
		"被退回":    {"被退回的问题"},
		"整改中":    {"整改中的问题"},
		"临期":     {"待签收的问题", "整改中的问题", "被退回的问题"},
		"已提交待验收": {"待验收的问题"},
	} {
		sec, ok := sections[title]
		if !ok {
			t.Errorf("the unit's start page has no section %s", title)
			continue
		}
		for _, w := range want {
			if !strings.Contains(sec, w) {
				t.Errorf("section %s lacks %s:\n%s", title, w, sec)
			}
		}
		for _, other := range []string{"乐平市的问题", "待交办的问题"} {
			if strings.Contains(sec, other) {
				t.Errorf("section %s shows %s", title, other)
			}
		}
	}
	if strings.Contains(sections["整改中"], "被退回的问题") || strings.Contains(sections["被退回"], "整改中的问题") {
		t.Error("rejected and rectifying problems are mixed up")
	}
	wantNot(t, "the unit's start page", res, "新增问题")

	res = insp.get("/")
	wantStatus(t, "the inspector's start page", res, http.StatusOK)
	queue := splitSections(res.body)["待验收"]
	i, j := strings.Index(queue, "待验收的问题"), strings.Index(queue, "乐平市的问题")
	if i < 0 || j < 0 || i > j {
		t.Errorf("the inspector's queue is not oldest first:\n%s", queue)
	}
	if strings.Contains(queue, "被退回的问题") {
		t.Error("the queue shows a rejected problem")
	}

	res = v.as("bureau").get("/")
	wantStatus(t, "the bureau's start page", res, http.StatusOK)
	wantBody(t, "the bureau's start page", res, `action="/problems"`, "新增问题", "督办提醒", "临期", "签收超时", "待交办的问题")
	if !strings.Contains(splitSections(res.body)["待交办"], "待交办的问题") {
		t.Error("the bureau's 待交办 lacks the problem")
	}
	_ = found

	res = v.as("viewer").get("/")
	if res.status != http.StatusSeeOther || res.location != "/stats" {
		t.Errorf("the viewer's start: %d %s", res.status, res.location)
	}
	res = v.as("admin").get("/")
	if res.status != http.StatusSeeOther || res.location != "/ledger" {
		t.Errorf("the admin's start: %d %s", res.status, res.location)
	}
	// No role may post a problem but the bureau.
	for _, key := range []string{"fuliang", "inspector", "viewer", "admin"} {
		res := v.as(key).post("/problems", url.Values{"title": {"x"}, "description": {"x"}, "source": {"other"}, "county_id": {"fuliang"}})
		wantStatus(t, key+" logs a problem", res, http.StatusForbidden)
		wantBody(t, key+" logs a problem", res, "无权")
	}
}

// splitSections maps the start page's section titles to their HTML.
func splitSections(body string) map[string]string {
	out := map[string]string{}
	parts := strings.Split(body, "<h2>")
	for _, p := range parts[1:] {
		title, _, _ := strings.Cut(p, " <span")
		title, _, _ = strings.Cut(title, "</h2>")
		out[strings.TrimSpace(title)] = p
	}
	return out
}

func TestNewProblemForm(t *testing.T) {
	v := newEnv(t)
	b := v.as("bureau")
	res := b.post("/problems", url.Values{"title": {""}, "description": {"河道采砂"}, "source": {"self_inspection"}, "county_id": {"fuliang"}, "location": {"浮梁段"}})
	wantStatus(t, "no title", res, http.StatusBadRequest)
	wantBody(t, "no title", res, "请填写「问题名称」", "河道采砂", `value="浮梁段"`, `<option value="self_inspection" selected>`)
	res = b.post("/problems", url.Values{"title": {"采砂"}, "description": {"x"}, "source": {"self_inspection"}, "county_id": {"city-water"}})
	wantBody(t, "not a county", res, "请选择所在县（市、区）")
	res = b.post("/problems", url.Values{"title": {"采砂"}, "description": {"x"}, "source": {"self_inspection"}, "county_id": {"fuliang"}, "work_point": {"99"}})
	wantBody(t, "unknown work point", res, "所选工作要点不存在")
	res = b.post("/problems", url.Values{"title": {"采砂"}, "description": {"x"}, "source": {"self_inspection"}, "county_id": {"fuliang"}, "lat": {"北纬29度"}, "lng": {"117.2"}})
	wantStatus(t, "a latitude in words", res, http.StatusBadRequest)
	wantBody(t, "a latitude in words", res, "「纬度」填写有误", `value="北纬29度"`)
	res = b.post("/problems", url.Values{"title": {"采砂"}, "description": {"x"}, "source": {"self_inspection"}, "county_id": {"fuliang"}, "lat": {"29.3"}})
	wantBody(t, "no longitude", res, "请填写「经度」")
	res = b.post("/problems", url.Values{"title": {"采砂"}, "description": {"x"}, "source": {"self_inspection"}, "county_id": {"fuliang"}, "lat": {"95"}, "lng": {"117.2"}})
	wantBody(t, "a latitude past the pole", res, "「纬度」超出允许的范围")
	if ps, _, err := v.svc.Problems(t.Context(), v.users["bureau"].Actor(), workflow.ProblemFilter{}); err != nil || len(ps) != 0 {
		t.Fatalf("refused forms logged %d problems (%v)", len(ps), err)
	}
	res = b.post("/problems", url.Values{"title": {"河道非法采砂"}, "description": {"昌江浮梁段"}, "source": {"self_inspection"},
		"county_id": {"fuliang"}, "work_point": {"8"}, "source_ref": {"自查通报"}, "location": {"浮梁段"},
		"lat": {"29.2951"}, "lng": {"117.2120"}, "datum": {"gcj02"}})
	wantStatus(t, "a new problem", res, http.StatusSeeOther)
	if !strings.HasPrefix(res.location, "/problems/1?done=create") {
		t.Fatalf("to %q", res.location)
	}
	res = b.get(res.location)
	wantBody(t, "the new problem", res, "河道非法采砂", "问题已登记", "第8条 持续推进非法采砂专项整治", "自查通报", "浮梁段", "待交办", "登记问题")
	p, err := v.svc.Problem(t.Context(), v.users["bureau"].Actor(), "1")
	if err != nil {
		t.Fatal(err)
	}
	// GCJ-02 from a web map is stored as WGS-84, a few hundred metres off.
	lat, lng := 29.2951, 117.2120
	want, err := (&workflow.PositionInput{Lat: &lat, Lng: &lng, Datum: workflow.Datum("gcj02")}).LatLng()
	if err != nil {
		t.Fatal(err)
	}
	if p.Position == nil || *p.Position != want || p.Position.Lat == lat {
		t.Fatalf("position %+v, want %+v (the WGS-84 of the GCJ-02 point)", p.Position, want)
	}
}

func TestLedger(t *testing.T) {
	v := newEnv(t)
	ctx := t.Context()
	for i := range 33 {
		county := []string{"fuliang", "leping"}[i%2]
		id := v.create(fmt.Sprintf("问题%02d", i+1), county)
		if i%3 == 0 {
			v.assign(id, county)
		}
	}
	// One of work point 8, from an audit.
	p, _, err := v.svc.CreateProblem(ctx, v.users["bureau"].Actor(), workflow.NewProblem{
		Title: "审计发现的采砂问题", Description: "x", Source: workflow.SourceAudit, CountyID: "leping", WorkPoint: 8,
	})
	if err != nil {
		t.Fatal(err)
	}
	b := v.as("bureau")
	res := b.get("/ledger")
	wantStatus(t, "the ledger", res, http.StatusOK)
	wantBody(t, "the ledger", res, "共 <strong>34</strong> 个问题", "第 1 / 2 页", "问题01", "问题30", `href="/ledger?page=2"`, `href="/ledger.xlsx"`)
	wantNot(t, "the ledger's first page", res, "问题31")
	res = b.get("/ledger?page=2")
	wantBody(t, "page 2", res, "问题31", "审计发现的采砂问题", `href="/ledger"`)
	wantNot(t, "page 2", res, ">问题30<")

	res = b.get("/ledger?county=leping&state=assigned")
	wantBody(t, "乐平市, assigned", res, "共 <strong>5</strong> 个问题", `href="/ledger.xlsx?county=leping&amp;state=assigned"`)
	res = b.get("/ledger?work_point=8")
	wantBody(t, "work point 8", res, "共 <strong>1</strong> 个问题", "审计发现的采砂问题")
	res = b.get("/ledger?source=audit")
	wantBody(t, "audits", res, "共 <strong>1</strong> 个问题")
	res = b.get("/ledger?level=red")
	wantBody(t, "red cards", res, "共 <strong>0</strong> 个问题", "没有符合条件的问题")
	for _, q := range []string{"state=nonsense", "level=nonsense", "work_point=x", "source=nonsense"} {
		res := b.get("/ledger?" + q)
		wantStatus(t, q, res, http.StatusBadRequest)
		wantNot(t, q, res, "unknown", "{")
	}

	// A unit officer's ledger holds its own problems only.
	res = v.as("fuliang").get("/ledger")
	wantBody(t, "浮梁县's ledger", res, "共 <strong>6</strong> 个问题")
	wantNot(t, "浮梁县's ledger", res, "审计发现的采砂问题")

	// The export is the same filter, as a workbook.
	res = b.get("/ledger.xlsx?county=leping&work_point=8")
	wantStatus(t, "the export", res, http.StatusOK)
	if ct := res.header.Get("Content-Type"); ct != "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" {
		t.Errorf("export type %q", ct)
	}
	if cd := res.header.Get("Content-Disposition"); !strings.Contains(cd, "attachment") || !strings.Contains(cd, ".xlsx") {
		t.Errorf("export disposition %q", cd)
	}
	rows := ledgerRows(t, []byte(res.body))
	if len(rows) != 2 || !strings.Contains(strings.Join(rows[1], "|"), p.Code) {
		t.Errorf("export of 乐平市, work point 8: %v", rows)
	}
	rows = ledgerRows(t, []byte(v.as("fuliang").get("/ledger.xlsx").body))
	if len(rows) != 7 {
		t.Errorf("浮梁县's export has %d rows, want a heading and 6", len(rows))
	}
}

// ledgerRows reads the 整改台账 sheet of a workbook.
func ledgerRows(t *testing.T, data []byte) [][]string {
	t.Helper()
	if _, err := zip.NewReader(bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatalf("the export is not a workbook: %v", err)
	}
	f, err := excelize.OpenReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := f.GetRows("整改台账")
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

func TestStats(t *testing.T) {
	v := newEnv(t)
	a := v.create("逾期的问题", "fuliang")
	v.assign(a, "fuliang")
	v.create("乐平市的问题", "leping")
	v.clock.Advance(100 * 24 * time.Hour)
	for _, key := range []string{"viewer", "bureau", "inspector", "fuliang"} {
		res := v.as(key).get("/stats")
		wantStatus(t, key+"'s statistics", res, http.StatusOK)
		wantBody(t, key+"'s statistics", res, "<svg", "各状态问题数", "逾期问题数（按所在县市区）", "逾期问题数（按牵头单位）",
			"整改完成率（按所在县市区）", "按时完成率（按所在县市区）", "工作要点落实情况评估", "深入推进尾矿库污染治理", "持续推进非法采砂专项整治")
	}
	res := v.as("viewer").get("/stats")
	wantBody(t, "the viewer's statistics", res, "<title>浮梁县：1</title>", "<title>乐平市：0</title>", "<title>已交办：1</title>")
	// A unit officer's statistics count its own problems only.
	res = v.as("fuliang").get("/stats")
	wantNot(t, "浮梁县's statistics", res, "<title>乐平市")
}
