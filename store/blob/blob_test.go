package blob

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/iotest"

	"github.com/jdz-eco/rectify/workflow"
)

// named makes newStore's stores use named temporary files, as where
// unnamed ones are not supported (TestNamedTemporaryFiles).
var named bool

func newStore(t *testing.T) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "evidence"))
	if err != nil {
		t.Fatal(err)
	}
	if named {
		s.unnamed = func() bool { return false }
	}
	return s
}

func sum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func read(t *testing.T, s *Store, sha string) []byte {
	t.Helper()
	r, err := s.Open(t.Context(), sha)
	if err != nil {
		t.Fatalf("Open(%s) = %v", sha, err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// files returns every file under the store's directory, relative to it.
func files(t *testing.T, s *Store) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(s.Dir(), func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			rel, _ := filepath.Rel(s.Dir(), path)
			out = append(out, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func wantCode(t *testing.T, what string, err error, code workflow.Code) {
	t.Helper()
	var e *workflow.Error
	if !errors.As(err, &e) || e.Code != code {
		t.Errorf("%s = %v, want a *workflow.Error of code %s", what, err, code)
	}
}

func TestRoundTrip(t *testing.T) {
	ctx := t.Context()
	s := newStore(t)
	if fi, err := os.Stat(s.Dir()); err != nil || fi.Mode().Perm()&^0o750 != 0 {
		t.Errorf("store directory: %v, %v", fi, err)
	}
	content := bytes.Repeat([]byte("整改现场照片"), 5000)
	// A reader that hands out a byte at a time still stores everything.
	sha, size, err := s.Put(ctx, iotest.OneByteReader(bytes.NewReader(content)), int64(len(content)))
	if err != nil {
		t.Fatalf("Put = %v", err)
	}
	if sha != sum(content) || size != int64(len(content)) {
		t.Errorf("Put = %s, %d; want %s, %d", sha, size, sum(content), len(content))
	}
	if got := read(t, s, sha); !bytes.Equal(got, content) {
		t.Error("Open returned other content")
	}
	if n, err := s.Stat(ctx, sha); err != nil || n != size {
		t.Errorf("Stat = %d, %v", n, err)
	}
	want := filepath.Join(sha[:2], sha[2:])
	if got := files(t, s); len(got) != 1 || got[0] != want {
		t.Errorf("files %v, want [%s]", got, want)
	}
	if p, ok := s.Path(sha); !ok || p != filepath.Join(s.Dir(), want) {
		t.Errorf("Path = %s, %v", p, ok)
	}
	fi, err := os.Stat(filepath.Join(s.Dir(), want))
	if err != nil || fi.Mode().Perm() != 0o640 {
		t.Errorf("stored file: %v, %v", fi, err)
	}

	// Reopening finds it.
	s2, err := Open(s.Dir())
	if err != nil {
		t.Fatal(err)
	}
	if got := read(t, s2, sha); !bytes.Equal(got, content) {
		t.Error("a reopened store returned other content")
	}

	// A missing file is not found.
	other := sum([]byte("other"))
	if _, err := s.Open(ctx, other); workflow.ErrorCode(err) != workflow.CodeNotFound {
		t.Errorf("Open of a missing file = %v", err)
	}
	if _, err := s.Stat(ctx, other); workflow.ErrorCode(err) != workflow.CodeNotFound {
		t.Errorf("Stat of a missing file = %v", err)
	}
}

func TestDedupe(t *testing.T) {
	ctx := t.Context()
	s := newStore(t)
	content := []byte("%PDF-1.4 出水水质检测报告")
	sha, _, err := s.Put(ctx, bytes.NewReader(content), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	path, _ := s.Path(sha)
	before, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		again, size, err := s.Put(ctx, bytes.NewReader(content), 1<<20)
		if err != nil || again != sha || size != int64(len(content)) {
			t.Fatalf("second Put = %s, %d, %v", again, size, err)
		}
	}
	after, err := os.Stat(path)
	if err != nil || !os.SameFile(before, after) || !after.ModTime().Equal(before.ModTime()) {
		t.Errorf("the stored file was replaced or touched by a second Put")
	}
	if got := files(t, s); len(got) != 1 {
		t.Errorf("files after identical Puts: %v", got)
	}
	// Different content gets another name.
	sha2, _, err := s.Put(ctx, strings.NewReader("另一份材料"), 1<<20)
	if err != nil || sha2 == sha {
		t.Errorf("Put of other content = %s, %v", sha2, err)
	}
	if got := files(t, s); len(got) != 2 {
		t.Errorf("files: %v", got)
	}
}

func TestDamagedFileReported(t *testing.T) {
	ctx := t.Context()
	s := newStore(t)
	content := []byte("现场照片")
	sha, _, err := s.Put(ctx, bytes.NewReader(content), 100)
	if err != nil {
		t.Fatal(err)
	}
	path, _ := s.Path(sha)
	if err := os.WriteFile(path, []byte("x"), 0o640); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Put(ctx, bytes.NewReader(content), 100); err == nil || !strings.Contains(err.Error(), "damaged") {
		t.Errorf("Put over a damaged file = %v", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "x" {
		t.Error("Put changed a stored file")
	}
	if got := files(t, s); len(got) != 1 {
		t.Errorf("files: %v", got)
	}
}

func TestRefusals(t *testing.T) {
	ctx := t.Context()
	s := newStore(t)
	_, _, err := s.Put(ctx, strings.NewReader(""), 100)
	wantCode(t, "Put of an empty file", err, workflow.CodeInvalid)
	if e := (*workflow.Error)(nil); errors.As(err, &e) && e.Field != "file" {
		t.Errorf("empty file refused for field %q", e.Field)
	}
	for _, tt := range []struct {
		size, max int64
	}{{101, 100}, {1 << 20, 100}, {1, 0}, {5, -1}} {
		_, _, err := s.Put(ctx, bytes.NewReader(make([]byte, tt.size)), tt.max)
		wantCode(t, "Put over the limit", err, workflow.CodeTooLarge)
	}
	// Exactly the limit is fine.
	if _, size, err := s.Put(ctx, bytes.NewReader(make([]byte, 100)), 100); err != nil || size != 100 {
		t.Errorf("Put of exactly the limit = %d, %v", size, err)
	}
	// A failing reader or a cancelled context stores nothing.
	if _, _, err := s.Put(ctx, iotest.ErrReader(errors.New("connection reset")), 100); err == nil {
		t.Error("Put from a failing reader succeeded")
	}
	cctx, cancel := context.WithCancel(ctx)
	r := io.MultiReader(strings.NewReader("前半部分"), readerFunc(func([]byte) (int, error) { cancel(); return 0, nil }), strings.NewReader("后半部分"))
	if _, _, err := s.Put(cctx, r, 100); !errors.Is(err, context.Canceled) {
		t.Errorf("Put cancelled midway = %v", err)
	}
	// Nothing but the one accepted file is left, no temporary file.
	if got := files(t, s); len(got) != 1 {
		t.Errorf("files after refusals: %v", got)
	}
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

func TestBadNames(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	s, err := Open(filepath.Join(dir, "evidence"))
	if err != nil {
		t.Fatal(err)
	}
	// Files a traversal could reach.
	if err := os.WriteFile(filepath.Join(dir, "secret"), []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	sha, _, err := s.Put(ctx, strings.NewReader("照片"), 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{
		"", "../../etc/passwd", "../secret", "..", "/etc/passwd", sha[:2], sha[:63], sha + "0",
		strings.ToUpper(sha), sha[:2] + "/" + sha[2:], sha[:62] + "..", sha[:63] + "g",
		sha[:2] + "/../" + sha[6:], strings.Repeat(".", 64), strings.Repeat("../", 21) + "a",
	} {
		if r, err := s.Open(ctx, name); workflow.ErrorCode(err) != workflow.CodeNotFound {
			if r != nil {
				r.Close()
			}
			t.Errorf("Open(%q) = %v, want not found", name, err)
		}
		if _, err := s.Stat(ctx, name); workflow.ErrorCode(err) != workflow.CodeNotFound {
			t.Errorf("Stat(%q) = %v, want not found", name, err)
		}
		if _, ok := s.Path(name); ok {
			t.Errorf("Path(%q) is valid", name)
		}
	}
	// A directory where a file should be is not a file.
	dirSHA := sum([]byte("a directory"))
	p, _ := s.Path(dirSHA)
	if err := os.MkdirAll(p, 0o750); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Open(ctx, dirSHA); workflow.ErrorCode(err) != workflow.CodeNotFound {
		t.Errorf("Open of a directory = %v", err)
	}
	if _, err := s.Stat(ctx, dirSHA); workflow.ErrorCode(err) != workflow.CodeNotFound {
		t.Errorf("Stat of a directory = %v", err)
	}
}

func TestConcurrentPut(t *testing.T) {
	ctx := t.Context()
	s := newStore(t)
	content := bytes.Repeat([]byte("同一份整改材料"), 10000)
	other := bytes.Repeat([]byte("另一份"), 10000)
	const n = 16
	var wg sync.WaitGroup
	type result struct {
		sha  string
		size int64
		err  error
	}
	results := make([]result, n)
	for i := range n {
		wg.Go(func() {
			c := content
			if i%4 == 3 {
				c = other
			}
			sha, size, err := s.Put(ctx, bytes.NewReader(c), 1<<20)
			results[i] = result{sha, size, err}
		})
	}
	wg.Wait()
	for i, r := range results {
		want := content
		if i%4 == 3 {
			want = other
		}
		if r.err != nil || r.sha != sum(want) || r.size != int64(len(want)) {
			t.Errorf("Put %d = %+v", i, r)
		}
	}
	if got := files(t, s); len(got) != 2 {
		t.Errorf("files after concurrent Puts: %v", got)
	}
	if got := read(t, s, sum(content)); !bytes.Equal(got, content) {
		t.Error("content differs after concurrent Puts")
	}
}

func TestOpenNotADirectory(t *testing.T) {
	f := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(f, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(f); err == nil {
		t.Error("Open of a file succeeded")
	}
	if _, err := Open(""); err == nil {
		t.Error("Open of no directory succeeded")
	}
}

// TestNamedTemporaryFiles runs the tests of Put again with named temporary
// files, the fallback where the filesystem has no unnamed ones.
func TestNamedTemporaryFiles(t *testing.T) {
	named = true
	defer func() { named = false }()
	for _, tt := range []struct {
		name string
		test func(*testing.T)
	}{
		{"RoundTrip", TestRoundTrip}, {"Dedupe", TestDedupe}, {"DamagedFileReported", TestDamagedFileReported},
		{"Refusals", TestRefusals}, {"ConcurrentPut", TestConcurrentPut}, {"SubdirectoryRemoved", TestSubdirectoryRemoved},
	} {
		t.Run(tt.name, tt.test)
	}
}

// TestSubdirectoryRemoved checks that Put makes a subdirectory again when it
// went away after this process made it, and leaves no temporary file.
func TestSubdirectoryRemoved(t *testing.T) {
	ctx := t.Context()
	s := newStore(t)
	content := []byte("整改前后对比照片")
	sha, _, err := s.Put(ctx, bytes.NewReader(content), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	path, _ := s.Path(sha)
	if err := os.RemoveAll(filepath.Dir(path)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Put(ctx, bytes.NewReader(content), 1<<20); err != nil {
		t.Fatalf("Put after its subdirectory was removed: %v", err)
	}
	if got := read(t, s, sha); !bytes.Equal(got, content) {
		t.Errorf("content = %q", got)
	}
	if got := files(t, s); len(got) != 1 {
		t.Errorf("files: %v", got)
	}
}
