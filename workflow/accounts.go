package workflow

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"time"
)

// Session is a signed-in browser. The browser holds the session id; the
// store keeps only its SHA-256 (IDHash), so that a copy of the database
// cannot be used to sign in.
type Session struct {
	IDHash string `json:"id_hash"`
	UserID string `json:"user_id"`
	// CSRF is the token every form of this session carries.
	CSRF      string    `json:"csrf"`
	CreatedAt time.Time `json:"created_at"`
	// SeenAt is when the session was last used (kept to a minute or so:
	// see SessionUser); ExpiresAt is the earlier of SeenAt plus the idle
	// timeout and CreatedAt plus the maximum age.
	SeenAt    time.Time `json:"seen_at"`
	ExpiresAt time.Time `json:"expires_at"`
	// Stamp binds the session to the password it was opened with: a
	// password change ends every session opened before it.
	Stamp string `json:"stamp"`
}

// SessionPolicy bounds a session's life.
type SessionPolicy struct {
	MaxAge time.Duration // from sign-in, whatever the activity (default 12 hours)
	Idle   time.Duration // without a request (default 2 hours)
}

// DefaultSessionPolicy returns a session life of 12 hours at most, ended by
// 2 idle hours.
func DefaultSessionPolicy() SessionPolicy {
	return SessionPolicy{MaxAge: 12 * time.Hour, Idle: 2 * time.Hour}
}

// Validate checks that both durations are positive and the idle timeout is
// not longer than the maximum age.
func (p SessionPolicy) Validate() error {
	switch {
	case p.MaxAge <= 0 || p.Idle <= 0:
		return RefuseField(ReasonBadConfig, "session", "the session maximum age and idle timeout must be positive")
	case p.Idle > p.MaxAge:
		return RefuseField(ReasonBadConfig, "session", "the session idle timeout must not be longer than its maximum age")
	}
	return nil
}

// expiry is when a session created at created and used at seen ends.
func (p SessionPolicy) expiry(created, seen time.Time) time.Time {
	abs, idle := created.Add(p.MaxAge), seen.Add(p.Idle)
	if idle.Before(abs) {
		return idle
	}
	return abs
}

// touchEvery is how stale Session.SeenAt may grow before a request records
// a new one: a session's idle timeout is exact to within it, and a busy user
// costs one write a minute, not one a request.
const touchEvery = time.Minute

// MaxPasswordHash bounds a stored password hash, in bytes.
const MaxPasswordHash = 1024

// errSignIn is the one answer to a failed sign-in, whatever failed: the
// caller learns neither whether the name exists nor whether it has a
// password.
func errSignIn() error {
	return Refuse(ReasonSignInFailed, "unknown name or wrong password")
}

// errDisabled refuses a disabled user who proved who they are.
func errDisabled(u *User) error {
	return Refuse(ReasonAccountDisabled, "user %s is disabled: an admin may enable it again", u.Name)
}

func errSession() error {
	return Refuse(ReasonSessionEnded, "not signed in, or the session has ended")
}

// accounts returns the store's Accounts, or an internal error.
func (s *Service) accounts() (Accounts, error) {
	if a, ok := s.store.(Accounts); ok {
		return a, nil
	}
	return nil, Errorf(CodeInternal, "this store keeps no passwords or sessions (workflow.Accounts)")
}

// HasAccounts reports whether the service's store keeps passwords and
// sessions, so that web sign-in can work.
func (s *Service) HasAccounts() bool {
	_, ok := s.store.(Accounts)
	return ok
}

// UserByName returns the user called name (names are unique: CreateUser
// refuses a second one). An unknown name is CodeNotFound; a name that an
// older database holds twice is CodeConflict. It reads every user.
func (s *Service) UserByName(ctx context.Context, name string) (*User, error) {
	name = strings.TrimSpace(name)
	users, err := s.store.Users(ctx)
	if err != nil {
		return nil, err
	}
	var found *User
	for i := range users {
		if users[i].Name != name {
			continue
		}
		if found != nil {
			return nil, Refuse(ReasonNameAmbiguous, "more than one user is called %q", name)
		}
		found = &users[i]
	}
	if found == nil || name == "" {
		return nil, Refuse(ReasonUserNotFound, "no user is called %q", name)
	}
	return found, nil
}

// SetPassword stores hash, a password hash made by the web layer, as user
// userID's password: ChangePassword without revoking tokens. An admin (or
// the system actor: the CLI) may set anyone's; a user may set their own.
// Every session the user opened before ends.
func (s *Service) SetPassword(ctx context.Context, a Actor, userID, hash string) error {
	_, err := s.ChangePassword(ctx, a, userID, PasswordChange{Hash: hash})
	return err
}

