package photocheck

import (
	"fmt"
	"slices"
	"testing"

	"github.com/jdz-eco/rectify/workflow"
)

func TestFlagsOfUncheckedImages(t *testing.T) {
	cases := []struct {
		err  error
		text string
	}{
		{fmt.Errorf("%w: unexpected EOF", ErrCorrupt), "图片已损坏或格式异常，无法解码，未能与其他照片比对"},
		{fmt.Errorf("%w: decoding took more than 20s", ErrTimeout), "图片解码超时，未能与其他照片比对"},
	}
	for _, c := range cases {
		got := Flags(Facts{Format: FormatJPEG, Err: c.err, Metadata: Metadata{Make: "OPPO"}}, site)
		if len(got) != 1 || got[0].Code != workflow.FlagUnchecked || got[0].Text != c.text {
			t.Errorf("%v: %+v", c.err, got)
		}
	}
	// A hashed photo with metadata from the site in time has no flag.
	m := ReadMetadata(photoWith(t, honest))
	if got := Flags(Facts{Format: FormatJPEG, Hash: 1, Metadata: m}, site); len(got) != 0 {
		t.Errorf("honest photo: %+v", got)
	}
}

func TestEditingProgram(t *testing.T) {
	for s, want := range map[string]string{
		"Adobe Photoshop 24.1 (Windows)": "photoshop", "Adobe Photoshop Lightroom Classic 12.0": "photoshop",
		"美图秀秀": "美图", "MTXX (Meitu)": "meitu", "GIMP 2.10.34": "gimp", "Snapseed 2.0": "snapseed",
		"iOS 17.2": "", "HDR+ 1.0.540104767zd": "", "MediaTek Camera Application": "", "ELS-AN00 2.0.0.230": "", "": "",
	} {
		if got := EditingProgram(s); got != want {
			t.Errorf("EditingProgram(%q) = %q, want %q", s, got, want)
		}
	}
}

func TestDistanceFlagBoundsAndWording(t *testing.T) {
	at := func(m float64, limit float64) []workflow.Flag {
		s := site
		s.MaxDistance = limit
		return MetadataFlags(Metadata{Make: "vivo", Position: north(*site.Location, m)}, s)
	}
	if got := at(990, 0); len(got) != 0 {
		t.Errorf("990 m within the default 1 km flagged: %+v", got)
	}
	if got := at(1020, 0); len(got) != 1 || got[0].Text != "拍摄位置距问题位置约 1020 米（允许 1 公里）" {
		t.Errorf("1020 m: %+v", got)
	}
	if got := at(850, 500); len(got) != 1 || got[0].Text != "拍摄位置距问题位置约 850 米（允许 500 米）" {
		t.Errorf("850 m over 500: %+v", got)
	}
	// No problem location: nothing to compare with. A position alone is
	// capture metadata.
	s := site
	s.Location = nil
	if got := MetadataFlags(Metadata{Position: north(*site.Location, 5000)}, s); len(got) != 0 {
		t.Errorf("no site location: %+v", got)
	}
}

func TestNearFlags(t *testing.T) {
	got := NearFlags("p2", []Match{
		{ProblemID: "p1", ProblemCode: "JDZ-2021-0007", SHA256: "aa", Round: 0, Distance: 4},
		{ProblemID: "p2", ProblemCode: "JDZ-2021-0012", SHA256: "bb", Round: 1, Distance: 0},
	})
	want := []string{"与问题 JDZ-2021-0007 的佐证材料相似（汉明距离 4）", "与本问题第 2 次提交的佐证材料相似（汉明距离 0）"}
	var texts []string
	for _, f := range got {
		texts = append(texts, f.Text)
		if f.Code != workflow.FlagNearDuplicate || f.Similar == nil {
			t.Fatalf("flag %+v", f)
		}
	}
	if !slices.Equal(texts, want) || got[0].Similar.SHA256 != "aa" || got[1].Similar.Round != 1 || got[0].Similar.Distance != 4 {
		t.Fatalf("near flags %+v", got)
	}
}
