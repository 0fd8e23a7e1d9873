package storetest

import (
	"fmt"
	"slices"
	"testing"

	"github.com/jdz-eco/rectify/workflow"
)

// ids returns the IDs of ps.
func ids(ps []*workflow.Problem) []string {
	out := []string{}
	for _, p := range ps {
		out = append(out, p.ID)
	}
	return out
}

// expected returns the IDs of every stored problem among all that f matches,
// in creation order, judged by f.Match on the records themselves.
func expected(t *testing.T, s workflow.Store, all []string, f workflow.ProblemFilter) []string {
	t.Helper()
	out := []string{}
	for _, id := range all {
		if p := mustProblem(t, s, id); f.Match(p) {
			out = append(out, id)
		}
	}
	return out
}

// listAll pages through Problems(f) and returns every ID it yields, checking
// page sizes and that no ID comes twice.
func listAll(t *testing.T, s workflow.Store, f workflow.ProblemFilter, max int) []string {
	t.Helper()
	limit := f.Limit
	if limit <= 0 {
		limit = workflow.DefaultLimit
	}
	var got []string
	for page := 0; ; page++ {
		if page > max+1 {
			t.Fatalf("Problems(%+v): more than %d pages", f, max+1)
		}
		items, next, err := s.Problems(t.Context(), f)
		if err != nil {
			t.Fatalf("Problems(%+v) = %v", f, err)
		}
		if items == nil {
			t.Errorf("Problems(%+v) returned nil items, want an empty slice", f)
		}
		if len(items) > limit {
			t.Fatalf("Problems(%+v) returned %d items, more than the limit", f, len(items))
		}
		got = append(got, ids(items)...)
		if next == "" {
			break
		}
		if len(items) != limit || next != items[len(items)-1].ID {
			t.Fatalf("Problems(%+v): %d items and next %q; a page with a next cursor must be full and end at it", f, len(items), next)
		}
		f.Cursor = next
	}
	seen := map[string]bool{}
	for _, id := range got {
		if seen[id] {
			t.Errorf("Problems(%+v) yielded %s twice", f, id)
		}
		seen[id] = true
	}
	return got
}

