package workflow

import (
	"math"
	"time"
)

// Level is how late an open problem is (督办等级).
type Level string

// Levels, least severe first.
const (
	LevelNone    Level = ""
	LevelDueSoon Level = "due_soon" // 临期
	LevelOverdue Level = "overdue"  // 逾期, yellow card 黄牌
	LevelRed     Level = "red"      // overdue > 30 days, red card 红牌
	LevelListed  Level = "listed"   // overdue > 60 days, listed supervision 挂牌督办
)

// Levels lists the deadline levels, least severe first.
var Levels = []Level{LevelDueSoon, LevelOverdue, LevelRed, LevelListed}

func (l Level) rank() int {
	for i, x := range Levels {
		if l == x {
			return i + 1
		}
	}
	return 0
}

// Valid reports whether l is a known, non-empty level.
func (l Level) Valid() bool { return l.rank() > 0 }

// Stage is a step with its own clock.
type Stage string

// Stages with clocks: the lead unit accepting an assignment, the inspectors
// deciding a submission.
const (
	StageAccept Stage = "accept"
	StageVerify Stage = "verify"
)

// Alert kinds recorded in history besides the levels: a stage clock breached.
const (
	AlertAcceptLate = "accept_late" // against the lead unit
	AlertVerifyLate = "verify_late" // against the inspectors
)

// ActionAlert is the history action of a level reached or a stage breached.
const ActionAlert = "alert"

// Supervision is a problem's deadline bookkeeping. The domain derives it at
// every command and scan; it is recorded with each history entry so that a
// replay reproduces it exactly.
type Supervision struct {
	// Level is the highest deadline level recorded (alerted) since the
	// deadline was last set.
	Level Level `json:"level,omitempty"`
	// PausedSeconds is the time spent submitted since the deadline was set;
	// it does not count against the unit. PausedAt is when the current
	// submission began.
	PausedSeconds int64      `json:"paused_seconds,omitempty"`
	PausedAt      *time.Time `json:"paused_at,omitempty"`
	// Stage is the running stage clock, due at StageDue; StageLate once its
	// breach is recorded.
	Stage     Stage      `json:"stage,omitempty"`
	StageDue  *time.Time `json:"stage_due,omitempty"`
	StageLate bool       `json:"stage_late,omitempty"`
	// WakeAt is when the scanner must look at the problem next: the earliest
	// time another alert becomes due. Nil when none can.
	WakeAt *time.Time `json:"wake_at,omitempty"`
}

func (s Supervision) clone() Supervision {
	c := s
	c.PausedAt = clonePtr(s.PausedAt)
	c.StageDue = clonePtr(s.StageDue)
	c.WakeAt = clonePtr(s.WakeAt)
	return c
}

func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

// Tags returns the alert index values of p: its recorded level, "late" when
// it is overdue or worse, and a breached stage. Stores index them so that
// filters and the alert list need not scan the ledger.
func (p *Problem) Tags() []string {
	var tags []string
	if l := p.Supervision.Level; l != LevelNone && p.clockRuns() {
		tags = append(tags, string(l))
		if l.rank() >= LevelOverdue.rank() {
			tags = append(tags, TagLate)
		}
	}
	if p.Supervision.StageLate {
		tags = append(tags, stageAlert(p.Supervision.Stage))
	}
	if p.Lookback != nil && p.Lookback.Status == LookbackPending {
		tags = append(tags, TagLookback)
	}
	if p.IsPublic() {
		tags = append(tags, TagPublic)
	}
	return tags
}

// TagLate is the index tag of every problem overdue or worse.
const TagLate = "late"

// TagPublic is the index tag of every problem the public sees (IsPublic),
// which the public notice page walks. It is no alert: not in AlertTags.
const TagPublic = "public"

// AlertTags lists every alert tag Problem.Tags can carry (the values of
// ProblemFilter.Tag the lists offer), the levels from the mildest, then
// TagLate and the stage breaches; Tags adds TagPublic besides.
var AlertTags = []string{
	string(LevelDueSoon), string(LevelOverdue), string(LevelRed), string(LevelListed),
	TagLate, AlertAcceptLate, AlertVerifyLate, TagLookback,
}

func stageAlert(s Stage) string {
	if s == StageVerify {
		return AlertVerifyLate
	}
	return AlertAcceptLate
}

// clockRuns reports whether p's deadline clock runs in its state.
func (p *Problem) clockRuns() bool {
	return p.Deadline != nil && (p.State == StateAssigned || p.State == StateRectifying || p.State == StateSubmitted)
}

// EffectiveDeadline is the deadline plus the time spent waiting on inspectors.
func (p *Problem) EffectiveDeadline() *time.Time {
	if p.Deadline == nil {
		return nil
	}
	t := p.Deadline.Add(time.Duration(p.Supervision.PausedSeconds) * time.Second)
	return &t
}

// Lateness returns how far past its effective deadline p is at now (negative
// while time is left), frozen while it is submitted; ok is false when p has no
// running deadline (not assigned, verified, closed).
func (p *Problem) Lateness(now time.Time) (late time.Duration, ok bool) {
	if !p.clockRuns() {
		return 0, false
	}
	at := now
	if p.State == StateSubmitted && p.Supervision.PausedAt != nil {
		at = *p.Supervision.PausedAt
	}
	return at.Sub(*p.EffectiveDeadline()), true
}

