package web

import (
	"bytes"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/jdz-eco/rectify/api/files"
	"github.com/jdz-eco/rectify/workflow"
	"github.com/jdz-eco/rectify/workflow/briefingfile"
)

// briefingPage is the 通报 page's data: the form's values, the briefing's
// tables and its charts.
type briefingPage struct {
	Period, AsOf     string
	Periods          []option
	B                *workflow.Briefing
	PeriodText, Head string
	Tables           []briefingfile.Table
	Trend            lineChart
	Charts           []chart
}

// lineChart is the weekly trend of open and overdue problems drawn as SVG
// on the server: polylines and axis ticks, every coordinate computed here.
type lineChart struct {
	Width, Height, Left, Bottom, Right int
	Open, Overdue                      string // polyline points
	YTicks, XTicks                     []tick
	Empty                              bool
}

type tick struct {
	X, Y  int
	Label string
}

// Trend chart geometry, in SVG user units.
const (
	trendWidth  = 640
	trendHeight = 260
	trendLeft   = 48
	trendRight  = 12
	trendTop    = 12
	trendBottom = 40
)

// newTrend draws points as two lines over a shared y scale.
func newTrend(points []workflow.TrendPoint) lineChart {
	lc := lineChart{Width: trendWidth, Height: trendHeight, Left: trendLeft, Bottom: trendHeight - trendBottom, Right: trendWidth - trendRight}
	if len(points) == 0 {
		lc.Empty = true
		return lc
	}
	top := 1
	for _, p := range points {
		top = max(top, p.Open, p.Overdue)
	}
	plotW, plotH := lc.Right-lc.Left, lc.Bottom-trendTop
	x := func(i int) int {
		if len(points) == 1 {
			return lc.Left + plotW/2
		}
		return lc.Left + i*plotW/(len(points)-1)
	}
	y := func(v int) int { return lc.Bottom - v*plotH/top }
	var open, overdue bytes.Buffer
	for i, p := range points {
		for _, b := range []struct {
			buf *bytes.Buffer
			v   int
		}{{&open, p.Open}, {&overdue, p.Overdue}} {
			if i > 0 {
				b.buf.WriteByte(' ')
			}
			b.buf.WriteString(strconv.Itoa(x(i)) + "," + strconv.Itoa(y(b.v)))
		}
	}
	lc.Open, lc.Overdue = open.String(), overdue.String()
	for _, v := range []int{0, top / 2, top} {
		lc.YTicks = append(lc.YTicks, tick{X: lc.Left - 6, Y: y(v) + 4, Label: strconv.Itoa(v)})
	}
	idx := []int{0}
	if len(points) > 2 {
		idx = append(idx, len(points)/2)
	}
	if len(points) > 1 {
		idx = append(idx, len(points)-1)
	}
	for _, i := range idx {
		lc.XTicks = append(lc.XTicks, tick{X: x(i), Y: lc.Bottom + 18, Label: points[i].At.In(workflow.Shanghai).Format("2006-01-02")})
	}
	return lc
}

// briefingParams reads period and as_of (both optional: a week, today).
func (w *Web) briefingParams(c echo.Context) (workflow.BriefingPeriod, time.Time, error) {
	period, err := workflow.ParseBriefingPeriod(c.QueryParam("period"))
	if err != nil {
		return "", time.Time{}, err
	}
	day, err := workflow.ParseBriefingDate(c.QueryParam("as_of"), w.svc.Clock().Now())
	return period, day, err
}

// briefing serves GET /briefings: the 通报 for the period asked, printable,
// with SVG charts and links to its .xlsx and .docx.
func (w *Web) briefing(c echo.Context) error {
	if err := workflow.CanReadBriefings(actor(c)); err != nil {
		return err
	}
	period, day, err := w.briefingParams(c)
	if err != nil {
		return err
	}
	b, err := w.svc.Briefing(c.Request().Context(), actor(c), period, day)
	if err != nil {
		return err
	}
	asOf := day.Format(time.DateOnly)
	bp := briefingPage{Period: string(period), AsOf: asOf, B: b, PeriodText: briefingfile.Period(b), Head: briefingfile.Head(b),
		Tables: briefingfile.Tables(b), Trend: newTrend(b.Trend)}
	for _, p := range workflow.BriefingPeriods {
		bp.Periods = append(bp.Periods, option{Value: string(p), Label: p.Label() + "报", Selected: p == period})
	}
	var labels, texts []string
	var values []float64
	for _, r := range b.Counties {
		labels, values, texts = append(labels, r.Label), append(values, float64(r.Overdue)), append(texts, strconv.Itoa(r.Overdue))
	}
	bp.Charts = append(bp.Charts, newChart("逾期问题数（按县市区）", "", "暂无问题。", labels, values, texts, 0, "overdue"))
	labels, texts, values = nil, nil, nil
	for _, r := range b.Counties {
		v := 0.0
		if r.CompletionRate != nil {
			v = *r.CompletionRate
		}
		labels, values, texts = append(labels, r.Label), append(values, v), append(texts, briefingfile.Percent(r.CompletionRate))
	}
	bp.Charts = append(bp.Charts, newChart("整改完成率（按县市区）", "", "暂无问题。", labels, values, texts, 1, "rate"))
	return w.render(c, http.StatusOK, "briefing", b.Title, "briefing", bp)
}

// briefingXLSX serves GET /briefings.xlsx: the same briefing as a workbook.
func (w *Web) briefingXLSX(c echo.Context) error {
	return w.briefingFile(c, briefingfile.WriteXLSX, ".xlsx", briefingfile.ContentTypeXLSX)
}

// briefingDOCX serves GET /briefings.docx: the same briefing as an
// official document.
func (w *Web) briefingDOCX(c echo.Context) error {
	return w.briefingFile(c, briefingfile.WriteDOCX, ".docx", briefingfile.ContentTypeDOCX)
}

// briefingFile sends the briefing the query asks for, written by write.
func (w *Web) briefingFile(c echo.Context, write func(io.Writer, *workflow.Briefing) error, ext, contentType string) error {
	period, day, err := w.briefingParams(c)
	if err != nil {
		return err
	}
	b, err := w.svc.Briefing(c.Request().Context(), actor(c), period, day)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := write(&buf, b); err != nil {
		return err
	}
	return sendBriefing(c, b, day, ext, contentType, buf.Bytes())
}

// sendBriefing sends a briefing's file as an attachment named by its
// period and date.
func sendBriefing(c echo.Context, b *workflow.Briefing, day time.Time, ext, contentType string, data []byte) error {
	stamp := day.Format("20060102")
	h := c.Response().Header()
	h.Set(echo.HeaderContentDisposition, files.ContentDispositionFallback("attachment",
		"通报-"+b.Period.Label()+"-"+stamp+ext, "briefing-"+string(b.Period)+"-"+stamp+ext))
	h.Set(echo.HeaderCacheControl, "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	return c.Blob(http.StatusOK, contentType, data)
}
