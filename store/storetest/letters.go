package storetest

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jdz-eco/rectify/workflow"
)

// RunLetters runs the conformance cases of workflow.Letters: numbering per
// year without gaps or repeats under concurrency, drafts without numbers,
// one letter per key, refused applies writing nothing.
func RunLetters(t *testing.T, open func(t *testing.T) workflow.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, ls workflow.Letters)
	}{
		{"ConcurrentNumbers", testLetterConcurrentNumbers},
		{"DraftsAndKeys", testLetterDraftsAndKeys},
		{"IssueDraftTakesNumber", testLetterIssueDraft},
		{"ApplyErrorWritesNothing", testLetterApplyError},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := open(t)
			ls, ok := st.(workflow.Letters)
			if !ok {
				t.Skip("the store keeps no letters")
			}
			tc.fn(t, ls)
		})
	}
}

var letterAt = time.Date(2026, 3, 2, 2, 0, 0, 0, time.UTC)

// issued builds an issued letter holding the number it is given.
func issued(year int) func(id string, number int) (*workflow.Letter, error) {
	return func(id string, number int) (*workflow.Letter, error) {
		return &workflow.Letter{ID: id, State: workflow.LetterIssued, Kind: workflow.KindSupervision, ToUnit: "fuliang",
			ProblemIDs: []string{"1"}, Year: year, Number: number,
			DocNo: workflow.DocNumber(workflow.DefaultLetterNumberFormat, year, number), CreatedAt: letterAt}, nil
	}
}

// testLetterConcurrentNumbers: 100 letters issued at once take the numbers
// 1..100 of their year, no gap, no repeat; another year starts at 1.
func testLetterConcurrentNumbers(t *testing.T, ls workflow.Letters) {
	ctx := context.Background()
	const n = 100
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		numbers []int
		ids     []string
	)
	for range n {
		wg.Go(func() {
			l, created, err := ls.CreateLetter(ctx, "", 2026, issued(2026))
			if err != nil || !created {
				t.Errorf("CreateLetter: %v (created %v)", err, created)
				return
			}
			mu.Lock()
			numbers, ids = append(numbers, l.Number), append(ids, l.ID)
			mu.Unlock()
		})
	}
	wg.Wait()
	slices.Sort(numbers)
	for i, got := range numbers {
		if got != i+1 {
			t.Fatalf("numbers %v: want 1..%d without gap or repeat", numbers, n)
		}
	}
	if len(numbers) != n {
		t.Fatalf("%d letters issued, want %d", len(numbers), n)
	}
	slices.Sort(ids)
	if len(slices.Compact(ids)) != n {
		t.Errorf("letter ids repeat: %v", ids)
	}
	all, err := ls.Letters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for _, l := range all {
		if seen[l.Number] {
			t.Errorf("number %d stored twice", l.Number)
		}
		seen[l.Number] = true
	}
	if len(all) != n {
		t.Errorf("%d letters stored, want %d", len(all), n)
	}
	l, _, err := ls.CreateLetter(ctx, "", 2027, issued(2027))
	if err != nil || l.Number != 1 || l.DocNo != "景长江办督〔2027〕1号" {
		t.Errorf("the first letter of 2027: %+v, %v; want number 1", l, err)
	}
}

