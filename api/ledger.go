package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"os"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/jdz-eco/rectify/api/files"
	"github.com/jdz-eco/rectify/workflow"
	"github.com/jdz-eco/rectify/workflow/ledgerfile"
)

// The ledger (整改台账) as an Excel workbook, both ways, and its statistics:
//
//	GET  /api/v1/ledger.xlsx     the problem list's filters and as_of → ledgerfile.WriteLedger
//	POST /api/v1/ledger/import   a .xlsx or .csv, multipart or raw → ledgerfile.ImportFile
//	GET  /api/v1/stats           group_by and as_of → workflow.Service.Stats

// routeLedgerImport is the route of POST /ledger/import: limitBody holds it
// to ledgerImportBodyLimit instead of Config.BodyLimit.
const routeLedgerImport = "/api/v1/ledger/import"

// ledgerImportBodyLimit is the largest body of a ledger import: the file
// (at most ledgerfile.MaxFileSize) and, for a multipart upload, its boundaries
// and part headers.
const ledgerImportBodyLimit = ledgerfile.MaxFileSize + multipartAllowance

func ledgerTooLarge() error {
	return workflow.RefuseField(workflow.ReasonFileTooLarge, "file", "the ledger file is larger than %s", formatBytes(ledgerfile.MaxFileSize))
}

// asOfParam reads the as_of query parameter (workflow.ParseAsOf): a date
// means the end of that day in Asia/Shanghai. Zero when absent or empty.
func asOfParam(q url.Values) (time.Time, error) {
	v, err := query(q, "as_of")
	if err != nil || v == "" {
		return time.Time{}, err
	}
	return workflow.ParseAsOf(v)
}

// exportParams are the query parameters of GET /ledger.xlsx: the problem
// list's (limit and cursor accepted and ignored: the export is the whole
// filtered ledger) and as_of.
var exportParams = append(slices.Clone(listFilterParams), "as_of")

