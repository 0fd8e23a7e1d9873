package web_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/jdz-eco/rectify/workflow"
)

var reNext = regexp.MustCompile(`<p class="next" id="next-step">下一步：([^<]*)</p>`)

// nextLine is the problem page's 下一步 line as who sees it ("" if none).
func nextLine(t *testing.T, c *client, id string) string {
	t.Helper()
	res := c.get("/problems/" + id)
	wantStatus(t, "the problem page", res, http.StatusOK)
	if m := reNext.FindStringSubmatch(res.body); m != nil {
		return m[1]
	}
	return ""
}

// TestWhoActsNext: the problem page says whose turn it is at every step,
// as the rules have it, to everyone who opens it; a verified problem waits
// on the bureau or an inspector other than the verifier, and appears in
// their 待销号 lists, not in the verifier's.
func TestWhoActsNext(t *testing.T) {
	v := newEnv(t)
	b, u, i1, i2, view := v.as("bureau"), v.as("fuliang"), v.as("inspector"), v.as("inspector2"), v.as("viewer")
	id := v.create("河道非法采砂", "fuliang")
	want := func(line string, who ...*client) {
		t.Helper()
		for _, c := range who {
			if got := nextLine(t, c, id); got != line {
				t.Errorf("下一步 %q, want %q", got, line)
			}
		}
	}
	want("待生态环境局交办。", b, i1, view)
	v.assign(id, "fuliang")
	want("待牵头单位（浮梁县）签收。", b, u)
	u.mustFire(id, workflow.TriggerAccept, url.Values{"plan": {"拆除"}})
	want("待牵头单位（浮梁县）提交验收；提交验收前请先上传佐证材料。", b, u)

	// After 签收 the unit is told why it cannot submit yet, and the upload
	// comes first.
	res := u.get("/problems/" + id)
	wantBody(t, "the unit after 签收", res, `<p class="notice" role="status">提交验收前请先上传佐证材料。</p>`)
	if i, j := strings.Index(res.body, `id="form-evidence"`), strings.Index(res.body, `id="form-note"`); i < 0 || j < 0 || i > j ||
		strings.Index(res.body, `class="notice"`) > i {
		t.Errorf("the notice and the upload do not come first")
	}
	wantNot(t, "the bureau's page", b.get("/problems/"+id), `class="notice"`)

	wantStatus(t, "upload", u.upload(id, "现场.png", pngFile(1), "现场"), http.StatusSeeOther)
	want("待牵头单位（浮梁县）提交验收。", u)
	wantNot(t, "the unit with evidence", u.get("/problems/"+id), `class="notice"`)
	u.mustFire(id, workflow.TriggerSubmit, url.Values{"summary": {"完成"}})
	want("待验收员验收（牵头单位人员除外）。", b, u, i1)

	i1.mustFire(id, workflow.TriggerVerify, url.Values{"opinion": {"通过"}})
	want("待生态环境局或验收员销号（牵头单位人员、验收人除外）。", b, u, i1, i2, view)
	for _, c := range []struct {
		who  *client
		name string
		has  bool
	}{{b, "the bureau", true}, {i2, "another inspector", true}, {i1, "the verifier", false}} {
		res := c.who.get("/")
		sec, ok := splitSections(res.body)["待销号"]
		if !ok {
			t.Errorf("%s's start page has no 待销号:\n%s", c.name, res.body)
			continue
		}
		if strings.Contains(sec, "河道非法采砂") != c.has {
			t.Errorf("%s's 待销号 lists the problem: %v, want %v:\n%s", c.name, !c.has, c.has, sec)
		}
		if c.has && !strings.Contains(sec, "验收员 验收于 ") {
			t.Errorf("%s's 待销号 does not say who verified it:\n%s", c.name, sec)
		}
	}
	if _, ok := splitSections(u.get("/").body)["待销号"]; ok {
		t.Error("the unit's start page has 待销号, though no unit may close")
	}
	i2.mustFire(id, workflow.TriggerClose, url.Values{"statement": {"同意"}})
	want("", b, u)
	if strings.Contains(splitSections(b.get("/").body)["待销号"], "河道非法采砂") {
		t.Error("a closed problem is still in 待销号")
	}
}
