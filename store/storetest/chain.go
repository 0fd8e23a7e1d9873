package storetest

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/jdz-eco/rectify/workflow"
)

// FileSHA returns the SHA-256 (lowercase hex) of name, a stand-in for the
// hash of an evidence file called name.
func FileSHA(name string) string {
	sum := sha256.Sum256([]byte(name))
	return hex.EncodeToString(sum[:])
}

// EvidenceInput describes a 10-byte JPEG photo with the hash FileSHA(name),
// for Service.AddEvidence on a service without blobs (which does not check
// that the file exists).
func EvidenceInput(name string) workflow.EvidenceInput {
	return workflow.EvidenceInput{SHA256: FileSHA(name), Name: "照片.jpg", Size: 10, Type: "image/jpeg"}
}

// AddEvidence returns an apply that attaches file sha to the problem as
// unit officer a would: the record's evidence list and an evidence entry.
func AddEvidence(a workflow.Actor, sha string) Apply {
	return func(p *workflow.Problem) ([]workflow.Entry, error) {
		at := T0.Add(4 * time.Hour)
		ev := workflow.Evidence{SHA256: sha, Name: "现场照片.jpg", Size: 10, Type: "image/jpeg",
			UploadedBy: a.ID, Uploader: a.Name, UnitID: a.UnitID, At: at, Round: p.EvidenceRound}
		p.Evidence = append(p.Evidence, ev)
		p.UpdatedAt = at
		return []workflow.Entry{{At: at, Actor: a, Action: workflow.ActionEvidence, From: p.State, To: p.State,
			Params: workflow.Params{Evidence: &ev}}}, nil
	}
}

// allEntries returns the history of every problem in ids, merged in
// sequence order.
func allEntries(t *testing.T, s workflow.Store, ids []string) []workflow.Entry {
	t.Helper()
	var out []workflow.Entry
	for _, id := range ids {
		out = append(out, mustHistory(t, s, id)...)
	}
	slices.SortFunc(out, func(x, y workflow.Entry) int { return cmp.Compare(x.Seq, y.Seq) })
	return out
}

func mustHead(t *testing.T, s workflow.Store) workflow.ChainHead {
	t.Helper()
	h, err := s.Head(t.Context())
	if err != nil {
		t.Fatalf("Head = %v", err)
	}
	return h
}

// CheckChain fails the test unless entries, the whole history in sequence
// order, form the hash chain the store contract asks for (sequence numbers
// 1, 2, …; each entry's prev_hash the hash of the one before, GenesisHash for
// the first; each hash workflow.EntryHash of its entry) and s's head is the
// last of them.
func CheckChain(t *testing.T, s workflow.Store, entries []workflow.Entry) {
	t.Helper()
	prev := workflow.GenesisHash
	for i, e := range entries {
		if e.Seq != uint64(i+1) {
			t.Fatalf("entry %d of the ledger has seq %d, want %d", i, e.Seq, i+1)
		}
		if e.PrevHash != prev {
			t.Errorf("entry %d (problem %s, %s): prev_hash %q, want %q", e.Seq, e.ProblemID, e.Action, e.PrevHash, prev)
		}
		h, err := workflow.EntryHash(e)
		if err != nil {
			t.Fatal(err)
		}
		if len(e.Hash) != 64 || e.Hash != h {
			t.Errorf("entry %d (problem %s, %s): hash %q, want %q", e.Seq, e.ProblemID, e.Action, e.Hash, h)
		}
		prev = e.Hash
	}
	want := workflow.ChainHead{}
	if n := len(entries); n > 0 {
		last := entries[n-1]
		want = workflow.ChainHead{Seq: last.Seq, Hash: last.Hash, At: last.At}
	}
	sameJSON(t, "chain head", mustHead(t, s), want)
}

