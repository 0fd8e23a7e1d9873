package workflow

import (
	"errors"
	"fmt"
)

// Code is a stable, machine-readable error class. The api package maps each code
// to one HTTP status in a single table.
type Code string

// Error codes. Every error the domain returns to a caller carries one of them.
const (
	CodeInvalid            Code = "invalid"             // bad input: missing, unknown or malformed field
	CodeUnauthorized       Code = "unauthorized"        // no or unknown credentials
	CodeForbidden          Code = "forbidden"           // role, unit or separation-of-duty rule failed
	CodeNotFound           Code = "not_found"           // unknown, or invisible to the caller
	CodeConflict           Code = "conflict"            // trigger not permitted in the current state, or a duplicate
	CodePreconditionFailed Code = "precondition_failed" // the caller's expected version is stale
	CodeTooLarge           Code = "too_large"           // an upload or body over its size limit
	CodeUnsupportedType    Code = "unsupported_type"    // an upload whose content is not an allowed type
	CodeInternal           Code = "internal"            // a real fault; never shown to callers
	CodeUnavailable        Code = "unavailable"         // the store cannot serve for now (quorum lost, no answer in time): try again shortly
	CodeRateLimited        Code = "rate_limited"        // too many requests from one client: try again later
)

// Error is the domain's one error type. Code is the class of the refusal and
// Reason the rule that refused (see Reason; empty only for internal faults
// and for conditions found outside the domain, such as malformed HTTP).
// Message is safe to show to the caller, in English; State and Permitted
// explain a refused command on a problem (Trigger names the trigger refused,
// if it was one); Field names the offending input.
type Error struct {
	Code      Code
	Reason    Reason
	Message   string
	Field     string
	State     State
	Permitted []Trigger
	Trigger   Trigger
	// Flags lists the evidence flags a verify left unacknowledged
	// (ReasonUnacknowledgedFlags).
	Flags []FlagRef
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

// Errorf returns an *Error with the given code and a formatted message, and
// no reason: for internal faults, and for refusals outside the domain's
// rules. A refusal the domain decides uses Refuse.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Invalid returns a CodeInvalid error naming the offending field, with no
// reason (see Errorf; the domain uses RefuseField).
func Invalid(field, format string, args ...any) *Error {
	return &Error{Code: CodeInvalid, Field: field, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of err if it is (or wraps) an *Error, and
// CodeInternal for any other non-nil error.
func ErrorCode(err error) Code {
	if err == nil {
		return ""
	}
	if e := asError(err); e != nil {
		return e.Code
	}
	return CodeInternal
}

// asError returns the *Error err is or wraps, or nil.
func asError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return nil
}

// ErrorMessage returns the caller-safe message of err; internal faults get a
// generic text so that details are logged, never shown.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Code != CodeInternal {
		return e.Message
	}
	return "internal error"
}
