package storetest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/jdz-eco/rectify/workflow"
)

func testCreateAllocatesNumbers(t *testing.T, s workflow.Store) {
	ctx := t.Context()
	titles := []string{"浮梁县某砂场违规堆放", "乐平市工业园区污水直排", "珠山区昌江沿岸垃圾堆积"}
	var lastSeq uint64
	for i, title := range titles {
		n := uint64(i + 1)
		p, created, err := s.CreateProblem(ctx, "", func(got uint64) (*workflow.Problem, []workflow.Entry, error) {
			if got != n {
				t.Errorf("build got number %d, want %d", got, n)
			}
			return Build(title, workflow.SourceWarningFilm, Fuliang)(got)
		})
		if err != nil || !created {
			t.Fatalf("CreateProblem %d = %v, %v", n, created, err)
		}
		if p.ID != workflow.ProblemID(n) || p.Version != 1 || p.Code != workflow.ProblemCode(n, T0) || p.Title != title {
			t.Errorf("created problem %d: id %q version %d code %q title %q", n, p.ID, p.Version, p.Code, p.Title)
		}
		sameJSON(t, "stored problem", mustProblem(t, s, p.ID), p)
		h := mustHistory(t, s, p.ID)
		if len(h) != 1 {
			t.Fatalf("problem %s has %d history entries, want 1", p.ID, len(h))
		}
		e := h[0]
		if e.ProblemID != p.ID || e.Version != 1 || e.Action != workflow.ActionCreate || e.To != workflow.StateFound || e.Params.Title != title {
			t.Errorf("create entry of %s = %+v", p.ID, e)
		}
		if e.Seq <= lastSeq {
			t.Errorf("create entry of %s has seq %d, not after %d", p.ID, e.Seq, lastSeq)
		}
		lastSeq = e.Seq
	}
}

func testCreateDedupe(t *testing.T, s workflow.Store) {
	ctx := t.Context()
	const key = "warning-film-2020-06"
	first, created, err := s.CreateProblem(ctx, key, func(n uint64) (*workflow.Problem, []workflow.Entry, error) {
		p, e, err := Build("昌江河道非法采砂", workflow.SourceWarningFilm, Changjiang)(n)
		p.DedupeKey = key
		return p, e, err
	})
	if err != nil || !created {
		t.Fatalf("first CreateProblem = %v, %v", created, err)
	}
	again, created, err := s.CreateProblem(ctx, key, func(n uint64) (*workflow.Problem, []workflow.Entry, error) {
		t.Errorf("build called with %d for a dedupe key already used", n)
		return Build("重复", workflow.SourceWarningFilm, Changjiang)(n)
	})
	if err != nil || created {
		t.Fatalf("second CreateProblem = %v, %v; want the existing problem, created false", created, err)
	}
	sameJSON(t, "deduplicated problem", again, first)
	if h := mustHistory(t, s, first.ID); len(h) != 1 {
		t.Errorf("history has %d entries after a deduplicated create, want 1", len(h))
	}
	items, _, err := s.Problems(ctx, workflow.ProblemFilter{})
	if err != nil || len(items) != 1 {
		t.Fatalf("Problems = %d items, %v; want 1", len(items), err)
	}
	// Neither the counter nor the history sequence moved.
	next := mustCreate(t, s, "乐平市养殖场废水外排", workflow.SourceSelfInspection, Leping)
	if next.ID != "2" {
		t.Errorf("next problem is %s, want 2", next.ID)
	}
	other, created, err := s.CreateProblem(ctx, "audit-2021-03", Build("审计指出污水处理厂超标", workflow.SourceAudit, Leping))
	if err != nil || !created || other.ID != "3" {
		t.Errorf("CreateProblem with another key = %v, %v, %v; want problem 3 created", other, created, err)
	}
}

