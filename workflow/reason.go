package workflow

import (
	"fmt"
	"slices"
)

// Reason is a stable sub-code of an Error: the rule that refused, where the
// Code is only its class (and the HTTP status). Callers switch on reasons,
// never on the English Message, which may be reworded; the pages word each
// reason in Chinese (api/web), and the API shows it as the problem's
// "reason" member. Every reason is listed below with the code it refines
// (Reasons lists them all); a new refusal gets a reason here and its
// Chinese text in api/web, or a test fails.
type Reason string

// Reasons of CodeInvalid: the input is missing, malformed or inconsistent.
// Field names the input.
const (
	ReasonRequired              Reason = "required"                 // a required field is empty
	ReasonTooLong               Reason = "too_long"                 // a text or name is longer than allowed
	ReasonMalformed             Reason = "malformed"                // a value is not of the form its field needs
	ReasonBadDate               Reason = "bad_date"                 // neither a date nor an RFC 3339 time, or out of range
	ReasonOutOfRange            Reason = "out_of_range"             // a number (a page size, a year) outside its bounds
	ReasonUnknownValue          Reason = "unknown_value"            // not one of the values the field takes (state, source, level, role…)
	ReasonUnknownField          Reason = "unknown_field"            // a field or part the request may not carry
	ReasonUnknownTrigger        Reason = "unknown_trigger"          // not a trigger of the workflow
	ReasonUnknownUnit           Reason = "unknown_unit"             // no unit has that id
	ReasonNotCounty             Reason = "not_county"               // the unit is not a county, district or zone
	ReasonUnknownWorkPoint      Reason = "unknown_work_point"       // no work point has that number
	ReasonUnitListedTwice       Reason = "unit_listed_twice"        // a cooperating unit is listed twice
	ReasonNotInGroup            Reason = "not_in_group"             // a unit of a kind the unit group cannot stand for
	ReasonLeadCooperates        Reason = "lead_cooperates"          // the lead unit is also listed as cooperating
	ReasonAlreadyLead           Reason = "already_lead"             // reassign names the lead unit it has
	ReasonReassignNothing       Reason = "reassign_nothing"         // reassign changes neither unit nor deadline
	ReasonReopenNeedsDeadline   Reason = "reopen_needs_deadline"    // reopening to rectifying needs a new deadline
	ReasonReopenTakesNoDeadline Reason = "reopen_takes_no_deadline" // a dismissed problem reopens to found, without one
	ReasonDeadlineNotLater      Reason = "deadline_not_later"       // an extension must ask for a later deadline
	ReasonFileMissing           Reason = "file_missing"             // the upload has no file (or no file name)
	ReasonFileEmpty             Reason = "file_empty"               // the file has no content
	ReasonFileNotStored         Reason = "file_not_stored"          // the evidence store holds no such file
	ReasonBadConfig             Reason = "bad_config"               // a policy, calendar or unit list is inconsistent
	ReasonExpiryPast            Reason = "expiry_past"              // a token's expiry is not in the future
	ReasonControlCharacter      Reason = "control_character"        // a text holds a control character other than line feed or tab
	ReasonNotUTF8               Reason = "not_utf8"                 // a text is not valid UTF-8
	ReasonEmptyScope            Reason = "empty_scope"              // a round's scope takes in nothing to report on
	ReasonNotReportable         Reason = "not_reportable"           // a problem named in a round's scope is closed or has no lead unit
	ReasonNotInRound            Reason = "not_in_round"             // the problem or work point is not one the round asks about
	ReasonDueNotFuture          Reason = "due_not_future"           // a round's due time must be later than now
	ReasonUnknownTarget         Reason = "unknown_target"           // a figure names a target the work point does not set
	ReasonDateFuture            Reason = "date_future"              // a briefing's as_of date is after today
	ReasonUnitNotInvolved       Reason = "unit_not_involved"        // a letter's unit neither leads nor cooperates on a problem it names
	ReasonProblemClosed         Reason = "problem_closed"           // a letter names a closed problem
	ReasonProblemListedTwice    Reason = "problem_listed_twice"     // a letter names a problem twice
)

// Reasons of CodeUnauthorized.
const (
	ReasonNoCredentials Reason = "no_credentials" // no token or session was given
	ReasonBadToken      Reason = "bad_token"      // the token is unknown, malformed or its user disabled
	ReasonSignInFailed  Reason = "sign_in_failed" // unknown name or wrong password
	ReasonSessionEnded  Reason = "session_ended"  // not signed in, or the session has ended
	ReasonTokenExpired  Reason = "token_expired"  // the token is past its expiry
)

