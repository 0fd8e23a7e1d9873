// Package check holds what every store refuses alike before it writes: the
// shapes of users, tokens, units, work points, cursors, password hashes and
// sessions that the conformance suite (store/storetest) expects each store
// to refuse with the same code and reason. The domain checks its own rules
// (workflow); these are the store contract's.
package check

import (
	"github.com/jdz-eco/rectify/workflow"
)

// MaxCursorName bounds an outbox consumer's name, in bytes (well below
// bbolt's key size limit; etcd keys take it escaped).
const MaxCursorName = 200

// NewUser checks a user and its first token for Store.CreateUser, t's
// UserID already defaulted to u's.
func NewUser(u workflow.User, t workflow.Token) error {
	switch {
	case u.ID == "":
		return workflow.RefuseField(workflow.ReasonRequired, "id", "a user needs an id")
	case t.UserID != u.ID:
		return workflow.RefuseField(workflow.ReasonMalformed, "user_id", "the token of user %s names user %s", u.ID, t.UserID)
	}
	return Token(t)
}

// Token checks a token for Store.AddToken (the user must exist: the store
// checks that in its transaction).
func Token(t workflow.Token) error {
	if t.Hash == "" {
		return workflow.RefuseField(workflow.ReasonRequired, "hash", "a token needs a hash")
	}
	if t.UserID == "" {
		return UserNotFound("")
	}
	return nil
}

// UserNotFound is the refusal of a write for user id that is not stored.
func UserNotFound(id string) error {
	return workflow.Refuse(workflow.ReasonUserNotFound, "user %s not found", id)
}

// Units checks units for Store.PutUnits.
func Units(units []workflow.Unit) error {
	for _, u := range units {
		if u.ID == "" {
			return workflow.RefuseField(workflow.ReasonRequired, "id", "a unit needs an id")
		}
	}
	return nil
}

// WorkPoints checks work points for Store.PutWorkPoints.
func WorkPoints(wps []workflow.WorkPoint) error {
	for _, wp := range wps {
		if wp.Number < 0 {
			return workflow.RefuseField(workflow.ReasonOutOfRange, "number", "work point number %d is negative", wp.Number)
		}
	}
	return nil
}

// CursorName checks an outbox consumer's name for Store.Cursor and
// Store.SetCursor.
func CursorName(name string) error {
	switch {
	case name == "":
		return workflow.RefuseField(workflow.ReasonRequired, "name", "a cursor needs a name")
	case len(name) > MaxCursorName:
		return workflow.RefuseField(workflow.ReasonTooLong, "name", "cursor name is longer than %d bytes", MaxCursorName)
	}
	return nil
}

// PasswordHash checks a password hash for Accounts.SetPasswordHash (the
// user must exist: the store checks that in its transaction).
func PasswordHash(userID, hash string) error {
	if hash == "" {
		return workflow.RefuseField(workflow.ReasonRequired, "password", "a password hash is required")
	}
	if userID == "" {
		return UserNotFound("")
	}
	return nil
}

// Session checks a session for Accounts.PutSession.
func Session(s workflow.Session) error {
	if s.IDHash == "" || s.UserID == "" {
		return workflow.RefuseField(workflow.ReasonRequired, "session", "a session needs an id hash and a user")
	}
	return nil
}
