// Package blob stores evidence files on the filesystem by their SHA-256: a
// workflow.Blobs.
//
// A file whose hash (lowercase hex) is abcdef… lives at DIR/ab/cdef…, so that
// no directory grows past a few thousand entries. Put streams the upload into
// a temporary file in DIR (named .tmp-*), hashing it on the way, fsyncs it and
// links it into place without replacing anything, then fsyncs the
// directories: when Put returns, the file and its name are durable. Content
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
	"sync"

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
	dir    string
	synced sync.Map // subdirectories whose entry this process made durable
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
	return &Store{dir: dir}, nil
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
		return workflow.Errorf(workflow.CodeNotFound, "no evidence file %q", sha)
	}
	return workflow.Errorf(workflow.CodeNotFound, "no evidence file %s", sha)
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
	tmp, err := os.CreateTemp(filepath.Join(s.dir, tempDir), tempPattern)
	if err != nil {
		return "", 0, fmt.Errorf("blob: %w", err)
	}
	tmpName := tmp.Name()
	defer func() {
		if tmp != nil {
			_ = tmp.Close()
		}
		// The temporary name goes in every case; once placed, the file
		// lives on under its hash.
		_ = os.Remove(tmpName)
	}()

	h := sha256.New()
	max = maxOf(max)
	src := io.Reader(ctxReader{ctx: ctx, r: r})
	if max < math.MaxInt64 {
		src = io.LimitReader(src, max+1)
	}
	size, err = io.Copy(io.MultiWriter(tmp, h), src)
	if err != nil {
		return "", 0, fmt.Errorf("blob: store upload: %w", err)
	}
	switch {
	case size == 0:
		return "", 0, workflow.Invalid("file", "the file is empty")
	case size > max:
		return "", 0, &workflow.Error{Code: workflow.CodeTooLarge, Field: "file",
			Message: fmt.Sprintf("the file is larger than the limit of %d bytes", max)}
	}
	if err := tmp.Chmod(0o640); err != nil {
		return "", 0, fmt.Errorf("blob: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return "", 0, fmt.Errorf("blob: sync upload: %w", err)
	}
	if err := tmp.Close(); err != nil {
		tmp = nil
		return "", 0, fmt.Errorf("blob: close upload: %w", err)
	}
	tmp = nil
	sha = hexSum(h)
	target, _ := s.Path(sha)
	sub := filepath.Dir(target)
	if err := os.MkdirAll(sub, 0o750); err != nil {
		return "", 0, fmt.Errorf("blob: %w", err)
	}
	if err := place(tmpName, target, size); err != nil {
		return "", 0, err
	}
	// Make the name durable, also when the file was already there: an
	// earlier Put may have crashed before its sync. The subdirectory's own
	// entry in the store's directory is synced once per process.
	if err := syncDir(sub); err != nil {
		return "", 0, err
	}
	if _, done := s.synced.Load(sub); !done {
		if err := syncDir(s.dir); err != nil {
			return "", 0, err
		}
		s.synced.Store(sub, true)
	}
	return sha, size, nil
}

// place gives the complete temporary file tmp of size bytes the name target
// unless a file has that name already: the same content, since names are
// hashes, unless the stored file was damaged, which is reported and left as
// it is. A hard link never replaces a file; where links are not supported it
// falls back to a rename after checking that the name is free.
func place(tmp, target string, size int64) error {
	err := os.Link(tmp, target)
	if err == nil {
		return nil
	}
	fi, statErr := os.Lstat(target)
	switch {
	case statErr == nil && fi.Mode().IsRegular() && fi.Size() == size:
		return nil
	case statErr == nil:
		return fmt.Errorf("blob: the stored file %s is damaged (%d bytes, want %d)", filepath.Base(filepath.Dir(target))+filepath.Base(target), fi.Size(), size)
	case errors.Is(err, fs.ErrExist):
		return fmt.Errorf("blob: %w", err)
	}
	if err := os.Rename(tmp, target); err != nil {
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
