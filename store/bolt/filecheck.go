package bolt

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"os"
	"time"
)

// Checking a file before bbolt maps it.
//
// bbolt trusts the file it maps: a page number past the end of a truncated
// file is read through the mapping and the process dies of a memory fault
// (SIGBUS, "fatal error: fault"), and a page that is not what its parent
// says makes bbolt panic ("invalid freelist page", "assertion failed"),
// often only when a request first reads it. So Open reads the file itself,
// with plain reads (nothing mapped), before bbolt opens it: the meta pages,
// the file's size against the pages the meta claims, the freelist and the
// root page, and, unless Options.QuickCheck, every page of the tree
// (pagewalk.go). Only a file that passes is handed to bbolt; then bbolt's
// own consistency check (Tx.Check) and the tail of the hash chain are
// checked (check.go). A file that fails is refused with a *DamagedError and
// left as it was. See docs/design.md#damaged-files-failing-writes-and-readiness.

// DamagedError refuses a database file that is not sound.
type DamagedError struct {
	Path   string
	Reason string
}

func (e *DamagedError) Error() string {
	return fmt.Sprintf("bolt: %s is damaged: %s", e.Path, e.Reason)
}

// ErrEmptyFile refuses an existing file of 0 bytes, unless Options.Init
// asks for a new database in it.
var ErrEmptyFile = errors.New("the file is empty (0 bytes): it holds no database")

// Layout of a bbolt file (bbolt's internal package common), in the byte
// order of the machine that wrote it.
const (
	pageHeaderSize   = 16 // id uint64, flags uint16, count uint16, overflow uint32
	elementSize      = 16 // branch: pos, ksize uint32, pgid uint64; leaf: flags, pos, ksize, vsize uint32
	branchPageFlag   = 0x01
	leafPageFlag     = 0x02
	metaPageFlag     = 0x04
	freelistPageFlag = 0x10
	bucketLeafFlag   = 0x01
	boltMagic        = 0xED0CDAED
	boltVersion      = 2
	noFreelist       = ^uint64(0) // the meta's freelist when it is not stored
	minPageSize      = 1024
	maxPageSize      = 1 << 24 // bbolt looks for the second meta page up to 16 MiB
	// metaChecksumEnd is where the meta's checksum starts: it covers the
	// page's meta fields before it.
	metaChecksumEnd = pageHeaderSize + 56
)

var ne = binary.NativeEndian

// pageHeader is the start of every page.
type pageHeader struct {
	id       uint64
	flags    uint16
	count    uint16
	overflow uint32
}

func readHeader(b []byte) pageHeader {
	return pageHeader{id: ne.Uint64(b), flags: ne.Uint16(b[8:]), count: ne.Uint16(b[10:]), overflow: ne.Uint32(b[12:])}
}

// meta is a meta page's content.
type meta struct {
	magic, version, pageSize uint32
	root, freelist, pgid     uint64 // pgid: the pages in use (the high water mark)
	txid                     uint64
}

// readMeta decodes the meta page at the start of b and checks it as bbolt
// does (magic, version, checksum), and that its page numbers are sane.
func readMeta(b []byte) (meta, error) {
	if len(b) < metaChecksumEnd+8 {
		return meta{}, errors.New("too short")
	}
	m := meta{
		magic: ne.Uint32(b[16:]), version: ne.Uint32(b[20:]), pageSize: ne.Uint32(b[24:]),
		root: ne.Uint64(b[32:]), freelist: ne.Uint64(b[48:]), pgid: ne.Uint64(b[56:]), txid: ne.Uint64(b[64:]),
	}
	h := fnv.New64a()
	h.Write(b[pageHeaderSize:metaChecksumEnd])
	switch {
	case m.magic != boltMagic:
		return m, errors.New("not a bbolt meta page")
	case m.version != boltVersion:
		return m, fmt.Errorf("bbolt file version %d, not %d", m.version, boltVersion)
	case ne.Uint64(b[metaChecksumEnd:]) != h.Sum64():
		return m, errors.New("checksum mismatch")
	case m.pageSize < minPageSize || m.pageSize > maxPageSize || m.pageSize&(m.pageSize-1) != 0:
		return m, fmt.Errorf("page size %d", m.pageSize)
	case m.pgid < 4:
		return m, fmt.Errorf("%d pages in use; a database has at least 4", m.pgid)
	case m.root < 2 || m.root >= m.pgid:
		return m, fmt.Errorf("root page %d outside pages 2 to %d", m.root, m.pgid-1)
	case m.freelist != noFreelist && (m.freelist < 2 || m.freelist >= m.pgid):
		return m, fmt.Errorf("freelist page %d outside pages 2 to %d", m.freelist, m.pgid-1)
	}
	return m, nil
}

