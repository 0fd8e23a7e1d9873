package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/png"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/jdz-eco/rectify/api"
	"github.com/jdz-eco/rectify/seeds"
	"github.com/jdz-eco/rectify/store/blob"
	"github.com/jdz-eco/rectify/store/bolt"
	"github.com/jdz-eco/rectify/workflow"
)

// rectify bench: a load command. It creates problems, then drives their full
// lifecycle (assign, accept, a progress note, an evidence upload, submit,
// verify, close) from concurrent clients for a fixed time, first through the
// HTTP API and then, on the same store, through the workflow service
// in-process, and reports durable write commands per second, latency per
// command and the pages each command writes.

// benchConfig is rectify bench's configuration.
type benchConfig struct {
	problems int
	clients  int
	duration time.Duration
	jsonOut  bool
	url      string
	tokens   []string // bureau, unit, inspector
	dir      string
	maxGroup int
	leadUnit string
	county   string
	creators int
	keep     bool
	cpuProf  string
	memProf  string
	trace    string
	inproc   bool
	evidence string
	minimal  bool
}

func parseBenchFlags(args []string, env Env) (benchConfig, error) {
	var cfg benchConfig
	var tokens string
	fs := newFlagSet("bench", env)
	fs.IntVar(&cfg.problems, "problems", 10_000, "problems to create before the measured phases")
	fs.IntVar(&cfg.clients, "clients", 64, "concurrent clients")
	fs.DurationVar(&cfg.duration, "duration", 10*time.Second, "measured time of each phase (HTTP, then in-process)")
	fs.BoolVar(&cfg.jsonOut, "json", false, "print the result as one JSON object on stdout")
	fs.StringVar(&cfg.url, "url", "", "drive a running server at this base URL instead of starting one (HTTP phase only)")
	fs.StringVar(&tokens, "tokens", "", "with --url: the bureau, unit officer and inspector tokens, comma-separated")
	fs.StringVar(&cfg.dir, "dir", "", "directory for the temporary database and evidence files (default: the system's temporary directory)")
	fs.IntVar(&cfg.maxGroup, "max-group", 0, "most commands per commit group (0: the store's default; 1: every command commits alone)")
	fs.StringVar(&cfg.leadUnit, "lead-unit", seeds.FuliangUnitID, "with --url: the unit of the unit officer's token, made lead unit")
	fs.StringVar(&cfg.county, "county", seeds.FuliangUnitID, "county_id of the problems created")
	fs.IntVar(&cfg.creators, "create-workers", 128, "concurrent creators while setting up")
	fs.BoolVar(&cfg.minimal, "prefer-minimal", false, "HTTP clients send Prefer: return=minimal: writes are answered without the problem, with its version in ETag")
	fs.BoolVar(&cfg.inproc, "inprocess", true, "also measure the in-process phase (service calls, no HTTP) after the HTTP phase")
	fs.StringVar(&cfg.evidence, "evidence-dir", "", "directory of the evidence files (default: evidence beside the temporary database)")
	fs.StringVar(&cfg.cpuProf, "cpuprofile", "", "write a CPU profile of the measured phases to this file")
	fs.StringVar(&cfg.memProf, "memprofile", "", "write a profile of the memory allocated to this file at the end, and one to FILE.base before the measured phases (go tool pprof -sample_index=alloc_space -base FILE.base BINARY FILE)")
	fs.StringVar(&cfg.trace, "trace", "", "write an execution trace of the measured phases to this file (go tool trace)")
	fs.BoolVar(&cfg.keep, "keep", false, "keep the temporary database and evidence files (the path is printed on stderr)")
	if err := parseFlags(fs, args, env); err != nil {
		return cfg, err
	}
	cfg.tokens = splitList(tokens)
	switch {
	case cfg.problems < 1:
		return cfg, errors.New("--problems must be positive")
	case cfg.clients < 1:
		return cfg, errors.New("--clients must be positive")
	case cfg.duration <= 0:
		return cfg, errors.New("--duration must be positive")
	case cfg.creators < 1:
		return cfg, errors.New("--create-workers must be positive")
	case cfg.url != "" && len(cfg.tokens) != 3:
		return cfg, errors.New("--url needs --tokens BUREAU,UNIT,INSPECTOR")
	case cfg.url == "" && len(cfg.tokens) > 0:
		return cfg, errors.New("--tokens needs --url")
	}
	cfg.url = strings.TrimRight(cfg.url, "/")
	return cfg, nil
}

