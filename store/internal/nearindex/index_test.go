package nearindex

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"
)

// phashLike returns a random hash shaped like a pHash: the most significant
// (DC) bit set and 31 of the other 63 bits.
func phashLike(r *rand.Rand) uint64 {
	h := uint64(1) << 63
	for _, b := range r.Perm(63)[:31] {
		h |= 1 << b
	}
	return h
}

// flip returns h with k distinct random bits flipped.
func flip(r *rand.Rand, h uint64, k int) uint64 {
	for _, b := range r.Perm(64)[:k] {
		h ^= 1 << b
	}
	return h
}

func TestLayoutSpans(t *testing.T) {
	for _, l := range []Layout{Default, {Chunks: 4, Radius: 12}, {Chunks: 13, Radius: 12}, {Chunks: 64, Radius: 32}} {
		next := 0
		for i := range l.Chunks {
			start, width := l.span(i)
			if start != next || width < 1 || width > 16 {
				t.Fatalf("%+v chunk %d: start %d width %d", l, i, start, width)
			}
			next = start + width
		}
		if next != 64 {
			t.Fatalf("%+v covers %d bits", l, next)
		}
		// The chunks put back together are the hash.
		h := uint64(0x8badf00ddeadbeef)
		var back uint64
		for i := range l.Chunks {
			_, width := l.span(i)
			back = back<<width | uint64(l.Chunk(h, i))
		}
		if back != h {
			t.Fatalf("%+v: chunks give %x", l, back)
		}
	}
	if got := (Layout{Chunks: 4, Radius: 12}).ProbeCount(12); got != 4*(1+16+120+560) {
		t.Fatalf("4 chunks: probes %d", got)
	}
	if got := Default.ProbeCount(12); got != 4*(1+13+78)+(1+12+66) {
		t.Fatalf("default probes %d", got)
	}
	if got := (Layout{Chunks: 13, Radius: 12}).ProbeCount(12); got != 13 {
		t.Fatalf("textbook probes %d", got)
	}
	for _, bad := range []Layout{{Chunks: 3, Radius: 12}, {Chunks: 65, Radius: 1}, {Chunks: 4, Radius: -1}, {Chunks: 4, Radius: 33}} {
		if bad.Validate() == nil {
			t.Errorf("%+v accepted", bad)
		}
		if _, err := New(bad); err == nil {
			t.Errorf("New(%+v) accepted", bad)
		}
	}
}

// bruteNear is the reference: every stored hash within r of q.
func bruteNear(hashes []uint64, refs []string, q uint64, r int) []Match {
	var out []Match
	for i, h := range hashes {
		if d := Distance(q, h); d <= r {
			out = append(out, Match{Ref: refs[i], Hash: h, Distance: d})
		}
	}
	slices.SortFunc(out, func(a, b Match) int {
		if a.Distance != b.Distance {
			return a.Distance - b.Distance
		}
		return bytes.Compare([]byte(a.Ref), []byte(b.Ref))
	})
	return out
}

// fixture stores n pHash-like hashes and, for a few of them, copies 1 to 16
// bits away, so that every distance around the radius occurs.
func fixture(n int) (hashes []uint64, refs []string) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range n {
		h := phashLike(r)
		hashes = append(hashes, h)
		refs = append(refs, fmt.Sprintf("p%06d", i))
		if i%50 == 0 {
			for k := 1; k <= 16; k++ {
				hashes = append(hashes, flip(r, h, k))
				refs = append(refs, fmt.Sprintf("p%06d~%d", i, k))
			}
		}
	}
	return hashes, refs
}

func TestIndexAgreesWithBruteForce(t *testing.T) {
	hashes, refs := fixture(20000)
	r := rand.New(rand.NewPCG(3, 4))
	for _, l := range []Layout{Default, {Chunks: 4, Radius: 12}, {Chunks: 13, Radius: 12}, {Chunks: 8, Radius: 7}} {
		x, err := New(l)
		if err != nil {
			t.Fatal(err)
		}
		for i, h := range hashes {
			x.Add(h, refs[i])
		}
		found := 0
		for q := range 300 {
			query := flip(r, hashes[r.IntN(len(hashes))], q%8)
			for _, radius := range []int{0, 4, l.Radius} {
				got, want := x.Near(query, radius), bruteNear(hashes, refs, query, radius)
				if !slices.Equal(got, want) {
					t.Fatalf("%+v radius %d: %v, want %v", l, radius, got, want)
				}
				found += len(got)
			}
		}
		if found < 300 {
			t.Fatalf("%+v: only %d matches: the fixture does not test much", l, found)
		}
	}
}

