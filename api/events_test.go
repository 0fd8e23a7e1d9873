package api_test

import (
	"fmt"
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/jdz-eco/rectify/workflow"
)

// TestEvents: polling from after=0 returns every history entry of the
// ledger in seq order, page by page; a unit officer sees only events of the
// problems it is involved in.
func TestEvents(t *testing.T) {
	v := newEnv(t)
	fl := v.assigned()                                         // 浮梁县 leads, 市水利局 cooperates
	lp := v.assignTo("乐平问题", "leping", "leping", "2021-07-01") // 乐平市 leads
	v.fire(fl, "fuliang", "accept", map[string]any{"plan": "方案"})
	v.clock.Set(time.Date(2021, 7, 2, 0, 0, 0, 0, time.UTC))
	v.ok(v.do("POST", "/api/v1/deadlines/scan", "bureau", nil), 200) // lp: overdue, accept_late

	// What the events must be: both histories, merged by seq.
	var want []map[string]any
	for _, id := range []string{fl, lp} {
		for _, e := range v.ok(v.do("GET", "/api/v1/problems/"+id+"/history", "bureau", nil), 200)["items"].([]any) {
			e := e.(map[string]any)
			e["problem_id"] = id
			e["id"] = workflow.EventID(uint64(e["seq"].(float64)))
			want = append(want, e)
		}
	}
	sortBySeq(want)
	if len(want) != 7 { // fl: create, assign, accept; lp: create, assign, 2 alerts
		t.Fatalf("%d history entries", len(want))
	}

	poll := func(who string, limit int) ([]map[string]any, float64) {
		t.Helper()
		var got []map[string]any
		after := 0.0
		for range 100 {
			m := v.ok(v.do("GET", fmt.Sprintf("/api/v1/events?after=%v&limit=%d", after, limit), who, nil), 200)
			items := m["items"].([]any)
			next := m["next_after"].(float64)
			for _, x := range items {
				got = append(got, x.(map[string]any))
			}
			if next == after {
				return got, next
			}
			after = next
		}
		t.Fatal("polling never ends")
		return nil, 0
	}
	for _, limit := range []int{1000, 3, 1} {
		got, last := poll("bureau", limit)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("limit %d: events\n%v\nwant\n%v", limit, got, want)
		}
		if last != want[len(want)-1]["seq"] {
			t.Errorf("limit %d: next_after ends at %v", limit, last)
		}
	}
	// The flattened event carries the entry's fields, including alert params.
	alert := want[len(want)-1]
	if alert["action"] != "alert" || alert["problem_id"] != lp || alert["params"].(map[string]any)["level"] == nil ||
		alert["actor"].(map[string]any)["role"] != "system" || alert["from"] != "assigned" || alert["to"] != "assigned" {
		t.Errorf("last event %v", alert)
	}

	// 乐平市 sees its problem's events only, yet next_after moves past the rest.
	got, last := poll("leping", 2)
	for _, e := range got {
		if e["problem_id"] != lp {
			t.Errorf("leping sees %v", e)
		}
	}
	if len(got) != 4 || last != want[len(want)-1]["seq"] {
		t.Errorf("leping sees %d events, next_after %v", len(got), last)
	}
	// 市水利局 cooperates in fl: it sees fl's events.
	if got, _ := poll("water", 1000); len(got) != 3 || got[0]["problem_id"] != fl {
		t.Errorf("water sees %v", got)
	}
	// Nothing after the last event.
	m := v.ok(v.do("GET", fmt.Sprintf("/api/v1/events?after=%v", last), "viewer", nil), 200)
	if len(m["items"].([]any)) != 0 || m["next_after"] != last {
		t.Errorf("after the end: %v", m)
	}

	for q, field := range map[string]string{
		"after=-1": "after", "after=x": "after", "limit=0": "limit", "limit=1001": "limit",
		"limit=x": "limit", "since=1": "since", "after=1&after=2": "after",
	} {
		if p := v.fails(v.do("GET", "/api/v1/events?"+q, "bureau", nil), http.StatusBadRequest, "invalid"); p.Field != field {
			t.Errorf("%s: field %q, want %q", q, p.Field, field)
		}
	}
	v.fails(v.do("GET", "/api/v1/events", "", nil), http.StatusUnauthorized, "unauthorized")
}

func sortBySeq(es []map[string]any) {
	for i := 1; i < len(es); i++ {
		for j := i; j > 0 && es[j]["seq"].(float64) < es[j-1]["seq"].(float64); j-- {
			es[j], es[j-1] = es[j-1], es[j]
		}
	}
}