// Command kinds of one lifecycle, in order. Each is one durable write
// command: a "transition" in the figures.
var benchKinds = []string{"assign", "accept", "note", "evidence", "submit", "verify", "close"}

// createKind is the index, after benchKinds, of the figures of problems
// created during a phase: once the problems made beforehand are used up,
// each client creates the next problem it drives (a durable write command
// too).
var createKind = len(benchKinds)

// driver runs one command of kind benchKinds[k] on problem id, or creates
// the bench's i-th problem. Every command names the version of the problem
// the client last saw (HTTP: If-Match; in-process: IfVersion), and returns
// the version after it (HTTP: from the ETag).
type driver interface {
	step(ctx context.Context, k int, id string, version uint64) (uint64, error)
	create(ctx context.Context, i int) (id string, version uint64, err error)
}

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

func runBench(ctx context.Context, args []string, env Env) error {
	cfg, err := parseBenchFlags(args, env)
	if err != nil {
		return err
	}
	progress := func(format string, a ...any) { fmt.Fprintf(env.Stderr, "bench: "+format+"\n", a...) }
	res := benchResult{Problems: cfg.problems, Clients: cfg.clients, DurationS: cfg.duration.Seconds(),
		CPUs: runtime.NumCPU(), Procs: runtime.GOMAXPROCS(0), GoVersion: runtime.Version(), MaxGroup: cfg.maxGroup, PreferMinimal: cfg.minimal}
	transport := &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        cfg.clients * 2,
		MaxIdleConnsPerHost: cfg.clients * 2,
		IdleConnTimeout:     time.Minute,
		DisableCompression:  true,
	}
	defer transport.CloseIdleConnections()
	// The clients call the transport directly: no redirects to follow, and
	// none of http.Client's per-request header copies and timers.
	transport.ResponseHeaderTimeout = time.Minute

	var (
		local *benchLocal
		hd    *httpDriver
		ids   idSource
	)
	if cfg.url == "" {
		local, err = startBenchLocal(ctx, cfg, env)
		if err != nil {
			return err
		}
		defer local.close()
		res.Target = "in-process server"
		hd = newHTTPDriver(transport, local.url, local.tokens, seeds.FuliangUnitID, cfg.county, cfg.minimal)
		progress("creating %d problems in %s", cfg.problems, local.dir)
		start := time.Now()
		if ids, err = local.create(ctx, cfg, progress); err != nil {
			return err
		}
		res.CreateS = time.Since(start).Seconds()
	} else {
		res.Target = cfg.url
		hd = newHTTPDriver(transport, cfg.url, cfg.tokens, cfg.leadUnit, cfg.county, cfg.minimal)
		progress("creating %d problems through %s", cfg.problems, cfg.url)
		start := time.Now()
		if ids, err = hd.createAll(ctx, cfg, progress); err != nil {
			return err
		}
		res.CreateS = time.Since(start).Seconds()
	}
	res.CreatesPerS = float64(cfg.problems) / res.CreateS
	progress("created %d problems in %.1fs (%.0f/s)", cfg.problems, res.CreateS, res.CreatesPerS)
	if local != nil {
		res.Memory = memoryNow()
	}

	if cfg.cpuProf != "" {
		f, err := os.Create(cfg.cpuProf)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	if cfg.trace != "" {
		f, err := os.Create(cfg.trace)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := trace.Start(f); err != nil {
			return err
		}
		defer trace.Stop()
	}
	if cfg.memProf != "" {
		// A base profile now, so that go tool pprof -base shows the phases alone.
		if err := writeAllocs(cfg.memProf + ".base"); err != nil {
			return err
		}
		defer func() {
			if err := writeAllocs(cfg.memProf); err != nil {
				progress("memory profile: %v", err)
			}
		}()
	}
	var stopSampling func() float64
	if local != nil {
		stopSampling = samplePeakRSS()
	}
	progress("HTTP phase: %d clients for %v", cfg.clients, cfg.duration)
	res.HTTP = drive(ctx, hd, cfg.clients, cfg.duration, &ids, local)
	if local != nil && cfg.inproc {
		progress("in-process phase: %d goroutines for %v", cfg.clients, cfg.duration)
		ip := drive(ctx, local.driver(), cfg.clients, cfg.duration, &ids, local)
		res.InProcess = &ip
		if ip.TransitionsPerS > 0 {
			res.Ratio = res.HTTP.TransitionsPerS / ip.TransitionsPerS
		}
	}
	if local != nil {
		res.Memory.PeakRSSAnonMiB = stopSampling()
		res.PagesPerTransition = res.HTTP.PagesPerTransition
		if fi, err := os.Stat(local.dbPath); err == nil {
			res.DBBytes = fi.Size()
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if cfg.jsonOut {
		enc := json.NewEncoder(env.Stdout)
		if err := enc.Encode(res); err != nil {
			return err
		}
	} else {
		printBench(env.Stdout, cfg, &res)
	}
	errs := res.HTTP.Errors
	if res.InProcess != nil {
		errs += res.InProcess.Errors
	}
	if errs > 0 {
		return fmt.Errorf("bench: %d commands failed", errs)
	}
	return nil
}

// writeAllocs writes the allocation profile so far to path.
func writeAllocs(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// benchDeadline is the deadline the bench assigns: far enough away that no
// alert comes due while it runs.
func benchDeadline() time.Time {
	return workflow.EndOfDay(time.Now().AddDate(0, 6, 0))
}

// idSource hands out the created problems, each once.
type idSource struct {
	first, count uint64   // numbers first … first+count-1, or
	list         []string // these ids
	next         atomic.Uint64
}

// size is the number of problems s hands out.
func (s *idSource) size() int {
	if s.list != nil {
		return len(s.list)
	}
	return int(s.count)
}

func (s *idSource) take() (string, bool) {
	i := s.next.Add(1) - 1
	if s.list != nil {
		if i >= uint64(len(s.list)) {
			return "", false
		}
		return s.list[i], true
	}
	if i >= s.count {
		return "", false
	}
	return workflow.ProblemID(s.first + i), true
}

// benchLocal is the in-process server the bench starts.
type benchLocal struct {
	dir, dbPath string
	st          *bolt.Store
	svc         *workflow.Service
	blobs       *blob.Store
	actors      [3]workflow.Actor // bureau, unit, inspector
	tokens      []string
	url         string
	stopServer  func()
	keep        bool
	county      string
}

func startBenchLocal(ctx context.Context, cfg benchConfig, env Env) (_ *benchLocal, err error) {
	dir, err := os.MkdirTemp(cfg.dir, "rectify-bench-")
	if err != nil {
		return nil, err
	}
	l := &benchLocal{dir: dir, dbPath: filepath.Join(dir, "rectify.db"), keep: cfg.keep, county: cfg.county}
	defer func() {
		if err != nil {
			l.close()
		}
	}()
	quiet := Env{Stderr: env.Stderr, Getenv: func(string) string { return "" }}
	sargs := []string{"--db", l.dbPath, "--addr", "127.0.0.1:0", "--scan-interval", "0"}
	if cfg.evidence != "" {
		sargs = append(sargs, "--evidence-dir", cfg.evidence)
	}
	scfg, err := parseServeFlags(sargs, quiet)
	if err != nil {
		return nil, err
	}
	log := slog.New(slog.DiscardHandler)
	reg := prometheus.NewRegistry()
	metrics := api.NewMetrics(reg)
	if l.st, err = openStore(l.dbPath, bolt.Options{ObserveCommit: metrics.ObserveCommit, MaxGroup: cfg.maxGroup}); err != nil {
		return nil, err
	}
	if l.svc, err = newService(ctx, l.st, scfg, log); err != nil {
		return nil, err
	}
	if l.blobs, err = blob.Open(scfg.evidenceDir); err != nil {
		return nil, err
	}
	l.svc.SetBlobs(l.blobs)
	if _, _, err := seedIfEmpty(ctx, l.svc); err != nil {
		return nil, fmt.Errorf("load seed data: %w", err)
	}
	system := workflow.Actor{ID: "system", Name: "rectify bench", Role: workflow.RoleSystem}
	users := []workflow.NewUser{
		{Name: "压测-生态环境局", Role: workflow.RoleBureau, UnitID: seeds.BureauUnitID},
		{Name: "压测-浮梁县整改专员", Role: workflow.RoleUnit, UnitID: seeds.FuliangUnitID},
		{Name: "压测-验收员", Role: workflow.RoleInspector, UnitID: seeds.OfficeUnitID},
	}
	for i, nu := range users {
		u, token, err := l.svc.CreateUser(ctx, system, nu)
		if err != nil {
			return nil, fmt.Errorf("bench user: %w", err)
		}
		l.actors[i] = u.Actor()
		l.tokens = append(l.tokens, token)
	}
	handler := api.New(api.Config{
		Service: l.svc, Logger: log, Metrics: metrics, Gatherer: reg,
		BodyLimit: scfg.bodyLimit, EvidenceMaxBytes: scfg.evidenceMaxBytes,
	})
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	addrs := make(chan net.Addr, 1)
	served := make(chan error, 1)
	senv := Env{Stderr: env.Stderr, Listening: func(a net.Addr) { addrs <- a }}
	go func() { served <- serveHTTP(sctx, scfg, handler, log, senv) }()
	select {
	case a := <-addrs:
		l.url = "http://" + a.String()
	case err := <-served:
		cancel()
		return nil, fmt.Errorf("bench server: %w", err)
	}
	l.stopServer = func() {
		cancel()
		<-served
	}
	return l, nil
}

func (l *benchLocal) close() {
	if l.stopServer != nil {
		l.stopServer()
	}
	if l.st != nil {
		_ = l.st.Close()
	}
	if !l.keep {
		_ = os.RemoveAll(l.dir)
	}
}

// create makes cfg.problems problems through the service, concurrently, and
// returns them.
func (l *benchLocal) create(ctx context.Context, cfg benchConfig, progress func(string, ...any)) (idSource, error) {
	var lo, hi atomic.Uint64
	lo.Store(^uint64(0))
	err := createConcurrently(ctx, cfg, progress, func(ctx context.Context, i int) error {
		p, _, err := l.svc.CreateProblem(ctx, l.actors[0], benchProblem(i, cfg.county))
		if err != nil {
			return err
		}
		n, _ := workflow.ParseProblemID(p.ID)
		for v := lo.Load(); n < v && !lo.CompareAndSwap(v, n); v = lo.Load() {
		}
		for v := hi.Load(); n > v && !hi.CompareAndSwap(v, n); v = hi.Load() {
		}
		return nil
	})
	if err != nil {
		return idSource{}, err
	}
	// Nothing else creates problems in the bench's own database, so the
	// numbers are consecutive.
	if hi.Load()-lo.Load()+1 != uint64(cfg.problems) {
		return idSource{}, fmt.Errorf("bench: created problems %d to %d, not %d consecutive numbers", lo.Load(), hi.Load(), cfg.problems)
	}
	return idSource{first: lo.Load(), count: uint64(cfg.problems)}, nil
}

// benchProblem is the i-th problem the bench logs.
func benchProblem(i int, county string) workflow.NewProblem {
	return workflow.NewProblem{
		Title:       "压测问题 " + strconv.Itoa(i+1) + "：河道沿岸违规堆放建筑垃圾",
		Description: "排查发现河道管理范围内堆放建筑垃圾约 300 立方米，雨季存在入河风险，需限期清理并建立长效管护机制。",
		Source:      workflow.Sources[i%len(workflow.Sources)],
		CountyID:    county,
	}
}

// createConcurrently calls create for 0 … cfg.problems-1 from cfg.creators
// goroutines, printing progress every two seconds. The first error stops it.
func createConcurrently(ctx context.Context, cfg benchConfig, progress func(string, ...any), create func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		next, done atomic.Int64
		wg         sync.WaitGroup
		once       sync.Once
		firstErr   error
	)
	start := time.Now()
	ticker := time.NewTicker(2 * time.Second)
	defer ticker.Stop()
	finished := make(chan struct{})
	go func() {
		for {
			select {
			case <-ticker.C:
				n := done.Load()
				progress("created %d/%d problems (%.0f/s)", n, cfg.problems, float64(n)/time.Since(start).Seconds())
			case <-finished:
				return
			}
		}
	}()
	for range min(cfg.creators, cfg.problems) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= cfg.problems || ctx.Err() != nil {
					return
				}
				if err := create(ctx, i); err != nil {
					once.Do(func() { firstErr = fmt.Errorf("bench: create problem: %w", err); cancel() })
					return
				}
				done.Add(1)
			}
		})
	}
	wg.Wait()
	close(finished)
	if firstErr != nil {
		return firstErr
	}
	return ctx.Err()
}

