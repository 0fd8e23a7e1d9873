package main

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The web pages in a real browser: headless Chromium driven by chromedp
// against the real server (Main serve --demo on port 0), one problem from
// logging to write-off through the forms, with one rejection.
//
// Chromium is Debian's package (.ci/run installs it). Without it the test
// fails in CI (CI set) and is skipped elsewhere. RECTIFY_SCREENSHOTS names a
// folder for the screenshots of the ledger and the problem page (default: a
// temporary one).

// chromiumPath finds Chromium, or fails (CI) or skips the test.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := "the browser test needs Chromium: install Debian's chromium (apt-get install chromium), as .ci/run does"
	if ci := os.Getenv("CI"); ci != "" && ci != "false" && ci != "0" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// demoLogin is a demo user's name, password and token as serve --demo
// prints them.
type demoLogin struct{ name, password, token string }

// startDemoServer runs Main serve --demo on port 0 and returns its URL and
// the demo users by role.
func startDemoServer(t *testing.T, db string) (string, map[string]demoLogin) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var out, logs bytes.Buffer
	addrs := make(chan net.Addr, 1)
	done := make(chan error, 1)
	env := Env{Stdout: &out, Stderr: &syncWriter{w: &logs}, Getenv: func(string) string { return "" },
		Listening: func(a net.Addr) { addrs <- a }}
	go func() {
		done <- Main(ctx, []string{"serve", "--db", db, "--addr", "127.0.0.1:0", "--demo", "--scan-interval", "0"}, env)
	}()
	var url string
	select {
	case a := <-addrs:
		url = "http://" + a.String()
	case err := <-done:
		cancel()
		t.Fatalf("serve exited: %v\n%s", err, logs.String())
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	users := map[string]demoLogin{}
	for line := range strings.SplitSeq(out.String(), "\n") {
		// ROLE TOKEN PASSWORD NAME UNIT
		if f := strings.Fields(line); len(f) >= 5 && strings.HasPrefix(f[1], "rt_") {
			users[f[0]] = demoLogin{name: f[3], password: f[2], token: f[1]}
		}
	}
	for _, role := range []string{"bureau", "unit", "inspector"} {
		if users[role].password == "" {
			t.Fatalf("serve --demo printed no password for %s:\n%s", role, out.String())
		}
	}
	return url, users
}

// writePNG writes a generated photo-like PNG and returns its path.
func writePNG(t *testing.T, dir, name string, tint uint8) string {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 320, 240))
	for y := range 240 {
		for x := range 320 {
			img.Set(x, y, color.RGBA{R: uint8(x / 3), G: uint8(120 + y/4), B: tint, A: 255})
		}
	}
	path := filepath.Join(dir, name)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// browser is one headless Chromium tab on the server.
type browser struct {
	t    *testing.T
	ctx  context.Context
	base string
}

func newBrowser(t *testing.T, exe, base string) *browser {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("password-store", "basic"),
		chromedp.Flag("lang", "zh-CN"),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelCtx(); cancelAlloc() })
	// Start the browser without a deadline (it lives as long as ctx), then
	// bound the walk.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start Chromium %s: %v", exe, err)
	}
	tctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(cancel)
	return &browser{t: t, ctx: tctx, base: base}
}

// do runs steps, failing the test with what as context.
func (b *browser) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, steps...); err != nil {
		html, _ := chromedp.Run(b.ctx, chromedp.OuterHTML(chromedp.CSS("main")))
		b.t.Fatalf("%s: %v\npage:\n%s", what, err, html)
	}
}

func (b *browser) text(sel string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

// present reports whether the page has an element matching sel.
func (b *browser) present(sel string) bool {
	b.t.Helper()
	ok, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](fmt.Sprintf("document.querySelector(%q) !== null", sel)))
	if err != nil {
		b.t.Fatal(err)
	}
	return ok
}

// flash waits for the notice a successful form leads to.
func flash(text string) chromedp.Action[chromedp.Void] {
	return chromedp.WaitVisible(`//p[contains(@class,"flash")][contains(., "` + text + `")]`)
}