// LevelAt returns p's deadline level at now under policy pol.
func (p *Problem) LevelAt(now time.Time, pol Policy) Level {
	late, ok := p.Lateness(now)
	switch {
	case !ok:
		return LevelNone
	case late > pol.Listed:
		return LevelListed
	case late > pol.Red:
		return LevelRed
	case late > 0:
		return LevelOverdue
	case -late <= pol.DueSoon:
		return LevelDueSoon
	}
	return LevelNone
}

// DaysOverdue and DaysLeft express p's lateness at now in days: overdue days
// round up (one second late is one day), days left round down.
func (p *Problem) DaysOverdue(now time.Time) (overdue, left int, ok bool) {
	late, ok := p.Lateness(now)
	if !ok {
		return 0, 0, false
	}
	if late > 0 {
		return int(math.Ceil(float64(late) / float64(Day))), 0, true
	}
	return 0, int(-late / Day), true
}

// nextWake returns when the next alert of p becomes due, or nil.
func (p *Problem) nextWake(pol Policy) *time.Time {
	var wake *time.Time
	earlier := func(t time.Time) {
		if wake == nil || t.Before(*wake) {
			wake = &t
		}
	}
	if p.clockRuns() && p.State != StateSubmitted {
		due := *p.EffectiveDeadline()
		thresholds := []time.Time{due.Add(-pol.DueSoon), due.Add(time.Second), due.Add(pol.Red + time.Second), due.Add(pol.Listed + time.Second)}
		for i, l := range Levels {
			if l.rank() > p.Supervision.Level.rank() {
				earlier(thresholds[i])
				break
			}
		}
	}
	if p.Supervision.Stage != "" && !p.Supervision.StageLate && p.Supervision.StageDue != nil {
		earlier(p.Supervision.StageDue.Add(time.Second))
	}
	if t := p.noticeWake(); t != nil {
		earlier(*t)
	}
	return wake
}

// supervise records, at now, every alert p has newly reached (one entry
// each) and sets its next wake time. It is called after every command and by
// the scanner.
func supervise(p *Problem, now time.Time, pol Policy) []Entry {
	var out []Entry
	sv := &p.Supervision
	if l := p.LevelAt(now, pol); l.rank() > sv.Level.rank() {
		sv.Level = l
		days, _, _ := p.DaysOverdue(now)
		out = append(out, Entry{At: now, Actor: systemActor, Action: ActionAlert, From: p.State, To: p.State,
			Params: Params{Level: string(l), Against: "lead_unit", DaysOverdue: days}})
	}
	out = append(out, stageBreach(p, now)...)
	sv.WakeAt = p.nextWake(pol)
	for i := range out {
		applyEffects(p, &out[i])
	}
	return out
}

// stageBreach records, at now, that p's running stage clock ran out, once.
// Commands call it before they stop a stage so that a late acceptance or a
// late decision is on record even if no scan ran in between.
func stageBreach(p *Problem, now time.Time) []Entry {
	sv := &p.Supervision
	if sv.Stage == "" || sv.StageLate || sv.StageDue == nil || !now.After(*sv.StageDue) {
		return nil
	}
	sv.StageLate = true
	against := "lead_unit"
	if sv.Stage == StageVerify {
		against = "inspectors"
	}
	return []Entry{{At: now, Actor: systemActor, Action: ActionAlert, From: p.State, To: p.State,
		Params: Params{Level: stageAlert(sv.Stage), Against: against}}}
}

// systemActor records what the server does on its own (alerts).
var systemActor = Actor{ID: "system", Name: "督办扫描", Role: RoleSystem}

// restartClocks updates the bookkeeping for a command that just moved p, at now.
func restartClocks(p *Problem, t Trigger, from State, now time.Time, cal *Calendar, pol Policy) {
	sv := &p.Supervision
	switch t {
	case TriggerAssign, TriggerReassign:
		if t == TriggerAssign || sv.Stage == StageAccept {
			sv.Stage, sv.StageDue, sv.StageLate = StageAccept, ptr(cal.AddWorkdays(now, pol.AcceptDays)), false
		}
	case TriggerAccept:
		sv.Stage, sv.StageDue, sv.StageLate = "", nil, false
	case TriggerSubmit:
		sv.PausedAt = ptr(now)
		sv.Stage, sv.StageDue, sv.StageLate = StageVerify, ptr(cal.AddWorkdays(now, pol.VerifyDays)), false
	case TriggerWithdraw, TriggerReject:
		if sv.PausedAt != nil {
			sv.PausedSeconds += int64(now.Sub(*sv.PausedAt) / time.Second)
		}
		sv.PausedAt = nil
		sv.Stage, sv.StageDue, sv.StageLate = "", nil, false
	case TriggerVerify, TriggerDismiss, TriggerClose, TriggerReopen, TriggerUphold:
		// Verified, closed or reopened with a new deadline: no level carries over.
		sv.Stage, sv.StageDue, sv.StageLate = "", nil, false
		sv.PausedAt = nil
		sv.Level = LevelNone
	}
}

// resetDeadlineCycle starts the level bookkeeping over for a new deadline.
func resetDeadlineCycle(p *Problem) {
	p.Supervision.Level = LevelNone
	p.Supervision.PausedSeconds = 0
	if p.State == StateSubmitted {
		// Still waiting on the inspectors: the pause goes on.
		return
	}
	p.Supervision.PausedAt = nil
}

func ptr[T any](v T) *T { return &v }
