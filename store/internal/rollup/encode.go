package rollup

import (
	"encoding/binary"
	"errors"
	"slices"
	"time"

	"github.com/jdz-eco/rectify/workflow"
)

// Encodings both stores keep as they are.
//
// A tally is a list of (field, value) pairs for the non-zero numbers, fields
// ascending: field f < workflow.TallyCounts is Counts[f], field
// workflow.TallyCounts + d is Days[d]; each field an unsigned varint, each
// value a signed varint. An empty tally is empty.
//
// Facts are a format byte (1), then the first assignment (signed varint,
// unix nanoseconds; 0: none), the verdict (one byte) and the close days
// (signed varint).

// ErrCorrupt means stored rollup bytes do not decode.
var ErrCorrupt = errors.New("rollup: bad encoding")

// AppendTally appends the encoding of t to b.
func AppendTally(b []byte, t *workflow.Tally) []byte {
	for f, v := range t.Counts {
		if v != 0 {
			b = binary.AppendUvarint(b, uint64(f))
			b = binary.AppendVarint(b, v)
		}
	}
	days := make([]int64, 0, len(t.Days))
	for d := range t.Days {
		days = append(days, d)
	}
	slices.Sort(days)
	for _, d := range days {
		if d < 0 {
			continue // the domain never counts negative days
		}
		b = binary.AppendUvarint(b, uint64(workflow.TallyCounts)+uint64(d))
		b = binary.AppendVarint(b, t.Days[d])
	}
	return b
}

// EncodeTally returns the encoding of t.
func EncodeTally(t *workflow.Tally) []byte { return AppendTally(nil, t) }

// AddEncoded adds sign × the tally encoded in b to t.
func AddEncoded(t *workflow.Tally, b []byte, sign int64) error {
	for len(b) > 0 {
		f, n := binary.Uvarint(b)
		if n <= 0 {
			return ErrCorrupt
		}
		b = b[n:]
		v, n := binary.Varint(b)
		if n <= 0 {
			return ErrCorrupt
		}
		b = b[n:]
		if f < workflow.TallyCounts {
			t.Counts[f] += sign * v
		} else {
			t.AddDays(int64(f-workflow.TallyCounts), sign*v)
		}
	}
	return nil
}

// DecodeTally decodes a tally.
func DecodeTally(b []byte) (*workflow.Tally, error) {
	t := &workflow.Tally{}
	return t, AddEncoded(t, b, 1)
}

const factsFormat = 1

// EncodeFacts returns the encoding of f.
func EncodeFacts(f workflow.RollupFacts) []byte {
	b := []byte{factsFormat}
	var assigned int64
	if !f.AssignedAt.IsZero() {
		assigned = f.AssignedAt.UnixNano()
	}
	b = binary.AppendVarint(b, assigned)
	b = append(b, byte(f.Verdict))
	return binary.AppendVarint(b, f.CloseDays)
}

// DecodeFacts decodes facts; nil or empty bytes are a new problem's
// (workflow.NoRollupFacts).
func DecodeFacts(b []byte) (workflow.RollupFacts, error) {
	f := workflow.NoRollupFacts
	if len(b) == 0 {
		return f, nil
	}
	if b[0] != factsFormat {
		return f, ErrCorrupt
	}
	assigned, n := binary.Varint(b[1:])
	if n <= 0 || len(b) < 1+n+1 {
		return f, ErrCorrupt
	}
	if assigned != 0 {
		f.AssignedAt = time.Unix(0, assigned).UTC()
	}
	f.Verdict = workflow.Verdict(b[1+n])
	days, m := binary.Varint(b[2+n:])
	if m <= 0 || 2+n+m != len(b) {
		return f, ErrCorrupt
	}
	f.CloseDays = days
	return f, nil
}

// Item is a tally of a group at an instant (a delta) or of a group alone
// (a sum): what a store keeps several of in one value.
type Item struct {
	Key   Key
	At    int64 // unix nanoseconds; 0 in a sum
	Tally *workflow.Tally
}

// AppendItems appends the encoding of items: for each, the scope,
// grouping and value (each an unsigned varint length and the bytes), the
// instant (signed varint) and the tally (unsigned varint length, bytes).
func AppendItems(b []byte, items []Item) []byte {
	for _, it := range items {
		for _, s := range []string{it.Key.Scope, it.Key.Grouping, it.Key.Value} {
			b = binary.AppendUvarint(b, uint64(len(s)))
			b = append(b, s...)
		}
		b = binary.AppendVarint(b, it.At)
		t := EncodeTally(it.Tally)
		b = binary.AppendUvarint(b, uint64(len(t)))
		b = append(b, t...)
	}
	return b
}

// DecodeItems decodes what AppendItems wrote.
func DecodeItems(b []byte) ([]Item, error) {
	var out []Item
	str := func() (string, bool) {
		n, k := binary.Uvarint(b)
		if k <= 0 || uint64(len(b)-k) < n {
			return "", false
		}
		s := string(b[k : k+int(n)])
		b = b[k+int(n):]
		return s, true
	}
	for len(b) > 0 {
		var it Item
		var ok1, ok2, ok3 bool
		it.Key.Scope, ok1 = str()
		it.Key.Grouping, ok2 = str()
		it.Key.Value, ok3 = str()
		if !ok1 || !ok2 || !ok3 {
			return nil, ErrCorrupt
		}
		at, k := binary.Varint(b)
		if k <= 0 {
			return nil, ErrCorrupt
		}
		it.At, b = at, b[k:]
		t, ok := str()
		if !ok {
			return nil, ErrCorrupt
		}
		var err error
		if it.Tally, err = DecodeTally([]byte(t)); err != nil {
			return nil, err
		}
		out = append(out, it)
	}
	return out, nil
}
