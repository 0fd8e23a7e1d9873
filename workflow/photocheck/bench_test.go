package photocheck

import (
	"context"
	"testing"
)

// BenchmarkAnalyze checks one phone photo: a 4000×3000 JPEG (12 MP) with
// EXIF, decoded, hashed and its metadata read.
//
//	go test ./workflow/photocheck -run '^$' -bench Analyze
func BenchmarkAnalyze(b *testing.B) {
	photo := withJPEGEXIF(encodeJPEG(b, scene(9, 4000, 3000), 90), buildEXIF(honest))
	c := NewChecker(Limits{})
	b.SetBytes(int64(len(photo)))
	for b.Loop() {
		f, err := c.Analyze(context.Background(), photo)
		if err != nil || f.Err != nil || f.Metadata.Position == nil {
			b.Fatal(err, f.Err)
		}
	}
}

// BenchmarkReadMetadata reads the EXIF of a photo alone.
func BenchmarkReadMetadata(b *testing.B) {
	photo := photoWith(b, honest)
	for b.Loop() {
		if m := ReadMetadata(photo); m.Position == nil {
			b.Fatal(m)
		}
	}
}
