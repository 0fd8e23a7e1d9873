package photocheck

import (
	"bytes"
	"context"
	"encoding/binary"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jdz-eco/rectify/workflow"
)

// site is the problem the EXIF fixtures are checked against: assigned on
// 2021-05-01 09:00 Beijing time, a pond in Fuliang county.
var site = Site{
	Assigned: time.Date(2021, 5, 1, 9, 0, 0, 0, workflow.Shanghai),
	Uploaded: time.Date(2021, 6, 2, 14, 0, 0, 0, workflow.Shanghai),
	Location: &workflow.LatLng{Lat: 29.3527, Lng: 117.2475},
}

// photoWith returns a small drawn JPEG carrying the EXIF of s.
func photoWith(t testing.TB, s exifSpec) []byte {
	t.Helper()
	return withJPEGEXIF(encodeJPEG(t, scene(7, 320, 240), 85), buildEXIF(s))
}

// north returns p moved m metres north.
func north(p workflow.LatLng, m float64) *workflow.LatLng {
	return &workflow.LatLng{Lat: p.Lat + m/111195, Lng: p.Lng}
}

// honest is what a phone writes for a photo taken at the site in time.
var honest = exifSpec{make: "HUAWEI", model: "ELS-AN00", software: "ELS-AN00 2.0.0.230",
	original: "2021:06:01 10:15:00", offset: "+08:00", gps: north(*site.Location, 150)}

func codes(fs []workflow.Flag) []workflow.FlagCode {
	var out []workflow.FlagCode
	for _, f := range fs {
		out = append(out, f.Code)
	}
	return out
}

func TestMetadataFlagsOfEXIFFixtures(t *testing.T) {
	early, far, edited := honest, honest, honest
	early.original = "2021:03:02 10:00:00"
	far.gps = north(*site.Location, 3100)
	far.bigEndian = true
	edited.software = "Adobe Photoshop 24.1 (Windows)"
	cases := []struct {
		name string
		file []byte
		want workflow.FlagCode
		text string
	}{
		{"captured before assignment", photoWith(t, early), workflow.FlagCapturedBeforeAssigned, "拍摄时间 2021-03-02 早于交办时间 2021-05-01"},
		{"GPS 3.1 km away", photoWith(t, far), workflow.FlagFarFromSite, "拍摄位置距问题位置约 3.1 公里（允许 1 公里）"},
		{"Photoshop in Software", photoWith(t, edited), workflow.FlagEdited, "经 Adobe Photoshop 24.1 (Windows) 处理"},
		{"no EXIF at all", encodeJPEG(t, scene(7, 320, 240), 85), workflow.FlagNoCaptureInfo, "无拍摄信息"},
	}
	for _, c := range cases {
		got := MetadataFlags(ReadMetadata(c.file), site)
		if len(got) != 1 || got[0].Code != c.want || !strings.HasPrefix(got[0].Text, c.text) {
			t.Errorf("%s: flags %+v, want one %s starting %q", c.name, got, c.want, c.text)
		}
	}
	m := ReadMetadata(photoWith(t, honest))
	if got := MetadataFlags(m, site); len(got) != 0 {
		t.Fatalf("an honest photo got flags %+v", got)
	}
	want := time.Date(2021, 6, 1, 2, 15, 0, 0, time.UTC)
	if !m.Captured.Equal(want) || !m.CapturedOffset || m.Make != "HUAWEI" || m.Position == nil ||
		workflow.Distance(*m.Position, *north(*site.Location, 150)) > 0.1 {
		t.Fatalf("metadata read back wrong: %+v", m)
	}
}

