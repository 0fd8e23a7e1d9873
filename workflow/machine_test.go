package workflow

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
)

// expected is the workflow table of docs/design.md#states-and-who-fires-what
// written out by hand, so that a change to the machine that disagrees with
// the design fails here.
var expected = map[string]map[Trigger]State{
	"found":            {TriggerAssign: StateAssigned, TriggerDismiss: StateClosed},
	"assigned":         {TriggerReassign: StateAssigned, TriggerAccept: StateRectifying},
	"rectifying":       {TriggerSubmit: StateSubmitted},
	"submitted":        {TriggerWithdraw: StateRectifying, TriggerReject: StateRectifying, TriggerVerify: StateVerified},
	"verified":         {TriggerClose: StateClosed, TriggerReopen: StateRectifying},
	"in_notice":        {TriggerEndNotice: StateClosed, TriggerUphold: StateRectifying},
	"closed/rectified": {TriggerReopen: StateRectifying},
	"closed/dismissed": {TriggerReopen: StateFound},
}

// TestCloseStartsNotice: a close whose source needs a public notice goes
// to in_notice, a substate of verified, instead of closed.
func TestCloseStartsNotice(t *testing.T) {
	p := &Problem{State: StateVerified}
	if err := fire(context.Background(), p, TriggerClose, true); err != nil || p.State != StateInNotice {
		t.Fatalf("close with a notice: %s, %v", p.State, err)
	}
	if in, err := machine().IsInStateCtx(withProblem(context.Background(), p), StateVerified); err != nil || !in {
		t.Fatal("in_notice is not a substate of verified")
	}
}

func problemIn(name string) *Problem {
	state, res, _ := strings.Cut(name, "/")
	return &Problem{State: State(state), Resolution: Resolution(res)}
}

func TestEveryStateTriggerPair(t *testing.T) {
	for name, allowed := range expected {
		for _, trig := range Triggers {
			t.Run(name+"/"+string(trig), func(t *testing.T) {
				p := problemIn(name)
				err := fire(context.Background(), p, trig, false)
				want, ok := allowed[trig]
				if !ok {
					if ErrorCode(err) != CodeConflict {
						t.Fatalf("fire %s in %s: got %v, want a conflict", trig, name, err)
					}
					if p.State != problemIn(name).State {
						t.Fatalf("refused trigger moved the state to %s", p.State)
					}
					return
				}
				if err != nil {
					t.Fatalf("fire %s in %s: %v", trig, name, err)
				}
				if p.State != want {
					t.Fatalf("fire %s in %s: got %s, want %s", trig, name, p.State, want)
				}
			})
		}
		p := problemIn(name)
		var want []Trigger
		for _, trig := range Triggers {
			if _, ok := allowed[trig]; ok {
				want = append(want, trig)
			}
		}
		if got := stateTriggers(p); !slices.Equal(got, want) {
			t.Errorf("%s: permitted %v, want %v", name, got, want)
		}
	}
}

func TestSubmittedIsRectifying(t *testing.T) {
	p := &Problem{State: StateSubmitted}
	ok, err := newMachine(p).IsInStateCtx(context.Background(), StateRectifying)
	if err != nil || !ok {
		t.Fatalf("submitted is not in rectifying: %v %v", ok, err)
	}
	if !p.InRectifying() {
		t.Fatal("InRectifying false for submitted")
	}
}

func TestDiagrams(t *testing.T) {
	dot := DOT()
	for _, s := range []string{"cluster_rectifying", "found -> assigned", "submitted -> verified", "closed -> found"} {
		if !strings.Contains(dot, s) {
			t.Errorf("DOT lacks %q:\n%s", s, dot)
		}
	}
	mm := Mermaid()
	if !strings.HasPrefix(mm, "stateDiagram-v2\n") {
		t.Fatalf("Mermaid does not start with stateDiagram-v2:\n%s", mm)
	}
	for _, r := range Transitions() {
		if !strings.Contains(mm, string(r.From)+" --> "+string(r.To)+": "+string(r.Trigger)) {
			t.Errorf("Mermaid lacks %s -%s-> %s", r.From, r.Trigger, r.To)
		}
	}
}

// TestSharedMachineConcurrent fires triggers on many problems at once on the
// one shared machine (run with -race): each call sees and moves only its own
// problem.
func TestSharedMachineConcurrent(t *testing.T) {
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			for i := range 200 {
				p := &Problem{State: StateFound}
				path := []Trigger{TriggerAssign, TriggerAccept, TriggerSubmit, TriggerVerify, TriggerClose}
				if (g+i)%2 == 1 {
					path = []Trigger{TriggerDismiss}
				}
				for _, trig := range path {
					if err := fire(context.Background(), p, trig, false); err != nil {
						t.Errorf("fire %s: %v", trig, err)
						return
					}
				}
				if p.State != StateClosed {
					t.Errorf("ended in %s", p.State)
				}
				p.Resolution = ResolutionRectified // applyEffects' part, not the machine's
				if got := stateTriggers(p); !slices.Equal(got, []Trigger{TriggerReopen}) {
					t.Errorf("closed permits %v", got)
				}
			}
		})
	}
	wg.Wait()
}

// TestSharedMachineMatchesFresh checks the shared machine against a machine
// built for the problem alone, for every state, resolution and trigger.
func TestSharedMachineMatchesFresh(t *testing.T) {
	resolutions := []Resolution{ResolutionNone, ResolutionRectified, ResolutionDismissed}
	for _, st := range States {
		for _, res := range resolutions {
			p := &Problem{State: st, Resolution: res}
			fresh, err := newMachine(p).PermittedTriggersCtx(context.Background(), p)
			if err != nil {
				t.Fatal(err)
			}
			var want []Trigger
			for _, trig := range Triggers {
				if slices.Contains(fresh, any(trig)) {
					want = append(want, trig)
				}
			}
			if got := stateTriggers(p); !slices.Equal(got, want) {
				t.Errorf("%s/%s: shared machine permits %v, a fresh one %v", st, res, got, want)
			}
			for _, trig := range Triggers {
				a, b := &Problem{State: st, Resolution: res}, &Problem{State: st, Resolution: res}
				errShared := fire(context.Background(), a, trig, false)
				errFresh := newMachine(b).FireCtx(context.Background(), trig, b)
				if a.State != b.State || ErrorCode(errShared) != ErrorCode(errFresh) {
					t.Errorf("%s/%s %s: shared gives %s (%v), fresh %s (%v)", st, res, trig, a.State, errShared, b.State, errFresh)
				}
			}
		}
	}
}
