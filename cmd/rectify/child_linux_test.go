package main

import (
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"syscall"
)

// childFileSizeEnv sets a child's file size limit (RLIMIT_FSIZE), in
// bytes: a file cannot grow past it, as on a full disk. SIGUSR1 lifts it.
const childFileSizeEnv = "RECTIFY_TEST_CHILD_FSIZE"

// childLimits applies childFileSizeEnv in a child.
func childLimits() {
	v := os.Getenv(childFileSizeEnv)
	if v == "" {
		return
	}
	n, err := strconv.ParseUint(v, 10, 64)
	var old syscall.Rlimit
	if err == nil {
		err = syscall.Getrlimit(syscall.RLIMIT_FSIZE, &old)
	}
	limited := old
	limited.Cur = n
	if err == nil {
		err = syscall.Setrlimit(syscall.RLIMIT_FSIZE, &limited)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, childFileSizeEnv, err)
		os.Exit(99)
	}
	lift := make(chan os.Signal, 1)
	signal.Notify(lift, syscall.SIGUSR1)
	go func() {
		<-lift
		if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &old); err != nil {
			fmt.Fprintln(os.Stderr, "lifting the file size limit:", err)
			os.Exit(99)
		}
		fmt.Fprintln(os.Stderr, "file size limit lifted")
	}()
}
