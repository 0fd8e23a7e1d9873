package workflow

import (
	"context"
	"errors"
	"slices"
	"time"
	"unicode/utf8"
)

// The account lifecycle: admins (and the system actor: the command line)
// disable and enable users, list, issue, revoke and rotate their tokens and
// reset their passwords; users change their own password. Every change is
// written with an AccountEvent (accountlog.go).

// SystemActor is the actor of changes the server or the command line makes
// on its own (a baseline, demo users).
var SystemActor = Actor{ID: "system", Name: "rectify", Role: RoleSystem}

// CanManageAccounts tells whether a may manage other users' accounts;
// handlers check it before work a refusal would waste (hashing a password).
func CanManageAccounts(a Actor) error { return canManageAccounts(a, "manage accounts") }

// canManageAccounts tells whether a may change other users' accounts.
func canManageAccounts(a Actor, what string) error {
	if a.Role == RoleAdmin || a.Role == RoleSystem {
		return nil
	}
	return Refuse(ReasonRole, "role %s may not %s; it needs role admin", a.Role, what)
}

// accountLog returns the store's AccountLog, or an internal error.
func (s *Service) accountLog() (AccountLog, error) {
	if l, ok := s.store.(AccountLog); ok {
		return l, nil
	}
	return nil, Errorf(CodeInternal, "this store keeps no account log (workflow.AccountLog)")
}

// changeAccount applies c through the store's account log. The first change
// to a log that is empty while the store holds accounts (a database from
// before the log) records them first, in a baseline event.
func (s *Service) changeAccount(ctx context.Context, log AccountLog, c AccountChange) (AccountEvent, error) {
	if err := c.Check(); err != nil {
		return AccountEvent{}, err
	}
	for attempt := 0; ; attempt++ {
		head, err := log.AccountHead(ctx)
		if err != nil {
			return AccountEvent{}, err
		}
		c.Baseline = nil
		if head.Seq == 0 {
			if c.Baseline, err = s.baseline(ctx, log); err != nil {
				return AccountEvent{}, err
			}
		}
		ev, err := log.ChangeAccount(ctx, c)
		if errors.Is(err, ErrAccountLogStarted) && attempt < 3 {
			continue // another change wrote the baseline meanwhile
		}
		return ev, err
	}
}

// baseline returns the baseline event of the accounts log's store holds,
// or nil when it holds none.
func (s *Service) baseline(ctx context.Context, log AccountLog) (*AccountEvent, error) {
	st, err := log.AccountState(ctx)
	if err != nil || len(st.Users) == 0 {
		return nil, err
	}
	return &AccountEvent{At: s.clock.Now(), Actor: SystemActor, Action: AccountBaseline, Baseline: &st}, nil
}

// RecordAccountBaseline writes the baseline event of a database whose users
// predate its account log, so that the audit covers them from now on; it
// reports whether it wrote one. rectify serve calls it at start.
func (s *Service) RecordAccountBaseline(ctx context.Context) (bool, error) {
	log, ok := s.store.(AccountLog)
	if !ok {
		return false, nil
	}
	head, err := log.AccountHead(ctx)
	if err != nil || head.Seq != 0 {
		return false, err
	}
	b, err := s.baseline(ctx, log)
	if err != nil || b == nil {
		return false, err
	}
	_, err = log.ChangeAccount(ctx, AccountChange{Event: *b})
	if errors.Is(err, ErrAccountLogStarted) {
		return false, nil
	}
	return err == nil, err
}

// Check refuses a change whose parts do not fit together; stores call it
// before they write.
func (c *AccountChange) Check() error {
	switch {
	case c.Event.Action == AccountBaseline:
		if c.Event.Baseline == nil || c.UserID != "" || c.Baseline != nil {
			return RefuseField(ReasonMalformed, "event", "a baseline event changes nothing and holds the accounts")
		}
		return nil
	case c.Event.Action == "":
		return RefuseField(ReasonRequired, "event", "an account change needs an event")
	case c.UserID == "" || c.Event.UserID != c.UserID:
		return RefuseField(ReasonMalformed, "user_id", "an account change names its user, as its event does")
	case c.NewUser != nil && c.NewUser.ID != c.UserID:
		return RefuseField(ReasonMalformed, "user_id", "the new user is not the user changed")
	case c.Baseline != nil && c.Baseline.Action != AccountBaseline:
		return RefuseField(ReasonMalformed, "event", "a baseline must be an accounts.baseline event")
	}
	for _, t := range c.AddTokens {
		if t.Hash == "" || t.UserID != c.UserID {
			return RefuseField(ReasonMalformed, "tokens", "a token added needs a hash and the user changed")
		}
	}
	return nil
}

