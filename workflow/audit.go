package workflow

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
)

// AuditReport sums up a passed audit.
type AuditReport struct {
	Entries  uint64    `json:"entries"`
	Problems int       `json:"problems"`
	Evidence int       `json:"evidence_files"`
	Head     ChainHead `json:"head"`
	// Rounds and WorkPoints count the dispatch rounds and the work points
	// with a history checked.
	Rounds     int `json:"rounds,omitempty"`
	WorkPoints int `json:"work_points,omitempty"`
	// Letters counts the supervision letters checked against their entries.
	Letters int `json:"letters,omitempty"`
	// Pending counts the entries of committed commands not sealed yet when
	// the ledger was read (only on a store that seals later): replayed with
	// their problems, not yet on the chain.
	Pending int `json:"pending,omitempty"`
}

// AuditError names the first place an audit failed.
type AuditError struct {
	Seq       uint64 // the entry, if the failure is in the chain
	ProblemID string // the problem, if the failure is in a record
	Round     string // the dispatch round, if the failure is in one
	WorkPoint int    // the work point, if the failure is in its history
	Letter    string // the supervision letter, if the failure is in one
	Evidence  string // the file, if the failure is in evidence
	Reason    string
}

func (e *AuditError) Error() string {
	switch {
	case e.Seq != 0:
		return fmt.Sprintf("history entry %d: %s", e.Seq, e.Reason)
	case e.Evidence != "":
		return fmt.Sprintf("evidence %s of problem %s: %s", e.Evidence, e.ProblemID, e.Reason)
	case e.Letter != "":
		return fmt.Sprintf("supervision letter %s: %s", e.Letter, e.Reason)
	case e.ProblemID != "":
		return fmt.Sprintf("problem %s: %s", e.ProblemID, e.Reason)
	case e.Round != "":
		return fmt.Sprintf("dispatch round %s: %s", e.Round, e.Reason)
	case e.WorkPoint != 0:
		return fmt.Sprintf("work point %d: %s", e.WorkPoint, e.Reason)
	}
	return e.Reason
}

// Audit checks a ledger (a file or backup opened read-only: on a store still
// being written the head may move between its reads): the whole hash chain (every entry's hash, each link
// to the previous entry, no gap in the sequence, the recorded head at its
// end); that replaying each problem's history gives its stored record; on a
// RoundLedger, that every dispatch round is as its round_open entry opened
// it, that the round index lists exactly the chain's reports and alerts of
// each round (reports marked late exactly when late) and that each work
// point's history index lists exactly its entries (roundAudit); on a
// LetterLedger, that every supervision letter is what the entries that
// recorded it say and every letter entry has its letter (letterAudit); and,
// when blobs is not nil, that every evidence file exists with its hash. With
// expect (a head recorded earlier) it also proves the history up to it was
// neither truncated nor rewritten. A ledger that keeps rollups
// (RollupAuditor) has them counted afresh and compared. The first failure is
// returned as an *AuditError.
func Audit(ctx context.Context, l Ledger, blobs Blobs, expect *ChainHead) (AuditReport, error) {
	var heads []ChainHead
	if expect != nil {
		heads = []ChainHead{*expect}
	}
	rep, checks, err := AuditHeads(ctx, l, blobs, heads)
	var aerr *AuditError
	if err != nil && !errors.As(err, &aerr) {
		return rep, err
	}
	for _, c := range checks {
		if herr := c.err(rep); herr != nil {
			// The first failure on the way along the chain is reported.
			if aerr != nil && aerr.Seq != 0 && aerr.Seq < c.Head.Seq {
				return rep, err
			}
			return rep, herr
		}
	}
	return rep, err
}

// err is the *AuditError of a head that is not intact (nil when it is).
func (c HeadCheck) err(rep AuditReport) error {
	switch c.Status {
	case HeadRewritten:
		return &AuditError{Seq: c.Head.Seq, Reason: "hash differs from the expected head " + c.Head.String() + " (the history up to it was rewritten)"}
	case HeadGone:
		return &AuditError{Seq: c.Head.Seq, Reason: fmt.Sprintf("the expected head is gone: the history ends at %d (it was truncated)", rep.Entries)}
	}
	return nil
}

