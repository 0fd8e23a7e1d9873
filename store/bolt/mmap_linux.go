//go:build linux

package bolt

import "syscall"

// mmapFlags makes the kernel read the whole database file in when bbolt maps
// it (MAP_POPULATE), instead of faulting pages in one at a time on first use.
var mmapFlags = syscall.MAP_POPULATE