// Reasons of CodeForbidden: the actor may not, whatever the state.
const (
	ReasonRole              Reason = "role"               // the actor's role may not do this
	ReasonNotLeadUnit       Reason = "not_lead_unit"      // only members of the lead unit may
	ReasonNotInvolved       Reason = "not_involved"       // only members of the lead or cooperating units may
	ReasonOwnProblem        Reason = "own_problem"        // separation of duties: an inspector of the lead unit
	ReasonSubmitterVerifies Reason = "submitter_verifies" // separation of duties: the submitter may not verify (nor, strictly, reject or close)
	ReasonLeadMember        Reason = "lead_member"        // separation of duties (strict): a member of the lead unit reviews
	ReasonCooperatingMember Reason = "cooperating_member" // separation of duties (strict): a member of a cooperating unit reviews
	ReasonUploaderReviews   Reason = "uploader_reviews"   // separation of duties (strict): an uploader of evidence, or a member of its unit, reviews
	ReasonVerifierCloses    Reason = "verifier_closes"    // separation of duties: the verifier may not close
	ReasonDeadlinePassed    Reason = "deadline_passed"    // an extension asked for after the deadline (and its grace)
	ReasonOwnPasswordOnly   Reason = "own_password_only"  // a user may set only their own password
	ReasonCSRF              Reason = "csrf"               // a form without its session's token, or from another site
	ReasonAccountDisabled   Reason = "account_disabled"   // the right password of a disabled user
	ReasonDisableSelf       Reason = "disable_self"       // an admin may not disable their own account
	ReasonNotReportingUnit  Reason = "not_reporting_unit" // the caller's unit does not owe that report in the round
	ReasonNotAddressee      Reason = "not_addressee"      // only members of the unit a letter is addressed to may reply
)

// Reasons of CodeNotFound: unknown, or invisible to the caller.
const (
	ReasonProblemNotFound   Reason = "problem_not_found"
	ReasonExtensionNotFound Reason = "extension_not_found"
	ReasonUnitNotFound      Reason = "unit_not_found"
	ReasonUserNotFound      Reason = "user_not_found"
	ReasonEvidenceNotFound  Reason = "evidence_not_found"
	ReasonRecordNotFound    Reason = "record_not_found" // a token, session or password a store does not hold
	ReasonWorkPointNotFound Reason = "work_point_not_found"
	ReasonUnitGroupNotFound Reason = "unit_group_not_found" // the work point names no unit group of that name
	ReasonTokenNotFound     Reason = "token_not_found"      // the user holds no token of that id (revoked, or never issued)
	ReasonRoundNotFound     Reason = "round_not_found"      // no dispatch round has that id, or the caller owes it nothing
	ReasonImportJobNotFound Reason = "import_job_not_found" // no ledger import job of that id (kept an hour, by the server that ran it)
	ReasonLetterNotFound    Reason = "letter_not_found"     // no letter has that id, or the caller may not see it
)

// Reasons of CodeConflict: not now, in this state, or a duplicate. A refused
// trigger also carries the problem's State and the triggers permitted.
const (
	ReasonNotPermitted        Reason = "not_permitted"        // the trigger is not permitted in the problem's state
	ReasonNeedsEvidence       Reason = "needs_evidence"       // submit needs evidence
	ReasonNeedsNewEvidence    Reason = "needs_new_evidence"   // submit after a rejection needs evidence added since
	ReasonNotesClosed         Reason = "notes_closed"         // notes only while assigned or rectifying
	ReasonEvidenceFrozen      Reason = "evidence_frozen"      // evidence only while assigned or rectifying
	ReasonExtensionClosed     Reason = "extension_closed"     // extensions only while assigned or rectifying
	ReasonExtensionPending    Reason = "extension_pending"    // a request is already pending
	ReasonExtensionDecided    Reason = "extension_decided"    // the request was already decided
	ReasonExtensionDenyOnly   Reason = "extension_deny_only"  // the problem left rectification: deny only
	ReasonNameTaken           Reason = "name_taken"           // a user of that name exists
	ReasonNameAmbiguous       Reason = "name_ambiguous"       // more than one user has that name
	ReasonExists              Reason = "exists"               // a record with that key exists
	ReasonUserDisabled        Reason = "user_disabled"        // a disabled user's tokens do not change: enable it first
	ReasonSameEvidence        Reason = "same_evidence"        // the file is already among the problem's evidence
	ReasonNeedsAfterPhoto     Reason = "needs_after_photo"    // submit of a film or inspection problem needs a new after photo
	ReasonUnacknowledgedFlags Reason = "unacknowledged_flags" // verify leaves evidence flags unacknowledged
	ReasonNeedsSiteCheck      Reason = "needs_site_check"     // verify needs a site check of the submission first
	ReasonSiteCheckClosed     Reason = "site_check_closed"    // site checks only while a submission waits on the inspectors
	ReasonNoLookback          Reason = "no_lookback"          // the problem has no pending look-back task
	ReasonReportClosed        Reason = "report_closed"        // the round fell due: its report can no longer be amended
	ReasonImportsBusy         Reason = "imports_busy"         // more ledger imports are waiting than a server takes
	ReasonLetterReplied       Reason = "letter_replied"       // the letter has its reply: a second one is refused
	ReasonLetterNotIssued     Reason = "letter_not_issued"    // a draft or discarded letter takes no reply
	ReasonLetterNotDraft      Reason = "letter_not_draft"     // only a draft is issued or discarded
)