func testCreateBuildError(t *testing.T, s workflow.Store) {
	ctx := t.Context()
	want := workflow.Invalid("county_id", "county_id %q is not a county", "nowhere")
	p, created, err := s.CreateProblem(ctx, "key-1", func(uint64) (*workflow.Problem, []workflow.Entry, error) {
		return nil, nil, want
	})
	if err != want || p != nil || created {
		t.Fatalf("CreateProblem = %v, %v, %v; want the build error as is", p, created, err)
	}
	items, _, err := s.Problems(ctx, workflow.ProblemFilter{})
	if err != nil || len(items) != 0 {
		t.Errorf("Problems after a failed create = %d items, %v; want none", len(items), err)
	}
	// The number was not consumed and the dedupe key not recorded.
	p, created, err = s.CreateProblem(ctx, "key-1", Build("浮梁县生活垃圾填埋场渗滤液", workflow.SourceProvincialInspection, Fuliang))
	if err != nil || !created || p.ID != "1" {
		t.Errorf("CreateProblem after a failed one = %v, %v, %v; want problem 1 created", p, created, err)
	}
}

func testNotFound(t *testing.T, s workflow.Store) {
	ctx := t.Context()
	mustCreate(t, s, "珠山区餐饮油烟", workflow.SourceOther, Zhushan)
	for _, id := range []string{"2", "999", "0", "01", "-1", "1.0", " 1", "abc", "", "18446744073709551616", "JDZ-2021-0001"} {
		t.Run(id, func(t *testing.T) {
			_, err := s.Problem(ctx, id)
			wantCode(t, "Problem", err, workflow.CodeNotFound)
			_, err = s.History(ctx, id)
			wantCode(t, "History", err, workflow.CodeNotFound)
			_, err = s.UpdateProblem(ctx, id, func(*workflow.Problem) ([]workflow.Entry, error) {
				t.Errorf("apply called for problem %q", id)
				return nil, nil
			})
			wantCode(t, "UpdateProblem", err, workflow.CodeNotFound)
		})
	}
}

func testUpdateWritesRecordAndHistory(t *testing.T, s workflow.Store) {
	a := mustCreate(t, s, "浮梁县矿山生态修复滞后", workflow.SourceCentralInspection, Fuliang)
	b := mustCreate(t, s, "乐平市乐安河支流水质超标", workflow.SourceProvincialInspection, Leping)
	steps := []struct {
		id    string
		apply Apply
		state workflow.State
	}{
		{a.ID, Assign(Fuliang, []string{Water}, Deadline(90)), workflow.StateAssigned},
		{b.ID, Assign(Leping, nil, Deadline(60)), workflow.StateAssigned},
		{a.ID, Move(OfficerOf(Fuliang), workflow.TriggerAccept, workflow.StateAssigned, workflow.StateRectifying), workflow.StateRectifying},
		{a.ID, Note("已完成复绿 30 亩"), workflow.StateRectifying},
		{b.ID, Move(OfficerOf(Leping), workflow.TriggerAccept, workflow.StateAssigned, workflow.StateRectifying), workflow.StateRectifying},
		{a.ID, Move(OfficerOf(Fuliang), workflow.TriggerSubmit, workflow.StateRectifying, workflow.StateSubmitted), workflow.StateSubmitted},
	}
	versions := map[string]uint64{a.ID: 1, b.ID: 1}
	var seqs []uint64
	for i, st := range steps {
		p := mustUpdate(t, s, st.id, st.apply)
		versions[st.id]++
		if p.Version != versions[st.id] || p.State != st.state {
			t.Errorf("step %d: problem %s at version %d state %s, want %d %s", i, st.id, p.Version, p.State, versions[st.id], st.state)
		}
		sameJSON(t, "stored problem", mustProblem(t, s, st.id), p)
		h := mustHistory(t, s, st.id)
		if uint64(len(h)) != versions[st.id] {
			t.Fatalf("step %d: problem %s has %d entries, want %d", i, st.id, len(h), versions[st.id])
		}
		last := h[len(h)-1]
		if last.ProblemID != st.id || last.Version != p.Version || last.To != st.state {
			t.Errorf("step %d: last entry %+v", i, last)
		}
		seqs = append(seqs, last.Seq)
	}
	// Seq is global: it increases across problems in commit order.
	if !slices.IsSorted(seqs) || len(slices.Compact(slices.Clone(seqs))) != len(seqs) {
		t.Errorf("entry seqs in commit order %v are not strictly increasing", seqs)
	}
	h := mustHistory(t, s, a.ID)
	for i, e := range h {
		if e.Version != uint64(i+1) || e.ProblemID != a.ID || (i > 0 && e.Seq <= h[i-1].Seq) {
			t.Errorf("history of %s, entry %d: seq %d problem %s version %d", a.ID, i, e.Seq, e.ProblemID, e.Version)
		}
	}
	wantActions := []string{workflow.ActionCreate, string(workflow.TriggerAssign), string(workflow.TriggerAccept), workflow.ActionNote, string(workflow.TriggerSubmit)}
	var actions []string
	for _, e := range h {
		actions = append(actions, e.Action)
	}
	if !slices.Equal(actions, wantActions) {
		t.Errorf("history of %s: actions %v, want %v", a.ID, actions, wantActions)
	}
	if h[1].Params.LeadUnit != Fuliang || !slices.Equal(h[1].Params.CooperatingUnits, []string{Water}) || h[1].Params.Deadline == nil || !h[1].Params.Deadline.Equal(Deadline(90)) {
		t.Errorf("assign entry params %+v", h[1].Params)
	}
	if h[4].Actor != OfficerOf(Fuliang) || !h[4].At.Equal(T0.Add(2*time.Hour)) {
		t.Errorf("submit entry actor %+v at %v", h[4].Actor, h[4].At)
	}
}