// accountTarget checks that a may do what to accounts and returns the
// store's account log and user id.
func (s *Service) accountTarget(ctx context.Context, a Actor, what, id string) (AccountLog, *User, error) {
	if err := canManageAccounts(a, what); err != nil {
		return nil, nil, err
	}
	log, err := s.accountLog()
	if err != nil {
		return nil, nil, err
	}
	u, err := s.user(ctx, id)
	return log, u, err
}

// tokenTarget is accountTarget for a command that issues a token expiring
// at expires: the expiry must be in the future and the user enabled.
func (s *Service) tokenTarget(ctx context.Context, a Actor, what, id string, expires *time.Time) (AccountLog, *User, error) {
	if err := canManageAccounts(a, what); err != nil {
		return nil, nil, err
	}
	if err := s.checkExpiry(expires); err != nil {
		return nil, nil, err
	}
	log, u, err := s.accountTarget(ctx, a, what, id)
	if err == nil && u.Disabled {
		err = Refuse(ReasonUserDisabled, "user %s is disabled: enable it before its tokens change", u.Name)
	}
	return log, u, err
}

// ListUsers returns every user, ordered by id; admins only.
func (s *Service) ListUsers(ctx context.Context, a Actor) ([]User, error) {
	if err := canManageAccounts(a, "list users"); err != nil {
		return nil, err
	}
	return s.store.Users(ctx)
}

// GetUser returns user id; admins only.
func (s *Service) GetUser(ctx context.Context, a Actor, id string) (*User, error) {
	if err := canManageAccounts(a, "read users"); err != nil {
		return nil, err
	}
	return s.user(ctx, id)
}

func (s *Service) user(ctx context.Context, id string) (*User, error) {
	users, err := s.store.Users(ctx)
	if err != nil {
		return nil, err
	}
	for i := range users {
		if users[i].ID == id && id != "" {
			return &users[i], nil
		}
	}
	return nil, Refuse(ReasonUserNotFound, "user %s not found", id)
}

// SetUserDisabled disables or enables user id; admins only, and an admin
// may not disable themself. A disabled user's tokens and sessions stop
// working at once (Authenticate, SessionUser); enabling brings them back.
// Setting the state the user is in already records nothing.
func (s *Service) SetUserDisabled(ctx context.Context, a Actor, id string, disabled bool) (*User, error) {
	what := "enable users"
	if disabled {
		what = "disable users"
	}
	if err := canManageAccounts(a, what); err != nil {
		return nil, err
	}
	if disabled && a.ID == id {
		return nil, Refuse(ReasonDisableSelf, "an admin may not disable their own account")
	}
	log, u, err := s.accountTarget(ctx, a, what, id)
	if err != nil || u.Disabled == disabled {
		return u, err
	}
	action := AccountEnable
	if disabled {
		action = AccountDisable
	}
	ev := AccountEvent{At: s.clock.Now(), Actor: a, Action: action, UserID: id}
	if _, err := s.changeAccount(ctx, log, AccountChange{UserID: id, SetDisabled: &disabled, Event: ev}); err != nil {
		return nil, err
	}
	u.Disabled = disabled
	return u, nil
}

// UserTokens returns user id's tokens, oldest first; admins only.
func (s *Service) UserTokens(ctx context.Context, a Actor, id string) ([]Token, error) {
	log, _, err := s.accountTarget(ctx, a, "list tokens", id)
	if err != nil {
		return nil, err
	}
	return log.TokensOf(ctx, id)
}

// checkExpiry refuses an expiry that is not in the future.
func (s *Service) checkExpiry(expires *time.Time) error {
	if expires != nil && !expires.After(s.clock.Now()) {
		return RefuseField(ReasonExpiryPast, "expires_at", "a token's expiry must be in the future")
	}
	return nil
}

