package bolt

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/bits"
	"slices"

	bbolt "go.etcd.io/bbolt"

	"github.com/jdz-eco/rectify/store/internal/index"
)

// Postings: the filter indexes (index.Filters: state, lead unit, county,
// unit, alert tag, source, work point) as bitmaps of problem numbers, so
// that any combination of filters is an intersection whose cost follows
// the chunks of the ledger, not its problems (docs/design.md#indexes).
//
//	idx_postings   index name ‖ 0x00 ‖ value ‖ 0x00 ‖ chunk (4 bytes) → the chunk's members
//
// A chunk holds problem numbers chunk×4096 to chunk×4096+4095: either up to
// sparseMax of them as 2-byte offsets, ascending, or (a 512-byte value) a
// bitmap with bit i of byte i/8 for offset i. An empty chunk has no key.
// A transaction's changes of one chunk are gathered and written once, when
// its commands are done (txState.flush).

var bucketPostings = []byte("idx_postings")

const (
	chunkShift = 12
	chunkSize  = 1 << chunkShift
	denseBytes = chunkSize / 8
	sparseMax  = 64
)

// bitmap is one chunk's members.
type bitmap [chunkSize / 64]uint64

func (b *bitmap) set(off uint32, on bool) {
	if on {
		b[off/64] |= 1 << (off % 64)
	} else {
		b[off/64] &^= 1 << (off % 64)
	}
}

func (b *bitmap) count() int {
	n := 0
	for _, w := range b {
		n += bits.OnesCount64(w)
	}
	return n
}

// decodeChunk reads a stored chunk into b.
func decodeChunk(v []byte, b *bitmap) error {
	*b = bitmap{}
	if len(v) == denseBytes {
		for i := range b {
			b[i] = binary.LittleEndian.Uint64(v[8*i:])
		}
		return nil
	}
	if len(v)%2 != 0 || len(v)/2 > sparseMax {
		return fmt.Errorf("bolt: bad posting chunk of %d bytes", len(v))
	}
	for i := 0; i < len(v); i += 2 {
		b.set(uint32(binary.BigEndian.Uint16(v[i:])), true)
	}
	return nil
}

// encodeChunk returns b's stored form, nil when it is empty.
func encodeChunk(b *bitmap) []byte {
	n := b.count()
	if n == 0 {
		return nil
	}
	if n > sparseMax {
		v := make([]byte, denseBytes)
		for i, w := range b {
			binary.LittleEndian.PutUint64(v[8*i:], w)
		}
		return v
	}
	v := make([]byte, 0, 2*n)
	for i, w := range b {
		for w != 0 {
			j := bits.TrailingZeros64(w)
			v = binary.BigEndian.AppendUint16(v, uint16(i*64+j))
			w &^= 1 << j
		}
	}
	return v
}

// isPosting reports whether index name is kept as postings.
func isPosting(name index.Name) bool { return slices.Contains(index.Filters, name) }

// postingPrefix is the key prefix of a term's chunks.
func postingPrefix(t index.Term) []byte {
	b := make([]byte, 0, len(t.Index)+len(t.Value)+2+4)
	b = append(b, t.Index...)
	b = append(b, 0)
	b = append(b, t.Value...)
	return append(b, 0)
}

func chunkKey(prefix []byte, chunk uint32) []byte {
	return binary.BigEndian.AppendUint32(bytes.Clone(prefix), chunk)
}

// postingEdit is one problem's membership change in a chunk.
type postingEdit struct {
	off uint32
	on  bool
}

// editPosting notes that problem number n enters (on) or leaves a term's
// postings; flushPostings writes the transaction's edits.
func (st *txState) editPosting(t index.Term, n uint64, on bool) {
	if st.post == nil {
		st.post = map[string][]postingEdit{}
	}
	k := string(chunkKey(postingPrefix(t), uint32(n>>chunkShift)))
	st.post[k] = append(st.post[k], postingEdit{uint32(n & (chunkSize - 1)), on})
}

// flushPostings writes the chunks the transaction's commands changed, each
// once, in key order.
func (st *txState) flushPostings(tx *bbolt.Tx) error {
	if len(st.post) == 0 {
		return nil
	}
	keys := make([]string, 0, len(st.post))
	for k := range st.post {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b := tx.Bucket(bucketPostings)
	var bm bitmap
	for _, k := range keys {
		if err := decodeChunk(b.Get([]byte(k)), &bm); err != nil {
			return err
		}
		for _, e := range st.post[k] {
			bm.set(e.off, e.on)
		}
		var err error
		if v := encodeChunk(&bm); v == nil {
			err = b.Delete([]byte(k))
		} else {
			err = b.Put([]byte(k), v)
		}
		if err != nil {
			return fmt.Errorf("bolt: write postings: %w", err)
		}
	}
	st.post = nil
	return nil
}

// postingCursor walks one term's chunks in order.
type postingCursor struct {
	c      *bbolt.Cursor
	prefix []byte
	chunk  uint32
	v      []byte
	ok     bool
}

func newPostingCursor(tx *bbolt.Tx, t index.Term) *postingCursor {
	return &postingCursor{c: tx.Bucket(bucketPostings).Cursor(), prefix: postingPrefix(t)}
}

// seek moves to the first chunk at or after chunk.
func (pc *postingCursor) seek(chunk uint32) {
	k, v := pc.c.Seek(chunkKey(pc.prefix, chunk))
	pc.at(k, v)
}

func (pc *postingCursor) at(k, v []byte) {
	pc.ok = k != nil && len(k) == len(pc.prefix)+4 && bytes.HasPrefix(k, pc.prefix)
	if pc.ok {
		pc.chunk, pc.v = binary.BigEndian.Uint32(k[len(pc.prefix):]), v
	}
}

// intersect calls fn with every problem number after after that is in all
// the terms' postings, ascending, until fn returns stop. It leaps from
// chunk to chunk: a chunk missing from one term is skipped for all.
func intersect(tx *bbolt.Tx, terms []index.Term, after uint64, fn func(n uint64) (stop bool, err error)) error {
	curs := make([]*postingCursor, len(terms))
	for i, t := range terms {
		curs[i] = newPostingCursor(tx, t)
	}
	start := after + 1
	if start == 0 || start>>chunkShift > uint64(^uint32(0)) {
		return nil
	}
	chunk := uint32(start >> chunkShift)
	var acc, bm bitmap
	for {
		top := chunk
		for _, pc := range curs {
			if !pc.ok || pc.chunk < chunk {
				pc.seek(chunk)
			}
			if !pc.ok {
				return nil
			}
			top = max(top, pc.chunk)
		}
		if top != chunk {
			chunk = top
			continue
		}
		for i, pc := range curs {
			if err := decodeChunk(pc.v, &bm); err != nil {
				return err
			}
			if i == 0 {
				acc = bm
				continue
			}
			for j := range acc {
				acc[j] &= bm[j]
			}
		}
		base := uint64(chunk) << chunkShift
		for j, w := range acc {
			for w != 0 {
				b := bits.TrailingZeros64(w)
				w &^= 1 << b
				n := base + uint64(j*64+b)
				if n < start {
					continue
				}
				if stop, err := fn(n); err != nil || stop {
					return err
				}
			}
		}
		if chunk == ^uint32(0) {
			return nil
		}
		chunk++
	}
}
