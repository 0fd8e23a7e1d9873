package photocheck

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"testing"
	"time"

	"github.com/jdz-eco/rectify/store/bolt"
	"github.com/jdz-eco/rectify/workflow"
)

// The evidence checks end to end (issue 16): real photos through the
// service, the checker and the bbolt store's photo index.

var (
	svcBureau    = workflow.Actor{ID: "u-bureau", Name: "局办", Role: workflow.RoleBureau, UnitID: "city-eeb"}
	svcOfficer   = workflow.Actor{ID: "u-fl", Name: "浮梁县干部", Role: workflow.RoleUnit, UnitID: "fuliang"}
	svcInspector = workflow.Actor{ID: "u-insp", Name: "验收员", Role: workflow.RoleInspector, UnitID: "inspect"}
	// svcT0 is 09:00 in Beijing; problems are assigned an hour later.
	svcT0 = time.Date(2021, 6, 24, 1, 0, 0, 0, time.UTC)
)

// recordsOnly hides the store's capabilities: statistics from the records.
type recordsOnly struct{ workflow.Store }

type photoFixture struct {
	svc   *workflow.Service
	clock *workflow.ManualClock
}

func newPhotoFixture(t *testing.T) *photoFixture {
	t.Helper()
	st, err := bolt.Open(t.TempDir()+"/r.db", bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	clock := workflow.NewManualClock(svcT0)
	svc := workflow.NewService(st, clock)
	svc.SetPhotoChecker(NewChecker(Limits{}))
	err = svc.PutUnits(context.Background(), []workflow.Unit{
		{ID: "fuliang", Name: "浮梁县", Kind: workflow.UnitCounty},
		{ID: "city-eeb", Name: "市生态环境局", Kind: workflow.UnitDepartment},
		{ID: "inspect", Name: "领导小组办公室", Kind: workflow.UnitOffice},
	})
	if err != nil {
		t.Fatal(err)
	}
	return &photoFixture{svc: svc, clock: clock}
}

// problem logs a warning-film problem at site's location, assigned to
// Fuliang at 10:00 and accepted; the clock is then at 12:00.
func (f *photoFixture) problem(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	lat, lng := site.Location.Lat, site.Location.Lng
	p, _, err := f.svc.CreateProblem(ctx, svcBureau, workflow.NewProblem{Title: "尾矿库渗漏", Description: "警示片披露",
		Source: workflow.SourceWarningFilm, CountyID: "fuliang", Position: &workflow.PositionInput{Lat: &lat, Lng: &lng}})
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Set(svcT0.Add(time.Hour))
	f.fire(t, svcBureau, p.ID, workflow.TriggerAssign, workflow.Params{LeadUnit: "fuliang", Deadline: ptr(svcT0.AddDate(0, 3, 0))})
	f.fire(t, svcOfficer, p.ID, workflow.TriggerAccept, workflow.Params{Plan: "方案"})
	f.clock.Set(svcT0.Add(3 * time.Hour))
	return p.ID
}

func ptr[T any](v T) *T { return &v }

func (f *photoFixture) fire(t *testing.T, a workflow.Actor, id string, tr workflow.Trigger, prm workflow.Params) *workflow.Problem {
	t.Helper()
	p, err := f.svc.Fire(context.Background(), a, id, workflow.Command{Trigger: tr, Params: prm})
	if err != nil {
		t.Fatalf("%s: %v", tr, err)
	}
	return p
}

// upload checks data as the API does and adds it to problem id.
func (f *photoFixture) upload(t *testing.T, a workflow.Actor, id string, data []byte, ph workflow.Phase) (workflow.Evidence, error) {
	t.Helper()
	ctx := context.Background()
	report, err := f.svc.CheckPhoto(ctx, data)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	p, err := f.svc.AddEvidence(ctx, a, id, workflow.EvidenceInput{SHA256: hex.EncodeToString(sum[:]), Name: "现场.jpg",
		Size: int64(len(data)), Type: "image/jpeg", Phase: ph, Photo: report}, 0)
	if err != nil {
		return workflow.Evidence{}, err
	}
	return p.Evidence[len(p.Evidence)-1], nil
}

func (f *photoFixture) mustUpload(t *testing.T, a workflow.Actor, id string, data []byte, ph workflow.Phase) workflow.Evidence {
	t.Helper()
	e, err := f.upload(t, a, id, data, ph)
	if err != nil {
		t.Fatalf("upload: %v", err)
	}
	return e
}

// onSite is honest EXIF for scene photos taken at the site at 11:00.
var onSite = exifSpec{make: "HUAWEI", model: "ELS-AN00", original: "2021:06:24 11:00:00", offset: "+08:00", gps: north(*site.Location, 150)}

// photoOf returns a JPEG of scene seed carrying the EXIF of s.
func photoOf(t testing.TB, seed uint64, s exifSpec) []byte {
	return withJPEGEXIF(encodeJPEG(t, scene(seed, 480, 360), 88), buildEXIF(s))
}

func nearFlags(e workflow.Evidence) []workflow.Flag {
	return slices.DeleteFunc(slices.Clone(e.Flags), func(f workflow.Flag) bool { return f.Code != workflow.FlagNearDuplicate })
}

func TestNearDuplicatesAcrossProblemsAndRounds(t *testing.T) {
	f := newPhotoFixture(t)
	a, b := f.problem(t), f.problem(t)
	orig, copies := copiesOf(t, 41, 640, 480)
	first := f.mustUpload(t, svcOfficer, a, orig, workflow.PhaseAfter)
	if first.PHash == nil || len(nearFlags(first)) != 0 {
		t.Fatalf("first photo: hash %v, flags %+v", first.PHash, first.Flags)
	}
	pa, _ := f.svc.Problem(context.Background(), svcBureau, a)
	// Every kind of copy, in another problem, is flagged with a link to
	// the original.
	for i, c := range copies {
		e := f.mustUpload(t, svcOfficer, b, c, workflow.PhaseAfter)
		near := nearFlags(e)
		if len(near) == 0 || near[0].Similar == nil || near[0].Similar.ProblemID != a || near[0].Similar.SHA256 != first.SHA256 ||
			near[0].Similar.ProblemCode != pa.Code {
			t.Errorf("%s: near flags %+v, want one naming %s's photo", copyKinds[i], near, pa.Code)
		}
	}
	// Another real photo of a scene of the same kind is not.
	other := f.mustUpload(t, svcOfficer, b, photoOf(t, 42, onSite), workflow.PhaseAfter)
	if near := nearFlags(other); len(near) != 0 {
		t.Errorf("a different photo flagged: %+v", near)
	}
	// In the same problem: a before photo and an after photo of the same
	// round resemble each other by nature; an earlier round's does not.
	c := f.problem(t)
	before := photoOf(t, 43, onSite)
	f.mustUpload(t, svcOfficer, c, before, workflow.PhaseBefore)
	beforeCopy := withJPEGEXIF(encodeJPEG(t, decodeForTest(t, before), 50), buildEXIF(onSite))
	if near := nearFlags(f.mustUpload(t, svcOfficer, c, beforeCopy, workflow.PhaseAfter)); len(near) != 0 {
		t.Errorf("an after photo like its own before photo flagged: %+v", near)
	}
	f.fire(t, svcOfficer, c, workflow.TriggerSubmit, workflow.Params{Summary: "完成"})
	f.fire(t, svcInspector, c, workflow.TriggerReject, workflow.Params{Reason: "未整改到位"})
	again := withJPEGEXIF(encodeJPEG(t, resized(decodeForTest(t, beforeCopy), 320), 80), buildEXIF(onSite))
	near := nearFlags(f.mustUpload(t, svcOfficer, c, again, workflow.PhaseAfter))
	if len(near) != 1 || near[0].Similar.ProblemID != c || near[0].Similar.Round != 0 {
		t.Fatalf("the last round's photo resized: near flags %+v, want one naming round 0 of the same problem", near)
	}
	if want := "与本问题第 1 次提交的佐证材料相似"; !contains(near[0].Text, want) {
		t.Errorf("text %q, want %q", near[0].Text, want)
	}
}

func contains(s, sub string) bool {
	return len(sub) == 0 || len(s) >= len(sub) && (s[:len(sub)] == sub || contains(s[1:], sub))
}

func TestEXIFFlagsAtUpload(t *testing.T) {
	f := newPhotoFixture(t)
	id := f.problem(t)
	early := onSite
	early.original = "2021:06:20 10:00:00"
	far := onSite
	far.gps = north(*site.Location, 3000)
	edited := onSite
	edited.software = "Adobe Photoshop 23.0 (Windows)"
	cases := []struct {
		name  string
		data  []byte
		phase workflow.Phase
		want  []workflow.FlagCode
	}{
		{"honest", photoOf(t, 51, onSite), workflow.PhaseAfter, nil},
		{"taken before the assignment", photoOf(t, 52, early), workflow.PhaseAfter, []workflow.FlagCode{workflow.FlagCapturedBeforeAssigned}},
		{"a before photo taken before the assignment", photoOf(t, 53, early), workflow.PhaseBefore, nil},
		{"3 km away", photoOf(t, 54, far), workflow.PhaseAfter, []workflow.FlagCode{workflow.FlagFarFromSite}},
		{"Photoshop", photoOf(t, 55, edited), workflow.PhaseAfter, []workflow.FlagCode{workflow.FlagEdited}},
		{"no EXIF", encodeJPEG(t, scene(56, 480, 360), 85), workflow.PhaseAfter, []workflow.FlagCode{workflow.FlagNoCaptureInfo}},
		{"truncated", photoOf(t, 57, onSite)[:900], workflow.PhaseAfter, []workflow.FlagCode{workflow.FlagUnchecked}},
	}
	for _, c := range cases {
		e := f.mustUpload(t, svcOfficer, id, c.data, c.phase)
		if got := codes(e.Flags); !slices.Equal(got, c.want) {
			t.Errorf("%s: flags %v (%+v), want %v", c.name, got, e.Flags, c.want)
		}
	}
	// The truncated file was kept (with its flag), not lost.
	p, _ := f.svc.Problem(context.Background(), svcBureau, id)
	if len(p.Evidence) != len(cases) {
		t.Fatalf("%d items kept of %d uploads", len(p.Evidence), len(cases))
	}
	// The statistics count the flagged items per unit, from the store's
	// rollups, as from the records; and the rollups equal a recount.
	r, err := f.svc.Stats(context.Background(), svcBureau, workflow.GroupByLeadUnit, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Rows) != 1 || r.Rows[0].Key != "fuliang" || r.Rows[0].FlaggedEvidence != 5 || r.Total.FlaggedEvidence != 5 {
		t.Fatalf("statistics %+v, want 5 flagged items for fuliang", r.Rows)
	}
	if _, ok := f.svc.Store().(workflow.Rollups); !ok {
		t.Fatal("the fixture's store keeps no rollups")
	}
	if err := f.svc.Store().(workflow.RollupAuditor).AuditRollups(context.Background()); err != nil {
		t.Fatalf("rollups after flagged uploads: %v", err)
	}
	recorded := workflow.NewService(recordsOnly{f.svc.Store()}, f.clock)
	want, err := recorded.Stats(context.Background(), svcBureau, workflow.GroupByLeadUnit, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if want.Total.FlaggedEvidence != 5 || want.Rows[0].FlaggedEvidence != 5 {
		t.Fatalf("statistics from the records %+v, want 5 flagged items for fuliang", want.Rows)
	}
}

func TestVerifyNeedsFlagsAcknowledgedAndSiteCheck(t *testing.T) {
	f := newPhotoFixture(t)
	cfg := workflow.DefaultEvidencePolicy()
	cfg.SiteCheckSources = []workflow.Source{workflow.SourceWarningFilm}
	if err := f.svc.SetEvidencePolicy(cfg); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	id := f.problem(t)
	edited := onSite
	edited.software = "Meitu"
	bad := f.mustUpload(t, svcOfficer, id, photoOf(t, 61, edited), workflow.PhaseAfter)
	f.fire(t, svcOfficer, id, workflow.TriggerSubmit, workflow.Params{Summary: "完成"})
	verify := func(prm workflow.Params) error {
		_, err := f.svc.Fire(ctx, svcInspector, id, workflow.Command{Trigger: workflow.TriggerVerify, Params: prm})
		return err
	}
	if err := verify(workflow.Params{Opinion: "合格"}); workflow.ErrorReason(err) != workflow.ReasonNeedsSiteCheck {
		t.Fatalf("verify before the site check: %v", err)
	}
	// The inspector's own photo, 3 km off and edited: only the distance is
	// flagged, and it needs no acknowledgement.
	far := edited
	far.gps = north(*site.Location, 3000)
	own := f.mustUpload(t, svcInspector, id, photoOf(t, 62, far), "")
	if own.Phase != workflow.PhaseSiteCheck || !slices.Equal(codes(own.Flags), []workflow.FlagCode{workflow.FlagFarFromSite}) {
		t.Fatalf("site-check photo: phase %s, flags %v", own.Phase, codes(own.Flags))
	}
	p, err := f.svc.RecordSiteCheck(ctx, svcInspector, id, workflow.SiteCheckPassed, "现场已整改", 0)
	if err != nil || len(p.SiteChecks) != 1 || !slices.Equal(p.SiteChecks[0].Photos, []string{own.SHA256}) {
		t.Fatalf("site check: %v %+v", err, p)
	}
	err = verify(workflow.Params{Opinion: "合格"})
	e, _ := err.(*workflow.Error)
	want := []workflow.FlagRef{{SHA256: bad.SHA256, Code: workflow.FlagEdited}}
	if workflow.ErrorReason(err) != workflow.ReasonUnacknowledgedFlags || e == nil || !slices.Equal(e.Flags, want) || e.Code != workflow.CodeConflict {
		t.Fatalf("verify without acknowledgement: %v (%+v), want 409 listing %v", err, e, want)
	}
	if err := verify(workflow.Params{Opinion: "合格", AcknowledgedFlags: want}); workflow.ErrorReason(err) != workflow.ReasonRequired {
		t.Fatalf("acknowledgement without a note: %v", err)
	}
	if err := verify(workflow.Params{Opinion: "合格", AcknowledgedFlags: []workflow.FlagRef{{SHA256: bad.SHA256, Code: workflow.FlagFarFromSite}}}); workflow.ErrorCode(err) != workflow.CodeInvalid {
		t.Fatalf("acknowledging a flag the evidence lacks: %v", err)
	}
	note := "美图处理仅为裁剪，现场核查已确认"
	p = f.fire(t, svcInspector, id, workflow.TriggerVerify, workflow.Params{Opinion: "合格", AcknowledgedFlags: want, AcknowledgementNote: note})
	if !slices.Equal(p.Acknowledged, want) || len(p.UnacknowledgedFlags()) != 0 {
		t.Fatalf("acknowledged %v, open %v", p.Acknowledged, p.UnacknowledgedFlags())
	}
	hist, _ := f.svc.History(ctx, svcBureau, id)
	var entry workflow.Entry
	var upTo []workflow.Entry
	for _, h := range hist {
		if h.Action == string(workflow.TriggerVerify) {
			entry = h
			break
		}
		upTo = append(upTo, h)
	}
	if !slices.Equal(entry.Params.AcknowledgedFlags, want) || entry.Params.AcknowledgementNote != note || entry.Params.Signature == nil {
		t.Fatalf("verify entry %+v", entry.Params)
	}
	signed, err := workflow.Replay(upTo)
	if err != nil {
		t.Fatal(err)
	}
	if got := workflow.SignoffDigestAcknowledging(signed, want, note); got != entry.Params.Signature.Digest {
		t.Fatalf("the signature does not cover the acknowledgement: %s vs %s", got, entry.Params.Signature.Digest)
	}
	if workflow.SignoffDigest(signed) == entry.Params.Signature.Digest {
		t.Fatal("the digest is the same without the acknowledgement")
	}
	if _, err := workflow.Replay(hist); err != nil {
		t.Fatalf("replay: %v", err)
	}
}
