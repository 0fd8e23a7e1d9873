package web

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/jdz-eco/rectify/api/files"
	"github.com/jdz-eco/rectify/workflow"
	"github.com/jdz-eco/rectify/workflow/ledgerfile"
)

// pageSize is the number of problems on one page of the ledger.
const pageSize = 30

// ledgerFilterParams are the ledger's filters, as query parameters.
var ledgerFilterParams = []string{"county", "state", "level", "source", "work_point"}

// ledgerFilter reads the ledger's filters from q.
func ledgerFilter(q url.Values) (workflow.ProblemFilter, error) {
	f := workflow.ProblemFilter{
		County: q.Get("county"), State: workflow.State(q.Get("state")),
		Source: workflow.Source(q.Get("source")), Tag: q.Get("level"),
	}
	if f.Tag != "" && !slices.Contains(levelFilters, f.Tag) {
		return f, workflow.RefuseField(workflow.ReasonUnknownValue, "level", "unknown level %q", f.Tag)
	}
	if wp := q.Get("work_point"); wp != "" {
		n, err := strconv.Atoi(wp)
		if err != nil || n <= 0 {
			return f, workflow.RefuseField(workflow.ReasonUnknownWorkPoint, "work_point", "unknown work point %q", wp)
		}
		f.WorkPoint = n
	}
	return f, nil
}

// ledgerPage is the 台账 page's data.
type ledgerPage struct {
	Counties   []optgroup
	States     []option
	Levels     []option
	Sources    []option
	WorkPoints []option
	Rows       []row
	Total      int
	Page       int
	Pages      int
	Prev, Next string
	Export     string
	Filtered   bool
	Note       string // no Note column
	CanImport  bool
}

// ledger serves GET /ledger: the problems the user may see, filtered by
// county, state, level, source and work point, a page at a time, with a
// link to the same filter as an Excel workbook. It walks every matching
// problem to count them (one read of the records, no history).
func (w *Web) ledger(c echo.Context) error {
	ctx := c.Request().Context()
	q := c.QueryParams()
	f, err := ledgerFilter(q)
	if err != nil {
		return err
	}
	cat, err := w.catalog(ctx)
	if err != nil {
		return err
	}
	pg, _ := strconv.Atoi(q.Get("page"))
	pg = max(pg, 1)
	lp := ledgerPage{
		Counties: cat.unitGroups([]string{f.County}, countyKinds...), States: stateOptions(string(f.State)),
		Levels: levelOptions(f.Tag), Sources: sourceOptions(string(f.Source)), WorkPoints: cat.workPointOptions(q.Get("work_point")),
		Page: pg, CanImport: canImport(actor(c)) == nil,
	}
	first := (pg - 1) * pageSize
	for p, err := range w.svc.EachProblem(ctx, actor(c), f) {
		if err != nil {
			return err
		}
		if lp.Total >= first && lp.Total < first+pageSize {
			lp.Rows = append(lp.Rows, cat.row(p))
		}
		lp.Total++
	}
	lp.Pages = max((lp.Total+pageSize-1)/pageSize, 1)
	filter := url.Values{}
	for _, k := range ledgerFilterParams {
		if v := q.Get(k); v != "" {
			filter.Set(k, v)
			lp.Filtered = true
		}
	}
	at := func(n int) string {
		v := url.Values{}
		for k, vs := range filter {
			v[k] = vs
		}
		if n > 1 {
			v.Set("page", strconv.Itoa(n))
		}
		if len(v) == 0 {
			return "/ledger"
		}
		return "/ledger?" + v.Encode()
	}
	if pg > 1 {
		lp.Prev = at(min(pg-1, lp.Pages))
	}
	if pg < lp.Pages {
		lp.Next = at(pg + 1)
	}
	lp.Export = "/ledger.xlsx"
	if len(filter) > 0 {
		lp.Export += "?" + filter.Encode()
	}
	return w.render(c, http.StatusOK, "ledger", "整改台账", "ledger", lp)
}

// ledgerExport serves GET /ledger.xlsx: the ledger page's filter as the
// workbook the API exports (ledgerfile.WriteLedger, as the signed-in user).
// WriteLedger writes nothing before it has read every problem, so a failure
// until then is an ordinary error page; one after the first byte aborts
// the connection, so that a truncated file is not taken for a whole one.
func (w *Web) ledgerExport(c echo.Context) error {
	ctx := c.Request().Context()
	f, err := ledgerFilter(c.QueryParams())
	if err != nil {
		return err
	}
	stamp := w.svc.Clock().Now().In(workflow.Shanghai).Format("20060102")
	out := &lazyWriter{c: c, start: func(h http.Header) {
		h.Set(echo.HeaderContentType, ledgerfile.ContentType)
		h.Set(echo.HeaderContentDisposition, files.ContentDispositionFallback("attachment", "台账-"+stamp+".xlsx", "ledger-"+stamp+".xlsx"))
	}}
	if err := ledgerfile.WriteLedger(ctx, out, w.svc, actor(c), f, time.Time{}); err != nil {
		if !out.started {
			return err
		}
		w.log.ErrorContext(ctx, "ledger export failed while streaming", "err", err)
		panic(http.ErrAbortHandler)
	}
	out.begin()
	return nil
}

// lazyWriter sends the response's status and headers with its first byte.
type lazyWriter struct {
	c       echo.Context
	start   func(http.Header)
	started bool
}

func (l *lazyWriter) begin() {
	if !l.started {
		l.started = true
		l.start(l.c.Response().Header())
		l.c.Response().WriteHeader(http.StatusOK)
	}
}

func (l *lazyWriter) Write(p []byte) (int, error) {
	l.begin()
	return l.c.Response().Write(p)
}

// Flush sends what is written so far to the browser.
func (l *lazyWriter) Flush() {
	if l.started {
		l.c.Response().Flush()
	}
}