// TestKeysScannedLikeAStore checks the key layout as a store uses it: all
// keys sorted in one keyspace, each probe a scan of the keys beginning with
// its prefix, candidates verified from the hash in the key.
func TestKeysScannedLikeAStore(t *testing.T) {
	hashes, refs := fixture(5000)
	var keys [][]byte
	for i, h := range hashes {
		keys = append(keys, Default.Keys(h, []byte(refs[i]))...)
	}
	slices.SortFunc(keys, bytes.Compare)
	r := rand.New(rand.NewPCG(5, 6))
	for range 200 {
		q := flip(r, hashes[r.IntN(len(hashes))], r.IntN(10))
		seen := map[string]bool{}
		var got []Match
		Default.Probes(q, 12, func(p []byte) bool {
			for i := sort.Search(len(keys), func(i int) bool { return bytes.Compare(keys[i], p) >= 0 }); i < len(keys) && bytes.HasPrefix(keys[i], p); i++ {
				h, ref, ok := ParseKey(keys[i])
				if ok && Distance(q, h) <= 12 && !seen[string(ref)] {
					seen[string(ref)] = true
					got = append(got, Match{Ref: string(ref), Hash: h, Distance: Distance(q, h)})
				}
			}
			return true
		})
		slices.SortFunc(got, func(a, b Match) int {
			if a.Distance != b.Distance {
				return a.Distance - b.Distance
			}
			return bytes.Compare([]byte(a.Ref), []byte(b.Ref))
		})
		if want := bruteNear(hashes, refs, q, 12); !slices.Equal(got, want) {
			t.Fatalf("scan: %v, want %v", got, want)
		}
	}
	if _, _, ok := ParseKey(make([]byte, KeyLen-1)); ok {
		t.Fatal("a short key parsed")
	}
	// Probes stops when told.
	n := 0
	Default.Probes(1, 12, func([]byte) bool { n++; return n < 5 })
	if n != 5 {
		t.Fatalf("Probes went on to %d", n)
	}
}

// TestPostingListsLikeAStore checks the posting-list layout as a store uses
// it: one list per chunk value, each probe one read, records verified in
// place; removing a ref takes it out of every list.
func TestPostingListsLikeAStore(t *testing.T) {
	hashes, refs := fixture(5000)
	for _, l := range []Layout{Default, {Chunks: 4, Radius: 12}} {
		lists := map[string][]byte{}
		ref := func(i int) []byte { return []byte(fmt.Sprintf("%-12s", refs[i])) }
		for i, h := range hashes {
			for _, k := range l.PostingKeys(h) {
				lists[string(k)] = AppendRecord(lists[string(k)], h, ref(i))
			}
		}
		lookup := func(q uint64) []Match {
			seen := map[string]bool{}
			var got []Match
			l.Probes(q, 12, func(p []byte) bool {
				ScanRecords(lists[string(p)], 12, func(h uint64, r []byte) bool {
					if d := Distance(q, h); d <= 12 && !seen[string(r)] {
						seen[string(r)] = true
						got = append(got, Match{Ref: string(bytes.TrimSpace(r)), Hash: h, Distance: d})
					}
					return true
				})
				return true
			})
			slices.SortFunc(got, func(a, b Match) int {
				if a.Distance != b.Distance {
					return a.Distance - b.Distance
				}
				return bytes.Compare([]byte(a.Ref), []byte(b.Ref))
			})
			return got
		}
		r := rand.New(rand.NewPCG(7, 8))
		for range 200 {
			q := flip(r, hashes[r.IntN(len(hashes))], r.IntN(10))
			if got, want := lookup(q), bruteNear(hashes, refs, q, 12); !slices.Equal(got, want) {
				t.Fatalf("%+v: %v, want %v", l, got, want)
			}
		}
		// Forget the first hash: it is found no more, its copies still are.
		for _, k := range l.PostingKeys(hashes[0]) {
			lists[string(k)] = RemoveRecord(lists[string(k)], ref(0), 12)
		}
		got := lookup(hashes[0])
		if len(got) == 0 || got[0].Ref == refs[0] || slices.ContainsFunc(got, func(m Match) bool { return m.Ref == refs[0] }) {
			t.Fatalf("%+v after removal: %v", l, got)
		}
	}
}
