package storetest

import (
	"cmp"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/jdz-eco/rectify/workflow"
)

// SystemActor records what the server does on its own in the suite.
var SystemActor = workflow.Actor{ID: "system", Name: "督办扫描", Role: workflow.RoleSystem}

// Supervise returns an apply that lets change edit the problem's supervision
// bookkeeping and records an alert entry carrying the result, as the
// scanner does.
func Supervise(change func(sv *workflow.Supervision)) Apply {
	return func(p *workflow.Problem) ([]workflow.Entry, error) {
		change(&p.Supervision)
		sv := p.Supervision
		e := workflow.Entry{At: T0.Add(4 * time.Hour), Actor: SystemActor, Action: workflow.ActionAlert,
			From: p.State, To: p.State, Params: workflow.Params{Level: string(sv.Level), Against: "lead_unit"}, Supervision: &sv}
		p.UpdatedAt = e.At
		return []workflow.Entry{e}, nil
	}
}

// WakeAt returns an apply that sets the problem's wake time (nil clears it).
func WakeAt(t *time.Time) Apply {
	return Supervise(func(sv *workflow.Supervision) {
		if t == nil {
			sv.WakeAt = nil
			return
		}
		w := *t
		sv.WakeAt = &w
	})
}

func mustDue(t *testing.T, s workflow.Store, at time.Time, limit int) []string {
	t.Helper()
	got, err := s.Due(t.Context(), at, limit)
	if err != nil {
		t.Fatalf("Due(%v, %d) = %v", at, limit, err)
	}
	if got == nil {
		t.Errorf("Due(%v, %d) returned nil, want an empty slice", at, limit)
	}
	return got
}

func testDue(t *testing.T, s workflow.Store) {
	ctx := t.Context()
	h := func(n int) *time.Time { w := T0.Add(time.Duration(n) * time.Hour); return &w }
	wakes := []*time.Time{h(3), h(1), nil, h(2), h(1), h(48)}
	for i, w := range wakes {
		p := mustCreate(t, s, fmt.Sprintf("督办问题 %d", i+1), workflow.SourceCentralInspection, Fuliang)
		mustUpdate(t, s, p.ID, Assign(Fuliang, nil, Deadline(30+i)))
		if w != nil {
			mustUpdate(t, s, p.ID, WakeAt(w))
		}
	}
	check := func(what string, at time.Time, limit int, want []string) {
		t.Helper()
		if got := mustDue(t, s, at, limit); !slices.Equal(got, want) {
			t.Errorf("%s: Due(T0%+v, %d) = %v, want %v", what, at.Sub(T0), limit, got, want)
		}
	}
	check("before every wake time", T0, 10, []string{})
	check("a second before the first", h(1).Add(-time.Second), 10, []string{})
	check("at the first, ties in creation order", *h(1), 10, []string{"2", "5"})
	check("between", h(2).Add(30*time.Minute), 10, []string{"2", "5", "4"})
	check("long after", T0.AddDate(1, 0, 0), 10, []string{"2", "5", "4", "1", "6"})
	check("limit", T0.AddDate(1, 0, 0), 2, []string{"2", "5"})
	check("limit 1", T0.AddDate(1, 0, 0), 1, []string{"2"})
	check("no limit is a default", T0.AddDate(1, 0, 0), 0, []string{"2", "5", "4", "1", "6"})
	check("negative limit is a default", T0.AddDate(1, 0, 0), -1, []string{"2", "5", "4", "1", "6"})

	// A later wake time moves a problem back; a cleared one removes it.
	mustUpdate(t, s, "2", WakeAt(h(4)))
	check("after moving 2 later", *h(3), 10, []string{"5", "4", "1"})
	check("after moving 2 later, at its new time", *h(4), 10, []string{"5", "4", "1", "2"})
	mustUpdate(t, s, "5", WakeAt(nil))
	check("after clearing 5", *h(4), 10, []string{"4", "1", "2"})
	mustUpdate(t, s, "6", WakeAt(h(-1)))
	check("after moving 6 earlier", T0, 10, []string{"6"})
	// An update that leaves the wake time alone leaves the index alone.
	mustUpdate(t, s, "4", Note("已开展现场核查"))
	check("after a note", *h(4), 10, []string{"6", "4", "1", "2"})

	// A failed apply moves nothing.
	_, err := s.UpdateProblem(ctx, "3", func(p *workflow.Problem) ([]workflow.Entry, error) {
		w := T0
		p.Supervision.WakeAt = &w
		return nil, workflow.Errorf(workflow.CodeConflict, "refused")
	})
	wantCode(t, "refused update", err, workflow.CodeConflict)
	check("after a refused update", *h(4), 10, []string{"6", "4", "1", "2"})

	// A wake time between two seconds is never due before it, and due a
	// second later at the latest.
	half := h(10).Add(500 * time.Millisecond)
	mustUpdate(t, s, "3", WakeAt(&half))
	check("before a sub-second wake time", *h(10), 10, []string{"6", "4", "1", "2"})
	check("a second after a sub-second wake time", h(10).Add(time.Second), 10, []string{"6", "4", "1", "2", "3"})
}

