// Package nearindex finds the 64-bit perceptual hashes within a Hamming
// radius of a query without scanning them all: multi-index hashing. A hash
// is cut into m chunks; two hashes within r bits of each other differ in at
// most ⌊r/m⌋ bits of at least one chunk (pigeonhole), so a lookup probes,
// for each chunk, the chunk values within ⌊r/m⌋ bits of the query's, and
// verifies each hash found there by its full distance. With m = r+1 chunks a
// probe is one exact chunk value; fewer, wider chunks probe more values but
// find far fewer candidates in each (see Layout).
//
// The package defines the keys a store persists and the prefixes it scans
// (Layout.Keys, Layout.Probes, ParseKey), and Index, the same search in
// memory. It imports no image code: stores import it alone.
package nearindex

import (
	"encoding/binary"
	"fmt"
	"math/bits"
)

// Layout is how hashes are cut for a search radius: Chunks chunks of
// 64/Chunks bits (the first 64 mod Chunks one bit wider), most significant
// first, each at most 16 bits wide.
//
// Default is 5 chunks (13, 13, 13, 13 and 12 bits) for radius 12: a lookup
// probes the values within 2 bits of each chunk, 447 in all, and with N
// uniform hashes stored finds about 447·N/7,000 candidates (73,000 measured
// at N = 10⁶ with pHash-shaped hashes, whose first bit is always set).
// Measured at 10⁶ hashes (BenchmarkNear1M here, BenchmarkNearPhotoBolt1M in
// store/bolt): 1.5 ms in memory and 2.2 ms from bbolt posting lists; 4
// chunks of 16 bits (2,788 probes, 50,000 candidates) took 3.5 ms in memory
// and 7-14 ms from bbolt, a cursor seek or a read per probe costing more
// than the candidates saved; the textbook 13 chunks (13 exact probes,
// 472,000 candidates) took 1.3 ms in memory but would scan 472,000 keys a
// lookup in a store.
type Layout struct {
	Chunks int
	Radius int
}

// Default is the layout for photocheck.NearThreshold (12).
var Default = Layout{Chunks: 5, Radius: 12}

// Validate checks that l can be used: 4 to 64 chunks (at most 16 bits
// each), a radius from 0 to 32.
func (l Layout) Validate() error {
	if l.Chunks < 4 || l.Chunks > 64 || l.Radius < 0 || l.Radius > 32 {
		return fmt.Errorf("nearindex: layout %d chunks, radius %d: want 4 to 64 chunks and a radius of 0 to 32", l.Chunks, l.Radius)
	}
	return nil
}

// span returns the first bit (from the most significant, 0) and the width
// of chunk i.
func (l Layout) span(i int) (start, width int) {
	base, extra := 64/l.Chunks, 64%l.Chunks
	start = i*base + min(i, extra)
	width = base
	if i < extra {
		width++
	}
	return start, width
}

// Chunk returns the value of chunk i of h.
func (l Layout) Chunk(h uint64, i int) uint16 {
	start, width := l.span(i)
	return uint16(h << start >> (64 - width))
}

// KeyLen is the length of a key before its ref: chunk number (1 byte),
// chunk value (2 bytes, big-endian), the whole hash (8 bytes, big-endian).
const KeyLen = 11

// PrefixLen is the length of a probe prefix: chunk number and value.
const PrefixLen = 3

// Key returns the key of h under chunk i for the stored item ref: the
// probe prefix of that chunk, the hash, then ref. Keys sort by chunk, then
// chunk value, so one probe is one contiguous range; the hash in the key
// lets a store verify a candidate without reading its value.
func (l Layout) Key(h uint64, i int, ref []byte) []byte {
	b := make([]byte, 0, KeyLen+len(ref))
	b = append(b, byte(i))
	b = binary.BigEndian.AppendUint16(b, l.Chunk(h, i))
	b = binary.BigEndian.AppendUint64(b, h)
	return append(b, ref...)
}

// Keys returns the keys of h for ref, one per chunk: what a store writes
// when it stores the hash, and deletes when it forgets it.
func (l Layout) Keys(h uint64, ref []byte) [][]byte {
	out := make([][]byte, l.Chunks)
	for i := range out {
		out[i] = l.Key(h, i, ref)
	}
	return out
}

// ParseKey returns the hash and the ref of a key written by Key.
func ParseKey(key []byte) (h uint64, ref []byte, ok bool) {
	if len(key) < KeyLen {
		return 0, nil, false
	}
	return binary.BigEndian.Uint64(key[3:]), key[KeyLen:], true
}

// Probes calls fn with every prefix to scan to find the hashes within r of
// q (r at most l.Radius; more is clamped), until fn returns false. A store
// scans the keys beginning with each prefix, keeps those whose hash
// (ParseKey) is within r of q, and drops repeated refs: an item near on
// several chunks is found under each.
func (l Layout) Probes(q uint64, r int, fn func(prefix []byte) bool) {
	r = min(max(r, 0), l.Radius)
	sub := r / l.Chunks
	prefix := make([]byte, PrefixLen)
	for i := range l.Chunks {
		_, width := l.span(i)
		c := l.Chunk(q, i)
		prefix[0] = byte(i)
		ok := flips(width, sub, func(mask uint16) bool {
			binary.BigEndian.PutUint16(prefix[1:], c^mask)
			return fn(prefix)
		})
		if !ok {
			return
		}
	}
}

// ProbeCount returns how many prefixes Probes gives for radius r.
func (l Layout) ProbeCount(r int) int {
	r = min(max(r, 0), l.Radius)
	n := 0
	for i := range l.Chunks {
		_, width := l.span(i)
		flips(width, r/l.Chunks, func(uint16) bool { n++; return true })
	}
	return n
}

// flips calls fn with every mask of width bits with at most k bits set,
// the empty mask first, until fn returns false.
func flips(width, k int, fn func(mask uint16) bool) bool {
	var rec func(from int, mask uint16, left int) bool
	rec = func(from int, mask uint16, left int) bool {
		if !fn(mask) {
			return false
		}
		if left == 0 {
			return true
		}
		for b := from; b < width; b++ {
			if !rec(b+1, mask|1<<b, left-1) {
				return false
			}
		}
		return true
	}
	return rec(0, 0, k)
}

// Distance returns the Hamming distance of a and b.
func Distance(a, b uint64) int { return bits.OnesCount64(a ^ b) }
