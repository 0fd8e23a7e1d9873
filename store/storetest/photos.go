package storetest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/jdz-eco/rectify/workflow"
)

// AddPhoto adds evidence file sha with perceptual hash h in phase ph, as
// the service would after its checks.
func AddPhoto(a workflow.Actor, sha string, h uint64, ph workflow.Phase) Apply {
	return func(p *workflow.Problem) ([]workflow.Entry, error) {
		at := T0.Add(4 * time.Hour)
		hash := h
		ev := workflow.Evidence{SHA256: sha, Name: "现场照片.jpg", Size: 10, Type: "image/jpeg",
			UploadedBy: a.ID, Uploader: a.Name, UnitID: a.UnitID, At: at, Round: p.EvidenceRound, Phase: ph, PHash: &hash}
		p.Evidence = append(p.Evidence, ev)
		p.UpdatedAt = at
		return []workflow.Entry{{At: at, Actor: a, Action: workflow.ActionEvidence, From: p.State, To: p.State,
			Params: workflow.Params{Evidence: &ev}}}, nil
	}
}

// flip returns h with the bits of mask flipped.
func flip(h, mask uint64) uint64 { return h ^ mask }

// nearByRecords is what a PhotoIndex must answer, from the records: every
// indexed hash of every problem within radius of h, each (problem, hash)
// once, in NearPhotos' order.
func nearByRecords(t *testing.T, s workflow.Store, ids []string, h uint64, radius int) []workflow.PhotoMatch {
	t.Helper()
	var out []workflow.PhotoMatch
	for _, id := range ids {
		for _, x := range mustProblem(t, s, id).IndexedPhotos() {
			if d := workflow.HashDistance(h, x); d <= radius {
				out = append(out, workflow.PhotoMatch{ProblemID: id, PHash: x, Distance: d})
			}
		}
	}
	workflow.SortPhotoMatches(out)
	return out
}

// testPhotoIndex: a PhotoIndex finds exactly what reading every record
// finds, within the radius and not beyond, after creations, additions, a
// refused command and a record that drops a photo; site-check photos are
// not indexed.
func testPhotoIndex(t *testing.T, s workflow.Store) {
	ix, ok := s.(workflow.PhotoIndex)
	if !ok {
		t.Skip("the store has no PhotoIndex")
	}
	r := rand.New(rand.NewPCG(16, 16))
	base := uint64(1)<<63 | r.Uint64()>>1
	// 12 bits apart, one in every chunk and more in the last: the pigeonhole
	// still finds it; 13 bits apart is beyond the radius.
	at12 := flip(base, 1<<60|1<<59|1<<47|1<<46|1<<33|1<<32|1<<20|1<<19|1<<7|1<<6|1<<5|1<<4)
	at13 := flip(at12, 1<<0)
	far := ^base
	var ids []string
	for i, county := range []string{Fuliang, Leping, Zhushan} {
		p := mustCreate(t, s, fmt.Sprintf("第 %d 号问题", i+1), workflow.SourceWarningFilm, county)
		mustUpdate(t, s, p.ID, Assign(county, nil, Deadline(30)))
		ids = append(ids, p.ID)
	}
	// A problem created with a photo on its record: the store indexes the
	// record it writes, whatever the domain put in it.
	build := Build("第 4 号问题", workflow.SourceWarningFilm, Changjiang)
	created, _, err := s.CreateProblem(t.Context(), "", func(n uint64) (*workflow.Problem, []workflow.Entry, error) {
		p, entries, err := build(n)
		if err == nil {
			h := flip(base, 1<<62)
			p.Evidence = append(p.Evidence, workflow.Evidence{SHA256: FileSHA("p4"), Name: "a.jpg", Size: 1, Type: "image/jpeg", PHash: &h, Phase: workflow.PhaseBefore})
		}
		return p, entries, err
	})
	if err != nil {
		t.Fatal(err)
	}
	ids = append(ids, created.ID)
	officer := OfficerOf(Fuliang)
	steps := []struct {
		name  string
		id    string
		apply Apply
	}{
		{"base on 1", ids[0], AddPhoto(officer, FileSHA("a"), base, workflow.PhaseAfter)},
		{"base again on 1", ids[0], AddPhoto(officer, FileSHA("a2"), base, workflow.PhaseBefore)},
		{"at 12 on 2", ids[1], AddPhoto(officer, FileSHA("b"), at12, workflow.PhaseAfter)},
		{"at 13 on 2", ids[1], AddPhoto(officer, FileSHA("c"), at13, workflow.PhaseAfter)},
		{"far on 3", ids[2], AddPhoto(officer, FileSHA("d"), far, workflow.PhaseAfter)},
		{"site-check photo of base on 3", ids[2], AddPhoto(OfficerOf(Bureau), FileSHA("e"), base, workflow.PhaseSiteCheck)},
		{"a document without a hash on 3", ids[2], AddEvidence(officer, FileSHA("f"))},
		{"note on 1", ids[0], Note("进展")},
	}
	queries := []uint64{base, at12, at13, far, flip(base, 1<<62)}
	check := func(after string) {
		t.Helper()
		for _, q := range queries {
			for _, radius := range []int{0, 1, 12} {
				want := nearByRecords(t, s, ids, q, radius)
				got, err := ix.NearPhotos(t.Context(), q, radius, 0)
				if err != nil {
					t.Fatalf("after %s: NearPhotos: %v", after, err)
				}
				if !slices.Equal(got, want) {
					t.Errorf("after %s: NearPhotos(%016x, %d) = %v, want %v", after, q, radius, got, want)
				}
			}
		}
	}
	for _, st := range steps {
		mustUpdate(t, s, st.id, st.apply)
		check(st.name)
	}
	got, err := ix.NearPhotos(t.Context(), base, 12, 0)
	if err != nil || len(got) != 3 || got[0].ProblemID != ids[0] || got[0].Distance != 0 {
		t.Fatalf("NearPhotos(base) = %v, %v; want problem 1 at 0, 4 at 1, 2 at 12", got, err)
	}
	if got, _ := ix.NearPhotos(t.Context(), base, 12, 2); len(got) != 2 {
		t.Fatalf("limit 2 gave %v", got)
	}
	// A refused command writes no key.
	refused := errors.New("refused")
	_, err = s.UpdateProblem(t.Context(), ids[2], func(p *workflow.Problem) ([]workflow.Entry, error) {
		if _, err := AddPhoto(officer, FileSHA("g"), base, workflow.PhaseAfter)(p); err != nil {
			return nil, err
		}
		return nil, refused
	})
	if !errors.Is(err, refused) {
		t.Fatalf("refused update: %v", err)
	}
	check("a refused command")
	// The store follows the record: a photo dropped leaves the index.
	mustUpdate(t, s, ids[1], func(p *workflow.Problem) ([]workflow.Entry, error) {
		p.Evidence = slices.DeleteFunc(p.Evidence, func(e workflow.Evidence) bool { return e.SHA256 == FileSHA("b") })
		return Note("更正")(p)
	})
	check("a photo dropped")
	if got := nearByRecords(t, s, ids, at12, 0); len(got) != 0 {
		t.Fatalf("the dropped photo is still on the record: %v", got)
	}
}