// testLetterDraftsAndKeys: a draft takes no number (the next issued letter
// still gets 1); a second draft with the same key is the first.
func testLetterDraftsAndKeys(t *testing.T, ls workflow.Letters) {
	ctx := context.Background()
	draft := func(id string, number int) (*workflow.Letter, error) {
		if number != 0 {
			t.Errorf("a draft was offered number %d", number)
		}
		return &workflow.Letter{ID: id, State: workflow.LetterDraft, Kind: workflow.KindSupervision, ToUnit: "fuliang",
			ProblemIDs: []string{"1"}, Key: "draft/1/red", CreatedAt: letterAt}, nil
	}
	d1, created, err := ls.CreateLetter(ctx, "draft/1/red", 0, draft)
	if err != nil || !created || d1.Number != 0 {
		t.Fatalf("draft: %+v, %v, %v", d1, created, err)
	}
	d2, created, err := ls.CreateLetter(ctx, "draft/1/red", 0, draft)
	if err != nil || created || d2.ID != d1.ID {
		t.Fatalf("the same key again: %+v, created %v, %v; want letter %s", d2, created, err, d1.ID)
	}
	l, _, err := ls.CreateLetter(ctx, "", 2026, issued(2026))
	if err != nil || l.Number != 1 {
		t.Fatalf("after a draft the first number is %d (%v), want 1", l.Number, err)
	}
	got, err := ls.Letter(ctx, d1.ID)
	if err != nil || got.State != workflow.LetterDraft || got.Key != "draft/1/red" {
		t.Errorf("Letter(%s) = %+v, %v", d1.ID, got, err)
	}
	if _, err := ls.Letter(ctx, "999"); workflow.ErrorReason(err) != workflow.ReasonLetterNotFound {
		t.Errorf("an unknown letter: %v", err)
	}
}

