//go:build race

package ledgerfile_test

// raceDetector is set when the tests run with -race, which makes the large
// readings several times slower: they then read less.
const raceDetector = true
