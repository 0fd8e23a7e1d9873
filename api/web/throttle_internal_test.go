package web

import (
	"testing"
	"time"

	"github.com/jdz-eco/rectify/workflow"
)

func newTestThrottle(cfg ThrottleConfig) (*throttle, *workflow.ManualClock) {
	clock := workflow.NewManualClock(time.Date(2021, 7, 1, 0, 0, 0, 0, time.UTC))
	return newThrottle(cfg, clock), clock
}

// mustBegin reserves a sign-in attempt or fails the test.
func mustBegin(t *testing.T, th *throttle, name, ip, device string) *attempt {
	t.Helper()
	a, d := th.beginSignIn(name, ip, device)
	if a == nil {
		t.Fatalf("sign-in %s from %s (device %q) refused for %v", name, ip, device, d)
	}
	return a
}

// TestThrottleEscalates: the lockouts of one name and address double up to
// the maximum; failures outside the window do not add up; a success forgets
// the failures.
func TestThrottleEscalates(t *testing.T) {
	th, clock := newTestThrottle(ThrottleConfig{Failures: 3, Window: 10 * time.Minute, Lockout: time.Minute, MaxLockout: 5 * time.Minute})
	lockouts := []time.Duration{time.Minute, 2 * time.Minute, 4 * time.Minute, 5 * time.Minute, 5 * time.Minute}
	for i, want := range lockouts {
		for j := range 3 {
			d := mustBegin(t, th, "a", "ip", "").fail()
			if j < 2 && d != 0 || j == 2 && d != want {
				t.Fatalf("round %d failure %d: lockout %v, want %v", i, j, d, want)
			}
		}
		clock.Advance(want - time.Second)
		if a, d := th.beginSignIn("a", "ip", ""); a != nil || d != time.Second {
			t.Fatalf("round %d: %v left, want 1s", i, d)
		}
		clock.Advance(time.Second)
	}
	// Failures outside the window do not add up.
	clock.Advance(48 * time.Hour)
	for range 5 {
		mustBegin(t, th, "b", "ip2", "").fail()
		clock.Advance(6 * time.Minute)
	}
	if a, d := th.beginSignIn("b", "ip2", ""); a == nil {
		t.Errorf("spread-out failures locked the name for %v", d)
	}
	// A success clears the count of the name and address.
	mustBegin(t, th, "c", "ip3", "").fail()
	mustBegin(t, th, "c", "ip3", "").fail()
	mustBegin(t, th, "c", "ip3", "").succeed()
	if d := mustBegin(t, th, "c", "ip3", "").fail(); d != 0 {
		t.Errorf("a failure after a success locked the name for %v", d)
	}
	// ... but not while other attempts are in flight: a burst checks no
	// more than the limit, the right password among the wrong ones or not.
	mustBegin(t, th, "d", "ip4", "").fail()
	wrong := mustBegin(t, th, "d", "ip4", "")
	mustBegin(t, th, "d", "ip4", "").succeed()
	wrong.fail()
	if d := mustBegin(t, th, "d", "ip4", "").fail(); d != time.Minute {
		t.Errorf("the third failure of a burst with a success in it locked for %v, want 1m", d)
	}
}

// TestThrottleReserves: places are taken before the password is checked,
// so concurrent attempts never exceed a limit; an attempt ended without a
// verdict gives its place back; an attempt ends once.
func TestThrottleReserves(t *testing.T) {
	th, _ := newTestThrottle(ThrottleConfig{Failures: 5})
	var held []*attempt
	for range 5 {
		held = append(held, mustBegin(t, th, "局办", "10.0.0.1", ""))
	}
	a, d := th.beginSignIn("局办", "10.0.0.1", "")
	if a != nil || d != time.Minute {
		t.Fatalf("a sixth attempt in flight: %v, refused for %v; want refused for the next lockout, 1m", a != nil, d)
	}
	// Another address, or another name, has its own places.
	mustBegin(t, th, "局办", "10.0.0.2", "").cancel()
	mustBegin(t, th, "市领导", "10.0.0.1", "").cancel()
	held[0].cancel()
	held[0].cancel() // a second end changes nothing
	held[0].fail()
	a = mustBegin(t, th, "局办", "10.0.0.1", "")
	for _, h := range held[1:] {
		h.fail()
	}
	if d := a.fail(); d != time.Minute {
		t.Errorf("the fifth failure locked for %v", d)
	}
	if a, _ := th.beginSignIn("局办", "10.0.0.1", ""); a != nil {
		t.Error("a locked name and address took an attempt")
	}
}

// TestThrottleSpreads: one address trying many names is stopped, without
// stopping any name from elsewhere; one name guessed from many addresses is
// locked for unknown devices, not for a known one.
func TestThrottleSpreads(t *testing.T) {
	th, _ := newTestThrottle(ThrottleConfig{Failures: 5, AccountFailures: 8, IPFailures: 6})
	for i := range 6 {
		mustBegin(t, th, string(rune('a'+i)), "203.0.113.9", "").fail()
	}
	if a, _ := th.beginSignIn("局办", "203.0.113.9", ""); a != nil {
		t.Error("an address with too many failures took an attempt")
	}
	mustBegin(t, th, "局办", "198.51.100.1", "").cancel()
	mustBegin(t, th, "局办", "203.0.113.9", "device-1").cancel()

	for i := range 8 {
		mustBegin(t, th, "市领导", "192.0.2."+string(rune('1'+i)), "").fail()
	}
	if a, _ := th.beginSignIn("市领导", "192.0.2.200", ""); a != nil {
		t.Error("a name guessed from many addresses took an attempt from a new one")
	}
	dev := mustBegin(t, th, "市领导", "192.0.2.200", "device-2")
	dev.succeed()

	// A known device has its own count; once it is locked, it is treated
	// as any other browser (here: refused, the name being locked).
	for range 5 {
		mustBegin(t, th, "市领导", "192.0.2.200", "device-2").fail()
	}
	if a, _ := th.beginSignIn("市领导", "192.0.2.200", "device-2"); a != nil {
		t.Error("a locked device on a locked name took an attempt")
	}
	mustBegin(t, th, "市领导", "192.0.2.200", "device-3").cancel()
}
