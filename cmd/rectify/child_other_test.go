//go:build !linux

package main

// childLimits sets no limits where RLIMIT_FSIZE and SIGUSR1 are not used.
func childLimits() {}