func testTagFilter(t *testing.T, s workflow.Store) {
	type setup struct {
		county, lead string
		sv           workflow.Supervision
	}
	problems := []setup{
		{Fuliang, Fuliang, workflow.Supervision{Level: workflow.LevelOverdue}},
		{Leping, Leping, workflow.Supervision{Level: workflow.LevelDueSoon}},
		{Fuliang, Water, workflow.Supervision{Level: workflow.LevelRed}},
		{Zhushan, Zhushan, workflow.Supervision{Stage: workflow.StageVerify, StageLate: true}},
		{Fuliang, Fuliang, workflow.Supervision{}},
		{Leping, Leping, workflow.Supervision{Level: workflow.LevelListed, Stage: workflow.StageAccept, StageLate: true}},
		{Zhushan, Housing, workflow.Supervision{Stage: workflow.StageAccept}},
	}
	var all []string
	for i, ps := range problems {
		p := mustCreate(t, s, fmt.Sprintf("督办问题 %d", i+1), workflow.SourceWarningFilm, ps.county)
		mustUpdate(t, s, p.ID, Assign(ps.lead, nil, Deadline(10+i)))
		mustUpdate(t, s, p.ID, Supervise(func(sv *workflow.Supervision) { *sv = ps.sv }))
		all = append(all, p.ID)
	}
	tags := append(slices.Clone(workflow.AlertKinds), workflow.TagLate, "unknown")
	filters := func() []workflow.ProblemFilter {
		var out []workflow.ProblemFilter
		for _, tag := range tags {
			out = append(out,
				workflow.ProblemFilter{Tag: tag},
				workflow.ProblemFilter{Tag: tag, County: Fuliang},
				workflow.ProblemFilter{Tag: tag, LeadUnit: Leping},
				workflow.ProblemFilter{Tag: tag, Unit: Water},
				workflow.ProblemFilter{Tag: tag, State: workflow.StateAssigned},
				workflow.ProblemFilter{Tag: tag, Limit: 1})
		}
		return out
	}
	tests := []struct {
		f    workflow.ProblemFilter
		want []string
	}{
		{workflow.ProblemFilter{Tag: string(workflow.LevelOverdue)}, []string{"1"}},
		{workflow.ProblemFilter{Tag: string(workflow.LevelDueSoon)}, []string{"2"}},
		{workflow.ProblemFilter{Tag: workflow.TagLate}, []string{"1", "3", "6"}},
		{workflow.ProblemFilter{Tag: workflow.TagLate, County: Fuliang}, []string{"1", "3"}},
		{workflow.ProblemFilter{Tag: workflow.TagLate, LeadUnit: Water}, []string{"3"}},
		{workflow.ProblemFilter{Tag: workflow.AlertVerifyLate}, []string{"4"}},
		{workflow.ProblemFilter{Tag: workflow.AlertAcceptLate}, []string{"6"}},
		{workflow.ProblemFilter{Tag: string(workflow.LevelListed)}, []string{"6"}},
		{workflow.ProblemFilter{Tag: "unknown"}, []string{}},
	}
	for _, tt := range tests {
		if got := listAll(t, s, tt.f, len(all)); !slices.Equal(got, tt.want) {
			t.Errorf("Problems(%+v) = %v, want %v", tt.f, got, tt.want)
		}
	}
	checkAll := func(when string) {
		t.Helper()
		for _, f := range filters() {
			want := expected(t, s, all, f)
			if got := listAll(t, s, f, len(all)); !slices.Equal(got, want) {
				t.Errorf("%s: Problems(%+v) = %v, want %v", when, f, got, want)
			}
		}
	}
	checkAll("at first")

	// Tags follow the supervision state.
	steps := []struct {
		id     string
		change func(sv *workflow.Supervision)
	}{
		{"2", func(sv *workflow.Supervision) { sv.Level = workflow.LevelOverdue }},
		{"1", func(sv *workflow.Supervision) { sv.Level = workflow.LevelRed }},
		{"6", func(sv *workflow.Supervision) { sv.Level, sv.StageLate = workflow.LevelNone, false }},
		{"5", func(sv *workflow.Supervision) { sv.Stage, sv.StageLate = workflow.StageVerify, true }},
		{"7", func(sv *workflow.Supervision) { sv.StageLate = true }},
		{"4", func(sv *workflow.Supervision) { sv.Stage = workflow.StageAccept }},
	}
	for _, st := range steps {
		mustUpdate(t, s, st.id, Supervise(st.change))
		checkAll("after changing " + st.id)
	}
	if got := listAll(t, s, workflow.ProblemFilter{Tag: workflow.TagLate}, len(all)); !slices.Equal(got, []string{"1", "2", "3"}) {
		t.Errorf("late problems at the end = %v, want [1 2 3]", got)
	}
}

