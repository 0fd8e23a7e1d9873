package workflow

import (
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"math"
	"slices"
)

// DefaultLookbackShare is the share of the problems closed in a period
// drawn for a look-back re-inspection (回头看).
const DefaultLookbackShare = 0.10

// LookbackCandidate is a problem closed in the period a look-back draws from.
type LookbackCandidate struct {
	ID       string
	CountyID string
}

// DrawLookback draws the problems of a look-back: ⌈share × n⌉ of the n
// candidates, and at least one in every county that has any. Each candidate's
// lot is the SHA-256 of seed and its id; the lowest lot of each county is
// drawn first, then the lowest of the rest until the share is reached. The
// draw depends only on the seed and the set of candidates, not on their
// order or on the Go version, so the seed recorded in the history replays
// it. The ids come back sorted; an id given twice counts once. A share
// outside (0, 1] is a CodeInvalid (ReasonOutOfRange).
func DrawLookback(candidates []LookbackCandidate, share float64, seed uint64) ([]string, error) {
	if !(share > 0 && share <= 1) {
		return nil, RefuseField(ReasonOutOfRange, "share", "the look-back share must be more than 0 and at most 1")
	}
	type lot struct {
		LookbackCandidate
		lot [sha256.Size]byte
	}
	lots := make([]lot, 0, len(candidates))
	seen := make(map[string]bool, len(candidates))
	var buf []byte
	for _, c := range candidates {
		if seen[c.ID] {
			continue
		}
		seen[c.ID] = true
		buf = binary.BigEndian.AppendUint64(buf[:0], seed)
		buf = append(buf, c.ID...)
		lots = append(lots, lot{c, sha256.Sum256(buf)})
	}
	slices.SortFunc(lots, func(a, b lot) int {
		return cmp.Or(slices.Compare(a.lot[:], b.lot[:]), cmp.Compare(a.ID, b.ID))
	})
	want := int(math.Ceil(share*float64(len(lots)) - 1e-9))
	drawn := make([]string, 0, want)
	taken := make([]bool, len(lots))
	counties := map[string]bool{}
	for i, l := range lots {
		if !counties[l.CountyID] {
			counties[l.CountyID] = true
			taken[i] = true
			drawn = append(drawn, l.ID)
		}
	}
	for i, l := range lots {
		if len(drawn) >= want {
			break
		}
		if !taken[i] {
			drawn = append(drawn, l.ID)
		}
	}
	slices.Sort(drawn)
	return drawn, nil
}
