package workflow

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// newFromEntry builds problem number n from its create entry.
func newFromEntry(n uint64, e *Entry) *Problem {
	return &Problem{
		ID:          ProblemID(n),
		Code:        ProblemCode(n, e.At),
		Title:       e.Params.Title,
		Description: e.Params.Description,
		Source:      e.Params.Source,
		SourceRef:   e.Params.SourceRef,
		CountyID:    e.Params.CountyID,
		WorkPoint:   e.Params.WorkPoint,
		Location:    e.Params.Location,
		Position:    clonePtr(e.Params.Position),
		DedupeKey:   e.Params.DedupeKey,
		State:       StateFound,
		CreatedBy:   e.Actor.ID,
		CreatedAt:   e.At,
		UpdatedAt:   e.At,
	}
}

// applyEffects changes p as entry e says, after the machine has moved p.State
// to e.To. It is the one place that turns a command's parameters into record
// fields, used both when a command runs and when history is replayed.
func applyEffects(p *Problem, e *Entry) {
	prm := &e.Params
	switch Trigger(e.Action) {
	case TriggerAssign:
		p.LeadUnit = prm.LeadUnit
		p.CooperatingUnits = slices.Clone(prm.CooperatingUnits)
		p.Requirements = prm.Requirements
		p.setDeadline(prm.Deadline)
	case TriggerReassign:
		if prm.LeadUnit != "" {
			p.LeadUnit = prm.LeadUnit
		}
		if prm.CooperatingUnits != nil {
			p.CooperatingUnits = slices.Clone(prm.CooperatingUnits)
		}
		if prm.Deadline != nil {
			p.setDeadline(prm.Deadline)
		}
	case TriggerDismiss:
		p.Resolution = ResolutionDismissed
		p.ClosedBy = e.Actor.ID
		p.Statement = prm.Reason
	case TriggerAccept:
		p.Plan = prm.Plan
	case TriggerSubmit:
		p.SubmittedBy = e.Actor.ID
		p.Summary = prm.Summary
		for i := range p.Evidence {
			p.Evidence[i].Submitted = true
		}
	case TriggerWithdraw:
		p.SubmittedBy = ""
	case TriggerReject:
		p.SubmittedBy = ""
		p.EvidenceRound++
	case TriggerVerify:
		p.VerifiedBy = e.Actor.ID
		p.Opinion = prm.Opinion
		p.addSignature(prm.Signature)
		p.Acknowledged = append(p.Acknowledged, prm.AcknowledgedFlags...)
	case TriggerClose:
		if prm.Notice == nil {
			p.Resolution = ResolutionRectified
		} else {
			p.Notice = clonePtr(prm.Notice)
		}
		p.ClosedBy = e.Actor.ID
		p.Statement = prm.Statement
		p.addSignature(prm.Signature)
	case TriggerReopen:
		// 回头看: the problem came back, so old evidence no longer suffices.
		p.EvidenceRound++
		p.Resolution = ResolutionNone
		p.SubmittedBy, p.VerifiedBy, p.ClosedBy = "", "", ""
		p.Opinion, p.Statement = "", ""
		if prm.Deadline != nil {
			p.setDeadline(prm.Deadline)
		}
		p.Notice = nil
		if l := p.Lookback; l != nil && l.Status == LookbackPending {
			l.resolve(LookbackReopened, e)
		}
	}
	applyNotice(p, e)
	applyExtension(p, e)
	applyChecks(p, e)
	applyLetter(p, e)
	if e.Action == ActionEvidence && prm.Evidence != nil {
		p.Evidence = append(p.Evidence, *prm.Evidence)
	}
	if p.CooperatingUnits == nil {
		p.CooperatingUnits = []string{}
	}
	p.UpdatedAt = e.At
}

// setDeadline sets the deadline the bureau decided; only an extension moves
// Deadline away from OriginalDeadline.
func (p *Problem) setDeadline(d *time.Time) {
	t := *d
	o := *d
	p.Deadline, p.OriginalDeadline = &t, &o
	resetDeadlineCycle(p)
}

// Replay rebuilds a problem from its complete history, checking every
// transition against the workflow. The result must equal the stored record.
func Replay(entries []Entry) (*Problem, error) { return replay(entries, nil) }

// replaySteps replays entries as Replay does and calls step after each
// command (the entries of one version) with the problem before it (nil for
// the create) and after it, each a copy step may keep.
func replaySteps(entries []Entry, step func(before, after *Problem, entries []Entry)) error {
	_, err := replay(entries, step)
	return err
}

// replay is Replay, calling step (when not nil) at the end of each version.
func replay(entries []Entry, step func(before, after *Problem, entries []Entry)) (*Problem, error) {
	if len(entries) == 0 || entries[0].Action != ActionCreate {
		return nil, fmt.Errorf("history does not start with %s", ActionCreate)
	}
	n, ok := ParseProblemID(entries[0].ProblemID)
	if !ok {
		return nil, fmt.Errorf("bad problem id %q", entries[0].ProblemID)
	}
	p := newFromEntry(n, &entries[0])
	p.CooperatingUnits = []string{}
	p.Version = entries[0].Version
	var before *Problem
	first := 0 // the first entry of the current version
	endVersion := func(i int) {
		if step == nil || (i+1 < len(entries) && entries[i+1].Version == entries[i].Version) {
			return
		}
		after := p.Clone()
		step(before, after, entries[first:i+1])
		before, first = after, i+1
	}
	endVersion(0)
	for i := 1; i < len(entries); i++ {
		e := &entries[i]
		switch t := Trigger(e.Action); {
		case t.Valid():
			if p.State != e.From {
				return nil, fmt.Errorf("entry %d: recorded from %s but the problem was %s", e.Seq, e.From, p.State)
			}
			if err := fire(context.Background(), p, t, t == TriggerClose && e.Params.Notice != nil); err != nil {
				return nil, fmt.Errorf("entry %d: %w", e.Seq, err)
			}
			if p.State != e.To {
				return nil, fmt.Errorf("entry %d: recorded to %s but the workflow gives %s", e.Seq, e.To, p.State)
			}
		case e.Action == ActionNote, e.Action == ActionAlert, e.Action == ActionEvidence,
			e.Action == ActionExtensionRequest, e.Action == ActionExtensionDecision,
			e.Action == ActionPosition, e.Action == ActionSiteCheck,
			e.Action == ActionLookbackDrawn, e.Action == ActionLookbackConfirmed, e.Action == ActionReport,
			e.Action == ActionObjection, e.Action == ActionObjectionDismissed, e.Action == ActionEvidencePublic,
			e.Action == ActionLetter, e.Action == ActionLetterReply:
		default:
			return nil, fmt.Errorf("entry %d: unexpected action %q", e.Seq, e.Action)
		}
		applyEffects(p, e)
		if e.Supervision != nil {
			p.Supervision = e.Supervision.clone()
		}
		// Several entries of one command share its version.
		sameCommand := e.Version == p.Version && e.Version == entries[i-1].Version
		if e.Version != p.Version+1 && !sameCommand {
			return nil, fmt.Errorf("entry %d: version %d does not follow %d", e.Seq, e.Version, p.Version)
		}
		p.Version = e.Version
		endVersion(i)
	}
	return p, nil
}