// exportLedger serves GET /ledger.xlsx: the ledger the caller may see,
// filtered as the problem list is, now or as it stood at as_of, as an .xlsx
// workbook (sheets 整改台账 and 统计), streamed as the ledger is read
// (ledgerfile.WriteLedger): its first bytes leave before any problem is
// read. A bad filter is an ordinary error response; a failure after the
// first byte aborts the connection, so that the client cannot take a
// truncated file for a whole one.
func (s *server) exportLedger(c echo.Context) error {
	q := c.QueryParams()
	if err := checkQuery(q, exportParams...); err != nil {
		return err
	}
	f, err := problemFilter(q)
	if err != nil {
		return err
	}
	f.Cursor, f.Limit = "", 0
	asOf, err := asOfParam(q)
	if err != nil {
		return err
	}
	day := asOf
	if day.IsZero() {
		day = s.svc.Clock().Now()
	}
	stamp := day.In(workflow.Shanghai).Format("20060102")
	disposition := files.ContentDispositionFallback("attachment", "台账-"+stamp+".xlsx", "ledger-"+stamp+".xlsx")
	w := &startOnWrite{c: c, start: func(h http.Header) {
		h.Set(echo.HeaderContentType, ledgerfile.ContentType)
		h.Set(echo.HeaderContentDisposition, disposition)
		h.Set(echo.HeaderCacheControl, "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
	}}
	ctx := c.Request().Context()
	if err := ledgerfile.WriteLedger(ctx, w, s.svc, actor(c), f, asOf); err != nil {
		if !w.started {
			return err
		}
		s.log.ErrorContext(ctx, "ledger export failed while streaming", "err", err, "request_id", requestIDOf(c))
		panic(http.ErrAbortHandler)
	}
	w.begin()
	return nil
}

// importRefusal is the 422 answer to a ledger import with row errors: an
// RFC 9457 body (code invalid) carrying the import's result, whose errors
// say row, column and reason. Nothing was written.
type importRefusal struct {
	problemDetail
	*ledgerfile.Result
}

// importSyncRows is the most rows an import answers with its result (200);
// a larger one, or one asked Prefer: respond-async, answers 202 with its
// job.
const importSyncRows = 1000

// importLedger serves POST /ledger/import?dry_run=true|false (bureau): a
// ledger file (.xlsx or .csv) as a multipart/form-data part named file or as
// the raw body (Content-Type text/csv or the .xlsx type), at most
// ledgerfile.MaxFileSize. The role is checked before the body is read; the
// file is saved to a temporary file and read within the bounds of
// ledgerfile (the reading stops if the client goes away). Row errors are
// 422 (code invalid) with every error and nothing written. A dry run
// answers 200 with what would be done. A real import runs as a job
// (ledgerfile.Jobs), which ends the same whether the client stays or not;
// up to importSyncRows rows, the answer waits for it (200 with the result,
// or its refusal); a larger file, or Prefer: respond-async, is 202 with the
// job's status and its address in Location (GET /ledger/import-jobs/{id}).
// dry_run defaults to false.
func (s *server) importLedger(c echo.Context) error {
	q := c.QueryParams()
	if err := checkQuery(q, "dry_run"); err != nil {
		return err
	}
	dry, err := query(q, "dry_run")
	if err != nil {
		return err
	}
	var dryRun bool
	switch dry {
	case "", "false":
	case "true":
		dryRun = true
	default:
		return apiError(workflow.CodeInvalid, "dry_run", fmt.Sprintf("dry_run must be true or false, not %q", dry))
	}
	a := actor(c)
	if err := workflow.CanImportLedger(a); err != nil {
		return err
	}
	// A large file on a slow line may take longer than the server's
	// ReadTimeout; the caller is known to be allowed to send it.
	_ = http.NewResponseController(c.Response()).SetReadDeadline(time.Now().Add(uploadReadWindow))
	up, err := readLedgerUpload(c)
	if err != nil {
		return err
	}
	release := up.remove
	defer func() {
		if release != nil {
			release()
		}
	}()
	ctx := c.Request().Context()
	rd, errs, err := ledgerfile.Read(ctx, s.svc, a, up.Upload, s.aliases)
	switch {
	case err != nil:
		return err
	case len(errs) > 0:
		return s.refuseImport(c, &ledgerfile.Result{DryRun: dryRun, Rows: []ledgerfile.RowResult{}, Errors: errs})
	case dryRun:
		res, err := rd.Apply(ctx, s.svc, a, true, nil)
		if err != nil {
			return err
		}
		if len(res.Errors) > 0 {
			return s.refuseImport(c, res)
		}
		return c.JSON(http.StatusOK, res)
	}
	st, err := s.imports.Start(a, rd, false, up.remove)
	if err != nil {
		return err
	}
	release = nil // the job removes the file
	s.log.InfoContext(ctx, "ledger import started", "job", st.ID, "rows", st.RowsTotal, "by", a.ID, "request_id", requestIDOf(c))
	if rd.Rows > importSyncRows || preferAsync(c.Request().Header) {
		return s.acceptedImport(c, st)
	}
	// The job goes on if the client leaves.
	st, err = s.imports.Wait(ctx, st.ID)
	if err != nil {
		return err
	}
	return s.answerImport(c, st)
}

// preferAsync reports whether the request's Prefer headers (RFC 7240) ask
// for respond-async.
func preferAsync(h http.Header) bool {
	for _, line := range h.Values("Prefer") {
		for pref := range strings.SplitSeq(line, ",") {
			pref, _, _ = strings.Cut(pref, ";")
			if strings.EqualFold(strings.TrimSpace(pref), "respond-async") {
				return true
			}
		}
	}
	return false
}

// acceptedImport answers 202 with a job's status and address.
func (s *server) acceptedImport(c echo.Context, st ledgerfile.JobStatus) error {
	h := c.Response().Header()
	h.Set(echo.HeaderLocation, importJobPath(st.ID))
	h.Set("Retry-After", "1")
	if preferAsync(c.Request().Header) {
		h.Set("Preference-Applied", "respond-async")
	}
	return c.JSON(http.StatusAccepted, st)
}

// answerImport answers a finished job as the import itself: 200 with the
// result, 422 with the rows refused, or the error that failed it.
func (s *server) answerImport(c echo.Context, st ledgerfile.JobStatus) error {
	switch {
	case st.State == ledgerfile.JobDone:
		res := st.Result
		s.log.InfoContext(c.Request().Context(), "ledger imported", "job", st.ID, "created", res.Created, "assigned", res.Assigned,
			"skipped", res.Skipped, "request_id", requestIDOf(c))
		return c.JSON(http.StatusOK, res)
	case len(st.Errors) > 0:
		return s.refuseImport(c, st.Result)
	}
	code := workflow.Code(st.Code)
	if code == "" || code == workflow.CodeInternal {
		return fmt.Errorf("ledger import job %s: %s", st.ID, st.Error)
	}
	return apiError(code, "file", st.Error)
}

func importJobPath(id string) string { return "/api/v1/ledger/import-jobs/" + id }

// importJob serves GET /ledger/import-jobs/{id} (bureau): a job's status:
// queued, running (its stage and rows done of the total), done (its result)
// or failed (its row errors, or why). A job is kept for
// ledgerfile.JobKeep after it ends, in the memory of the server that ran
// it; a job lost to a restart is 404, and wrote nothing.
func (s *server) importJob(c echo.Context) error {
	if err := checkQuery(c.QueryParams()); err != nil {
		return err
	}
	if err := workflow.CanImportLedger(actor(c)); err != nil {
		return err
	}
	st, ok := s.imports.Status(c.Param("id"))
	if !ok {
		return workflow.Refuse(workflow.ReasonImportJobNotFound, "import job %s not found (a job is kept for %s after it ends, by the server that ran it)",
			c.Param("id"), ledgerfile.JobKeep)
	}
	if !st.Finished() {
		c.Response().Header().Set("Retry-After", "1")
	}
	return c.JSON(http.StatusOK, st)
}

// refuseImport answers 422 with res's row errors.
func (s *server) refuseImport(c echo.Context, res *ledgerfile.Result) error {
	first := res.Errors[0]
	detail := fmt.Sprintf("the file has %d error(s), nothing was imported; first: %s", len(res.Errors), first.Error())
	body := importRefusal{
		problemDetail: problemDetail{
			Type: "urn:rectify:error:" + string(workflow.CodeInvalid), Title: http.StatusText(http.StatusUnprocessableEntity),
			Status: http.StatusUnprocessableEntity, Detail: detail, Code: workflow.CodeInvalid,
			Instance: c.Request().URL.Path, Field: "file",
		},
		Result: res,
	}
	s.metrics.refusal(string(workflow.CodeInvalid))
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, mimeProblem)
	h.Set("X-Content-Type-Options", "nosniff")
	c.Response().WriteHeader(http.StatusUnprocessableEntity)
	return json.NewEncoder(c.Response()).Encode(body)
}