func TestCaptureTimeOffsetAndShanghai(t *testing.T) {
	// 08:30 with no offset is Beijing time: before the 09:00 assignment.
	s := exifSpec{make: "Xiaomi", original: "2021:05:01 08:30:00"}
	got := MetadataFlags(ReadMetadata(photoWith(t, s)), site)
	if len(got) != 1 || got[0].Text != "拍摄时间 2021-05-01 08:30 早于交办时间 2021-05-01 09:00（照片未记录时区，按北京时间计）" {
		t.Fatalf("no offset: %+v", got)
	}
	// The same wall time at UTC is 16:30 in Beijing: after the assignment.
	s.offset = "+00:00"
	m := ReadMetadata(photoWith(t, s))
	if got := MetadataFlags(m, site); len(got) != 0 || !m.Captured.Equal(time.Date(2021, 5, 1, 8, 30, 0, 0, time.UTC)) {
		t.Fatalf("offset +00:00: %v %+v", m.Captured, got)
	}
	// Later than the upload, beyond the clock slack; within it, nothing.
	s = exifSpec{make: "Xiaomi", original: "2021:06:02 15:00:00", offset: "+08:00"}
	got = MetadataFlags(ReadMetadata(photoWith(t, s)), site)
	if len(got) != 1 || got[0].Text != "拍摄时间 2021-06-02 15:00 晚于上传时间 2021-06-02 14:00" {
		t.Fatalf("after upload: %+v", got)
	}
	s.original = "2021:06:02 14:05:00"
	if got := MetadataFlags(ReadMetadata(photoWith(t, s)), site); len(got) != 0 {
		t.Fatalf("5 minutes after upload flagged: %+v", got)
	}
}

func TestMetadataInPNGAndWebP(t *testing.T) {
	tiff := buildEXIF(exifSpec{software: "Snapseed 2.0", original: "2021:03:02 10:00:00", offset: "+08:00"})
	p := withPNGEXIF(encodePNG(t, scene(3, 160, 120)), tiff)
	webpFile, err := os.ReadFile("testdata/video-001.lossy.webp")
	if err != nil {
		t.Fatal(err)
	}
	w := withWebPEXIF(webpFile, 150, 103, tiff)
	c := NewChecker(Limits{})
	for name, file := range map[string][]byte{"png": p, "webp": w} {
		f, err := c.Analyze(context.Background(), file)
		if err != nil || f.Err != nil {
			t.Fatalf("%s: %v %v", name, err, f.Err)
		}
		got := codes(Flags(f, site))
		if !slices.Equal(got, []workflow.FlagCode{workflow.FlagCapturedBeforeAssigned, workflow.FlagEdited}) {
			t.Errorf("%s: flags %v", name, got)
		}
	}
}

func TestLyingEXIF(t *testing.T) {
	cases := []struct {
		name string
		spec exifSpec
		bad  string
	}{
		{"zero date", exifSpec{make: "Canon", original: "0000:00:00 00:00:00"}, "拍摄时间“0000:00:00 00:00:00”不是有效的日期"},
		{"clock never set", exifSpec{make: "Canon", original: "1980:01:01 00:00:00"}, "早于 1995 年"},
		{"latitude 95", exifSpec{make: "Canon", gps: &workflow.LatLng{Lat: 95, Lng: 117}}, "超出范围"},
	}
	for _, c := range cases {
		m := ReadMetadata(photoWith(t, c.spec))
		flags := MetadataFlags(m, site)
		if len(flags) != 1 || flags[0].Code != workflow.FlagBadMetadata || !strings.Contains(flags[0].Text, c.bad) {
			t.Errorf("%s: %+v", c.name, flags)
		}
		if !m.Captured.IsZero() || m.Position != nil {
			t.Errorf("%s: an impossible value was kept: %+v", c.name, m)
		}
	}
}

// exifEntry returns the offset of the entry of tag in the IFD at ifd.
func exifEntry(t *testing.T, tiff []byte, ifd int, tag uint16) int {
	t.Helper()
	n := int(binary.LittleEndian.Uint16(tiff[ifd:]))
	for i := range n {
		if e := ifd + 2 + 12*i; binary.LittleEndian.Uint16(tiff[e:]) == tag {
			return e
		}
	}
	t.Fatalf("no tag %#x", tag)
	return 0
}

