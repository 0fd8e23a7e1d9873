// Package ratelimit limits how often one client (by its address) may do a
// thing: the public objections of the notice pages and API share one
// Limiter, so that a client cannot double its allowance by using both.
package ratelimit

import (
	"sync"
	"time"
)

// Limiter allows each key at most Max events in any Window (a sliding
// window of the events' times). It is safe for concurrent use.
type Limiter struct {
	max    int
	window time.Duration
	now    func() time.Time

	mu     sync.Mutex
	events map[string][]time.Time // per key, oldest first, within the window
	swept  time.Time
}

// New returns a limiter of max events per window, reading time from now.
// A max below 1 allows nothing.
func New(max int, window time.Duration, now func() time.Time) *Limiter {
	return &Limiter{max: max, window: window, now: now, events: map[string][]time.Time{}}
}

// Allow records an event of key and reports true, or reports false (and
// records nothing) when key had Max events in the last Window already.
func (l *Limiter) Allow(key string) bool {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.swept) > l.window {
		l.sweep(now)
	}
	ev := l.recent(key, now)
	if len(ev) >= l.max {
		l.events[key] = ev
		return false
	}
	l.events[key] = append(ev, now)
	return true
}

// recent returns key's events within the window before now.
func (l *Limiter) recent(key string, now time.Time) []time.Time {
	ev := l.events[key]
	i := 0
	for i < len(ev) && now.Sub(ev[i]) >= l.window {
		i++
	}
	return ev[i:]
}

// sweep forgets the keys with no event in the window, so that the map
// holds only the clients of the last window.
func (l *Limiter) sweep(now time.Time) {
	for k := range l.events {
		if len(l.recent(k, now)) == 0 {
			delete(l.events, k)
		}
	}
	l.swept = now
}
