package workflow

import "time"

// Day is 24 hours; deadline thresholds are counted in whole days.
const Day = 24 * time.Hour

// Policy holds the supervision (督办) thresholds and the separation of
// duties, all configurable.
type Policy struct {
	DueSoon time.Duration // due_soon this long before the deadline (default 7 days)
	Red     time.Duration // red card when overdue by more than this (default 30 days)
	Listed  time.Duration // listed supervision when overdue by more than this (default 60 days)

	AcceptDays int // working days the lead unit has to accept after assignment (default 3)
	VerifyDays int // working days the inspectors have to verify or reject a submission (default 15)

	// ExtensionGrace is how long after the deadline the lead unit may still ask
	// for an extension; zero (the default) means only before it passes.
	ExtensionGrace time.Duration

	// Separation is who may not verify, reject or close (see Separation);
	// "" is SeparationStrict.
	Separation Separation
}

// DefaultPolicy returns the thresholds of
// docs/design.md#deadlines-levels-and-stage-clocks.
func DefaultPolicy() Policy {
	return Policy{DueSoon: 7 * Day, Red: 30 * Day, Listed: 60 * Day, AcceptDays: 3, VerifyDays: 15, Separation: SeparationStrict}
}

// Levels returns the thresholds of the levels alone (DueSoon, Red,
// Listed), what the statistics' tallies depend on (docs/design.md#rollups).
func (p Policy) Levels() Policy {
	return Policy{DueSoon: p.DueSoon, Red: p.Red, Listed: p.Listed}
}

// Validate checks that the thresholds are ordered and positive.
func (p Policy) Validate() error {
	switch {
	case p.DueSoon < 0:
		return RefuseField(ReasonBadConfig, "due_soon", "the due-soon window must not be negative")
	case p.Red <= 0 || p.Listed <= p.Red:
		return RefuseField(ReasonBadConfig, "red", "thresholds must satisfy 0 < red < listed")
	case p.AcceptDays <= 0 || p.VerifyDays <= 0:
		return RefuseField(ReasonBadConfig, "accept_days", "stage clocks need at least one working day")
	case p.ExtensionGrace < 0:
		return RefuseField(ReasonBadConfig, "extension_grace", "the extension grace must not be negative")
	case !p.Separation.Valid():
		return RefuseField(ReasonBadConfig, "separation", "unknown separation rule %q; one of %v", p.Separation, Separations)
	}
	return nil
}
