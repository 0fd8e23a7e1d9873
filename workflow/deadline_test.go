package workflow

import (
	"testing"
	"time"
)

func TestParseDeadline(t *testing.T) {
	cases := []struct {
		in   string
		want string // RFC 3339 UTC, or "" for an error
	}{
		{"2021-12-31", "2021-12-31T15:59:59Z"},
		{" 2021-06-30 ", "2021-06-30T15:59:59Z"},
		{"2021-12-31T10:00:00+08:00", "2021-12-31T02:00:00Z"},
		{"2021-12-31T10:00:00.123Z", "2021-12-31T10:00:00Z"},
		{"2021-13-01", ""},
		{"2021/12/31", ""},
		{"tomorrow", ""},
		{"", ""},
		{"1900-01-01T00:00:00Z", ""},
	}
	for _, c := range cases {
		got, err := ParseDeadline(c.in)
		if c.want == "" {
			if ErrorCode(err) != CodeInvalid {
				t.Errorf("ParseDeadline(%q) = %v, %v; want invalid", c.in, got, err)
			}
			continue
		}
		if err != nil || got.Format(time.RFC3339) != c.want {
			t.Errorf("ParseDeadline(%q) = %v, %v; want %s", c.in, got, err, c.want)
		}
	}
}

func TestValidateParams(t *testing.T) {
	d := time.Date(2021, 12, 31, 15, 59, 59, 0, time.UTC)
	cases := []struct {
		trig  Trigger
		p     Params
		field string // "" when valid
	}{
		{TriggerAssign, Params{LeadUnit: "fuliang", Deadline: &d}, ""},
		{TriggerAssign, Params{LeadUnit: "fuliang"}, "deadline"},
		{TriggerAssign, Params{Deadline: &d}, "lead_unit"},
		{TriggerAssign, Params{LeadUnit: "  ", Deadline: &d}, "lead_unit"},
		{TriggerAssign, Params{LeadUnit: "a", Deadline: &d, CooperatingUnits: []string{""}}, "cooperating_units"},
		{TriggerReassign, Params{Reason: "x"}, "lead_unit"},
		{TriggerReassign, Params{Reason: "x", Deadline: &d}, ""},
		{TriggerReassign, Params{LeadUnit: "leping"}, "reason"},
		{TriggerDismiss, Params{}, "reason"},
		{TriggerAccept, Params{Plan: "方案"}, ""},
		{TriggerAccept, Params{}, "plan"},
		{TriggerSubmit, Params{}, "summary"},
		{TriggerWithdraw, Params{}, "reason"},
		{TriggerReject, Params{}, "reason"},
		{TriggerVerify, Params{}, "opinion"},
		{TriggerClose, Params{}, "statement"},
		{TriggerReopen, Params{}, "reason"},
		{TriggerReopen, Params{Reason: "回头看"}, ""},
		{"explode", Params{}, "trigger"},
	}
	for _, c := range cases {
		p := c.p
		err := ValidateParams(c.trig, &p)
		if c.field == "" {
			if err != nil {
				t.Errorf("%s %+v: %v", c.trig, c.p, err)
			}
			continue
		}
		e, ok := err.(*Error)
		if !ok || e.Code != CodeInvalid || e.Field != c.field {
			t.Errorf("%s %+v: got %v, want invalid %s", c.trig, c.p, err, c.field)
		}
	}
}

func TestCheckFields(t *testing.T) {
	if err := CheckFields(TriggerAssign, []string{"lead_unit", "deadline", "cooperating_units", "requirements"}); err != nil {
		t.Fatal(err)
	}
	if err := CheckFields(TriggerAssign, []string{"lead_unit", "plan"}); ErrorCode(err) != CodeInvalid {
		t.Fatalf("plan accepted for assign: %v", err)
	}
	if err := CheckFields("nope", nil); ErrorCode(err) != CodeInvalid {
		t.Fatalf("unknown trigger accepted: %v", err)
	}
}