// Reasons of the other codes.
const (
	ReasonKeyReused    Reason = "key_reused"     // CodeKeyReused: the Idempotency-Key was used with another request
	ReasonKeyInFlight  Reason = "key_in_flight"  // CodeKeyInFlight: the first request with the key is being processed
	ReasonStaleVersion Reason = "stale_version"  // CodePreconditionFailed: the caller's version is not the current one
	ReasonFileTooLarge Reason = "file_too_large" // CodeTooLarge: a file over the evidence limit
	ReasonBodyTooLarge Reason = "body_too_large" // CodeTooLarge: a request body over its limit
	ReasonFileType     Reason = "file_type"      // CodeUnsupportedType: not an accepted evidence type

	ReasonStoreUnavailable Reason = "store_unavailable" // CodeUnavailable: the store cannot serve for now (no quorum, no answer in time)
	ReasonNotReady         Reason = "not_ready"         // CodeUnavailable: a readiness check of /readyz failed
	ReasonScopeTooLarge    Reason = "scope_too_large"   // CodeTooLarge: a round's scope takes in more reports than a round holds
)

// Reasons of the public notice (notice.go).
const (
	ReasonNoticeBySystem    Reason = "notice_by_system"    // CodeForbidden: the scanner closes a notice configured so
	ReasonNoticeRunning     Reason = "notice_running"      // CodeConflict: the notice has not ended yet
	ReasonObjectionOpen     Reason = "objection_open"      // CodeConflict: a notice cannot end while an objection is open
	ReasonObjectionDecided  Reason = "objection_decided"   // CodeConflict: the objection was already decided
	ReasonNoticeOver        Reason = "notice_over"         // CodeConflict: the notice has ended: no more objections
	ReasonObjectionsFull    Reason = "objections_full"     // CodeConflict: too many objections are open on the problem
	ReasonObjectionNotFound Reason = "objection_not_found" // CodeNotFound
	ReasonNotInNotice       Reason = "not_in_notice"       // CodeNotFound: the problem is not in public notice
	ReasonNotPhoto          Reason = "not_photo"           // CodeInvalid: only photos may be public
	ReasonRateLimited       Reason = "rate_limited"        // CodeRateLimited: too many requests from the client
)

// Reasons of a ledger import's rows and readings (CodeInvalid, as the
// RowError.Rule of ledgerfile; the domain's own reasons serve there too), and
// of an import job that stopped.
const (
	ReasonColumnTwice     Reason = "column_twice"      // the header names a column twice
	ReasonMissingColumn   Reason = "missing_column"    // the header lacks a required column
	ReasonAmbiguousSource Reason = "ambiguous_source"  // 问题来源 could be the central or the provincial inspection
	ReasonAssignTogether  Reason = "assign_together"   // 牵头单位 and 整改时限 assign a problem together: one without the other
	ReasonNeedsAssignment Reason = "needs_assignment"  // 配合单位 or 整改要求 without 牵头单位 and 整改时限
	ReasonDuplicateRow    Reason = "duplicate_row"     // the same 来源文件 and 问题描述 as an earlier row
	ReasonDuplicateCode   Reason = "duplicate_code"    // the same 问题编号 as an earlier row
	ReasonCodeMismatch    Reason = "code_mismatch"     // the 问题编号 is another problem's of the ledger
	ReasonMoreErrors      Reason = "more_errors"       // more errors than are listed
	ReasonTooManyRows     Reason = "too_many_rows"     // more rows than an import takes
	ReasonTooManyColumns  Reason = "too_many_columns"  // cells past the ledger's columns
	ReasonContentTooLarge Reason = "content_too_large" // a cell, row or part of the file past its bound
	ReasonUnreadable      Reason = "unreadable"        // not a workbook or CSV file that can be read
	ReasonReadTimeout     Reason = "read_timeout"      // reading the file took longer than its budget
	ReasonImportCancelled Reason = "import_cancelled"  // the client went away while the file was read
	ReasonImportTimeout   Reason = "import_timeout"    // an import job took longer than its budget
	ReasonServerStopped   Reason = "server_stopped"    // the server stopped before the import job ended
)

