package web_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/jdz-eco/rectify/workflow"
	"github.com/jdz-eco/rectify/workflow/photocheck"
)

// TestEvidenceChecksOnTheProblemPage: the flags of a photo the checks could
// not read show on its item; before and after are side by side; the same
// file again is refused in Chinese; verify offers the flags to acknowledge
// and is refused without them; the inspector records a site check and the
// bureau a position (GCJ-02) through their forms.
func TestEvidenceChecksOnTheProblemPage(t *testing.T) {
	v := newEnv(t)
	v.svc.SetPhotoChecker(photocheck.NewChecker(photocheck.Limits{}))
	b, u, i := v.as("bureau"), v.as("fuliang"), v.as("inspector")
	id := v.create("尾矿库渗漏", "fuliang")
	v.assign(id, "fuliang")
	u.mustFire(id, workflow.TriggerAccept, url.Values{"plan": {"方案"}})
	before := pngFile(21)
	res := u.upload(id, "整改前.png", before, "整改前", [2]string{"csrf", u.csrf}, [2]string{"version", u.version(id)}, [2]string{"phase", "before"})
	wantStatus(t, "the before photo", res, http.StatusSeeOther)
	res = u.upload(id, "整改后.png", pngFile(22), "整改后")
	wantStatus(t, "the after photo", res, http.StatusSeeOther)
	res = u.get("/problems/" + id)
	// The drawn PNGs carry no EXIF: each is flagged so, on its item.
	wantBody(t, "the page", res, `class="compare"`, "<h3>整改前</h3>", "<h3>整改后</h3>", "无拍摄信息", `class="flag no_capture_info"`)
	res = u.upload(id, "整改后.png", pngFile(22), "再传一次")
	wantStatus(t, "the same file again", res, http.StatusConflict)
	wantBody(t, "the same file again", res, "重复上传不算新的整改材料")

	u.mustFire(id, workflow.TriggerSubmit, url.Values{"summary": {"完成"}})
	res = i.get("/problems/" + id)
	wantBody(t, "the inspector's page", res, `name="acknowledged_flags"`, "须逐项确认已知悉", `id="form-site-check"`)
	res = i.fire(id, workflow.TriggerVerify, url.Values{"opinion": {"合格"}})
	wantStatus(t, "verify without acknowledging", res, http.StatusConflict)
	wantBody(t, "verify without acknowledging", res, "2 项核查提示尚未确认")

	res = i.post("/problems/"+id+"/site-checks", url.Values{"result": {"passed"}, "findings": {"现场已整改"}, "version": {i.version(id)}})
	wantStatus(t, "a site check", res, http.StatusSeeOther)
	wantBody(t, "after the site check", i.get(res.location), "现场核查已登记", "整改到位", "现场已整改")

	p, _ := v.svc.Problem(t.Context(), v.users["inspector"].Actor(), id)
	acks := url.Values{"opinion": {"合格"}, "acknowledgement_note": {"材料为截图，现场已核实"}}
	for _, r := range p.UnacknowledgedFlags() {
		acks.Add("acknowledged_flags", r.SHA256+":"+string(r.Code))
	}
	i.mustFire(id, workflow.TriggerVerify, acks)
	wantBody(t, "after verify", b.get("/problems/"+id), "已知悉提示", "材料为截图，现场已核实")

	res = b.post("/problems/"+id+"/position", url.Values{"lat": {"29.3527"}, "lng": {"117.2475"}, "datum": {"gcj02"}, "version": {b.version(id)}})
	wantStatus(t, "a position", res, http.StatusSeeOther)
	wantBody(t, "after the position", b.get(res.location), "问题位置已更新", "（WGS-84）")
	res = b.post("/problems/"+id+"/position", url.Values{"lat": {"95"}, "lng": {"117"}, "version": {b.version(id)}})
	wantStatus(t, "a latitude out of range", res, http.StatusBadRequest)
	wantBody(t, "a latitude out of range", res, "「纬度」超出允许的范围")
}