func (b *browser) signIn(u demoLogin) {
	b.t.Helper()
	b.do("sign in as "+u.name,
		chromedp.Navigate(b.base+"/login"),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/login"]`)),
		chromedp.SetValue(chromedp.CSS(`input[name=name]`), u.name),
		chromedp.SetValue(chromedp.CSS(`input[name=password]`), u.password),
		chromedp.Click(chromedp.CSS(`form[action="/login"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/logout"]`)),
	)
}

func (b *browser) signOut() {
	b.t.Helper()
	b.do("sign out",
		chromedp.Click(chromedp.CSS(`form[action="/logout"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/login"]`)),
	)
}

func (b *browser) open(path string) {
	b.t.Helper()
	b.do("open "+path, chromedp.Navigate(b.base+path), chromedp.WaitVisible(chromedp.CSS("main")))
}

// fire fills trigger t's form on the open problem page and sends it.
func (b *browser) fire(t, label string, fields map[string]string) {
	b.t.Helper()
	form := "#form-" + t
	steps := []chromedp.Action[chromedp.Void]{chromedp.WaitVisible(chromedp.CSS(form))}
	for name, v := range fields {
		steps = append(steps, chromedp.SetValue(chromedp.CSS(form+` [name=`+name+`]`), v))
	}
	steps = append(steps, chromedp.Click(chromedp.CSS(form+` button[type=submit]`)), flash("已完成："+label))
	b.do(t, steps...)
}

func (b *browser) upload(path, description string) {
	b.t.Helper()
	b.do("upload "+filepath.Base(path),
		chromedp.WaitVisible(chromedp.CSS(`#form-evidence`)),
		chromedp.SetValue(chromedp.CSS(`#form-evidence input[name=description]`), description),
		chromedp.SetUploadFiles(chromedp.CSS(`#form-evidence input[type=file]`), []string{path}),
		chromedp.Click(chromedp.CSS(`#form-evidence button[type=submit]`)),
		flash("佐证材料已上传"),
	)
}

// phoneWidth is the viewport width every page must fit: a common phone's
// (iPhone 12 to 15, many Android phones), in CSS pixels.
const phoneWidth = 390

// fitsPhone opens each path at a 390 px wide mobile viewport and checks
// that the page does not scroll sideways (the document is no wider than the
// viewport), then restores the desktop viewport.
func (b *browser) fitsPhone(paths ...string) {
	b.t.Helper()
	b.do("phone viewport", chromedp.EmulateViewport(phoneWidth, 844, chromedp.EmulateMobile, chromedp.EmulateScale(3)))
	defer b.do("desktop viewport", chromedp.EmulateViewport(1280, 900))
	for _, path := range paths {
		b.open(path)
		w, err := chromedp.Run(b.ctx, chromedp.Evaluate[[]int](`[document.documentElement.scrollWidth, window.innerWidth]`))
		if err != nil {
			b.t.Fatalf("width of %s: %v", path, err)
		}
		if w[0] > phoneWidth {
			wide, _ := chromedp.Run(b.ctx, chromedp.Evaluate[[]string](fmt.Sprintf(widestElements, phoneWidth)))
			b.t.Errorf("%s at a %d px viewport is %d px wide (the window: %d px); too wide: %v", path, phoneWidth, w[0], w[1], wide)
		}
	}
}

// widestElements lists the first elements whose right edge passes %d px,
// to say what makes a page too wide.
const widestElements = `Array.from(document.querySelectorAll("body *"))
  .filter(e => e.getBoundingClientRect().right > %d.5)
  .slice(0, 8)
  .map(e => e.tagName.toLowerCase() + (e.className ? "." + String(e.className).replace(/ /g, ".") : "") + " " + Math.round(e.getBoundingClientRect().right) + "px")`

