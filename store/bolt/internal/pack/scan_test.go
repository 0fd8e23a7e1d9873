package pack

import (
	"bytes"
	"encoding/json"
	"slices"
	"testing"
)

// members lists v's members as Scan gives them, name=value.
func members(t *testing.T, v []byte, stopAfter string) []string {
	t.Helper()
	var out []string
	err := Scan(v, func(name, value []byte) bool {
		out = append(out, string(name)+"="+string(value))
		return string(name) != stopAfter
	})
	if err != nil {
		t.Fatalf("Scan(%.40q): %v", v, err)
	}
	return out
}

// Scan gives a record's and an entry's members in order, each value's text
// as the JSON holds it, packed or not, and stops where it is told.
func TestScan(t *testing.T) {
	record, entry := samplePacked(t)
	for _, js := range [][]byte{record, entry} {
		// The members as the JSON holds them, in order.
		var want []string
		d := json.NewDecoder(bytes.NewReader(js))
		d.Token()
		for d.More() {
			name, _ := d.Token()
			var raw json.RawMessage
			if err := d.Decode(&raw); err != nil {
				t.Fatal(err)
			}
			q, _ := json.Marshal(name)
			want = append(want, string(q[1:len(q)-1])+"="+string(raw))
		}
		if len(want) < 3 {
			t.Fatalf("sample has %d members", len(want))
		}
		for _, v := range [][]byte{Value(js), js} {
			got := members(t, v, "")
			if !slices.Equal(got, want) {
				t.Errorf("Scan(packed %v) =\n%q\nwant\n%q", IsPacked(v), got, want)
			}
			second := want[1][:bytes.IndexByte([]byte(want[1]), '=')]
			if got := members(t, v, second); !slices.Equal(got, want[:2]) {
				t.Errorf("Scan stopping at %q gave %q", second, got)
			}
		}
	}
}

func TestScanDamaged(t *testing.T) {
	_, entry := samplePacked(t)
	v := Value(entry)
	for _, bad := range [][]byte{
		v[:len(v)-1],             // truncated
		{packedV1, tokWord, 255}, // not an object
		{packedV1, tokObjStart, tokUint, 1, tokUint, 2, tokObjEnd}, // a number as a member name
		{packedV1, tokObjStart, tokWord, 0, 0xEE, tokObjEnd},       // no such token
		[]byte(`{"a":`), []byte(`[1]`),
	} {
		if err := Scan(bad, func(_, _ []byte) bool { return true }); err == nil {
			t.Errorf("Scan(%x) succeeded", bad)
		}
	}
}