func testUpdateSeveralEntries(t *testing.T, s workflow.Store) {
	p := mustCreate(t, s, "昌江区黑臭水体", workflow.SourceSelfInspection, Changjiang)
	mustUpdate(t, s, p.ID, Assign(Changjiang, nil, Deadline(30)))
	got := mustUpdate(t, s, p.ID, func(p *workflow.Problem) ([]workflow.Entry, error) {
		one, _ := Note("截污管网已铺设")(p)
		two, _ := Note("清淤完成")(p)
		// Whatever the caller puts in the store-owned fields is replaced.
		one[0].Seq, one[0].ProblemID, one[0].Version = 999, "42", 7
		return append(one, two...), nil
	})
	if got.Version != 3 {
		t.Fatalf("version %d, want 3", got.Version)
	}
	h := mustHistory(t, s, p.ID)
	if len(h) != 4 {
		t.Fatalf("%d entries, want 4", len(h))
	}
	for i, e := range h[2:] {
		if e.Version != 3 || e.ProblemID != p.ID || e.Seq <= h[1+i].Seq {
			t.Errorf("entry %d of one update: seq %d problem %s version %d", i, e.Seq, e.ProblemID, e.Version)
		}
	}
	if h[2].Params.Text != "截污管网已铺设" || h[3].Params.Text != "清淤完成" {
		t.Errorf("entries out of order: %q, %q", h[2].Params.Text, h[3].Params.Text)
	}
}

func testReturnedCopies(t *testing.T, s workflow.Store) {
	p := mustCreate(t, s, "乐平市砖瓦窑扬尘", workflow.SourceWarningFilm, Leping)
	u := mustUpdate(t, s, p.ID, Assign(Leping, []string{Housing}, Deadline(45)))
	want := u.Clone()
	// What the store returned belongs to the caller.
	for _, x := range []*workflow.Problem{p, u, mustProblem(t, s, p.ID)} {
		x.Title = "改过"
		x.State = workflow.StateClosed
		if len(x.CooperatingUnits) > 0 {
			x.CooperatingUnits[0] = Guokong
		}
		if x.Deadline != nil {
			*x.Deadline = T0
		}
	}
	sameJSON(t, "stored problem after the caller changed its copies", mustProblem(t, s, p.ID), want)
	h := mustHistory(t, s, p.ID)
	h[0].Action = "tampered"
	if mustHistory(t, s, p.ID)[0].Action != workflow.ActionCreate {
		t.Error("History returned entries shared with the store")
	}
}

