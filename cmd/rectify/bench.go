package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jdz-eco/rectify/seeds"
	"github.com/jdz-eco/rectify/store/bolt"
	"github.com/jdz-eco/rectify/workflow"
)

// rectify bench: a load command. It creates problems, then drives their full
// lifecycle (assign, accept, a progress note, an evidence upload, submit,
// verify, close) from concurrent clients for a fixed time, first through the
// HTTP API and then, on the same store, through the workflow service
// in-process, and reports durable write commands per second, latency per
// command and the pages each command writes; last it measures the reads a
// bureau runs on the ledger they leave (bench_read.go).

// benchConfig is rectify bench's configuration.
type benchConfig struct {
	problems int
	clients  int
	duration time.Duration
	minLife  int
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
	reads    bool
	readReps int
}

func parseBenchFlags(args []string, env Env) (benchConfig, error) {
	var cfg benchConfig
	var tokens string
	fs := newFlagSet("bench", env)
	fs.IntVar(&cfg.problems, "problems", 10_000, "problems to create before the measured phases")
	fs.IntVar(&cfg.clients, "clients", 64, "concurrent clients")
	fs.DurationVar(&cfg.duration, "duration", 10*time.Second, "measured time of each phase (HTTP, then in-process)")
	fs.IntVar(&cfg.minLife, "min-lifecycles", 0, "each phase runs on past --duration until this many lifecycles are complete (for tests on a loaded machine)")
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
	fs.BoolVar(&cfg.reads, "reads", true, "measure the read phase last: statistics (now and as_of), the ledger export, filtered lists, through HTTP")
	fs.IntVar(&cfg.readReps, "read-reps", 3, "how often the read phase repeats each statistics query and the export (filtered lists: 50 times)")
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
	case cfg.minLife < 0:
		return cfg, errors.New("--min-lifecycles must not be negative")
	case cfg.creators < 1:
		return cfg, errors.New("--create-workers must be positive")
	case cfg.readReps < 1:
		return cfg, errors.New("--read-reps must be positive")
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
	res.HTTP = drive(ctx, hd, cfg.clients, cfg.duration, cfg.minLife, &ids, local)
	if local != nil && cfg.inproc {
		progress("in-process phase: %d goroutines for %v", cfg.clients, cfg.duration)
		ip := drive(ctx, local.driver(), cfg.clients, cfg.duration, cfg.minLife, &ids, local)
		res.InProcess = &ip
		if ip.TransitionsPerS > 0 {
			res.Ratio = res.HTTP.TransitionsPerS / ip.TransitionsPerS
		}
	}
	readErrs := 0
	if cfg.reads && ctx.Err() == nil {
		res.Reads, readErrs = readPhase(ctx, hd, cfg.readReps, progress)
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
	if readErrs > 0 {
		return fmt.Errorf("bench: %d reads failed", readErrs)
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

// drive runs lifecycles from clients goroutines for d, and on until minLife
// lifecycles are complete, and returns the figures. A lifecycle that fails is
// abandoned; one that the end of the phase interrupts is left where it stands.
func drive(ctx context.Context, dr driver, clients int, d time.Duration, minLife int, ids *idSource, local *benchLocal) phaseResult {
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
	stopped := func() bool { return stop.Load() && lifecycles.Load() >= int64(minLife) }
	start := time.Now()
	timer := time.AfterFunc(d, func() { stop.Store(true) })
	defer timer.Stop()
	for c := range clients {
		samples[c] = sample{lat: make([][]time.Duration, len(benchKinds)+1), err: make([]int64, len(benchKinds)+1)}
		wg.Go(func() {
			sm := &samples[c]
			for !stopped() && ctx.Err() == nil {
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
					if stopped() || ctx.Err() != nil {
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
