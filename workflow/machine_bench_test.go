package workflow

import (
	"context"
	"testing"
)

// BenchmarkPermittedTriggers is the cost of the permitted triggers every API
// answer lists, for a unit officer on a rectifying problem with evidence.
func BenchmarkPermittedTriggers(b *testing.B) {
	s := &Service{}
	p := &Problem{State: StateRectifying, LeadUnit: "fuliang", Evidence: []Evidence{{Round: 0}}}
	a := Actor{ID: "u-lead", Role: RoleUnit, UnitID: "fuliang"}
	b.ReportAllocs()
	for b.Loop() {
		if len(s.PermittedTriggers(a, p)) != 1 {
			b.Fatal("want submit")
		}
	}
}

// BenchmarkFire is the cost of checking and firing one trigger on the machine.
func BenchmarkFire(b *testing.B) {
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		p := &Problem{State: StateSubmitted}
		if err := fire(ctx, p, TriggerVerify, false); err != nil || p.State != StateVerified {
			b.Fatal(err)
		}
	}
}