func (b *browser) screenshot(dir, name string, full bool) {
	b.t.Helper()
	shot := chromedp.CaptureScreenshot()
	if full {
		shot = chromedp.FullScreenshot(100) // 100: PNG
	}
	buf, err := chromedp.Run(b.ctx, shot)
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	if !bytes.HasPrefix(buf, []byte("\x89PNG")) {
		b.t.Fatalf("screenshot %s is not a PNG", name)
	}
	if err := os.WriteFile(filepath.Join(dir, name), buf, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

func TestBrowserWalkthrough(t *testing.T) {
	exe := chromiumPath(t)
	shots := os.Getenv("RECTIFY_SCREENSHOTS")
	if shots == "" {
		shots = t.TempDir()
	}
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	base, users := startDemoServer(t, filepath.Join(dir, "rectify.db"))
	before := writePNG(t, dir, "整改前现场.png", 40)
	after := writePNG(t, dir, "补拍现场.png", 200)
	b := newBrowser(t, exe, base)
	deadline := time.Now().AddDate(0, 3, 0).Format(time.DateOnly)

	// Every page fits a phone, for every role, at each step of the way.
	b.fitsPhone("/login", "/public/")

	// The bureau logs the problem and assigns it to 浮梁县.
	b.signIn(users["bureau"])
	b.do("log a problem",
		chromedp.WaitVisible(chromedp.CSS(`form[action="/problems"]`)),
		chromedp.SetValue(chromedp.CSS(`input[name=title]`), "昌江浮梁段河道非法采砂"),
		chromedp.SetValue(chromedp.CSS(`select[name=source]`), "self_inspection"),
		chromedp.SetValue(chromedp.CSS(`select[name=county_id]`), "fuliang"),
		chromedp.SetValue(chromedp.CSS(`select[name=work_point]`), "1"),
		chromedp.SetValue(chromedp.CSS(`input[name=location]`), "浮梁县昌江段"),
		chromedp.SetValue(chromedp.CSS(`textarea[name=description]`), "群众举报昌江浮梁段有非法采砂点，河床受损，需拆除设备、恢复河道。"),
		chromedp.Click(chromedp.CSS(`form[action="/problems"] button[type=submit]`)),
		flash("问题已登记"),
	)
	loc, err := chromedp.Run(b.ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	path := strings.SplitN(strings.TrimPrefix(loc, base), "?", 2)[0]
	if !strings.HasPrefix(path, "/problems/") {
		t.Fatalf("after logging: at %s", loc)
	}
	b.fitsPhone("/", "/ledger", "/ledger/import", "/stats", "/password", "/problems/999999", path)
	b.fire("assign", "交办", map[string]string{
		"lead_unit": "fuliang", "deadline": deadline, "requirements": "拆除采砂设备，恢复河道原貌，建立巡查制度。",
	})

	// The bureau opens a dispatch round (调度) over the open problems.
	b.open("/rounds")
	b.do("open a round",
		chromedp.WaitVisible(chromedp.CSS(`#open-round form`)),
		chromedp.SetValue(chromedp.CSS(`#open-round input[name=title]`), "问题整改进展调度"),
		chromedp.SetValue(chromedp.CSS(`#open-round input[name=due]`), deadline),
		chromedp.Click(chromedp.CSS(`#open-round button[type=submit]`)),
		flash("调度已发起"),
	)
	loc, err = chromedp.Run(b.ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	roundPath := strings.SplitN(strings.TrimPrefix(loc, base), "?", 2)[0]
	if !strings.HasPrefix(roundPath, "/rounds/") || !strings.Contains(b.text("#units"), "浮梁县") {
		t.Fatalf("after opening a round: at %s", loc)
	}
	b.fitsPhone("/rounds", roundPath, "/workpoints/1", "/briefings", "/briefings?period=quarter")

	// The bureau sends 浮梁县 a supervision letter (督办函) about it.
	b.open("/letters")
	b.do("issue a letter",
		chromedp.WaitVisible(chromedp.CSS(`#issue-letter form`)),
		chromedp.SetValue(chromedp.CSS(`#issue-letter select[name=to_unit]`), "fuliang"),
		chromedp.SetValue(chromedp.CSS(`#issue-letter input[name=problems]`), strings.TrimPrefix(path, "/problems/")),
		chromedp.SetValue(chromedp.CSS(`#issue-letter textarea[name=demands]`), "请于收到本函后立即组织拆除采砂设备，并书面回复整改情况。"),
		chromedp.SetValue(chromedp.CSS(`#issue-letter input[name=reply_due]`), deadline),
		chromedp.Click(chromedp.CSS(`#issue-letter button[type=submit]`)),
		flash("督办函已签发"),
	)
	loc, err = chromedp.Run(b.ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	letterPath := strings.SplitN(strings.TrimPrefix(loc, base), "?", 2)[0]
	if s := b.text("#letter"); !strings.HasPrefix(letterPath, "/letters/") || !strings.Contains(s, "号") || !strings.Contains(s, "浮梁县") {
		t.Fatalf("after issuing a letter: at %s\n%s", loc, s)
	}
	b.fitsPhone("/letters", letterPath)
	b.screenshot(shots, "letter.png", true)
	b.signOut()

	// The 浮梁县 officer accepts it, hands in a photo and submits.
	b.signIn(users["unit"])
	b.open(path)
	if b.present("#form-assign") || b.present("#form-verify") {
		t.Error("the unit officer is offered the bureau's or the inspector's forms")
	}
	b.fitsPhone("/", path)
	b.fire("accept", "签收", map[string]string{"plan": "一周内拆除采砂设备，两周内完成河道平整，建立长效巡查机制。"})
	if s := b.text(".side-col"); !strings.HasPrefix(strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(s), "可进行的操作")), "提交验收前请先上传佐证材料") {
		t.Errorf("after 签收 the actions do not start with why submitting waits:\n%s", s)
	}
	b.fitsPhone(path)
	// It files its report in the round, on its phone.
	b.fitsPhone("/rounds", roundPath)
	b.open(roundPath)
	b.do("report in the round",
		chromedp.WaitVisible(chromedp.CSS(`#pending form`)),
		chromedp.SetValue(chromedp.CSS(`#pending form textarea[name=progress]`), "已签收，正在组织拆除采砂设备。"),
		chromedp.SetValue(chromedp.CSS(`#pending form input[name=percent]`), "20"),
		chromedp.Click(chromedp.CSS(`#pending form button[type=submit]`)),
		flash("已报送"),
	)
	if s := b.text("#rows"); !strings.Contains(s, "按时报送") || !strings.Contains(s, "已签收，正在组织拆除采砂设备。") {
		t.Errorf("the round's rows after the report:\n%s", s)
	}
	b.screenshot(shots, "round.png", true)
	b.fitsPhone(roundPath, "/workpoints/1")
	// It replies to the letter, on its phone.
	b.fitsPhone("/letters", letterPath)
	b.open(letterPath)
	b.do("reply to the letter",
		chromedp.WaitVisible(chromedp.CSS(`#reply-form`)),
		chromedp.SetValue(chromedp.CSS(`#reply-form textarea[name=text]`), "已签收督办函，采砂设备正在拆除。"),
		chromedp.Click(chromedp.CSS(`#reply-form button[type=submit]`)),
		flash("已回复"),
	)
	b.fitsPhone(letterPath)
	b.open(path)
	b.upload(before, "拆除采砂设备后的现场")
	b.fire("submit", "提交验收", map[string]string{"summary": "采砂设备已拆除，河道已平整。"})
	b.signOut()

	// An inspector rejects it.
	b.signIn(users["inspector"])
	b.fitsPhone("/", path)
	b.fire("reject", "退回整改", map[string]string{"reason": "缺少河道平整后的全景照片。"})
	b.signOut()

	// The officer hands in another photo and submits again.
	b.signIn(users["unit"])
	b.open(path)
	if b.present("#form-submit") {
		t.Error("submit is offered before new evidence after a rejection")
	}
	b.upload(after, "补拍河道平整后全景")
	b.fire("submit", "提交验收", map[string]string{"summary": "已补充河道平整后的全景照片。"})
	b.signOut()

	// An inspector verifies it; the verifier may not also close it.
	b.signIn(users["inspector"])
	b.open(path)
	// The drawn photos carry no EXIF: each item shows its flag, and verify
	// needs them acknowledged, with a note (issue 16).
	if ev := b.text("#evidence"); strings.Count(ev, "无拍摄信息") < 2 {
		t.Errorf("the evidence does not show its flags:\n%s", ev)
	}
	b.do("the acknowledgements", chromedp.WaitVisible(chromedp.CSS(`#form-verify input[name=acknowledged_flags]`)))
	if n, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](`(() => { const c = document.querySelectorAll("#form-verify input[name=acknowledged_flags]"); c.forEach(x => x.checked = true); return c.length })()`)); err != nil || n != 2 {
		t.Errorf("acknowledgement boxes: %d, %v", n, err)
	}
	b.fire("verify", "验收通过", map[string]string{"opinion": "现场核查属实，整改到位。", "acknowledgement_note": "照片为现场拍摄后转存，已电话核实。"})
	if b.present("#form-close") {
		t.Error("the verifier is offered the close form")
	}
	if s := b.text("#next-step"); !strings.Contains(s, "待生态环境局或验收员销号（牵头单位人员、验收人除外）") {
		t.Errorf("the verifier's page says: %s", s)
	}
	b.signOut()

	// The bureau closes it.
	b.signIn(users["bureau"])
	if s := b.text("main"); !strings.Contains(s, "待销号") || !strings.Contains(s, "昌江浮梁段河道非法采砂") {
		t.Errorf("the bureau's start page does not list the problem to close:\n%s", s)
	}
	b.fitsPhone("/", path)
	b.fire("close", "销号", map[string]string{"statement": "同意销号。"})

	timeline := b.text("#timeline")
	for _, step := range []struct {
		label string
		n     int
	}{
		{"登记问题", 1}, {"交办", 1}, {"签收", 1}, {"上传佐证材料", 2}, {"提交验收", 2},
		{"退回整改", 1}, {"验收通过", 1}, {"销号", 1},
		{"缺少河道平整后的全景照片", 1}, {users["unit"].name, 4}, {users["inspector"].name, 2},
	} {
		if got := strings.Count(timeline, step.label); got < step.n {
			t.Errorf("the timeline shows %q %d times, want at least %d:\n%s", step.label, got, step.n, timeline)
		}
	}
	if s := b.text(".head"); !strings.Contains(s, "已销号") {
		t.Errorf("the problem's state: %s", s)
	}
	if n, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](`document.querySelectorAll("#evidence img").length`)); err != nil || n != 2 {
		t.Errorf("evidence thumbnails: %d, %v", n, err)
	}
	// The thumbnails are the photos, served to this user.
	if ok, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](`Array.from(document.querySelectorAll("#evidence img")).every(i => i.complete && i.naturalWidth === 320)`)); err != nil || !ok {
		t.Errorf("evidence thumbnails did not load: %v, %v", ok, err)
	}
	b.fitsPhone(path)
	b.screenshot(shots, "problem.png", true)

	b.open("/ledger")
	if s := b.text("table.list"); !strings.Contains(s, "昌江浮梁段河道非法采砂") || !strings.Contains(s, "已销号") {
		t.Errorf("the ledger lacks the problem:\n%s", s)
	}
	b.screenshot(shots, "ledger.png", false)
	b.signOut()

	// Leaders read the statistics; admins start at the ledger.
	for _, role := range []string{"viewer", "admin"} {
		b.signIn(users[role])
		b.fitsPhone("/", "/ledger", "/stats", path, "/rounds", roundPath, "/letters", letterPath)
		if role == "viewer" {
			b.fitsPhone("/briefings?period=month")
			b.open("/briefings")
			b.screenshot(shots, "briefing.png", true)
		}
		if role == "admin" {
			b.fitsPhone("/admin/reminders")
		}
		b.signOut()
	}
	t.Logf("screenshots in %s", shots)
}
