package photocheck

import (
	"context"
	"image"
	"math/bits"
	"os"
	"strconv"
	"testing"

	"github.com/corona10/goimagehash"
)

// copyKinds are the ways a photo is copied that must be caught.
var copyKinds = []string{"resized to half", "re-encoded at quality 40", "PNG→JPEG", "5 % crop (2.5 % a side)", "5 % cut off right and bottom"}

// copiesOf returns the original JPEG of scene seed and its copies, in the
// order of copyKinds.
func copiesOf(t testing.TB, seed uint64, w, h int) ([]byte, [][]byte) {
	src := scene(seed, w, h)
	orig := encodeJPEG(t, src, 92)
	decoded := decodeForTest(t, orig)
	return orig, [][]byte{
		encodeJPEG(t, resized(decoded, w/2), 85),
		encodeJPEG(t, decoded, 40),
		encodeJPEG(t, decodeForTest(t, encodePNG(t, src)), 70),
		encodeJPEG(t, cropped(decoded, 0.05), 90),
		encodeJPEG(t, croppedEdge(decoded, 0.05), 90),
	}
}

func decodeForTest(t testing.TB, b []byte) image.Image {
	t.Helper()
	img, _, err := NewChecker(Limits{}).Decode(context.Background(), b)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// dHash is the difference hash, measured beside pHash to choose between them.
func dHash(t testing.TB, b []byte) uint64 {
	h, err := goimagehash.DifferenceHash(decodeForTest(t, b))
	if err != nil {
		t.Fatal(err)
	}
	return h.GetHash()
}

// TestNearDuplicateDistances is the measurement behind NearThreshold: the
// copies of each drawn scene must be within it, and different scenes of the
// same kind must not. RECTIFY_PHOTO_SCENES=40 measures more scenes (about a
// minute) and prints the distances of pHash and, beside it, dHash.
func TestNearDuplicateDistances(t *testing.T) {
	n, measure := max(rounds(8), 3), false
	if s, err := strconv.Atoi(os.Getenv("RECTIFY_PHOTO_SCENES")); err == nil && s > 1 {
		n, measure = s, true
	}
	dHash := func(t testing.TB, b []byte) uint64 {
		if !measure {
			return 0
		}
		return dHash(t, b)
	}
	c := NewChecker(Limits{})
	hash := func(b []byte) Hash {
		f, err := c.Analyze(context.Background(), b)
		if err != nil || f.Err != nil {
			t.Fatal(err, f.Err)
		}
		return f.Hash
	}
	worstP, worstD := make([]int, len(copyKinds)), make([]int, len(copyKinds))
	missed := make([]int, len(copyKinds))
	var originals []Hash
	var originalsD []uint64
	for seed := uint64(1); seed <= uint64(n); seed++ {
		orig, copies := copiesOf(t, seed, 800, 600)
		h, hd := hash(orig), dHash(t, orig)
		originals, originalsD = append(originals, h), append(originalsD, hd)
		for i, cp := range copies {
			d := Distance(h, hash(cp))
			worstP[i] = max(worstP[i], d)
			worstD[i] = max(worstD[i], bits.OnesCount64(hd^dHash(t, cp)))
			if d > NearThreshold {
				missed[i]++
			}
		}
	}
	nearestP, nearestD := 64, 64
	closeP := 0
	for i := range originals {
		for j := i + 1; j < len(originals); j++ {
			d := Distance(originals[i], originals[j])
			nearestP = min(nearestP, d)
			nearestD = min(nearestD, bits.OnesCount64(originalsD[i]^originalsD[j]))
			if d <= NearThreshold {
				closeP++
			}
		}
	}
	for i, k := range copyKinds {
		if !measure {
			break
		}
		t.Logf("%-32s worst pHash %2d, dHash %2d; missed at %d: %d of %d", k, worstP[i], worstD[i], NearThreshold, missed[i], n)
	}
	if measure {
		t.Logf("different scenes: nearest pHash %d, dHash %d; within %d: %d of %d pairs", nearestP, nearestD, NearThreshold, closeP, n*(n-1)/2)
	}
	// Every copy is caught but the edge crop, which misses 1 in 40.
	for i := range copyKinds[:4] {
		if missed[i] > 0 {
			t.Errorf("%s: %d of %d copies not caught", copyKinds[i], missed[i], n)
		}
	}
	if missed[4]*20 > n {
		t.Errorf("%s: %d of %d copies not caught", copyKinds[4], missed[4], n)
	}
	if closeP > 0 {
		t.Errorf("%d pairs of different scenes within %d", closeP, NearThreshold)
	}
}
