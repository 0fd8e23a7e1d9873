package web

import (
	"crypto/subtle"
	"net/http"
	"strings"

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
	if c.QueryParam("changed") != "" {
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

// login serves POST /login: name and password. A name (or a client address)
// with too many wrong passwords is refused for a while without checking the
// password; a success sets the session cookie and goes to next.
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
	ip := c.RealIP()
	if d := w.throttle.wait(nameKey(name), ipKey(ip)); d > 0 {
		f.Error = "登录失败次数过多，请 " + waitText(d) + "后再试。"
		return w.showLogin(c, http.StatusTooManyRequests, f)
	}
	if name == "" || pw == "" {
		f.Error = "请输入用户名和密码。"
		return w.showLogin(c, http.StatusBadRequest, f)
	}
	u, id, _, err := w.svc.SignIn(ctx, name, func(hash string) (bool, error) {
		return w.hasher.check(ctx, hash, pw)
	}, w.sessions)
	if workflow.ErrorCode(err) == workflow.CodeUnauthorized {
		w.log.WarnContext(ctx, "sign-in refused", "name", name, "ip", ip)
		f.Error = "用户名或密码错误。"
		if d := w.throttle.fail(name, ip); d > 0 {
			f.Error += "失败次数过多，请 " + waitText(d) + "后再试。"
		}
		return w.showLogin(c, http.StatusUnauthorized, f)
	}
	if err != nil {
		return err
	}
	w.throttle.succeed(name)
	w.log.InfoContext(ctx, "signed in", "user", u.ID, "ip", ip)
	w.clearCookie(c, cookieLogin, "/login")
	w.setCookie(c, cookieSession, id, "/", 0)
	return c.Redirect(http.StatusSeeOther, f.Next)
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
// like a sign-in), the new one twice. Every session of the user ends, this
// one too: the user signs in again with the new password.
func (w *Web) changePassword(c echo.Context) error {
	ctx := c.Request().Context()
	u := user(c)
	f := passwordForm{Min: MinPassword}
	show := func(status int, msg string) error {
		f.Error = msg
		return w.render(c, status, "password", "修改密码", "", f)
	}
	ip := c.RealIP()
	if d := w.throttle.wait(nameKey(u.Name), ipKey(ip)); d > 0 {
		return show(http.StatusTooManyRequests, "密码错误次数过多，请 "+waitText(d)+"后再试。")
	}
	current, pw, again := c.FormValue("current"), c.FormValue("new"), c.FormValue("again")
	ok, err := w.svc.CheckPassword(ctx, u.ID, func(hash string) (bool, error) {
		return w.hasher.check(ctx, hash, current)
	})
	if err != nil {
		return err
	}
	if !ok {
		msg := "当前密码不正确。"
		if d := w.throttle.fail(u.Name, ip); d > 0 {
			msg += "错误次数过多，请 " + waitText(d) + "后再试。"
		}
		return show(http.StatusUnauthorized, msg)
	}
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
	if err := w.svc.SetPassword(ctx, u.Actor(), u.ID, newHash); err != nil {
		return show(statusOf(err), errorText(err, w.evidenceMax))
	}
	w.throttle.succeed(u.Name)
	w.clearCookie(c, cookieSession, "/")
	return c.Redirect(http.StatusSeeOther, "/login?changed=1")
}
