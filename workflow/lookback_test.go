package workflow_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/jdz-eco/rectify/workflow"
)

// closedIn returns n problems closed in a quarter, spread over counties as
// the weights say (the city's counties and districts, a zone with few).
func closedIn(n int, counties map[string]int) []workflow.LookbackCandidate {
	var out []workflow.LookbackCandidate
	names := make([]string, 0, len(counties))
	for c := range counties {
		names = append(names, c)
	}
	slices.Sort(names)
	for _, c := range names {
		for i := range counties[c] {
			out = append(out, workflow.LookbackCandidate{ID: fmt.Sprintf("%s-%03d", c, i), CountyID: c})
		}
	}
	return out[:min(n, len(out))]
}

func TestLookbackDrawIsReproducible(t *testing.T) {
	closed := closedIn(200, map[string]int{"fuliang": 90, "leping": 70, "changjiang": 39, "gaoxin": 1})
	a, err := workflow.DrawLookback(closed, workflow.DefaultLookbackShare, 20210401)
	if err != nil {
		t.Fatal(err)
	}
	// Same seed, candidates in another order: the same draw.
	shuffled := slices.Clone(closed)
	rand.New(rand.NewPCG(1, 1)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	b, _ := workflow.DrawLookback(shuffled, workflow.DefaultLookbackShare, 20210401)
	if !slices.Equal(a, b) {
		t.Fatalf("same seed, other order: %v vs %v", a, b)
	}
	// Another seed draws others.
	c, _ := workflow.DrawLookback(closed, workflow.DefaultLookbackShare, 20210402)
	if slices.Equal(a, c) {
		t.Fatal("two seeds drew the same problems")
	}
	// The draw is pinned: a change of the lot would change it, and the seeds
	// recorded in histories would no longer replay.
	if got := fmt.Sprint(a[:3]); got != pinnedDraw {
		t.Fatalf("seed 20210401 draws %s first, not %s", got, pinnedDraw)
	}
}

// pinnedDraw is the first three ids seed 20210401 draws from closedIn(200, …).
const pinnedDraw = "[changjiang-012 changjiang-020 fuliang-004]"

func TestLookbackShareAndCountyMinimum(t *testing.T) {
	closed := closedIn(200, map[string]int{"fuliang": 90, "leping": 70, "changjiang": 39, "gaoxin": 1})
	ids := map[string]string{}
	for _, c := range closed {
		ids[c.ID] = c.CountyID
	}
	cases := []struct {
		share float64
		want  int
	}{
		{0.10, 20},  // 10 % of 200
		{0.101, 21}, // rounded up
		{0.01, 4},   // 2 by the share, but one in each of the 4 counties
		{1, 200},
	}
	for _, c := range cases {
		for seed := range uint64(50) {
			got, err := workflow.DrawLookback(closed, c.share, seed)
			if err != nil || len(got) != c.want {
				t.Fatalf("share %v seed %d: %d drawn, want %d (%v)", c.share, seed, len(got), c.want, err)
			}
			per := map[string]int{}
			for i, id := range got {
				if ids[id] == "" || (i > 0 && got[i-1] >= id) {
					t.Fatalf("share %v: %q unknown, repeated or out of order", c.share, id)
				}
				per[ids[id]]++
			}
			if len(per) != 4 || per["gaoxin"] != 1 {
				t.Fatalf("share %v seed %d: counties %v", c.share, seed, per)
			}
		}
	}
	// Over many seeds every problem is drawn about as often (10 % of the time).
	counts := map[string]int{}
	for seed := range uint64(2000) {
		got, _ := workflow.DrawLookback(closed, 0.10, seed)
		for _, id := range got {
			counts[id]++
		}
	}
	for id, n := range counts {
		if ids[id] != "gaoxin" && (n < 100 || n > 320) {
			t.Errorf("%s drawn %d times of 2000", id, n)
		}
	}
	if len(counts) != 200 {
		t.Errorf("only %d of 200 problems ever drawn", len(counts))
	}
}

func TestLookbackEdgeCases(t *testing.T) {
	if got, err := workflow.DrawLookback(nil, 0.1, 1); err != nil || len(got) != 0 {
		t.Fatalf("nothing closed: %v %v", got, err)
	}
	dup := []workflow.LookbackCandidate{{ID: "a", CountyID: "x"}, {ID: "a", CountyID: "x"}, {ID: "b", CountyID: "x"}}
	if got, _ := workflow.DrawLookback(dup, 1, 1); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("duplicates: %v", got)
	}
	for _, share := range []float64{0, -0.1, 1.01} {
		_, err := workflow.DrawLookback(dup, share, 1)
		var e *workflow.Error
		if !errors.As(err, &e) || e.Code != workflow.CodeInvalid || e.Field != "share" || e.Reason != workflow.ReasonOutOfRange {
			t.Errorf("share %v: %v", share, err)
		}
	}
}
