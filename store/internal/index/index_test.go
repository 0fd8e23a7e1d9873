package index

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jdz-eco/rectify/workflow"
)

var (
	t0       = time.Date(2021, 7, 1, 1, 30, 0, 0, time.UTC)
	deadline = time.Date(2021, 12, 31, 15, 59, 59, 0, time.UTC)
)

func sample() *workflow.Problem {
	wake := t0.Add(36*time.Hour + 500*time.Millisecond)
	d := deadline
	return &workflow.Problem{ID: "7", State: workflow.StateRectifying, LeadUnit: "fuliang", CountyID: "fuliang", Source: workflow.SourceAudit, WorkPoint: 12,
		CooperatingUnits: []string{"water", "fuliang"}, Deadline: &d,
		Evidence:    []workflow.Evidence{{SHA256: strings.Repeat("a", 64)}, {SHA256: strings.Repeat("a", 64)}, {SHA256: strings.Repeat("b", 64)}},
		Supervision: workflow.Supervision{Level: workflow.LevelOverdue, WakeAt: &wake}}
}

// TestTerms: every indexed field once, time indexes by their second, the
// wake entry with its facts.
func TestTerms(t *testing.T) {
	p := sample()
	got := Terms(p)
	var keys []string
	for _, tm := range got {
		if tm.Index.Timed() {
			keys = append(keys, string(tm.Index)+"@"+time.Unix(int64(tm.Secs), 0).UTC().Format(time.RFC3339))
		} else {
			keys = append(keys, string(tm.Index)+"="+tm.Value)
		}
	}
	want := []string{"state=rectifying", "lead=fuliang", "county=fuliang", "unit=fuliang", "unit=water",
		"tag=overdue", "tag=late", "evidence=" + strings.Repeat("a", 64), "evidence=" + strings.Repeat("b", 64),
		"source=audit", "wp=12", "deadline@2021-12-31T15:59:59Z", "wake@2021-07-02T13:30:01Z"}
	if !slices.Equal(keys, want) {
		t.Errorf("Terms =\n%v\nwant\n%v", keys, want)
	}
	if w := got[len(got)-1]; w.Index != Wake || w.Facts != string(WakeFacts(p)) || w.Facts == "" {
		t.Errorf("wake term %+v lacks its facts", w)
	}
	for _, tm := range got[:len(got)-1] {
		if tm.Facts != "" {
			t.Errorf("%s term carries facts", tm.Index)
		}
	}
	if n := len(Terms(&workflow.Problem{ID: "1", State: workflow.StateFound, CountyID: "x", Source: workflow.SourceAudit})); n != 3 {
		t.Errorf("a found problem has %d terms, want state, county and source", n)
	}
}

// TestDiff: only what changed; a wake entry whose facts change is put
// again, never deleted too (etcd takes a key once per transaction).
func TestDiff(t *testing.T) {
	old := sample()
	if dels, puts := Diff(nil, old); dels != nil || len(puts) != len(Terms(old)) {
		t.Errorf("a new problem: dels %v, puts %d", dels, len(puts))
	}
	if dels, puts := Diff(old, old.Clone()); dels != nil || puts != nil {
		t.Errorf("no change: dels %v puts %v", dels, puts)
	}
	p := old.Clone()
	p.Supervision.Level = workflow.LevelRed // facts and tag change, the wake time does not
	p.CooperatingUnits = []string{"housing"}
	dels, puts := Diff(old, p)
	name := func(ts []Term) []string {
		var out []string
		for _, tm := range ts {
			out = append(out, string(tm.Index)+"="+tm.Value)
		}
		return out
	}
	if got, want := name(dels), []string{"unit=water", "tag=overdue"}; !slices.Equal(got, want) {
		t.Errorf("dels %v, want %v", got, want)
	}
	if got, want := name(puts), []string{"unit=housing", "tag=red", "wake="}; !slices.Equal(got, want) {
		t.Errorf("puts %v, want %v", got, want)
	}
	if w := puts[len(puts)-1]; w.Facts != string(WakeFacts(p)) {
		t.Error("the wake entry is put with stale facts")
	}
}

