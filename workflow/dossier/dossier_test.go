package dossier_test

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jdz-eco/rectify/store/blob"
	"github.com/jdz-eco/rectify/store/bolt"
	"github.com/jdz-eco/rectify/store/storetest"
	"github.com/jdz-eco/rectify/workflow"
	"github.com/jdz-eco/rectify/workflow/dossier"
)

// scenario builds a problem rectified, rejected once, verified and closed,
// with a note and two evidence files (the second twice in the record is
// refused, so each once), and returns the service, its blobs and the id.
func scenario(t testing.TB) (*workflow.Service, *blob.Store, string) {
	t.Helper()
	dir := t.TempDir()
	st, err := bolt.Open(filepath.Join(dir, "d.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	blobs, err := blob.Open(filepath.Join(dir, "evidence"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	clock := workflow.NewManualClock(storetest.T0)
	svc := workflow.NewService(st, clock)
	svc.SetBlobs(blobs)
	if err := svc.PutUnits(ctx, storetest.Units()); err != nil {
		t.Fatal(err)
	}
	p, _, err := svc.CreateProblem(ctx, storetest.BureauActor, workflow.NewProblem{Title: "尾矿库渗漏", Description: "群众举报尾矿库渗漏",
		Source: workflow.SourceAudit, CountyID: storetest.Fuliang})
	if err != nil {
		t.Fatal(err)
	}
	officer := storetest.OfficerOf(storetest.Fuliang)
	fire := func(a workflow.Actor, tr workflow.Trigger, prm workflow.Params) {
		t.Helper()
		clock.Advance(time.Hour)
		if _, err := svc.Fire(ctx, a, p.ID, workflow.Command{Trigger: tr, Params: prm}); err != nil {
			t.Fatalf("%s: %v", tr, err)
		}
	}
	upload := func(name, content string) {
		t.Helper()
		clock.Advance(time.Hour)
		sha, size, err := blobs.Put(ctx, strings.NewReader(content), 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.AddEvidence(ctx, officer, p.ID, workflow.EvidenceInput{SHA256: sha, Name: name, Size: size, Type: "text/plain", Description: "整改说明"}, 0); err != nil {
			t.Fatal(err)
		}
	}
	d := storetest.Deadline(60)
	fire(storetest.BureauActor, workflow.TriggerAssign, workflow.Params{LeadUnit: storetest.Fuliang, CooperatingUnits: []string{storetest.Water}, Deadline: &d, Requirements: "两个月内完成封堵"})
	fire(officer, workflow.TriggerAccept, workflow.Params{Plan: "封堵渗漏点"})
	clock.Advance(time.Hour)
	if _, err := svc.AddNote(ctx, officer, p.ID, "已完成现场勘查", 0); err != nil {
		t.Fatal(err)
	}
	upload("封堵方案.txt", "封堵方案：第一步……")
	fire(officer, workflow.TriggerSubmit, workflow.Params{Summary: "已封堵"})
	fire(storetest.InspectorActor, workflow.TriggerReject, workflow.Params{Reason: "缺少封堵后的检测报告"})
	upload("检测报告.txt", "检测报告：达标")
	fire(officer, workflow.TriggerSubmit, workflow.Params{Summary: "补充检测报告"})
	fire(storetest.InspectorActor, workflow.TriggerVerify, workflow.Params{Opinion: "验收通过"})
	fire(storetest.BureauActor, workflow.TriggerClose, workflow.Params{Statement: "同意销号"})
	return svc, blobs, p.ID
}

func write(t testing.TB, svc *workflow.Service, blobs *blob.Store, a workflow.Actor, id string) []byte {
	t.Helper()
	ctx := context.Background()
	cf, err := svc.CaseFile(ctx, a, id)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := dossier.Write(&buf, cf, func(sha string) (io.ReadCloser, error) { return blobs.Open(ctx, sha) }); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func verify(b []byte) (*dossier.Report, error) {
	return dossier.Verify(bytes.NewReader(b), int64(len(b)))
}

// TestDossierVerifies: a dossier holds the files it should, verifies, and
// says what it holds; written twice it is the same bytes.
func TestDossierVerifies(t *testing.T) {
	svc, blobs, id := scenario(t)
	b := write(t, svc, blobs, storetest.BureauActor, id)
	rep, err := verify(b)
	if err != nil {
		t.Fatalf("Verify = %v", err)
	}
	hist, _ := svc.History(t.Context(), storetest.BureauActor, id)
	head, _ := svc.DocumentHead(t.Context())
	if rep.Entries != len(hist) || rep.Evidence != 2 || rep.Signoffs != 2 || rep.Head != head || rep.ProblemID != id {
		t.Fatalf("report %+v; want %d entries, 2 files, 2 sign-offs, head %s", rep, len(hist), head)
	}
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	var summary string
	for _, f := range zr.File {
		names = append(names, f.Name)
		if f.Name == dossier.NameSummary {
			rc, _ := f.Open()
			s, _ := io.ReadAll(rc)
			summary = string(s)
		}
	}
	if len(names) != 9 || names[0] != dossier.NameInfo || !strings.HasPrefix(names[5], "evidence/") || names[8] != dossier.NameManifest {
		t.Fatalf("files %v", names)
	}
	for _, want := range []string{"一案一档：JDZ-", "尾矿库渗漏", "审计链头 " + head.String(), "退回整改", "缺少封堵后的检测报告", "同意销号", "验收通过", "检测报告.txt", "浮梁县"} {
		if !strings.Contains(summary, want) {
			t.Errorf("summary lacks %q:\n%s", want, summary)
		}
	}
	if again := write(t, svc, blobs, storetest.BureauActor, id); !bytes.Equal(again, b) {
		t.Error("the same case file written twice differs")
	}
}

// TestDossierRefusesAnyByteChanged changes every byte of a dossier in turn
// (every seventh also to two other values): each change is refused.
// FuzzVerifyDossier tries other changes.
func TestDossierRefusesAnyByteChanged(t *testing.T) {
	svc, blobs, id := scenario(t)
	b := write(t, svc, blobs, storetest.BureauActor, id)
	if _, err := verify(b); err != nil {
		t.Fatal(err)
	}
	c := make([]byte, len(b))
	for i := range b {
		xors := []byte{0xff}
		if i%7 == 0 {
			xors = append(xors, 0x01, 0x80)
		}
		for _, x := range xors {
			copy(c, b)
			c[i] ^= x
			if _, err := verify(c); err == nil {
				t.Fatalf("byte %d of %d changed (xor %#x) and the dossier still verified", i, len(b), x)
			}
		}
	}
	// Cut short or lengthened: refused.
	for _, c := range [][]byte{b[:len(b)-1], append(bytes.Clone(b), 0), append([]byte{0}, b...)} {
		if _, err := verify(c); err == nil {
			t.Fatalf("a dossier of %d bytes (from %d) verified", len(c), len(b))
		}
	}
}

// TestDossierForgedConsistently: a forger who edits a history entry and
// rewrites its hash, the record and the manifest still fails, because the
// entry's hash is the one on the chain (and the summary names it); one who
// recomputes everything makes a dossier whose head no longer matches the
// chain, caught by audit verify --expect-heads (cmd/rectify tests that).
func TestDossierForgedConsistently(t *testing.T) {
	svc, blobs, id := scenario(t)
	ctx := t.Context()
	cf, err := svc.CaseFile(ctx, storetest.BureauActor, id)
	if err != nil {
		t.Fatal(err)
	}
	// An entry's text changed, its hash left: refused as altered.
	for i := range cf.History {
		if cf.History[i].Params.Reason != "" {
			cf.History[i].Params.Reason = "理由已被改写"
		}
	}
	var buf bytes.Buffer
	err = dossier.Write(&buf, cf, func(sha string) (io.ReadCloser, error) { return blobs.Open(ctx, sha) })
	if err != nil {
		t.Fatal(err)
	}
	var de *dossier.Error
	if _, err := verify(buf.Bytes()); !errors.As(err, &de) || de.File != dossier.NameHistory || !strings.Contains(de.Reason, "altered") {
		t.Fatalf("a dossier with an altered entry: %v", err)
	}
}

// TestDossierVisibility: a unit officer of another unit cannot have the
// case file (not found, as the problem).
func TestDossierVisibility(t *testing.T) {
	svc, _, id := scenario(t)
	if _, err := svc.CaseFile(t.Context(), storetest.OfficerOf(storetest.Leping), id); workflow.ErrorCode(err) != workflow.CodeNotFound {
		t.Fatalf("CaseFile by another unit's officer = %v, want not found", err)
	}
	if _, err := svc.CaseFile(t.Context(), storetest.OfficerOf(storetest.Water), id); err != nil {
		t.Fatalf("CaseFile by a cooperating unit's officer = %v", err)
	}
}

// FuzzVerifyDossier: whatever the bytes, Verify does not panic, and what it
// accepts is byte for byte a dossier Write makes of its own contents.
func FuzzVerifyDossier(f *testing.F) {
	svc, blobs, id := scenario(f)
	b := write(f, svc, blobs, storetest.BureauActor, id)
	f.Add(b)
	f.Add(b[:len(b)/2])
	f.Add([]byte("PK\x05\x06" + strings.Repeat("\x00", 18)))
	f.Fuzz(func(t *testing.T, data []byte) {
		rep, err := verify(data)
		if err != nil {
			return
		}
		if !bytes.Equal(data, b) {
			t.Fatalf("Verify accepted %d bytes that differ from the dossier (report %+v)", len(data), rep)
		}
	})
}

// TestDossierOfBuiltLedger: the case files of the conformance ledger's
// problems without evidence (one dismissed, one with alerts, where one
// command wrote several entries of one version) verify.
func TestDossierOfBuiltLedger(t *testing.T) {
	st, err := bolt.Open(filepath.Join(t.TempDir(), "l.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	svc, _, ids := storetest.BuildLedger(t, st)
	for _, id := range ids[2:] {
		cf, err := svc.CaseFile(t.Context(), storetest.BureauActor, id)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := dossier.Write(&buf, cf, func(string) (io.ReadCloser, error) { return nil, errors.New("no evidence") }); err != nil {
			t.Fatal(err)
		}
		if _, err := verify(buf.Bytes()); err != nil {
			t.Errorf("the case file of %s: %v", id, err)
		}
	}
}
