package workflow

import (
	"cmp"
	"context"
	"fmt"
	"math/bits"
	"slices"
	"time"
)

// The evidence checks (issue 16, 防虚假整改): docs/design.md#evidence-checks.
// The service reaches the image code through PhotoChecker, which
// workflow/photocheck implements and cmd/rectify wires in, so that the
// domain links no decoder; it finds near duplicates through a store's
// PhotoIndex; and it decides every flag inside the command, from the facts
// the checker found and the problem as it stands.

// NearPhotoRadius is the largest Hamming distance between the perceptual
// hashes of two photos flagged as near duplicates (photocheck.NearThreshold
// measures it).
const NearPhotoRadius = 12

// maxNearFlags bounds the near-duplicate flags of one photo: the nearest.
const maxNearFlags = 5

// PhotoSite is what a photo is checked against.
type PhotoSite struct {
	ProblemID string
	// Assigned is when the problem was first assigned (zero: not checked,
	// as for a before photo, taken before rectification by nature).
	Assigned time.Time
	Uploaded time.Time
	// Position is the problem's (nil: not checked); MaxDistance in metres.
	Position    *LatLng
	MaxDistance float64
	// SiteCheck is an inspector's own photo: exempt from the unit's flags,
	// checked only against the position.
	SiteCheck bool
}

// PhotoReport is what the photo checks found in one file, before the
// problem it is for is known.
type PhotoReport interface {
	// PHash returns the perceptual hash; false if the image could not be
	// hashed (damaged, too large, timed out).
	PHash() (uint64, bool)
	// Flags returns the flags of the photo checked against site, followed
	// by one near-duplicate flag per item of similar, nearest first.
	Flags(site PhotoSite, similar []SimilarEvidence) []Flag
}

// PhotoChecker examines an uploaded file within its own time and memory
// bounds. Damaged or hostile files are facts of the report, not errors;
// the only error is ctx ending.
type PhotoChecker interface {
	CheckPhoto(ctx context.Context, data []byte) (PhotoReport, error)
}

// PhotoIndex is a store that finds photos by perceptual hash from an
// index, without scanning them: every hash of Problem.IndexedPhotos, its
// keys written in the transaction that writes the record.
type PhotoIndex interface {
	// NearPhotos returns the indexed photos whose hash is within radius
	// (at most NearPhotoRadius) of h, nearest first, then by problem, at
	// most limit of them.
	NearPhotos(ctx context.Context, h uint64, radius, limit int) ([]PhotoMatch, error)
}

// PhotoMatch is a problem holding an indexed photo near a query.
type PhotoMatch struct {
	ProblemID string
	PHash     uint64
	Distance  int
}

// HashDistance returns the Hamming distance between two perceptual hashes.
func HashDistance(a, b uint64) int { return bits.OnesCount64(a ^ b) }

// IndexedPhotos returns the distinct perceptual hashes of p's evidence
// that a near-duplicate search looks among: every photo of the lead or
// cooperating units (not the inspectors' site-check photos), in order.
func (p *Problem) IndexedPhotos() []uint64 {
	var out []uint64
	for _, e := range p.Evidence {
		if e.PHash != nil && e.Phase != PhaseSiteCheck && !slices.Contains(out, *e.PHash) {
			out = append(out, *e.PHash)
		}
	}
	return out
}

// EvidencePolicy configures the evidence checks, site checks and look-backs.
type EvidencePolicy struct {
	// MaxPhotoDistance is how far, in metres, a photo's GPS position may be
	// from the problem's before it is flagged (default 1,000).
	MaxPhotoDistance float64
	// SiteCheckSources are the sources whose problems need a site check
	// (现场核查) of the current round before verify.
	SiteCheckSources []Source
	// LookbackShare is the share of the problems closed in a period drawn
	// for a look-back (default DefaultLookbackShare); LookbackMonths the
	// period's length in months, dividing 12 (default 3: quarters); 0
	// months turns the draw off.
	LookbackShare  float64
	LookbackMonths int
}

// DefaultEvidencePolicy is the policy of a new service.
func DefaultEvidencePolicy() EvidencePolicy {
	return EvidencePolicy{MaxPhotoDistance: 1000, LookbackShare: DefaultLookbackShare, LookbackMonths: 3}
}

