package workflow

import "strings"

// Phase is what an evidence item shows (issue 16, 整改前后对比).
type Phase string

// Phases. A unit hands in before, after or document; an inspector's
// upload is always a site-check photo (现场核查照片).
const (
	PhaseBefore    Phase = "before"     // 整改前
	PhaseAfter     Phase = "after"      // 整改后
	PhaseDocument  Phase = "document"   // 文件资料
	PhaseSiteCheck Phase = "site_check" // 现场核查照片
)

// Phases lists every phase.
var Phases = []Phase{PhaseBefore, PhaseAfter, PhaseDocument, PhaseSiteCheck}

// UnitPhases lists the phases a unit may give its evidence.
var UnitPhases = []Phase{PhaseBefore, PhaseAfter, PhaseDocument}

// DefaultPhase is the phase of a unit's upload that names none: after for
// a picture, document for anything else.
func DefaultPhase(contentType string) Phase {
	if strings.HasPrefix(contentType, "image/") {
		return PhaseAfter
	}
	return PhaseDocument
}

// inputPhase returns the phase of in handed in by a: an inspector's is a
// site-check photo; a unit's is one of UnitPhases, DefaultPhase if empty.
func inputPhase(a Actor, in EvidenceInput) (Phase, error) {
	ph := Phase(strings.TrimSpace(string(in.Phase)))
	if a.Role == RoleInspector {
		if ph != "" && ph != PhaseSiteCheck {
			return "", RefuseField(ReasonUnknownValue, "phase", "an inspector's upload is a site-check photo (phase %q)", PhaseSiteCheck)
		}
		if !strings.HasPrefix(in.Type, "image/") {
			return "", RefuseField(ReasonFileType, "file", "a site-check photo must be an image, not %s", in.Type)
		}
		return PhaseSiteCheck, nil
	}
	switch ph {
	case "":
		return DefaultPhase(in.Type), nil
	case PhaseBefore, PhaseAfter, PhaseDocument:
		return ph, nil
	}
	return "", RefuseField(ReasonUnknownValue, "phase", "unknown phase %q; one of before, after, document", ph)
}

// NeedsAfterPhoto reports whether problems from source s need a new after
// photo to be submitted: those of warning films and inspections, whose
// problems were filmed or seen and must be seen rectified.
func NeedsAfterPhoto(s Source) bool {
	return s == SourceWarningFilm || s == SourceCentralInspection || s == SourceProvincialInspection
}

// hasNewAfterPhoto reports whether p has an after photo added since its
// last rejection.
func (p *Problem) hasNewAfterPhoto() bool {
	for _, e := range p.Evidence {
		if e.Round == p.EvidenceRound && e.Phase == PhaseAfter && strings.HasPrefix(e.Type, "image/") {
			return true
		}
	}
	return false
}

// readyToSubmit refuses a submission p's evidence does not support: none
// added since the last rejection, or, for a source that needs one
// (NeedsAfterPhoto), no new after photo.
func (p *Problem) readyToSubmit() error {
	if !p.hasNewEvidence() {
		if p.Returned() {
			return Refuse(ReasonNeedsNewEvidence, "submit needs at least one evidence item added since the last rejection").InState(p.State, nil)
		}
		return Refuse(ReasonNeedsEvidence, "submit needs at least one evidence item").InState(p.State, nil)
	}
	if NeedsAfterPhoto(p.Source) && !p.hasNewAfterPhoto() {
		return Refuse(ReasonNeedsAfterPhoto, "problems from %s need at least one new photo of the site after rectification (phase after)", p.Source).InState(p.State, nil)
	}
	return nil
}
