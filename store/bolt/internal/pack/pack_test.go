package pack

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/jdz-eco/rectify/workflow"
)

// samplePacked is a record and an entry as the store writes them.
func samplePacked(t testing.TB) (record, entry []byte) {
	at := time.Date(2021, 6, 24, 2, 0, 0, 123456789, time.UTC)
	deadline := time.Date(2021, 12, 31, 15, 59, 59, 0, time.UTC)
	p := &workflow.Problem{
		ID: "20", Code: "JDZ-2021-0020", Title: "昌江区鱼山码头尾矿库整改不到位",
		Description: "警示片披露：尾矿库渗滤液收集池破损，雨季存在入河风险，需限期修复并建立长效管护机制。",
		Source:      workflow.SourceWarningFilm, CountyID: "changjiang", State: workflow.StateRectifying,
		LeadUnit: "changjiang", Deadline: &deadline, OriginalDeadline: &deadline,
		Evidence: []workflow.Evidence{{SHA256: strings.Repeat("ab", 32), Name: "现场照片.png", Size: 128,
			Type: "image/png", Description: "整改后现场照片", UploadedBy: "u2d432480751a", Uploader: "昌江区整改专员",
			UnitID: "changjiang", At: at}},
		Version: 5, CreatedBy: "ub2bf5778ee48", CreatedAt: at, UpdatedAt: at.Add(time.Hour),
	}
	record, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	e := workflow.Entry{Seq: 7, ProblemID: "20", Version: 5, At: at,
		Actor:  workflow.Actor{ID: "u2d432480751a", Name: "昌江区整改专员", Role: workflow.RoleUnit, UnitID: "changjiang"},
		Action: workflow.ActionNote, From: workflow.StateRectifying, To: workflow.StateRectifying,
		Params: workflow.Params{Note: "已完成渗滤液收集池修复 <80%> & \"验收\" 准备中\u2028"}}
	if err := workflow.SealEntry(&e, workflow.GenesisHash); err != nil {
		t.Fatal(err)
	}
	entry, err = json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	return record, entry
}

func TestPackRoundTrip(t *testing.T) {
	record, entry := samplePacked(t)
	for _, js := range [][]byte{record, entry} {
		v := Value(js)
		if v[0] != packedV1 {
			t.Fatalf("Value(%.60s…) left it JSON", js)
		}
		if len(v) > len(js)*6/10 {
			t.Errorf("packed %d bytes into %d, want at most 60%%", len(js), len(v))
		}
		back, err := Unpack(v)
		if err != nil || !bytes.Equal(back, js) {
			t.Fatalf("Unpack = %s, %v; want\n%s", back, err, js)
		}
	}
}

func TestPackKeepsWhatItCannotPack(t *testing.T) {
	for _, js := range []string{
		`{"a": 1}`,                               // white space
		`{"a":1`,                                 // truncated
		`{"a":1}x`,                               // trailing bytes
		"{\"a\":\"\xff\xfe\"}",                   // not UTF-8: kept verbatim, not in the CJK form
		`{"t":"2021-06-24T10:00:00+08:00"}`,      // a time, but not in UTC
		`{"t":"2021-06-24T02:00:00.500000000Z"}`, // a time RFC3339Nano would write shorter
		`{"h":"ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef01234567"}`, // upper-case hex
		`{"n":-1.5e3,"m":007}`,
	} {
		v := Value([]byte(js))
		back, err := Unpack(v)
		if err != nil || string(back) != js {
			t.Errorf("%q: stored %q, read back %q, %v", js, v, back, err)
		}
	}
	// JSON stored before packing reads as it is.
	if back, err := Unpack([]byte(`{"id":"1"}`)); err != nil || string(back) != `{"id":"1"}` {
		t.Errorf("Unpack(JSON) = %q, %v", back, err)
	}
}

func TestUnpackDamaged(t *testing.T) {
	record, _ := samplePacked(t)
	v := Value(record)
	for _, bad := range [][]byte{
		v[:len(v)-1],                   // truncated
		append(bytes.Clone(v), 0),      // trailing byte
		{packedV1, tokWord, 255},       // no such word
		{packedV1, tokCJK, 2, 0xFA, 0}, // no such CJK code
		{packedV1, tokHex32, 1, 2},     // short hash
		{packedV1, tokObjStart, tokUint, 1, tokUint, 2, tokObjEnd}, // a number as a member name
		{packedV1, 0xEE}, // no such token
	} {
		if js, err := Unpack(bad); err == nil {
			t.Errorf("Unpack(%x) = %q, want an error", bad, js)
		}
	}
}