// allEvents pages through Events with limit and checks the pages.
func allEvents(t *testing.T, s workflow.Store, after uint64, limit int) []workflow.Event {
	t.Helper()
	var out []workflow.Event
	for range 10000 {
		evs, err := s.Events(t.Context(), after, limit)
		if err != nil {
			t.Fatalf("Events(%d, %d) = %v", after, limit, err)
		}
		if evs == nil {
			t.Errorf("Events(%d, %d) returned nil, want an empty slice", after, limit)
		}
		if limit > 0 && len(evs) > limit {
			t.Fatalf("Events(%d, %d) returned %d events", after, limit, len(evs))
		}
		if len(evs) == 0 {
			return out
		}
		out = append(out, evs...)
		after = evs[len(evs)-1].Seq
	}
	t.Fatal("Events never ends")
	return nil
}

func testEvents(t *testing.T, s workflow.Store) {
	ctx := t.Context()
	if evs := allEvents(t, s, 0, 0); len(evs) != 0 {
		t.Fatalf("Events of an empty store = %v", evs)
	}
	a := mustCreate(t, s, "浮梁县陶瓷企业废气超标", workflow.SourceCentralInspection, Fuliang)
	b := mustCreate(t, s, "乐平市乐安河沿岸养殖污染", workflow.SourceWarningFilm, Leping)
	mustUpdate(t, s, a.ID, Assign(Fuliang, []string{Water}, Deadline(60)))
	mustUpdate(t, s, b.ID, Assign(Leping, nil, Deadline(30)))
	// One command with several entries, as a command followed by alerts.
	mustUpdate(t, s, a.ID, func(p *workflow.Problem) ([]workflow.Entry, error) {
		one, _ := Note("已完成废气治理设施招标")(p)
		two, _ := Supervise(func(sv *workflow.Supervision) { sv.Level = workflow.LevelDueSoon })(p)
		return append(one, two...), nil
	})
	mustUpdate(t, s, b.ID, Move(OfficerOf(Leping), workflow.TriggerAccept, workflow.StateAssigned, workflow.StateRectifying))
	before := allEvents(t, s, 0, 0)

	// Nothing that fails or is deduplicated writes an event.
	_, err := s.UpdateProblem(ctx, a.ID, func(p *workflow.Problem) ([]workflow.Entry, error) {
		e, _ := Note("不应出现")(p)
		return e, workflow.Errorf(workflow.CodeForbidden, "refused")
	})
	wantCode(t, "refused update", err, workflow.CodeForbidden)
	if _, _, err := s.CreateProblem(ctx, "", func(uint64) (*workflow.Problem, []workflow.Entry, error) {
		return nil, nil, workflow.Invalid("title", "title is required")
	}); workflow.ErrorCode(err) != workflow.CodeInvalid {
		t.Errorf("CreateProblem with a failing build = %v", err)
	}
	if _, _, err := s.CreateProblem(ctx, "dup", Build("昌江区渣土乱倒", workflow.SourceOther, Changjiang)); err != nil {
		t.Fatal(err)
	}
	if _, created, err := s.CreateProblem(ctx, "dup", Build("昌江区渣土乱倒", workflow.SourceOther, Changjiang)); err != nil || created {
		t.Fatalf("deduplicated CreateProblem = %v, %v", created, err)
	}
	after := allEvents(t, s, 0, 0)
	if len(after) != len(before)+1 {
		t.Errorf("%d events after a refused update, a failed, a new and a deduplicated create; want %d", len(after), len(before)+1)
	}

	// Every history entry is exactly one event, in sequence order.
	var entries []workflow.Entry
	for _, id := range []string{a.ID, b.ID, "3"} {
		entries = append(entries, mustHistory(t, s, id)...)
	}
	slices.SortFunc(entries, func(x, y workflow.Entry) int { return cmp.Compare(x.Seq, y.Seq) })
	if len(after) != len(entries) {
		t.Fatalf("%d events, %d history entries", len(after), len(entries))
	}
	for i, ev := range after {
		e := entries[i]
		if ev.Seq != e.Seq || ev.ID != workflow.EventID(e.Seq) {
			t.Errorf("event %d: seq %d id %q, want seq %d id %q", i, ev.Seq, ev.ID, e.Seq, workflow.EventID(e.Seq))
		}
		sameJSON(t, fmt.Sprintf("entry of event %s", ev.ID), ev.Entry, e)
	}

	// Paging by sequence number.
	for _, limit := range []int{1, 2, 3, len(after), len(after) + 1, 0, -1} {
		sameJSON(t, fmt.Sprintf("events by pages of %d", limit), allEvents(t, s, 0, limit), after)
	}
	mid := after[2].Seq
	sameJSON(t, "events after the third", allEvents(t, s, mid, 2), after[3:])
	last := after[len(after)-1].Seq
	for _, from := range []uint64{last, last + 1, 1 << 62, ^uint64(0)} {
		if evs, err := s.Events(ctx, from, 10); err != nil || len(evs) != 0 || evs == nil {
			t.Errorf("Events(%d) = %v, %v; want an empty slice", from, evs, err)
		}
	}
	if evs, err := s.Events(ctx, 0, 2); err != nil || len(evs) != 2 || evs[0].Seq != after[0].Seq {
		t.Errorf("Events(0, 2) = %v, %v", evs, err)
	}

	// Later entries continue the stream.
	mustUpdate(t, s, b.ID, Note("已清理养殖废弃物"))
	more := allEvents(t, s, last, 0)
	h := mustHistory(t, s, b.ID)
	if len(more) != 1 || more[0].Seq != h[len(h)-1].Seq || more[0].Entry.Params.Text != "已清理养殖废弃物" {
		t.Errorf("events after %d = %+v, want the new note", last, more)
	}
}

