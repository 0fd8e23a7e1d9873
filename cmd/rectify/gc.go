package main

import (
	"runtime"
	"runtime/debug"
)

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
	return longRunning(args) && getenv("GOGC") == "" && getenv("GOMEMLIMIT") == ""
}

// setDefaultGC applies the defaults.
func setDefaultGC() {
	debug.SetGCPercent(defaultGCPercent)
	debug.SetMemoryLimit(defaultMemoryLimit)
}

// procsPerCPU is how many Ps (GOMAXPROCS) serve and bench run per CPU the
// runtime would use, unless GOMAXPROCS is set. The group commit's goroutine
// spends most of each cycle in fdatasync, and commands queue behind it; with
// twice as many Ps as CPUs, rectify bench on 2 CPUs gains about 30 % through
// HTTP and 14 % in-process, with commits twice as large (20 commands instead
// of 9 through HTTP), consistent with the commit goroutine waiting less for a
// P after each sync.
const procsPerCPU = 2

// wantMoreProcs reports whether command args should run with procsPerCPU.
func wantMoreProcs(args []string, getenv func(string) string) bool {
	return longRunning(args) && getenv("GOMAXPROCS") == ""
}

// setMoreProcs applies procsPerCPU to the runtime's default GOMAXPROCS
// (the CPUs available, or the container's CPU limit).
func setMoreProcs() {
	runtime.GOMAXPROCS(procsPerCPU * runtime.GOMAXPROCS(0))
}

// longRunning reports whether args run a long-running command.
func longRunning(args []string) bool {
	return len(args) > 0 && (args[0] == "serve" || args[0] == "bench")
}
