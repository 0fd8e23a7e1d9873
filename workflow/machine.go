package workflow

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/qmuntal/stateless"
)

// transition is one row of the workflow table; the stateless machine, the
// Mermaid diagram and the API's workflow document are all built from these rows.
type transition struct {
	From    State
	Trigger Trigger
	To      State
	Guard   stateless.GuardFunc // nil when the row always applies
	When    string              // the guard in words, for diagrams
}

// table is the workflow of docs/design.md#states-and-who-fires-what, row by
// row.
var table = []transition{
	{From: StateFound, Trigger: TriggerAssign, To: StateAssigned},
	{From: StateFound, Trigger: TriggerDismiss, To: StateClosed},
	{From: StateAssigned, Trigger: TriggerReassign, To: StateAssigned},
	{From: StateAssigned, Trigger: TriggerAccept, To: StateRectifying},
	{From: StateRectifying, Trigger: TriggerSubmit, To: StateSubmitted, Guard: notYetSubmitted, When: "not yet submitted"},
	{From: StateSubmitted, Trigger: TriggerWithdraw, To: StateRectifying},
	{From: StateSubmitted, Trigger: TriggerReject, To: StateRectifying},
	{From: StateSubmitted, Trigger: TriggerVerify, To: StateVerified},
	{From: StateVerified, Trigger: TriggerClose, To: StateClosed, Guard: closesNow, When: "no notice"},
	{From: StateVerified, Trigger: TriggerClose, To: StateInNotice, Guard: startsNotice, When: "notice"},
	{From: StateVerified, Trigger: TriggerReopen, To: StateRectifying, Guard: notInNotice, When: "not in notice"},
	{From: StateInNotice, Trigger: TriggerEndNotice, To: StateClosed},
	{From: StateInNotice, Trigger: TriggerUphold, To: StateRectifying},
	{From: StateClosed, Trigger: TriggerReopen, To: StateRectifying, Guard: wasRectified, When: "rectified"},
	{From: StateClosed, Trigger: TriggerReopen, To: StateFound, Guard: wasDismissed, When: "dismissed"},
}

// Guards receive the problem as the first trigger argument.
func problemArg(args []any) *Problem {
	if len(args) > 0 {
		if p, ok := args[0].(*Problem); ok {
			return p
		}
	}
	return nil
}

// notYetSubmitted keeps submit, configured on rectifying, from applying to its
// submitted substate (stateless would otherwise inherit it silently).
func notYetSubmitted(_ context.Context, args ...any) bool {
	p := problemArg(args)
	return p != nil && p.State == StateRectifying
}

// noticeArg is the second trigger argument of a close: whether it starts a
// public notice (the source needs one) instead of closing.
type noticeArg bool

func startsNoticeArg(args []any) bool {
	if len(args) > 1 {
		if n, ok := args[1].(noticeArg); ok {
			return bool(n)
		}
	}
	return false
}

// notInNotice keeps the triggers of verified from applying to its in_notice
// substate: a problem in notice ends it or goes back on an objection.
func notInNotice(_ context.Context, args ...any) bool {
	p := problemArg(args)
	return p != nil && p.State == StateVerified
}

// closesNow: a close that needs no notice writes the problem off at once.
func closesNow(ctx context.Context, args ...any) bool {
	return notInNotice(ctx, args...) && !startsNoticeArg(args)
}

// startsNotice: a close of a problem whose source needs a notice starts it.
func startsNotice(ctx context.Context, args ...any) bool {
	return notInNotice(ctx, args...) && startsNoticeArg(args)
}

func wasRectified(_ context.Context, args ...any) bool {
	p := problemArg(args)
	return p != nil && p.Resolution == ResolutionRectified
}

func wasDismissed(_ context.Context, args ...any) bool {
	p := problemArg(args)
	return p != nil && p.Resolution == ResolutionDismissed
}

// machine is the workflow machine every command and query shares, built
// once from table. Its state lives in the problem a call carries in its
// context (withProblem), not in the machine: stateless allows concurrent use
// of one machine and leaves its callbacks unguarded, and these read and write
// only that call's problem, which the caller owns.
var machine = sync.OnceValue(func() *stateless.StateMachine {
	sm := stateless.NewStateMachineWithExternalStorage(
		func(ctx context.Context) (stateless.State, error) { return problemOf(ctx).State, nil },
		func(ctx context.Context, s stateless.State) error { problemOf(ctx).State = s.(State); return nil },
		stateless.FiringImmediate,
	)
	configure(sm)
	// Every state has its representation now, so that no later call adds one.
	for _, st := range States {
		sm.Configure(st)
	}
	return sm
})

