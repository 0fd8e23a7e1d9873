//go:build race

package etcd

// raceDetector is on: load tests drive fewer commands (each costs several
// times as much CPU).
const raceDetector = true
