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
// photos flagged as near duplicates. Measured by TestNearDuplicateDistances
// on 40 drawn 800×600 scenes (RECTIFY_PHOTO_SCENES=40): halving the size,
// re-encoding at quality 40 and PNG→JPEG recompression move a pHash by 0-2
// bits; cutting 2.5 % off every side by up to 10; cutting 5 % off the right
// and the bottom by up to 14 (more than 12 for 2 of 40). Different scenes
// of the same kind are 14 or more apart (780 pairs). pHash sets 32 bits of
// every hash but for ties, so distances are even: 12 is the one threshold
// between the crops and the nearest different scene. dHash, measured on the
// same files, moves 6 bits on a mere re-encoding and 18 on the edge crop,
// with different scenes from 16: it cannot separate them.
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
