package dossier_test

import (
	"testing"

	"github.com/jdz-eco/rectify/store/storetest"
)

// BenchmarkVerify verifies a dossier of two evidence files and ten
// entries (about 20 KB).
func BenchmarkVerify(b *testing.B) {
	svc, blobs, id := scenario(b)
	d := write(b, svc, blobs, storetest.BureauActor, id)
	b.SetBytes(int64(len(d)))
	for b.Loop() {
		if _, err := verify(d); err != nil {
			b.Fatal(err)
		}
	}
}
