package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/jdz-eco/rectify/store/bolt"
	"github.com/jdz-eco/rectify/workflow"
)

// TestErrorText provokes the workflow's refusals and checks that each reads
// as the Chinese sentence meant for it.
func TestErrorText(t *testing.T) {
	ctx := context.Background()
	st, err := bolt.Open(t.TempDir()+"/r.db", bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	clock := workflow.NewManualClock(time.Date(2021, 7, 1, 0, 0, 0, 0, time.UTC))
	svc := workflow.NewService(st, clock)
	if err := svc.PutUnits(ctx, []workflow.Unit{
		{ID: "fuliang", Name: "浮梁县", Kind: workflow.UnitCounty}, {ID: "eeb", Name: "市生态环境局", Kind: workflow.UnitDepartment},
		{ID: "office", Name: "领导小组办公室", Kind: workflow.UnitOffice},
	}); err != nil {
		t.Fatal(err)
	}
	bureau := workflow.Actor{ID: "b", Name: "局办", Role: workflow.RoleBureau, UnitID: "eeb"}
	unit := workflow.Actor{ID: "u", Name: "干部", Role: workflow.RoleUnit, UnitID: "fuliang"}
	insp := workflow.Actor{ID: "i", Name: "验收员", Role: workflow.RoleInspector, UnitID: "office"}
	p, _, err := svc.CreateProblem(ctx, bureau, workflow.NewProblem{Title: "t", Description: "d", Source: workflow.SourceAudit, CountyID: "fuliang"})
	if err != nil {
		t.Fatal(err)
	}
	fire := func(a workflow.Actor, trig workflow.Trigger, prm workflow.Params) error {
		_, err := svc.Fire(ctx, a, p.ID, workflow.Command{Trigger: trig, Params: prm})
		return err
	}
	d := time.Date(2021, 9, 30, 15, 59, 59, 0, time.UTC)
	early := time.Date(2021, 8, 1, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		name string
		err  error
		want string
	}{
		{"no title", func() error {
			_, _, err := svc.CreateProblem(ctx, bureau, workflow.NewProblem{Description: "d", Source: "audit", CountyID: "fuliang"})
			return err
		}(), "请填写「问题名称」"},
		{"control character", func() error {
			_, _, err := svc.CreateProblem(ctx, bureau, workflow.NewProblem{Title: "尾矿库\x00", Description: "d", Source: "audit", CountyID: "fuliang"})
			return err
		}(), "「问题名称」含有不可见的控制字符"},
		{"invalid UTF-8", func() error {
			_, _, err := svc.CreateProblem(ctx, bureau, workflow.NewProblem{Title: "t", Description: "尾矿\xff", Source: "audit", CountyID: "fuliang"})
			return err
		}(), "「问题描述」含有无法识别的字符编码"},
		{"unit logs", func() error {
			_, _, err := svc.CreateProblem(ctx, unit, workflow.NewProblem{Title: "t", Description: "d", Source: "audit", CountyID: "fuliang"})
			return err
		}(), "您的角色无权执行此操作"},
		{"no deadline", fire(bureau, workflow.TriggerAssign, workflow.Params{LeadUnit: "fuliang"}), "请填写「整改时限」"},
		{"unknown unit", fire(bureau, workflow.TriggerAssign, workflow.Params{LeadUnit: "mars", Deadline: &d}), "所选单位不存在"},
		{"lead cooperates", fire(bureau, workflow.TriggerAssign, workflow.Params{LeadUnit: "fuliang", CooperatingUnits: []string{"fuliang"}, Deadline: &d}), "牵头单位不能同时是配合单位"},
		{"verify too early", fire(insp, workflow.TriggerVerify, workflow.Params{Opinion: "x"}), "问题当前状态为「待交办」，不能验收通过"},
		{"assign", fire(bureau, workflow.TriggerAssign, workflow.Params{LeadUnit: "fuliang", Deadline: &d}), ""},
		{"same lead", fire(bureau, workflow.TriggerReassign, workflow.Params{LeadUnit: "fuliang", Reason: "x"}), "该单位已是牵头单位"},
		{"reassign nothing", fire(bureau, workflow.TriggerReassign, workflow.Params{Reason: "x"}), "改派需要选择"},
		{"inspector accepts", fire(insp, workflow.TriggerAccept, workflow.Params{Plan: "x"}), "您的角色无权执行此操作"},
		{"early extension", func() error {
			_, err := svc.RequestExtension(ctx, unit, p.ID, workflow.ExtensionRequest{Deadline: early, Reason: "r"}, 0)
			return err
		}(), "申请的整改时限必须晚于当前时限"},
		{"bad decision", func() error {
			_, err := svc.DecideExtension(ctx, bureau, p.ID, "1", "maybe", "", 0)
			return err
		}(), "「审批决定」选择有误"},
		{"no such request", func() error {
			_, err := svc.DecideExtension(ctx, bureau, p.ID, "9", "approve", "", 0)
			return err
		}(), "延期申请不存在"},
		{"stale", func() error {
			_, err := svc.AddNote(ctx, unit, p.ID, "n", 1)
			return err
		}(), "问题已被他人更新"},
		{"accept", fire(unit, workflow.TriggerAccept, workflow.Params{Plan: "x"}), ""},
		{"submit without evidence", fire(unit, workflow.TriggerSubmit, workflow.Params{Summary: "x"}), "提交验收前请先上传佐证材料"},
		{"empty note", func() error {
			_, err := svc.AddNote(ctx, unit, p.ID, " ", 0)
			return err
		}(), "请填写「进展情况」"},
		{"outsider notes", func() error {
			_, err := svc.AddNote(ctx, bureau, p.ID, "n", 0)
			return err
		}(), "只有牵头单位或配合单位的人员可以执行此操作"},
		{"bad type", func() error {
			_, err := svc.AddEvidence(ctx, unit, p.ID, workflow.EvidenceInput{SHA256: strings.Repeat("a", 64), Name: "x.exe", Size: 3, Type: "application/x-msdownload"}, 0)
			return err
		}(), "不支持该文件类型"},
		{"missing", func() error {
			_, err := svc.Problem(ctx, unit, "99")
			return err
		}(), "未找到该问题"},
		{"wrong password", func() error {
			_, _, _, err := svc.SignIn(ctx, "nobody", func(string) (bool, error) { return false, nil }, workflow.DefaultSessionPolicy())
			return err
		}(), "用户名或密码错误"},
		{"too large", workflow.Refuse(workflow.ReasonFileTooLarge, "big"), "文件过大，单个文件不能超过 32.0 MB"},
		{"too large without a reason", &workflow.Error{Code: workflow.CodeTooLarge, Message: "big"}, "提交的内容过大"},
		{"body too large", fmt.Errorf("read: %w", &http.MaxBytesError{Limit: 10}), "提交的内容过大"},
		{"fault", errors.New("disk on fire"), msgInternal},
		{"key reused", &workflow.Error{Code: workflow.CodeKeyReused, Message: "x"}, "该请求编号已用于另一项提交"},
		{"key in flight", &workflow.Error{Code: workflow.CodeKeyInFlight, Message: "x"}, "同一提交正在处理中"},
		{"internal", workflow.Errorf(workflow.CodeInternal, "secret detail"), msgInternal},
		{"verifier closes", workflow.Refuse(workflow.ReasonVerifierCloses, "x"), "验收人不能同时销号"},
		{"submitter verifies", workflow.Refuse(workflow.ReasonSubmitterVerifies, "x"), "提交人不能验收"},
		{"lead inspector", workflow.Refuse(workflow.ReasonOwnProblem, "x"), "牵头单位的人员不能验收本单位的问题"},
		{"rejected submit", workflow.Refuse(workflow.ReasonNeedsNewEvidence, "x"), "须先上传新的佐证材料"},
		{"frozen", workflow.Refuse(workflow.ReasonEvidenceFrozen, "x"), "佐证材料已冻结"},
		{"late extension", workflow.Refuse(workflow.ReasonDeadlinePassed, "x"), "整改时限已过"},
		{"reworded message", &workflow.Error{Code: workflow.CodeForbidden, Reason: workflow.ReasonVerifierCloses, Message: "any words at all"}, "验收人不能同时销号"},
		{"no reason", workflow.Errorf(workflow.CodeConflict, "the verifier may not also close"), "操作与问题的当前状态冲突"},
	}
	for _, c := range cases {
		if c.want == "" {
			if c.err != nil {
				t.Fatalf("%s: %v", c.name, c.err)
			}
			continue
		}
		if c.err == nil {
			t.Errorf("%s: no error", c.name)
			continue
		}
		got := errorText(c.err, 32<<20)
		if !strings.Contains(got, c.want) {
			t.Errorf("%s: %v\n  reads %q, want %q", c.name, c.err, got, c.want)
		}
		plain := strings.NewReplacer("PDF", "", "Office", "", "MB", "", "KB", "").Replace(got)
		for _, r := range plain {
			if r < unicode.MaxASCII && unicode.IsLetter(r) {
				t.Errorf("%s: %q has Latin letters", c.name, got)
				break
			}
		}
	}
}

// TestEveryReasonHasText: every reason the domain can return
// (workflow.Reasons) has its own Chinese text, not the generic one of its
// code, with no English in it.
func TestEveryReasonHasText(t *testing.T) {
	for _, r := range workflow.Reasons() {
		for _, field := range []string{"", "title", "deadline", "name", "not_a_field"} {
			e := workflow.RefuseField(r, field, "an English message the pages must not show")
			e.State = workflow.StateAssigned
			got, ok := reasonText(e, 32<<20)
			if !ok || got == "" {
				t.Errorf("reason %s (field %q) has no Chinese text", r, field)
				continue
			}
			if got != errorText(e, 32<<20) {
				t.Errorf("reason %s: errorText %q is not its reason's text %q", r, errorText(e, 32<<20), got)
			}
			if !hasHan(got) || strings.Contains(got, "English") || strings.Contains(got, "not_a_field") {
				t.Errorf("reason %s (field %q) reads %q", r, field, got)
			}
		}
	}
	if _, ok := reasonText(workflow.Refuse("no_such_reason", "x"), 0); ok {
		t.Error("an unknown reason has a text: the coverage check above could not fail")
	}
}

func hasHan(s string) bool {
	for _, r := range s {
		if unicode.Is(unicode.Han, r) {
			return true
		}
	}
	return false
}

// TestSeparationText provokes each separation-of-duty refusal of the
// default rule and checks its Chinese sentence.
func TestSeparationText(t *testing.T) {
	ctx := context.Background()
	st, err := bolt.Open(t.TempDir()+"/r.db", bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	svc := workflow.NewService(st, workflow.NewManualClock(time.Date(2021, 7, 1, 0, 0, 0, 0, time.UTC)))
	if err := svc.PutUnits(ctx, []workflow.Unit{
		{ID: "fuliang", Name: "浮梁县", Kind: workflow.UnitCounty}, {ID: "water", Name: "市水利局", Kind: workflow.UnitDepartment},
		{ID: "eeb", Name: "市生态环境局", Kind: workflow.UnitDepartment}, {ID: "office", Name: "领导小组办公室", Kind: workflow.UnitOffice},
	}); err != nil {
		t.Fatal(err)
	}
	bureau := workflow.Actor{ID: "b", Role: workflow.RoleBureau, UnitID: "eeb"}
	unit := workflow.Actor{ID: "u", Role: workflow.RoleUnit, UnitID: "fuliang"}
	p, _, err := svc.CreateProblem(ctx, bureau, workflow.NewProblem{Title: "t", Description: "d", Source: workflow.SourceAudit, CountyID: "fuliang"})
	if err != nil {
		t.Fatal(err)
	}
	d := time.Date(2021, 9, 30, 15, 59, 59, 0, time.UTC)
	fire := func(a workflow.Actor, trig workflow.Trigger, prm workflow.Params) error {
		_, err := svc.Fire(ctx, a, p.ID, workflow.Command{Trigger: trig, Params: prm})
		return err
	}
	for _, err := range []error{
		fire(bureau, workflow.TriggerAssign, workflow.Params{LeadUnit: "fuliang", CooperatingUnits: []string{"water"}, Deadline: &d}),
		fire(unit, workflow.TriggerAccept, workflow.Params{Plan: "x"}),
		func() error {
			_, err := svc.AddEvidence(ctx, unit, p.ID, workflow.EvidenceInput{SHA256: strings.Repeat("a", 64), Name: "a.jpg", Size: 3, Type: "image/jpeg"}, 0)
			return err
		}(),
		fire(unit, workflow.TriggerSubmit, workflow.Params{Summary: "x"}),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		name  string
		actor workflow.Actor
		trig  workflow.Trigger
		want  string
	}{
		{"lead inspector", workflow.Actor{ID: "li", Role: workflow.RoleInspector, UnitID: "fuliang"}, workflow.TriggerVerify, "牵头单位的人员不能验收、退回或销号"},
		{"cooperating inspector", workflow.Actor{ID: "ci", Role: workflow.RoleInspector, UnitID: "water"}, workflow.TriggerReject, "配合单位的人员不能验收、退回或销号"},
		{"submitter", workflow.Actor{ID: "u", Role: workflow.RoleInspector, UnitID: "office"}, workflow.TriggerReject, "提交人不能验收、退回或销号"},
	} {
		err := fire(c.actor, c.trig, workflow.Params{Opinion: "x", Reason: "x"})
		if got := errorText(err, 0); !strings.Contains(got, c.want) {
			t.Errorf("%s: %v\n  reads %q, want %q", c.name, err, got, c.want)
		}
	}
	// An uploader's unit, after it left the problem: a cooperating officer
	// hands in evidence while the problem is assigned, then the bureau
	// reassigns without that unit.
	p, _, err = svc.CreateProblem(ctx, bureau, workflow.NewProblem{Title: "t2", Description: "d", Source: workflow.SourceAudit, CountyID: "fuliang"})
	if err != nil {
		t.Fatal(err)
	}
	coop := workflow.Actor{ID: "w", Role: workflow.RoleUnit, UnitID: "water"}
	for _, err := range []error{
		fire(bureau, workflow.TriggerAssign, workflow.Params{LeadUnit: "fuliang", CooperatingUnits: []string{"water"}, Deadline: &d}),
		func() error {
			_, err := svc.AddEvidence(ctx, coop, p.ID, workflow.EvidenceInput{SHA256: strings.Repeat("b", 64), Name: "b.jpg", Size: 3, Type: "image/jpeg"}, 0)
			return err
		}(),
		fire(bureau, workflow.TriggerReassign, workflow.Params{Reason: "x", CooperatingUnits: []string{}}),
		fire(unit, workflow.TriggerAccept, workflow.Params{Plan: "x"}),
		fire(unit, workflow.TriggerSubmit, workflow.Params{Summary: "x"}),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	err = fire(workflow.Actor{ID: "wi", Role: workflow.RoleInspector, UnitID: "water"}, workflow.TriggerVerify, workflow.Params{Opinion: "x"})
	if got := errorText(err, 0); !strings.Contains(got, "上传过佐证材料的人员及其所在单位") {
		t.Errorf("uploader's unit: %v\n  reads %q", err, got)
	}
}
