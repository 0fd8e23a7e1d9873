package bolt

import (
	"bytes"
	"fmt"
	"slices"
)

// walk reads every page of the tree from the meta's root bucket, with plain
// reads, and checks what bbolt would otherwise trust: that each page names
// itself and is a branch or a leaf, that no page is reached twice or is
// also free, that every element, key and value lies inside its page, that
// the keys of a page ascend, and that each child and bucket root is a page
// in use. Then every page in use must be reachable or free. bbolt's own
// check (Tx.Check) follows the same pointers through the mapping: after
// this walk it reads nothing past the file.
func (c *fileChecker) walk(free *pageSet) error {
	seen := newPageSet(c.m.pgid)
	seen.add(0)
	seen.add(1)
	if c.m.freelist != noFreelist {
		h, _, err := c.page(c.m.freelist)
		if err != nil {
			return err
		}
		for i := range uint64(h.overflow) + 1 {
			seen.add(c.m.freelist + i)
		}
	}
	// The tree is read a level at a time, each level's pages (bucket roots
	// and branch children) in file order, so that neighbouring pages are
	// read together.
	level := []uint64{c.m.root}
	for len(level) > 0 {
		slices.Sort(level)
		var next []uint64
		for i, id := range level {
			h, b, err := c.pageAhead(level[i:])
			if err != nil {
				return err
			}
			for j := range uint64(h.overflow) + 1 {
				switch {
				case seen.has(id + j):
					return fmt.Errorf("page %d is reached twice", id+j)
				case free.has(id + j):
					return fmt.Errorf("page %d is in use and free", id+j)
				}
				seen.add(id + j)
			}
			children, err := c.elements(id, b)
			if err != nil {
				return err
			}
			next = append(next, children...)
		}
		level = next
	}
	for id := uint64(2); id < c.m.pgid; id++ {
		if !seen.has(id) && !free.has(id) && c.m.freelist != noFreelist {
			return fmt.Errorf("page %d is neither in use nor free", id)
		}
	}
	return nil
}

// elements checks the elements of page id (its bytes b, a branch or a leaf)
// and returns the pages they point to: a branch's children, the roots of
// the buckets a leaf holds.
func (c *fileChecker) elements(id uint64, b []byte) ([]uint64, error) {
	h := readHeader(b)
	n := int(h.count)
	if pageHeaderSize+n*elementSize > len(b) {
		return nil, fmt.Errorf("page %d: %d elements do not fit in it", id, n)
	}
	var out []uint64
	var prev []byte
	for i := range n {
		at := pageHeaderSize + i*elementSize
		e := b[at : at+elementSize]
		var key, value []byte
		switch h.flags {
		case branchPageFlag:
			pos, ksize, child := int64(ne.Uint32(e)), int64(ne.Uint32(e[4:])), ne.Uint64(e[8:])
			if int64(at)+pos+ksize > int64(len(b)) {
				return nil, fmt.Errorf("page %d: key %d runs past the page", id, i)
			}
			key = b[int64(at)+pos : int64(at)+pos+ksize]
			if child < 2 || child >= c.m.pgid {
				return nil, fmt.Errorf("page %d: child %d is page %d, outside pages 2 to %d", id, i, child, c.m.pgid-1)
			}
			out = append(out, child)
		case leafPageFlag:
			flags, pos, ksize, vsize := ne.Uint32(e), int64(ne.Uint32(e[4:])), int64(ne.Uint32(e[8:])), int64(ne.Uint32(e[12:]))
			if int64(at)+pos+ksize+vsize > int64(len(b)) {
				return nil, fmt.Errorf("page %d: element %d runs past the page", id, i)
			}
			key = b[int64(at)+pos : int64(at)+pos+ksize]
			value = b[int64(at)+pos+ksize : int64(at)+pos+ksize+vsize]
			if flags&bucketLeafFlag != 0 {
				roots, err := c.bucket(id, key, value)
				if err != nil {
					return nil, err
				}
				out = append(out, roots...)
			}
		default:
			return nil, fmt.Errorf("page %d: not a tree page (flags %#x)", id, h.flags)
		}
		if i > 0 && bytes.Compare(prev, key) >= 0 {
			return nil, fmt.Errorf("page %d: key %d is not after the key before it", id, i)
		}
		prev = key
	}
	if h.flags == branchPageFlag && n == 0 {
		return nil, fmt.Errorf("page %d: a branch page without elements", id)
	}
	return out, nil
}

// bucket checks the value of a bucket's key on page id: its root page, or
// the inline page it holds. It returns the pages to read.
func (c *fileChecker) bucket(id uint64, key, value []byte) ([]uint64, error) {
	if len(value) < 16 {
		return nil, fmt.Errorf("page %d: bucket %q: a value of %d bytes", id, key, len(value))
	}
	root := ne.Uint64(value)
	if root != 0 {
		if root < 2 || root >= c.m.pgid {
			return nil, fmt.Errorf("page %d: bucket %q: root page %d outside pages 2 to %d", id, key, root, c.m.pgid-1)
		}
		return []uint64{root}, nil
	}
	inline := value[16:]
	if len(inline) < pageHeaderSize || readHeader(inline).flags != leafPageFlag {
		return nil, fmt.Errorf("page %d: bucket %q: its inline page is not a leaf", id, key)
	}
	out, err := c.elements(id, inline)
	if err != nil {
		return nil, fmt.Errorf("bucket %q inline: %w", key, err)
	}
	return out, nil
}

// Read-ahead of the walk: a page not in the window is read with the pages
// the walk reads next, while they lie close together.
const (
	aheadBytes = 1 << 20 // the most read at once
	aheadGap   = 8       // the most unwanted pages read between two wanted
)

// pageAhead returns page ids[0] as page does, reading it through the
// window, which it first moves to cover ids[0] and the pages of ids after
// it that are close.
func (c *fileChecker) pageAhead(ids []uint64) (pageHeader, []byte, error) {
	id := ids[0]
	if id >= c.m.pgid {
		return pageHeader{}, nil, fmt.Errorf("page %d: past the %d pages in use", id, c.m.pgid)
	}
	if id < c.winStart || id >= c.winStart+c.winPages {
		end := id + 1
		for _, next := range ids[1:] {
			if next < end || next-end > aheadGap || int64(next+1-id)*c.pageSize > aheadBytes || next >= c.m.pgid {
				break
			}
			end = next + 1
		}
		n := int64(end-id) * c.pageSize
		if int64(cap(c.win)) < n {
			c.win = make([]byte, aheadBytes)
		}
		if off := int64(id) * c.pageSize; off+n > c.size {
			return pageHeader{}, nil, fmt.Errorf("page %d: past the end of the file (%d bytes)", id, c.size)
		}
		if _, err := c.r.ReadAt(c.win[:n], int64(id)*c.pageSize); err != nil {
			return pageHeader{}, nil, fmt.Errorf("page %d: %w", id, err)
		}
		c.winStart, c.winPages = id, end-id
	}
	at := int64(id-c.winStart) * c.pageSize
	b := c.win[at : at+c.pageSize]
	h := readHeader(b)
	if h.overflow == 0 || id+uint64(h.overflow) < c.winStart+c.winPages {
		if h.id != id {
			return h, nil, fmt.Errorf("page %d calls itself page %d", id, h.id)
		}
		if uint64(h.overflow) >= c.m.pgid-id {
			return h, nil, fmt.Errorf("page %d: %d overflow pages run past the %d pages in use", id, h.overflow, c.m.pgid)
		}
		return h, c.win[at : at+int64(h.overflow+1)*c.pageSize], nil
	}
	return c.page(id) // an overflow run past the window
}
