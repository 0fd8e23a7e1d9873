package bolt

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

	bbolt "go.etcd.io/bbolt"

	"github.com/jdz-eco/rectify/store/storetest"
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
		v := PackValue(js)
		if v[0] != packedV1 {
			t.Fatalf("PackValue(%.60s…) left it JSON", js)
		}
		if len(v) > len(js)*6/10 {
			t.Errorf("packed %d bytes into %d, want at most 60%%", len(js), len(v))
		}
		back, err := UnpackValue(v)
		if err != nil || !bytes.Equal(back, js) {
			t.Fatalf("UnpackValue = %s, %v; want\n%s", back, err, js)
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
		v := PackValue([]byte(js))
		back, err := UnpackValue(v)
		if err != nil || string(back) != js {
			t.Errorf("%q: stored %q, read back %q, %v", js, v, back, err)
		}
	}
	// JSON stored before packing reads as it is.
	if back, err := UnpackValue([]byte(`{"id":"1"}`)); err != nil || string(back) != `{"id":"1"}` {
		t.Errorf("UnpackValue(JSON) = %q, %v", back, err)
	}
}

func TestUnpackDamaged(t *testing.T) {
	record, _ := samplePacked(t)
	v := PackValue(record)
	for _, bad := range [][]byte{
		v[:len(v)-1],                   // truncated
		append(bytes.Clone(v), 0),      // trailing byte
		{packedV1, tokWord, 255},       // no such word
		{packedV1, tokCJK, 2, 0xFA, 0}, // no such CJK code
		{packedV1, tokHex32, 1, 2},     // short hash
		{packedV1, tokObjStart, tokUint, 1, tokUint, 2, tokObjEnd}, // a number as a member name
		{packedV1, 0xEE}, // no such token
	} {
		if js, err := UnpackValue(bad); err == nil {
			t.Errorf("UnpackValue(%x) = %q, want an error", bad, js)
		}
	}
}

// TestSealPacked checks that the entry the store seals in a write
// transaction, packed by appending tokens, unpacks to exactly the JSON its
// hash is over.
func TestSealPacked(t *testing.T) {
	_, entry := samplePacked(t)
	var e workflow.Entry
	if err := json.Unmarshal(entry, &e); err != nil {
		t.Fatal(err)
	}
	enc, err := encodeEntries([]workflow.Entry{e}, 20, 5)
	if err != nil {
		t.Fatal(err)
	}
	if enc[0].packedMid == nil {
		t.Fatal("entry not packed")
	}
	prev := hex.EncodeToString(make([]byte, 32))
	for _, seq := range []uint64{1, 127, 128, 1 << 40} {
		js, h := enc[0].seal(seq, prev)
		v := enc[0].sealPacked(seq, prev, h, js)
		back, err := UnpackValue(v)
		if err != nil || !bytes.Equal(back, js) {
			t.Fatalf("seq %d: unpacked\n%s\nwant\n%s (%v)", seq, back, js, err)
		}
		if !bytes.Equal(v, PackValue(js)) {
			t.Errorf("seq %d: sealPacked differs from PackValue of the sealed JSON", seq)
		}
		var got workflow.Entry
		if err := json.Unmarshal(back, &got); err != nil {
			t.Fatal(err)
		}
		if want, err := workflow.EntryHash(got); err != nil || want != h {
			t.Errorf("seq %d: hash %s, entry hashes to %s (%v)", seq, h, want, err)
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
			v := PackValue(in)
			back, err := UnpackValue(v)
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
		v := PackValue(c.js)
		b.Run(fmt.Sprintf("pack/%s", c.name), func(b *testing.B) {
			b.SetBytes(int64(len(c.js)))
			for b.Loop() {
				PackValue(c.js)
			}
		})
		b.Run(fmt.Sprintf("unpack/%s", c.name), func(b *testing.B) {
			b.SetBytes(int64(len(c.js)))
			for b.Loop() {
				if _, err := UnpackValue(v); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// unpackAll rewrites every record and history entry of the database at
// path as JSON and sets its schema version to 4, as version 4 left it.
func unpackAll(t *testing.T, path string) {
	t.Helper()
	updateFile(t, path, func(tx *bbolt.Tx) error {
		for _, name := range [][]byte{bucketProblems, bucketHistory} {
			err := rewriteBucket(tx, name, func(k, v []byte) ([]byte, error) {
				if v[0] != packedV1 {
					return nil, fmt.Errorf("%s %x is not packed", name, k)
				}
				return UnpackValue(v)
			})
			if err != nil {
				return err
			}
		}
		return tx.Bucket(bucketMeta).Put(keySchema, u64(4))
	})
}

// TestUpgradeFromVersion4 opens a file whose records and entries are JSON:
// it reads the same, its chain verifies, and what is written afterwards is
// packed.
func TestUpgradeFromVersion4(t *testing.T) {
	ctx := t.Context()
	s, path := open(t, Options{})
	_, _, pids := storetest.BuildLedger(t, s)
	before := take(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	unpackAll(t, path)
	updateFile(t, path, func(tx *bbolt.Tx) error {
		for _, name := range [][]byte{bucketProblems, bucketHistory} {
			if _, v := tx.Bucket(name).Cursor().First(); v[0] != '{' {
				t.Fatalf("%s holds %.20q after unpackAll, want JSON", name, v)
			}
		}
		return nil
	})

	s, err := Open(path, Options{})
	if err != nil {
		t.Fatalf("Open of a version 4 file = %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	if schema, _ := metaOf(t, s); schema != schemaVersion {
		t.Errorf("schema version %d after the upgrade, want %d", schema, schemaVersion)
	}
	if after := take(t, s); !reflect.DeepEqual(after, before) {
		t.Error("the ledger reads differently from JSON values")
	}
	checkIndexes(t, s)
	checkChain(t, s)
	mustAudit(t, s)

	id := pids[0]
	if _, err := s.UpdateProblem(ctx, id, func(p *workflow.Problem) ([]workflow.Entry, error) {
		p.UpdatedAt = p.UpdatedAt.Add(time.Minute)
		return []workflow.Entry{{At: p.UpdatedAt, Actor: storetest.OfficerOf(storetest.Leping), Action: workflow.ActionNote, From: p.State, To: p.State,
			Params: workflow.Params{Note: "升级后的第一条记录"}}}, nil
	}); err != nil {
		t.Fatal(err)
	}
	n, _ := workflow.ParseProblemID(id)
	err = s.db.View(func(tx *bbolt.Tx) error {
		if v := tx.Bucket(bucketProblems).Get(u64(n)); v[0] != packedV1 {
			return fmt.Errorf("record rewritten after the upgrade is not packed: %.40q", v)
		}
		if _, v := tx.Bucket(bucketHistory).Cursor().Last(); v[0] != packedV1 {
			return fmt.Errorf("entry written after the upgrade is not packed: %.40q", v)
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
	checkChain(t, s)
	mustAudit(t, s)
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
