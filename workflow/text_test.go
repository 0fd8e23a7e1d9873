package workflow_test

import (
	"strings"
	"testing"
	"time"

	"github.com/jdz-eco/rectify/workflow"
)

// TestTextRules: control characters other than line feed and tab, and
// invalid UTF-8, are refused in every text a caller gives, whichever way it
// comes (API, pages, imports all validate through the workflow).
func TestTextRules(t *testing.T) {
	for _, c := range []struct {
		in, want string
		ok       bool
	}{
		{"  尾矿库\n第二行\t完  ", "尾矿库\n第二行\t完", true},
		{"a\r\nb\rc", "a\nb\nc", true},
		{"U+FFFD \uFFFD is a character", "U+FFFD \uFFFD is a character", true},
		{"a\x00b", "", false},
		{"a\x1bb", "", false},
		{"a\x7f", "", false},
		{"a\u0085", "", false}, // NEL: a C1 control, though Go's TrimSpace would trim it
		{"a\u009f", "", false},
		{"\x0bpadded", "", false},
		{"a\xffb", "", false},
		{"\xe5\xb0", "", false},
	} {
		got, err := workflow.CleanText("f", c.in)
		if c.ok && (err != nil || got != c.want) {
			t.Errorf("CleanText(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
		if !c.ok {
			if e := wantInvalid(t, err); e != nil && e.Field != "f" {
				t.Errorf("CleanText(%q): field %q", c.in, e.Field)
			}
		}
	}

	f := newFixture(t)
	good := func() workflow.NewProblem {
		return workflow.NewProblem{Title: "t", Description: "d", Source: workflow.SourceAudit, CountyID: "fuliang"}
	}
	for _, c := range []struct {
		field string
		edit  func(*workflow.NewProblem)
	}{
		{"title", func(n *workflow.NewProblem) { n.Title = "尾矿库\x00" }},
		{"description", func(n *workflow.NewProblem) { n.Description = "\x07" }},
		{"source_ref", func(n *workflow.NewProblem) { n.SourceRef = "景长江办字\x1b" }},
		{"location", func(n *workflow.NewProblem) { n.Location = "浮梁\xff" }},
		{"county_id", func(n *workflow.NewProblem) { n.CountyID = "fuliang\x00" }},
	} {
		in := good()
		c.edit(&in)
		_, _, err := f.svc.CreateProblem(t.Context(), bureau, in)
		if e := wantInvalid(t, err); e != nil && e.Field != c.field {
			t.Errorf("%s: refusal names %q", c.field, e.Field)
		}
	}
	p := f.create(t)
	d := deadline("2021-12-31")
	for _, c := range []struct {
		field string
		trig  workflow.Trigger
		prm   workflow.Params
	}{
		{"lead_unit", workflow.TriggerAssign, workflow.Params{LeadUnit: "fuliang\x01", Deadline: d}},
		{"requirements", workflow.TriggerAssign, workflow.Params{LeadUnit: "fuliang", Deadline: d, Requirements: "\x02"}},
		{"cooperating_units", workflow.TriggerAssign, workflow.Params{LeadUnit: "fuliang", Deadline: d, CooperatingUnits: []string{"leping\x7f"}}},
		{"reason", workflow.TriggerDismiss, workflow.Params{Reason: "不属实\u0080"}},
	} {
		_, err := f.svc.Fire(t.Context(), bureau, p.ID, workflow.Command{Trigger: c.trig, Params: c.prm})
		if e := wantInvalid(t, err); e != nil && e.Field != c.field {
			t.Errorf("%s: refusal names %q", c.field, e.Field)
		}
	}
	f.fire(t, bureau, p.ID, workflow.TriggerAssign, workflow.Params{LeadUnit: "fuliang", Deadline: d})
	for field, call := range map[string]func() error{
		"text": func() error { _, err := f.svc.AddNote(t.Context(), officer, p.ID, "进展\x00", 0); return err },
		"name": func() error {
			in := evidenceInput("x")
			in.Name = "照片\x00.jpg"
			_, err := f.svc.AddEvidence(t.Context(), officer, p.ID, in, 0)
			return err
		},
		"description": func() error {
			in := evidenceInput("x")
			in.Description = "\x1b[2J"
			_, err := f.svc.AddEvidence(t.Context(), officer, p.ID, in, 0)
			return err
		},
		"reason": func() error {
			_, err := f.svc.RequestExtension(t.Context(), officer, p.ID, workflow.ExtensionRequest{Deadline: time.Date(2022, 1, 1, 0, 0, 0, 0, time.UTC), Reason: "\x00"}, 0)
			return err
		},
		"note": func() error {
			_, err := f.svc.DecideExtension(t.Context(), bureau, p.ID, "1", "deny", "\x00", 0)
			return err
		},
		"name ": func() error {
			_, _, err := f.svc.CreateUser(t.Context(), system, workflow.NewUser{Name: "张三\x00", Role: workflow.RoleViewer, UnitID: "fuliang"})
			return err
		},
	} {
		if e := wantInvalid(t, call()); e != nil && e.Field != strings.TrimSpace(field) {
			t.Errorf("%s: refusal names %q", field, e.Field)
		}
	}
	if got := mustGet(t, f, p.ID); got.Version != 2 {
		t.Fatalf("refusals changed the problem: version %d", got.Version)
	}
}

func wantInvalid(t *testing.T, err error) *workflow.Error {
	t.Helper()
	e, ok := err.(*workflow.Error)
	if !ok || e.Code != workflow.CodeInvalid || !strings.Contains(e.Message, "control character") && !strings.Contains(e.Message, "UTF-8") {
		t.Errorf("got %v, want an invalid text", err)
		return nil
	}
	return e
}
