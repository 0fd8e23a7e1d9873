//go:build !unix

package bolt

import (
	"os"
	"time"
)

// lockFile leaves locking to bbolt where flock does not exist: the file is
// checked before bbolt locks it.
func lockFile(*os.File, bool, time.Duration) error { return nil }
