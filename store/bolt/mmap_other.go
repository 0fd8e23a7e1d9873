//go:build !linux

package bolt

// mmapFlags is zero where MAP_POPULATE does not exist: pages are faulted in
// on first use.
var mmapFlags = 0