func testChain(t *testing.T, s workflow.Store) {
	ctx := t.Context()
	if h := mustHead(t, s); h != (workflow.ChainHead{}) {
		t.Fatalf("Head of an empty store = %+v, want zero", h)
	}
	a := mustCreate(t, s, "浮梁县陶瓷企业废水直排", workflow.SourceWarningFilm, Fuliang)
	CheckChain(t, s, allEntries(t, s, []string{a.ID}))
	if h := mustHistory(t, s, a.ID)[0]; h.PrevHash != workflow.GenesisHash {
		t.Errorf("the first entry links to %q, want the genesis hash", h.PrevHash)
	}
	b, _, err := s.CreateProblem(ctx, "film-2020-3", Build("乐平市养殖场废水外排", workflow.SourceWarningFilm, Leping))
	if err != nil {
		t.Fatal(err)
	}
	all := []string{a.ID, b.ID}
	mustUpdate(t, s, a.ID, Assign(Fuliang, []string{Water}, Deadline(60)))
	mustUpdate(t, s, b.ID, Assign(Leping, nil, Deadline(30)))
	// One command with several entries, interleaved with other problems'.
	mustUpdate(t, s, a.ID, func(p *workflow.Problem) ([]workflow.Entry, error) {
		one, _ := Note("截污管网已铺设")(p)
		two, _ := Supervise(func(sv *workflow.Supervision) { sv.Level = workflow.LevelDueSoon })(p)
		// Whatever the caller puts in the store-owned fields is replaced.
		one[0].PrevHash, one[0].Hash = "forged", "forged"
		return append(one, two...), nil
	})
	c := mustCreate(t, s, "珠山区餐饮油烟扰民", workflow.SourceSelfInspection, Zhushan)
	all = append(all, c.ID)
	mustUpdate(t, s, b.ID, Move(OfficerOf(Leping), workflow.TriggerAccept, workflow.StateAssigned, workflow.StateRectifying))
	mustUpdate(t, s, b.ID, AddEvidence(OfficerOf(Leping), FileSHA("b.jpg")))
	entries := allEntries(t, s, all)
	CheckChain(t, s, entries)
	head := mustHead(t, s)

	// Nothing that fails or is deduplicated moves the head.
	_, err = s.UpdateProblem(ctx, a.ID, func(p *workflow.Problem) ([]workflow.Entry, error) {
		e, _ := Note("不应出现")(p)
		return e, errors.New("refused")
	})
	if err == nil {
		t.Fatal("a failing apply succeeded")
	}
	if _, created, err := s.CreateProblem(ctx, "film-2020-3", Build("重复", workflow.SourceOther, Leping)); err != nil || created {
		t.Fatalf("deduplicated CreateProblem = %v, %v", created, err)
	}
	if _, _, err := s.CreateProblem(ctx, "", func(uint64) (*workflow.Problem, []workflow.Entry, error) {
		return nil, nil, workflow.Invalid("title", "title is required")
	}); err == nil {
		t.Fatal("a failing build succeeded")
	}
	if got := mustHead(t, s); got.Seq != head.Seq || got.Hash != head.Hash || !got.At.Equal(head.At) {
		t.Errorf("head moved from %v to %v without a write", head, got)
	}

	// The chain goes on after them, and the outbox carries the sealed entries.
	mustUpdate(t, s, c.ID, Note("已约谈餐饮业主"))
	entries = allEntries(t, s, all)
	CheckChain(t, s, entries)
	if last := entries[len(entries)-1]; last.ProblemID != c.ID || last.PrevHash != head.Hash {
		t.Errorf("the entry after the head %v is %+v", head, last)
	}
	events := allEvents(t, s, 0, 0)
	if len(events) != len(entries) {
		t.Fatalf("%d events, %d entries", len(events), len(entries))
	}
	for i, ev := range events {
		sameJSON(t, fmt.Sprintf("entry of event %s", ev.ID), ev.Entry, entries[i])
	}
}

