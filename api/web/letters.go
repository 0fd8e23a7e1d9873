package web

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/jdz-eco/rectify/api/files"
	"github.com/jdz-eco/rectify/workflow"
	"github.com/jdz-eco/rectify/workflow/letterfile"
)

// The pages of supervision letters (督办函): the list (the bureau's form to
// issue one, its drafts; a unit's letters), a letter as a printable
// document with the unit's reply form and the bureau's issue and discard
// buttons for a draft, and the letter as .docx.

// lettersPage is the 督办函 page's data.
type lettersPage struct {
	Form    *letterForm // the bureau's form; nil for others
	Letters []letterRow
	Drafts  []letterRow
	State   string // the state filter
	States  []option
	Unit    bool
}

// letterForm is the bureau's form to issue a letter.
type letterForm struct {
	Values url.Values
	Error  string
	Units  []optgroup
	Kinds  []option
}

// letterRow is one letter of the list.
type letterRow struct {
	ID, DocNo, Kind, Unit, Problems, ReplyDue, State, Created string
	Late                                                      bool
}

// letters serves GET /letters?state=: the letters the user may see.
func (w *Web) letters(c echo.Context) error {
	return w.showLetters(c, http.StatusOK, nil)
}

func (w *Web) showLetters(c echo.Context, status int, form *letterForm) error {
	ctx := c.Request().Context()
	a := actor(c)
	cat, err := w.catalog(ctx)
	if err != nil {
		return err
	}
	lp := lettersPage{State: c.QueryParam("state"), Unit: a.Role == workflow.RoleUnit}
	lp.States = append(lp.States, option{Value: "", Label: "全部", Selected: lp.State == ""})
	for _, s := range workflow.LetterStates {
		if lp.Unit && (s == workflow.LetterDraft || s == workflow.LetterDiscarded) {
			continue
		}
		lp.States = append(lp.States, option{Value: string(s), Label: s.Label(), Selected: lp.State == string(s)})
	}
	if w.svc.MayIssueLetters(a) {
		if form == nil {
			form = &letterForm{Values: url.Values{"kind": {string(workflow.KindSupervision)}}}
			for k, v := range c.QueryParams() {
				if k == "to_unit" || k == "problems" {
					form.Values[k] = v
				}
			}
		}
		form.Units = cat.unitGroups(form.Values["to_unit"], leadKinds...)
		for _, k := range workflow.LetterKinds {
			form.Kinds = append(form.Kinds, option{Value: string(k), Label: k.Label(), Selected: form.Values.Get("kind") == string(k)})
		}
		lp.Form = form
	}
	all, err := w.svc.Letters(ctx, a, workflow.LetterFilter{State: workflow.LetterState(lp.State)})
	if err != nil {
		return err
	}
	for _, l := range all {
		row := letterRowOf(l, cat)
		if l.State == workflow.LetterDraft && lp.State == "" {
			lp.Drafts = append(lp.Drafts, row)
			continue
		}
		lp.Letters = append(lp.Letters, row)
	}
	return w.render(c, status, "letters", "督办函", "letters", lp)
}

func letterRowOf(l *workflow.Letter, cat *catalog) letterRow {
	r := letterRow{ID: l.ID, DocNo: l.DocNo, Kind: l.Kind.Label(), Unit: cat.unitName(l.ToUnit), State: l.State.Label(),
		Problems: strconv.Itoa(len(l.ProblemIDs)) + "个", Created: fmtTime(l.CreatedAt), ReplyDue: fmtDate(l.ReplyDue)}
	if r.DocNo == "" {
		r.DocNo = "（未编号）"
	}
	r.Late = workflow.LetterReplyLate(l, cat.now)
	return r
}

// unitName is unit id's name (the id when unknown).
func (cat *catalog) unitName(id string) string {
	if u, ok := cat.units[id]; ok {
		return u.Name
	}
	return id
}

