package main

import (
	"flag"
	"fmt"
	"strings"

	"github.com/jdz-eco/rectify/workflow"
	"github.com/jdz-eco/rectify/workflow/photocheck"
)

// checkFlags configure the evidence checks, site checks and look-backs
// (issue 16; README: evidence checks).
type checkFlags struct {
	photoMaxDistance float64
	siteCheckSources string
	lookbackMonths   int
	lookbackShare    float64
	photoChecks      bool
}

func addCheckFlags(fs *flag.FlagSet) *checkFlags {
	def := workflow.DefaultEvidencePolicy()
	c := &checkFlags{}
	fs.Float64Var(&c.photoMaxDistance, "photo-max-distance", def.MaxPhotoDistance,
		"evidence photos whose GPS position is farther than this many metres from the problem's are flagged")
	fs.StringVar(&c.siteCheckSources, "site-check-sources", "",
		"comma-separated sources whose problems need an inspector's site check (现场核查) before verify, e.g. warning_film,central_inspection")
	fs.IntVar(&c.lookbackMonths, "lookback-months", def.LookbackMonths,
		"the look-back (回头看) period in months (1, 2, 3, 4, 6 or 12): after each, the scanner draws problems closed in it; 0 draws none")
	fs.Float64Var(&c.lookbackShare, "lookback-share", def.LookbackShare,
		"the share of the problems closed in a period drawn for a look-back (at least one per county that has any)")
	fs.BoolVar(&c.photoChecks, "photo-checks", true,
		"check uploaded photos (EXIF, perceptual hash for near duplicates); off stores them unchecked")
	return c
}

// policy returns the evidence policy the flags set, checked.
func (c *checkFlags) policy() (workflow.EvidencePolicy, error) {
	p := workflow.EvidencePolicy{MaxPhotoDistance: c.photoMaxDistance, LookbackMonths: c.lookbackMonths, LookbackShare: c.lookbackShare}
	for _, s := range splitList(c.siteCheckSources) {
		p.SiteCheckSources = append(p.SiteCheckSources, workflow.Source(s))
	}
	if err := p.Validate(); err != nil {
		var names = map[string]string{"max_photo_distance": "--photo-max-distance", "site_check_sources": "--site-check-sources",
			"lookback_months": "--lookback-months", "lookback_share": "--lookback-share"}
		if e, ok := err.(*workflow.Error); ok && names[e.Field] != "" {
			return p, fmt.Errorf("%s: %s (sources: %s)", names[e.Field], e.Message, sourceNames())
		}
		return p, err
	}
	return p, nil
}

func sourceNames() string {
	var out []string
	for _, s := range workflow.Sources {
		out = append(out, string(s))
	}
	return strings.Join(out, ", ")
}

// apply sets the evidence policy and the photo checker on svc.
func (c *checkFlags) apply(svc *workflow.Service) error {
	p, err := c.policy()
	if err != nil {
		return err
	}
	if err := svc.SetEvidencePolicy(p); err != nil {
		return err
	}
	if c.photoChecks {
		svc.SetPhotoChecker(photocheck.NewChecker(photocheck.Limits{}))
	}
	return nil
}