// fileChecker reads a database file with plain reads, never past its end.
type fileChecker struct {
	r        io.ReaderAt
	size     int64
	pageSize int64
	m        meta
	buf      []byte // the last page read
	// win holds pages winStart to winStart+winPages-1 (pageAhead).
	win                []byte
	winStart, winPages uint64
}

// checkFile checks the database file r of size bytes: the meta pages, its
// size, its freelist and its root page; with full, every page of the tree.
// A nil error means bbolt can map it and read every page the meta reaches
// without running off the file.
func checkFile(r io.ReaderAt, size int64, full bool) error {
	c := &fileChecker{r: r, size: size}
	if err := c.readMetas(); err != nil {
		return err
	}
	if need := int64(c.m.pgid) * c.pageSize; need > size {
		return fmt.Errorf("truncated: its meta page counts %d pages of %d bytes (%d bytes), the file has %d bytes", c.m.pgid, c.pageSize, need, size)
	}
	free, err := c.readFreelist()
	if err != nil {
		return err
	}
	root, _, err := c.page(c.m.root)
	if err != nil {
		return err
	}
	if root.flags != leafPageFlag && root.flags != branchPageFlag {
		return fmt.Errorf("root page %d: not a tree page (flags %#x)", c.m.root, root.flags)
	}
	if !full {
		return nil
	}
	return c.walk(free)
}

// readMetas picks the meta page bbolt will use: of the two, the valid one
// with the higher transaction id. One invalid meta page is what a crash
// during a commit leaves; two are damage.
func (c *fileChecker) readMetas() error {
	if c.size < 2*minPageSize {
		return fmt.Errorf("too short for a database: %d bytes", c.size)
	}
	buf := make([]byte, 4096)
	n, _ := c.r.ReadAt(buf, 0)
	m0, err0 := readMeta(buf[:n])
	if err0 == nil {
		c.pageSize = int64(m0.pageSize)
	} else {
		// Find the page size from the second meta page, as bbolt does.
		for ps := int64(minPageSize); ps <= maxPageSize && ps < c.size-minPageSize; ps <<= 1 {
			n, _ := c.r.ReadAt(buf, ps)
			if m, err := readMeta(buf[:n]); err == nil && int64(m.pageSize) == ps {
				c.pageSize = ps
				break
			}
		}
		if c.pageSize == 0 {
			return fmt.Errorf("neither meta page is valid (first: %v): not a bbolt file, or its start was overwritten", err0)
		}
	}
	n, _ = c.r.ReadAt(buf, c.pageSize)
	m1, err1 := readMeta(buf[:n])
	switch {
	case err0 != nil && err1 != nil:
		return fmt.Errorf("neither meta page is valid (first: %v; second: %v)", err0, err1)
	case err1 == nil && int64(m1.pageSize) != c.pageSize:
		return fmt.Errorf("the meta pages disagree on the page size (%d, %d)", c.pageSize, m1.pageSize)
	case err1 != nil || (err0 == nil && m0.txid > m1.txid):
		c.m = m0
	default:
		c.m = m1
	}
	return nil
}

// page reads page id with its overflow pages and checks that it names
// itself and that its overflow stays within the pages in use. The bytes
// are valid until the next call.
func (c *fileChecker) page(id uint64) (pageHeader, []byte, error) {
	if id >= c.m.pgid {
		return pageHeader{}, nil, fmt.Errorf("page %d: past the %d pages in use", id, c.m.pgid)
	}
	b, err := c.readAt(int64(id)*c.pageSize, c.pageSize)
	if err != nil {
		return pageHeader{}, nil, fmt.Errorf("page %d: %w", id, err)
	}
	h := readHeader(b)
	switch {
	case h.id != id:
		return h, nil, fmt.Errorf("page %d calls itself page %d", id, h.id)
	case uint64(h.overflow) >= c.m.pgid-id:
		return h, nil, fmt.Errorf("page %d: %d overflow pages run past the %d pages in use", id, h.overflow, c.m.pgid)
	case h.overflow > 0:
		if b, err = c.readAt(int64(id)*c.pageSize, int64(h.overflow+1)*c.pageSize); err != nil {
			return h, nil, fmt.Errorf("page %d: %w", id, err)
		}
	}
	return h, b, nil
}

