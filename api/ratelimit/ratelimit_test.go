package ratelimit

import (
	"testing"
	"time"
)

func TestLimiter(t *testing.T) {
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := New(3, time.Hour, func() time.Time { return at })
	for i := range 3 {
		if !l.Allow("a") {
			t.Fatalf("event %d refused", i+1)
		}
	}
	if l.Allow("a") {
		t.Fatal("a fourth event within the hour was allowed")
	}
	if !l.Allow("b") {
		t.Fatal("another client was refused")
	}
	at = at.Add(59 * time.Minute)
	if l.Allow("a") {
		t.Fatal("allowed before the window passed")
	}
	at = at.Add(time.Minute)
	if !l.Allow("a") {
		t.Fatal("refused after the window passed")
	}
	at = at.Add(3 * time.Hour)
	l.Allow("c")
	if _, ok := l.events["b"]; ok {
		t.Fatal("an idle client was not forgotten")
	}
}
