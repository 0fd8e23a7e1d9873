package web

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"path"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/jdz-eco/rectify/workflow"
	"github.com/jdz-eco/rectify/workflow/ledgerfile"
)

// The ledger import pages (bureau):
//
//	GET  /ledger/import        the upload form and the recent imports
//	POST /ledger/import        check a file (mode=check), or import it as a job (mode=import)
//	GET  /ledger/import/:id    a job's progress bar (the page refreshes itself while it runs), then its result

// routeImport is the import form's route: its body may be a whole file.
const routeImport = "/ledger/import"

// importPage is the import page's data.
type importPage struct {
	MaxFile string
	MaxRows int
	Jobs    []jobLine
	// After a check or a refusal:
	FileName string
	Errors   []rowErrorLine
	More     int
	Checked  *ledgerfile.Result
}

type jobLine struct {
	ID, State, When string
	Done, Total     int
}

type rowErrorLine struct {
	Row    int
	Column string
	Text   string
}

// canImport refuses anyone but the bureau.
func canImport(a workflow.Actor) error { return workflow.CanImportLedger(a) }

// importForm serves GET /ledger/import.
func (w *Web) importForm(c echo.Context) error {
	if err := canImport(actor(c)); err != nil {
		return err
	}
	return w.renderImport(c, http.StatusOK, &importPage{})
}

func (w *Web) renderImport(c echo.Context, status int, ip *importPage) error {
	ip.MaxFile, ip.MaxRows = fmtSize(ledgerfile.MaxFileSize), ledgerfile.MaxRows
	for _, st := range w.imports.List() {
		ip.Jobs = append(ip.Jobs, jobLine{ID: st.ID, State: jobStateLabel(st), When: fmtTime(st.CreatedAt), Done: st.RowsDone, Total: st.RowsTotal})
	}
	return w.render(c, status, "import", "导入台账", "ledger", ip)
}

// importFile serves POST /ledger/import: the form's parts csrf, mode and
// file, in that order. The file is saved to a temporary file and read
// within ledgerfile's bounds while the user waits; a file that reads well
// is checked (mode=check) or imported by a job whose page the user is sent
// to (mode=import).
func (w *Web) importFile(c echo.Context) error {
	a := actor(c)
	if err := canImport(a); err != nil {
		return err
	}
	_ = http.NewResponseController(c.Response()).SetReadDeadline(time.Now().Add(uploadReadWindow))
	up, mode, name, err := w.readImportForm(c)
	if err != nil {
		if isCSRF(err) {
			return err
		}
		return w.renderImport(c, statusOf(err), &importPage{FileName: name, Errors: []rowErrorLine{{Text: importErrorText(err)}}})
	}
	release := up.remove
	defer func() {
		if release != nil {
			release()
		}
	}()
	ctx := c.Request().Context()
	rd, errs, err := ledgerfile.Read(ctx, w.svc, a, up.Upload, w.aliases)
	switch {
	case err != nil:
		return err
	case len(errs) > 0:
		return w.renderImport(c, http.StatusUnprocessableEntity, refusedPage(name, errs))
	case mode == "check":
		res, err := rd.Apply(ctx, w.svc, a, true, nil)
		if err != nil {
			return err
		}
		if len(res.Errors) > 0 {
			return w.renderImport(c, http.StatusUnprocessableEntity, refusedPage(name, res.Errors))
		}
		return w.renderImport(c, http.StatusOK, &importPage{FileName: name, Checked: res})
	}
	st, err := w.imports.Start(a, rd, false, up.remove)
	if err != nil {
		return w.renderImport(c, statusOf(err), &importPage{FileName: name, Errors: []rowErrorLine{{Text: importErrorText(err)}}})
	}
	release = nil
	return c.Redirect(http.StatusSeeOther, "/ledger/import/"+st.ID)
}

func refusedPage(name string, errs []ledgerfile.RowError) *importPage {
	ip := &importPage{FileName: name}
	for _, e := range errs {
		if len(ip.Errors) == 50 {
			ip.More = len(errs) - 50
			break
		}
		ip.Errors = append(ip.Errors, rowErrorLine{Row: e.Row, Column: e.Column, Text: rowErrorText(e)})
	}
	return ip
}

// webUpload is an uploaded file saved to a temporary file.
type webUpload struct {
	ledgerfile.Upload
	remove func()
}