func testCursors(t *testing.T, s workflow.Store) {
	ctx := t.Context()
	get := func(name string) uint64 {
		t.Helper()
		seq, err := s.Cursor(ctx, name)
		if err != nil {
			t.Fatalf("Cursor(%q) = %v", name, err)
		}
		return seq
	}
	set := func(name string, seq uint64) {
		t.Helper()
		if err := s.SetCursor(ctx, name, seq); err != nil {
			t.Fatalf("SetCursor(%q, %d) = %v", name, seq, err)
		}
	}
	if got := get("webhook:https://example.org/hook"); got != 0 {
		t.Errorf("Cursor of a new consumer = %d, want 0", got)
	}
	set("webhook:https://example.org/hook", 42)
	set("webhook:https://example.org/hook-2", 7)
	if got := get("webhook:https://example.org/hook"); got != 42 {
		t.Errorf("Cursor = %d, want 42", got)
	}
	if got := get("webhook:https://example.org/hook-2"); got != 7 {
		t.Errorf("Cursor of a second consumer = %d, want 7", got)
	}
	if got := get("webhook:https://example.org"); got != 0 {
		t.Errorf("Cursor of a consumer whose name prefixes another = %d, want 0", got)
	}
	// The store records what it is given; the consumer decides.
	set("webhook:https://example.org/hook", 40)
	set("webhook:https://example.org/hook-2", ^uint64(0))
	if got := get("webhook:https://example.org/hook"); got != 40 {
		t.Errorf("Cursor after moving back = %d, want 40", got)
	}
	if got := get("webhook:https://example.org/hook-2"); got != ^uint64(0) {
		t.Errorf("Cursor = %d, want the largest sequence number", got)
	}
	wantCode(t, "SetCursor without a name", s.SetCursor(ctx, "", 1), workflow.CodeInvalid)
}

