package web

import (
	"crypto/subtle"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/jdz-eco/rectify/workflow"
)

// loginForm is the sign-in page's data.
type loginForm struct {
	Token  string // the form's CSRF token, also in the rectify_login cookie
	Name   string
	Next   string
	Error  string
	Notice string
}

// loginPage serves GET /login: the form, with a fresh CSRF token in a
// cookie and a hidden field (a double submit: another site can post the
// form but cannot send the cookie, SameSite=Strict).
func (w *Web) loginPage(c echo.Context) error {
	f := loginForm{Next: safeNext(c.QueryParam("next"))}
	switch c.QueryParam("changed") {
	case "":
	case "tokens":
		f.Notice = "密码已修改，您的全部 API 令牌已吊销。请用新密码登录。"
	default:
		f.Notice = "密码已修改，请用新密码登录。"
	}
	return w.showLogin(c, http.StatusOK, f)
}

func (w *Web) showLogin(c echo.Context, status int, f loginForm) error {
	f.Token = randomToken()
	w.setCookie(c, cookieLogin, f.Token, "/login", 3600)
	if f.Next == "/" {
		f.Next = ""
	}
	return w.render(c, status, "login", "登录", "", f)
}

// login serves POST /login: name and password. The attempt takes its place
// in the sign-in counts (throttle.go) before the password is checked: a
// name, an address or a device with too many wrong passwords is refused for
// a while without checking it. A success sets the session cookie and a
// device cookie (known devices pass the lockouts others trigger) and goes
// to next.
func (w *Web) login(c echo.Context) error {
	ctx := c.Request().Context()
	name := strings.TrimSpace(c.FormValue("name"))
	pw := c.FormValue("password")
	f := loginForm{Name: name, Next: safeNext(c.FormValue("next"))}
	ck, _ := c.Cookie(cookieLogin)
	if sameOrigin(c.Request()) != nil || ck == nil || ck.Value == "" ||
		subtle.ConstantTimeCompare([]byte(ck.Value), []byte(c.FormValue("csrf"))) != 1 {
		f.Error = "登录表单已失效，请重新输入后再登录（浏览器需允许本站的 Cookie）。"
		return w.showLogin(c, http.StatusForbidden, f)
	}
	if name == "" || pw == "" {
		f.Error = "请输入用户名和密码。"
		return w.showLogin(c, http.StatusBadRequest, f)
	}
	ip := c.RealIP()
	device, _, err := w.svc.KnownDevice(ctx, name, deviceCookies(c))
	if err != nil {
		return err
	}
	att, wait := w.throttle.beginSignIn(name, ip, device)
	if att == nil {
		f.Error = "登录失败次数过多，请 " + waitText(wait) + "后再试。"
		return w.showLogin(c, http.StatusTooManyRequests, f)
	}
	defer att.cancel()
	u, id, _, err := w.svc.SignIn(ctx, name, func(hash string) (bool, error) {
		return w.hasher.check(ctx, hash, pw)
	}, w.sessions)
	switch workflow.ErrorCode(err) {
	case "":
	case workflow.CodeUnauthorized:
		w.log.WarnContext(ctx, "sign-in refused", "name", name, "ip", ip, "known_device", device != "")
		f.Error = "用户名或密码错误。"
		if d := att.fail(); d > 0 {
			f.Error += "失败次数过多，请 " + waitText(d) + "后再试。"
		}
		return w.showLogin(c, http.StatusUnauthorized, f)
	case workflow.CodeForbidden:
		w.log.WarnContext(ctx, "sign-in of a disabled user", "name", name, "ip", ip)
		f.Error = "该账号已停用，请联系系统管理员。"
		return w.showLogin(c, http.StatusForbidden, f)
	default:
		return err
	}
	att.succeed()
	w.log.InfoContext(ctx, "signed in", "user", u.ID, "ip", ip, "known_device", device != "")
	w.clearCookie(c, cookieLogin, "/login")
	w.setCookie(c, cookieSession, id, "/", 0)
	if tok, err := w.svc.IssueDevice(ctx, u.ID); err == nil {
		w.setCookie(c, cookieDevice+u.ID, tok, "/login", int(workflow.DeviceMaxAge/time.Second))
	} else {
		w.log.WarnContext(ctx, "device cookie", "user", u.ID, "err", err)
	}
	return c.Redirect(http.StatusSeeOther, f.Next)
}

