package ledgerfile_test

import (
	"fmt"
	"io"
	"runtime"
	"runtime/metrics"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jdz-eco/rectify/seeds"
	"github.com/jdz-eco/rectify/workflow"
	"github.com/jdz-eco/rectify/workflow/ledgerfile"
)

// benchProblems builds n problems in memory, with text of a realistic
// length, a third of them closed with sign-offs.
func benchProblems(n int) []*workflow.Problem {
	units := seeds.Units()
	counties := []string{"fuliang", "leping", "zhushan", "changjiang", "gaoxin", "changnan", "jdz"}
	ps := make([]*workflow.Problem, n)
	created := time.Date(2021, 6, 24, 1, 0, 0, 0, time.UTC)
	for i := range ps {
		d := created.Add(time.Duration(30+i%200) * workflow.Day)
		o := d
		p := &workflow.Problem{
			ID: strconv.Itoa(i + 1), Code: workflow.ProblemCode(uint64(i+1), created),
			Title:       "尾矿库污染治理问题" + strconv.Itoa(i),
			Description: "浮梁县茅棚店锡矿尾矿库渗滤液收集池破损，雨季渗滤液外溢至周边农田，群众多次投诉。现场检查发现库区未设置截洪沟，排洪设施不完善。",
			Source:      workflow.Sources[i%len(workflow.Sources)], SourceRef: "中央第二轮生态环境保护督察交办件 D3JX2021070500" + strconv.Itoa(i%100),
			CountyID: counties[i%len(counties)], WorkPoint: 1 + i%25, Location: "浮梁县茅棚店",
			State: workflow.StateRectifying, LeadUnit: counties[(i+1)%len(counties)],
			CooperatingUnits: []string{units[i%len(units)].ID, units[(i+5)%len(units)].ID},
			Requirements:     "2021年底前完成渗滤液收集池修复，消除外溢风险，完善排洪设施。",
			Plan:             "一是修复收集池；二是建设截洪沟；三是开展周边农田土壤监测。",
			Deadline:         &d, OriginalDeadline: &o, CreatedAt: created, UpdatedAt: created,
		}
		if i%3 == 0 {
			p.State, p.Resolution = workflow.StateClosed, workflow.ResolutionRectified
			p.Summary, p.Opinion, p.Statement = "已完成整改", "验收通过", "同意销号"
			p.Signatures = []workflow.Signature{{Action: "verify", At: d.Add(-48 * time.Hour)}, {Action: "close", At: d.Add(-24 * time.Hour)}}
		}
		ps[i] = p
	}
	return ps
}

func benchOptions() ledgerfile.ExportOptions {
	o := ledgerfile.ExportOptions{Units: map[string]workflow.Unit{}, WorkPoints: seeds.WorkPoints(),
		Now: time.Date(2021, 10, 1, 0, 0, 0, 0, time.UTC), Policy: workflow.DefaultPolicy()}
	for _, u := range seeds.Units() {
		o.Units[u.ID] = u
	}
	return o
}

// peakHeap samples the live heap (as the garbage collector last measured it,
// so garbage not yet collected does not count) while fn runs and returns the
// highest sample above what was live before, in MB.
func peakHeap(fn func()) float64 {
	runtime.GC()
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(sample)
	base := sample[0].Value.Uint64()
	var (
		peak uint64
		wg   sync.WaitGroup
		done = make(chan struct{})
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			metrics.Read(s)
			if v := s[0].Value.Uint64(); v > peak {
				peak = v
			}
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	fn()
	close(done)
	wg.Wait()
	if peak < base {
		return 0
	}
	return float64(peak-base) / (1 << 20)
}

// BenchmarkExport exports 100,000 problems (and, for comparison, 10,000)
// built in memory. Besides time and allocations it reports the peak live
// heap above the problems themselves: it does not grow with the rows.
func BenchmarkExport(b *testing.B) {
	for _, n := range []int{10000, 100000} {
		b.Run(fmt.Sprintf("problems=%d", n), func(b *testing.B) {
			ps := benchProblems(n)
			o := benchOptions()
			b.ReportAllocs()
			b.ResetTimer()
			var peak float64
			for i := 0; i < b.N; i++ {
				m := peakHeap(func() {
					if err := ledgerfile.Export(io.Discard, ledgerfile.Slice(ps), o); err != nil {
						b.Fatal(err)
					}
				})
				peak = max(peak, m)
			}
			b.ReportMetric(peak, "peak-heap-MB")
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N)/float64(n)*1000, "µs/problem")
		})
	}
}

// BenchmarkImport imports a CSV ledger of 100,000 generated problems (half
// assigned) into an empty bbolt ledger: reading, checking and the one
// commit. It reports the peak heap above what was live before.
func BenchmarkImport(b *testing.B) {
	for _, n := range []int{10000, 100000} {
		b.Run(fmt.Sprintf("rows=%d", n), func(b *testing.B) {
			data := ledgerCSV(n)
			var peak float64
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				e := newEnv(b)
				b.StartTimer()
				peak = max(peak, peakHeap(func() {
					res := e.importFile(b, data, ledgerfile.KindCSV, false)
					if len(res.Errors) > 0 || res.Created != n {
						b.Fatalf("%d created, errors %v", res.Created, first(res.Errors))
					}
				}))
			}
			b.ReportMetric(peak, "peak-heap-MB")
		})
	}
}
