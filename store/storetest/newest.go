package storetest

import (
	"testing"

	"github.com/jdz-eco/rectify/workflow"
)

// testNewestEntries checks NewestEntries against each problem's whole
// history: for each problem asked, in the order asked, the newest entry of
// the action at the record's version (nil when there is none), an entry
// appended after the record was read passed over.
func testNewestEntries(t *testing.T, s workflow.Store) {
	ns, ok := s.(workflow.NewestEntries)
	if !ok {
		t.Skip("the store has no NewestEntries")
	}
	ctx := t.Context()
	d := Deadline(30)
	none := mustCreate(t, s, "没有进展的问题", workflow.SourceAudit, Leping)
	twice := mustCreate(t, s, "两次进展的问题", workflow.SourceAudit, Fuliang)
	mustUpdate(t, s, twice.ID, Assign(Fuliang, nil, d))
	mustUpdate(t, s, twice.ID, Note("第一次进展"))
	mustUpdate(t, s, twice.ID, Note("第二次进展"))
	mustUpdate(t, s, twice.ID, Move(OfficerOf(Fuliang), workflow.TriggerAccept, workflow.StateAssigned, workflow.StateRectifying))
	mustUpdate(t, s, twice.ID, Move(OfficerOf(Fuliang), workflow.TriggerSubmit, workflow.StateRectifying, workflow.StateSubmitted))
	later := mustCreate(t, s, "进展之后又有进展的问题", workflow.SourceAudit, Zhushan)
	mustUpdate(t, s, later.ID, Assign(Zhushan, nil, d))
	mustUpdate(t, s, later.ID, Note("较早的进展"))
	mustUpdate(t, s, later.ID, Move(OfficerOf(Zhushan), workflow.TriggerAccept, workflow.StateAssigned, workflow.StateRectifying))
	stale := mustProblem(t, s, later.ID)
	mustUpdate(t, s, later.ID, Note("读取记录之后的进展"))
	noNote := mustCreate(t, s, "只有流转的问题", workflow.SourceAudit, Changjiang)
	mustUpdate(t, s, noNote.ID, Assign(Changjiang, nil, d))
	mustUpdate(t, s, noNote.ID, Move(OfficerOf(Changjiang), workflow.TriggerAccept, workflow.StateAssigned, workflow.StateRectifying))

	probs := []*workflow.Problem{mustProblem(t, s, noNote.ID), stale, mustProblem(t, s, twice.ID), mustProblem(t, s, none.ID), mustProblem(t, s, later.ID)}
	texts := []string{"", "较早的进展", "第二次进展", "", "读取记录之后的进展"}
	// Before any History call (which seals what is pending on etcd): the
	// entries as committed, sealed or not.
	got, err := ns.NewestEntries(ctx, workflow.ActionNote, probs)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(probs) {
		t.Fatalf("NewestEntries gave %d entries for %d problems", len(got), len(probs))
	}
	for i, p := range probs {
		switch {
		case texts[i] == "" && got[i] != nil:
			t.Errorf("problem %s (version %d) has no note, got %+v", p.ID, p.Version, got[i])
		case texts[i] != "" && (got[i] == nil || got[i].Params.Text != texts[i] || got[i].Action != workflow.ActionNote || got[i].ProblemID != p.ID):
			t.Errorf("problem %s (version %d): newest note %+v, want %q", p.ID, p.Version, got[i], texts[i])
		}
	}

	// Against the whole histories, for two actions.
	for _, action := range []string{workflow.ActionNote, string(workflow.TriggerAssign), string(workflow.TriggerAccept), workflow.ActionCreate} {
		var want []*workflow.Entry
		for _, p := range probs {
			var w *workflow.Entry
			hist := mustHistory(t, s, p.ID)
			for i := len(hist) - 1; i >= 0; i-- {
				if hist[i].Action == action && hist[i].Version <= p.Version {
					w = &hist[i]
					break
				}
			}
			want = append(want, w)
		}
		got, err := ns.NewestEntries(ctx, action, probs)
		if err != nil {
			t.Fatal(err)
		}
		sameJSON(t, "NewestEntries("+action+")", got, want)
	}
	if got, err := ns.NewestEntries(ctx, workflow.ActionNote, nil); err != nil || len(got) != 0 {
		t.Errorf("NewestEntries of no problem = %v, %v", got, err)
	}
}
