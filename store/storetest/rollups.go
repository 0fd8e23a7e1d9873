package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/jdz-eco/rectify/workflow"
)

// RecordsOnly hides a store's capabilities: a service on it counts the
// statistics from the records and histories, the reference the rollups must
// equal.
type RecordsOnly struct{ workflow.Store }

// testRollups drives random commands by random actors through the service
// on a new store (refusals included, the clock moving on by random steps,
// scans in between, batch creates that commit or fail part way) and checks after each sequence that the store's rollups
// equal a recount from the histories (RollupAuditor), and that the
// statistics they give equal those counted from the records and replayed
// from the histories, now and at the end of days before, during and after
// the commands, for the bureau and for unit officers.
func testRollups(t *testing.T, open func(t *testing.T) workflow.Store) {
	if _, ok := open(t).(workflow.Rollups); !ok {
		t.Skip("the store keeps no rollups")
	}
	ctx := t.Context()
	rapid.Check(t, func(rt *rapid.T) {
		s := open(t)
		clock := workflow.NewManualClock(T0)
		svc := workflow.NewService(s, clock)
		if err := svc.PutUnits(ctx, Units()); err != nil {
			rt.Fatal(err)
		}
		if err := svc.PutWorkPoints(ctx, []workflow.WorkPoint{{Number: 3, Title: "深入推进水污染治理", LeadUnits: []string{Fuliang}}}); err != nil {
			rt.Fatal(err)
		}
		m := &rollupModel{svc: svc, clock: clock}
		for range rapid.IntRange(1, 30).Draw(rt, "commands") {
			m.step(ctx, rt)
			if f, ok := s.(Folder); ok && rapid.IntRange(0, 3).Draw(rt, "fold") == 0 {
				if _, err := f.FoldRollups(ctx); err != nil {
					rt.Fatal(err)
				}
			}
		}
		if err := CheckRollups(ctx, s, clock); err != nil {
			rt.Fatal(err)
		}
	})
}

// CheckRollups checks the rollups of store s (a Rollups, whose service
// policy is the default): that they equal a recount from the histories,
// when s is a RollupAuditor, and that the statistics they give equal those
// counted from the records now (at clock's time) and replayed from the
// histories at the ends of days from T0's eve to a month after clock's
// time, for the bureau and for the officers of the units the suite's random
// commands involve. A store that sums its rollups later (Folder) is
// checked before and after it does. A test of a store calls it after
// whatever it did to the store: a crash, a migration, an import.
func CheckRollups(ctx context.Context, s workflow.Store, clock workflow.Clock) error {
	if err := checkRollups(ctx, s, clock); err != nil {
		return err
	}
	if f, ok := s.(Folder); ok {
		if _, err := f.FoldRollups(ctx); err != nil {
			return err
		}
		return checkRollups(ctx, s, clock)
	}
	return nil
}

// Folder is a store that keeps rollup deltas apart and sums them into its
// views later (store/etcd).
type Folder interface {
	FoldRollups(ctx context.Context) (int, error)
}

func checkRollups(ctx context.Context, s workflow.Store, clock workflow.Clock) error {
	if ra, ok := s.(workflow.RollupAuditor); ok {
		if err := ra.AuditRollups(ctx); err != nil {
			return err
		}
	}
	fast := &answers{Store: s}
	viaRollups := workflow.NewService(fast, clock)
	viaRecords := workflow.NewService(RecordsOnly{s}, clock)
	now := clock.Now()
	times := []time.Time{{}}
	for d := T0.AddDate(0, 0, -2); d.Before(now.AddDate(0, 1, 0)); d = d.AddDate(0, 0, 11) {
		times = append(times, workflow.EndOfDay(d).Add(time.Second-1))
	}
	actors := []workflow.Actor{BureauActor}
	for _, u := range rollupUnits {
		actors = append(actors, OfficerOf(u))
	}
	for _, a := range actors {
		for _, at := range times {
			want, err := viaRecords.StatsReports(ctx, a, workflow.ProblemFilter{}, at, workflow.GroupBys...)
			if err != nil {
				return err
			}
			got, err := viaRollups.StatsReports(ctx, a, workflow.ProblemFilter{}, at, workflow.GroupBys...)
			if err != nil {
				return err
			}
			wj, _ := json.Marshal(want)
			gj, _ := json.Marshal(got)
			if string(wj) != string(gj) {
				return &rollupMismatch{actor: a.ID, at: at, got: string(gj), want: string(wj)}
			}
		}
	}
	if fast.refused > 0 {
		return &rollupMismatch{actor: "any", want: "the rollups answer every query", got: strconv.Itoa(fast.refused) + " refused"}
	}
	return nil
}

