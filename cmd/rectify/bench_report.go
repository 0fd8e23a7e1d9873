package main

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// What rectify bench measures and prints: the figures of each phase, the
// memory, the table or JSON.

// benchResult is what rectify bench --json prints.
type benchResult struct {
	Problems  int     `json:"problems"`
	Clients   int     `json:"clients"`
	DurationS float64 `json:"duration_s"`
	CPUs      int     `json:"cpus"`       // runtime.NumCPU
	Procs     int     `json:"gomaxprocs"` // runtime.GOMAXPROCS
	GoVersion string  `json:"go_version"`
	Target    string  `json:"target"` // "in-process server" or the --url
	// PreferMinimal: the HTTP clients sent Prefer: return=minimal.
	PreferMinimal bool    `json:"prefer_minimal,omitempty"`
	MaxGroup      int     `json:"max_group,omitempty"`
	CreateS       float64 `json:"create_s"`
	CreatesPerS   float64 `json:"creates_per_s"`

	HTTP      phaseResult  `json:"http"`
	InProcess *phaseResult `json:"inprocess,omitempty"`
	// Ratio is HTTP transitions/s over in-process transitions/s.
	Ratio float64 `json:"ratio,omitempty"`
	// PagesPerTransition is the HTTP phase's (see phaseResult).
	PagesPerTransition float64 `json:"pages_per_transition,omitempty"`

	// Reads are the read phase's figures (bench_read.go).
	Reads []readFigure `json:"reads,omitempty"`

	Memory *memoryFigures `json:"memory,omitempty"`
	// DBBytes is the size of the database file at the end.
	DBBytes int64 `json:"db_bytes,omitempty"`
}

// phaseResult are the figures of one measured phase.
type phaseResult struct {
	Transitions     int64                 `json:"transitions"`
	TransitionsPerS float64               `json:"transitions_per_s"`
	Lifecycles      int64                 `json:"lifecycles"`
	Errors          int64                 `json:"errors"`
	ElapsedS        float64               `json:"elapsed_s"`
	P50ms           float64               `json:"p50_ms"`
	P99ms           float64               `json:"p99_ms"`
	MaxMs           float64               `json:"max_ms"`
	Kinds           map[string]kindResult `json:"kinds"`
	// Created counts the problems created during the phase, after those
	// made beforehand ran out (kind "create").
	Created int64 `json:"created,omitempty"`
	// PagesPerTransition is the pages written (tree, freelist and meta
	// pages, from bbolt's statistics) per command; CommandsPerCommit the
	// average commit group. Both need the in-process store.
	PagesPerTransition float64 `json:"pages_per_transition,omitempty"`
	CommandsPerCommit  float64 `json:"commands_per_commit,omitempty"`
}

type kindResult struct {
	Count  int     `json:"count"`
	Errors int64   `json:"errors"`
	P50ms  float64 `json:"p50_ms"`
	P99ms  float64 `json:"p99_ms"`
	MaxMs  float64 `json:"max_ms"`
}

// memoryFigures are the process's memory once every problem exists, after a
// garbage collection: the Go heap in use and all anonymous resident memory
// (heap, stacks, runtime; the mapped database file is page cache and is not
// included). Both include the bench's own clients.
type memoryFigures struct {
	HeapMiB    float64 `json:"heap_mib"`
	RSSAnonMiB float64 `json:"rss_anon_mib,omitempty"`
	// PeakRSSAnonMiB is the largest anonymous resident memory seen during
	// the measured phases (sampled every 50 ms; the load generator
	// included), where the platform reports it.
	PeakRSSAnonMiB float64 `json:"peak_rss_anon_mib,omitempty"`
}

// rssAnonMiB returns the process's anonymous resident memory (Linux
// /proc/self/status RssAnon), 0 where unknown.
func rssAnonMiB() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "RssAnon:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return kb / 1024
		}
	}
	return 0
}

