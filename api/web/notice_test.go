package web_test

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/jdz-eco/rectify/workflow"
)

// inNotice takes a new self-inspection problem of 浮梁县 through to close
// with notices configured for self-inspections: it is then in notice. The
// unit's photo is uploaded through the page.
func (v *env) inNotice() (id, photo string) {
	v.t.Helper()
	np := workflow.DefaultNoticePolicy()
	np.Sources = append(np.Sources, workflow.SourceSelfInspection)
	if err := v.svc.SetNoticePolicy(np); err != nil {
		v.t.Fatal(err)
	}
	id = v.create("河道非法采砂", "fuliang")
	v.assign(id, "fuliang")
	u := v.as("fuliang")
	u.mustFire(id, workflow.TriggerAccept, url.Values{"plan": {"内部方案"}})
	img := pngFile(7)
	wantStatus(v.t, "upload", u.upload(id, "整改后.png", img, "整改后"), http.StatusSeeOther)
	u.mustFire(id, workflow.TriggerSubmit, url.Values{"summary": {"已清理砂堆"}})
	v.as("inspector").mustFire(id, workflow.TriggerVerify, url.Values{"opinion": {"内部验收意见"}})
	v.as("bureau").mustFire(id, workflow.TriggerClose, url.Values{"statement": {"同意销号"}})
	return id, sha(img)
}

// TestPublicNoticePage: the public page needs no sign-in, shows the
// notice in Chinese with the audit head and only public photos, and takes
// objections (a filled honeypot files nothing); the bureau dismisses one
// and marks the photo public on the problem page.
func TestPublicNoticePage(t *testing.T) {
	v := newEnv(t)
	id, photo := v.inNotice()
	anon := v.anon()
	res := anon.get("/public/")
	wantStatus(t, "public page", res, http.StatusOK)
	head, _ := v.svc.PublicHead(context.Background())
	wantBody(t, "public page", res, "整改销号公示", "河道非法采砂", "浮梁县", "已清理砂堆", "同意销号", "公示中", "提交异议", head.String(), `name="viewport"`)
	wantNot(t, "public page", res, "内部方案", "内部验收意见", "浮梁县干部", "验收员", photo)

	// An objection through the page's form, and a bot's.
	res = anon.post("/public/notices/"+id+"/objections", url.Values{"text": {"砂堆只是被覆盖了"}, "name": {"张三"}})
	wantStatus(t, "objection", res, http.StatusSeeOther)
	wantBody(t, "after the objection", anon.get(res.location), "您的异议已收到")
	wantStatus(t, "honeypot", anon.post("/public/notices/"+id+"/objections", url.Values{"text": {"广告"}, "website": {"spam"}}), http.StatusSeeOther)
	wantStatus(t, "empty objection", anon.post("/public/notices/"+id+"/objections", url.Values{"text": {" "}}), http.StatusBadRequest)
	p, _ := v.svc.Problem(context.Background(), v.users["bureau"].Actor(), id)
	if len(p.Objections) != 1 || p.Objections[0].Name != "张三" {
		t.Fatalf("objections %+v", p.Objections)
	}

	// The bureau's start page queues it; the problem page shows the notice,
	// the objection, its dismissal form, the photo's mark.
	b := v.as("bureau")
	wantBody(t, "bureau's start page", b.get("/"), "待处理异议", "河道非法采砂", "砂堆只是被覆盖了")
	res = b.get("/problems/" + id)
	wantBody(t, "problem page", res, "张三", "公示与异议", "公示期", "砂堆只是被覆盖了", "待处理", "认定异议不成立", "在公示页公开", "异议成立，退回整改")
	wantStatus(t, "dismissal without reason", b.post("/problems/"+id+"/objections/1/dismissal", url.Values{"reason": {""}, "version": {b.version(id)}}), http.StatusBadRequest)
	wantStatus(t, "dismissal", b.post("/problems/"+id+"/objections/1/dismissal", url.Values{"reason": {"经核实已清运"}, "version": {b.version(id)}}), http.StatusSeeOther)
	wantStatus(t, "public photo", b.post("/problems/"+id+"/evidence/"+photo+"/public", url.Values{"public": {"1"}, "version": {b.version(id)}}), http.StatusSeeOther)
	res = b.get("/problems/" + id)
	wantBody(t, "after the dismissal", res, "异议不成立", "经核实已清运", "已公开")
	wantBody(t, "bureau's start page after the dismissal", b.get("/"), "没有待处理的异议")
	// A unit officer sees the section but no forms.
	res = v.as("fuliang").get("/problems/" + id)
	wantBody(t, "unit's page", res, "公示与异议", "砂堆只是被覆盖了")
	wantNot(t, "unit's page: who objected", res, "张三")
	wantNot(t, "unit's page", res, "认定异议不成立", "/objections/1/dismissal", photo+"/public")

	res = anon.get("/public/")
	wantBody(t, "public page with the photo", res, "/api/v1/public/notices/"+id+"/photos/"+photo)
	wantNot(t, "one page only", res, "下一页", "第一页")
	// Pages: past the notices in notice (cursor "c."), none written off yet;
	// a cursor that is not one is refused.
	res = anon.get("/public/?cursor=c.")
	wantStatus(t, "a later page", res, http.StatusOK)
	wantBody(t, "a later page", res, "没有更多公示", `href="/public/"`, "第一页")
	wantNot(t, "a later page", res, "河道非法采砂")
	wantStatus(t, "a bad cursor", anon.get("/public/?cursor=zz"), http.StatusBadRequest)
	if res := anon.get("/api/v1/public/notices/" + id + "/photos/" + photo); res.status != http.StatusOK || !strings.HasPrefix(res.header.Get("Content-Type"), "image/") {
		t.Fatalf("public photo: %d %s", res.status, res.header.Get("Content-Type"))
	}
}

