package main

import (
	"fmt"
	"io"
	"sync"
)

// syncWriter serialises writes from the server's goroutines.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// String returns what was written, if the writer is a fmt.Stringer (a
// strings.Builder, a bytes.Buffer).
func (s *syncWriter) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st, ok := s.w.(fmt.Stringer); ok {
		return st.String()
	}
	return ""
}
