package web

import (
	"sync"
	"time"

	"github.com/jdz-eco/rectify/workflow"
)

// ThrottleConfig bounds password guessing. Every attempt takes a place in
// the counts it falls under before its password is checked, and gives it
// back as a failure or not when the check ends, so that concurrent attempts
// can never check more passwords than a count allows. A count that reaches
// its limit within Window refuses further attempts for Lockout, twice as
// long after each next lockout, up to MaxLockout; refused attempts check no
// password.
//
// An attempt from a browser that signed in as the user before (a device
// cookie, workflow.KnownDevice) is counted only against that device, with
// the limit Failures. Any other attempt is counted against
//   - the name and the client address together (Failures): a guesser behind
//     one address locks out that name from that address only;
//   - the name from anywhere (AccountFailures): guessing spread over many
//     addresses locks the name for browsers it was not used on before;
//   - the client address (IPFailures): one address trying many names is
//     stopped, without stopping the users who signed in from it before.
//
// The counts live in the server's memory: each replica counts its own, and a
// restart forgets them (see the README).
type ThrottleConfig struct {
	Failures        int           // per name and address, and per known device (default 5)
	AccountFailures int           // per name, from unknown devices anywhere (default 20)
	IPFailures      int           // per client address, from unknown devices (default 20)
	Window          time.Duration // default 15 minutes
	Lockout         time.Duration // the first lockout (default 1 minute)
	MaxLockout      time.Duration // default 1 hour
}

