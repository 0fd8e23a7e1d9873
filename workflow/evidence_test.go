package workflow_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/jdz-eco/rectify/store/blob"
	"github.com/jdz-eco/rectify/workflow"
)

func TestSignaturesBindTheVersionSigned(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	id := f.create(t).ID
	f.fire(t, bureau, id, workflow.TriggerAssign, workflow.Params{LeadUnit: "fuliang", Deadline: deadline("2021-12-31")})
	f.fire(t, officer, id, workflow.TriggerAccept, workflow.Params{Plan: "方案"})
	f.evidence(t, officer, id, "photo-1")
	f.fire(t, officer, id, workflow.TriggerSubmit, workflow.Params{Summary: "完成"})
	f.fire(t, inspector, id, workflow.TriggerVerify, workflow.Params{Opinion: "合格"})
	p := f.fire(t, bureau, id, workflow.TriggerClose, workflow.Params{Statement: "同意销号"})
	if len(p.Signatures) != 2 {
		t.Fatalf("signatures %+v", p.Signatures)
	}
	hist, err := f.svc.History(ctx, bureau, id)
	if err != nil {
		t.Fatal(err)
	}
	for i, sig := range p.Signatures {
		wantAction, wantMeaning, signer := "verify", workflow.MeaningVerify, inspector
		if i == 1 {
			wantAction, wantMeaning, signer = "close", workflow.MeaningClose, bureau
		}
		if sig.Action != wantAction || sig.Meaning != wantMeaning || sig.SignerID != signer.ID || sig.SignerName != signer.Name ||
			sig.Role != signer.Role || sig.UnitID != signer.UnitID || sig.At.IsZero() {
			t.Fatalf("signature %d: %+v", i, sig)
		}
		// Rebuild the problem as it stood at the version signed: the digest must match.
		var upTo []workflow.Entry
		for _, e := range hist {
			if e.Version <= sig.Version {
				upTo = append(upTo, e)
			}
		}
		signed, err := workflow.Replay(upTo)
		if err != nil {
			t.Fatal(err)
		}
		if got := workflow.SignoffDigest(signed); got != sig.Digest {
			t.Fatalf("%s signature digest %s, the version it names gives %s", sig.Action, sig.Digest, got)
		}
	}
	if p.Signatures[0].Digest == p.Signatures[1].Digest {
		t.Fatal("verify and close signed the same digest")
	}
	// The history shows each sign-off with its command.
	for _, e := range hist {
		if (e.Action == "verify" || e.Action == "close") && e.Params.Signature == nil {
			t.Fatalf("%s entry without its signature", e.Action)
		}
	}
}

func TestDuplicateEvidenceWarnsTheInspector(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	var ids []string
	for i := 0; i < 2; i++ {
		id := f.create(t).ID
		f.fire(t, bureau, id, workflow.TriggerAssign, workflow.Params{LeadUnit: "fuliang", Deadline: deadline("2021-12-31")})
		f.fire(t, officer, id, workflow.TriggerAccept, workflow.Params{Plan: "方案"})
		f.evidence(t, officer, id, "the-same-photo")
		f.fire(t, officer, id, workflow.TriggerSubmit, workflow.Params{Summary: "完成"})
		ids = append(ids, id)
	}
	// bbolt answers from its evidence index; a store without one through
	// Problems: the same answer.
	if _, ok := f.store.(workflow.EvidenceIndex); !ok {
		t.Fatal("the bbolt store has no evidence index")
	}
	plain := workflow.NewService(struct{ workflow.Store }{f.store}, f.clock)
	for _, svc := range []*workflow.Service{f.svc, plain} {
		for i, id := range ids {
			p := mustGet(t, f, id)
			dups, err := svc.Duplicates(ctx, p)
			if err != nil {
				t.Fatal(err)
			}
			other := mustGet(t, f, ids[1-i])
			if got := dups[p.Evidence[0].SHA256]; len(got) != 1 || got[0] != other.Code || len(dups) != 1 {
				t.Fatalf("problem %s duplicates %v, want [%s]", id, dups, other.Code)
			}
		}
	}
	// Evidence of its own only: no duplicates.
	lone := f.create(t).ID
	f.fire(t, bureau, lone, workflow.TriggerAssign, workflow.Params{LeadUnit: "fuliang", Deadline: deadline("2021-12-31")})
	f.fire(t, officer, lone, workflow.TriggerAccept, workflow.Params{Plan: "方案"})
	f.evidence(t, officer, lone, "a-photo-of-its-own")
	for _, svc := range []*workflow.Service{f.svc, plain} {
		if dups, err := svc.Duplicates(ctx, mustGet(t, f, lone)); err != nil || len(dups) != 0 {
			t.Fatalf("Duplicates of a problem with its own evidence = %v, %v", dups, err)
		}
	}
	// A warning, not a refusal: the verify goes through and records it.
	p := f.fire(t, inspector, ids[1], workflow.TriggerVerify, workflow.Params{Opinion: "合格"})
	if p.State != workflow.StateVerified {
		t.Fatal("verify refused")
	}
	hist, _ := f.svc.History(ctx, bureau, ids[1])
	last := hist[len(hist)-1]
	if last.Action != "verify" || len(last.Params.Warnings) != 1 || !strings.Contains(last.Params.Warnings[0], mustGet(t, f, ids[0]).Code) {
		t.Fatalf("verify entry warnings %v", last.Params.Warnings)
	}
}