type rollupMismatch struct {
	actor     string
	at        time.Time
	got, want string
}

func (e *rollupMismatch) Error() string {
	return "statistics for " + e.actor + " at " + e.at.String() + ":\nfrom the rollups " + e.got + "\nfrom the records " + e.want
}

// answers counts the queries the rollups refuse.
type answers struct {
	workflow.Store
	refused int
}

func (a *answers) Tallies(ctx context.Context, q workflow.TallyQuery) (map[string]*workflow.Tally, bool, error) {
	m, ok, err := a.Store.(workflow.Rollups).Tallies(ctx, q)
	if !ok && err == nil {
		a.refused++
	}
	return m, ok, err
}

// rollupModel picks random commands for testRollups.
type rollupModel struct {
	svc     *workflow.Service
	clock   *workflow.ManualClock
	ids     []string
	files   int
	batches int
}

var rollupUnits = []string{Fuliang, Leping, Water, Housing}

func (m *rollupModel) step(ctx context.Context, rt *rapid.T) {
	// Minutes to weeks pass: levels cross between commands.
	m.clock.Advance(time.Duration(rapid.SampledFrom([]int64{0, 60, 3600, 86400, 5 * 86400, 20 * 86400}).Draw(rt, "wait")) * time.Second)
	kind := rapid.IntRange(0, 10).Draw(rt, "kind")
	// At most one batch a sequence, in about one sequence of eight (a batch
	// on etcd takes a lease and a hold of the chain: slow).
	if kind == 10 && len(m.ids) > 0 && m.batches == 0 && rapid.IntRange(0, 7).Draw(rt, "batch now") == 0 {
		m.batch(ctx, rt)
		return
	}
	if kind == 0 || kind == 10 || len(m.ids) == 0 {
		p, _, err := m.svc.CreateProblem(ctx, BureauActor, workflow.NewProblem{
			Title: "问题", Description: "描述",
			Source:    rapid.SampledFrom(workflow.Sources).Draw(rt, "source"),
			CountyID:  rapid.SampledFrom([]string{Fuliang, Leping, Zhushan}).Draw(rt, "county"),
			WorkPoint: rapid.SampledFrom([]int{0, 3}).Draw(rt, "wp"),
		})
		if err != nil {
			rt.Fatal(err)
		}
		m.ids = append(m.ids, p.ID)
		return
	}
	id := rapid.SampledFrom(m.ids).Draw(rt, "problem")
	p, err := m.svc.Store().Problem(ctx, id)
	if err != nil {
		rt.Fatal(err)
	}
	lead := OfficerOf(p.LeadUnit)
	deadline := workflow.EndOfDay(m.clock.Now().AddDate(0, 0, rapid.IntRange(-5, 60).Draw(rt, "days")))
	switch kind {
	case 1:
		m.fire(ctx, BureauActor, id, workflow.TriggerAssign, workflow.Params{
			LeadUnit: rapid.SampledFrom(rollupUnits).Draw(rt, "lead"), CooperatingUnits: rapid.SliceOfNDistinct(rapid.SampledFrom(rollupUnits), 0, 2, rapid.ID).Draw(rt, "coop"),
			Deadline: &deadline, Requirements: "要求"})
	case 2:
		m.fire(ctx, lead, id, workflow.TriggerAccept, workflow.Params{Plan: "方案"})
	case 3:
		m.files++
		_, _ = m.svc.AddEvidence(ctx, lead, id, EvidenceInput("f"+strconv.Itoa(m.files)), 0)
		m.fire(ctx, lead, id, workflow.TriggerSubmit, workflow.Params{Summary: "已整改"})
	case 4:
		t := rapid.SampledFrom([]workflow.Trigger{workflow.TriggerVerify, workflow.TriggerReject}).Draw(rt, "decision")
		m.fire(ctx, InspectorActor, id, t, workflow.Params{Opinion: "意见", Reason: "理由"})
	case 5:
		m.fire(ctx, BureauActor, id, workflow.TriggerClose, workflow.Params{Statement: "同意销号"})
	case 6:
		t := rapid.SampledFrom([]workflow.Trigger{workflow.TriggerReopen, workflow.TriggerDismiss, workflow.TriggerReassign, workflow.TriggerWithdraw}).Draw(rt, "other")
		a := BureauActor
		if t == workflow.TriggerWithdraw {
			a = lead
		}
		prm := workflow.Params{Reason: "理由"}
		if t == workflow.TriggerReassign {
			prm.LeadUnit = rapid.SampledFrom(rollupUnits).Draw(rt, "newLead")
		}
		if t == workflow.TriggerReopen && p.Resolution == workflow.ResolutionRectified {
			prm.Deadline = &deadline
		}
		m.fire(ctx, a, id, t, prm)
	case 7:
		if p2, err := m.svc.RequestExtension(ctx, lead, id, workflow.ExtensionRequest{Deadline: deadline.AddDate(0, 0, 30), Reason: "汛期"}, 0); err == nil {
			decision := rapid.SampledFrom([]string{"approve", "deny"}).Draw(rt, "extension")
			_, _ = m.svc.DecideExtension(ctx, BureauActor, id, p2.Extensions[len(p2.Extensions)-1].ID, decision, "意见", 0)
		}
	case 8:
		if _, err := m.svc.Scan(ctx); err != nil {
			rt.Fatal(err)
		}
	case 9:
		_, _ = m.svc.AddNote(ctx, lead, id, "进展", 0)
	}
}

