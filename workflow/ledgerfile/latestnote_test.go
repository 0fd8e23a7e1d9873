package ledgerfile_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jdz-eco/rectify/workflow"
	"github.com/jdz-eco/rectify/workflow/ledgerfile"
)

// historyOnly is a store without capabilities: the service reads whole
// histories for 最新进展 and counts statistics from the records.
type historyOnly struct{ workflow.Store }

// notesLedger logs 40 problems: with no note; a note followed by
// transitions; two notes; a note, then another after 2021-07-10; a note,
// then verified and closed.
func notesLedger(t *testing.T) *env {
	e := newEnv(t)
	ctx := context.Background()
	note := func(when string, a workflow.Actor, id, text string) {
		t.Helper()
		e.clock.Set(cst(when))
		if _, err := e.svc.AddNote(ctx, a, id, text, 0); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 40 {
		county, officer := "fuliang", fuliang
		if i%2 == 1 {
			county, officer = "leping", leping
		}
		e.clock.Set(cst("2021-07-01 09:00"))
		p := e.create(t, workflow.NewProblem{Title: fmt.Sprintf("进展问题%d", i), Description: fmt.Sprintf("第%d个问题的描述。", i),
			Source: workflow.SourceAudit, CountyID: county})
		if i%5 == 0 {
			continue
		}
		e.fire(t, "2021-07-01 10:00", bureau, p.ID, workflow.TriggerAssign, workflow.Params{LeadUnit: county, Deadline: date("2021-08-31")})
		switch i % 5 {
		case 1:
			note("2021-07-02 09:00", officer, p.ID, fmt.Sprintf("问题%d：已开展调查", i))
			e.fire(t, "2021-07-03 09:00", officer, p.ID, workflow.TriggerAccept, workflow.Params{Plan: "制定方案"})
		case 2:
			note("2021-07-02 09:00", officer, p.ID, fmt.Sprintf("问题%d：第一次进展", i))
			note("2021-07-04 09:00", officer, p.ID, fmt.Sprintf("问题%d：第二次进展 <&>", i))
		case 3:
			note("2021-07-05 09:00", officer, p.ID, fmt.Sprintf("问题%d：七月初的进展", i))
			note("2021-07-20 09:00", officer, p.ID, fmt.Sprintf("问题%d：七月下旬的进展", i))
		case 4:
			e.fire(t, "2021-07-02 09:00", officer, p.ID, workflow.TriggerAccept, workflow.Params{Plan: "制定方案"})
			note("2021-07-03 09:00", officer, p.ID, fmt.Sprintf("问题%d：整改完成", i))
			e.evidence(t, "2021-07-04 09:00", officer, p.ID)
			e.fire(t, "2021-07-04 10:00", officer, p.ID, workflow.TriggerSubmit, workflow.Params{Summary: "已完成"})
			e.fire(t, "2021-07-06 10:00", inspector, p.ID, workflow.TriggerVerify, workflow.Params{Opinion: "验收通过"})
			e.fire(t, "2021-07-07 10:00", inspector2, p.ID, workflow.TriggerClose, workflow.Params{Statement: "同意销号"})
		}
	}
	e.clock.Set(cst("2021-07-25 09:00"))
	return e
}

// The 最新进展 of every exported row is the latest progress note of the
// problem's history up to the export's time (workflow.LatestNote), now and
// as of a past date, filtered or not; the export of a store without
// NewestEntries and Rollups, which reads whole histories and counts, is the
// same workbook to the byte.
func TestExportLatestNoteEqualsHistory(t *testing.T) {
	e := notesLedger(t)
	ctx := context.Background()
	bare := workflow.NewService(historyOnly{e.st}, e.clock)
	asOf, _ := workflow.ParseAsOf("2021-07-10")
	ids := map[string]string{}
	for _, p := range e.problems(t) {
		ids[p.Code] = p.ID
	}
	for _, c := range []struct {
		name string
		f    workflow.ProblemFilter
		at   time.Time
	}{
		{"now", workflow.ProblemFilter{}, time.Time{}},
		{"now, closed", workflow.ProblemFilter{State: workflow.StateClosed}, time.Time{}},
		{"now, leping", workflow.ProblemFilter{County: "leping"}, time.Time{}},
		{"as of 2021-07-10", workflow.ProblemFilter{}, asOf},
		{"as of 2021-07-10, fuliang", workflow.ProblemFilter{County: "fuliang"}, asOf},
	} {
		data := e.export(t, bureau, c.f, c.at)
		rows, err := openWorkbook(t, data).GetRows(ledgerfile.SheetLedger)
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) < 2 {
			t.Fatalf("%s: %d rows", c.name, len(rows))
		}
		notes := 0
		for _, r := range rows[1:] {
			code := r[1]
			hist, err := e.svc.History(ctx, bureau, ids[code])
			if err != nil {
				t.Fatal(err)
			}
			if !c.at.IsZero() {
				n := 0
				for n < len(hist) && !hist[n].At.After(c.at) {
					n++
				}
				hist = hist[:n]
			}
			got := ""
			if len(r) > 14 {
				got = r[14]
			}
			if want := workflow.LatestNote(hist); got != want {
				t.Errorf("%s: %s 最新进展 %q, want %q", c.name, code, got, want)
			}
			if got != "" {
				notes++
			}
		}
		if c.f == (workflow.ProblemFilter{}) && (notes == 0 || notes == len(rows)-1) {
			t.Errorf("%s: %d of %d rows have a note; the ledger should have rows with and without", c.name, notes, len(rows)-1)
		}
		var other bytes.Buffer
		if err := ledgerfile.WriteLedger(ctx, &other, bare, bureau, c.f, c.at); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(other.Bytes(), data) {
			t.Errorf("%s: the workbook from a store without capabilities differs", c.name)
		}
	}
}
