package web

import (
	"sync"
	"time"

	"github.com/jdz-eco/rectify/workflow"
)

// ThrottleConfig slows down wrong passwords: after Failures wrong passwords
// for one name (or IPFailures from one client address) within Window,
// further attempts for it are refused for Lockout, twice as long after each
// next lockout, up to MaxLockout. Refused attempts check no password. The
// counts are kept in the server's memory: each replica counts its own, and a
// restart forgets them.
type ThrottleConfig struct {
	Failures   int           // per user name (default 5)
	IPFailures int           // per client address (default 20: an office may share one address)
	Window     time.Duration // default 15 minutes
	Lockout    time.Duration // the first lockout (default 1 minute)
	MaxLockout time.Duration // default 1 hour
}

func (c *ThrottleConfig) defaults() {
	if c.Failures <= 0 {
		c.Failures = 5
	}
	if c.IPFailures <= 0 {
		c.IPFailures = 20
	}
	if c.Window <= 0 {
		c.Window = 15 * time.Minute
	}
	if c.Lockout <= 0 {
		c.Lockout = time.Minute
	}
	if c.MaxLockout < c.Lockout {
		c.MaxLockout = max(time.Hour, c.Lockout)
	}
}

// forgetAfter is how long a key without failures keeps its lockout count.
const forgetAfter = 24 * time.Hour

// maxKeys bounds the keys kept; beyond it, keys not locked are dropped.
const maxKeys = 100_000

// throttle counts wrong passwords per key ("name:…", "ip:…").
type throttle struct {
	cfg   ThrottleConfig
	clock workflow.Clock

	mu   sync.Mutex
	keys map[string]*tally
	ops  int
}

type tally struct {
	fails    int       // in the window starting at first
	first    time.Time //
	last     time.Time // the last failure
	until    time.Time // refused until then
	lockouts int       // lockouts so far: the next one lasts Lockout·2^lockouts
}

func newThrottle(cfg ThrottleConfig, clock workflow.Clock) *throttle {
	cfg.defaults()
	return &throttle{cfg: cfg, clock: clock, keys: map[string]*tally{}}
}

func nameKey(name string) string { return "name:" + name }
func ipKey(ip string) string     { return "ip:" + ip }

// wait returns how much longer attempts for any of keys are refused; zero
// when they may go ahead.
func (t *throttle) wait(keys ...string) time.Duration {
	now := t.clock.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	var w time.Duration
	for _, k := range keys {
		if tl := t.keys[k]; tl != nil && tl.until.After(now) {
			w = max(w, tl.until.Sub(now))
		}
	}
	return w
}

// fail records a wrong password for name from ip and returns how long
// attempts are now refused (zero if not).
func (t *throttle) fail(name, ip string) time.Duration {
	now := t.clock.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.prune(now)
	var w time.Duration
	for _, k := range []struct {
		key   string
		limit int
	}{{nameKey(name), t.cfg.Failures}, {ipKey(ip), t.cfg.IPFailures}} {
		tl := t.keys[k.key]
		if tl == nil {
			tl = &tally{first: now}
			t.keys[k.key] = tl
		}
		if now.Sub(tl.last) > forgetAfter {
			tl.lockouts = 0
		}
		if now.Sub(tl.first) > t.cfg.Window {
			tl.fails, tl.first = 0, now
		}
		tl.fails++
		tl.last = now
		if tl.fails >= k.limit {
			d := t.cfg.Lockout << min(tl.lockouts, 30)
			if d > t.cfg.MaxLockout || d <= 0 {
				d = t.cfg.MaxLockout
			}
			tl.until = now.Add(d)
			tl.lockouts++
			tl.fails, tl.first = 0, now
		}
		if tl.until.After(now) {
			w = max(w, tl.until.Sub(now))
		}
	}
	return w
}

// succeed forgets the failures of name (its lockout count stays, so that a
// guesser who also knows the password gains nothing; it fades after a day).
func (t *throttle) succeed(name string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if tl := t.keys[nameKey(name)]; tl != nil {
		tl.fails = 0
	}
}

// prune drops, now and then, keys with no lockout running and no failure
// for a day; and keys not locked at all once there are too many.
func (t *throttle) prune(now time.Time) {
	t.ops++
	if t.ops%1024 != 0 && len(t.keys) < maxKeys {
		return
	}
	crowded := len(t.keys) >= maxKeys
	for k, tl := range t.keys {
		idle := !tl.until.After(now)
		if idle && (crowded || now.Sub(tl.last) > forgetAfter) {
			delete(t.keys, k)
		}
	}
}
