package photocheck

import (
	"context"

	"github.com/jdz-eco/rectify/workflow"
)

var _ workflow.PhotoChecker = (*Checker)(nil)

// CheckPhoto analyses data (Analyze) for the service: it implements
// workflow.PhotoChecker.
func (c *Checker) CheckPhoto(ctx context.Context, data []byte) (workflow.PhotoReport, error) {
	f, err := c.Analyze(ctx, data)
	if err != nil {
		return nil, err
	}
	return Report{Facts: f}, nil
}

// Report is a workflow.PhotoReport of the facts of one file.
type Report struct{ Facts Facts }

// PHash returns the perceptual hash, if the image was hashed.
func (r Report) PHash() (uint64, bool) {
	if r.Facts.Err != nil {
		return 0, false
	}
	return uint64(r.Facts.Hash), true
}

// Flags returns the flags of the facts checked against site (Flags), then
// the near duplicates of similar (NearFlags). An inspector's site-check
// photo is exempt from the unit's flags: it gets only FlagFarFromSite.
func (r Report) Flags(site workflow.PhotoSite, similar []workflow.SimilarEvidence) []workflow.Flag {
	s := Site{Assigned: site.Assigned, Uploaded: site.Uploaded, Location: site.Position, MaxDistance: site.MaxDistance}
	if site.SiteCheck {
		var out []workflow.Flag
		for _, f := range MetadataFlags(r.Facts.Metadata, Site{Location: site.Position, MaxDistance: site.MaxDistance}) {
			if f.Code == workflow.FlagFarFromSite {
				out = append(out, f)
			}
		}
		return out
	}
	out := Flags(r.Facts, s)
	matches := make([]Match, 0, len(similar))
	for _, m := range similar {
		matches = append(matches, Match{ProblemID: m.ProblemID, ProblemCode: m.ProblemCode, SHA256: m.SHA256, Round: m.Round, Distance: m.Distance})
	}
	return append(out, NearFlags(site.ProblemID, matches)...)
}
