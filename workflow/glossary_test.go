package workflow_test

import (
	"testing"
	"unicode"

	"github.com/jdz-eco/rectify/workflow"
)

// TestGlossaryNamesEverything: every value the pages, the ledger and the
// statistics show has its Chinese name, and no two values of a kind share
// one.
func TestGlossaryNamesEverything(t *testing.T) {
	check := func(kind string, values []string, name func(string) string) {
		t.Helper()
		seen := map[string]string{}
		for _, v := range values {
			n := name(v)
			if !han(n) {
				t.Errorf("%s %q has no Chinese name (%q)", kind, v, n)
			}
			if w, dup := seen[n]; dup {
				t.Errorf("%s %q and %q are both called %s", kind, v, w, n)
			}
			seen[n] = v
		}
	}
	check("state", strs(workflow.States), func(v string) string { return workflow.State(v).Label() })
	check("trigger", strs(workflow.Triggers), func(v string) string { return workflow.Trigger(v).Label() })
	check("source", strs(workflow.Sources), func(v string) string { return workflow.Source(v).Label() })
	check("level", strs(workflow.Levels), func(v string) string { return workflow.Level(v).Label() })
	check("role", strs(append(workflow.UserRoles, workflow.RoleSystem)), func(v string) string { return workflow.Role(v).Label() })
	check("unit kind", strs(workflow.UnitKinds), func(v string) string { return workflow.UnitKind(v).Label() })
	check("alert tag", append(workflow.AlertTags, workflow.AlertReportLate), workflow.AlertLabel)
	check("grouping", workflow.GroupBys, workflow.GroupByLabel)
	check("stage", []string{string(workflow.StageAccept), string(workflow.StageVerify)}, func(v string) string { return workflow.Stage(v).Label() })
	check("extension status", []string{string(workflow.ExtensionPending), string(workflow.ExtensionApproved), string(workflow.ExtensionDenied)},
		func(v string) string { return workflow.ExtensionStatus(v).Label() })
	check("decision", []string{"approve", "deny"}, workflow.DecisionLabel)
	check("against", []string{"lead_unit", "inspectors", workflow.AgainstUnit}, workflow.AgainstLabel)
	check("report status", []string{workflow.ReportOnTime, workflow.ReportLate, workflow.ReportMissing}, func(v string) string { return workflow.ReportStatusLabel(v, false) })
	check("duty", workflow.Duties, workflow.DutyLabel)
	actions := append(strs(workflow.Triggers), workflow.ActionCreate, workflow.ActionNote, workflow.ActionEvidence,
		workflow.ActionAlert, workflow.ActionExtensionRequest, workflow.ActionExtensionDecision, workflow.ActionReport, workflow.ActionRoundOpen)
	check("action", actions, workflow.ActionLabel)
	check("account action", workflow.AccountActions, workflow.AccountActionLabel)
	// Every parameter of every trigger, and every field a new problem takes.
	fields := map[string]bool{}
	for _, tr := range workflow.Triggers {
		req, opt := workflow.ParamFields(tr)
		for _, f := range append(req, opt...) {
			fields[f] = true
		}
	}
	for _, f := range []string{"title", "description", "source", "county_id", "work_point", "source_ref", "location", "text", "decision", "note", "level", "state", "expires_at", "password",
		"due", "period", "scope", "percent", "next_steps", "difficulties", "figures"} {
		fields[f] = true
	}
	var names []string
	for f := range fields {
		names = append(names, f)
	}
	check("field", names, workflow.FieldLabel)
	if workflow.State("nonsense").Label() != "nonsense" {
		t.Error("an unknown value does not read as itself")
	}
}

func han(s string) bool {
	for _, r := range s {
		if unicode.Is(unicode.Han, r) {
			return true
		}
	}
	return false
}

func strs[T ~string](xs []T) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = string(x)
	}
	return out
}