// AuditHeads is Audit with any number of expected heads (heads collected
// from documents, docs/design.md#heads-anchored-outside-the-database): it
// checks the ledger as Audit does and reports, for each head in the order
// given, whether the entry at its SEQ still has its HASH. A head that is
// not intact is reported in its HeadCheck, not as the error: the error is
// the ledger's own first failure, as Audit's.
func AuditHeads(ctx context.Context, l Ledger, blobs Blobs, heads []ChainHead) (AuditReport, []HeadCheck, error) {
	var rep AuditReport
	prev := GenesisHash
	perProblem := map[string]int{}
	others := newRoundAudit()
	expected := map[uint64][]int{} // seq → indexes in heads
	checks := make([]HeadCheck, len(heads))
	for i, h := range heads {
		expected[h.Seq] = append(expected[h.Seq], i)
		checks[i] = HeadCheck{Head: h, Status: HeadGone}
	}
	err := l.ForEachEntry(ctx, func(e Entry, decodeErr error) error {
		want := rep.Entries + 1
		switch {
		case decodeErr != nil:
			return &AuditError{Seq: max(e.Seq, want), Reason: "does not decode: " + decodeErr.Error()}
		case e.Seq != want:
			return &AuditError{Seq: want, Reason: fmt.Sprintf("missing: the next stored entry is %d", e.Seq)}
		case e.PrevHash != prev:
			return &AuditError{Seq: e.Seq, Reason: "prev_hash does not match the previous entry's hash (an entry was removed, reordered or rewritten)"}
		}
		h, err := EntryHash(e)
		if err != nil {
			return &AuditError{Seq: e.Seq, Reason: err.Error()}
		}
		if h != e.Hash {
			return &AuditError{Seq: e.Seq, Reason: "content does not match its hash (the entry was altered)"}
		}
		for _, i := range expected[e.Seq] {
			checks[i].Status = HeadIntact
			if e.Hash != checks[i].Head.Hash {
				checks[i].Status, checks[i].Found = HeadRewritten, e.Hash
			}
		}
		prev = e.Hash
		rep.Entries = e.Seq
		rep.Head = ChainHead{Seq: e.Seq, Hash: e.Hash, At: e.At}
		if e.Action == ActionHeadAnchor && e.ProblemID == "" && e.WorkPoint == 0 {
			return checkAnchor(&e)
		}
		if e.ProblemID == "" {
			// A work point's entry or a round's opening.
			return others.entry(&e)
		}
		perProblem[e.ProblemID]++
		if _, _, ok := RoundRef(&e); ok {
			others.roundEntry(&e)
		}
		return nil
	})
	if err != nil {
		return rep, checks, err
	}
	rep, err = auditRecords(ctx, l, blobs, rep, perProblem, others)
	return rep, checks, err
}

// auditRecords is the part of the audit after the chain: the recorded head,
// every problem against its replayed history and the evidence files, and
// the rounds and the letters.
func auditRecords(ctx context.Context, l Ledger, blobs Blobs, rep AuditReport, perProblem map[string]int, others *roundAudit) (AuditReport, error) {
	letters := newLetterAudit()
	head, err := l.Head(ctx)
	if err != nil {
		return rep, err
	}
	if head.Seq != rep.Head.Seq || head.Hash != rep.Head.Hash {
		return rep, &AuditError{Seq: max(head.Seq, rep.Head.Seq), Reason: fmt.Sprintf("the recorded head %s is not the last entry %s", head, rep.Head)}
	}

	err = l.ForEachProblem(ctx, func(p *Problem) error {
		rep.Problems++
		hist, err := l.History(ctx, p.ID)
		if err != nil {
			return err
		}
		sealed := len(hist)
		for sealed > 0 && hist[sealed-1].Hash == "" {
			sealed--
		}
		for _, e := range hist[:sealed] {
			if e.Hash == "" {
				return &AuditError{ProblemID: p.ID, Reason: "an entry without a hash comes before sealed ones"}
			}
		}
		if sealed != perProblem[p.ID] {
			return &AuditError{ProblemID: p.ID, Reason: fmt.Sprintf("its index lists %d entries, the chain holds %d", sealed, perProblem[p.ID])}
		}
		rep.Pending += len(hist) - sealed
		delete(perProblem, p.ID)
		for i := range hist {
			letters.take(&hist[i]) // sealed or not: a letter is recorded once its entries are committed
		}
		replayed, err := Replay(hist)
		if err != nil {
			return &AuditError{ProblemID: p.ID, Reason: "history does not replay: " + err.Error()}
		}
		if !sameRecord(replayed, p) {
			return &AuditError{ProblemID: p.ID, Reason: "the stored record differs from its replayed history (edited without history)"}
		}
		if blobs == nil {
			return nil
		}
		for _, sha := range p.EvidenceHashes() {
			rep.Evidence++
			if err := checkBlob(ctx, blobs, sha); err != nil {
				return &AuditError{ProblemID: p.ID, Evidence: sha, Reason: err.Error()}
			}
		}
		return nil
	})
	if err != nil {
		return rep, err
	}
	for id := range perProblem {
		return rep, &AuditError{ProblemID: id, Reason: "has history entries but no record"}
	}
	if rl, ok := l.(RoundLedger); ok {
		if err := others.check(ctx, rl, &rep); err != nil {
			return rep, err
		}
	}
	if ll, ok := l.(LetterLedger); ok {
		if err := letters.check(ctx, ll, &rep); err != nil {
			return rep, err
		}
	}
	if ra, ok := l.(RollupAuditor); ok {
		if err := ra.AuditRollups(ctx); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

// sameRecord compares records as stored (JSON), so that nil and empty slices
// or time zones do not count as differences.
func sameRecord(a, b *Problem) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	var va, vb any
	_ = json.Unmarshal(ja, &va)
	_ = json.Unmarshal(jb, &vb)
	return reflect.DeepEqual(va, vb)
}

func checkBlob(ctx context.Context, blobs Blobs, sha string) error {
	r, err := blobs.Open(ctx, sha)
	if err != nil {
		return errors.New("file missing")
	}
	defer r.Close()
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		return fmt.Errorf("unreadable: %v", err)
	}
	if hex.EncodeToString(h.Sum(nil)) != sha {
		return errors.New("content does not match its SHA-256 (the file was altered)")
	}
	return nil
}
