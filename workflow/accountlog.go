package workflow

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// The account log: every change to users, their tokens and their passwords
// is an AccountEvent, written by the store in the transaction of the change
// and hash-chained like the history (its own chain: sequence numbers from 1,
// the first PrevHash GenesisHash). An event holds what the change was, so
// that replaying the log gives every user, its live tokens (by id) and a
// stamp of its password hash: the audit compares that with what the store
// holds, and a user, token or password written into the database without
// an event is found. No token secret, token hash or password is in an event:
// a token is named by its id (TokenID), a password hash by its stamp.

// Account event actions.
const (
	AccountBaseline = "accounts.baseline" // the accounts a database held before its account log began
	AccountCreate   = "user.create"       // a user and its first token
	AccountDisable  = "user.disable"      // the user's tokens and sessions stop working
	AccountEnable   = "user.enable"
	AccountPassword = "user.password" // a new password (Revoked: the tokens revoked with it)
	AccountIssue    = "token.issue"
	AccountRevoke   = "token.revoke"
	AccountRotate   = "token.rotate" // Revoked one token, Issued its successor
)

// AccountActions lists every account event action.
var AccountActions = []string{
	AccountBaseline, AccountCreate, AccountDisable, AccountEnable, AccountPassword, AccountIssue, AccountRevoke, AccountRotate,
}

// AccountEvent is one entry of the account log. Fields added later must be
// omitempty, and none may be removed or renamed, or the hashes of older
// events break.
type AccountEvent struct {
	Seq    uint64    `json:"seq"`
	At     time.Time `json:"at"`
	Actor  Actor     `json:"actor"`
	Action string    `json:"action"`
	UserID string    `json:"user_id,omitempty"`
	// User is the user as created (AccountCreate).
	User *User `json:"user,omitempty"`
	// Issued are the tokens issued, Revoked the ids of the tokens revoked.
	Issued  []TokenRecord `json:"issued,omitempty"`
	Revoked []string      `json:"revoked,omitempty"`
	// PasswordStamp is the stamp of the new password hash (AccountPassword).
	PasswordStamp string `json:"password_stamp,omitempty"`
	// Baseline is the state an AccountBaseline event records.
	Baseline *AccountState `json:"baseline,omitempty"`

	// PrevHash is the Hash of the previous event (GenesisHash for the
	// first); Hash the SHA-256 of this event's JSON with Hash empty. The
	// store fills both with SealAccountEvent.
	PrevHash string `json:"prev_hash,omitempty"`
	Hash     string `json:"hash,omitempty"`
}

// TokenRecord is a token as the account log names it: by id, never by
// secret or hash.
type TokenRecord struct {
	ID        string     `json:"id"`
	UserID    string     `json:"user_id"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
}

// Record returns the token as the account log names it.
func (t Token) Record() TokenRecord {
	return TokenRecord{ID: t.ID(), UserID: t.UserID, CreatedAt: t.CreatedAt, ExpiresAt: t.ExpiresAt}
}

// AccountState is the accounts a store holds, or a replay of the account
// log: users by id, tokens, and password stamps by user id.
type AccountState struct {
	Users     []User            `json:"users"`
	Tokens    []TokenRecord     `json:"tokens"`
	Passwords map[string]string `json:"passwords,omitempty"`
}

// PasswordStamp is the stamp of a password hash kept in account events and
// sessions: a short digest that tells a changed hash without revealing it.
func PasswordStamp(hash string) string { return passwordStamp(hash) }

// AccountEventHash returns the SHA-256 (hex) of e's JSON with Hash empty
// (canonical as EntryHash's: fields in declaration order, times in UTC).
func AccountEventHash(e AccountEvent) (string, error) {
	e.Hash = ""
	b, err := json.Marshal(e)
	if err != nil {
		return "", fmt.Errorf("encode account event %d: %w", e.Seq, err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// SealAccountEvent gives e sequence number seq, links it to the previous
// event's hash and sets its own hash. The store calls it in the write
// transaction that appends e.
func SealAccountEvent(e *AccountEvent, seq uint64, prev string) error {
	e.Seq, e.PrevHash = seq, prev
	e.At = e.At.UTC()
	h, err := AccountEventHash(*e)
	if err != nil {
		return err
	}
	e.Hash = h
	return nil
}

// AccountChange is one account command as the store applies it, in one
// transaction with its event. The domain decided it; the store checks only
// what it must to keep the data whole, and writes nothing when a check
// fails.
type AccountChange struct {
	// NewUser, if set, is stored as a new user; an id already taken is
	// CodeConflict.
	NewUser *User
	// UserID is the user changed (NewUser's id when it creates one); any
	// other unknown user is CodeNotFound.
	UserID string
	// SetDisabled, if set, becomes the user's Disabled.
	SetDisabled *bool
	// PasswordHash, if not empty, becomes the user's password hash.
	PasswordHash string
	// AddTokens are stored for UserID; a hash already stored is
	// CodeConflict.
	AddTokens []Token
	// RemoveTokens are hashes of UserID's tokens to delete; a hash not
	// stored, or of another user's token, is CodeNotFound.
	RemoveTokens []string
	// Baseline, if set, is appended before Event, and only to an empty log:
	// otherwise the change fails with ErrAccountLogStarted.
	Baseline *AccountEvent
	// Event is appended to the account log, sealed by the store.
	Event AccountEvent
}

// ErrAccountLogStarted refuses a baseline for a log that has events.
var ErrAccountLogStarted = errors.New("the account log has events already: no baseline")