// Validate checks the policy.
func (c EvidencePolicy) Validate() error {
	switch {
	case !(c.MaxPhotoDistance > 0):
		return RefuseField(ReasonBadConfig, "max_photo_distance", "the photo distance must be positive")
	case !(c.LookbackShare > 0 && c.LookbackShare <= 1):
		return RefuseField(ReasonBadConfig, "lookback_share", "the look-back share must be more than 0 and at most 1")
	case c.LookbackMonths < 0 || c.LookbackMonths > 12 || c.LookbackMonths > 0 && 12%c.LookbackMonths != 0:
		return RefuseField(ReasonBadConfig, "lookback_months", "the look-back period must be 1, 2, 3, 4, 6 or 12 months, or 0 for none")
	}
	for _, s := range c.SiteCheckSources {
		if !s.Valid() {
			return RefuseField(ReasonBadConfig, "site_check_sources", "unknown source %q", s)
		}
	}
	return nil
}

// SetEvidencePolicy replaces the evidence policy.
func (s *Service) SetEvidencePolicy(c EvidencePolicy) error {
	if err := c.Validate(); err != nil {
		return err
	}
	s.mu.Lock()
	s.evidence = c
	s.mu.Unlock()
	return nil
}

// EvidencePolicy returns the evidence policy.
func (s *Service) EvidencePolicy() EvidencePolicy {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.evidence
}

// SetPhotoChecker sets what examines uploaded photos (nil: none are).
func (s *Service) SetPhotoChecker(c PhotoChecker) {
	s.mu.Lock()
	s.photos = c
	s.mu.Unlock()
}

// ChecksPhotos reports whether the service has a photo checker.
func (s *Service) ChecksPhotos() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.photos != nil
}

// CheckPhoto examines data, an uploaded file, with the service's checker:
// nil without one. A checker that fails for any reason other than ctx
// ending (or panics) gives a report saying the photo could not be checked,
// so that the upload is kept and flagged, never lost.
func (s *Service) CheckPhoto(ctx context.Context, data []byte) (r PhotoReport, err error) {
	s.mu.RLock()
	c := s.photos
	s.mu.RUnlock()
	if c == nil {
		return nil, nil
	}
	defer func() {
		if v := recover(); v != nil {
			r, err = UncheckedPhoto("图片检查出错，未能检查"), nil
		}
	}()
	r, err = c.CheckPhoto(ctx, data)
	if err != nil {
		if ctx.Err() != nil {
			return nil, err
		}
		return UncheckedPhoto("图片检查出错，未能检查"), nil
	}
	return r, nil
}

// UncheckedPhoto is the report of a photo that could not be examined:
// no hash and one FlagUnchecked with text (e.g. a file too large to hold
// for checking).
func UncheckedPhoto(text string) PhotoReport { return unchecked(text) }

type unchecked string

func (u unchecked) PHash() (uint64, bool) { return 0, false }
func (u unchecked) Flags(site PhotoSite, _ []SimilarEvidence) []Flag {
	if site.SiteCheck {
		return nil
	}
	return []Flag{{Code: FlagUnchecked, Text: string(u)}}
}

// photoFacts is what a command adding evidence needs besides the problem
// to decide its flags, read before the command: the report, the first
// assignment's time, and the near-duplicate candidates in other problems.
// A candidate may be a moment stale when the command runs; flags describe
// the upload's moment, never the past.
type photoFacts struct {
	report   PhotoReport
	hash     uint64
	hashed   bool
	assigned time.Time
	others   []SimilarEvidence
}

