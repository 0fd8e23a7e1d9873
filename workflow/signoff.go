package workflow

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
	"time"
)

// Signature is an electronic sign-off in the sense of 21 CFR Part 11
// §11.50/§11.70: who signed, when, in what capacity and meaning it, bound by a
// digest to the problem as it stood when signed.
type Signature struct {
	Action     string    `json:"action"` // verify or close
	SignerID   string    `json:"signer_id"`
	SignerName string    `json:"signer_name"`
	UnitID     string    `json:"unit_id"`
	Role       Role      `json:"role"`
	At         time.Time `json:"at"`
	Meaning    string    `json:"meaning"` // 验收通过 / 同意销号
	Version    uint64    `json:"version"` // the problem version signed
	Digest     string    `json:"digest"`  // SignoffDigest of that version
}

// Meanings of the sign-offs.
const (
	MeaningVerify = "验收通过"
	MeaningClose  = "同意销号"
)

// signedContent is what a sign-off digest covers: the record's substance and
// the set of evidence files.
type signedContent struct {
	ID               string     `json:"id"`
	Code             string     `json:"code"`
	Version          uint64     `json:"version"`
	State            State      `json:"state"`
	Title            string     `json:"title"`
	Description      string     `json:"description"`
	Source           Source     `json:"source"`
	SourceRef        string     `json:"source_ref"`
	CountyID         string     `json:"county_id"`
	WorkPoint        int        `json:"work_point"`
	LeadUnit         string     `json:"lead_unit"`
	CooperatingUnits []string   `json:"cooperating_units"`
	Requirements     string     `json:"requirements"`
	Plan             string     `json:"plan"`
	Summary          string     `json:"summary"`
	Opinion          string     `json:"opinion"`
	Deadline         *time.Time `json:"deadline"`
	OriginalDeadline *time.Time `json:"original_deadline"`
	Evidence         []string   `json:"evidence"` // SHA-256, sorted
	// A verify's acknowledgement of evidence flags (issue 16), when it
	// makes one.
	AcknowledgedFlags   []FlagRef `json:"acknowledged_flags,omitempty"`
	AcknowledgementNote string    `json:"acknowledgement_note,omitempty"`
}

// SignoffDigest returns the SHA-256 (hex) binding a sign-off to p as it
// stands: its record and the hashes of its evidence files.
func SignoffDigest(p *Problem) string { return SignoffDigestAcknowledging(p, nil, "") }

// SignoffDigestAcknowledging is SignoffDigest for a verify that
// acknowledges the evidence flags acks with note: the digest covers them.
func SignoffDigestAcknowledging(p *Problem, acks []FlagRef, note string) string {
	ev := p.EvidenceHashes()
	slices.Sort(ev)
	c := signedContent{
		ID: p.ID, Code: p.Code, Version: p.Version, State: p.State, Title: p.Title, Description: p.Description,
		Source: p.Source, SourceRef: p.SourceRef, CountyID: p.CountyID, WorkPoint: p.WorkPoint,
		LeadUnit: p.LeadUnit, CooperatingUnits: p.CooperatingUnits, Requirements: p.Requirements,
		Plan: p.Plan, Summary: p.Summary, Opinion: p.Opinion, Deadline: p.Deadline,
		OriginalDeadline: p.OriginalDeadline, Evidence: ev,
		AcknowledgedFlags: acks, AcknowledgementNote: note,
	}
	b, err := json.Marshal(c)
	if err != nil {
		panic(err) // plain strings, numbers and times always encode
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// signature signs p as it stands for trigger t by a at now, with the
// evidence flags a verify acknowledges.
func signature(t Trigger, a Actor, p *Problem, now time.Time, acks []FlagRef, note string) *Signature {
	meaning := MeaningVerify
	if t == TriggerClose {
		meaning = MeaningClose
	}
	return &Signature{Action: string(t), SignerID: a.ID, SignerName: a.Name, UnitID: a.UnitID, Role: a.Role,
		At: now, Meaning: meaning, Version: p.Version, Digest: SignoffDigestAcknowledging(p, acks, note)}
}

func (p *Problem) addSignature(s *Signature) {
	if s != nil {
		p.Signatures = append(p.Signatures, *s)
	}
}