// Reasons of reminders (CodeInvalid): a contact address an admin sets.
const (
	ReasonBadWebhookURL    Reason = "bad_webhook_url"    // a robot URL is not an https URL with a host (or http where allowed)
	ReasonPrivateAddress   Reason = "private_address"    // a robot URL names a loopback, link-local, private or metadata address
	ReasonBadEmail         Reason = "bad_email"          // not one plain e-mail address
	ReasonSecretWithoutURL Reason = "secret_without_url" // a signing secret for a robot the unit does not have
)

// reasonCodes is the one list of reasons, each with the code it refines.
var reasonCodes = map[Reason]Code{
	ReasonRequired: CodeInvalid, ReasonTooLong: CodeInvalid, ReasonMalformed: CodeInvalid,
	ReasonBadDate: CodeInvalid, ReasonOutOfRange: CodeInvalid, ReasonUnknownValue: CodeInvalid,
	ReasonUnknownField: CodeInvalid, ReasonUnknownTrigger: CodeInvalid, ReasonUnknownUnit: CodeInvalid,
	ReasonNotCounty: CodeInvalid, ReasonUnknownWorkPoint: CodeInvalid, ReasonUnitListedTwice: CodeInvalid,
	ReasonNotInGroup:     CodeInvalid,
	ReasonLeadCooperates: CodeInvalid, ReasonAlreadyLead: CodeInvalid, ReasonReassignNothing: CodeInvalid,
	ReasonReopenNeedsDeadline: CodeInvalid, ReasonReopenTakesNoDeadline: CodeInvalid,
	ReasonDeadlineNotLater: CodeInvalid, ReasonFileMissing: CodeInvalid, ReasonFileEmpty: CodeInvalid,
	ReasonFileNotStored: CodeInvalid, ReasonBadConfig: CodeInvalid, ReasonExpiryPast: CodeInvalid,
	ReasonControlCharacter: CodeInvalid, ReasonNotUTF8: CodeInvalid,
	ReasonEmptyScope: CodeInvalid, ReasonNotReportable: CodeInvalid, ReasonNotInRound: CodeInvalid,
	ReasonDueNotFuture: CodeInvalid, ReasonUnknownTarget: CodeInvalid,
	ReasonDateFuture: CodeInvalid,

	ReasonNoCredentials: CodeUnauthorized, ReasonBadToken: CodeUnauthorized,
	ReasonSignInFailed: CodeUnauthorized, ReasonSessionEnded: CodeUnauthorized, ReasonTokenExpired: CodeUnauthorized,

	ReasonRole: CodeForbidden, ReasonNotLeadUnit: CodeForbidden, ReasonNotInvolved: CodeForbidden,
	ReasonOwnProblem: CodeForbidden, ReasonSubmitterVerifies: CodeForbidden, ReasonVerifierCloses: CodeForbidden,
	ReasonLeadMember: CodeForbidden, ReasonCooperatingMember: CodeForbidden, ReasonUploaderReviews: CodeForbidden,
	ReasonDeadlinePassed: CodeForbidden, ReasonOwnPasswordOnly: CodeForbidden, ReasonCSRF: CodeForbidden,
	ReasonAccountDisabled: CodeForbidden, ReasonDisableSelf: CodeForbidden,
	ReasonNotReportingUnit: CodeForbidden,

	ReasonProblemNotFound: CodeNotFound, ReasonExtensionNotFound: CodeNotFound, ReasonUnitNotFound: CodeNotFound,
	ReasonUserNotFound: CodeNotFound, ReasonEvidenceNotFound: CodeNotFound, ReasonRecordNotFound: CodeNotFound,
	ReasonWorkPointNotFound: CodeNotFound, ReasonUnitGroupNotFound: CodeNotFound,
	ReasonTokenNotFound: CodeNotFound, ReasonRoundNotFound: CodeNotFound,
	ReasonImportJobNotFound: CodeNotFound,

	ReasonNotPermitted: CodeConflict, ReasonNeedsEvidence: CodeConflict, ReasonNeedsNewEvidence: CodeConflict,
	ReasonNotesClosed: CodeConflict, ReasonEvidenceFrozen: CodeConflict, ReasonExtensionClosed: CodeConflict,
	ReasonExtensionPending: CodeConflict, ReasonExtensionDecided: CodeConflict,
	ReasonExtensionDenyOnly: CodeConflict, ReasonNameTaken: CodeConflict, ReasonNameAmbiguous: CodeConflict,
	ReasonExists: CodeConflict, ReasonUserDisabled: CodeConflict,
	ReasonSameEvidence: CodeConflict, ReasonNeedsAfterPhoto: CodeConflict,
	ReasonUnacknowledgedFlags: CodeConflict, ReasonNeedsSiteCheck: CodeConflict, ReasonSiteCheckClosed: CodeConflict,
	ReasonNoLookback: CodeConflict, ReasonReportClosed: CodeConflict,
	ReasonImportsBusy: CodeConflict,

	ReasonStaleVersion: CodePreconditionFailed,
	ReasonFileTooLarge: CodeTooLarge, ReasonBodyTooLarge: CodeTooLarge,
	ReasonFileType:  CodeUnsupportedType,
	ReasonKeyReused: CodeKeyReused, ReasonKeyInFlight: CodeKeyInFlight,
	ReasonStoreUnavailable: CodeUnavailable, ReasonNotReady: CodeUnavailable,
	ReasonScopeTooLarge: CodeTooLarge,

	ReasonNoticeBySystem: CodeForbidden, ReasonNoticeRunning: CodeConflict, ReasonObjectionOpen: CodeConflict,
	ReasonObjectionDecided: CodeConflict, ReasonNoticeOver: CodeConflict, ReasonObjectionsFull: CodeConflict,
	ReasonObjectionNotFound: CodeNotFound, ReasonNotInNotice: CodeNotFound, ReasonNotPhoto: CodeInvalid,
	ReasonRateLimited: CodeRateLimited,

	ReasonColumnTwice: CodeInvalid, ReasonMissingColumn: CodeInvalid, ReasonAmbiguousSource: CodeInvalid, ReasonAssignTogether: CodeInvalid,
	ReasonNeedsAssignment: CodeInvalid, ReasonDuplicateRow: CodeInvalid, ReasonDuplicateCode: CodeInvalid,
	ReasonCodeMismatch: CodeInvalid, ReasonMoreErrors: CodeInvalid, ReasonTooManyRows: CodeInvalid,
	ReasonTooManyColumns: CodeInvalid, ReasonContentTooLarge: CodeInvalid, ReasonUnreadable: CodeInvalid,
	ReasonReadTimeout: CodeInvalid, ReasonImportCancelled: CodeInvalid, ReasonImportTimeout: CodeTooLarge,
	ReasonServerStopped: CodeUnavailable,
	ReasonBadWebhookURL: CodeInvalid, ReasonPrivateAddress: CodeInvalid, ReasonBadEmail: CodeInvalid,
	ReasonSecretWithoutURL: CodeInvalid,
	ReasonUnitNotInvolved:  CodeInvalid, ReasonProblemClosed: CodeInvalid, ReasonProblemListedTwice: CodeInvalid,
	ReasonNotAddressee: CodeForbidden, ReasonLetterNotFound: CodeNotFound,
	ReasonLetterReplied: CodeConflict, ReasonLetterNotIssued: CodeConflict, ReasonLetterNotDraft: CodeConflict,
}

