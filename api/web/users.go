package web

import (
	"net/http"
	"slices"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/jdz-eco/rectify/workflow"
)

// The admins' pages (用户管理): users, their tokens and passwords, and the
// account log. The workflow decides who may (admins); a new token's secret
// is shown once, on the page the form answers with.

// userRow is a user in the list.
type userRow struct {
	ID, Name, Unit, Role, Created string
	Disabled                      bool
}

// eventRow is an account event as the pages show it.
type eventRow struct {
	Seq              uint64
	At, Actor, What  string
	UserID, UserName string
}

// usersPage is the data of /users.
type usersPage struct {
	Users  []userRow
	Events []eventRow
}

// userPage is the data of /users/:id.
type userPage struct {
	User     userRow
	Self     bool
	Tokens   []tokenRow
	Events   []eventRow
	NewToken string // a token just issued, shown this once
	Error    string
	Min      int
}

type tokenRow struct {
	ID, Created, Expires string
	Expired              bool
}

func (w *Web) userRow(c echo.Context, u *workflow.User) userRow {
	unit := u.UnitID
	if un, err := w.svc.Unit(c.Request().Context(), u.UnitID); err == nil {
		unit = un.Name
	}
	return userRow{ID: u.ID, Name: u.Name, Unit: unit, Role: u.Role.Label(), Created: fmtTime(u.CreatedAt), Disabled: u.Disabled}
}

// eventRows returns the account events of user id ("" for all), newest
// first, at most limit.
func (w *Web) eventRows(c echo.Context, names map[string]string, id string, limit int) ([]eventRow, error) {
	var all []workflow.AccountEvent
	for after := uint64(0); ; {
		evs, err := w.svc.AccountEvents(c.Request().Context(), actor(c), after, workflow.MaxEventLimit)
		if err != nil {
			return nil, err
		}
		all = append(all, evs...)
		if len(evs) < workflow.MaxEventLimit {
			break
		}
		after = evs[len(evs)-1].Seq
	}
	var out []eventRow
	for _, e := range slices.Backward(all) {
		if len(out) == limit {
			break
		}
		if id != "" && e.UserID != id {
			continue
		}
		what := workflow.AccountActionLabel(e.Action)
		for _, t := range e.Issued {
			what += "，新令牌 " + t.ID
		}
		for _, t := range e.Revoked {
			what += "，吊销 " + t
		}
		out = append(out, eventRow{Seq: e.Seq, At: fmtTime(e.At), Actor: e.Actor.Name, What: what, UserID: e.UserID, UserName: names[e.UserID]})
	}
	return out, nil
}

// usersList serves GET /users.
func (w *Web) usersList(c echo.Context) error {
	users, err := w.svc.ListUsers(c.Request().Context(), actor(c))
	if err != nil {
		return err
	}
	data := usersPage{}
	names := map[string]string{}
	for i := range users {
		data.Users = append(data.Users, w.userRow(c, &users[i]))
		names[users[i].ID] = users[i].Name
	}
	if data.Events, err = w.eventRows(c, names, "", 50); err != nil {
		return err
	}
	return w.render(c, http.StatusOK, "users", "用户管理", "users", data)
}

// userDetail serves GET /users/:id.
func (w *Web) userDetail(c echo.Context) error {
	return w.showUser(c, http.StatusOK, "", "")
}

// showUser renders /users/:id with a new token or an error.
func (w *Web) showUser(c echo.Context, status int, newToken, msg string) error {
	ctx := c.Request().Context()
	u, err := w.svc.GetUser(ctx, actor(c), c.Param("id"))
	if err != nil {
		return err
	}
	tokens, err := w.svc.UserTokens(ctx, actor(c), u.ID)
	if err != nil {
		return err
	}
	data := userPage{User: w.userRow(c, u), Self: u.ID == user(c).ID, NewToken: newToken, Error: msg, Min: MinPassword}
	now := w.svc.Clock().Now()
	for _, t := range tokens {
		data.Tokens = append(data.Tokens, tokenRow{ID: t.ID(), Created: fmtTime(t.CreatedAt), Expires: fmtDate(t.ExpiresAt), Expired: t.Expired(now)})
	}
	if data.Events, err = w.eventRows(c, map[string]string{u.ID: u.Name}, u.ID, 50); err != nil {
		return err
	}
	if newToken != "" {
		c.Response().Header().Set(echo.HeaderCacheControl, "no-store")
	}
	return w.render(c, status, "user", u.Name+" · 用户管理", "users", data)
}

