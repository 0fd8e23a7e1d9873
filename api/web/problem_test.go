package web_test

import (
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jdz-eco/rectify/workflow"
	"github.com/jdz-eco/rectify/workflow/dossier"
)

var reForm = regexp.MustCompile(`id="form-([a-z0-9-]+)"`)

// forms lists the forms on a problem page (triggers, note, evidence,
// extension, decision-N).
func forms(res response) []string {
	var out []string
	for _, m := range reForm.FindAllStringSubmatch(res.body, -1) {
		out = append(out, m[1])
	}
	slices.Sort(out)
	return out
}

func wantForms(t *testing.T, who string, c *client, id string, want ...string) {
	t.Helper()
	res := c.get("/problems/" + id)
	wantStatus(t, who+" opens the problem", res, http.StatusOK)
	slices.Sort(want)
	if got := forms(res); !slices.Equal(got, want) {
		t.Errorf("%s sees the forms %v, want %v", who, got, want)
	}
}

// TestProblemWalk: one problem from logging to write-off through the
// forms, each role offered exactly the forms it may use at each step.
func TestProblemWalk(t *testing.T) {
	v := newEnv(t)
	b, u, w, i1, i2, view := v.as("bureau"), v.as("fuliang"), v.as("water"), v.as("inspector"), v.as("inspector2"), v.as("viewer")
	res := b.post("/problems", url.Values{"title": {"河道非法采砂"}, "description": {"昌江浮梁段"}, "source": {"self_inspection"}, "county_id": {"fuliang"}})
	wantStatus(t, "log", res, http.StatusSeeOther)
	id := "1"
	wantForms(t, "the bureau", b, id, "assign", "dismiss", "position")
	wantForms(t, "an inspector", i1, id)
	wantForms(t, "a viewer", view, id)
	wantStatus(t, "浮梁县 before assignment", u.get("/problems/"+id), http.StatusNotFound)

	res = b.fire(id, workflow.TriggerAssign, url.Values{"lead_unit": {"fuliang"}, "cooperating_units": {"city-water"}, "deadline": {"2021-09-30"}, "requirements": {"拆除设备"}})
	wantStatus(t, "assign", res, http.StatusSeeOther)
	res = b.get(res.location)
	wantBody(t, "after assign", res, "已完成：交办。", "已交办", "2021-09-30", "市水利局", "拆除设备")
	wantForms(t, "the bureau", b, id, "reassign", "position")
	wantForms(t, "浮梁县", u, id, "accept", "note", "evidence", "extension")
	wantForms(t, "市水利局 (cooperating)", w, id, "note", "evidence")
	wantForms(t, "an inspector", i1, id)

	u.mustFire(id, workflow.TriggerAccept, url.Values{"plan": {"一周内拆除"}})
	wantForms(t, "浮梁县 rectifying", u, id, "note", "evidence", "extension") // no submit without evidence
	res = u.post("/problems/"+id+"/notes", url.Values{"text": {"设备已拆除一半"}, "version": {u.version(id)}})
	wantStatus(t, "a note", res, http.StatusSeeOther)
	photo := pngFile(7)
	res = u.upload(id, "现场照片.png", photo, "拆除后现场")
	wantStatus(t, "an upload", res, http.StatusSeeOther)
	res = u.get(res.location)
	wantBody(t, "after the upload", res, "佐证材料已上传", "现场照片.png", "拆除后现场", `<img src="/evidence/`+sha(photo)+`"`, "设备已拆除一半")
	wantForms(t, "浮梁县 with evidence", u, id, "submit", "note", "evidence", "extension")

	// The photo is served to whoever sees the problem.
	for _, c := range []*client{u, w, b, i1, view} {
		res := c.get("/evidence/" + sha(photo))
		if res.status != http.StatusOK || res.header.Get("Content-Type") != "image/png" || res.body != string(photo) {
			t.Errorf("the photo: %d %s", res.status, res.header.Get("Content-Type"))
		}
	}
	res = u.get("/evidence/" + sha(photo) + "?download=1")
	if cd := res.header.Get("Content-Disposition"); !strings.HasPrefix(cd, "attachment") {
		t.Errorf("download disposition %q", cd)
	}

	u.mustFire(id, workflow.TriggerSubmit, url.Values{"summary": {"已拆除"}})
	wantForms(t, "浮梁县 submitted", u, id, "withdraw")
	wantForms(t, "an inspector", i1, id, "reject", "verify", "evidence", "site-check") // site-check photos and the check
	wantForms(t, "the bureau", b, id, "position")

	i1.mustFire(id, workflow.TriggerReject, url.Values{"reason": {"照片不清楚"}})
	wantForms(t, "浮梁县 rejected", u, id, "note", "evidence", "extension")
	res = u.fire(id, workflow.TriggerSubmit, url.Values{"summary": {"再次提交"}})
	wantStatus(t, "submit without new evidence", res, http.StatusConflict)
	wantBody(t, "submit without new evidence", res, "须先上传新的佐证材料")
	wantStatus(t, "upload again", u.upload(id, "补拍.png", pngFile(8), "补拍"), http.StatusSeeOther)
	u.mustFire(id, workflow.TriggerSubmit, url.Values{"summary": {"已补拍"}})

	i1.mustFire(id, workflow.TriggerVerify, url.Values{"opinion": {"验收通过"}})
	wantForms(t, "the verifier", i1, id, "reopen") // not close: separation of duties
	wantForms(t, "another inspector", i2, id, "close", "reopen")
	wantForms(t, "the bureau", b, id, "close", "reopen", "position")
	res = i1.fire(id, workflow.TriggerClose, url.Values{"statement": {"同意"}})
	wantStatus(t, "the verifier closes", res, http.StatusForbidden)
	wantBody(t, "the verifier closes", res, "职责分离：验收人不能同时销号")

	b.mustFire(id, workflow.TriggerClose, url.Values{"statement": {"同意销号"}})
	res = b.get("/problems/" + id)
	wantBody(t, "closed", res, "已销号", "电子签名", "验收通过", "同意销号", "验收员", "局办")
	timeline := res.body[strings.Index(res.body, `id="timeline"`):]
	for _, step := range []string{"登记问题", "交办", "签收", "填报进展", "上传佐证材料", "提交验收", "退回整改", "照片不清楚", "验收通过", "销号", "浮梁县干部（浮梁县）", "验收员（领导小组办公室）"} {
		if !strings.Contains(timeline, step) {
			t.Errorf("the timeline lacks %q", step)
		}
	}
	wantForms(t, "浮梁县 closed", u, id)

	// The page links the case file, which whoever sees the problem
	// downloads and which verifies offline.
	wantBody(t, "closed", res, `href="/problems/`+id+`/dossier.zip"`, "下载一案一档")
	for _, c := range []*client{u, w, b, i1, view} {
		res := c.get("/problems/" + id + "/dossier.zip")
		rep, err := dossier.Verify(strings.NewReader(res.body), int64(len(res.body)))
		if res.status != http.StatusOK || res.header.Get("Content-Type") != "application/zip" || err != nil {
			t.Fatalf("the case file: %d %s: %v", res.status, res.header.Get("Content-Type"), err)
		}
		if rep.Evidence != 2 || rep.Signoffs != 2 || res.header.Get("X-Rectify-Head") != rep.Head.String() {
			t.Errorf("the case file holds %+v", rep)
		}
	}
}