// TestPackWordsPinned guards the stored format: packWords may only grow.
func TestPackWordsPinned(t *testing.T) {
	const n = 141
	words := packWords[:]
	if len(words) > 256 {
		t.Fatalf("%d words; an index is one byte", len(words))
	}
	seen := map[string]bool{}
	for _, w := range words {
		if seen[w] {
			t.Errorf("word %q twice", w)
		}
		seen[w] = true
		if b, _ := json.Marshal(w); string(b) != `"`+w+`"` {
			t.Errorf("word %q needs escaping", w)
		}
	}
	h := sha256.Sum256([]byte(strings.Join(words[:min(n, len(words))], "\n")))
	if got := hex.EncodeToString(h[:]); len(words) < n || got != pinnedWordsHash {
		t.Errorf("the first %d packWords changed (hash %s, %d words): stored values would unpack to other JSON; append new words only", n, got, len(words))
	}
	// Every field name of a record or an entry is a word.
	for _, typ := range []reflect.Type{reflect.TypeFor[workflow.Problem](), reflect.TypeFor[workflow.Entry](),
		reflect.TypeFor[workflow.Evidence](), reflect.TypeFor[workflow.Signature](), reflect.TypeFor[workflow.Actor](),
		reflect.TypeFor[workflow.Supervision](), reflect.TypeFor[workflow.Extension](), reflect.TypeFor[workflow.Params]()} {
		for f := range typ.Fields() {
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name != "" && name != "-" && !seen[name] {
				t.Errorf("%s.%s: json name %q is not in packWords", typ.Name(), f.Name, name)
			}
		}
	}
}

// pinnedWordsHash is the SHA-256 of the first 141 packWords joined by
// newlines.
const pinnedWordsHash = "392c2e8442f53b0ff69759619b159e7fd41a3d34d6288fecac132bc3daf01d15"

func FuzzPack(f *testing.F) {
	record, entry := samplePacked(f)
	f.Add(string(record))
	f.Add(string(entry))
	f.Add(`{"a":[1,-2,3.5,true,false,null,{}],"b":"，：😀é\u0000"}`)
	f.Fuzz(func(t *testing.T, s string) {
		var x any
		if json.Unmarshal([]byte(s), &x) != nil {
			return
		}
		js, err := json.Marshal(x)
		if err != nil {
			return
		}
		for _, in := range [][]byte{js, []byte(s)} {
			v := Value(in)
			back, err := Unpack(v)
			if err != nil || !bytes.Equal(back, in) {
				t.Fatalf("%q: stored %x, read back %q, %v", in, v, back, err)
			}
		}
	})
}

func BenchmarkPack(b *testing.B) {
	record, entry := samplePacked(b)
	for _, c := range []struct {
		name string
		js   []byte
	}{{"record", record}, {"entry", entry}} {
		v := Value(c.js)
		b.Run(fmt.Sprintf("pack/%s", c.name), func(b *testing.B) {
			b.SetBytes(int64(len(c.js)))
			for b.Loop() {
				Value(c.js)
			}
		})
		b.Run(fmt.Sprintf("unpack/%s", c.name), func(b *testing.B) {
			b.SetBytes(int64(len(c.js)))
			for b.Loop() {
				if _, err := Unpack(v); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func TestAppendTime(t *testing.T) {
	for _, tm := range []time.Time{
		time.Date(2021, 6, 24, 2, 0, 0, 0, time.UTC),
		time.Date(2026, 11, 28, 12, 24, 17, 752545504, time.UTC),
		time.Date(2026, 11, 28, 12, 24, 17, 500000000, time.UTC),
		time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(12000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(-5, 1, 1, 0, 0, 0, 0, time.UTC),
	} {
		want := tm.Format(time.RFC3339Nano)
		if got := appendTime(nil, tm.Unix(), tm.Nanosecond()); string(got) != want {
			t.Errorf("appendTime(%v) = %s, want %s", tm, got, want)
		}
		sec, nsec, ok := packableTime([]byte(want))
		if inRange := tm.Year() >= 0 && tm.Year() <= 9999; ok != inRange || ok && (sec != tm.Unix() || nsec != tm.Nanosecond()) {
			t.Errorf("packableTime(%s) = %d, %d, %v", want, sec, nsec, ok)
		}
	}
	// Every day from year 0 to 9999, at some time of day.
	for sec := time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC).Unix(); sec < time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC).Unix(); sec += 86400 + 7 {
		tm := time.Unix(sec, 0).UTC()
		if got, want := appendTime(nil, sec, 0), tm.Format(time.RFC3339Nano); string(got) != want {
			t.Fatalf("appendTime(%d) = %s, want %s", sec, got, want)
		}
	}
	for _, s := range []string{"2021-02-30T00:00:00Z", "2021-06-24T02:00:00.50Z", "2021-06-24T02:00:60Z",
		"2021-06-24T02:00:00.Z", "2021-06-24 02:00:00Z", "2021-06-24T02:00:00+00:00", "2021-6-24T02:00:00.5Z", "+021-06-24T02:00:00Z"} {
		if _, _, ok := packableTime([]byte(s)); ok {
			t.Errorf("packableTime(%s) = ok", s)
		}
	}
}