// maxDeviceCookies bounds the device cookies a sign-in looks at (a browser
// shared by a few users holds one for each).
const maxDeviceCookies = 8

// deviceCookies returns the values of the request's device cookies.
func deviceCookies(c echo.Context) []string {
	var out []string
	for _, ck := range c.Cookies() {
		if strings.HasPrefix(ck.Name, cookieDevice) && len(out) < maxDeviceCookies {
			out = append(out, ck.Value)
		}
	}
	return out
}

// logout serves POST /logout: the session ends in the store, so the cookie
// is worth nothing even if kept.
func (w *Web) logout(c echo.Context) error {
	if ck, err := c.Cookie(cookieSession); err == nil {
		if err := w.svc.SignOut(c.Request().Context(), ck.Value); err != nil {
			return err
		}
	}
	w.clearCookie(c, cookieSession, "/")
	return c.Redirect(http.StatusSeeOther, "/login")
}

// passwordForm is the password page's data.
type passwordForm struct {
	Error string
	Min   int
}

func (w *Web) passwordPage(c echo.Context) error {
	return w.render(c, http.StatusOK, "password", "修改密码", "", passwordForm{Min: MinPassword})
}

// changePassword serves POST /password: the current password (throttled
// like a sign-in), the new one twice, and whether to revoke the user's API
// tokens too. Every session of the user ends, this one too: the user signs
// in again with the new password.
func (w *Web) changePassword(c echo.Context) error {
	ctx := c.Request().Context()
	u := user(c)
	f := passwordForm{Min: MinPassword}
	show := func(status int, msg string) error {
		f.Error = msg
		return w.render(c, status, "password", "修改密码", "", f)
	}
	att, wait := w.throttle.begin(w.throttle.passwordCheck(u.Name, c.RealIP()))
	if att == nil {
		return show(http.StatusTooManyRequests, "密码错误次数过多，请 "+waitText(wait)+"后再试。")
	}
	defer att.cancel()
	current, pw, again := c.FormValue("current"), c.FormValue("new"), c.FormValue("again")
	ok, err := w.svc.CheckPassword(ctx, u.ID, func(hash string) (bool, error) {
		return w.hasher.check(ctx, hash, current)
	})
	if err != nil {
		return err
	}
	if !ok {
		msg := "当前密码不正确。"
		if d := att.fail(); d > 0 {
			msg += "错误次数过多，请 " + waitText(d) + "后再试。"
		}
		return show(http.StatusUnauthorized, msg)
	}
	att.succeed()
	if err := CheckPasswordRules(pw); err != nil {
		return show(http.StatusBadRequest, err.Error()+"。")
	}
	if pw != again {
		return show(http.StatusBadRequest, "两次输入的新密码不一致。")
	}
	newHash, err := w.hasher.hash(ctx, pw)
	if err != nil {
		return err
	}
	revoke := c.FormValue("revoke_tokens") != ""
	if _, err := w.svc.ChangePassword(ctx, u.Actor(), u.ID, workflow.PasswordChange{Hash: newHash, RevokeTokens: revoke}); err != nil {
		return show(statusOf(err), errorText(err, w.evidenceMax))
	}
	w.clearCookie(c, cookieSession, "/")
	if revoke {
		return c.Redirect(http.StatusSeeOther, "/login?changed=tokens")
	}
	return c.Redirect(http.StatusSeeOther, "/login?changed=1")
}
