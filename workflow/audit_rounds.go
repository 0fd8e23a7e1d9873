package workflow

import (
	"context"
	"fmt"
	"maps"
	"slices"
)

// roundAudit is what an audit collects from the chain about dispatch
// rounds and work points (docs/design.md#dispatch-rounds), checked against
// the stored rounds and indexes once the chain is read.
type roundAudit struct {
	opens    map[string]roundOpen      // round id → its round_open entry
	perRound map[string][]roundEntryAt // round id → the entries naming it, in order
	points   map[int][]Entry           // work point → its entries (without params), in order
}

type roundOpen struct {
	seq    uint64
	digest string
}

// roundEntryAt is what the audit keeps of an entry naming a round.
type roundEntryAt struct {
	seq  uint64
	item string
}

func newRoundAudit() *roundAudit {
	return &roundAudit{opens: map[string]roundOpen{}, perRound: map[string][]roundEntryAt{}, points: map[int][]Entry{}}
}

// entry takes an entry of no problem: a work point's or a round's opening.
func (ra *roundAudit) entry(e *Entry) error {
	switch {
	case e.WorkPoint > 0:
		if _, _, ok := RoundRef(e); !ok {
			return &AuditError{Seq: e.Seq, Reason: "an entry of a work point must be a report or a report_late alert of a round"}
		}
		ra.points[e.WorkPoint] = append(ra.points[e.WorkPoint], Entry{Seq: e.Seq, Version: e.Version})
		ra.roundEntry(e)
	case e.Action == ActionRoundOpen && e.Params.Round != "":
		if o, dup := ra.opens[e.Params.Round]; dup {
			return &AuditError{Seq: e.Seq, Reason: fmt.Sprintf("opens round %s, which entry %d opened", e.Params.Round, o.seq)}
		}
		ra.opens[e.Params.Round] = roundOpen{seq: e.Seq, digest: e.Params.Digest}
	default:
		return &AuditError{Seq: e.Seq, Reason: "names no problem, work point or round"}
	}
	return nil
}

// roundEntry takes an entry RoundRef names.
func (ra *roundAudit) roundEntry(e *Entry) {
	round, item, _ := RoundRef(e)
	ra.perRound[round] = append(ra.perRound[round], roundEntryAt{seq: e.Seq, item: item})
}

// check compares what the chain holds with the stored rounds, the round
// index and the work points' history index.
func (ra *roundAudit) check(ctx context.Context, rl RoundLedger, rep *AuditReport) error {
	for _, n := range slices.Sorted(maps.Keys(ra.points)) {
		if err := checkPointHistory(ctx, rl, n, ra.points[n]); err != nil {
			return err
		}
		rep.WorkPoints++
	}
	err := rl.ForEachRound(ctx, func(r *Round) error {
		rep.Rounds++
		open, ok := ra.opens[r.ID]
		if !ok {
			return &AuditError{Round: r.ID, Reason: "no round_open entry on the chain opened it"}
		}
		if RoundDigest(r) != open.digest {
			return &AuditError{Round: r.ID, Reason: fmt.Sprintf("differs from the round entry %d opened (its items or due time were changed)", open.seq)}
		}
		if err := ra.checkRoundIndex(ctx, rl, r); err != nil {
			return err
		}
		delete(ra.opens, r.ID)
		delete(ra.perRound, r.ID)
		return nil
	})
	if err != nil {
		return err
	}
	for _, id := range slices.Sorted(maps.Keys(ra.opens)) {
		return &AuditError{Round: id, Reason: fmt.Sprintf("entry %d opened it, but it is not stored", ra.opens[id].seq)}
	}
	for _, id := range slices.Sorted(maps.Keys(ra.perRound)) {
		return &AuditError{Round: id, Reason: fmt.Sprintf("entry %d names it, but it is not stored", ra.perRound[id][0].seq)}
	}
	return nil
}

// checkRoundIndex checks that the round index lists exactly the chain's
// entries naming r, each about one of r's items, in order, and that every
// report in it is marked late exactly when it came after r's due time.
func (ra *roundAudit) checkRoundIndex(ctx context.Context, rl RoundLedger, r *Round) error {
	want := ra.perRound[r.ID]
	got, err := rl.RoundEntries(ctx, r.ID, "")
	if err != nil {
		return err
	}
	if len(got) != len(want) {
		return &AuditError{Round: r.ID, Reason: fmt.Sprintf("its index lists %d entries, the chain holds %d", len(got), len(want))}
	}
	for i := range got {
		e := &got[i]
		_, item, _ := RoundRef(e)
		switch it, ok := r.Item(item); {
		case e.Seq != want[i].seq || item != want[i].item:
			return &AuditError{Round: r.ID, Reason: fmt.Sprintf("its index lists entry %d where the chain holds entry %d", e.Seq, want[i].seq)}
		case !ok:
			return &AuditError{Round: r.ID, Reason: fmt.Sprintf("entry %d is about %s, which the round does not ask about", e.Seq, item)}
		case e.Action == ActionReport && e.Params.Late != e.At.After(r.Due):
			return &AuditError{Round: r.ID, Reason: fmt.Sprintf("report %d is marked late=%t but came %s the due time", e.Seq, e.Params.Late, map[bool]string{true: "after", false: "by"}[e.At.After(r.Due)])}
		case e.Action == ActionReport && e.Actor.UnitID != it.Unit:
			return &AuditError{Round: r.ID, Reason: fmt.Sprintf("report %d was filed by unit %s, the round expects it of %s", e.Seq, e.Actor.UnitID, it.Unit)}
		}
	}
	return nil
}

// checkPointHistory checks that work point n's history index lists exactly
// its entries on the chain, and that their versions follow.
func checkPointHistory(ctx context.Context, rl RoundLedger, n int, chain []Entry) error {
	hist, err := rl.WorkPointHistory(ctx, n)
	if err != nil {
		return err
	}
	if len(hist) != len(chain) {
		return &AuditError{WorkPoint: n, Reason: fmt.Sprintf("its index lists %d entries, the chain holds %d", len(hist), len(chain))}
	}
	var version uint64
	for i, e := range hist {
		if e.Seq != chain[i].Seq {
			return &AuditError{WorkPoint: n, Reason: fmt.Sprintf("its index lists entry %d where the chain holds entry %d", e.Seq, chain[i].Seq)}
		}
		if e.Version != version+1 && (i == 0 || e.Version != version) {
			return &AuditError{WorkPoint: n, Reason: fmt.Sprintf("entry %d: version %d does not follow %d", e.Seq, e.Version, version)}
		}
		version = e.Version
	}
	return nil
}
