package index

import (
	"slices"

	"github.com/jdz-eco/rectify/workflow"
)

// PhotoDiff returns the perceptual hashes a problem's near-duplicate index
// entries lose and gain when it changes from old (nil for a new problem) to
// p: Problem.IndexedPhotos, as sets. Each store keeps its own layout of
// them (store/internal/nearindex; docs/design.md#near-duplicate-photos).
func PhotoDiff(old, p *workflow.Problem) (gone, added []uint64) {
	var before []uint64
	if old != nil {
		before = old.IndexedPhotos()
	}
	after := p.IndexedPhotos()
	for _, h := range before {
		if !slices.Contains(after, h) {
			gone = append(gone, h)
		}
	}
	for _, h := range after {
		if !slices.Contains(before, h) {
			added = append(added, h)
		}
	}
	return gone, added
}
