package bolt

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jdz-eco/rectify/store/storetest"
	"github.com/jdz-eco/rectify/workflow"
)

// Performance benchmarks (the figures in README.md's Performance section):
//
//	go test ./store/bolt -run '^$' -bench 'Transition|Sweep|ListPage|GetProblem' -benchtime 3s
//
// The 1,000,000-problem ledgers take a minute or two to build and are
// skipped with -short.

// TestMain removes the benchmark ledgers shared by several benchmarks.
func TestMain(m *testing.M) {
	code := m.Run()
	perfLedgers.Range(func(_, v any) bool {
		l := v.(*perfLedger)
		_ = l.s.Close()
		_ = os.RemoveAll(l.dir)
		return true
	})
	os.Exit(code)
}

// benchService returns a service on s with the suite's units and count
// problems assigned to and accepted by Leping, ready for progress notes.
func benchService(b *testing.B, s *Store, count int) (*workflow.Service, []string) {
	b.Helper()
	ctx := b.Context()
	svc := workflow.NewService(s, workflow.NewManualClock(storetest.T0))
	if err := svc.PutUnits(ctx, storetest.Units()); err != nil {
		b.Fatal(err)
	}
	ids := make([]string, count)
	var wg sync.WaitGroup
	var next atomic.Int64
	for range min(count, 64) {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < count; i = int(next.Add(1) - 1) {
				p, _, err := svc.CreateProblem(ctx, storetest.BureauActor, workflow.NewProblem{Title: fmt.Sprintf("问题 %d", i), Description: "河道沿岸违规堆放建筑垃圾",
					Source: workflow.SourceAudit, CountyID: storetest.Leping})
				if err != nil {
					b.Error(err)
					return
				}
				d := storetest.Deadline(90)
				if _, err := svc.Fire(ctx, storetest.BureauActor, p.ID, workflow.Command{Trigger: workflow.TriggerAssign,
					Params: workflow.Params{LeadUnit: storetest.Leping, Deadline: &d}}); err != nil {
					b.Error(err)
					return
				}
				if _, err := svc.Fire(ctx, storetest.OfficerOf(storetest.Leping), p.ID, workflow.Command{Trigger: workflow.TriggerAccept,
					Params: workflow.Params{Plan: "组织清运"}}); err != nil {
					b.Error(err)
					return
				}
				ids[i] = p.ID
			}
		})
	}
	wg.Wait()
	return svc, ids
}

// reportWrites reports the pages written per command and the commands per
// commit since w0.
func reportWrites(b *testing.B, s *Store, w0 WriteStats) {
	w := s.WriteStats()
	if cmds := w.Commands - w0.Commands; cmds > 0 {
		b.ReportMetric(float64(w.Pages-w0.Pages)/float64(cmds), "pages/op")
		b.ReportMetric(float64(cmds)/float64(w.Groups-w0.Groups), "cmds/commit")
	}
}

// BenchmarkTransition measures one durable transition (a progress note
// through the workflow service) at a time: each commits alone, with its own
// fsyncs.
func BenchmarkTransition(b *testing.B) {
	s, _ := open(b, Options{})
	svc, ids := benchService(b, s, 1000)
	ctx := b.Context()
	officer := storetest.OfficerOf(storetest.Leping)
	w0 := s.WriteStats()
	i := 0
	for b.Loop() {
		if _, err := svc.AddNote(ctx, officer, ids[i%len(ids)], "已完成清运方案审批", 0); err != nil {
			b.Fatal(err)
		}
		i++
	}
	reportWrites(b, s, w0)
}