func testApplyErrorWritesNothing(t *testing.T, s workflow.Store) {
	ctx := t.Context()
	p := mustCreate(t, s, "浮梁县农村生活污水处理设施闲置", workflow.SourceAudit, Fuliang)
	mustUpdate(t, s, p.ID, Assign(Fuliang, []string{Water}, Deadline(30)))
	before := mustProblem(t, s, p.ID)
	beforeHistory := mustHistory(t, s, p.ID)
	plain := errors.New("disk quota of evidence store exceeded")
	tests := []struct {
		name string
		err  error
		code workflow.Code
	}{
		{"conflict", workflow.Refuse(workflow.ReasonNotPermitted, "trigger verify is not permitted in state assigned").
			InState(workflow.StateAssigned, []workflow.Trigger{workflow.TriggerReassign, workflow.TriggerAccept}), workflow.CodeConflict},
		{"forbidden", workflow.Refuse(workflow.ReasonNotLeadUnit, "only members of the lead unit %s may accept", Fuliang), workflow.CodeForbidden},
		{"precondition", workflow.Refuse(workflow.ReasonStaleVersion, "problem %s is at version 2, not 1", p.ID), workflow.CodePreconditionFailed},
		{"invalid", workflow.RefuseField(workflow.ReasonRequired, "plan", "plan is required for accept"), workflow.CodeInvalid},
		{"plain", plain, workflow.CodeInternal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.UpdateProblem(ctx, p.ID, func(p *workflow.Problem) ([]workflow.Entry, error) {
				// The domain may have changed its copy before it refused.
				entries, _ := Move(OfficerOf(Housing), workflow.TriggerAccept, workflow.StateAssigned, workflow.StateRectifying)(p)
				p.LeadUnit, p.CountyID = Housing, Zhushan
				p.CooperatingUnits = []string{Guokong}
				d := Deadline(400)
				p.Deadline = &d
				return entries, tt.err
			})
			if got != nil || err != tt.err {
				t.Fatalf("UpdateProblem = %v, %v; want nil and the apply error as is", got, err)
			}
			if !errors.Is(err, tt.err) || workflow.ErrorCode(err) != tt.code {
				t.Errorf("error %v: code %s, want %s", err, workflow.ErrorCode(err), tt.code)
			}
			var de *workflow.Error
			if tt.code != workflow.CodeInternal && (!errors.As(err, &de) || de.Message != tt.err.(*workflow.Error).Message || de.Reason != tt.err.(*workflow.Error).Reason) {
				t.Errorf("errors.As lost the domain error: %v", err)
			}
			sameJSON(t, "problem after a failed apply", mustProblem(t, s, p.ID), before)
			sameJSON(t, "history after a failed apply", mustHistory(t, s, p.ID), beforeHistory)
			for _, f := range []workflow.ProblemFilter{
				{LeadUnit: Housing}, {Unit: Housing}, {Unit: Guokong}, {County: Zhushan}, {State: workflow.StateRectifying},
			} {
				if items, _, err := s.Problems(ctx, f); err != nil || len(items) != 0 {
					t.Errorf("Problems(%+v) = %d items, %v; a failed apply left an index entry", f, len(items), err)
				}
			}
		})
	}
	// The failed updates did not consume versions.
	if got := mustUpdate(t, s, p.ID, Note("继续推进")); got.Version != before.Version+1 {
		t.Errorf("version after failed updates and one success = %d, want %d", got.Version, before.Version+1)
	}
}

func testVersionConflict(t *testing.T, s workflow.Store) {
	ctx := t.Context()
	p := mustCreate(t, s, "珠山区建筑工地扬尘", workflow.SourceSelfInspection, Zhushan)
	u := mustUpdate(t, s, p.ID, IfVersion(1, Assign(Zhushan, nil, Deadline(20))))
	if u.Version != 2 {
		t.Fatalf("version %d, want 2", u.Version)
	}
	// A second writer that read version 1 is refused and writes nothing.
	_, err := s.UpdateProblem(ctx, p.ID, IfVersion(1, Assign(Housing, nil, Deadline(20))))
	wantCode(t, "stale update", err, workflow.CodePreconditionFailed)
	got := mustProblem(t, s, p.ID)
	if got.Version != 2 || got.LeadUnit != Zhushan {
		t.Errorf("after a stale update: version %d lead %s, want 2 %s", got.Version, got.LeadUnit, Zhushan)
	}
	if h := mustHistory(t, s, p.ID); len(h) != 2 {
		t.Errorf("history has %d entries, want 2", len(h))
	}
	if u := mustUpdate(t, s, p.ID, IfVersion(2, Note("已制定方案"))); u.Version != 3 {
		t.Errorf("version %d, want 3", u.Version)
	}
}
