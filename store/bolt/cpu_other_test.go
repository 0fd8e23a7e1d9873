//go:build !unix

package bolt

import "time"

// processCPU is not measured here.
func processCPU() time.Duration { return 0 }