func (c *ThrottleConfig) defaults() {
	if c.Failures <= 0 {
		c.Failures = 5
	}
	if c.AccountFailures <= 0 {
		c.AccountFailures = 20
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

// forgetAfter is how long a count without failures keeps its lockout count.
const forgetAfter = 24 * time.Hour

// maxKeys bounds the counts kept; beyond it, counts not locked and not in
// use are dropped.
const maxKeys = 100_000

// throttle keeps the counts by key.
type throttle struct {
	cfg   ThrottleConfig
	clock workflow.Clock

	mu   sync.Mutex
	keys map[string]*tally
	ops  int
}

// tally is one count.
type tally struct {
	fails    int       // failures in the window starting at first
	first    time.Time //
	last     time.Time // the last failure
	until    time.Time // refused until then
	lockouts int       // lockouts so far: the next one lasts Lockout·2^lockouts
	inflight int       // attempts holding a place, their passwords being checked
}

func newThrottle(cfg ThrottleConfig, clock workflow.Clock) *throttle {
	cfg.defaults()
	return &throttle{cfg: cfg, clock: clock, keys: map[string]*tally{}}
}

// limit is one count an attempt falls under; a right password forgets the
// failures of a count marked clear.
type limit struct {
	key   string
	max   int
	clear bool
}

func pairKey(name, ip string) string { return "pair:" + ip + "\x00" + name }
func nameKey(name string) string     { return "name:" + name }
func ipKey(ip string) string         { return "ip:" + ip }
func deviceKey(device string) string { return "device:" + device }

// signIn returns the counts a sign-in for name from ip falls under: the
// device's alone when device (a known device's id) is not empty.
func (t *throttle) signIn(name, ip, device string) []limit {
	if device != "" {
		return []limit{{deviceKey(device), t.cfg.Failures, true}}
	}
	return []limit{{pairKey(name, ip), t.cfg.Failures, true}, {nameKey(name), t.cfg.AccountFailures, false}, {ipKey(ip), t.cfg.IPFailures, false}}
}

// passwordCheck returns the counts a signed-in user's check of their current
// password (to change it) falls under.
func (t *throttle) passwordCheck(name, ip string) []limit {
	return []limit{{pairKey(name, ip), t.cfg.Failures, true}, {nameKey(name), t.cfg.AccountFailures, false}}
}

// attempt is a password check holding a place in its counts; exactly one of
// fail, succeed and cancel ends it (later calls do nothing).
type attempt struct {
	t      *throttle
	limits []limit
	held   []*tally
}

// beginSignIn reserves a place for a sign-in attempt for name from ip. A
// known device (device not empty) that is locked or full is treated as any
// other browser. It returns the attempt, or how long attempts are refused.
func (t *throttle) beginSignIn(name, ip, device string) (*attempt, time.Duration) {
	if device != "" {
		if a, _ := t.begin(t.signIn(name, ip, device)); a != nil {
			return a, 0
		}
	}
	return t.begin(t.signIn(name, ip, ""))
}

// begin reserves a place in each of limits, or none: it returns how long
// attempts are refused when one of them is locked, or full (its failures and
// the attempts in flight reach its limit; the wait is then the lockout that
// would follow).
func (t *throttle) begin(limits []limit) (*attempt, time.Duration) {
	now := t.clock.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.prune(now)
	var wait time.Duration
	for _, l := range limits {
		tl := t.keys[l.key]
		if tl == nil {
			continue
		}
		switch {
		case tl.until.After(now):
			wait = max(wait, tl.until.Sub(now))
		case t.failsNow(tl, now)+tl.inflight >= l.max:
			wait = max(wait, t.nextLockout(tl, now))
		}
	}
	if wait > 0 {
		return nil, wait
	}
	a := &attempt{t: t, limits: limits, held: make([]*tally, len(limits))}
	for i, l := range limits {
		tl := t.keys[l.key]
		if tl == nil {
			tl = &tally{}
			t.keys[l.key] = tl
		}
		tl.inflight++
		a.held[i] = tl
	}
	return a, 0
}

// failsNow is tl's failures in a window still open at now.
func (t *throttle) failsNow(tl *tally, now time.Time) int {
	if now.Sub(tl.first) > t.cfg.Window {
		return 0
	}
	return tl.fails
}

// nextLockout is how long the next lockout of tl lasts.
func (t *throttle) nextLockout(tl *tally, now time.Time) time.Duration {
	n := tl.lockouts
	if now.Sub(tl.last) > forgetAfter {
		n = 0
	}
	d := t.cfg.Lockout << min(n, 30)
	if d > t.cfg.MaxLockout || d <= 0 {
		d = t.cfg.MaxLockout
	}
	return d
}

// fail ends the attempt as a wrong password: each of its counts gains a
// failure, and one that reaches its limit is locked. It returns how long
// attempts under any of them are now refused (zero if not).
func (a *attempt) fail() time.Duration {
	t := a.t
	now := t.clock.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	var wait time.Duration
	for i, tl := range a.held {
		if tl == nil {
			return 0 // ended already
		}
		tl.inflight--
		if now.Sub(tl.last) > forgetAfter {
			tl.lockouts = 0
		}
		if tl.fails == 0 || now.Sub(tl.first) > t.cfg.Window {
			tl.fails, tl.first = 0, now
		}
		tl.fails++
		tl.last = now
		if tl.fails >= a.limits[i].max {
			tl.until = now.Add(t.nextLockout(tl, now))
			tl.lockouts++
			tl.fails = 0
		}
		if tl.until.After(now) {
			wait = max(wait, tl.until.Sub(now))
		}
		a.held[i] = nil
	}
	return wait
}

// succeed ends the attempt as a right password: the failures of its
// name-and-address or device count are forgotten, unless other attempts
// are in flight under it (a burst that holds the right password among
// wrong ones checks no more than the limit). Its lockout count stays, so
// that a guesser who also knows the password gains nothing; it fades after
// a day. The name's and the address's counts keep their failures.
func (a *attempt) succeed() {
	a.end(func(l limit, tl *tally) {
		if l.clear && tl.inflight == 0 {
			tl.fails = 0
		}
	})
}

// cancel ends the attempt as neither: the password was not judged (an
// error), or was right for a user who may not sign in.
func (a *attempt) cancel() {
	if a != nil {
		a.end(func(limit, *tally) {})
	}
}

func (a *attempt) end(fn func(limit, *tally)) {
	a.t.mu.Lock()
	defer a.t.mu.Unlock()
	for i, tl := range a.held {
		if tl == nil {
			return
		}
		tl.inflight--
		fn(a.limits[i], tl)
		a.held[i] = nil
	}
}

// prune drops, now and then, counts not in use with no lockout running and
// no failure for a day; and counts not locked at all once there are too
// many.
func (t *throttle) prune(now time.Time) {
	t.ops++
	if t.ops%1024 != 0 && len(t.keys) < maxKeys {
		return
	}
	crowded := len(t.keys) >= maxKeys
	for k, tl := range t.keys {
		idle := tl.inflight == 0 && !tl.until.After(now)
		if idle && (crowded || now.Sub(tl.last) > forgetAfter) {
			delete(t.keys, k)
		}
	}
}
