//go:build linux

package bolt

import (
	"strconv"
	"syscall"
)

// mmapFlags makes the kernel read the whole database file in when bbolt maps
// it (MAP_POPULATE), instead of faulting pages in one at a time on first use.
var mmapFlags = syscall.MAP_POPULATE

// initialMmapSize is the address space bbolt maps the file into from the
// start: 8 GiB on 64-bit platforms (256 MiB on 32-bit ones), ten times the
// file of 1,000,000 problems. Mapping beyond the end of the file costs no
// memory, and while the file fits, a commit that grows it never has to remap,
// which waits for every read transaction to end: without the room, a backup
// streamed to a slow client, or a long export, would stall every writer until
// it finished (TestBackupUnderWrites).
const initialMmapSize = 1 << (strconv.IntSize/32*5 + 23)
