package blob

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// openUnnamed opens an unnamed regular file on dir's filesystem
// (O_TMPFILE): it has no directory entry until linkUnnamed gives it one, and
// disappears if the process ends before.
func openUnnamed(dir string) (*os.File, error) {
	fd, err := unix.Open(dir, unix.O_TMPFILE|unix.O_WRONLY|unix.O_CLOEXEC, 0o640)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: dir, Err: err}
	}
	return os.NewFile(uintptr(fd), dir+"/(unnamed)"), nil
}

// linkUnnamed gives the unnamed file f the name target, never replacing a
// file (EEXIST). Linking through /proc/self/fd needs no privilege, unlike
// AT_EMPTY_PATH.
func linkUnnamed(f *os.File, target string) error {
	src := "/proc/self/fd/" + strconv.Itoa(int(f.Fd()))
	if err := unix.Linkat(unix.AT_FDCWD, src, unix.AT_FDCWD, target, unix.AT_SYMLINK_FOLLOW); err != nil {
		return &os.LinkError{Op: "link", Old: src, New: target, Err: err}
	}
	return nil
}

// probeUnnamed reports whether unnamed files can be made in dir and linked
// into it: the filesystem must support O_TMPFILE and /proc must be mounted.
func probeUnnamed(dir string) bool {
	f, err := openUnnamed(dir)
	if err != nil {
		return false
	}
	defer f.Close()
	var nonce [8]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		return false
	}
	name := filepath.Join(dir, ".probe-"+hex.EncodeToString(nonce[:]))
	if err := linkUnnamed(f, name); err != nil {
		return false
	}
	return os.Remove(name) == nil
}
