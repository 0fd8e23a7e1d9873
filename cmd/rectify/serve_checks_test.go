package main

import (
	"strings"
	"testing"

	"github.com/jdz-eco/rectify/workflow"
)

// TestCheckFlags: the evidence-check flags default to the policy's
// defaults, set it, and bad values stop serve with the flag's name.
func TestCheckFlags(t *testing.T) {
	cfg, err := parseServeFlags(nil, envOf(nil))
	if err != nil {
		t.Fatal(err)
	}
	p, err := cfg.checks.policy()
	def := workflow.DefaultEvidencePolicy()
	if err != nil || p.MaxPhotoDistance != def.MaxPhotoDistance || p.LookbackMonths != 3 || p.LookbackShare != def.LookbackShare || len(p.SiteCheckSources) != 0 {
		t.Fatalf("defaults %+v, %v", p, err)
	}
	cfg, err = parseServeFlags([]string{"--photo-max-distance", "500", "--site-check-sources", "warning_film, central_inspection", "--lookback-months", "6"}, envOf(nil))
	if err != nil {
		t.Fatal(err)
	}
	p, _ = cfg.checks.policy()
	if p.MaxPhotoDistance != 500 || p.LookbackMonths != 6 || len(p.SiteCheckSources) != 2 || p.SiteCheckSources[1] != workflow.SourceCentralInspection {
		t.Fatalf("set %+v", p)
	}
	for _, args := range [][]string{
		{"--photo-max-distance", "0"}, {"--site-check-sources", "films"}, {"--lookback-months", "5"}, {"--lookback-share", "1.5"},
	} {
		_, err := parseServeFlags(args, envOf(nil))
		if err == nil || !strings.Contains(err.Error(), args[0]) {
			t.Errorf("%v: %v, want an error naming the flag", args, err)
		}
	}
}