// readAt reads n bytes at off into the checker's buffer.
func (c *fileChecker) readAt(off, n int64) ([]byte, error) {
	if off+n > c.size {
		return nil, fmt.Errorf("%d bytes at %d: past the end of the file (%d bytes)", n, off, c.size)
	}
	if int64(cap(c.buf)) < n {
		c.buf = make([]byte, n)
	}
	b := c.buf[:n]
	if _, err := c.r.ReadAt(b, off); err != nil {
		return nil, err
	}
	return b, nil
}

// readFreelist reads the free page numbers the meta's freelist page holds.
func (c *fileChecker) readFreelist() (*pageSet, error) {
	free := newPageSet(c.m.pgid)
	if c.m.freelist == noFreelist {
		return free, nil
	}
	h, b, err := c.page(c.m.freelist)
	if err != nil {
		return nil, fmt.Errorf("freelist: %w", err)
	}
	if h.flags != freelistPageFlag {
		return nil, fmt.Errorf("freelist page %d: not a freelist page (flags %#x)", c.m.freelist, h.flags)
	}
	ids := b[pageHeaderSize:]
	count := uint64(h.count)
	if count == 0xFFFF { // the count is the first element
		count, ids = ne.Uint64(ids), ids[8:]
	}
	if count > uint64(len(ids))/8 {
		return nil, fmt.Errorf("freelist page %d: %d free pages do not fit in it", c.m.freelist, count)
	}
	for i := range count {
		id := ne.Uint64(ids[8*i:])
		switch {
		case id < 2 || id >= c.m.pgid:
			return nil, fmt.Errorf("freelist page %d: free page %d outside pages 2 to %d", c.m.freelist, id, c.m.pgid-1)
		case free.has(id):
			return nil, fmt.Errorf("freelist page %d: page %d is free twice", c.m.freelist, id)
		case id >= c.m.freelist && id <= c.m.freelist+uint64(h.overflow):
			return nil, fmt.Errorf("freelist page %d: lists itself as free", c.m.freelist)
		}
		free.add(id)
	}
	return free, nil
}

// pageSet is a set of page numbers below a bound.
type pageSet struct{ bits []uint64 }

func newPageSet(n uint64) *pageSet    { return &pageSet{bits: make([]uint64, (n+63)/64)} }
func (s *pageSet) has(id uint64) bool { return s.bits[id/64]&(1<<(id%64)) != 0 }
func (s *pageSet) add(id uint64)      { s.bits[id/64] |= 1 << (id % 64) }

// openFile is bbolt's Options.OpenFile for Open: it opens the file, locks it
// as bbolt is about to (on the same descriptor, so bbolt's own lock then
// succeeds at once), and checks it before bbolt reads anything. A missing
// file is created (unless read-only); an existing empty one only with
// opts.Init.
func openFile(opts Options, timeout time.Duration) func(string, int, os.FileMode) (*os.File, error) {
	return func(name string, flag int, perm os.FileMode) (*os.File, error) {
		f, err := os.OpenFile(name, flag&^os.O_CREATE, perm)
		if errors.Is(err, fs.ErrNotExist) && flag&os.O_CREATE != 0 {
			// A new file: nothing to check. Should another process create
			// it meanwhile, open theirs and check it.
			if f, err = os.OpenFile(name, flag|os.O_EXCL, perm); err == nil {
				return f, nil
			}
			if errors.Is(err, fs.ErrExist) {
				f, err = os.OpenFile(name, flag&^os.O_CREATE, perm)
			}
		}
		if err != nil {
			return nil, err
		}
		if err := lockFile(f, flag&(os.O_WRONLY|os.O_RDWR) != 0, timeout); err != nil {
			f.Close()
			return nil, err
		}
		fi, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, err
		}
		switch {
		case fi.Size() == 0 && opts.Init && !opts.ReadOnly:
			return f, nil // bbolt writes a new database into it
		case fi.Size() == 0:
			f.Close()
			return nil, ErrEmptyFile
		}
		if err := checkFile(f, fi.Size(), !opts.QuickCheck); err != nil {
			f.Close()
			return nil, &DamagedError{Path: name, Reason: err.Error()}
		}
		return f, nil
	}
}
