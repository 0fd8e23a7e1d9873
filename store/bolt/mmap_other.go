//go:build !linux

package bolt

// mmapFlags is zero where MAP_POPULATE does not exist: pages are faulted in
// on first use.
var mmapFlags = 0

// initialMmapSize is bbolt's default elsewhere: on some platforms (Windows)
// mapping a file extends it to the mapping's size.
const initialMmapSize = 0