// newTokenFor returns a fresh token secret for user id and its record.
func (s *Service) newTokenFor(id string, expires *time.Time) (string, Token) {
	secret := newToken()
	t := Token{Hash: HashToken(secret), UserID: id, CreatedAt: s.clock.Now()}
	if expires != nil {
		e := expires.UTC().Truncate(time.Second)
		t.ExpiresAt = &e
	}
	return secret, t
}

// IssueUserToken gives user id another token, valid until expires when it
// is not nil; admins only, for an enabled user. The secret is returned this
// once.
func (s *Service) IssueUserToken(ctx context.Context, a Actor, id string, expires *time.Time) (string, *Token, error) {
	log, _, err := s.tokenTarget(ctx, a, "issue tokens", id, expires)
	if err != nil {
		return "", nil, err
	}
	secret, t := s.newTokenFor(id, expires)
	ev := AccountEvent{At: t.CreatedAt, Actor: a, Action: AccountIssue, UserID: id, Issued: []TokenRecord{t.Record()}}
	if _, err := s.changeAccount(ctx, log, AccountChange{UserID: id, AddTokens: []Token{t}, Event: ev}); err != nil {
		return "", nil, err
	}
	return secret, &t, nil
}

// IssueToken gives an existing user another token without expiry, as the
// system actor; for the command line and demo mode.
func (s *Service) IssueToken(ctx context.Context, userID string) (string, error) {
	if _, ok := s.store.(AccountLog); !ok {
		token := newToken()
		return token, s.store.AddToken(ctx, Token{Hash: HashToken(token), UserID: userID, CreatedAt: s.clock.Now()})
	}
	secret, _, err := s.IssueUserToken(ctx, SystemActor, userID, nil)
	return secret, err
}

// findTokens returns the hashes and ids of user id's tokens named by ids,
// or all of them when ids is empty; an id the user does not hold is
// CodeNotFound.
func findTokens(tokens []Token, ids []string) (hashes, found []string, err error) {
	for _, id := range ids {
		i := slices.IndexFunc(tokens, func(t Token) bool { return t.ID() == id })
		if i < 0 {
			return nil, nil, Refuse(ReasonTokenNotFound, "token %s not found", id)
		}
	}
	for _, t := range tokens {
		if len(ids) == 0 || slices.Contains(ids, t.ID()) {
			hashes, found = append(hashes, t.Hash), append(found, t.ID())
		}
	}
	return hashes, found, nil
}

// RevokeTokens revokes user id's tokens named by ids, or all of them when
// ids is empty; admins only. It returns the ids revoked (none, and nothing
// recorded, when the user has no token to revoke).
func (s *Service) RevokeTokens(ctx context.Context, a Actor, id string, ids []string) ([]string, error) {
	log, _, err := s.accountTarget(ctx, a, "revoke tokens", id)
	if err != nil {
		return nil, err
	}
	tokens, err := log.TokensOf(ctx, id)
	if err != nil {
		return nil, err
	}
	hashes, found, err := findTokens(tokens, ids)
	if err != nil || len(hashes) == 0 {
		return nil, err
	}
	ev := AccountEvent{At: s.clock.Now(), Actor: a, Action: AccountRevoke, UserID: id, Revoked: found}
	if _, err := s.changeAccount(ctx, log, AccountChange{UserID: id, RemoveTokens: hashes, Event: ev}); err != nil {
		return nil, err
	}
	return found, nil
}

// RotateToken replaces user id's token tokenID by a new one in one change:
// the old one stops working as the new one starts. The new token expires at
// expires if given, else after the old one's lifetime (if it had one) from
// now. Admins only, for an enabled user; the secret is returned this once.
func (s *Service) RotateToken(ctx context.Context, a Actor, id, tokenID string, expires *time.Time) (string, *Token, error) {
	log, _, err := s.tokenTarget(ctx, a, "rotate tokens", id, expires)
	if err != nil {
		return "", nil, err
	}
	tokens, err := log.TokensOf(ctx, id)
	if err != nil {
		return "", nil, err
	}
	hashes, _, err := findTokens(tokens, []string{tokenID})
	if err != nil {
		return "", nil, err
	}
	old := tokens[slices.IndexFunc(tokens, func(t Token) bool { return t.Hash == hashes[0] })]
	if expires == nil && old.ExpiresAt != nil {
		e := s.clock.Now().Add(old.ExpiresAt.Sub(old.CreatedAt))
		expires = &e
	}
	secret, t := s.newTokenFor(id, expires)
	ev := AccountEvent{At: t.CreatedAt, Actor: a, Action: AccountRotate, UserID: id, Revoked: []string{old.ID()}, Issued: []TokenRecord{t.Record()}}
	c := AccountChange{UserID: id, RemoveTokens: hashes, AddTokens: []Token{t}, Event: ev}
	if _, err := s.changeAccount(ctx, log, c); err != nil {
		return "", nil, err
	}
	return secret, &t, nil
}