// BuildLedger builds, through workflow.Service on s with a manual clock from
// T0, a small ledger that uses most of the workflow: problems verified and
// closed after a rejection, with evidence (one file used by two problems),
// notes, a dismissal and deadline alerts from a scan. It returns the service
// and the problems' IDs.
func BuildLedger(t testing.TB, s workflow.Store) (*workflow.Service, *workflow.ManualClock, []string) {
	t.Helper()
	ctx := t.Context()
	clock := workflow.NewManualClock(T0)
	svc := workflow.NewService(s, clock)
	if err := svc.PutUnits(ctx, Units()); err != nil {
		t.Fatal(err)
	}
	var ids []string
	create := func(title string, county string) string {
		p, _, err := svc.CreateProblem(ctx, BureauActor, workflow.NewProblem{Title: title, Description: title + "，群众反映强烈。",
			Source: workflow.SourceWarningFilm, CountyID: county})
		if err != nil {
			t.Fatalf("CreateProblem(%s) = %v", title, err)
		}
		ids = append(ids, p.ID)
		return p.ID
	}
	fire := func(a workflow.Actor, id string, tr workflow.Trigger, prm workflow.Params) {
		clock.Advance(time.Hour)
		if _, err := svc.Fire(ctx, a, id, workflow.Command{Trigger: tr, Params: prm}); err != nil {
			t.Fatalf("%s on %s by %s: %v", tr, id, a.ID, err)
		}
	}
	evidence := func(a workflow.Actor, id, file string) {
		clock.Advance(time.Hour)
		if _, err := svc.AddEvidence(ctx, a, id, EvidenceInput(file), 0); err != nil {
			t.Fatalf("AddEvidence(%s, %s) = %v", id, file, err)
		}
	}
	note := func(a workflow.Actor, id, text string) {
		clock.Advance(time.Hour)
		if _, err := svc.AddNote(ctx, a, id, text, 0); err != nil {
			t.Fatalf("AddNote(%s) = %v", id, err)
		}
	}

	d60, d90, d5 := Deadline(60), Deadline(90), Deadline(5)
	a := create("浮梁县某陶瓷企业废水未经处理直排", Fuliang)
	b := create("乐平市工业园区污水管网破损", Leping)
	c := create("珠山区老城区餐饮油烟扰民", Zhushan)
	d := create("昌江区河道非法采砂", Changjiang)
	fire(BureauActor, a, workflow.TriggerAssign, workflow.Params{LeadUnit: Fuliang, CooperatingUnits: []string{Water}, Deadline: &d60, Requirements: "两个月内完成截污"})
	fire(BureauActor, b, workflow.TriggerAssign, workflow.Params{LeadUnit: Leping, Deadline: &d90})
	fire(OfficerOf(Fuliang), a, workflow.TriggerAccept, workflow.Params{Plan: "修复沉淀池，接入园区污水管网"})
	fire(OfficerOf(Leping), b, workflow.TriggerAccept, workflow.Params{Plan: "更换破损管段"})
	note(OfficerOf(Water), a, "市水利局已完成支流水质监测")
	evidence(OfficerOf(Fuliang), a, "沉淀池.jpg")
	evidence(OfficerOf(Leping), b, "沉淀池.jpg") // the same file: a fake-rectification signal
	fire(OfficerOf(Fuliang), a, workflow.TriggerSubmit, workflow.Params{Summary: "沉淀池已修复"})
	fire(InspectorActor, a, workflow.TriggerReject, workflow.Params{Reason: "缺少出水水质检测报告"})
	evidence(OfficerOf(Fuliang), a, "检测报告.pdf")
	fire(OfficerOf(Fuliang), a, workflow.TriggerSubmit, workflow.Params{Summary: "补充第三方检测报告"})
	fire(InspectorActor, a, workflow.TriggerVerify, workflow.Params{Opinion: "现场核查，整改到位"})
	fire(BureauActor, a, workflow.TriggerClose, workflow.Params{Statement: "同意销号"})
	fire(BureauActor, c, workflow.TriggerDismiss, workflow.Params{Reason: "经核实不属于本次整改范围"})
	fire(BureauActor, d, workflow.TriggerAssign, workflow.Params{LeadUnit: Changjiang, CooperatingUnits: []string{Water}, Deadline: &d5})
	clock.Set(T0.AddDate(0, 0, 20))
	if _, err := svc.Scan(ctx); err != nil {
		t.Fatalf("Scan = %v", err)
	}
	note(OfficerOf(Changjiang), d, "已收到督办通知，正在组织清理")
	return svc, clock, ids
}