// ledgerUpload is an import's file, saved to a temporary file that remove
// deletes.
type ledgerUpload struct {
	ledgerfile.Upload
	remove func()
}

// readLedgerUpload saves the file of a ledger import and decides its kind
// from its Content-Type (raw body), or its part's file name or Content-Type
// (multipart), and its first bytes.
func readLedgerUpload(c echo.Context) (*ledgerUpload, error) {
	req := c.Request()
	ct, _, _ := mime.ParseMediaType(req.Header.Get(echo.HeaderContentType))
	var (
		up       *ledgerUpload
		declared string
		err      error
	)
	switch ct {
	case "text/csv", ledgerfile.ContentType:
		declared = kindOfType(ct)
		if up, err = saveLedgerFile(req.Body); err != nil {
			return nil, err
		}
	case "multipart/form-data":
		if up, declared, err = readLedgerPart(req); err != nil {
			return nil, err
		}
	default:
		return nil, apiError(workflow.CodeUnsupportedType, "Content-Type",
			"a ledger import is multipart/form-data with a part named file, or the file itself as text/csv or "+ledgerfile.ContentType)
	}
	head := make([]byte, 8)
	n, _ := up.R.ReadAt(head, 0)
	kind, err := ledgerKind(head[:n], declared)
	if err != nil {
		up.remove()
		return nil, err
	}
	up.Kind = kind
	return up, nil
}

// readLedgerPart saves the one part named file of a multipart body.
func readLedgerPart(req *http.Request) (*ledgerUpload, string, error) {
	mr, err := req.MultipartReader()
	if err != nil {
		return nil, "", apiError(workflow.CodeInvalid, "Content-Type", "the multipart/form-data body has no boundary")
	}
	var (
		up       *ledgerUpload
		declared string
	)
	fail := func(err error) (*ledgerUpload, string, error) {
		if up != nil {
			up.remove()
		}
		return nil, "", err
	}
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fail(ledgerReadError(err))
		}
		switch name := part.FormName(); name {
		case "file":
			if up != nil {
				return fail(apiError(workflow.CodeInvalid, "file", "send one file per import"))
			}
			declared = kindOfName(part.FileName())
			if declared == "" {
				pt, _, _ := mime.ParseMediaType(part.Header.Get(echo.HeaderContentType))
				declared = kindOfType(pt)
			}
			if up, err = saveLedgerFile(part); err != nil {
				return fail(err)
			}
		default:
			return fail(apiError(workflow.CodeInvalid, name, fmt.Sprintf("unknown part %q; a ledger import has one part, file", name)))
		}
		part.Close()
	}
	if up == nil {
		return nil, "", apiError(workflow.CodeInvalid, "file", "the upload has no part named file")
	}
	return up, declared, nil
}

