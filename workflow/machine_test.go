package workflow

import (
	"context"
	"slices"
	"strings"
	"testing"
)

// expected is DESIGN.md's workflow table written out by hand, so that a change
// to the machine that disagrees with the design fails here.
var expected = map[string]map[Trigger]State{
	"found":            {TriggerAssign: StateAssigned, TriggerDismiss: StateClosed},
	"assigned":         {TriggerReassign: StateAssigned, TriggerAccept: StateRectifying},
	"rectifying":       {TriggerSubmit: StateSubmitted},
	"submitted":        {TriggerWithdraw: StateRectifying, TriggerReject: StateRectifying, TriggerVerify: StateVerified},
	"verified":         {TriggerClose: StateClosed, TriggerReopen: StateRectifying},
	"closed/rectified": {TriggerReopen: StateRectifying},
	"closed/dismissed": {TriggerReopen: StateFound},
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
				err := fire(context.Background(), p, trig)
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