// TestOtherCountyIsNotFound: a unit officer cannot open, act on or
// download from another county's problem: 404, as for one that is not there.
func TestOtherCountyIsNotFound(t *testing.T) {
	v := newEnv(t)
	id := v.create("浮梁县的问题", "fuliang")
	v.assign(id, "fuliang")
	u := v.as("fuliang")
	u.mustFire(id, workflow.TriggerAccept, url.Values{"plan": {"方案"}})
	photo := pngFile(3)
	wantStatus(t, "upload", u.upload(id, "a.png", photo, ""), http.StatusSeeOther)
	l := v.as("leping")
	for _, res := range []response{
		l.get("/problems/" + id),
		l.get("/problems/999"),
		l.get("/evidence/" + sha(photo)),
		l.get("/problems/" + id + "/dossier.zip"),
		l.post("/problems/"+id+"/fire", url.Values{"trigger": {"submit"}, "summary": {"x"}}),
		l.post("/problems/"+id+"/notes", url.Values{"text": {"x"}}),
		l.upload(id, "b.png", pngFile(4), "", [2]string{"csrf", l.csrf}),
	} {
		wantStatus(t, "乐平市 on 浮梁县's problem", res, http.StatusNotFound)
		wantBody(t, "the 404 page", res, "未找到", "<html")
		wantNot(t, "the 404 page", res, "浮梁县的问题", "not_found", "{")
	}
	if p, _ := v.svc.Problem(t.Context(), v.users["fuliang"].Actor(), id); len(p.Evidence) != 1 || p.Version != 4 {
		t.Errorf("乐平市's forms changed the problem: version %d, %d files", p.Version, len(p.Evidence))
	}
}