func TestHostileEXIFStructures(t *testing.T) {
	base := buildEXIF(honest)
	exifIFD := int(binary.LittleEndian.Uint32(base[exifEntry(t, base, 8, tagExifIFD)+8:]))
	hostile := map[string]func(b []byte){
		// A Software tag claiming 4 GiB of text.
		"huge count": func(b []byte) { binary.LittleEndian.PutUint32(b[exifEntry(t, b, 8, tagSoftware)+4:], 0xFFFFFFFF) },
		// The Exif IFD pointing back at IFD0.
		"child cycle": func(b []byte) { binary.LittleEndian.PutUint32(b[exifEntry(t, b, 8, tagExifIFD)+8:], 8) },
		// The Exif IFD pointing at itself through its next link.
		"next cycle": func(b []byte) {
			n := int(binary.LittleEndian.Uint16(b[exifIFD:]))
			binary.LittleEndian.PutUint32(b[exifIFD+2+12*n:], uint32(exifIFD))
		},
		// IFD0 links to an IFD1 whose thumbnail claims 4 GiB.
		"thumbnail length": func(b []byte) {
			n := int(binary.LittleEndian.Uint16(b[8:]))
			binary.LittleEndian.PutUint32(b[8+2+12*n:], uint32(len(b)-26))
			ifd1 := len(b) - 26
			binary.LittleEndian.PutUint16(b[ifd1:], 2)
			copy(b[ifd1+2:], []byte{0x01, 0x02, 4, 0, 1, 0, 0, 0, 8, 0, 0, 0, 0x02, 0x02, 4, 0, 1, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF})
		},
		"IFD0 out of range": func(b []byte) { binary.LittleEndian.PutUint32(b[4:], 0x7FFFFFF0) },
		"entry count lie":   func(b []byte) { binary.LittleEndian.PutUint16(b[8:], 0xFFFF) },
	}
	small := encodeJPEG(t, scene(1, 320, 240), 80)
	for name, mutate := range hostile {
		b := append(slices.Clone(base), make([]byte, 26)...)
		mutate(b)
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		m := ReadMetadata(withJPEGEXIF(small, b))
		runtime.ReadMemStats(&after)
		if grew := after.TotalAlloc - before.TotalAlloc; grew > 8<<20 {
			t.Errorf("%s: reading allocated %d MiB", name, grew>>20)
		}
		if !m.EXIF {
			t.Errorf("%s: EXIF not seen", name)
		}
	}
}

// TestDamagedEXIFNeverPanics cuts and flips the bytes of a real EXIF
// structure: whatever comes out, reading it returns.
func TestDamagedEXIFNeverPanics(t *testing.T) {
	base := buildEXIF(honest)
	for n := 0; n < len(base); n += len(base) / rounds(len(base)) {
		readEXIF(base[:n])
	}
	r := rand.New(rand.NewPCG(16, 16))
	for range rounds(400) {
		b := slices.Clone(base)
		for range 1 + r.IntN(8) {
			b[r.IntN(len(b))] = byte(r.UintN(256))
		}
		m := readEXIF(b)
		if m.Position != nil && (m.Position.Lat > 90 || m.Position.Lat < -90) {
			t.Fatalf("impossible position kept: %+v", m.Position)
		}
	}
}

func FuzzReadMetadata(f *testing.F) {
	f.Add(withJPEGEXIF([]byte{0xFF, 0xD8, 0xFF, 0xD9}, buildEXIF(honest)))
	f.Add(withJPEGEXIF([]byte{0xFF, 0xD8, 0xFF, 0xD9}, buildEXIF(exifSpec{bigEndian: true, software: "GIMP 2.10", gps: &workflow.LatLng{Lat: -33.9, Lng: -70.6}})))
	f.Add(bytes.Repeat([]byte{0xFF}, 16))
	f.Fuzz(func(t *testing.T, data []byte) {
		m := ReadMetadata(data)
		MetadataFlags(m, site)
	})
}
