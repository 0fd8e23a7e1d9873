//go:build !race

package etcd

// raceDetector is off (see race_on_test.go).
const raceDetector = false
