// Package blob stores evidence files on the filesystem by their SHA-256: a
// workflow.Blobs.
//
// A file whose hash (lowercase hex) is abcdef… lives at DIR/ab/cdef…, so that
// no directory grows past a few thousand entries. Put streams the upload into
// a temporary file, hashing it on the way, fsyncs it and links it into place
// without replacing anything, then fsyncs the file's directory (and, the
// first time this process uses that directory, the store's directory): when
// Put returns, the file and its name are durable. On Linux the temporary file
// is unnamed (O_TMPFILE in DIR/.tmp), so that a crash leaves nothing behind
// and creating it does not contend for a directory; elsewhere, or where the
// filesystem cannot, it is DIR/.tmp/.tmp-* and removed once linked. Content
// addressing makes the store append-only: a file already present is never
// written again, and nothing here modifies or deletes a stored file.
package blob

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/jdz-eco/rectify/workflow"
)

// tempPattern names the files of uploads in progress; os.CreateTemp adds a
// random suffix. A crash can leave one behind; no stored name starts with a dot.
const tempPattern = ".tmp-*"

// tempDir holds uploads in progress, apart from the store's directory so
// that creating them does not wait on that directory's fsyncs.
const tempDir = ".tmp"

// Store is a workflow.Blobs in a directory. It is safe for concurrent use,
// also by several processes sharing the directory.
type Store struct {
	dir string
	// ready[i] is set once subdirectory i (the first two hex digits of a
	// name) exists and its entry in dir was made durable by this process.
	ready [256]atomic.Bool
	// unnamed reports, once probed, whether temporary files can be unnamed
	// (O_TMPFILE) and linked into place.
	unnamed func() bool
}

var _ workflow.Blobs = (*Store)(nil)