// readImportForm reads the import form: the token first, then the mode,
// then the file, saved (the token is checked before the file is read).
func (w *Web) readImportForm(c echo.Context) (up *webUpload, mode, name string, err error) {
	ct, _, _ := mime.ParseMediaType(c.Request().Header.Get(echo.HeaderContentType))
	mr, mrErr := c.Request().MultipartReader()
	if ct != "multipart/form-data" || mrErr != nil {
		return nil, "", "", workflow.RefuseField(workflow.ReasonFileMissing, "file", "the upload has no part named file")
	}
	var csrf string
	fail := func(err error) (*webUpload, string, string, error) {
		if up != nil {
			up.remove()
		}
		return nil, "", name, err
	}
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return fail(fileTooLarge())
			}
			return fail(workflow.RefuseField(workflow.ReasonMalformed, "file", "the upload is malformed or was cut off"))
		}
		switch part.FormName() {
		case "csrf":
			b, _ := io.ReadAll(io.LimitReader(part, 256))
			csrf = string(b)
		case "mode":
			b, _ := io.ReadAll(io.LimitReader(part, 16))
			mode = string(b)
		case "file":
			if !w.validCSRF(c, csrf) {
				return fail(errCSRF())
			}
			if up != nil {
				return fail(workflow.RefuseField(workflow.ReasonUnknownField, "file", "send one file per import"))
			}
			name = path.Base(strings.ReplaceAll(part.FileName(), `\`, "/"))
			if up, err = saveImport(part); err != nil {
				return fail(err)
			}
		default:
			return fail(workflow.RefuseField(workflow.ReasonUnknownField, part.FormName(), "unknown part %q", part.FormName()))
		}
		part.Close()
	}
	if !w.validCSRF(c, csrf) {
		return fail(errCSRF())
	}
	if up == nil {
		return fail(workflow.RefuseField(workflow.ReasonFileMissing, "file", "the upload has no part named file"))
	}
	if mode != "check" && mode != "import" {
		return fail(workflow.RefuseField(workflow.ReasonUnknownValue, "mode", "mode must be check or import"))
	}
	return up, mode, name, nil
}

func fileTooLarge() error {
	return workflow.RefuseField(workflow.ReasonFileTooLarge, "file", "the ledger file is too large")
}

// oleMagic starts a legacy .xls workbook.
var oleMagic = []byte{0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1}

// saveImport saves a ledger file of at most ledgerfile.MaxFileSize bytes to
// a temporary file and tells its kind by its first bytes.
func saveImport(r io.Reader) (*webUpload, error) {
	f, err := os.CreateTemp("", "rectify-import-*")
	if err != nil {
		return nil, fmt.Errorf("ledger import: %w", err)
	}
	up := &webUpload{remove: func() { f.Close(); os.Remove(f.Name()) }}
	n, err := io.Copy(f, io.LimitReader(r, ledgerfile.MaxFileSize+1))
	head := make([]byte, 8)
	m, _ := f.ReadAt(head, 0)
	head = head[:m]
	switch {
	case err != nil:
		up.remove()
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, fileTooLarge()
		}
		return nil, workflow.RefuseField(workflow.ReasonMalformed, "file", "the upload is malformed or was cut off")
	case n > ledgerfile.MaxFileSize:
		up.remove()
		return nil, fileTooLarge()
	case n == 0:
		up.remove()
		return nil, workflow.RefuseField(workflow.ReasonFileEmpty, "file", "the file is empty")
	case bytes.HasPrefix(head, oleMagic):
		up.remove()
		return nil, workflow.RefuseField(workflow.ReasonFileType, "file", "the file is a legacy .xls workbook")
	}
	up.Upload = ledgerfile.Upload{R: f, Size: n, Kind: ledgerfile.Sniff(head)}
	return up, nil
}

// jobPage is an import job's page.
type jobPage struct {
	ID       string
	State    string
	Running  bool
	Stage    string
	Done     int
	Total    int
	Percent  int
	Result   *ledgerfile.Result
	Errors   []rowErrorLine
	More     int
	Failure  string
	Started  string
	Finished string
}

// importJob serves GET /ledger/import/:id: while the job runs, a progress
// bar on a page that refreshes itself every two seconds (no script); then
// what it did, or why nothing was imported.
func (w *Web) importJob(c echo.Context) error {
	if err := canImport(actor(c)); err != nil {
		return err
	}
	st, ok := w.imports.Status(c.Param("id"))
	if !ok {
		return echo.ErrNotFound
	}
	jp := &jobPage{ID: st.ID, State: jobStateLabel(st), Running: !st.Finished(), Stage: stageLabel(st.Stage),
		Done: st.RowsDone, Total: st.RowsTotal, Result: st.Result, Started: fmtTime(st.CreatedAt)}
	if st.RowsTotal > 0 {
		jp.Percent = st.RowsDone * 100 / st.RowsTotal
	}
	if st.FinishedAt != nil {
		jp.Finished = fmtTime(*st.FinishedAt)
	}
	if len(st.Errors) > 0 {
		rp := refusedPage("", st.Errors)
		jp.Errors, jp.More = rp.Errors, rp.More
	} else if st.State == ledgerfile.JobFailed {
		jp.Failure = jobFailureText(st)
	}
	return w.render(c, http.StatusOK, "importjob", "导入进度", "ledger", jp)
}

func jobStateLabel(st ledgerfile.JobStatus) string {
	switch st.State {
	case ledgerfile.JobQueued:
		return "排队中"
	case ledgerfile.JobRunning:
		return "进行中"
	case ledgerfile.JobDone:
		return "已完成"
	}
	return "未导入"
}

func stageLabel(s ledgerfile.Stage) string {
	switch s {
	case ledgerfile.StageChecking:
		return "核对台账"
	case ledgerfile.StageWriting:
		return "写入"
	}
	return "等待"
}

// jobFailureText says in Chinese why a job imported nothing.
func jobFailureText(st ledgerfile.JobStatus) string {
	switch {
	case st.Reason == workflow.ReasonImportTimeout, st.Reason == workflow.ReasonServerStopped:
		t, _ := reasonText(&workflow.Error{Reason: st.Reason}, 0)
		return t
	case st.Code == string(workflow.CodeConflict):
		return "导入期间有相同的问题被他人导入，未导入任何问题；重新导入该文件是安全的（已有的问题会跳过）。"
	}
	return "导入失败，未导入任何问题；重新导入该文件是安全的（已有的问题会跳过）。如再次失败请联系管理员。"
}

// importErrorText is the Chinese text of a refusal of the form itself.
func importErrorText(err error) string {
	switch workflow.ErrorReason(err) {
	case workflow.ReasonFileTooLarge:
		return fmt.Sprintf("文件过大，台账文件不能超过 %s。", fmtSize(ledgerfile.MaxFileSize))
	case workflow.ReasonFileType:
		return "这是旧版 .xls 工作簿；请在 Excel 中另存为 .xlsx 或 .csv 后再导入。"
	case workflow.ReasonImportsBusy:
		return "已有多个导入在等待，请稍后再试。"
	case workflow.ReasonFileEmpty:
		return "文件为空，请重新选择。"
	case workflow.ReasonFileMissing:
		return "请选择要导入的文件。"
	case workflow.ReasonUnknownValue:
		return "请选择「检查」或「导入」。"
	}
	return "上传失败，请重新选择文件后重试。"
}

// rowErrorText is the Chinese text of a row error of an import, from its
// rule (the English reason is the API's; it is shown only for a rule the
// pages do not know).
func rowErrorText(e ledgerfile.RowError) string {
	if e.Column == ledgerfile.ColPosition {
		return "经纬度无法识别：请写作「纬度, 经度」（WGS-84，如 29.292100, 117.207800）。"
	}
	switch e.Rule {
	case workflow.ReasonRequired:
		return "必填项为空。"
	case workflow.ReasonUnknownUnit:
		return "单位名称无法识别：「" + e.Value + "」。"
	case workflow.ReasonUnknownValue:
		if e.Column == ledgerfile.ColSource {
			return "问题来源无法识别：「" + e.Value + "」。"
		}
	case workflow.ReasonNotCounty:
		return "不是县（市、区）或功能区。"
	case workflow.ReasonBadDate, workflow.ReasonOutOfRange:
		return "日期无法识别（可写作 2021-12-31、2021/12/31 或 2021年12月31日）。"
	case workflow.ReasonUnknownWorkPoint:
		return "工作要点无法识别。"
	case workflow.ReasonUnitListedTwice:
		return "配合单位有重复。"
	case workflow.ReasonLeadCooperates:
		return "牵头单位不能同时是配合单位。"
	case workflow.ReasonTooLong:
		return "内容过长。"
	}
	if t, ok := reasonText(&workflow.Error{Reason: e.Rule}, 0); ok && e.Rule != "" {
		return t
	}
	return e.Reason
}
