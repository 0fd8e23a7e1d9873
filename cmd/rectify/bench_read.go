package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/jdz-eco/rectify/workflow"
)

// The read phase of rectify bench: after the write phases, the reads a
// bureau runs on the ledger they left, through the HTTP API: the
// statistics by every grouping, now and as of past days, the ledger export
// (its first byte and its whole), and problem lists filtered by
// combinations of county, lead unit, state, level, source and work point,
// as the bureau and as a unit officer.

// readFigure is one read, repeated.
type readFigure struct {
	Name  string  `json:"name"`
	Path  string  `json:"path"`
	Runs  int     `json:"runs"`
	Bytes int64   `json:"bytes"` // of the last answer
	P50ms float64 `json:"p50_ms"`
	P99ms float64 `json:"p99_ms"`
	MaxMs float64 `json:"max_ms"`
	// FirstByteMs is the median time to the first byte of the body (the
	// export).
	FirstByteMs float64 `json:"first_byte_ms,omitempty"`
	// Error is why a run failed; the read's other runs are left out.
	Error string `json:"error,omitempty"`
}

// readQuery is one read of the phase.
type readQuery struct {
	name, path string
	role       int
	runs       int // repetitions: the figures' medians and quantiles
}

// readQueries lists the phase's reads; statistics and exports are repeated
// reps times, lists 50 times.
func readQueries(reps int) []readQuery {
	today := time.Now().In(workflow.Shanghai)
	var qs []readQuery
	for _, g := range workflow.GroupBys {
		qs = append(qs, readQuery{"stats " + g, "/api/v1/stats?group_by=" + g, roleBureau, reps})
	}
	qs = append(qs,
		readQuery{"stats county, unit officer", "/api/v1/stats?group_by=county", roleUnit, reps},
		readQuery{"stats as_of before the ledger", "/api/v1/stats?group_by=county&as_of=2020-12-31", roleBureau, reps},
		readQuery{"stats as_of yesterday", "/api/v1/stats?group_by=county&as_of=" + today.AddDate(0, 0, -1).Format(time.DateOnly), roleBureau, reps},
		readQuery{"stats as_of today", "/api/v1/stats?group_by=county&as_of=" + today.Format(time.DateOnly), roleBureau, reps},
		readQuery{"stats as_of today, unit officer", "/api/v1/stats?group_by=state&as_of=" + today.Format(time.DateOnly), roleUnit, reps},
		readQuery{"export ledger.xlsx", "/api/v1/ledger.xlsx", roleBureau, reps},
	)
	for _, l := range []struct{ name, q string }{
		{"list county+state", "county=fuliang&state=closed"},
		{"list county+state, none", "county=leping&state=submitted"},
		{"list source+state", "source=audit&state=submitted"},
		{"list lead+source+state", "lead_unit=fuliang&source=other&state=verified"},
		{"list state+source, many", "state=found&source=warning_film"},
		{"list county+level", "county=fuliang&level=overdue"},
		{"list work point+state", "work_point=3&state=closed"},
		{"list all six", "county=fuliang&lead_unit=fuliang&state=rectifying&level=due_soon&source=audit&work_point=3"},
	} {
		qs = append(qs, readQuery{l.name, "/api/v1/problems?" + l.q, roleBureau, 50})
	}
	qs = append(qs, readQuery{"list state+source, unit officer", "/api/v1/problems?state=rectifying&source=audit", roleUnit, 50})
	return qs
}

// readPhase runs every read of readQueries against the server and returns
// their figures, and how many failed (each figure says why). The reads wait
// for their answers as long as they take (the context aside), unlike the
// write phases' commands.
func readPhase(ctx context.Context, h *httpDriver, reps int, progress func(string, ...any)) (out []readFigure, failed int) {
	rh := *h
	if t, ok := h.rt.(*http.Transport); ok {
		t = t.Clone()
		t.ResponseHeaderTimeout = 0
		rh.rt = t
		defer t.CloseIdleConnections()
	}
	for _, q := range readQueries(reps) {
		if ctx.Err() != nil {
			break
		}
		progress("read phase: %s × %d", q.name, q.runs)
		f := readFigure{Name: q.name, Path: q.path, Runs: q.runs}
		var lats, firsts []time.Duration
		for range q.runs {
			first, total, n, err := rh.get(ctx, q.path, h.tokens[q.role])
			if err != nil {
				f.Error = err.Error()
				failed++
				progress("read phase: %s: %v", q.path, err)
				break
			}
			lats, firsts, f.Bytes = append(lats, total), append(firsts, first), n
		}
		if len(lats) == 0 {
			out = append(out, f)
			continue
		}
		slices.Sort(lats)
		slices.Sort(firsts)
		f.P50ms, f.P99ms, f.MaxMs = quantileMs(lats, 0.5), quantileMs(lats, 0.99), quantileMs(lats, 1)
		if q.role == roleBureau && f.Name == "export ledger.xlsx" {
			f.FirstByteMs = quantileMs(firsts, 0.5)
		}
		out = append(out, f)
	}
	return out, failed
}

// get reads path with token and returns the time to the first byte of the
// body, to its end, and its size. Anything but 200 is an error.
func (h *httpDriver) get(ctx context.Context, path, token string) (first, total time.Duration, n int64, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.base+path, nil)
	if err != nil {
		return 0, 0, 0, err
	}
	req.Header["Authorization"] = []string{"Bearer " + token}
	start := time.Now()
	res, err := h.rt.RoundTrip(req)
	if err != nil {
		return 0, 0, 0, err
	}
	defer res.Body.Close()
	var b [1]byte
	k, rerr := io.ReadFull(res.Body, b[:])
	first = time.Since(start)
	rest, err := io.Copy(io.Discard, res.Body)
	total = time.Since(start)
	if rerr != nil && rerr != io.EOF {
		return 0, 0, 0, rerr
	}
	if err != nil {
		return 0, 0, 0, err
	}
	if res.StatusCode != http.StatusOK {
		return 0, 0, 0, fmt.Errorf("status %s", res.Status)
	}
	return first, total, int64(k) + rest, nil
}

// printReads prints the read phase's figures.
func printReads(w io.Writer, reads []readFigure) {
	if len(reads) == 0 {
		return
	}
	fmt.Fprintln(w, "\nread phase (HTTP, after the write phases):")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "read\truns\tp50 ms\tp99 ms\tmax ms\tfirst byte ms\tbytes\t")
	for _, r := range reads {
		if r.Error != "" {
			fmt.Fprintf(tw, "%s\tfailed: %s\t\t\t\t\t\t\n", r.Name, r.Error)
			continue
		}
		first := ""
		if r.FirstByteMs > 0 {
			first = fmt.Sprintf("%.1f", r.FirstByteMs)
		}
		fmt.Fprintf(tw, "%s\t%d\t%.2f\t%.2f\t%.1f\t%s\t%d\t\n", r.Name, r.Runs, r.P50ms, r.P99ms, r.MaxMs, first, r.Bytes)
	}
	_ = tw.Flush()
}
