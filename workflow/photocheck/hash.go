package photocheck

import (
	"image"
	"math/bits"

	"github.com/corona10/goimagehash"
)

// Hash is a 64-bit perceptual hash (pHash): the signs, against their median,
// of the 8×8 lowest frequencies of the DCT of the image shrunk to 64×64 grey
// pixels. Copies of one photo differ in few bits; unrelated photos in about
// half. The most significant bit is the DC term's and is set in every hash.
type Hash uint64

// NearThreshold is the largest Hamming distance between the hashes of two
// photos flagged as near duplicates. Measured on the drawn scenes of the
// tests (TestNearDuplicateDistances, 40 scenes): resizing, re-encoding at
// quality 40 and PNG→JPEG recompression move a hash by 0-2 bits; cutting
// 2.5 % off every side by 2-8; cutting 5 % off the right and the bottom by
// 2-14 (12 or less for 39 of 40); two different photos of the same kind of
// scene are 16 or more apart (16 for 5 of 780 pairs, 26 or more for most).
// pHash sets exactly 32 bits of every hash but for ties, so distances are
// even: 12 keeps two steps between the worst crop caught and the nearest
// unrelated pair.
const NearThreshold = 12

// PHash returns the perceptual hash of img.
func PHash(img image.Image) (Hash, error) {
	h, err := goimagehash.PerceptionHash(img)
	if err != nil {
		return 0, err
	}
	return Hash(h.GetHash()), nil
}

// Distance returns the Hamming distance between a and b: the number of bits
// in which they differ, 0 to 64.
func Distance(a, b Hash) int { return bits.OnesCount64(uint64(a ^ b)) }