// TestFormErrors: refusals are Chinese sentences next to the form, with
// what was typed kept, never English or JSON.
func TestFormErrors(t *testing.T) {
	v := newEnv(t)
	id := v.create("尾矿库", "fuliang")
	b, u := v.as("bureau"), v.as("fuliang")

	res := b.fire(id, workflow.TriggerAssign, url.Values{"lead_unit": {"fuliang"}, "requirements": {"我的要求"}})
	wantStatus(t, "assign without a deadline", res, http.StatusBadRequest)
	wantBody(t, "assign without a deadline", res, "请填写「整改时限」", "我的要求", `<option value="fuliang" selected>`)
	res = b.fire(id, workflow.TriggerAssign, url.Values{"lead_unit": {"fuliang"}, "cooperating_units": {"fuliang"}, "deadline": {"2021-12-31"}})
	wantBody(t, "lead and cooperating", res, "牵头单位不能同时是配合单位")
	res = b.fire(id, workflow.TriggerAssign, url.Values{"lead_unit": {"fuliang"}, "deadline": {"明年"}})
	wantStatus(t, "a bad date", res, http.StatusBadRequest)
	wantBody(t, "a bad date", res, "日期格式不正确")

	// A stale form: someone else acted since the page was shown.
	stale := b.version(id)
	b.mustFire(id, workflow.TriggerAssign, url.Values{"lead_unit": {"fuliang"}, "deadline": {"2021-12-31"}})
	res = b.post("/problems/"+id+"/fire", url.Values{"trigger": {"reassign"}, "version": {stale}, "reason": {"改派"}, "lead_unit": {"leping"}})
	wantStatus(t, "a stale form", res, http.StatusPreconditionFailed)
	wantBody(t, "a stale form", res, "问题已被他人更新")
	// A trigger not permitted now.
	res = b.fire(id, workflow.TriggerAssign, url.Values{"lead_unit": {"fuliang"}, "deadline": {"2021-12-31"}})
	wantStatus(t, "assign twice", res, http.StatusConflict)
	wantBody(t, "assign twice", res, "问题当前状态为「已交办」，不能交办")
	res = b.fire(id, workflow.TriggerReassign, url.Values{"reason": {"x"}})
	wantBody(t, "reassign changing nothing", res, "改派需要选择新的牵头单位、整改时限或配合单位")

	res = u.fire(id, workflow.TriggerAccept, url.Values{"plan": {" "}})
	wantBody(t, "accept without a plan", res, "请填写「整改方案」")
	res = u.fire(id, workflow.TriggerVerify, url.Values{"opinion": {"x"}})
	wantStatus(t, "a unit verifies", res, http.StatusConflict)
	u.mustFire(id, workflow.TriggerAccept, url.Values{"plan": {"方案"}})
	res = u.fire(id, workflow.TriggerSubmit, url.Values{"summary": {"完成"}})
	wantStatus(t, "submit without evidence", res, http.StatusConflict)
	wantBody(t, "submit without evidence", res, "提交验收前请先上传佐证材料")
	res = u.post("/problems/"+id+"/notes", url.Values{"text": {""}, "version": {u.version(id)}})
	wantBody(t, "an empty note", res, "请填写「进展情况」")

	res = u.upload(id, "virus.exe", append([]byte("MZ\x90\x00"), make([]byte, 600)...), "程序")
	wantStatus(t, "an executable", res, http.StatusUnsupportedMediaType)
	wantBody(t, "an executable", res, "不支持该文件类型", `value="程序"`)
	res = u.upload(id, "empty.png", nil, "")
	wantBody(t, "an empty file", res, "文件为空")
	res = u.upload(id, "big.png", append(pngFile(1), make([]byte, 70<<10)...), "")
	wantStatus(t, "a large file", res, http.StatusRequestEntityTooLarge)
	wantBody(t, "a large file", res, "文件过大，单个文件不能超过 64 KB")

	res = b.post("/problems/"+id+"/fire", url.Values{"trigger": {"reject"}, "reason": {"x"}, "version": {u.version(id)}})
	wantStatus(t, "the bureau rejects", res, http.StatusConflict)
	wantBody(t, "the bureau rejects", res, "退回整改：问题当前状态为「整改中」，不能退回整改")
	for _, res := range []response{
		res,
		u.fire(id, workflow.Trigger("explode"), nil),
	} {
		if res.status < 400 {
			t.Errorf("a refusal answered %d", res.status)
		}
		for _, eng := range []string{"trigger ", "not permitted", "conflict", "invalid", `"code":`, "problem+json"} {
			if strings.Contains(res.body, eng) {
				t.Errorf("a refusal page shows %q", eng)
			}
		}
	}
}