// samplePeakRSS samples rssAnonMiB every 50 ms until stop is called, which
// returns the largest value seen.
func samplePeakRSS() (stop func() float64) {
	done := make(chan struct{})
	peak := make(chan float64)
	go func() {
		m := rssAnonMiB()
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				m = max(m, rssAnonMiB())
			case <-done:
				peak <- max(m, rssAnonMiB())
				return
			}
		}
	}()
	return func() float64 {
		close(done)
		return <-peak
	}
}

// quantileMs returns the q quantile of sorted durations in milliseconds
// (nearest rank), 0 for none.
func quantileMs(sorted []time.Duration, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.5) - 1
	i = max(0, min(i, len(sorted)-1))
	return float64(sorted[i]) / float64(time.Millisecond)
}

// memoryNow measures the process's memory after a garbage collection.
func memoryNow() *memoryFigures {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return &memoryFigures{HeapMiB: float64(ms.HeapInuse) / (1 << 20), RSSAnonMiB: rssAnonMiB()}
}

// printBench prints the figures as tables.
func printBench(w io.Writer, cfg benchConfig, r *benchResult) {
	fmt.Fprintf(w, "rectify bench: %d problems, %d clients, %v per phase, %d CPUs, GOMAXPROCS %d, %s, target %s\n",
		r.Problems, r.Clients, cfg.duration, r.CPUs, r.Procs, r.GoVersion, r.Target)
	if r.PreferMinimal {
		fmt.Fprintln(w, "HTTP clients send Prefer: return=minimal (answers without the problem, its version in ETag)")
	}
	fmt.Fprintf(w, "setup: created %d problems in %.1fs (%.0f/s)\n\n", r.Problems, r.CreateS, r.CreatesPerS)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "phase\ttransitions/s\ttransitions\terrors\tp50 ms\tp99 ms\tmax ms\tpages/transition\tcommands/commit\t")
	row := func(name string, p *phaseResult) {
		fmt.Fprintf(tw, "%s\t%.0f\t%d\t%d\t%.2f\t%.2f\t%.1f\t%.2f\t%.1f\t\n", name, p.TransitionsPerS, p.Transitions, p.Errors,
			p.P50ms, p.P99ms, p.MaxMs, p.PagesPerTransition, p.CommandsPerCommit)
	}
	row("http", &r.HTTP)
	if r.InProcess != nil {
		row("in-process", r.InProcess)
	}
	_ = tw.Flush()
	if r.InProcess != nil {
		fmt.Fprintf(w, "http / in-process: %.2f\n", r.Ratio)
	}
	phases := []struct {
		name string
		p    *phaseResult
	}{{"http", &r.HTTP}, {"in-process", r.InProcess}}
	for _, ph := range phases {
		if ph.p == nil {
			continue
		}
		if ph.p.Created > 0 {
			fmt.Fprintf(w, "note: the %s phase used up the problems made beforehand and created %d more (kind create)\n", ph.name, ph.p.Created)
		}
		fmt.Fprintf(w, "\nlatency by command (%s):\n", ph.name)
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "command\tcount\terrors\tp50 ms\tp99 ms\tmax ms\t")
		for _, k := range append(slices.Clone(benchKinds), "create") {
			kr, ok := ph.p.Kinds[k]
			if !ok {
				continue
			}
			fmt.Fprintf(tw, "%s\t%d\t%d\t%.2f\t%.2f\t%.1f\t\n", k, kr.Count, kr.Errors, kr.P50ms, kr.P99ms, kr.MaxMs)
		}
		_ = tw.Flush()
	}
	printReads(w, r.Reads)
	if r.Memory != nil {
		fmt.Fprintf(w, "\nmemory with %d problems: Go heap %.1f MiB, anonymous resident %.1f MiB; under load at most %.1f MiB (load generator included)\n",
			r.Problems, r.Memory.HeapMiB, r.Memory.RSSAnonMiB, r.Memory.PeakRSSAnonMiB)
	}
	if r.DBBytes > 0 {
		fmt.Fprintf(w, "database file: %.1f MiB\n", float64(r.DBBytes)/(1<<20))
	}
}
