package workflow

import "testing"

// TestTallyHasEveryState: a count per state, before the other counts (a
// new state that did not move them would count into TallyDismissed).
func TestTallyHasEveryState(t *testing.T) {
	if len(States) != stateCount {
		t.Fatalf("%d states, stateCount %d", len(States), stateCount)
	}
	if got := stateIndex(States[len(States)-1]); got >= TallyDismissed {
		t.Fatalf("the last state's count %d overlaps TallyDismissed %d", got, TallyDismissed)
	}
}