func testCalendars(t *testing.T, s workflow.Store) {
	ctx := t.Context()
	got, err := s.Calendars(ctx)
	if err != nil || len(got) != 0 {
		t.Fatalf("Calendars of an empty store = %v, %v", got, err)
	}
	y2021 := []byte(`{"year":2021,"holidays":[{"name":"国庆节","from":"2021-10-01","to":"2021-10-07"}],"workdays":["2021-09-26","2021-10-09"]}`)
	y2022 := []byte(`{"year":2022,"holidays":[],"workdays":[]}`)
	for year, data := range map[int][]byte{2021: y2021, 2022: y2022} {
		buf := slices.Clone(data)
		if err := s.PutCalendar(ctx, year, buf); err != nil {
			t.Fatalf("PutCalendar(%d) = %v", year, err)
		}
		buf[0] = 'X' // the caller's buffer is its own
	}
	want := map[int]string{2021: string(y2021), 2022: string(y2022)}
	check := func(what string) {
		t.Helper()
		got, err := s.Calendars(ctx)
		if err != nil {
			t.Fatalf("%s: Calendars = %v", what, err)
		}
		if len(got) != len(want) {
			t.Errorf("%s: Calendars has years %v, want %d years", what, got, len(want))
		}
		for year, data := range want {
			if string(got[year]) != data {
				t.Errorf("%s: calendar %d = %q, want %q", what, year, got[year], data)
			}
		}
		for year := range got {
			got[year][0] = 'X' // so are the returned bytes
		}
	}
	check("after two puts")
	check("after changing the returned bytes")
	y2021b := []byte(`{"year":2021,"source":"国办发明电〔2020〕27号","holidays":[],"workdays":[]}`)
	if err := s.PutCalendar(ctx, 2021, y2021b); err != nil {
		t.Fatal(err)
	}
	want[2021] = string(y2021b)
	check("after replacing 2021")
}