// issueLetter serves POST /letters (the bureau): to_unit, problems (ids or
// codes, separated by commas, spaces or line feeds), kind, demands,
// reply_due (a date). A refusal shows the list again with the form as sent.
func (w *Web) issueLetter(c echo.Context) error {
	form, err := c.FormParams()
	if err != nil {
		return err
	}
	in, err := w.letterInput(c, form)
	var l *workflow.Letter
	if err == nil {
		l, err = w.svc.IssueLetter(c.Request().Context(), actor(c), in)
	}
	if err != nil {
		if !w.svc.MayIssueLetters(actor(c)) || workflow.ErrorCode(err) == workflow.CodeInternal {
			return err
		}
		return w.showLetters(c, statusOf(err), &letterForm{Values: form, Error: errorText(err, w.evidenceMax)})
	}
	return c.Redirect(http.StatusSeeOther, "/letters/"+url.PathEscape(l.ID)+"?done=letter")
}

// letterInput reads the form of a letter; problems are ids or codes
// (JDZ-2021-0007), each code checked against its problem.
func (w *Web) letterInput(c echo.Context, form url.Values) (workflow.NewLetter, error) {
	in := workflow.NewLetter{ToUnit: form.Get("to_unit"), Kind: workflow.LetterKind(form.Get("kind")), Demands: form.Get("demands")}
	if d := strings.TrimSpace(form.Get("reply_due")); d != "" {
		t, err := workflow.ParseDeadline(d)
		if err != nil {
			return in, workflow.RefuseField(workflow.ReasonBadDate, "reply_due", "reply_due %q is not a date", d)
		}
		in.ReplyDue = t
	}
	for _, tok := range strings.FieldsFunc(form.Get("problems"), func(r rune) bool {
		return r == ',' || r == '，' || r == '、' || r == ' ' || r == '\n' || r == '\r' || r == '\t'
	}) {
		id, err := w.problemRef(c, tok)
		if err != nil {
			return in, err
		}
		in.ProblemIDs = append(in.ProblemIDs, id)
	}
	return in, nil
}

// problemRef returns the id of a problem named by id or code.
func (w *Web) problemRef(c echo.Context, tok string) (string, error) {
	if _, ok := workflow.ParseProblemID(tok); ok {
		return tok, nil
	}
	notFound := workflow.RefuseField(workflow.ReasonProblemNotFound, "problem_ids", "problem %q not found", tok)
	i := strings.LastIndexByte(tok, '-')
	if i < 0 {
		return "", notFound
	}
	n, err := strconv.ParseUint(tok[i+1:], 10, 64)
	if err != nil || n == 0 {
		return "", notFound
	}
	id := workflow.ProblemID(n)
	p, err := w.svc.Problem(c.Request().Context(), actor(c), id)
	if err != nil || !strings.EqualFold(p.Code, tok) {
		return "", notFound
	}
	return id, nil
}

// letterPage is a letter's page: the document as printed, and the forms.
type letterPage struct {
	ID       string
	Doc      *letterfile.Letter
	Columns  []string
	Kind     string
	Unit     string
	ReplyDue string
	Late     bool
	Reply    *replyView
	Problems []letterProblem
	// Forms: the unit's reply (until replied), the bureau's issue and
	// discard of a draft.
	MayReply, MayIssue bool
	Values             url.Values
	Error              string
}

type replyView struct {
	Text, At, By string
	Late         bool
	Evidence     []letterEvidence
}

// letterEvidence is a file a reply points to, on its problem's page.
type letterEvidence struct {
	Name, Link string
}

type letterProblem struct {
	ID, Code, Title string
	// Evidence is the problem's evidence the reply may point to.
	Evidence []option
}

// letter serves GET /letters/:id (and /letters/:id.docx).
func (w *Web) letter(c echo.Context) error {
	if id, ok := strings.CutSuffix(c.Param("id"), ".docx"); ok {
		return w.letterDocx(c, id)
	}
	return w.showLetter(c, http.StatusOK, c.Param("id"), nil, "")
}

