//go:build !race

package ledgerfile_test

// raceDetector is set when the tests run with -race.
const raceDetector = false