// testLetterIssueDraft: a draft issued through UpdateLetter takes the next
// number of the year; a discarded draft (no number) leaves no gap.
func testLetterIssueDraft(t *testing.T, ls workflow.Letters) {
	ctx := context.Background()
	mk := func(key string) *workflow.Letter {
		l, _, err := ls.CreateLetter(ctx, key, 0, func(id string, _ int) (*workflow.Letter, error) {
			return &workflow.Letter{ID: id, State: workflow.LetterDraft, Key: key, CreatedAt: letterAt}, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	a, b := mk("draft/1/red"), mk("draft/2/red")
	if _, err := ls.UpdateLetter(ctx, a.ID, 0, func(l *workflow.Letter, _ int) error {
		l.State = workflow.LetterDiscarded
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	first, _, err := ls.CreateLetter(ctx, "", 2026, issued(2026))
	if err != nil {
		t.Fatal(err)
	}
	got, err := ls.UpdateLetter(ctx, b.ID, 2026, func(l *workflow.Letter, number int) error {
		l.State, l.Year, l.Number = workflow.LetterIssued, 2026, number
		return nil
	})
	if err != nil || got.Number != first.Number+1 || got.Key != "draft/2/red" {
		t.Fatalf("issued draft: %+v, %v; want number %d", got, err, first.Number+1)
	}
	next, _, err := ls.CreateLetter(ctx, "", 2026, issued(2026))
	if err != nil || next.Number != got.Number+1 {
		t.Fatalf("the next letter has number %d (%v), want %d", next.Number, err, got.Number+1)
	}
}

// testLetterApplyError: a refused apply writes nothing and takes no number.
func testLetterApplyError(t *testing.T, ls workflow.Letters) {
	ctx := context.Background()
	l, _, err := ls.CreateLetter(ctx, "", 2026, issued(2026))
	if err != nil {
		t.Fatal(err)
	}
	boom := errors.New("refused")
	if _, err := ls.UpdateLetter(ctx, l.ID, 2026, func(c *workflow.Letter, number int) error {
		c.Demands, c.Number = "changed", number
		return boom
	}); !errors.Is(err, boom) {
		t.Fatalf("apply's error: %v", err)
	}
	if _, _, err := ls.CreateLetter(ctx, "", 2026, func(string, int) (*workflow.Letter, error) { return nil, boom }); !errors.Is(err, boom) {
		t.Fatalf("build's error: %v", err)
	}
	got, err := ls.Letter(ctx, l.ID)
	if err != nil || got.Demands != "" || got.Number != l.Number {
		t.Errorf("after refused applies: %+v, %v", got, err)
	}
	next, _, err := ls.CreateLetter(ctx, "", 2026, issued(2026))
	if err != nil || next.Number != l.Number+1 {
		t.Errorf("the next number is %d (%v), want %d: a refused apply took one", next.Number, err, l.Number+1)
	}
}

// RunServiceLetters runs letters through the service on a store: 100
// letters issued at once about the same two problems take the numbers
// 1..100 and each problem's history holds one letter entry per letter, in
// the chain; a reply is one more entry per problem; the late-reply alert
// is recorded once.
func RunServiceLetters(t *testing.T, st workflow.Store) {
	ctx := context.Background()
	clock := workflow.NewManualClock(letterAt)
	svc := workflow.NewService(st, clock)
	if err := svc.PutUnits(ctx, []workflow.Unit{{ID: "fuliang", Name: "浮梁县", Kind: workflow.UnitCounty}, {ID: "city-eeb", Name: "市生态环境局", Kind: workflow.UnitDepartment}}); err != nil {
		t.Fatal(err)
	}
	bureau := workflow.Actor{ID: "u-b", Name: "局办", Role: workflow.RoleBureau, UnitID: "city-eeb"}
	unit := workflow.Actor{ID: "u-f", Name: "浮梁县干部", Role: workflow.RoleUnit, UnitID: "fuliang"}
	deadline := letterAt.Add(30 * 24 * time.Hour)
	var ids []string
	for _, title := range []string{"尾矿库渗漏", "河道垃圾"} {
		p, _, err := svc.CreateProblem(ctx, bureau, workflow.NewProblem{Title: title, Description: title, Source: workflow.SourceSelfInspection, CountyID: "fuliang"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Fire(ctx, bureau, p.ID, workflow.Command{Trigger: workflow.TriggerAssign, Params: workflow.Params{LeadUnit: "fuliang", Deadline: &deadline}}); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, p.ID)
	}
	const n = 100
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		numbers []int
		letters []string
	)
	for range n {
		wg.Go(func() {
			l, err := svc.IssueLetter(ctx, bureau, workflow.NewLetter{ToUnit: "fuliang", ProblemIDs: ids, Kind: workflow.KindSupervision,
				Demands: "限期整改。", ReplyDue: letterAt.Add(48 * time.Hour)})
			if err != nil {
				t.Errorf("IssueLetter: %v", err)
				return
			}
			mu.Lock()
			numbers, letters = append(numbers, l.Number), append(letters, l.ID)
			mu.Unlock()
		})
	}
	wg.Wait()
	slices.Sort(numbers)
	if len(numbers) != n || numbers[0] != 1 || numbers[n-1] != n || len(slices.Compact(slices.Clone(numbers))) != n {
		t.Fatalf("numbers %v: want 1..%d without gap or repeat", numbers, n)
	}
	for _, pid := range ids {
		hist, err := st.History(ctx, pid)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]int{}
		for _, e := range hist {
			if e.Action == workflow.ActionLetter {
				seen[e.Params.Letter]++
			}
		}
		for _, id := range letters {
			if seen[id] != 1 {
				t.Errorf("problem %s holds %d entries of letter %s, want 1", pid, seen[id], id)
			}
		}
	}
	if _, err := svc.ReplyLetter(ctx, unit, letters[0], workflow.LetterReplyInput{Text: "已整改。"}); err != nil {
		t.Fatal(err)
	}
	clock.Advance(49 * time.Hour)
	if got, err := svc.RecordLateReplies(ctx); err != nil || got != 2*(n-1) {
		t.Fatalf("late replies: %d alerts (%v), want %d", got, err, 2*(n-1))
	}
	if got, err := svc.RecordLateReplies(ctx); err != nil || got != 0 {
		t.Fatalf("again: %d alerts (%v), want 0", got, err)
	}
	if l, ok := st.(workflow.Ledger); ok {
		if _, err := workflow.Audit(ctx, l, nil, nil); err != nil {
			t.Errorf("audit: %v", err)
		}
	}
}