func TestEvidenceRules(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	id := f.create(t).ID
	_, err := f.svc.AddEvidence(ctx, officer, id, evidenceInput("x"), 0)
	wantCode(t, err, workflow.CodeNotFound) // not yet assigned to the officer's unit
	f.fire(t, bureau, id, workflow.TriggerAssign, workflow.Params{LeadUnit: "fuliang", CooperatingUnits: []string{"city-water"}, Deadline: deadline("2021-12-31")})
	f.evidence(t, coop, id, "coop") // assigned: a cooperating unit may hand in evidence
	for _, c := range []struct {
		name string
		a    workflow.Actor
		edit func(*workflow.EvidenceInput)
		code workflow.Code
	}{
		// An inspector adds only site-check photos, while a submission waits.
		{"inspector", inspector, func(*workflow.EvidenceInput) {}, workflow.CodeConflict},
		{"bureau", bureau, func(*workflow.EvidenceInput) {}, workflow.CodeForbidden},
		{"another county", outsider, func(*workflow.EvidenceInput) {}, workflow.CodeNotFound},
		{"bad hash", officer, func(in *workflow.EvidenceInput) { in.SHA256 = "abc" }, workflow.CodeInvalid},
		{"upper-case hash", officer, func(in *workflow.EvidenceInput) { in.SHA256 = strings.ToUpper(in.SHA256) }, workflow.CodeInvalid},
		{"empty", officer, func(in *workflow.EvidenceInput) { in.Size = 0 }, workflow.CodeInvalid},
		{"no name", officer, func(in *workflow.EvidenceInput) { in.Name = " " }, workflow.CodeInvalid},
		{"executable", officer, func(in *workflow.EvidenceInput) { in.Type = "application/octet-stream" }, workflow.CodeUnsupportedType},
	} {
		in := evidenceInput("y")
		c.edit(&in)
		if _, err := f.svc.AddEvidence(ctx, c.a, id, in, 0); workflow.ErrorCode(err) != c.code {
			t.Errorf("%s: got %v, want %s", c.name, err, c.code)
		}
	}
	if p := mustGet(t, f, id); len(p.Evidence) != 1 || p.Evidence[0].Submitted {
		t.Fatalf("evidence %+v", p.Evidence)
	}

	// With a blob store, the file must really be there.
	blobs, err := blob.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	f.svc.SetBlobs(blobs)
	_, err = f.svc.AddEvidence(ctx, officer, id, evidenceInput("not stored"), 0)
	wantCode(t, err, workflow.CodeInvalid)
	content := []byte("%PDF-1.4\n整改报告\n")
	sha, size, err := blobs.Put(ctx, bytes.NewReader(content), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	p, err := f.svc.AddEvidence(ctx, officer, id, workflow.EvidenceInput{SHA256: sha, Name: "报告.pdf", Size: size, Type: "application/pdf"}, 0)
	if err != nil || len(p.Evidence) != 2 {
		t.Fatalf("stored file refused: %v", err)
	}
	f.fire(t, officer, id, workflow.TriggerAccept, workflow.Params{Plan: "方案"})
	p = f.fire(t, officer, id, workflow.TriggerSubmit, workflow.Params{Summary: "完成"})
	for _, e := range p.Evidence {
		if !e.Submitted {
			t.Fatalf("evidence not marked as submitted: %+v", e)
		}
	}
}

func TestAuditPassesOnARealLedger(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		id := f.create(t).ID
		f.fire(t, bureau, id, workflow.TriggerAssign, workflow.Params{LeadUnit: "fuliang", Deadline: deadline("2021-07-01")})
		f.fire(t, officer, id, workflow.TriggerAccept, workflow.Params{Plan: "方案"})
		f.evidence(t, officer, id, "p"+string(rune('0'+i)))
		f.fire(t, officer, id, workflow.TriggerSubmit, workflow.Params{Summary: "完成"})
	}
	f.clock.Advance(60 * workflow.Day)
	if _, err := f.svc.Scan(ctx); err != nil {
		t.Fatal(err)
	}
	ledger, ok := f.svc.Store().(workflow.Ledger)
	if !ok {
		t.Fatal("the bolt store is not a workflow.Ledger")
	}
	rep, err := workflow.Audit(ctx, ledger, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	head, _ := f.svc.AuditHead(ctx, bureau)
	if rep.Problems != 3 || rep.Head != head || rep.Entries != head.Seq {
		t.Fatalf("report %+v, head %+v", rep, head)
	}
	if _, err := workflow.Audit(ctx, ledger, nil, &head); err != nil {
		t.Fatalf("with its own head expected: %v", err)
	}
	wrong := head
	wrong.Hash = strings.Repeat("0", 64)
	if _, err := workflow.Audit(ctx, ledger, nil, &wrong); err == nil {
		t.Fatal("a wrong expected head passed")
	}
	beyond := head
	beyond.Seq++
	if _, err := workflow.Audit(ctx, ledger, nil, &beyond); err == nil {
		t.Fatal("an expected head past the end passed")
	}
	_, err = f.svc.AuditHead(ctx, officer)
	wantCode(t, err, workflow.CodeForbidden)
}