// Reasons returns every reason, sorted.
func Reasons() []Reason {
	out := make([]Reason, 0, len(reasonCodes))
	for r := range reasonCodes {
		out = append(out, r)
	}
	slices.Sort(out)
	return out
}

// Code returns the code r refines; CodeInternal for a reason not listed.
func (r Reason) Code() Code {
	if c, ok := reasonCodes[r]; ok {
		return c
	}
	return CodeInternal
}

// Refuse returns an *Error for reason r: its code is r's, its message
// formatted (English, for the API and logs).
func Refuse(r Reason, format string, args ...any) *Error {
	return &Error{Code: r.Code(), Reason: r, Message: fmt.Sprintf(format, args...)}
}

// RefuseField is Refuse naming the offending field.
func RefuseField(r Reason, field, format string, args ...any) *Error {
	e := Refuse(r, format, args...)
	e.Field = field
	return e
}

// InState records, on a refusal of a command on a problem, the problem's
// state and the triggers the caller may fire there instead.
func (e *Error) InState(s State, permitted []Trigger) *Error {
	e.State, e.Permitted = s, permitted
	return e
}

// Refusing records the trigger a refusal refused.
func (e *Error) Refusing(t Trigger) *Error {
	e.Trigger = t
	return e
}

// ErrorReason returns the reason of err if it is (or wraps) an *Error, and ""
// otherwise.
func ErrorReason(err error) Reason {
	if e := asError(err); e != nil {
		return e.Reason
	}
	return ""
}