// userDone redirects to the user's page after a change.
func userDone(c echo.Context, done string) error {
	return c.Redirect(http.StatusSeeOther, "/users/"+c.Param("id")+"?done="+done)
}

// refuseUser shows the user's page with the refusal in Chinese, or the
// error page when there is no page to show (not an admin, no such user).
func (w *Web) refuseUser(c echo.Context, err error) error {
	switch workflow.ErrorCode(err) {
	case workflow.CodeInvalid, workflow.CodeConflict:
		return w.showUser(c, statusOf(err), "", errorText(err, w.evidenceMax))
	case workflow.CodeForbidden, workflow.CodeNotFound:
		if _, gerr := w.svc.GetUser(c.Request().Context(), actor(c), c.Param("id")); gerr == nil {
			return w.showUser(c, statusOf(err), "", errorText(err, w.evidenceMax))
		}
	}
	return err
}

// setUserDisabled serves POST /users/:id/disable and /enable.
func (w *Web) setUserDisabled(disabled bool) echo.HandlerFunc {
	return func(c echo.Context) error {
		if _, err := w.svc.SetUserDisabled(c.Request().Context(), actor(c), c.Param("id"), disabled); err != nil {
			return w.refuseUser(c, err)
		}
		return userDone(c, map[bool]string{true: "user-disable", false: "user-enable"}[disabled])
	}
}

// formExpiry reads the form's 有效期至 (a date, optional).
func formExpiry(c echo.Context) (*time.Time, error) {
	s := c.FormValue("expires")
	if s == "" {
		return nil, nil
	}
	t, err := workflow.ParseDeadline(s)
	if err != nil {
		return nil, workflow.RefuseField(workflow.ReasonBadDate, "expires_at", "a token's expiry must be a date")
	}
	return &t, nil
}

// issueToken serves POST /users/:id/tokens and shows the new token once.
func (w *Web) issueToken(c echo.Context) error {
	exp, err := formExpiry(c)
	if err != nil {
		return w.refuseUser(c, err)
	}
	secret, _, err := w.svc.IssueUserToken(c.Request().Context(), actor(c), c.Param("id"), exp)
	if err != nil {
		return w.refuseUser(c, err)
	}
	return w.showUser(c, http.StatusCreated, secret, "")
}

// rotateToken serves POST /users/:id/tokens/:token/rotate.
func (w *Web) rotateToken(c echo.Context) error {
	secret, _, err := w.svc.RotateToken(c.Request().Context(), actor(c), c.Param("id"), c.Param("token"), nil)
	if err != nil {
		return w.refuseUser(c, err)
	}
	return w.showUser(c, http.StatusCreated, secret, "")
}

// revokeToken serves POST /users/:id/tokens/:token/revoke.
func (w *Web) revokeToken(c echo.Context) error {
	if _, err := w.svc.RevokeTokens(c.Request().Context(), actor(c), c.Param("id"), []string{c.Param("token")}); err != nil {
		return w.refuseUser(c, err)
	}
	return userDone(c, "token-revoke")
}

// resetPassword serves POST /users/:id/password: an admin sets a user's
// password (twice), and revokes the user's API tokens if the box is ticked.
// The right is checked before the password is hashed.
func (w *Web) resetPassword(c echo.Context) error {
	ctx := c.Request().Context()
	if err := workflow.CanManageAccounts(actor(c)); err != nil {
		return err
	}
	pw, again := c.FormValue("new"), c.FormValue("again")
	if err := CheckPasswordRules(pw); err != nil {
		return w.showUser(c, http.StatusBadRequest, "", err.Error()+"。")
	}
	if pw != again {
		return w.showUser(c, http.StatusBadRequest, "", "两次输入的新密码不一致。")
	}
	hash, err := w.hasher.hash(ctx, pw)
	if err != nil {
		return err
	}
	pc := workflow.PasswordChange{Hash: hash, RevokeTokens: c.FormValue("revoke_tokens") != ""}
	if _, err := w.svc.ResetPassword(ctx, actor(c), c.Param("id"), pc); err != nil {
		return w.refuseUser(c, err)
	}
	return userDone(c, "user-password")
}
