package workflow

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestSignoffDigest(t *testing.T) {
	d := time.Date(2021, 12, 31, 15, 59, 59, 0, time.UTC)
	base := &Problem{ID: "1", Code: "JDZ-2021-0001", Version: 7, State: StateSubmitted, Title: "t", LeadUnit: "fuliang",
		Deadline: &d, Evidence: []Evidence{{SHA256: strings.Repeat("a", 64)}, {SHA256: strings.Repeat("b", 64)}}}
	digest := SignoffDigest(base)
	if len(digest) != 64 || SignoffDigest(base.Clone()) != digest {
		t.Fatalf("digest not stable: %s", digest)
	}
	// The order of uploads does not matter; the set does.
	reordered := base.Clone()
	reordered.Evidence[0], reordered.Evidence[1] = reordered.Evidence[1], reordered.Evidence[0]
	if SignoffDigest(reordered) != digest {
		t.Error("digest depends on evidence order")
	}
	// Fields outside the signed content (e.g. bookkeeping) do not change it.
	same := base.Clone()
	same.Supervision.Level = LevelOverdue
	if SignoffDigest(same) != digest {
		t.Error("digest depends on supervision bookkeeping")
	}
	changes := map[string]func(p *Problem){
		"title":          func(p *Problem) { p.Title = "t2" },
		"version":        func(p *Problem) { p.Version++ },
		"deadline":       func(p *Problem) { x := d.Add(time.Second); p.Deadline = &x },
		"summary":        func(p *Problem) { p.Summary = "新说明" },
		"evidence added": func(p *Problem) { p.Evidence = append(p.Evidence, Evidence{SHA256: strings.Repeat("c", 64)}) },
		"evidence swapped": func(p *Problem) {
			p.Evidence[1].SHA256 = strings.Repeat("d", 64)
		},
		"lead unit": func(p *Problem) { p.LeadUnit = "leping" },
	}
	for name, change := range changes {
		p := base.Clone()
		change(p)
		if SignoffDigest(p) == digest {
			t.Errorf("digest unchanged when the %s changes", name)
		}
	}
}

func TestEntryHashSurvivesStorage(t *testing.T) {
	d := time.Date(2021, 12, 31, 15, 59, 59, 0, time.UTC)
	e := Entry{Seq: 3, ProblemID: "1", Version: 2, At: time.Date(2021, 6, 24, 9, 0, 0, 123456789, time.UTC),
		Actor: Actor{ID: "u1", Name: "局办", Role: RoleBureau, UnitID: "city-eeb"}, Action: "assign",
		From: StateFound, To: StateAssigned, Params: Params{LeadUnit: "fuliang", Deadline: &d, CooperatingUnits: []string{"city-water"}},
		Supervision: &Supervision{Stage: StageAccept, StageDue: &d}}
	if err := SealEntry(&e, GenesisHash); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(e)
	var back Entry
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	h, err := EntryHash(back)
	if err != nil || h != e.Hash {
		t.Fatalf("hash after a JSON round trip %s, sealed %s (%v)", h, e.Hash, err)
	}
	back.Params.Reason = "x"
	if h, _ := EntryHash(back); h == e.Hash {
		t.Fatal("hash ignores params")
	}
	back = e
	back.PrevHash = strings.Repeat("1", 64)
	if h, _ := EntryHash(back); h == e.Hash {
		t.Fatal("hash ignores prev_hash")
	}
}

func TestParseChainHead(t *testing.T) {
	h := strings.Repeat("ab", 32)
	got, err := ParseChainHead("42:" + strings.ToUpper(h))
	if err != nil || got.Seq != 42 || got.Hash != h || got.String() != "42:"+h {
		t.Fatalf("%+v %v", got, err)
	}
	for _, bad := range []string{"", "42", "x:" + h, "0:" + h, "42:abc", "42:" + h + "00"} {
		if _, err := ParseChainHead(bad); ErrorCode(err) != CodeInvalid {
			t.Errorf("%q accepted", bad)
		}
	}
}