// saveLedgerFile saves a ledger file of at most ledgerfile.MaxFileSize bytes
// to a temporary file.
func saveLedgerFile(r io.Reader) (*ledgerUpload, error) {
	f, err := os.CreateTemp("", "rectify-import-*")
	if err != nil {
		return nil, fmt.Errorf("ledger import: %w", err)
	}
	remove := func() {
		f.Close()
		os.Remove(f.Name())
	}
	n, err := io.Copy(f, io.LimitReader(r, ledgerfile.MaxFileSize+1))
	switch {
	case err != nil:
		remove()
		var pe *os.PathError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("ledger import: save the file: %w", err)
		}
		return nil, ledgerReadError(err)
	case n > ledgerfile.MaxFileSize:
		remove()
		return nil, ledgerTooLarge()
	case n == 0:
		remove()
		return nil, apiError(workflow.CodeInvalid, "file", "the file is empty")
	}
	return &ledgerUpload{Upload: ledgerfile.Upload{R: f, Size: n}, remove: remove}, nil
}

// ledgerReadError classifies a failure to read an import's body.
func ledgerReadError(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return ledgerTooLarge()
	}
	return apiError(workflow.CodeInvalid, "", "the request body is malformed or truncated")
}

// kindOfType is the kind of ledger file a media type declares, or "".
func kindOfType(mediaType string) string {
	switch mediaType {
	case "text/csv":
		return ledgerfile.KindCSV
	case ledgerfile.ContentType:
		return ledgerfile.KindXLSX
	}
	return ""
}

// kindOfName is the kind of ledger file a file name declares, or "".
func kindOfName(name string) string {
	switch strings.ToLower(path.Ext(strings.ReplaceAll(name, `\`, "/"))) {
	case ".csv":
		return ledgerfile.KindCSV
	case ".xlsx":
		return ledgerfile.KindXLSX
	}
	return ""
}

// oleMagic starts a legacy .xls workbook (an OLE compound file).
var oleMagic = []byte{0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1}

// ledgerKind decides what a file starting with data is: the declared kind,
// which must agree with the content (an .xlsx workbook is a zip file;
// anything else is taken for CSV), or the content's when nothing was
// declared. A legacy .xls workbook and a disagreement are 415.
func ledgerKind(data []byte, declared string) (string, error) {
	if bytes.HasPrefix(data, oleMagic) {
		return "", apiError(workflow.CodeUnsupportedType, "file", "the file is a legacy .xls workbook; save it as .xlsx (Excel Workbook) or .csv")
	}
	sniffed := ledgerfile.Sniff(data)
	switch {
	case declared == "" || declared == sniffed:
		return sniffed, nil
	case declared == ledgerfile.KindXLSX:
		return "", apiError(workflow.CodeUnsupportedType, "file", "the file is declared an .xlsx workbook but is not one")
	}
	return "", apiError(workflow.CodeUnsupportedType, "file", "the file is declared CSV but is an .xlsx workbook")
}

// stats serves GET /stats?group_by=…&as_of=…: the statistics of the
// problems the caller may see (workflow.Service.Stats), now or as of as_of.
func (s *server) stats(c echo.Context) error {
	q := c.QueryParams()
	if err := checkQuery(q, "group_by", "as_of"); err != nil {
		return err
	}
	groupBy, err := query(q, "group_by")
	if err != nil {
		return err
	}
	asOf, err := asOfParam(q)
	if err != nil {
		return err
	}
	rep, err := s.svc.Stats(c.Request().Context(), actor(c), groupBy, asOf)
	if err != nil {
		return err
	}
	rep.At = rep.At.UTC()
	return c.JSON(http.StatusOK, rep)
}
