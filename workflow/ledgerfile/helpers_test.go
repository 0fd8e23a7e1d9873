package ledgerfile_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"testing"
	"time"

	"github.com/jdz-eco/rectify/seeds"
	"github.com/jdz-eco/rectify/store/bolt"
	"github.com/jdz-eco/rectify/workflow"
	"github.com/jdz-eco/rectify/workflow/ledgerfile"
)

var (
	bureau     = workflow.Actor{ID: "u-bureau", Name: "局办", Role: workflow.RoleBureau, UnitID: seeds.BureauUnitID}
	fuliang    = workflow.Actor{ID: "u-fl", Name: "浮梁县干部", Role: workflow.RoleUnit, UnitID: seeds.FuliangUnitID}
	leping     = workflow.Actor{ID: "u-lp", Name: "乐平市干部", Role: workflow.RoleUnit, UnitID: seeds.LepingUnitID}
	inspector  = workflow.Actor{ID: "u-insp", Name: "验收员", Role: workflow.RoleInspector, UnitID: seeds.OfficeUnitID}
	inspector2 = workflow.Actor{ID: "u-insp2", Name: "复核员", Role: workflow.RoleInspector, UnitID: seeds.OfficeUnitID}
	viewer     = workflow.Actor{ID: "u-view", Name: "市领导", Role: workflow.RoleViewer, UnitID: seeds.CityUnitID}
)

// cst reads a Shanghai wall-clock time such as "2021-07-01 10:00".
func cst(s string) time.Time {
	t, err := time.ParseInLocation("2006-01-02 15:04", s, workflow.Shanghai)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

func date(s string) *time.Time {
	d, err := workflow.ParseDeadline(s)
	if err != nil {
		panic(err)
	}
	return &d
}

type env struct {
	svc   *workflow.Service
	clock *workflow.ManualClock
	st    *bolt.Store
}

// newEnv opens an empty ledger with the seed document's units and work
// points, its clock at 2021-06-24 09:00 in Shanghai.
func newEnv(t testing.TB) *env {
	t.Helper()
	st, err := bolt.Open(t.TempDir()+"/x.db", bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	clock := workflow.NewManualClock(cst("2021-06-24 09:00"))
	svc := workflow.NewService(st, clock)
	ctx := context.Background()
	if err := svc.PutUnits(ctx, seeds.Units()); err != nil {
		t.Fatal(err)
	}
	if err := svc.PutWorkPoints(ctx, seeds.WorkPoints()); err != nil {
		t.Fatal(err)
	}
	return &env{svc: svc, clock: clock, st: st}
}

func (e *env) create(t testing.TB, np workflow.NewProblem) *workflow.Problem {
	t.Helper()
	p, created, err := e.svc.CreateProblem(context.Background(), bureau, np)
	if err != nil || !created {
		t.Fatalf("create %q: %v %v", np.Title, created, err)
	}
	return p
}

func (e *env) fire(t testing.TB, when string, a workflow.Actor, id string, trig workflow.Trigger, prm workflow.Params) *workflow.Problem {
	t.Helper()
	e.clock.Set(cst(when))
	p, err := e.svc.Fire(context.Background(), a, id, workflow.Command{Trigger: trig, Params: prm})
	if err != nil {
		t.Fatalf("%s %s by %s: %v", trig, id, a.ID, err)
	}
	return p
}

func (e *env) evidence(t testing.TB, when string, a workflow.Actor, id string) {
	t.Helper()
	e.clock.Set(cst(when))
	sum := sha256.Sum256([]byte(id + when))
	in := workflow.EvidenceInput{SHA256: hex.EncodeToString(sum[:]), Name: "现场照片.jpg", Size: 2048, Type: "image/jpeg"}
	if _, err := e.svc.AddEvidence(context.Background(), a, id, in, 0); err != nil {
		t.Fatal(err)
	}
}

func (e *env) problems(t testing.TB) []*workflow.Problem {
	t.Helper()
	var out []*workflow.Problem
	for p, err := range e.svc.EachProblem(context.Background(), bureau, workflow.ProblemFilter{}) {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, p)
	}
	return out
}

func (e *env) export(t testing.TB, a workflow.Actor, f workflow.ProblemFilter, asOf time.Time) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := ledgerfile.WriteLedger(context.Background(), &buf, e.svc, a, f, asOf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func (e *env) importFile(t testing.TB, data []byte, kind string, dryRun bool) *ledgerfile.Result {
	t.Helper()
	res, err := ledgerfile.ImportFile(context.Background(), e.svc, bureau, bytes.NewReader(data), int64(len(data)), kind, seeds.ResolveUnit, dryRun)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// assignedLedger logs, besides the seed problems, three problems that
// exercise every imported field: cooperating units, requirements, a work
// point, a location, a deadline at a time of day, a deadline long past, a
// zone, quotes, commas and line breaks in the text. Every problem is found or
// assigned, which is what an import creates.
func assignedLedger(t testing.TB) *env {
	e := newEnv(t)
	ctx := context.Background()
	if _, err := seeds.Load(ctx, e.svc); err != nil {
		t.Fatal(err)
	}
	p := e.create(t, workflow.NewProblem{Title: "茅棚店锡矿尾矿库渗滤液外溢", Description: "浮梁县茅棚店锡矿尾矿库渗滤液收集池破损，雨季渗滤液外溢至周边农田。",
		Source: workflow.SourceCentralInspection, SourceRef: "中央第二轮生态环境保护督察交办件 D3JX202107050012", CountyID: "fuliang", WorkPoint: 7, Location: "浮梁县茅棚店"})
	e.fire(t, "2021-07-05 10:00", bureau, p.ID, workflow.TriggerAssign, workflow.Params{LeadUnit: "fuliang",
		CooperatingUnits: []string{"city-eeb", "city-water"}, Requirements: "2021年底前完成渗滤液收集池修复，\n消除外溢风险。", Deadline: date("2021-12-31")})
	p = e.create(t, workflow.NewProblem{Title: "工业园区污水直排", Description: "乐平市某工业园区污水管网不完善，部分企业污水直排，“三线一单”要求未落实；\n群众多次投诉, 见附件。",
		Source: workflow.SourceProvincialInspection, SourceRef: "省级生态环境保护督察反馈意见第12项", CountyID: "leping"})
	d := cst("2021-09-30 15:30")
	e.fire(t, "2021-07-06 10:00", bureau, p.ID, workflow.TriggerAssign, workflow.Params{LeadUnit: "leping", Deadline: &d})
	p = e.create(t, workflow.NewProblem{Title: "昌南新区建筑垃圾乱堆", Description: "昌南新区某地块建筑垃圾长期露天堆放。",
		Source: workflow.SourceWarningFilm, SourceRef: "2020年全省生态环境警示片", CountyID: "changnan"})
	e.fire(t, "2021-07-07 10:00", bureau, p.ID, workflow.TriggerAssign, workflow.Params{LeadUnit: "changnan", Deadline: date("2021-06-30")})
	e.create(t, workflow.NewProblem{Title: "审计发现问题", Description: "城区污水处理厂提标改造资金未按期拨付。", Source: workflow.SourceAudit, CountyID: "jdz"})
	return e
}