// drive runs lifecycles from clients goroutines for d and returns the
// figures. A lifecycle that fails is abandoned; one that the end of the
// phase interrupts is left where it stands.
func drive(ctx context.Context, dr driver, clients int, d time.Duration, ids *idSource, local *benchLocal) phaseResult {
	type sample struct {
		lat [][]time.Duration // by kind
		err []int64
	}
	var (
		wg         sync.WaitGroup
		stop       atomic.Bool
		lifecycles atomic.Int64
		created    atomic.Int64
		errShown   atomic.Int64
		samples    = make([]sample, clients)
	)
	var before bolt.WriteStats
	if local != nil {
		before = local.st.WriteStats()
	}
	start := time.Now()
	timer := time.AfterFunc(d, func() { stop.Store(true) })
	defer timer.Stop()
	for c := range clients {
		samples[c] = sample{lat: make([][]time.Duration, len(benchKinds)+1), err: make([]int64, len(benchKinds)+1)}
		wg.Go(func() {
			sm := &samples[c]
			for !stop.Load() && ctx.Err() == nil {
				id, ok := ids.take()
				version := uint64(1) // problems made beforehand are as created
				if !ok {
					t0 := time.Now()
					var err error
					id, version, err = dr.create(ctx, ids.size()+int(created.Add(1))-1)
					lat := time.Since(t0)
					if err != nil {
						if ctx.Err() != nil {
							return
						}
						sm.err[createKind]++
						if errShown.Add(1) <= 5 {
							fmt.Fprintf(os.Stderr, "bench: create: %v\n", err)
						}
						continue
					}
					sm.lat[createKind] = append(sm.lat[createKind], lat)
				}
				complete := true
				for k := range benchKinds {
					if stop.Load() || ctx.Err() != nil {
						complete = false
						break
					}
					t0 := time.Now()
					v, err := dr.step(ctx, k, id, version)
					lat := time.Since(t0)
					version = v
					if err != nil {
						if ctx.Err() != nil {
							return
						}
						sm.err[k]++
						if errShown.Add(1) <= 5 {
							fmt.Fprintf(os.Stderr, "bench: %s on problem %s: %v\n", benchKinds[k], id, err)
						}
						complete = false
						break
					}
					sm.lat[k] = append(sm.lat[k], lat)
				}
				if complete {
					lifecycles.Add(1)
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	r := phaseResult{ElapsedS: elapsed.Seconds(), Lifecycles: lifecycles.Load(), Kinds: map[string]kindResult{}}
	var all []time.Duration
	for k, name := range append(slices.Clone(benchKinds), "create") {
		var lats []time.Duration
		var errs int64
		for c := range samples {
			lats = append(lats, samples[c].lat[k]...)
			errs += samples[c].err[k]
		}
		slices.Sort(lats)
		all = append(all, lats...)
		if k == createKind {
			r.Created = int64(len(lats))
			if len(lats) == 0 && errs == 0 {
				continue
			}
		}
		r.Kinds[name] = kindResult{Count: len(lats), Errors: errs, P50ms: quantileMs(lats, 0.50), P99ms: quantileMs(lats, 0.99), MaxMs: quantileMs(lats, 1)}
		r.Errors += errs
	}
	slices.Sort(all)
	r.Transitions = int64(len(all))
	r.TransitionsPerS = float64(len(all)) / elapsed.Seconds()
	r.P50ms, r.P99ms, r.MaxMs = quantileMs(all, 0.50), quantileMs(all, 0.99), quantileMs(all, 1)
	if local != nil {
		after := local.st.WriteStats()
		if cmds := after.Commands - before.Commands; cmds > 0 {
			r.PagesPerTransition = float64(after.Pages-before.Pages) / float64(cmds)
			r.CommandsPerCommit = float64(cmds) / float64(after.Groups-before.Groups)
		}
	}
	return r
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

// basePNG is a valid 1×1 PNG image.
var basePNG = sync.OnceValue(func() []byte {
	img := image.NewNRGBA(image.Rect(0, 0, 1, 1))
	img.Set(0, 0, color.NRGBA{G: 0xc0, A: 0xff})
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		panic(err)
	}
	return b.Bytes()
})

// uniquePNG returns a valid 1×1 PNG image, different for every call (a tEXt
// chunk holds a random nonce): the bench's evidence files must not be
// duplicates of each other, which rectify flags and looks up.
func uniquePNG(label string) []byte {
	base := basePNG()
	const ihdrEnd = 8 + 4 + 4 + 13 + 4 // signature, then the IHDR chunk
	nonce := make([]byte, 12)
	_, _ = rand.Read(nonce)
	text := []byte("Comment\x00" + label + " " + hex.EncodeToString(nonce))
	var b bytes.Buffer
	b.Write(base[:ihdrEnd])
	_ = binary.Write(&b, binary.BigEndian, uint32(len(text)))
	crc := crc32.NewIEEE()
	crc.Write([]byte("tEXt"))
	crc.Write(text)
	b.WriteString("tEXt")
	b.Write(text)
	_ = binary.Write(&b, binary.BigEndian, crc.Sum32())
	b.Write(base[ihdrEnd:])
	return b.Bytes()
}

// httpDriver runs the lifecycle through the HTTP API.
type httpDriver struct {
	rt      http.RoundTripper
	base    string
	tokens  []string // bureau, unit, inspector
	county  string
	minimal bool // send Prefer: return=minimal
	// bodies are the JSON bodies of the commands, by kind (none for evidence).
	bodies [][]byte
}

const (
	roleBureau = iota
	roleUnit
	roleInspector
)

// benchParams are the parameters of each kind's command.
var benchParams = map[string]map[string]string{
	"accept": {"plan": "组织清运，设置围挡和警示牌，纳入河长制日常巡查"},
	"submit": {"summary": "建筑垃圾已全部清运，现场照片见佐证材料"},
	"verify": {"opinion": "现场核查，整改到位"},
	"close":  {"statement": "同意销号"},
}

const benchNote = "已完成清运方案审批，正在组织施工"

// benchRoles is who runs each kind of command.
var benchRoles = map[string]int{"assign": roleBureau, "verify": roleInspector, "close": roleBureau}

func newHTTPDriver(rt http.RoundTripper, base string, tokens []string, leadUnit, county string, minimal bool) *httpDriver {
	h := &httpDriver{rt: rt, base: base, tokens: tokens, county: county, minimal: minimal,
		bodies: make([][]byte, len(benchKinds))}
	deadline := benchDeadline()
	for k, kind := range benchKinds {
		var v any
		switch kind {
		case "assign":
			v = map[string]string{"trigger": "assign", "lead_unit": leadUnit, "deadline": deadline.Format(time.RFC3339)}
		case "note":
			v = map[string]string{"text": benchNote}
		case "evidence":
			continue
		default:
			m := map[string]string{"trigger": kind}
			for f, x := range benchParams[kind] {
				m[f] = x
			}
			v = m
		}
		h.bodies[k], _ = json.Marshal(v)
	}
	return h
}

func (h *httpDriver) step(ctx context.Context, k int, id string, version uint64) (uint64, error) {
	kind := benchKinds[k]
	path := "/api/v1/problems/" + id + "/transitions"
	body, contentType := h.bodies[k], "application/json"
	switch kind {
	case "note":
		path = "/api/v1/problems/" + id + "/notes"
	case "evidence":
		path = "/api/v1/problems/" + id + "/evidence"
		body, contentType = multipartPNG(id)
	}
	role, ok := benchRoles[kind]
	if !ok {
		role = roleUnit
	}
	return h.post(ctx, path, h.tokens[role], contentType, body, version)
}

// post sends one command with If-Match: "version" and reads the whole
// answer, so that the connection is reused; any status but 2xx is an error.
// It returns the version in the answer's ETag.
func (h *httpDriver) post(ctx context.Context, path, token, contentType string, body []byte, version uint64) (uint64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.base+path, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header["Authorization"] = []string{"Bearer " + token}
	req.Header["Content-Type"] = []string{contentType}
	req.Header["If-Match"] = []string{`"` + strconv.FormatUint(version, 10) + `"`}
	if h.minimal {
		req.Header["Prefer"] = []string{"return=minimal"}
	}
	res, err := h.rt.RoundTrip(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	if res.StatusCode/100 != 2 {
		msg, _ := io.ReadAll(io.LimitReader(res.Body, 512))
		return 0, fmt.Errorf("status %d: %s", res.StatusCode, bytes.TrimSpace(msg))
	}
	if _, err := io.Copy(io.Discard, res.Body); err != nil {
		return 0, err
	}
	return etagVersion(res.Header.Get("ETag"))
}

// etagVersion returns the version in a problem's ETag ("N").
func etagVersion(tag string) (uint64, error) {
	if len(tag) < 3 || tag[0] != '"' || tag[len(tag)-1] != '"' {
		return 0, fmt.Errorf("answer without a problem ETag (%q)", tag)
	}
	v, err := strconv.ParseUint(tag[1:len(tag)-1], 10, 64)
	if err != nil || v == 0 {
		return 0, fmt.Errorf("answer with a bad ETag %q", tag)
	}
	return v, nil
}

// multipartPNG is the body of an evidence upload of a fresh tiny PNG.
func multipartPNG(id string) ([]byte, string) {
	const boundary = "rectify-bench-boundary-7f3a9c"
	var b bytes.Buffer
	b.WriteString("--" + boundary + "\r\n")
	b.WriteString(`Content-Disposition: form-data; name="file"; filename="现场照片.png"` + "\r\n")
	b.WriteString("Content-Type: image/png\r\n\r\n")
	b.Write(uniquePNG("problem " + id))
	b.WriteString("\r\n--" + boundary + "\r\n")
	b.WriteString(`Content-Disposition: form-data; name="description"` + "\r\n\r\n")
	b.WriteString("整改后现场照片")
	b.WriteString("\r\n--" + boundary + "--\r\n")
	return b.Bytes(), "multipart/form-data; boundary=" + boundary
}

// createAll makes cfg.problems problems through POST /problems.
func (h *httpDriver) createAll(ctx context.Context, cfg benchConfig, progress func(string, ...any)) (idSource, error) {
	list := make([]string, cfg.problems)
	err := createConcurrently(ctx, cfg, progress, func(ctx context.Context, i int) error {
		id, _, err := h.create(ctx, i)
		list[i] = id
		return err
	})
	return idSource{list: list}, err
}

// create makes the bench's i-th problem through POST /problems; its id and
// version are read from the Location and ETag of the answer.
func (h *httpDriver) create(ctx context.Context, i int) (string, uint64, error) {
	np := benchProblem(i, h.county)
	body, _ := json.Marshal(map[string]string{"title": np.Title, "description": np.Description, "source": string(np.Source), "county_id": np.CountyID})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.base+"/api/v1/problems", bytes.NewReader(body))
	if err != nil {
		return "", 0, err
	}
	req.Header.Set("Authorization", "Bearer "+h.tokens[roleBureau])
	req.Header.Set("Content-Type", "application/json")
	if h.minimal {
		req.Header.Set("Prefer", "return=minimal")
	}
	res, err := h.rt.RoundTrip(req)
	if err != nil {
		return "", 0, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusCreated {
		msg, _ := io.ReadAll(io.LimitReader(res.Body, 512))
		return "", 0, fmt.Errorf("status %d: %s", res.StatusCode, bytes.TrimSpace(msg))
	}
	if _, err := io.Copy(io.Discard, res.Body); err != nil {
		return "", 0, err
	}
	id, ok := strings.CutPrefix(res.Header.Get("Location"), "/api/v1/problems/")
	if !ok || id == "" {
		return "", 0, fmt.Errorf("answer to POST /problems without its Location (%q)", res.Header.Get("Location"))
	}
	v, err := etagVersion(res.Header.Get("ETag"))
	return id, v, err
}

// inprocDriver runs the lifecycle through the workflow service, with the
// evidence file stored in the blob store as an upload would.
type inprocDriver struct {
	svc      *workflow.Service
	blobs    *blob.Store
	actors   [3]workflow.Actor
	leadUnit string
	county   string
	deadline time.Time
}

func (l *benchLocal) driver() *inprocDriver {
	return &inprocDriver{svc: l.svc, blobs: l.blobs, actors: l.actors, leadUnit: seeds.FuliangUnitID, county: l.county, deadline: benchDeadline()}
}

func (d *inprocDriver) create(ctx context.Context, i int) (string, uint64, error) {
	p, _, err := d.svc.CreateProblem(ctx, d.actors[roleBureau], benchProblem(i, d.county))
	if err != nil {
		return "", 0, err
	}
	return p.ID, p.Version, nil
}

func (d *inprocDriver) step(ctx context.Context, k int, id string, version uint64) (uint64, error) {
	kind := benchKinds[k]
	unit := d.actors[roleUnit]
	var (
		p   *workflow.Problem
		err error
	)
	switch kind {
	case "assign":
		dl := d.deadline
		p, err = d.svc.Fire(ctx, d.actors[roleBureau], id, workflow.Command{Trigger: workflow.TriggerAssign,
			Params: workflow.Params{LeadUnit: d.leadUnit, Deadline: &dl}, IfVersion: version})
	case "accept":
		p, err = d.svc.Fire(ctx, unit, id, workflow.Command{Trigger: workflow.TriggerAccept, Params: workflow.Params{Plan: benchParams["accept"]["plan"]}, IfVersion: version})
	case "note":
		p, err = d.svc.AddNote(ctx, unit, id, benchNote, version)
	case "evidence":
		png := uniquePNG("problem " + id)
		sha, size, perr := d.blobs.Put(ctx, bytes.NewReader(png), api.DefaultEvidenceMaxBytes)
		if perr != nil {
			return 0, perr
		}
		p, err = d.svc.AddEvidence(ctx, unit, id, workflow.EvidenceInput{SHA256: sha, Name: "现场照片.png", Size: size,
			Type: "image/png", Description: "整改后现场照片"}, version)
	case "submit":
		p, err = d.svc.Fire(ctx, unit, id, workflow.Command{Trigger: workflow.TriggerSubmit, Params: workflow.Params{Summary: benchParams["submit"]["summary"]}, IfVersion: version})
	case "verify":
		p, err = d.svc.Fire(ctx, d.actors[roleInspector], id, workflow.Command{Trigger: workflow.TriggerVerify, Params: workflow.Params{Opinion: benchParams["verify"]["opinion"]}, IfVersion: version})
	case "close":
		p, err = d.svc.Fire(ctx, d.actors[roleBureau], id, workflow.Command{Trigger: workflow.TriggerClose, Params: workflow.Params{Statement: benchParams["close"]["statement"]}, IfVersion: version})
	}
	if err != nil {
		return 0, err
	}
	return p.Version, nil
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
	if r.Memory != nil {
		fmt.Fprintf(w, "\nmemory with %d problems: Go heap %.1f MiB, anonymous resident %.1f MiB; under load at most %.1f MiB (load generator included)\n",
			r.Problems, r.Memory.HeapMiB, r.Memory.RSSAnonMiB, r.Memory.PeakRSSAnonMiB)
	}
	if r.DBBytes > 0 {
		fmt.Fprintf(w, "database file: %.1f MiB\n", float64(r.DBBytes)/(1<<20))
	}
}
