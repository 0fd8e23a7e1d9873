package workflow

import (
	"slices"
	"strings"
	"unicode/utf8"
)

// paramSpec lists the parameter fields (JSON names) a trigger requires and
// those it accepts besides.
type paramSpec struct {
	required []string
	optional []string
}

var paramSpecs = map[Trigger]paramSpec{
	TriggerAssign:   {required: []string{"lead_unit", "deadline"}, optional: []string{"cooperating_units", "requirements"}},
	TriggerReassign: {required: []string{"reason"}, optional: []string{"lead_unit", "deadline", "cooperating_units"}},
	TriggerDismiss:  {required: []string{"reason"}},
	TriggerAccept:   {required: []string{"plan"}},
	TriggerSubmit:   {required: []string{"summary"}},
	TriggerWithdraw: {required: []string{"reason"}},
	TriggerReject:   {required: []string{"reason"}},
	TriggerVerify:   {required: []string{"opinion"}, optional: []string{"acknowledged_flags", "acknowledgement_note"}},
	TriggerClose:    {required: []string{"statement"}},
	// reopen needs a deadline unless the problem goes back to found; see ParamFieldsOn.
	TriggerReopen: {required: []string{"reason"}, optional: []string{"deadline"}},
	// end_notice takes nothing: the notice's dates are the record's;
	// uphold_objection takes the objection's text as its reason.
	TriggerEndNotice: {},
	TriggerUphold:    {required: []string{"objection_id", "deadline"}, optional: []string{"note"}},
}

// ParamFields returns the parameter fields trigger t requires and accepts.
func ParamFields(t Trigger) (required, optional []string) {
	s := paramSpecs[t]
	return slices.Clone(s.required), slices.Clone(s.optional)
}

// ParamFieldsOn returns the parameter fields trigger t requires and accepts
// when fired on p as it stands: reopen requires a new deadline, unless a
// dismissed problem goes back to found, which takes none.
func ParamFieldsOn(t Trigger, p *Problem) (required, optional []string) {
	required, optional = ParamFields(t)
	if t == TriggerReopen {
		optional = slices.DeleteFunc(optional, func(f string) bool { return f == "deadline" })
		if !reopensToFound(p) {
			required = append(required, "deadline")
		}
	}
	return required, optional
}

// reopensToFound reports whether reopening p takes it back to found: a
// dismissed problem, assigned again later.
func reopensToFound(p *Problem) bool {
	return p.State == StateClosed && p.Resolution == ResolutionDismissed
}

// CheckFields refuses any field in keys that trigger t does not take.
func CheckFields(t Trigger, keys []string) error {
	s, ok := paramSpecs[t]
	if !ok {
		return unknownTrigger(t)
	}
	for _, k := range keys {
		if !slices.Contains(s.required, k) && !slices.Contains(s.optional, k) {
			return RefuseField(ReasonUnknownField, k, "unknown field %q for trigger %s; it takes %s", k, t, strings.Join(append(slices.Clone(s.required), s.optional...), ", "))
		}
	}
	return nil
}

func unknownTrigger(t Trigger) error {
	return RefuseField(ReasonUnknownTrigger, "trigger", "unknown trigger %q; one of %v", t, Triggers)
}

// textParams are the text parameters, in the order ValidateParams checks them.
var textParams = []string{"lead_unit", "requirements", "reason", "plan", "summary", "opinion", "statement", "objection_id", "note"}

// ValidateParams trims p's text fields and checks that trigger t has every
// required parameter and that each one is well formed.
func ValidateParams(t Trigger, p *Params) error {
	s, ok := paramSpecs[t]
	if !ok {
		return unknownTrigger(t)
	}
	texts := map[string]*string{
		"lead_unit": &p.LeadUnit, "requirements": &p.Requirements, "reason": &p.Reason,
		"plan": &p.Plan, "summary": &p.Summary, "opinion": &p.Opinion, "statement": &p.Statement,
		"acknowledgement_note": &p.AcknowledgementNote, "objection_id": &p.ObjectionID, "note": &p.Note,
	}
	for _, name := range textParams {
		v := texts[name]
		var err error
		if *v, err = CleanText(name, *v); err != nil {
			return err
		}
		if utf8.RuneCountInString(*v) > MaxText {
			return RefuseField(ReasonTooLong, name, "%s is longer than %d characters", name, MaxText)
		}
	}
	for _, name := range s.required {
		if name == "deadline" {
			if p.Deadline == nil {
				return RefuseField(ReasonRequired, name, "deadline is required for %s", t)
			}
			continue
		}
		if *texts[name] == "" {
			return RefuseField(ReasonRequired, name, "%s is required for %s", name, t)
		}
	}
	for i, u := range p.CooperatingUnits {
		p.CooperatingUnits[i] = strings.TrimSpace(u)
		if err := CheckText("cooperating_units", p.CooperatingUnits[i]); err != nil {
			return err
		}
		if p.CooperatingUnits[i] == "" {
			return RefuseField(ReasonMalformed, "cooperating_units", "cooperating_units has an empty unit id")
		}
	}
	if t == TriggerReassign && p.LeadUnit == "" && p.Deadline == nil && p.CooperatingUnits == nil {
		return RefuseField(ReasonReassignNothing, "lead_unit", "reassign needs a new lead_unit, deadline or cooperating_units")
	}
	return nil
}

// ValidateNote checks a progress note's text.
func ValidateNote(text string) (string, error) {
	text, err := CleanText("text", text)
	if err != nil {
		return "", err
	}
	switch {
	case text == "":
		return "", RefuseField(ReasonRequired, "text", "text is required")
	case utf8.RuneCountInString(text) > MaxText:
		return "", RefuseField(ReasonTooLong, "text", "text is longer than %d characters", MaxText)
	}
	return text, nil
}
