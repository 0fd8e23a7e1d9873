package web_test

import (
	"context"
	"net/http"
	"net/url"
	"testing"

	"github.com/jdz-eco/rectify/workflow"
	"github.com/jdz-eco/rectify/workflow/notify"
)

// TestRemindersPage: an admin sets a unit's robots and a user's address on
// the 提醒 page; a plain-http or private URL and a malformed address are
// refused in Chinese and change nothing; the secret and the access token
// are never shown; nobody else sees the page.
func TestRemindersPage(t *testing.T) {
	v := newEnv(t)
	v.svc.SetAddressCheck(notify.Guard{}.AddressCheck())
	admin := v.as("admin")
	res := admin.get("/admin/reminders")
	wantStatus(t, "提醒", res, http.StatusOK)
	wantBody(t, "提醒", res, "单位群机器人", "浮梁县", "用户电子邮箱", "发送记录", "暂无发送记录", `href="/admin/reminders"`)
	for _, key := range []string{"bureau", "fuliang", "inspector", "viewer"} {
		c := v.as(key)
		wantNot(t, key+"'s pages", c.get("/"), `href="/admin/reminders"`)
		wantStatus(t, key+" on 提醒", c.get("/admin/reminders"), http.StatusForbidden)
		wantStatus(t, key+" setting a robot", c.post("/admin/reminders/units/fuliang", url.Values{"wecom_url": {"https://93.184.216.34/x"}}), http.StatusForbidden)
	}

	res = admin.post("/admin/reminders/units/fuliang", url.Values{"dingtalk_url": {"http://93.184.216.34/robot/send?access_token=x"}})
	wantStatus(t, "a plain-http robot", res, http.StatusBadRequest)
	wantBody(t, "a plain-http robot", res, "须为 https:// 开头的完整网址")
	res = admin.post("/admin/reminders/units/fuliang", url.Values{"wecom_url": {"https://192.168.1.10/cgi-bin/webhook/send?key=k"}})
	wantStatus(t, "a private robot", res, http.StatusBadRequest)
	wantBody(t, "a private robot", res, "指向本机、内网或云平台元数据地址")
	res = admin.post("/admin/reminders/users/"+v.users["fuliang"].ID, url.Values{"email": {"not-an-address"}})
	wantStatus(t, "a bad address", res, http.StatusBadRequest)
	wantBody(t, "a bad address", res, "电子邮箱地址格式有误")
	wantNot(t, "after the refusals", admin.get("/admin/reminders"), "192.168.1.10", "not-an-address", "（已加签）")

	res = admin.post("/admin/reminders/units/fuliang", url.Values{
		"dingtalk_url": {"https://93.184.216.34/robot/send?access_token=tok-secret"}, "dingtalk_secret": {"SECsecret"}})
	wantStatus(t, "set a robot", res, http.StatusSeeOther)
	res = admin.post("/admin/reminders/users/"+v.users["fuliang"].ID, url.Values{"email": {"zs@jdz.gov.cn"}})
	wantStatus(t, "set an address", res, http.StatusSeeOther)
	res = admin.get(res.location)
	wantBody(t, "after saving", res, "提醒联系方式已保存", "https://93.184.216.34/robot/send?…", "（已加签）", "zs@jdz.gov.cn")
	wantNot(t, "after saving", res, "tok-secret", "SECsecret")

	// The delivery log, in Chinese, a failing delivery marked.
	rs := v.svc.Store().(workflow.Reminders)
	if _, err := rs.AddNotice(context.Background(), workflow.Notice{Key: "digest/2021-06-24/0/fuliang/wecom", Kind: workflow.NoticeDigest,
		Channel: workflow.ChannelWeCom, Unit: "fuliang", Title: "每日提醒 2021-06-24", Text: "x", CreatedAt: t0, NextAt: t0}); err != nil {
		t.Fatal(err)
	}
	if _, err := rs.UpdateNotice(context.Background(), "digest/2021-06-24/0/fuliang/wecom", func(n *workflow.Notice) error {
		n.Attempts, n.LastError = 1, "robot answered errcode 93000: invalid webhook url"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	wantBody(t, "the delivery log", admin.get("/admin/reminders"), "每日提醒 2021-06-24", "企业微信", "待发送", `<tr class="warn">`, "errcode 93000")
}
