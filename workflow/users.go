package workflow

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"time"
	"unicode/utf8"
)

// tokenPrefix marks rectify API tokens so that they are easy to spot in logs
// and secret scanners.
const tokenPrefix = "rt_"

// NewUser is what an admin supplies to create a user.
type NewUser struct {
	Name   string `json:"name"`
	Role   Role   `json:"role"`
	UnitID string `json:"unit_id"`
	// TokenExpiresAt, if set, is when the user's first token stops working.
	TokenExpiresAt *time.Time `json:"token_expires_at,omitempty"`
}

// HashToken returns the stored form of a token secret.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

func newToken() string {
	return tokenPrefix + base64.RawURLEncoding.EncodeToString(randomBytes(32))
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return b
}

// CreateUser creates a user with a fresh token, which is returned once and
// stored only as its hash. Only an admin (or the system actor) may. Names
// are unique: a name already taken is CodeConflict.
func (s *Service) CreateUser(ctx context.Context, a Actor, in NewUser) (*User, string, error) {
	if a.Role != RoleAdmin && a.Role != RoleSystem {
		return nil, "", Refuse(ReasonRole, "role %s may not create users; it needs role admin", a.Role)
	}
	var err error
	if in.Name, err = CleanText("name", in.Name); err != nil {
		return nil, "", err
	}
	switch {
	case in.Name == "":
		return nil, "", RefuseField(ReasonRequired, "name", "name is required")
	case utf8.RuneCountInString(in.Name) > 100:
		return nil, "", RefuseField(ReasonTooLong, "name", "name is longer than 100 characters")
	case !in.Role.Valid():
		return nil, "", RefuseField(ReasonUnknownValue, "role", "unknown role %q; one of %v", in.Role, UserRoles)
	case in.UnitID == "":
		return nil, "", RefuseField(ReasonRequired, "unit_id", "unit_id is required")
	}
	if err := s.unitRefs(ctx, &in.UnitID); err != nil {
		return nil, "", err
	}
	if err := s.checkExpiry(in.TokenExpiresAt); err != nil {
		return nil, "", err
	}
	if _, err := s.Unit(ctx, in.UnitID); err != nil {
		return nil, "", RefuseField(ReasonUnknownUnit, "unit_id", "unknown unit %q", in.UnitID)
	}
	// Names sign users in on the web pages, so they are unique. Two
	// concurrent creations of one name may both pass: users are created
	// rarely, by admins.
	switch _, err := s.UserByName(ctx, in.Name); ErrorCode(err) {
	case CodeNotFound:
	case "", CodeConflict:
		return nil, "", RefuseField(ReasonNameTaken, "name", "a user called %q already exists", in.Name)
	default:
		return nil, "", err
	}
	now := s.clock.Now()
	u := User{ID: "u" + hex.EncodeToString(randomBytes(6)), Name: in.Name, Role: in.Role, UnitID: in.UnitID, CreatedAt: now}
	token, t := s.newTokenFor(u.ID, in.TokenExpiresAt)
	log, ok := s.store.(AccountLog)
	if !ok {
		if err := s.store.CreateUser(ctx, u, t); err != nil {
			return nil, "", err
		}
		return &u, token, nil
	}
	ev := AccountEvent{At: now, Actor: a, Action: AccountCreate, UserID: u.ID, User: &u, Issued: []TokenRecord{t.Record()}}
	if _, err := s.changeAccount(ctx, log, AccountChange{NewUser: &u, UserID: u.ID, AddTokens: []Token{t}, Event: ev}); err != nil {
		return nil, "", err
	}
	return &u, token, nil
}

// Authenticate returns the user holding token, or CodeUnauthorized: for
// an unknown token, a token past its expiry, or a disabled user's token.
func (s *Service) Authenticate(ctx context.Context, token string) (*User, error) {
	if !strings.HasPrefix(token, tokenPrefix) {
		return nil, Refuse(ReasonBadToken, "invalid token")
	}
	var u *User
	var err error
	if log, ok := s.store.(AccountLog); ok {
		var t *Token
		t, u, err = log.TokenUser(ctx, HashToken(token))
		if err == nil && t.Expired(s.clock.Now()) {
			return nil, Refuse(ReasonTokenExpired, "the token has expired")
		}
	} else {
		u, err = s.store.UserByToken(ctx, HashToken(token))
	}
	switch {
	case ErrorCode(err) == CodeNotFound:
		return nil, Refuse(ReasonBadToken, "invalid token")
	case err != nil:
		return nil, err
	case u.Disabled:
		return nil, Refuse(ReasonBadToken, "the token's user is disabled")
	}
	return u, nil
}
