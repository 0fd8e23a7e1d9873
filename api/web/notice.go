package web

import (
	"context"
	"net/url"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/jdz-eco/rectify/workflow"
)

// noticeView is the problem page's public notice section (公示): its
// dates, the objections (with the bureau's dismissal forms) and, for the
// bureau, which photos the public page shows.
type noticeView struct {
	Start, End, Closer string
	Running            bool
	Objections         []objectionRow
	Photos             []publicPhotoRow // the bureau's: every photo with its public mark
}

type objectionRow struct {
	ID, At, Text, Name, Contact, Status, Reason, DecidedAt string
	Dismiss                                                *plainForm
}

type publicPhotoRow struct {
	SHA, Name, Phase string
	Public           bool
}

// noticeOf returns p's notice section for a, or nil when p has had no
// notice and no objection.
func noticeOf(a workflow.Actor, p *workflow.Problem, stateOf func(string) (string, url.Values)) *noticeView {
	if p.Notice == nil && len(p.Objections) == 0 {
		return nil
	}
	v := &noticeView{}
	if n := p.Notice; n != nil {
		v.Start, v.End, v.Running = fmtTime(n.Start), fmtTime(n.End), p.State == workflow.StateInNotice
		v.Closer = "期满且无未处理异议时由系统自动销号"
		if n.By == workflow.RoleBureau {
			v.Closer = "期满且无未处理异议时由督办管理人员销号"
		}
	}
	bureau := a.Role == workflow.RoleBureau
	for _, o := range p.Objections {
		r := objectionRow{ID: o.ID, At: fmtTime(o.At), Text: o.Text, Status: o.Status.Label(), Reason: o.Reason}
		if workflow.SeesObjectors(a) {
			r.Name, r.Contact = o.Name, o.Contact
		}
		if o.DecidedAt != nil {
			r.DecidedAt = fmtTime(*o.DecidedAt)
		}
		if bureau && o.Status == workflow.ObjectionOpen {
			msg, vals := stateOf("dismissal:" + o.ID)
			r.Dismiss = plain(msg, vals, "reason")
		}
		v.Objections = append(v.Objections, r)
	}
	if bureau {
		for _, e := range p.Evidence {
			if isImage(e.Type) {
				v.Photos = append(v.Photos, publicPhotoRow{SHA: e.SHA256, Name: e.Name, Phase: e.Phase.Label(), Public: e.Public})
			}
		}
	}
	return v
}

func isImage(t string) bool { return len(t) > 6 && t[:6] == "image/" }

// dismissObjection serves POST /problems/:id/objections/:oid/dismissal:
// reason and version.
func (w *Web) dismissObjection(c echo.Context) error {
	form, err := c.FormParams()
	if err != nil {
		return err
	}
	oid := c.Param("oid")
	_, err = w.svc.DismissObjection(c.Request().Context(), actor(c), c.Param("id"), oid, form.Get("reason"), formVersion(form.Get("version")))
	if err != nil {
		return w.refused(c, "dismissal:"+oid, err, form)
	}
	return w.redirectProblem(c, "dismissal")
}

// setEvidencePublic serves POST /problems/:id/evidence/:sha256/public:
// public (1 or empty) and version.
func (w *Web) setEvidencePublic(c echo.Context) error {
	form, err := c.FormParams()
	if err != nil {
		return err
	}
	_, err = w.svc.SetEvidencePublic(c.Request().Context(), actor(c), c.Param("id"), c.Param("sha256"), form.Get("public") == "1", formVersion(form.Get("version")))
	if err != nil {
		return w.refused(c, "public", err, form)
	}
	return w.redirectProblem(c, "public")
}

// truncate shortens s to at most n characters, marking a cut with …
func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}

// objectionSection is the bureau's start page queue of open objections
// (待处理异议), one row per problem in notice with some.
func (w *Web) objectionSection(ctx context.Context, a workflow.Actor, cat *catalog) (section, error) {
	sec := section{Title: "待处理异议", Hint: "公示期间公众提出的异议，须认定成立（退回整改）或不成立。", Empty: "没有待处理的异议。", Note: "异议"}
	q, err := w.svc.ObjectionQueue(ctx, a)
	if err != nil {
		return sec, err
	}
	seen := map[string]int{}
	for _, x := range q {
		if i, ok := seen[x.Problem.ID]; ok {
			sec.Rows[i].Note = strconv.Itoa(x.Problem.OpenObjections()) + " 条待处理"
			continue
		}
		r := cat.row(x.Problem)
		r.Note = truncate(x.Objection.Text, 20)
		seen[x.Problem.ID] = len(sec.Rows)
		sec.Rows = append(sec.Rows, r)
	}
	return sec, nil
}