// TestPublicObjectionsLimited: the page's objections count against the
// client address's hourly limit.
func TestPublicObjectionsLimited(t *testing.T) {
	v := newEnv(t)
	id, _ := v.inNotice()
	c := v.anon()
	for range 10 {
		wantStatus(t, "objection", c.post("/public/notices/"+id+"/objections", url.Values{"text": {"异议"}}), http.StatusSeeOther)
	}
	res := c.post("/public/notices/"+id+"/objections", url.Values{"text": {"异议"}})
	wantStatus(t, "over the limit", res, http.StatusTooManyRequests)
	wantBody(t, "over the limit", res, "提交过于频繁")
}

// TestPublicNoticePager: past a page of notices the public page links the
// next (下一页), which lists the rest and links back to the first.
func TestPublicNoticePager(t *testing.T) {
	v := newEnv(t)
	var first, last string
	for i := range 21 {
		id, _ := v.inNotice()
		switch i {
		case 0:
			first = id
		case 20:
			last = id
		}
	}
	anon := v.anon()
	res := anon.get("/public/")
	wantStatus(t, "first page", res, http.StatusOK)
	if n := strings.Count(res.body, "提交异议"); n != 20 {
		t.Fatalf("first page: %d notices, want 20", n)
	}
	wantBody(t, "first page", res, "下一页", `/public/notices/`+first+`/objections`)
	wantNot(t, "first page", res, "第一页", `/public/notices/`+last+`/objections`)
	m := regexp.MustCompile(`href="(/public/\?cursor=[^"]+)">下一页`).FindStringSubmatch(res.body)
	if m == nil {
		t.Fatal("no link to the next page")
	}
	res = anon.get(html.UnescapeString(m[1]))
	wantStatus(t, "second page", res, http.StatusOK)
	wantBody(t, "second page", res, `/public/notices/`+last+`/objections`, "第一页")
	wantNot(t, "second page", res, "下一页", `/public/notices/`+first+`/objections`)
}