func testServiceAudit(t *testing.T, s workflow.Store) {
	l, ok := s.(workflow.Ledger)
	if !ok {
		t.Skip("the store does not implement workflow.Ledger")
	}
	ctx := t.Context()
	_, _, ids := BuildLedger(t, s)
	entries := allEntries(t, s, ids)
	CheckChain(t, s, entries)
	rep, err := workflow.Audit(ctx, l, nil, nil)
	if err != nil {
		t.Fatalf("Audit = %v", err)
	}
	head := mustHead(t, s)
	if rep.Entries != uint64(len(entries)) || rep.Problems != len(ids) || rep.Head.Seq != head.Seq || rep.Head.Hash != head.Hash {
		t.Errorf("Audit = %+v; want %d entries, %d problems, head %v", rep, len(entries), len(ids), head)
	}
	if _, err := workflow.Audit(ctx, l, nil, &head); err != nil {
		t.Errorf("Audit expecting the head = %v", err)
	}
	mid := workflow.ChainHead{Seq: entries[3].Seq, Hash: entries[3].Hash}
	if _, err := workflow.Audit(ctx, l, nil, &mid); err != nil {
		t.Errorf("Audit expecting an earlier head = %v", err)
	}
	mid.Hash = entries[4].Hash
	var ae *workflow.AuditError
	if _, err := workflow.Audit(ctx, l, nil, &mid); !errors.As(err, &ae) || ae.Seq != mid.Seq {
		t.Errorf("Audit expecting a head with another hash = %v, want an AuditError at %d", err, mid.Seq)
	}

	// ForEachEntry walks the chain in order; ForEachProblem every record.
	var walked []workflow.Entry
	if err := l.ForEachEntry(ctx, func(e workflow.Entry, err error) error {
		if err != nil {
			t.Errorf("entry %d: %v", e.Seq, err)
		}
		walked = append(walked, e)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	sameJSON(t, "entries walked", walked, entries)
	var seen []string
	if err := l.ForEachProblem(ctx, func(p *workflow.Problem) error {
		sameJSON(t, "problem walked", p, mustProblem(t, s, p.ID))
		seen = append(seen, p.ID)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(seen, ids) {
		t.Errorf("ForEachProblem visited %v, want %v", seen, ids)
	}
	// An error from fn stops the walk and comes back as is.
	stop := errors.New("stop")
	n := 0
	if err := l.ForEachEntry(ctx, func(workflow.Entry, error) error { n++; return stop }); err != stop || n != 1 {
		t.Errorf("ForEachEntry with a failing fn = %v after %d calls", err, n)
	}
	n = 0
	if err := l.ForEachProblem(ctx, func(*workflow.Problem) error { n++; return stop }); err != stop || n != 1 {
		t.Errorf("ForEachProblem with a failing fn = %v after %d calls", err, n)
	}
}

func testEvidenceFilter(t *testing.T, s workflow.Store) {
	var all []string
	for i, county := range []string{Fuliang, Leping, Zhushan, Changjiang} {
		p := mustCreate(t, s, fmt.Sprintf("第 %d 号问题", i+1), workflow.SourceSelfInspection, county)
		mustUpdate(t, s, p.ID, Assign(county, []string{Water}, Deadline(30)))
		all = append(all, p.ID)
	}
	photo, report, unused := FileSHA("photo.jpg"), FileSHA("report.pdf"), FileSHA("unused")
	var filters []workflow.ProblemFilter
	for _, sha := range []string{photo, report, unused} {
		filters = append(filters,
			workflow.ProblemFilter{Evidence: sha},
			workflow.ProblemFilter{Evidence: sha, Unit: Water},
			workflow.ProblemFilter{Evidence: sha, County: Leping},
			workflow.ProblemFilter{Evidence: sha, State: workflow.StateRectifying},
			workflow.ProblemFilter{Evidence: sha, Limit: 1})
	}
	steps := []struct {
		name  string
		id    string
		apply Apply
	}{
		{"photo on 1", all[0], AddEvidence(OfficerOf(Fuliang), photo)},
		{"photo on 3", all[2], AddEvidence(OfficerOf(Zhushan), photo)},
		{"photo on 1 again", all[0], AddEvidence(OfficerOf(Water), photo)},
		{"report on 1", all[0], AddEvidence(OfficerOf(Fuliang), report)},
		{"accept 3", all[2], Move(OfficerOf(Zhushan), workflow.TriggerAccept, workflow.StateAssigned, workflow.StateRectifying)},
		{"photo on 2", all[1], AddEvidence(OfficerOf(Leping), photo)},
		{"note on 2", all[1], Note("进展")},
		// The store follows the record whatever the domain does with it.
		{"evidence of 1 dropped but the report", all[0], func(p *workflow.Problem) ([]workflow.Entry, error) {
			p.Evidence = slices.DeleteFunc(p.Evidence, func(e workflow.Evidence) bool { return e.SHA256 != report })
			return Note("更正")(p)
		}},
	}
	for _, st := range steps {
		mustUpdate(t, s, st.id, st.apply)
		for _, f := range filters {
			want := expected(t, s, all, f)
			if got := listAll(t, s, f, len(all)); !slices.Equal(got, want) {
				t.Errorf("after %s: Problems(%+v) = %v, want %v", st.name, f, got, want)
			}
		}
	}
	want := map[string][]string{photo: {all[1], all[2]}, report: {all[0]}, unused: {}}
	ix, hasIndex := s.(workflow.EvidenceIndex)
	for sha, ids := range want {
		if got := listAll(t, s, workflow.ProblemFilter{Evidence: sha}, len(all)); !slices.Equal(got, ids) {
			t.Errorf("Problems(evidence %s) = %v, want %v", sha[:8], got, ids)
		}
		if !hasIndex {
			continue
		}
		if got, err := ix.ProblemsWithEvidence(t.Context(), sha); err != nil || !slices.Equal(got, ids) {
			t.Errorf("ProblemsWithEvidence(%s) = %v, %v; want %v", sha[:8], got, err, ids)
		}
	}
}
