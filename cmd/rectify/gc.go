package main

import "runtime/debug"

// Garbage collector settings of the long-running commands (serve, bench)
// when neither GOGC nor GOMEMLIMIT is set. The live heap is small (a few MiB,
// about 10 MiB with 1,000,000 problems) and the default GOGC=100 collects
// every few MiB allocated: under load the collector took 10–15 % of the CPU.
// A heap of up to five times the live one, held to a soft limit of 48 MiB,
// collects far less often and stays within the memory target (Go heap and
// anonymous memory under 64 MiB); past the limit the runtime collects more
// often rather than growing. Either variable set leaves the runtime's own
// settings alone.
const (
	defaultGCPercent   = 400
	defaultMemoryLimit = 48 << 20
)

// wantDefaultGC reports whether command args should run with the defaults
// above.
func wantDefaultGC(args []string, getenv func(string) string) bool {
	if len(args) == 0 || (args[0] != "serve" && args[0] != "bench") {
		return false
	}
	return getenv("GOGC") == "" && getenv("GOMEMLIMIT") == ""
}

// setDefaultGC applies the defaults.
func setDefaultGC() {
	debug.SetGCPercent(defaultGCPercent)
	debug.SetMemoryLimit(defaultMemoryLimit)
}