// TestDuplicateWarnings: the same file on two problems is flagged to the
// inspectors (and the bureau), never to unit officers.
func TestDuplicateWarnings(t *testing.T) {
	v := newEnv(t)
	photo := pngFile(42)
	var ids []string
	for _, title := range []string{"甲", "乙"} {
		id := v.create(title, "fuliang")
		v.assign(id, "fuliang")
		ids = append(ids, id)
	}
	u := v.as("fuliang")
	for _, id := range ids {
		u.mustFire(id, workflow.TriggerAccept, url.Values{"plan": {"方案"}})
		wantStatus(t, "upload", u.upload(id, "同一张.png", photo, ""), http.StatusSeeOther)
	}
	u.mustFire(ids[0], workflow.TriggerSubmit, url.Values{"summary": {"完成"}})
	code := "JDZ-2021-0002"
	res := v.as("inspector").get("/problems/" + ids[0])
	wantBody(t, "the inspector's page", res, "也出现在问题 "+code, "虚假整改")
	res = u.get("/problems/" + ids[0])
	wantNot(t, "the unit's page", res, code, "也出现在")
}

// TestExtensions: the lead unit asks, the bureau decides.
func TestExtensions(t *testing.T) {
	v := newEnv(t)
	id := v.create("尾矿库", "fuliang")
	v.assign(id, "fuliang", "city-water")
	b, u := v.as("bureau"), v.as("fuliang")
	res := u.post("/problems/"+id+"/extensions", url.Values{"deadline": {"2021-08-01"}, "reason": {"雨季"}, "version": {u.version(id)}})
	wantStatus(t, "an earlier deadline", res, http.StatusBadRequest)
	wantBody(t, "an earlier deadline", res, "申请的整改时限必须晚于当前时限", "雨季")
	res = u.post("/problems/"+id+"/extensions", url.Values{"deadline": {"2021-12-31"}, "reason": {"雨季施工困难"}, "version": {u.version(id)}})
	wantStatus(t, "a request", res, http.StatusSeeOther)
	wantForms(t, "浮梁县 with a request pending", u, id, "accept", "note", "evidence")
	wantForms(t, "市水利局", v.as("water"), id, "note", "evidence")
	res = b.get("/")
	wantBody(t, "the bureau's start page", res, "待审批延期", "申请延至 2021-12-31")
	wantForms(t, "the bureau", b, id, "reassign", "decision-1", "position")
	res = b.post("/problems/"+id+"/extensions/1/decision", url.Values{"decision": {"approve"}, "note": {"同意"}, "version": {b.version(id)}})
	wantStatus(t, "approve", res, http.StatusSeeOther)
	res = b.get(res.location)
	wantBody(t, "approved", res, "延期申请已审批", "已同意", "2021-12-31（原定 2021-09-22），已延期", "申请延期", "审批延期")
	res = b.post("/problems/"+id+"/extensions/1/decision", url.Values{"decision": {"deny"}, "version": {b.version(id)}})
	wantStatus(t, "decide twice", res, http.StatusConflict)
	wantBody(t, "decide twice", res, "审批延期：该延期申请已经处理")
	res = u.post("/problems/"+id+"/extensions/1/decision", url.Values{"decision": {"approve"}, "version": {u.version(id)}})
	wantStatus(t, "the unit decides", res, http.StatusForbidden)
}