// BenchmarkGroupedTransitions measures the same transitions from 64
// goroutines, on as many problems as there are goroutines' commands in
// flight: concurrent commands share commits (group commit). ns/op is the
// inverse of the throughput.
func BenchmarkGroupedTransitions(b *testing.B) {
	for _, mg := range []int{0, 1} {
		name := "grouped"
		if mg == 1 {
			name = "maxgroup=1"
		}
		b.Run(name, func(b *testing.B) {
			s, _ := open(b, Options{MaxGroup: mg})
			svc, ids := benchService(b, s, 1024)
			ctx := b.Context()
			officer := storetest.OfficerOf(storetest.Leping)
			var next atomic.Uint64
			w0 := s.WriteStats()
			b.SetParallelism((64 + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					id := ids[next.Add(1)%uint64(len(ids))]
					if _, err := svc.AddNote(ctx, officer, id, "已完成清运方案审批", 0); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.StopTimer()
			reportWrites(b, s, w0)
			b.ReportMetric(float64(s.redecided.Load())/float64(b.N), "redecided/op")
		})
	}
}

// Sweep and list benchmarks share ledgers of 100,000 and 1,000,000
// problems with perfDue problems due at perfBase (a due-soon alert each),
// spread over the ledger; perfTagged in every 100 problems carry an
// overdue alert, a quarter of them in each county; a tenth are closed; the
// others wake in a year.
const (
	perfDue    = 10_000
	perfTagged = 4
)

var (
	perfBase    = time.Date(2022, 3, 1, 2, 0, 0, 0, time.UTC)
	perfLedgers sync.Map // size → *perfLedger
)

type perfLedger struct {
	dir, path string
	s         *Store
	size      uint64
	stride    uint64
	due       []uint64
	build     time.Duration
}

func (l *perfLedger) gen(n uint64) *workflow.Problem {
	switch {
	case n%l.stride == 0:
		// Due at perfBase: it enters its due-soon window an hour before.
		return rectifyingProblem(n, perfBase.Add(workflow.DefaultPolicy().DueSoon-time.Hour), false)
	case n%100 >= 7 && n%100 < 7+perfTagged:
		d := perfBase.AddDate(0, 0, -10)
		p := rectifyingProblem(n, d, false)
		wake := d.Add(workflow.DefaultPolicy().Red + time.Second)
		p.Supervision = workflow.Supervision{Level: workflow.LevelOverdue, WakeAt: &wake}
		return p
	}
	return rectifyingProblem(n, perfBase.AddDate(1, 0, 0).Add(time.Duration(n)*time.Second), n%10 == 5)
}

// ledger returns the shared ledger of size problems, building it once.
func ledger(b *testing.B, size uint64) *perfLedger {
	if size > 100_000 && testing.Short() {
		b.Skip("the 1,000,000 ledger is skipped with -short")
	}
	if v, ok := perfLedgers.Load(size); ok {
		return v.(*perfLedger)
	}
	dir, err := os.MkdirTemp("", "rectify-perf-")
	if err != nil {
		b.Fatal(err)
	}
	l := &perfLedger{dir: dir, path: filepath.Join(dir, "ledger.db"), size: size, stride: size / perfDue}
	if l.s, err = Open(l.path, Options{}); err != nil {
		b.Fatal(err)
	}
	for n := l.stride; n <= size; n += l.stride {
		l.due = append(l.due, n)
	}
	start := time.Now()
	bulkLoad(b, l.s, size, l.gen)
	l.build = time.Since(start)
	perfLedgers.Store(size, l)
	if fi, err := os.Stat(l.path); err == nil {
		b.Logf("ledger of %d problems built in %v: %.0f MiB", size, l.build.Round(time.Second), float64(fi.Size())/(1<<20))
	}
	return l
}

var perfSizes = []uint64{100_000, 1_000_000}

// BenchmarkSweep measures the index-only deadline sweep (Store.Sweep):
// finding the 10,000 problems due among 100,000 or 1,000,000 and the alert
// each is due for, from the wake index alone, no record decoded. warm: the
// file in the page cache and mapped.
func BenchmarkSweep(b *testing.B) {
	for _, size := range perfSizes {
		b.Run(fmt.Sprintf("ledger=%d", size), func(b *testing.B) {
			l := ledger(b, size)
			ctx := context.Background()
			pol := workflow.DefaultPolicy()
			decodes := l.s.sweepDecodes.Load()
			for b.Loop() {
				due, err := l.s.Sweep(ctx, perfBase, pol, 2*perfDue)
				if err != nil || len(due) != perfDue {
					b.Fatalf("Sweep = %d due, %v; want %d", len(due), err, perfDue)
				}
			}
			if l.s.sweepDecodes.Load() != decodes {
				b.Fatal("the sweep decoded problem records")
			}
			b.ReportMetric(perfDue, "due/op")
		})
	}
}

// BenchmarkSweepAfterRestart measures closing and reopening the 1,000,000
// ledger and its first sweep, with and without MAP_POPULATE. The page cache
// stays warm unless RECTIFY_BENCH_DROP_CACHES=1 (root only: it drops the
// machine's page cache before each open).
func BenchmarkSweepAfterRestart(b *testing.B) {
	for _, populate := range []bool{true, false} {
		b.Run(fmt.Sprintf("populate=%v", populate), func(b *testing.B) {
			if populate && mmapFlags == 0 {
				b.Skip("no MAP_POPULATE on this platform")
			}
			l := ledger(b, 1_000_000)
			saved := mmapFlags
			defer func() { mmapFlags = saved }()
			if !populate {
				mmapFlags = 0
			}
			ctx := context.Background()
			pol := workflow.DefaultPolicy()
			cold := os.Getenv("RECTIFY_BENCH_DROP_CACHES") == "1"
			var openT, sweepT time.Duration
			for b.Loop() {
				b.StopTimer()
				if err := l.s.Close(); err != nil {
					b.Fatal(err)
				}
				if cold {
					if err := os.WriteFile("/proc/sys/vm/drop_caches", []byte("1"), 0); err != nil {
						b.Fatalf("drop caches: %v", err)
					}
				}
				b.StartTimer()
				t0 := time.Now()
				// The open without the full check (BenchmarkOpenCheck
				// measures it).
				s, err := Open(l.path, Options{QuickCheck: true})
				if err != nil {
					b.Fatal(err)
				}
				l.s = s
				t1 := time.Now()
				due, err := s.Sweep(ctx, perfBase, pol, 2*perfDue)
				if err != nil || len(due) != perfDue {
					b.Fatalf("Sweep = %d due, %v", len(due), err)
				}
				openT += t1.Sub(t0)
				sweepT += time.Since(t1)
			}
			b.ReportMetric(float64(openT.Milliseconds())/float64(b.N), "open-ms/op")
			b.ReportMetric(float64(sweepT.Microseconds())/1000/float64(b.N), "sweep-ms/op")
		})
	}
}

// BenchmarkOpenCheck measures reopening the ledgers (read-write, as serve
// does) with the check of the file Open makes: quick (meta pages, size,
// freelist, root page, the tail of the hash chain) or full (also every page
// of the tree and bbolt's Tx.Check). The page cache stays warm. cpu-ms/op
// is the CPU time of an open (the process's, user and system), which
// other load on the machine does not inflate as it does the time.
func BenchmarkOpenCheck(b *testing.B) {
	for _, size := range perfSizes {
		for _, quick := range []bool{true, false} {
			check := map[bool]string{true: "quick", false: "full"}[quick]
			b.Run(fmt.Sprintf("ledger=%d/check=%s", size, check), func(b *testing.B) {
				l := ledger(b, size)
				var cpu time.Duration
				for b.Loop() {
					b.StopTimer()
					if err := l.s.Close(); err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
					c0 := processCPU()
					s, err := Open(l.path, Options{QuickCheck: quick})
					if err != nil {
						b.Fatal(err)
					}
					cpu += processCPU() - c0
					l.s = s
				}
				b.ReportMetric(float64(cpu.Milliseconds())/float64(b.N), "cpu-ms/op")
			})
		}
	}
}

// BenchmarkScanRecord measures a whole scan (Service.Scan) of those ledgers:
// the sweep and the recording of 10,000 due-soon alerts, each an update
// command, submitted concurrently so that group commit batches them.
func BenchmarkScanRecord(b *testing.B) {
	for _, size := range perfSizes {
		b.Run(fmt.Sprintf("ledger=%d", size), func(b *testing.B) {
			l := ledger(b, size)
			ctx := context.Background()
			svc := workflow.NewService(l.s, workflow.NewManualClock(perfBase))
			w0 := l.s.WriteStats()
			for b.Loop() {
				n, err := svc.Scan(ctx)
				if err != nil || n != perfDue {
					b.Fatalf("Scan = %d, %v; want %d alerts", n, err, perfDue)
				}
				b.StopTimer()
				bulkRewrite(b, l.s, l.due, l.gen) // due again
				b.StartTimer()
			}
			reportWrites(b, l.s, w0)
		})
	}
}

// BenchmarkListPage measures one page of 50 problems filtered by county,
// state and alert level on those ledgers, the first page and one from the
// middle of the results: its cost follows the page, not the ledger.
func BenchmarkListPage(b *testing.B) {
	for _, size := range perfSizes {
		b.Run(fmt.Sprintf("ledger=%d", size), func(b *testing.B) {
			l := ledger(b, size)
			ctx := context.Background()
			f := workflow.ProblemFilter{County: storetest.Leping, State: workflow.StateRectifying, Tag: string(workflow.LevelOverdue), Limit: 50}
			mid := f
			mid.Cursor = workflow.ProblemID(size / 2)
			i := 0
			for b.Loop() {
				g := f
				if i%2 == 1 {
					g = mid
				}
				i++
				items, next, err := l.s.Problems(ctx, g)
				if err != nil || len(items) != 50 || next == "" {
					b.Fatalf("Problems = %d items, next %q, %v", len(items), next, err)
				}
			}
		})
	}
}

// BenchmarkGetProblem measures reading one problem of those ledgers.
func BenchmarkGetProblem(b *testing.B) {
	for _, size := range perfSizes {
		b.Run(fmt.Sprintf("ledger=%d", size), func(b *testing.B) {
			l := ledger(b, size)
			ctx := context.Background()
			n := uint64(1)
			for b.Loop() {
				n = (n*7919 + 13) % size
				if _, err := l.s.Problem(ctx, workflow.ProblemID(n+1)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