// batch creates a few problems at once (Service.CreateProblems), some
// assigned, on a store that is a BatchCreator; sometimes the batch fails
// part way and must leave the rollups as they were.
func (m *rollupModel) batch(ctx context.Context, rt *rapid.T) {
	if _, ok := m.svc.Store().(workflow.BatchCreator); !ok {
		return
	}
	m.batches++
	n := rapid.IntRange(1, 6).Draw(rt, "batch size")
	fail := rapid.IntRange(-1, n).Draw(rt, "batch fails at") // -1, n: it does not
	items := make([]workflow.BatchItem, n)
	for i := range items {
		county := rapid.SampledFrom([]string{Fuliang, Leping, Zhushan}).Draw(rt, "batch county")
		items[i].New = workflow.NewProblem{Title: "批量问题", Description: "描述",
			Source:    rapid.SampledFrom(workflow.Sources).Draw(rt, "batch source"),
			CountyID:  county,
			WorkPoint: rapid.SampledFrom([]int{0, 3}).Draw(rt, "batch wp"),
			DedupeKey: "batch:" + strconv.Itoa(m.batches) + ":" + strconv.Itoa(i)}
		if rapid.Bool().Draw(rt, "batch assigned") {
			d := workflow.EndOfDay(m.clock.Now().AddDate(0, 0, rapid.IntRange(-40, 60).Draw(rt, "batch days")))
			items[i].Assign = &workflow.Params{LeadUnit: rapid.SampledFrom(rollupUnits).Draw(rt, "batch lead"),
				CooperatingUnits: rapid.SliceOfNDistinct(rapid.SampledFrom(rollupUnits), 0, 2, rapid.ID).Draw(rt, "batch coop"),
				Deadline:         &d, Requirements: "要求"}
		}
	}
	made := make([]string, n)
	err := m.svc.CreateProblems(ctx, BureauActor, n, func(i int) (workflow.BatchItem, error) {
		if i == fail {
			return workflow.BatchItem{}, errBatchFails
		}
		return items[i], nil
	}, func(i int, p *workflow.Problem) { made[i] = p.ID }, nil)
	switch {
	case fail >= 0 && fail < n:
		// It fails there, or at an item before that the service refused.
		if err == nil || !errors.Is(err, errBatchFails) && workflow.ErrorCode(err) == workflow.CodeInternal {
			rt.Fatalf("a batch failing at item %d: %v", fail, err)
		}
	case err != nil && workflow.ErrorCode(err) == workflow.CodeInternal:
		rt.Fatal(err)
	case err == nil:
		m.ids = append(m.ids, made...)
	}
}

var errBatchFails = errors.New("the batch's file could not be read again")

// fire runs a command; a refusal is part of the test, a fault is not.
func (m *rollupModel) fire(ctx context.Context, a workflow.Actor, id string, t workflow.Trigger, prm workflow.Params) {
	_, err := m.svc.Fire(ctx, a, id, workflow.Command{Trigger: t, Params: prm})
	if err != nil && workflow.ErrorCode(err) == workflow.CodeInternal {
		panic(err)
	}
}