// photoFacts gathers the facts of report for an upload to problem id.
func (s *Service) photoFacts(ctx context.Context, a Actor, id string, report PhotoReport) (photoFacts, error) {
	f := photoFacts{report: report}
	if report == nil {
		return f, nil
	}
	f.hash, f.hashed = report.PHash()
	hist, err := s.store.History(ctx, id)
	if err != nil {
		return f, err
	}
	for _, e := range hist {
		if e.Action == string(TriggerAssign) {
			f.assigned = e.At
			break
		}
	}
	if !f.hashed || a.Role == RoleInspector {
		return f, nil
	}
	matches, err := s.nearPhotos(ctx, f.hash)
	if err != nil {
		return f, err
	}
	for _, m := range matches {
		if m.ProblemID == id {
			continue // decided in the command, on the record as it stands
		}
		q, err := s.store.Problem(ctx, m.ProblemID)
		if err != nil {
			return f, err
		}
		for _, e := range q.Evidence {
			if e.PHash != nil && *e.PHash == m.PHash && e.Phase != PhaseSiteCheck {
				f.others = append(f.others, SimilarEvidence{ProblemID: q.ID, ProblemCode: q.Code, SHA256: e.SHA256,
					Round: e.Round, Distance: m.Distance})
				break
			}
		}
	}
	return f, nil
}

// nearPhotos returns the indexed photos within NearPhotoRadius of h: from
// the store's PhotoIndex, or by reading every problem without one.
func (s *Service) nearPhotos(ctx context.Context, h uint64) ([]PhotoMatch, error) {
	const limit = 4 * maxNearFlags
	if ix, ok := s.store.(PhotoIndex); ok {
		return ix.NearPhotos(ctx, h, NearPhotoRadius, limit)
	}
	var out []PhotoMatch
	cursor := ""
	for {
		items, next, err := s.store.Problems(ctx, ProblemFilter{Cursor: cursor, Limit: MaxLimit})
		if err != nil {
			return nil, err
		}
		for _, q := range items {
			for _, x := range q.IndexedPhotos() {
				if d := HashDistance(h, x); d <= NearPhotoRadius {
					out = append(out, PhotoMatch{ProblemID: q.ID, PHash: x, Distance: d})
				}
			}
		}
		if next == "" {
			break
		}
		cursor = next
	}
	SortPhotoMatches(out)
	return out[:min(len(out), limit)], nil
}

// SortPhotoMatches orders matches nearest first, then by problem number
// and hash: the order NearPhotos returns.
func SortPhotoMatches(m []PhotoMatch) {
	slices.SortFunc(m, func(a, b PhotoMatch) int {
		na, _ := ParseProblemID(a.ProblemID)
		nb, _ := ParseProblemID(b.ProblemID)
		return cmp.Or(cmp.Compare(a.Distance, b.Distance), cmp.Compare(na, nb), cmp.Compare(a.PHash, b.PHash))
	})
}

// decide sets ev's hash and flags on p as it stands: the checks against
// the problem's site, then the near duplicates among the other problems
// and among p's own earlier rounds (not its before photos, which an after
// photo of an unchanged site resembles by nature, nor its current round).
func (f photoFacts) decide(p *Problem, ev *Evidence, cfg EvidencePolicy) {
	if f.report == nil {
		return
	}
	site := PhotoSite{ProblemID: p.ID, Uploaded: ev.At, Position: clonePtr(p.Position),
		MaxDistance: cfg.MaxPhotoDistance, SiteCheck: ev.Phase == PhaseSiteCheck}
	if ev.Phase != PhaseBefore && !site.SiteCheck {
		site.Assigned = f.assigned
	}
	var similar []SimilarEvidence
	if f.hashed {
		h := f.hash
		ev.PHash = &h
		if !site.SiteCheck {
			similar = slices.Clone(f.others)
			for _, e := range p.Evidence {
				if e.PHash == nil || e.Round >= p.EvidenceRound || e.Phase == PhaseBefore || e.Phase == PhaseSiteCheck {
					continue
				}
				if d := HashDistance(h, *e.PHash); d <= NearPhotoRadius {
					similar = append(similar, SimilarEvidence{ProblemID: p.ID, ProblemCode: p.Code, SHA256: e.SHA256, Round: e.Round, Distance: d})
				}
			}
			slices.SortStableFunc(similar, func(a, b SimilarEvidence) int { return cmp.Compare(a.Distance, b.Distance) })
			similar = similar[:min(len(similar), maxNearFlags)]
		}
	}
	ev.Flags = f.report.Flags(site, similar)
}

// FlagRef names one flag of one evidence item, as an acknowledgement
// lists it.
type FlagRef struct {
	SHA256 string   `json:"sha256"`
	Code   FlagCode `json:"code"`
}

func (r FlagRef) String() string { return fmt.Sprintf("%s:%s", r.SHA256, r.Code) }
