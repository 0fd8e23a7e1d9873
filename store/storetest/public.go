package storetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/jdz-eco/rectify/workflow"
)

// testPublicNoticePages: the public notice list pages through the tag
// index of what the public sees (workflow.TagPublic): the problems in
// notice, then those written off after one, each in creation order, every
// one once across pages of any size; problems closed without a notice or
// sent back by an upheld objection are not in it.
func testPublicNoticePages(t *testing.T, s workflow.Store) {
	ctx := t.Context()
	svc, early, late, private := BuildPublicNotices(t, s)
	want := append(slices.Clone(late), early...)
	CheckPublicNotices(t, svc, want)
	tagged, _, err := s.Problems(ctx, workflow.ProblemFilter{Tag: workflow.TagPublic, Limit: workflow.MaxLimit})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, p := range tagged {
		ids = append(ids, p.ID)
	}
	if !slices.Equal(ids, append(slices.Clone(early), late...)) {
		t.Fatalf("Problems(tag public) = %v, want %v then %v (not %v)", ids, early, late, private)
	}

	if _, _, err := svc.PublicNotices(ctx, "x.1", 2); workflow.ErrorReason(err) != workflow.ReasonMalformed {
		t.Errorf("a malformed cursor: %v", err)
	}
	if _, _, err := svc.PublicNotices(ctx, "", workflow.MaxLimit+1); workflow.ErrorReason(err) != workflow.ReasonOutOfRange {
		t.Errorf("limit %d: %v", workflow.MaxLimit+1, err)
	}
}

// BuildPublicNotices writes, through a service on s with the default notice
// policy, problems the public sees and problems it does not: four written
// off after a notice (early), three in notice (late), and two never public
// (closed without a notice; sent back by an upheld objection). It returns
// the service and the IDs, each in creation order.
func BuildPublicNotices(t *testing.T, s workflow.Store) (svc *workflow.Service, early, late, private []string) {
	ctx := t.Context()
	clock := workflow.NewManualClock(T0)
	svc = workflow.NewService(s, clock)
	if err := svc.PutUnits(ctx, Units()); err != nil {
		t.Fatal(err)
	}
	if err := svc.SetNoticePolicy(workflow.DefaultNoticePolicy()); err != nil {
		t.Fatal(err)
	}
	lead := OfficerOf(Leping)
	// verified creates a problem of source src and takes it to verified.
	verified := func(i int, src workflow.Source) *workflow.Problem {
		t.Helper()
		p, _, err := svc.CreateProblem(ctx, BureauActor, workflow.NewProblem{Title: fmt.Sprintf("公示问题 %d", i), Description: "督察反馈", Source: src, CountyID: Leping})
		if err != nil {
			t.Fatal(err)
		}
		d := Deadline(90)
		for _, c := range []struct {
			a   workflow.Actor
			cmd workflow.Command
		}{
			{BureauActor, workflow.Command{Trigger: workflow.TriggerAssign, Params: workflow.Params{LeadUnit: Leping, Deadline: &d}}},
			{lead, workflow.Command{Trigger: workflow.TriggerAccept, Params: workflow.Params{Plan: "整改"}}},
		} {
			if _, err := svc.Fire(ctx, c.a, p.ID, c.cmd); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := svc.AddEvidence(ctx, lead, p.ID, EvidenceInput(fmt.Sprintf("整改后 %d.jpg", i)), 0); err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			a   workflow.Actor
			cmd workflow.Command
		}{
			{lead, workflow.Command{Trigger: workflow.TriggerSubmit, Params: workflow.Params{Summary: "已整改"}}},
			{InspectorActor, workflow.Command{Trigger: workflow.TriggerVerify, Params: workflow.Params{Opinion: "合格"}}},
		} {
			if p, err = svc.Fire(ctx, c.a, p.ID, c.cmd); err != nil {
				t.Fatal(err)
			}
		}
		return p
	}
	closeIt := func(p *workflow.Problem) *workflow.Problem {
		t.Helper()
		q, err := svc.Fire(ctx, BureauActor, p.ID, workflow.Command{Trigger: workflow.TriggerClose, Params: workflow.Params{Statement: "同意销号"}})
		if err != nil {
			t.Fatal(err)
		}
		return q
	}
	for i := range 4 {
		early = append(early, closeIt(verified(i, workflow.SourceProvincialInspection)).ID)
	}
	private = append(private, closeIt(verified(4, workflow.SourceSelfInspection)).ID) // no notice needed
	upheld := closeIt(verified(5, workflow.SourceCentralInspection))
	if _, err := svc.FileObjection(ctx, upheld.ID, workflow.ObjectionInput{Text: "仍有污染"}); err != nil {
		t.Fatal(err)
	}
	d := Deadline(120)
	if _, err := svc.Fire(ctx, BureauActor, upheld.ID, workflow.Command{Trigger: workflow.TriggerUphold,
		Params: workflow.Params{ObjectionID: "1", Deadline: &d, Note: "现场复核属实"}}); err != nil {
		t.Fatal(err)
	}
	private = append(private, upheld.ID)
	// The first four's notices end; the scanner writes them off.
	clock.Advance(30 * 24 * time.Hour)
	if _, err := svc.Scan(ctx); err != nil {
		t.Fatal(err)
	}
	for i := 6; i < 9; i++ {
		late = append(late, closeIt(verified(i, workflow.SourceWarningFilm)).ID)
	}
	return svc, early, late, private
}

// CheckPublicNotices checks that svc's public notice list, read in pages of
// several sizes, lists want (the IDs in notice, then those written off
// after one) once each, in order.
func CheckPublicNotices(t *testing.T, svc *workflow.Service, want []string) {
	t.Helper()
	ctx := t.Context()
	for _, limit := range []int{1, 2, 3, 7, 0} {
		var got []string
		cursor, pages := "", 0
		for {
			list, next, err := svc.PublicNotices(ctx, cursor, limit)
			if err != nil {
				t.Fatalf("limit %d, cursor %q: %v", limit, cursor, err)
			}
			if pages++; pages > 20 || limit > 0 && len(list) > limit {
				t.Fatalf("limit %d: page %d of %d notices", limit, pages, len(list))
			}
			for _, n := range list {
				got = append(got, n.ID)
				if st := n.State; st != workflow.StateInNotice && st != workflow.StateClosed {
					t.Fatalf("notice %s in state %s", n.ID, st)
				}
			}
			if next == "" {
				break
			}
			cursor = next
		}
		if !slices.Equal(got, want) {
			t.Errorf("limit %d: pages list %v, want %v (in notice, then written off)", limit, got, want)
		}
	}
}