// PasswordChange is a new password hash (made by the web layer) and
// whether the user's API tokens are revoked with it.
type PasswordChange struct {
	Hash         string
	RevokeTokens bool
}

// ChangePassword stores pc.Hash as user userID's password, and revokes the
// user's tokens if asked: the user themself (having proved the current
// password to the web layer), an admin or the system actor may. Every
// session the user opened before ends. It returns the ids of the tokens
// revoked.
func (s *Service) ChangePassword(ctx context.Context, a Actor, userID string, pc PasswordChange) ([]string, error) {
	if a.Role != RoleAdmin && a.Role != RoleSystem && (a.ID == "" || a.ID != userID) {
		return nil, Refuse(ReasonOwnPasswordOnly, "role %s may set only its own password; an admin may set anyone's", a.Role)
	}
	return s.setPassword(ctx, a, userID, pc)
}

// ResetPassword is ChangePassword for admins (and the system actor) only:
// the API's password route, where a token, not the current password, is
// what the caller shows.
func (s *Service) ResetPassword(ctx context.Context, a Actor, userID string, pc PasswordChange) ([]string, error) {
	if err := canManageAccounts(a, "reset passwords"); err != nil {
		return nil, err
	}
	return s.setPassword(ctx, a, userID, pc)
}

func (s *Service) setPassword(ctx context.Context, a Actor, userID string, pc PasswordChange) ([]string, error) {
	switch {
	case pc.Hash == "":
		return nil, RefuseField(ReasonRequired, "password", "a password hash is required")
	case len(pc.Hash) > MaxPasswordHash || !utf8.ValidString(pc.Hash):
		return nil, RefuseField(ReasonMalformed, "password", "the password hash is malformed")
	}
	log, ok := s.store.(AccountLog)
	if !ok {
		if pc.RevokeTokens {
			return nil, Errorf(CodeInternal, "this store keeps no account log (workflow.AccountLog)")
		}
		acc, err := s.accounts()
		if err != nil {
			return nil, err
		}
		return nil, acc.SetPasswordHash(ctx, userID, pc.Hash)
	}
	if _, err := s.user(ctx, userID); err != nil {
		return nil, err
	}
	var hashes, ids []string
	if pc.RevokeTokens {
		tokens, err := log.TokensOf(ctx, userID)
		if err != nil {
			return nil, err
		}
		if hashes, ids, err = findTokens(tokens, nil); err != nil {
			return nil, err
		}
	}
	ev := AccountEvent{At: s.clock.Now(), Actor: a, Action: AccountPassword, UserID: userID, PasswordStamp: PasswordStamp(pc.Hash), Revoked: ids}
	c := AccountChange{UserID: userID, PasswordHash: pc.Hash, RemoveTokens: hashes, Event: ev}
	if _, err := s.changeAccount(ctx, log, c); err != nil {
		return nil, err
	}
	return ids, nil
}

// AccountEvents returns the account log after event after, at most limit
// events (EventLimit's bounds); admins only.
func (s *Service) AccountEvents(ctx context.Context, a Actor, after uint64, limit int) ([]AccountEvent, error) {
	if err := canManageAccounts(a, "read the account log"); err != nil {
		return nil, err
	}
	log, err := s.accountLog()
	if err != nil {
		return nil, err
	}
	return log.AccountEvents(ctx, after, EventLimit(limit))
}

// AccountHead returns the newest event of the account log (zero when it is
// empty), for the bureau to record beside the history's head.
func (s *Service) AccountHead(ctx context.Context, a Actor) (ChainHead, error) {
	if err := needRole("read the audit head", a, RoleBureau, RoleAdmin, RoleInspector, RoleViewer); err != nil {
		return ChainHead{}, err
	}
	log, ok := s.store.(AccountLog)
	if !ok {
		return ChainHead{}, nil
	}
	return log.AccountHead(ctx)
}
