package main

import (
	"strings"
	"testing"
	"time"

	"github.com/jdz-eco/rectify/workflow"
)

// TestRoutineFlags: the routine's flags and variables, and the settings
// serve refuses before it opens anything.
func TestRoutineFlags(t *testing.T) {
	cfg, err := parseServeFlags(nil, envOf(nil))
	if err != nil {
		t.Fatal(err)
	}
	if scheds, err := cfg.routine.roundSchedules(); err != nil || len(scheds) != 0 || cfg.routine.interval != time.Minute {
		t.Fatalf("defaults: %v %v %v", scheds, err, cfg.routine.interval)
	}
	cfg, err = parseServeFlags([]string{"--dispatch-schedule", "monthly:25, weekly:1", "--dispatch-at", "08:30"},
		envOf(map[string]string{"RECTIFY_DISPATCH_DUE_DAYS": "3", "RECTIFY_DISPATCH_SCOPE": "both"}))
	if err != nil {
		t.Fatal(err)
	}
	scheds, err := cfg.routine.roundSchedules()
	if err != nil || len(scheds) != 2 || scheds[0].String() != "monthly:25@08:30" || scheds[1].Every != workflow.EveryWeek ||
		scheds[0].DueDays != 3 || scheds[1].Scope != workflow.ScopeBoth {
		t.Fatalf("schedules %+v %v", scheds, err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--dispatch-schedule", "daily"}, "--dispatch-schedule"},
		{[]string{"--dispatch-schedule", "monthly:31"}, "1 to 28"},
		{[]string{"--dispatch-schedule", "monthly:25", "--dispatch-at", "9点"}, "--dispatch-at"},
		{[]string{"--dispatch-schedule", "monthly:25", "--dispatch-due-days", "0"}, "at least 1 working day"},
		{[]string{"--dispatch-schedule", "monthly:25", "--dispatch-scope", "all"}, "problems, points or both"},
		{[]string{"--dispatch-schedule", "monthly:25", "--routine-interval", "0"}, "--routine-interval must be positive"},
		{[]string{"--routine-interval", "-1s"}, "must not be negative"},
	} {
		if _, err := parseServeFlags(c.args, envOf(nil)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want %q", c.args, err, c.want)
		}
	}
}