// testServiceScan runs the domain's deadline scanner on the store: it finds
// due problems through Due, records alerts as history entries and events,
// and moves each problem in the wake and tag indexes.
func testServiceScan(t *testing.T, s workflow.Store) {
	ctx := t.Context()
	clock := workflow.NewManualClock(T0)
	svc := workflow.NewService(s, clock)
	if err := svc.PutUnits(ctx, Units()); err != nil {
		t.Fatal(err)
	}
	pol := svc.Policy()
	leads := []string{Fuliang, Leping, Zhushan, Water, Housing}
	var all []string
	for i, lead := range leads {
		p, _, err := svc.CreateProblem(ctx, BureauActor, workflow.NewProblem{
			Title: fmt.Sprintf("督办扫描问题 %d", i+1), Description: "整改时限内未完成的问题",
			Source: workflow.SourceCentralInspection, CountyID: Fuliang,
		})
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, p.ID)
		if i == len(leads)-1 {
			continue // never assigned: no deadline, never due
		}
		d := Deadline(10 + 15*i)
		if _, err := svc.Fire(ctx, BureauActor, p.ID, workflow.Command{Trigger: workflow.TriggerAssign,
			Params: workflow.Params{LeadUnit: lead, Deadline: &d}}); err != nil {
			t.Fatal(err)
		}
		if i%2 == 0 {
			if _, err := svc.Fire(ctx, OfficerOf(lead), p.ID, workflow.Command{Trigger: workflow.TriggerAccept,
				Params: workflow.Params{Plan: "制定整改方案"}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	total := 0
	for day := 1; day <= 120; day += 3 {
		clock.Set(T0.Add(time.Duration(day) * workflow.Day))
		now := clock.Now()
		n, err := svc.Scan(ctx)
		if err != nil {
			t.Fatalf("day %d: Scan = %v", day, err)
		}
		total += n
		if again, err := svc.Scan(ctx); err != nil || again != 0 {
			t.Errorf("day %d: a second Scan = %d, %v; want 0", day, again, err)
		}
		if due := mustDue(t, s, now, 0); len(due) != 0 {
			t.Errorf("day %d: Due after a scan = %v, want none", day, due)
		}
		for _, id := range all {
			p := mustProblem(t, s, id)
			if l := p.LevelAt(now, pol); p.Supervision.Level != l {
				t.Errorf("day %d: problem %s recorded level %q, want %q", day, id, p.Supervision.Level, l)
			}
			if w := p.Supervision.WakeAt; w != nil {
				if !w.After(now) {
					t.Errorf("day %d: problem %s wakes at %v, not after the scan", day, id, w)
				}
				if due := mustDue(t, s, w.Add(time.Second), 0); !slices.Contains(due, id) {
					t.Errorf("day %d: problem %s is not due a second after its wake time %v: %v", day, id, w, due)
				}
			}
		}
		for _, tag := range append(slices.Clone(workflow.AlertKinds), workflow.TagLate) {
			f := workflow.ProblemFilter{Tag: tag}
			if got, want := listAll(t, s, f, len(all)), expected(t, s, all, f); !slices.Equal(got, want) {
				t.Errorf("day %d: Problems(%+v) = %v, want %v", day, f, got, want)
			}
		}
	}
	if total == 0 {
		t.Fatal("the scans recorded no alert")
	}
	// Every alert is in the history once, and every entry in the outbox.
	alerts, entries := 0, 0
	for _, id := range all {
		for _, e := range mustHistory(t, s, id) {
			entries++
			if e.Action == workflow.ActionAlert && e.Actor.Role == workflow.RoleSystem {
				alerts++
			}
		}
	}
	if alerts < total {
		t.Errorf("%d alert entries in history, the scans reported %d changes", alerts, total)
	}
	if evs := allEvents(t, s, 0, 0); len(evs) != entries {
		t.Errorf("%d events, %d history entries", len(evs), entries)
	}
}
