package workflow

import "time"

// Actions recorded in history besides the triggers.
const (
	ActionCreate = "create"
	ActionNote   = "note"
)

// Entry is one append-only history record of a problem. Seq is global and
// increasing across the ledger; the store assigns it.
//
// Entries are hash-chained over their JSON encoding (EntryHash): a field
// added later to Entry or anything it holds must be omitempty, and no field
// may be removed or renamed, or the hashes of older entries break.
type Entry struct {
	Seq       uint64 `json:"seq"`
	ProblemID string `json:"problem_id"`
	// WorkPoint is the work point of an entry of no problem: a work point's
	// history (reports and their alerts, docs/design.md#dispatch-rounds).
	WorkPoint int       `json:"work_point,omitempty"`
	Version   uint64    `json:"version"` // the problem's (or work point's) version after this entry
	At        time.Time `json:"at"`
	Actor     Actor     `json:"actor"`
	Action    string    `json:"action"` // a Trigger or one of the other actions (ActionCreate, ActionNote, ActionReport, …)
	From      State     `json:"from,omitempty"`
	To        State     `json:"to,omitempty"`
	Params    Params    `json:"params"`
	// Supervision is the problem's deadline bookkeeping after the command
	// this entry belongs to; replay restores it from here.
	Supervision *Supervision `json:"supervision,omitempty"`

	// PrevHash is the Hash of the ledger's previous entry (GenesisHash for
	// the first); Hash is the SHA-256 of this entry's canonical encoding,
	// PrevHash included. The store fills both with SealEntry.
	PrevHash string `json:"prev_hash,omitempty"`
	Hash     string `json:"hash,omitempty"`
}

// Params are a command's parameters. Which fields a trigger takes, and which it
// requires, is decided by ValidateParams.
type Params struct {
	LeadUnit         string     `json:"lead_unit,omitempty"`
	CooperatingUnits []string   `json:"cooperating_units,omitempty"`
	Deadline         *time.Time `json:"deadline,omitempty"`
	Requirements     string     `json:"requirements,omitempty"`
	Reason           string     `json:"reason,omitempty"`
	Plan             string     `json:"plan,omitempty"`
	Summary          string     `json:"summary,omitempty"`
	Opinion          string     `json:"opinion,omitempty"`
	Statement        string     `json:"statement,omitempty"`
	Text             string     `json:"text,omitempty"`

	// Alerts: the level or stage breach reached, against whom, how late.
	Level       string `json:"level,omitempty"`
	Against     string `json:"against,omitempty"`
	DaysOverdue int    `json:"days_overdue,omitempty"`

	// Extensions: the request decided, the decision, the bureau's note.
	ExtensionID string `json:"extension_id,omitempty"`
	Decision    string `json:"decision,omitempty"`
	Note        string `json:"note,omitempty"`

	// Evidence added (ActionEvidence); the sign-off of a verify or close;
	// warnings shown to the signer (evidence also used by other problems).
	Evidence  *Evidence  `json:"evidence,omitempty"`
	Signature *Signature `json:"signature,omitempty"`
	Warnings  []string   `json:"warnings,omitempty"`

	// Dispatch rounds: the round a report, a report_late alert or a
	// round_open names; the unit a work point's report is for; the round's
	// due time; the report itself (进展情况, 完成百分比, 下一步, 困难和问题,
	// figures against the work point's targets); whether it came after the
	// due time (逾期报送); the digest of the round as opened.
	Round        string     `json:"round,omitempty"`
	Unit         string     `json:"unit,omitempty"`
	Due          *time.Time `json:"due,omitempty"`
	Progress     string     `json:"progress,omitempty"`
	Percent      *int       `json:"percent,omitempty"`
	NextSteps    string     `json:"next_steps,omitempty"`
	Difficulties string     `json:"difficulties,omitempty"`
	Figures      []Figure   `json:"figures,omitempty"`
	Late         bool       `json:"late,omitempty"`
	Digest       string     `json:"digest,omitempty"`

	// Supervision letters: the letter an entry names (ActionLetter,
	// ActionLetterReply, a letter_reply_late alert), its document number
	// and kind. Unit is the addressed unit, Due the reply due time, Text
	// the reply.
	Letter     string `json:"letter,omitempty"`
	DocNo      string `json:"doc_no,omitempty"`
	LetterKind string `json:"letter_kind,omitempty"`

	// Set on ActionCreate entries: the record as logged.
	Title       string `json:"title,omitempty"`
	Description string `json:"description,omitempty"`
	Source      Source `json:"source,omitempty"`
	SourceRef   string `json:"source_ref,omitempty"`
	CountyID    string `json:"county_id,omitempty"`
	WorkPoint   int    `json:"work_point,omitempty"`
	Location    string `json:"location,omitempty"`
	DedupeKey   string `json:"dedupe_key,omitempty"`

	// A position set at creation (ActionCreate) or later (ActionPosition;
	// nil there clears it), in WGS-84.
	Position *LatLng `json:"position,omitempty"`

	// Verify: the evidence flags the inspector acknowledged, and why.
	AcknowledgedFlags   []FlagRef `json:"acknowledged_flags,omitempty"`
	AcknowledgementNote string    `json:"acknowledgement_note,omitempty"`

	// A site check (ActionSiteCheck); a look-back drawn or confirmed
	// (ActionLookbackDrawn, ActionLookbackConfirmed).
	SiteCheck *SiteCheck `json:"site_check,omitempty"`
	Lookback  *Lookback  `json:"lookback,omitempty"`

	// A head anchor (ActionHeadAnchor): the head it anchors, SEQ:HASH of
	// the entry before it, and its day (YYYY-MM-DD in Asia/Shanghai).
	Head string `json:"head,omitempty"`
	Day  string `json:"day,omitempty"`

	// Public notices (notice.go): the notice a close started or an
	// end_notice ended; an objection filed; the objection an uphold or a
	// dismissal decides; the photo marked public or not (ActionEvidencePublic).
	Notice      *NoticePeriod `json:"notice,omitempty"`
	Objection   *Objection    `json:"objection,omitempty"`
	ObjectionID string        `json:"objection_id,omitempty"`
	File        string        `json:"file,omitempty"`
	Public      *bool         `json:"public,omitempty"`
}