// problemKey is the context key of the problem a machine call works on.
type problemKey struct{}

// withProblem returns ctx carrying p for the shared machine's state accessor
// and mutator.
func withProblem(ctx context.Context, p *Problem) context.Context {
	return context.WithValue(ctx, problemKey{}, p)
}

// problemOf returns the problem of a machine call; a call without one is a
// programming error.
func problemOf(ctx context.Context) *Problem {
	p, ok := ctx.Value(problemKey{}).(*Problem)
	if !ok {
		panic("workflow: machine call without a problem in its context")
	}
	return p
}

// newMachine builds a machine of its own for p (external storage, immediate
// firing), for tests and diagrams; commands use the shared machine.
func newMachine(p *Problem) *stateless.StateMachine {
	sm := stateless.NewStateMachineWithExternalStorage(
		func(context.Context) (stateless.State, error) { return p.State, nil },
		func(_ context.Context, s stateless.State) error { p.State = s.(State); return nil },
		stateless.FiringImmediate,
	)
	configure(sm)
	return sm
}

func configure(sm *stateless.StateMachine) {
	sm.Configure(StateSubmitted).SubstateOf(StateRectifying)
	sm.Configure(StateInNotice).SubstateOf(StateVerified)
	for _, r := range table {
		cfg := sm.Configure(r.From)
		var guards []stateless.GuardFunc
		if r.Guard != nil {
			guards = append(guards, r.Guard)
		}
		if r.From == r.To {
			cfg.PermitReentry(r.Trigger, guards...)
		} else {
			cfg.Permit(r.Trigger, r.To, guards...)
		}
	}
	sm.OnUnhandledTrigger(func(_ context.Context, state stateless.State, t stateless.Trigger, _ []string) error {
		tr, _ := t.(Trigger)
		return Refuse(ReasonNotPermitted, "trigger %s is not permitted in state %s", t, state).InState(state.(State), nil).Refusing(tr)
	})
}

// stateTriggers returns the triggers the workflow permits on p's state,
// whoever fires them, in table order.
func stateTriggers(p *Problem) []Trigger {
	got, err := machine().PermittedTriggersCtx(withProblem(context.Background(), p), p)
	if err != nil {
		return nil
	}
	out := make([]Trigger, 0, len(got))
	for _, t := range Triggers {
		if slices.Contains(got, stateless.Trigger(t)) {
			out = append(out, t)
		}
	}
	return out
}

// fire moves p.State by trigger t on the shared machine; notice says
// whether a close starts a public notice.
func fire(ctx context.Context, p *Problem, t Trigger, notice bool) error {
	return machine().FireCtx(withProblem(ctx, p), t, p, noticeArg(notice))
}

// DOT renders the workflow machine in Graphviz DOT (stateless ToGraph).
func DOT() string {
	sm := stateless.NewStateMachine(StateFound)
	configure(sm)
	return sm.ToGraph()
}

// Mermaid renders the workflow as a Mermaid state diagram.
func Mermaid() string {
	var b strings.Builder
	b.WriteString("stateDiagram-v2\n")
	b.WriteString("    [*] --> found: create\n")
	for _, r := range table {
		label := string(r.Trigger)
		if r.When != "" && (r.Trigger == TriggerReopen || r.Trigger == TriggerClose) {
			label += " (" + r.When + ")"
		}
		fmt.Fprintf(&b, "    %s --> %s: %s\n", r.From, r.To, label)
	}
	b.WriteString("    closed --> [*]\n")
	b.WriteString("    note right of submitted: substate of rectifying\n")
	b.WriteString("    note right of in_notice: substate of verified (公示)\n")
	return b.String()
}

// TransitionInfo describes one row of the workflow table for documentation.
type TransitionInfo struct {
	From    State   `json:"from"`
	Trigger Trigger `json:"trigger"`
	To      State   `json:"to"`
	When    string  `json:"when,omitempty"`
}

// Transitions returns the workflow table.
func Transitions() []TransitionInfo {
	out := make([]TransitionInfo, len(table))
	for i, r := range table {
		out[i] = TransitionInfo{From: r.From, Trigger: r.Trigger, To: r.To, When: r.When}
	}
	return out
}