// SignIn checks a user's password and opens a session. check is given the
// stored hash of the user called name ("" when there is no such user or it
// has no password, so that a caller can spend the same time on a refusal)
// and says whether the password matches it. Any failure (unknown name, no
// password, a wrong password) is the same CodeUnauthorized; the right
// password of a disabled user is CodeForbidden (only who knows the password
// learns that the account is disabled).
// It returns the session id for the browser (shown once; the store keeps its
// hash) and the session. Expired sessions of every user are removed first.
func (s *Service) SignIn(ctx context.Context, name string, check func(hash string) (bool, error), pol SessionPolicy) (*User, string, *Session, error) {
	if err := pol.Validate(); err != nil {
		return nil, "", nil, err
	}
	acc, err := s.accounts()
	if err != nil {
		return nil, "", nil, err
	}
	u, err := s.UserByName(ctx, name)
	switch ErrorCode(err) {
	case "", CodeNotFound, CodeConflict:
	default:
		return nil, "", nil, err
	}
	hash := ""
	if u != nil {
		if hash, err = acc.PasswordHash(ctx, u.ID); err != nil && ErrorCode(err) != CodeNotFound {
			return nil, "", nil, err
		}
	}
	ok, err := check(hash)
	if err != nil {
		return nil, "", nil, err
	}
	if !ok || u == nil || hash == "" {
		return nil, "", nil, errSignIn()
	}
	if u.Disabled {
		return nil, "", nil, errDisabled(u)
	}
	now := s.clock.Now()
	if _, err := acc.DeleteExpiredSessions(ctx, now); err != nil {
		return nil, "", nil, err
	}
	id := base64.RawURLEncoding.EncodeToString(randomBytes(32))
	ss := Session{
		IDHash: HashToken(id), UserID: u.ID, CSRF: base64.RawURLEncoding.EncodeToString(randomBytes(32)),
		CreatedAt: now, SeenAt: now, ExpiresAt: pol.expiry(now, now), Stamp: passwordStamp(hash),
	}
	if err := acc.PutSession(ctx, ss); err != nil {
		return nil, "", nil, err
	}
	return u, id, &ss, nil
}

// CheckPassword reports whether check accepts user userID's password hash:
// check is given the stored hash, or "" when the user has none (as in
// SignIn). For a user confirming their password before changing it.
func (s *Service) CheckPassword(ctx context.Context, userID string, check func(hash string) (bool, error)) (bool, error) {
	acc, err := s.accounts()
	if err != nil {
		return false, err
	}
	hash, err := acc.PasswordHash(ctx, userID)
	if err != nil && ErrorCode(err) != CodeNotFound {
		return false, err
	}
	ok, err := check(hash)
	return ok && hash != "", err
}

// passwordStamp is a short digest of a password hash, kept on sessions.
func passwordStamp(hash string) string {
	sum := sha256.Sum256([]byte(hash))
	return hex.EncodeToString(sum[:8])
}

// SessionUser returns the user of session id (the browser's) and the
// session, recording the use. A session that is unknown, past its idle
// timeout or maximum age (by the service's clock), of a user since disabled
// or removed, or opened before the user's password changed is
// CodeUnauthorized, and removed.
func (s *Service) SessionUser(ctx context.Context, id string, pol SessionPolicy) (*User, *Session, error) {
	if err := pol.Validate(); err != nil {
		return nil, nil, err
	}
	acc, err := s.accounts()
	if err != nil {
		return nil, nil, err
	}
	if id == "" || len(id) > 128 {
		return nil, nil, errSession()
	}
	idHash := HashToken(id)
	ss, err := acc.Session(ctx, idHash)
	if ErrorCode(err) == CodeNotFound {
		return nil, nil, errSession()
	}
	if err != nil {
		return nil, nil, err
	}
	end := func() (*User, *Session, error) {
		if err := acc.DeleteSession(ctx, idHash); err != nil {
			return nil, nil, err
		}
		return nil, nil, errSession()
	}
	now := s.clock.Now()
	if !now.Before(ss.ExpiresAt) || !now.Before(pol.expiry(ss.CreatedAt, ss.SeenAt)) {
		return end()
	}
	u, err := acc.User(ctx, ss.UserID)
	if ErrorCode(err) == CodeNotFound || (err == nil && u.Disabled) {
		return end()
	}
	if err != nil {
		return nil, nil, err
	}
	hash, err := acc.PasswordHash(ctx, u.ID)
	if ErrorCode(err) == CodeNotFound || (err == nil && subtle.ConstantTimeCompare([]byte(passwordStamp(hash)), []byte(ss.Stamp)) != 1) {
		return end()
	}
	if err != nil {
		return nil, nil, err
	}
	if now.Sub(ss.SeenAt) >= min(touchEvery, pol.Idle/2) {
		ss.SeenAt = now
		ss.ExpiresAt = pol.expiry(ss.CreatedAt, now)
		if err := acc.PutSession(ctx, *ss); err != nil {
			return nil, nil, err
		}
	}
	return u, ss, nil
}

// SignOut ends session id (the browser's); an unknown session is no error.
func (s *Service) SignOut(ctx context.Context, id string) error {
	acc, err := s.accounts()
	if err != nil {
		return err
	}
	if id == "" {
		return nil
	}
	return acc.DeleteSession(ctx, HashToken(id))
}
