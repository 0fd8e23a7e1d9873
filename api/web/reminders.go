package web

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/jdz-eco/rectify/workflow"
)

// The admins' 提醒 page: units' robots, users' e-mail addresses and the
// delivery log (docs/design.md#reminders). Secrets are never shown back:
// a robot URL up to its query, a signing secret only as set or not.

// remindersPage is the data of /admin/reminders.
type remindersPage struct {
	Units      []unitContactRow
	Users      []userEmailRow
	Deliveries []deliveryRow
	Error      string
}

type unitContactRow struct {
	ID, Name, DingTalk, WeCom string
	SecretSet                 bool
}

type userEmailRow struct {
	ID, Name, Unit, Email string
}

type deliveryRow struct {
	Created, Kind, Channel, Unit, To, Title, State, Error, Next, Sent string
	Attempts                                                          int
	Failing                                                           bool
}

// textOr is m's text for k, or k itself.
func textOr(m map[string]string, k string) string {
	if t, ok := m[k]; ok {
		return t
	}
	return k
}

// reminders serves GET /admin/reminders.
func (w *Web) reminders(c echo.Context) error { return w.showReminders(c, http.StatusOK, "") }

func (w *Web) showReminders(c echo.Context, status int, msg string) error {
	ctx := c.Request().Context()
	a := actor(c)
	contacts, err := w.svc.Contacts(ctx, a)
	if err != nil {
		return err
	}
	byKey := map[string]workflow.ContactView{}
	for _, ct := range contacts {
		byKey[ct.Key] = ct
	}
	units, err := w.svc.Units(ctx)
	if err != nil {
		return err
	}
	data := remindersPage{Error: msg}
	names := map[string]string{}
	for _, u := range units {
		names[u.ID] = u.Name
		ct := byKey[workflow.ContactKeyUnit(u.ID)]
		data.Units = append(data.Units, unitContactRow{ID: u.ID, Name: u.Name, DingTalk: ct.DingTalkURL, WeCom: ct.WeComURL, SecretSet: ct.DingTalkSecretSet})
	}
	users, err := w.svc.ListUsers(ctx, a)
	if err != nil {
		return err
	}
	userNames := map[string]string{}
	for _, u := range users {
		userNames[u.ID] = u.Name
		if u.Disabled {
			continue
		}
		data.Users = append(data.Users, userEmailRow{ID: u.ID, Name: u.Name, Unit: textOr(names, u.UnitID), Email: byKey[workflow.ContactKeyUser(u.ID)].Email})
	}
	notices, err := w.svc.Deliveries(ctx, a, 100)
	if err != nil {
		return err
	}
	for _, n := range notices {
		row := deliveryRow{Created: fmtTime(n.CreatedAt), Kind: workflow.NoticeKindLabel(n.Kind), Channel: n.Channel.Label(),
			Unit: textOr(names, n.Unit), To: userNames[n.User], Title: n.Title, State: workflow.NoticeStateLabel(n.State),
			Error: n.LastError, Attempts: n.Attempts, Failing: n.State == workflow.NoticePending && n.LastError != ""}
		if n.State == workflow.NoticePending {
			row.Next = fmtTime(n.NextAt)
		}
		if n.SentAt != nil {
			row.Sent = fmtTime(*n.SentAt)
		}
		data.Deliveries = append(data.Deliveries, row)
	}
	return w.render(c, status, "reminders", "提醒", "reminders", data)
}

// refuseReminders shows the page with the refusal in Chinese, or the error
// page when there is no page to show (not an admin).
func (w *Web) refuseReminders(c echo.Context, err error) error {
	switch workflow.ErrorCode(err) {
	case workflow.CodeInvalid, workflow.CodeNotFound, workflow.CodeConflict:
		return w.showReminders(c, statusOf(err), errorText(err, w.evidenceMax))
	}
	return err
}

// setUnitRobots serves POST /admin/reminders/units/:id: a field left empty
// is kept unless its 清除 box is ticked.
func (w *Web) setUnitRobots(c echo.Context) error {
	var in workflow.UnitContactInput
	field := func(name string) *string {
		v := strings.TrimSpace(c.FormValue(name))
		if c.FormValue("clear_"+name) != "" {
			empty := ""
			return &empty
		}
		if v == "" {
			return nil
		}
		return &v
	}
	in.DingTalkURL, in.DingTalkSecret, in.WeComURL = field("dingtalk_url"), field("dingtalk_secret"), field("wecom_url")
	if in.DingTalkURL != nil && *in.DingTalkURL == "" {
		in.DingTalkSecret = nil // clearing the robot clears its secret
	}
	if _, err := w.svc.SetUnitContact(c.Request().Context(), actor(c), c.Param("id"), in); err != nil {
		return w.refuseReminders(c, err)
	}
	return c.Redirect(http.StatusSeeOther, "/admin/reminders?done=reminder-contact")
}

// setUserEmail serves POST /admin/reminders/users/:id.
func (w *Web) setUserEmail(c echo.Context) error {
	if _, err := w.svc.SetUserEmail(c.Request().Context(), actor(c), c.Param("id"), c.FormValue("email")); err != nil {
		return w.refuseReminders(c, err)
	}
	return c.Redirect(http.StatusSeeOther, "/admin/reminders?done=reminder-contact")
}