// Open returns the store in dir, creating the directory (0o750) if needed.
func Open(dir string) (*Store, error) {
	if dir == "" {
		return nil, errors.New("blob: no directory")
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("blob: %w", err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("blob: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("blob: %s is not a directory", dir)
	}
	if err := os.MkdirAll(filepath.Join(dir, tempDir), 0o750); err != nil {
		return nil, fmt.Errorf("blob: %w", err)
	}
	s := &Store{dir: dir}
	s.unnamed = sync.OnceValue(func() bool { return probeUnnamed(filepath.Join(dir, tempDir)) })
	return s, nil
}

// Dir returns the store's directory.
func (s *Store) Dir() string { return s.dir }

// ValidSHA reports whether sha names a file: 64 lowercase hex digits. Only
// such names are ever turned into paths.
func ValidSHA(sha string) bool {
	if len(sha) != 2*sha256.Size {
		return false
	}
	for i := range len(sha) {
		c := sha[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// Path returns where file sha is (or would be) stored, and false if sha is
// not a valid name.
func (s *Store) Path(sha string) (string, bool) {
	if !ValidSHA(sha) {
		return "", false
	}
	return filepath.Join(s.dir, sha[:2], sha[2:]), true
}

func notFound(sha string) error {
	if !ValidSHA(sha) {
		return workflow.Refuse(workflow.ReasonEvidenceNotFound, "no evidence file %q", sha)
	}
	return workflow.Refuse(workflow.ReasonEvidenceNotFound, "no evidence file %s", sha)
}

// Put stores what r yields and returns its SHA-256 (lowercase hex) and size.
// Content of more than max bytes is refused with a *workflow.Error of code
// workflow.CodeTooLarge, empty content with workflow.CodeInvalid (field
// "file"); nothing is left behind either way. Storing content already
// present stores nothing new and returns the same name.
func (s *Store) Put(ctx context.Context, r io.Reader, max int64) (sha string, size int64, err error) {
	if err := ctx.Err(); err != nil {
		return "", 0, err
	}
	tmp, err := s.createTemp()
	if err != nil {
		return "", 0, fmt.Errorf("blob: %w", err)
	}
	defer tmp.discard()

	h := sha256.New()
	max = maxOf(max)
	src := io.Reader(ctxReader{ctx: ctx, r: r})
	if max < math.MaxInt64 {
		src = io.LimitReader(src, max+1)
	}
	size, err = copyHashing(tmp.f, h, src)
	if err != nil {
		return "", 0, fmt.Errorf("blob: store upload: %w", err)
	}
	switch {
	case size == 0:
		return "", 0, workflow.RefuseField(workflow.ReasonFileEmpty, "file", "the file is empty")
	case size > max:
		return "", 0, workflow.RefuseField(workflow.ReasonFileTooLarge, "file", "the file is larger than the limit of %d bytes", max)
	}
	if err := tmp.f.Chmod(0o640); err != nil {
		return "", 0, fmt.Errorf("blob: %w", err)
	}
	if err := tmp.f.Sync(); err != nil {
		return "", 0, fmt.Errorf("blob: sync upload: %w", err)
	}
	sha = hexSum(h)
	target, _ := s.Path(sha)
	sub := filepath.Dir(target)
	shard, _ := strconv.ParseUint(sha[:2], 16, 8)
	if err := s.prepare(int(shard), sub); err != nil {
		return "", 0, err
	}
	err = tmp.place(target, size)
	if errors.Is(err, fs.ErrNotExist) {
		// The subdirectory went away since this process made it: again.
		s.ready[shard].Store(false)
		if err = s.prepare(int(shard), sub); err == nil {
			err = tmp.place(target, size)
		}
	}
	if err != nil {
		return "", 0, err
	}
	// Make the name durable, also when the file was already there: an
	// earlier Put may have crashed before its sync.
	if err := syncDir(sub); err != nil {
		return "", 0, err
	}
	return sha, size, nil
}

// prepare makes sure subdirectory sub (number shard) exists and that its
// entry in the store's directory is durable, once per process.
func (s *Store) prepare(shard int, sub string) error {
	if s.ready[shard].Load() {
		return nil
	}
	if err := os.MkdirAll(sub, 0o750); err != nil {
		return fmt.Errorf("blob: %w", err)
	}
	if err := syncDir(s.dir); err != nil {
		return err
	}
	s.ready[shard].Store(true)
	return nil
}

// copyHashing copies src to f and h through one buffer and returns the bytes
// copied.
func copyHashing(f *os.File, h hash.Hash, src io.Reader) (int64, error) {
	bp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bp)
	buf := *bp
	var n int64
	for {
		k, rerr := src.Read(buf)
		if k > 0 {
			h.Write(buf[:k])
			if _, err := f.Write(buf[:k]); err != nil {
				return n, err
			}
			n += int64(k)
		}
		if rerr == io.EOF {
			return n, nil
		}
		if rerr != nil {
			return n, rerr
		}
	}
}

// copyBufs are Put's copy buffers.
var copyBufs = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// tempFile is an upload in progress: an unnamed file (name empty) or one
// named name in the temporary directory.
type tempFile struct {
	f    *os.File
	name string
}

// createTemp starts an upload: an unnamed file where the filesystem allows
// it, otherwise a named one in the temporary directory.
func (s *Store) createTemp() (*tempFile, error) {
	dir := filepath.Join(s.dir, tempDir)
	if s.unnamed() {
		f, err := openUnnamed(dir)
		if err == nil {
			return &tempFile{f: f}, nil
		}
	}
	f, err := os.CreateTemp(dir, tempPattern)
	if err != nil {
		return nil, err
	}
	return &tempFile{f: f, name: f.Name()}, nil
}

// discard closes the file and removes its temporary name, if any; once
// placed, the file lives on under its hash.
func (t *tempFile) discard() {
	_ = t.f.Close()
	if t.name != "" {
		_ = os.Remove(t.name)
	}
}

// place gives the complete temporary file of size bytes the name target
// unless a file has that name already: the same content, since names are
// hashes, unless the stored file was damaged, which is reported and left as
// it is. A hard link never replaces a file; where links are not supported a
// named file falls back to a rename after checking that the name is free.
func (t *tempFile) place(target string, size int64) error {
	var err error
	if t.name == "" {
		err = linkUnnamed(t.f, target)
	} else {
		err = os.Link(t.name, target)
	}
	if err == nil {
		return nil
	}
	fi, statErr := os.Lstat(target)
	switch {
	case statErr == nil && fi.Mode().IsRegular() && fi.Size() == size:
		return nil
	case statErr == nil:
		return fmt.Errorf("blob: the stored file %s is damaged (%d bytes, want %d)", filepath.Base(filepath.Dir(target))+filepath.Base(target), fi.Size(), size)
	case errors.Is(err, fs.ErrExist), t.name == "", errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("blob: %w", err)
	}
	if err := os.Rename(t.name, target); err != nil {
		return fmt.Errorf("blob: %w", err)
	}
	return nil
}

func maxOf(max int64) int64 {
	if max < 0 {
		return 0
	}
	return max
}

func hexSum(h hash.Hash) string { return hex.EncodeToString(h.Sum(nil)) }

// syncDir fsyncs directory dir so that the names in it are durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("blob: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("blob: sync %s: %w", dir, err)
	}
	return nil
}

// Open returns the content of file sha; the caller closes it. A name that is
// not 64 lowercase hex digits, or no stored file, is workflow.CodeNotFound.
func (s *Store) Open(ctx context.Context, sha string) (io.ReadCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	path, ok := s.Path(sha)
	if !ok {
		return nil, notFound(sha)
	}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, notFound(sha)
	}
	if err != nil {
		return nil, fmt.Errorf("blob: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("blob: %w", err)
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, notFound(sha)
	}
	return f, nil
}

// Stat returns the size of file sha, or workflow.CodeNotFound.
func (s *Store) Stat(ctx context.Context, sha string) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	path, ok := s.Path(sha)
	if !ok {
		return 0, notFound(sha)
	}
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, notFound(sha)
	}
	if err != nil {
		return 0, fmt.Errorf("blob: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return 0, notFound(sha)
	}
	return fi.Size(), nil
}

// ctxReader fails reads once its context is done, so that a cancelled
// request stops an upload.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
