//go:build !race

package photocheck

const raceEnabled = false
