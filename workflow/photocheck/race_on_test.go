//go:build race

package photocheck

// raceEnabled: the race detector slows these single-goroutine loops tenfold
// without finding more in them, so they run fewer rounds under it.
const raceEnabled = true