// TestFilter: the most selective index first.
func TestFilter(t *testing.T) {
	sha := strings.Repeat("c", 64)
	f := workflow.ProblemFilter{State: workflow.StateAssigned, County: "fuliang", LeadUnit: "water", Unit: "water", Tag: workflow.TagLate, Evidence: sha,
		WorkPoint: 3, Source: workflow.SourceAudit}
	var got []string
	for _, tm := range Filter(&f) {
		got = append(got, string(tm.Index))
	}
	if want := []string{"evidence", "tag", "unit", "lead", "county", "wp", "source", "state"}; !slices.Equal(got, want) {
		t.Errorf("Filter order %v, want %v", got, want)
	}
	f.Evidence = ""
	if first := Filter(&f)[0]; first.Index != Tag || first.Value != workflow.TagLate {
		t.Errorf("without evidence the tag comes first, not %+v", first)
	}
	if ts := Filter(&workflow.ProblemFilter{WorkPoint: 3}); len(ts) != 1 || ts[0] != (Term{Index: Work, Value: "3"}) {
		t.Errorf("a work point is indexed in decimal: %v", ts)
	}
}

func TestWakeSeconds(t *testing.T) {
	for _, c := range []struct {
		at   time.Time
		want int64
	}{
		{t0, t0.Unix()},
		{t0.Add(time.Nanosecond), t0.Unix() + 1},
		{t0.Add(999 * time.Millisecond), t0.Unix() + 1},
		{time.Unix(-5, 0), 0},
	} {
		if got := WakeSeconds(c.at); got != uint64(c.want) {
			t.Errorf("WakeSeconds(%v) = %d, want %d", c.at, got, c.want)
		}
	}
	if _, ok := DueUntil(time.Unix(-1, 0)); ok {
		t.Error("a time before 1970 is due until something")
	}
}

func TestWakeFactsRoundTrip(t *testing.T) {
	d := deadline
	at := t0.Add(90 * time.Minute).Add(123 * time.Nanosecond)
	due := t0.AddDate(0, 0, 3)
	for _, p := range []*workflow.Problem{
		{State: workflow.StateAssigned, Deadline: &d, Supervision: workflow.Supervision{Stage: workflow.StageAccept, StageDue: &due}},
		{State: workflow.StateSubmitted, Deadline: &d, Supervision: workflow.Supervision{Level: workflow.LevelRed, PausedSeconds: 86400, PausedAt: &at,
			Stage: workflow.StageVerify, StageDue: &due, StageLate: true}},
		{State: workflow.StateRectifying, Deadline: &d, Supervision: workflow.Supervision{Level: workflow.LevelDueSoon, PausedSeconds: 7}},
		{State: workflow.StateFound},
	} {
		var got workflow.Problem
		if err := ReadWakeFacts(WakeFacts(p), &got); err != nil {
			t.Fatalf("ReadWakeFacts(WakeFacts(%+v)) = %v", p, err)
		}
		want := workflow.Problem{State: p.State, Deadline: p.Deadline, Supervision: p.Supervision}
		if mustJSON(t, got) != mustJSON(t, want) {
			t.Errorf("round trip:\n got %s\nwant %s", mustJSON(t, got), mustJSON(t, want))
		}
	}
	for _, bad := range [][]byte{nil, {}, {2, 0, 0, 0, 0}, append(WakeFacts(&workflow.Problem{State: "x"}), 0)} {
		if err := ReadWakeFacts(bad, &workflow.Problem{}); err == nil {
			t.Errorf("ReadWakeFacts(%x) accepted bad facts", bad)
		}
	}
	far := time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC)
	if v := WakeFacts(&workflow.Problem{State: workflow.StateAssigned, Deadline: &far}); v != nil {
		t.Errorf("a deadline past 2262 encoded as %x; want no facts (the sweep reads the record)", v)
	}
}

// TestSweeperAlerts: the alerts from the facts are those of the record.
func TestSweeperAlerts(t *testing.T) {
	p := sample()
	p.Supervision.Level = workflow.LevelNone
	pol := workflow.DefaultPolicy()
	for _, now := range []time.Time{t0, deadline.Add(-3 * workflow.Day), deadline.Add(time.Hour), deadline.Add(40 * workflow.Day)} {
		sw := Sweeper{Now: now, Policy: pol}
		got, ok := sw.Alerts(WakeFacts(p))
		if want := workflow.PendingAlerts(p, now, pol); !ok || !slices.Equal(got, want) {
			t.Errorf("at %v: Alerts = %v %v, want %v", now, got, ok, want)
		}
	}
	if _, ok := (&Sweeper{Now: t0, Policy: pol}).Alerts(nil); ok {
		t.Error("no facts read as facts")
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