func testFilterByIndex(t *testing.T, s workflow.Store) {
	type setup struct {
		title  string
		src    workflow.Source
		county string
		steps  []Apply
	}
	accept := func(unit string) Apply {
		return Move(OfficerOf(unit), workflow.TriggerAccept, workflow.StateAssigned, workflow.StateRectifying)
	}
	problems := []setup{
		{"浮梁县砂石码头扬尘", workflow.SourceWarningFilm, Fuliang, []Apply{Assign(Fuliang, []string{Water}, Deadline(60))}},
		{"乐平市工业园区污水管网破损", workflow.SourceCentralInspection, Leping, []Apply{Assign(Leping, []string{Water, Housing}, Deadline(90))}},
		{"珠山区老旧小区雨污混流", workflow.SourceAudit, Zhushan, nil},
		{"浮梁县小水电站生态流量不足", workflow.SourceSelfInspection, Fuliang, []Apply{Assign(Water, []string{Fuliang}, Deadline(120)), accept(Water)}},
		{"昌江区国控集团渣土消纳场", workflow.SourceWarningFilm, Changjiang, []Apply{Assign(Guokong, nil, Deadline(30)), accept(Guokong),
			Move(OfficerOf(Guokong), workflow.TriggerSubmit, workflow.StateRectifying, workflow.StateSubmitted)}},
		{"乐平市重复反映的噪声问题", workflow.SourceProvincialInspection, Leping, []Apply{Move(BureauActor, workflow.TriggerDismiss, workflow.StateFound, workflow.StateClosed)}},
		{"浮梁县茶园面源污染", workflow.SourceWarningFilm, Fuliang, nil},
		{"珠山区供水管网漏损", workflow.SourceOther, Zhushan, []Apply{Assign(WaterInv, nil, Deadline(45))}},
	}
	var all []string
	for _, ps := range problems {
		p := mustCreate(t, s, ps.title, ps.src, ps.county)
		for _, apply := range ps.steps {
			mustUpdate(t, s, p.ID, apply)
		}
		all = append(all, p.ID)
	}
	tests := []struct {
		f    workflow.ProblemFilter
		want []string
	}{
		{workflow.ProblemFilter{}, []string{"1", "2", "3", "4", "5", "6", "7", "8"}},
		{workflow.ProblemFilter{State: workflow.StateFound}, []string{"3", "7"}},
		{workflow.ProblemFilter{State: workflow.StateAssigned}, []string{"1", "2", "8"}},
		{workflow.ProblemFilter{State: workflow.StateRectifying}, []string{"4"}},
		{workflow.ProblemFilter{State: workflow.StateSubmitted}, []string{"5"}},
		{workflow.ProblemFilter{State: workflow.StateClosed}, []string{"6"}},
		{workflow.ProblemFilter{State: workflow.StateVerified}, []string{}},
		{workflow.ProblemFilter{LeadUnit: Fuliang}, []string{"1"}},
		{workflow.ProblemFilter{LeadUnit: Water}, []string{"4"}},
		{workflow.ProblemFilter{LeadUnit: Housing}, []string{}},
		{workflow.ProblemFilter{County: Fuliang}, []string{"1", "4", "7"}},
		{workflow.ProblemFilter{County: Leping}, []string{"2", "6"}},
		{workflow.ProblemFilter{County: Zhushan}, []string{"3", "8"}},
		{workflow.ProblemFilter{Source: workflow.SourceWarningFilm}, []string{"1", "5", "7"}},
		{workflow.ProblemFilter{Source: workflow.SourceAudit}, []string{"3"}},
		{workflow.ProblemFilter{Unit: Water}, []string{"1", "2", "4"}},
		{workflow.ProblemFilter{Unit: Fuliang}, []string{"1", "4"}},
		{workflow.ProblemFilter{Unit: Housing}, []string{"2"}},
		{workflow.ProblemFilter{Unit: Guokong}, []string{"5"}},
		{workflow.ProblemFilter{Unit: WaterInv}, []string{"8"}},
		{workflow.ProblemFilter{Unit: Zhushan}, []string{}},
		{workflow.ProblemFilter{Unit: "city"}, []string{}},
		{workflow.ProblemFilter{State: workflow.StateAssigned, Unit: Water}, []string{"1", "2"}},
		{workflow.ProblemFilter{County: Fuliang, Source: workflow.SourceWarningFilm}, []string{"1", "7"}},
		{workflow.ProblemFilter{County: Fuliang, State: workflow.StateFound}, []string{"7"}},
		{workflow.ProblemFilter{LeadUnit: Water, Unit: Fuliang}, []string{"4"}},
		{workflow.ProblemFilter{Unit: Water, County: Leping}, []string{"2"}},
		{workflow.ProblemFilter{LeadUnit: Guokong, State: workflow.StateRectifying}, []string{}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%+v", tt.f), func(t *testing.T) {
			items, next, err := s.Problems(t.Context(), tt.f)
			if err != nil {
				t.Fatal(err)
			}
			if got := ids(items); !slices.Equal(got, tt.want) || next != "" {
				t.Errorf("Problems = %v, next %q; want %v", got, next, tt.want)
			}
			if want := expected(t, s, all, tt.f); !slices.Equal(want, tt.want) {
				t.Errorf("the table disagrees with ProblemFilter.Match: %v", want)
			}
		})
	}
}

