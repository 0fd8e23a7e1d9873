package workflow_test

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/jdz-eco/rectify/workflow"
)

// Fuzz targets of the trigger parameters (seed corpora in
// testdata/fuzz/<target>; .ci/run runs each briefly, RECTIFY_FUZZTIME
// longer). Their property: no panic, and either a clear *workflow.Error
// with CodeInvalid or a value that round-trips (validating it again changes
// nothing, and it obeys the rules it was checked against).

// invalidOnly fails unless err is a *workflow.Error with CodeInvalid naming a
// field and saying something.
func invalidOnly(t *testing.T, err error) {
	t.Helper()
	var e *workflow.Error
	if !errors.As(err, &e) || e.Code != workflow.CodeInvalid || e.Field == "" || e.Message == "" {
		t.Fatalf("refusal %#v is not a CodeInvalid error naming a field", err)
	}
}

// textOK checks a validated text: trimmed, valid UTF-8, no control
// character but line feed and tab.
func textOK(t *testing.T, name, s string) {
	t.Helper()
	if s != strings.TrimSpace(s) || !utf8.ValidString(s) || workflow.CheckText(name, s) != nil || strings.ContainsRune(s, '\r') {
		t.Fatalf("%s %q passed validation", name, s)
	}
}

func FuzzValidateParams(f *testing.F) {
	f.Add(uint8(0), "fuliang", "city-water,leping", "闭库治理", "", "", "", "", "", "2021-12-31")
	f.Add(uint8(1), "", "", "", "调整牵头单位", "", "", "", "", "")
	f.Add(uint8(3), "", "", "", "", "制定治理方案", "", "", "", "")
	f.Add(uint8(9), "", "", "", "回头看\r\n发现反弹", "", "", "", "", "2022-03-31T18:00:00+08:00")
	f.Add(uint8(7), "", "", "", "", "", "", "验收\x00通过", "", "")
	f.Add(uint8(8), " ", ",,", "\t", "\xff", "", "", "", "同意销号", "31/12/2021")
	f.Fuzz(func(t *testing.T, trig uint8, lead, coop, req, reason, plan, summary, opinion, statement, deadline string) {
		tr := workflow.Triggers[int(trig)%len(workflow.Triggers)]
		if trig >= 200 {
			tr = workflow.Trigger(lead) // not a trigger, mostly
		}
		p := workflow.Params{LeadUnit: lead, Requirements: req, Reason: reason, Plan: plan, Summary: summary, Opinion: opinion, Statement: statement}
		if coop != "" {
			p.CooperatingUnits = strings.Split(coop, ",")
		}
		if deadline != "" {
			d, err := workflow.ParseDeadline(deadline)
			if err != nil {
				invalidOnly(t, err)
			} else {
				p.Deadline = &d
			}
		}
		err := workflow.ValidateParams(tr, &p)
		if err != nil {
			invalidOnly(t, err)
			return
		}
		if !tr.Valid() {
			t.Fatalf("unknown trigger %q passed", tr)
		}
		for name, v := range map[string]string{"lead_unit": p.LeadUnit, "requirements": p.Requirements, "reason": p.Reason,
			"plan": p.Plan, "summary": p.Summary, "opinion": p.Opinion, "statement": p.Statement} {
			textOK(t, name, v)
			if utf8.RuneCountInString(v) > workflow.MaxText {
				t.Fatalf("%s of %d characters passed", name, utf8.RuneCountInString(v))
			}
		}
		for _, u := range p.CooperatingUnits {
			if u == "" || workflow.CheckText("cooperating_units", u) != nil || u != strings.TrimSpace(u) {
				t.Fatalf("cooperating unit %q passed", u)
			}
		}
		required, _ := workflow.ParamFields(tr)
		fields := map[string]string{"lead_unit": p.LeadUnit, "requirements": p.Requirements, "reason": p.Reason,
			"plan": p.Plan, "summary": p.Summary, "opinion": p.Opinion, "statement": p.Statement}
		for _, r := range required {
			if r == "deadline" && p.Deadline == nil || r != "deadline" && fields[r] == "" {
				t.Fatalf("%s passed without %s", tr, r)
			}
		}
		again := p
		again.CooperatingUnits = slices.Clone(p.CooperatingUnits)
		if err := workflow.ValidateParams(tr, &again); err != nil || !reflect.DeepEqual(again, p) {
			t.Fatalf("validated parameters changed when validated again: %v\n%+v\n%+v", err, p, again)
		}
	})
}

func FuzzParseDeadline(f *testing.F) {
	for _, s := range []string{"2021-12-31", " 2021-06-30 ", "2021-12-31T23:59:59+08:00", "2021-12-31T15:59:59Z",
		"1999-12-31", "2101-01-01T00:00:00Z", "31/12/2021", "2021-02-30", "", "2021-12-31T24:00:00Z", "2021-12-31T10:00:00.999999999-12:00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := workflow.ParseDeadline(s)
		if err != nil {
			invalidOnly(t, err)
			return
		}
		if d.Location() != time.UTC || d.Nanosecond() != 0 || d.Year() < 1999 || d.Year() > 2101 {
			t.Fatalf("ParseDeadline(%q) = %v", s, d)
		}
		back, err := workflow.ParseDeadline(d.Format(time.RFC3339))
		if err != nil || !back.Equal(d) {
			t.Fatalf("%q → %v does not round-trip: %v, %v", s, d, back, err)
		}
	})
}

func FuzzValidateNote(f *testing.F) {
	for _, s := range []string{"已组织排查", "第一行\r\n第二行", "  ", "\x00", "a\u0085", strings.Repeat("计", workflow.MaxText+1), "\xe5\xb0", "\t缩进"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		text, err := workflow.ValidateNote(s)
		if err != nil {
			invalidOnly(t, err)
			return
		}
		textOK(t, "text", text)
		if text == "" || utf8.RuneCountInString(text) > workflow.MaxText {
			t.Fatalf("note %q passed", text)
		}
		if again, err := workflow.ValidateNote(text); err != nil || again != text {
			t.Fatalf("note %q validated again: %q, %v", text, again, err)
		}
	})
}

func FuzzNewProblem(f *testing.F) {
	f.Add("尾矿库污染隐患", "浮梁县茅棚店锡矿尾矿库", "self_inspection", "fuliang", 7, "景长江办字〔2021〕1号", "茅棚店")
	f.Add("", "d", "audit", "leping", 0, "", "")
	f.Add("t\x00", "d", "rumour", "", -1, "\xff", "\r\n")
	f.Fuzz(func(t *testing.T, title, desc, source, county string, wp int, ref, loc string) {
		n := workflow.NewProblem{Title: title, Description: desc, Source: workflow.Source(source), CountyID: county, WorkPoint: wp, SourceRef: ref, Location: loc}
		if err := n.Validate(); err != nil {
			invalidOnly(t, err)
			return
		}
		for name, v := range map[string]string{"title": n.Title, "description": n.Description, "source_ref": n.SourceRef, "location": n.Location} {
			textOK(t, name, v)
		}
		if n.Title == "" || n.Description == "" || !n.Source.Valid() || n.CountyID == "" || n.WorkPoint < 0 ||
			utf8.RuneCountInString(n.Title) > workflow.MaxTitle || workflow.CheckText("county_id", n.CountyID) != nil {
			t.Fatalf("%+v passed", n)
		}
		again := n
		if err := again.Validate(); err != nil || again != n {
			t.Fatalf("validated again: %v\n%+v\n%+v", err, n, again)
		}
	})
}
