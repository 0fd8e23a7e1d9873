package bolt

import (
	"bytes"
	"fmt"
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
		h, err := c.header(c.m.freelist)
		if err != nil {
			return err
		}
		for i := range uint64(h.overflow) + 1 {
			seen.add(c.m.freelist + i)
		}
	}
	// Pages still to read: bucket roots and branch children.
	todo := []uint64{c.m.root}
	for len(todo) > 0 {
		id := todo[len(todo)-1]
		todo = todo[:len(todo)-1]
		h, err := c.header(id)
		if err != nil {
			return err
		}
		for i := range uint64(h.overflow) + 1 {
			switch {
			case seen.has(id + i):
				return fmt.Errorf("page %d is reached twice", id+i)
			case free.has(id + i):
				return fmt.Errorf("page %d is in use and free", id+i)
			}
			seen.add(id + i)
		}
		b, err := c.read(id, uint64(h.overflow)+1)
		if err != nil {
			return err
		}
		children, err := c.elements(id, b)
		if err != nil {
			return err
		}
		todo = append(todo, children...)
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
