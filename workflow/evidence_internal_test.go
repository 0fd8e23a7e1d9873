package workflow

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestSniffType(t *testing.T) {
	pad := func(b []byte) []byte { return append(b, make([]byte, 64)...) }
	cases := []struct {
		name string
		head []byte
		want string
		ok   bool
	}{
		{"jpeg", pad([]byte{0xFF, 0xD8, 0xFF, 0xE0}), "image/jpeg", true},
		{"png", pad([]byte("\x89PNG\r\n\x1a\n")), "image/png", true},
		{"pdf", []byte("%PDF-1.7\n%âãÏÓ\n1 0 obj"), "application/pdf", true},
		{"plain text", []byte("整改报告：已完成清淤。"), "text/plain; charset=utf-8", true},
		{"docx", pad([]byte("PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00[Content_Types].xmlword/document.xml")), "application/vnd.openxmlformats-officedocument.wordprocessingml.document", true},
		{"xlsx", pad([]byte("PK\x03\x04\x14\x00\x06\x00xl/workbook.xml")), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", true},
		{"old office", pad([]byte{0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1}), "application/x-ole-storage", true},
		{"mp4", pad([]byte("\x00\x00\x00\x18ftypmp42")), "video/mp4", true},
		{"quicktime", pad([]byte("\x00\x00\x00\x14ftypqt  ")), "video/quicktime", true},
		{"plain zip", pad([]byte("PK\x03\x04\x14\x00payload.bin")), "application/zip", false},
		{"ELF executable", pad([]byte("\x7fELF\x02\x01\x01")), "application/octet-stream", false},
		{"Windows executable", pad([]byte("MZ\x90\x00\x03\x00\x00\x00")), "application/octet-stream", false},
		{"html", []byte("<!DOCTYPE html><script>alert(1)</script>"), "text/html; charset=utf-8", false},
	}
	for _, c := range cases {
		got, ok := SniffType(c.head)
		if ok != c.ok || (c.want != "" && got != c.want) {
			t.Errorf("%s: got %q %v, want %q %v", c.name, got, ok, c.want, c.ok)
		}
	}
}

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
