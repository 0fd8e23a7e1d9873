package nearindex

import (
	"cmp"
	"slices"
)

// Index is the multi-index search in memory: per chunk, a table of every
// chunk value's entries. Used by tests and benchmarks, and wherever the
// hashes fit in memory. Not safe for concurrent use.
type Index struct {
	l      Layout
	tables [][][]entry // chunk → chunk value → entries
	refs   []string
}

type entry struct {
	h  uint64
	id uint32
}

// Match is a stored hash near a query.
type Match struct {
	Ref      string
	Hash     uint64
	Distance int
}

// New returns an empty index with layout l.
func New(l Layout) (*Index, error) {
	if err := l.Validate(); err != nil {
		return nil, err
	}
	x := &Index{l: l, tables: make([][][]entry, l.Chunks)}
	for i := range x.tables {
		_, width := l.span(i)
		x.tables[i] = make([][]entry, 1<<width)
	}
	return x, nil
}

// Len returns how many hashes are stored.
func (x *Index) Len() int { return len(x.refs) }

// Add stores h for ref. A ref added twice is stored twice.
func (x *Index) Add(h uint64, ref string) {
	id := uint32(len(x.refs))
	x.refs = append(x.refs, ref)
	for i := range x.tables {
		c := x.l.Chunk(h, i)
		x.tables[i][c] = append(x.tables[i][c], entry{h, id})
	}
}

// Near returns the stored hashes within r of q (r clamped to the layout's
// radius), nearest first, then by ref, each stored item once.
func (x *Index) Near(q uint64, r int) []Match {
	out, _ := x.near(q, r)
	return out
}

// near is Near that also counts the candidates verified.
func (x *Index) near(q uint64, r int) ([]Match, int) {
	r = min(max(r, 0), x.l.Radius)
	var out []Match
	seen := map[uint32]bool{}
	candidates := 0
	x.l.Probes(q, r, func(p []byte) bool {
		for _, e := range x.tables[p[0]][uint16(p[1])<<8|uint16(p[2])] {
			candidates++
			if d := Distance(q, e.h); d <= r && !seen[e.id] {
				seen[e.id] = true
				out = append(out, Match{Ref: x.refs[e.id], Hash: e.h, Distance: d})
			}
		}
		return true
	})
	slices.SortFunc(out, func(a, b Match) int {
		return cmp.Or(cmp.Compare(a.Distance, b.Distance), cmp.Compare(a.Ref, b.Ref))
	})
	return out, candidates
}