// TestExtensionFormFollowsTheGrace: the page offers 申请延期 exactly while
// the service would take a request: past the deadline only within the
// policy's grace, as the service decides it (not a copy of its rule).
func TestExtensionFormFollowsTheGrace(t *testing.T) {
	v := newEnv(t)
	id := v.create("尾矿库", "fuliang")
	v.assign(id, "fuliang")
	deadline := t0.Add(90 * 24 * time.Hour)
	at := func(when time.Time) *client {
		v.clock.Set(when)
		return v.as("fuliang") // a session of that day
	}
	// Without a grace (the default) the form goes at the deadline.
	wantForms(t, "浮梁县 before the deadline", at(deadline.Add(-time.Hour)), id, "accept", "note", "evidence", "extension")
	wantForms(t, "浮梁县 after the deadline, no grace", at(deadline.Add(time.Hour)), id, "accept", "note", "evidence")
	pol := v.svc.Policy()
	const grace = 3 * workflow.Day
	pol.ExtensionGrace = grace
	if err := v.svc.SetPolicy(pol); err != nil {
		t.Fatal(err)
	}
	wantForms(t, "浮梁县 within the grace", at(deadline.Add(grace-time.Hour)), id, "accept", "note", "evidence", "extension")
	u := at(deadline.Add(grace + time.Hour))
	wantForms(t, "浮梁县 after the grace", u, id, "accept", "note", "evidence")
	res := u.post("/problems/"+id+"/extensions", url.Values{"deadline": {"2022-03-31"}, "reason": {"雨季"}, "version": {u.version(id)}})
	wantStatus(t, "a request after the grace", res, http.StatusForbidden)
	wantBody(t, "a request after the grace", res, "整改时限已过，不能再申请延期")
}

// TestReopenDismissed: a dismissed problem reopens to found without a
// deadline field.
func TestReopenDismissed(t *testing.T) {
	v := newEnv(t)
	id := v.create("误报", "fuliang")
	b := v.as("bureau")
	b.mustFire(id, workflow.TriggerDismiss, url.Values{"reason": {"经核实不属实"}})
	res := b.get("/problems/" + id)
	wantBody(t, "dismissed", res, "已撤销", "经核实不属实")
	form := res.body[strings.Index(res.body, `id="form-reopen"`):]
	form = form[:strings.Index(form, "</form>")]
	if strings.Contains(form, `name="deadline"`) {
		t.Error("reopening a dismissed problem asks for a deadline")
	}
	b.mustFire(id, workflow.TriggerReopen, url.Values{"reason": {"回头看"}})
	v.clock.Advance(time.Minute)
	wantForms(t, "the bureau", b, id, "assign", "dismiss", "position")
}
