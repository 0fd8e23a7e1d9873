package blob

import (
	"os"
	"path/filepath"
	"testing"
)

// TestUnnamedOnLinux checks that the probe finds unnamed temporary files
// where the test's temporary directory supports them, and that it leaves
// nothing behind.
func TestUnnamedOnLinux(t *testing.T) {
	s := newStore(t)
	if named {
		t.Skip("named temporary files forced")
	}
	f, err := openUnnamed(filepath.Join(s.Dir(), tempDir))
	if err != nil {
		t.Skipf("no O_TMPFILE here: %v", err)
	}
	f.Close()
	if !s.unnamed() {
		t.Error("the probe found no unnamed temporary files where O_TMPFILE works")
	}
	left, err := os.ReadDir(filepath.Join(s.Dir(), tempDir))
	if err != nil || len(left) != 0 {
		t.Errorf("temporary directory after the probe: %v, %v", left, err)
	}
}