func (w *Web) showLetter(c echo.Context, status int, id string, values url.Values, errText string) error {
	ctx := c.Request().Context()
	a := actor(c)
	d, err := w.svc.LetterDocument(ctx, a, id)
	if err != nil {
		return err
	}
	l := d.Letter
	lp := letterPage{ID: l.ID, Doc: letterfile.Compose(d), Columns: letterfile.Columns, Kind: l.Kind.Label(), Unit: d.Unit,
		ReplyDue: fmtDate(l.ReplyDue), Late: workflow.LetterReplyLate(l, d.Now), Values: values, Error: errText,
		MayReply: a.Role == workflow.RoleUnit && a.UnitID == l.ToUnit && l.State == workflow.LetterIssued,
		MayIssue: w.svc.MayIssueLetters(a) && l.State == workflow.LetterDraft}
	if lp.Values == nil {
		lp.Values = url.Values{"demands": {l.Demands}, "reply_due": {dateValue(l.ReplyDue)}}
	}
	if r := l.Reply; r != nil {
		lp.Reply = &replyView{Text: r.Text, At: fmtTime(r.At), By: r.By.Name, Late: r.Late}
		for _, p := range d.Problems {
			for _, e := range p.Evidence {
				if slices.Contains(r.Evidence, e.SHA256) {
					lp.Reply.Evidence = append(lp.Reply.Evidence, letterEvidence{Name: e.Name, Link: "/evidence/" + e.SHA256})
				}
			}
		}
	}
	for _, p := range d.Problems {
		lpb := letterProblem{ID: p.ID, Code: p.Code, Title: p.Title}
		if lp.MayReply {
			for _, e := range p.Evidence {
				lpb.Evidence = append(lpb.Evidence, option{Value: e.SHA256, Label: e.Name, Selected: slices.Contains(lp.Values["evidence"], e.SHA256)})
			}
		}
		lp.Problems = append(lp.Problems, lpb)
	}
	return w.render(c, status, "letter", l.Kind.Label()+" "+l.DocNo, "letters", lp)
}

// dateValue is t's date in Asia/Shanghai for a date input ("" for nil).
func dateValue(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.In(workflow.Shanghai).Format(time.DateOnly)
}

// letterDocx answers with the letter as a Word document.
func (w *Web) letterDocx(c echo.Context, id string) error {
	return files.ServeLetterDocx(c.Response(), c.Request(), w.svc, actor(c), id)
}

// replyLetter serves POST /letters/:id/reply (the addressed unit).
func (w *Web) replyLetter(c echo.Context) error {
	form, err := c.FormParams()
	if err != nil {
		return err
	}
	id := c.Param("id")
	_, err = w.svc.ReplyLetter(c.Request().Context(), actor(c), id, workflow.LetterReplyInput{Text: form.Get("text"), Evidence: form["evidence"]})
	if err != nil {
		return w.letterRefused(c, id, form, err)
	}
	return c.Redirect(http.StatusSeeOther, "/letters/"+url.PathEscape(id)+"?done=letter-reply")
}

// issueDraft serves POST /letters/:id/issue (the bureau): the draft issued
// with the demands and reply due time of the form.
func (w *Web) issueDraft(c echo.Context) error {
	form, err := c.FormParams()
	if err != nil {
		return err
	}
	id := c.Param("id")
	in := workflow.NewLetter{Demands: form.Get("demands")}
	if d := strings.TrimSpace(form.Get("reply_due")); d != "" {
		if in.ReplyDue, err = workflow.ParseDeadline(d); err != nil {
			return w.letterRefused(c, id, form, workflow.RefuseField(workflow.ReasonBadDate, "reply_due", "reply_due %q is not a date", d))
		}
	}
	if _, err := w.svc.IssueDraft(c.Request().Context(), actor(c), id, in); err != nil {
		return w.letterRefused(c, id, form, err)
	}
	return c.Redirect(http.StatusSeeOther, "/letters/"+url.PathEscape(id)+"?done=letter-issue")
}

// discardDraft serves POST /letters/:id/discard (the bureau).
func (w *Web) discardDraft(c echo.Context) error {
	id := c.Param("id")
	if _, err := w.svc.DiscardDraft(c.Request().Context(), actor(c), id); err != nil {
		return w.letterRefused(c, id, nil, err)
	}
	return c.Redirect(http.StatusSeeOther, "/letters?done=letter-discard")
}

// letterRefused shows the letter again with the refusal, or the error page
// when the user may not see the letter or the fault is internal.
func (w *Web) letterRefused(c echo.Context, id string, form url.Values, err error) error {
	switch workflow.ErrorCode(err) {
	case workflow.CodeNotFound, workflow.CodeForbidden, workflow.CodeInternal, workflow.CodeUnavailable:
		return err
	}
	return w.showLetter(c, statusOf(err), id, form, errorText(err, w.evidenceMax))
}