func testFilterAfterUpdates(t *testing.T, s workflow.Store) {
	a := mustCreate(t, s, "浮梁县昌江上游采砂场", workflow.SourceWarningFilm, Fuliang)
	b := mustCreate(t, s, "乐平市共库河排污口", workflow.SourceCentralInspection, Leping)
	mustUpdate(t, s, b.ID, Assign(Leping, []string{Housing}, Deadline(30)))
	all := []string{a.ID, b.ID}
	var filters []workflow.ProblemFilter
	for _, st := range workflow.States {
		filters = append(filters, workflow.ProblemFilter{State: st})
	}
	for _, u := range Units() {
		filters = append(filters,
			workflow.ProblemFilter{LeadUnit: u.ID}, workflow.ProblemFilter{Unit: u.ID}, workflow.ProblemFilter{County: u.ID},
			workflow.ProblemFilter{Unit: u.ID, State: workflow.StateAssigned})
	}
	steps := []struct {
		name  string
		apply Apply
	}{
		{"assign", Assign(Fuliang, []string{Water, Housing}, Deadline(60))},
		{"reassign to another lead, dropping a cooperating unit", Assign(Leping, []string{Water}, Deadline(75))},
		{"reassign swapping lead and cooperating unit", Assign(Water, []string{Leping}, Deadline(75))},
		{"reassign to cooperating units only changing order", Assign(Water, []string{Guokong, Leping}, Deadline(80))},
		{"accept", Move(OfficerOf(Water), workflow.TriggerAccept, workflow.StateAssigned, workflow.StateRectifying)},
		{"submit", Move(OfficerOf(Water), workflow.TriggerSubmit, workflow.StateRectifying, workflow.StateSubmitted)},
		{"reject", Move(InspectorActor, workflow.TriggerReject, workflow.StateSubmitted, workflow.StateRectifying)},
	}
	for _, st := range steps {
		mustUpdate(t, s, a.ID, st.apply)
		for _, f := range filters {
			want := expected(t, s, all, f)
			if got := listAll(t, s, f, len(all)); !slices.Equal(got, want) {
				t.Errorf("after %s: Problems(%+v) = %v, want %v", st.name, f, got, want)
			}
		}
	}
}

func testPaging(t *testing.T, s workflow.Store) {
	const n = workflow.DefaultLimit + 5
	counties := []string{Fuliang, Leping, Zhushan}
	var all []string
	for i := range n {
		src := workflow.Sources[i%len(workflow.Sources)]
		county := counties[i%len(counties)]
		p := mustCreate(t, s, fmt.Sprintf("第 %d 号排查问题", i+1), src, county)
		switch i % 4 {
		case 1:
			mustUpdate(t, s, p.ID, Assign(county, []string{Water}, Deadline(30+i)))
		case 2:
			mustUpdate(t, s, p.ID, Assign(Water, []string{county}, Deadline(30+i)))
		}
		all = append(all, p.ID)
	}
	filters := []workflow.ProblemFilter{
		{},
		{County: Fuliang},
		{State: workflow.StateAssigned},
		{State: workflow.StateFound},
		{Unit: Water},
		{LeadUnit: Water},
		{Source: workflow.SourceAudit},
		{County: Leping, State: workflow.StateFound},
		{Unit: Zhushan, Source: workflow.SourceWarningFilm},
		{Unit: Housing},
	}
	for _, f := range filters {
		want := expected(t, s, all, f)
		for _, limit := range []int{1, 2, 3, 7, 10, n - 1, n, n + 1, workflow.MaxLimit, 0} {
			f := f
			f.Limit = limit
			if got := listAll(t, s, f, n); !slices.Equal(got, want) {
				t.Errorf("paging Problems(%+v) = %v, want %v", f, got, want)
			}
		}
	}
	// Limit zero is the default page size.
	items, next, err := s.Problems(t.Context(), workflow.ProblemFilter{})
	if err != nil || len(items) != workflow.DefaultLimit || next != items[len(items)-1].ID {
		t.Errorf("Problems with no limit = %d items, next %q, %v; want %d and a cursor", len(items), next, err, workflow.DefaultLimit)
	}
	// A cursor past the last problem gives an empty page.
	for _, f := range []workflow.ProblemFilter{{Cursor: all[n-1]}, {Cursor: "100000"}, {Cursor: "18446744073709551615"}, {Unit: Water, Cursor: all[n-1]}} {
		items, next, err := s.Problems(t.Context(), f)
		if err != nil || len(items) != 0 || items == nil || next != "" {
			t.Errorf("Problems(%+v) = %v, %q, %v; want an empty page", f, ids(items), next, err)
		}
	}
}
