package blob

import (
	"bytes"
	"encoding/binary"
	"path/filepath"
	"sync/atomic"
	"testing"
)

// BenchmarkPut stores small distinct files (like the bench's evidence
// photos) from parallel goroutines, each durable when Put returns.
func BenchmarkPut(b *testing.B) {
	s, err := Open(filepath.Join(b.TempDir(), "evidence"))
	if err != nil {
		b.Fatal(err)
	}
	var n atomic.Uint64
	b.ReportAllocs()
	b.SetParallelism(32)
	b.RunParallel(func(pb *testing.PB) {
		buf := make([]byte, 200)
		for pb.Next() {
			binary.BigEndian.PutUint64(buf, n.Add(1))
			if _, _, err := s.Put(b.Context(), bytes.NewReader(buf), 1<<20); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
