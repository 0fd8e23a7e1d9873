package workflow

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
)

// AccountAuditReport sums up a passed audit of the account log.
type AccountAuditReport struct {
	Events uint64    `json:"events"`
	Head   ChainHead `json:"head"`
	Users  int       `json:"users"`
	Tokens int       `json:"tokens"`
	// Uncovered: the log is empty while the store holds users, created
	// before the account log began (the first account change, or a start
	// of rectify serve, records them in a baseline event).
	Uncovered bool `json:"uncovered,omitempty"`
}

// AccountAuditError names the first place an audit of the account log
// failed.
type AccountAuditError struct {
	Seq    uint64 // the event, if the failure is in the chain or its replay
	UserID string // the user, if the failure is in the stored accounts
	Reason string
}

func (e *AccountAuditError) Error() string {
	switch {
	case e.Seq != 0:
		return fmt.Sprintf("account event %d: %s", e.Seq, e.Reason)
	case e.UserID != "":
		return fmt.Sprintf("user %s: %s", e.UserID, e.Reason)
	}
	return "accounts: " + e.Reason
}

// AuditAccounts checks the account log: every event's hash and link, no gap
// in the sequence, the recorded head at its end; and that replaying the log
// gives exactly the users (with their role, unit and disabled flag), live
// tokens and password stamps the store holds. The first failure is
// returned as an *AccountAuditError.
func AuditAccounts(ctx context.Context, l AccountLedger) (AccountAuditReport, error) {
	var rep AccountAuditReport
	prev := GenesisHash
	r := newAccountReplay()
	err := l.ForEachAccountEvent(ctx, func(e AccountEvent, decodeErr error) error {
		want := rep.Events + 1
		switch {
		case decodeErr != nil:
			return &AccountAuditError{Seq: max(e.Seq, want), Reason: "does not decode: " + decodeErr.Error()}
		case e.Seq != want:
			return &AccountAuditError{Seq: want, Reason: fmt.Sprintf("missing: the next stored event is %d", e.Seq)}
		case e.PrevHash != prev:
			return &AccountAuditError{Seq: e.Seq, Reason: "prev_hash does not match the previous event's hash (an event was removed, reordered or rewritten)"}
		}
		h, err := AccountEventHash(e)
		if err != nil {
			return &AccountAuditError{Seq: e.Seq, Reason: err.Error()}
		}
		if h != e.Hash {
			return &AccountAuditError{Seq: e.Seq, Reason: "content does not match its hash (the event was altered)"}
		}
		if err := r.apply(e); err != nil {
			return &AccountAuditError{Seq: e.Seq, Reason: err.Error()}
		}
		prev = e.Hash
		rep.Events = e.Seq
		rep.Head = ChainHead{Seq: e.Seq, Hash: e.Hash, At: e.At}
		return nil
	})
	if err != nil {
		return rep, err
	}
	head, err := l.AccountHead(ctx)
	if err != nil {
		return rep, err
	}
	if head.Seq != rep.Head.Seq || head.Hash != rep.Head.Hash {
		return rep, &AccountAuditError{Seq: max(head.Seq, rep.Head.Seq), Reason: fmt.Sprintf("the recorded head %s is not the last event %s", head, rep.Head)}
	}
	st, err := l.AccountState(ctx)
	if err != nil {
		return rep, err
	}
	rep.Users, rep.Tokens = len(st.Users), len(st.Tokens)
	if rep.Events == 0 {
		rep.Uncovered = len(st.Users) > 0
		return rep, nil
	}
	return rep, r.compare(st)
}

// accountReplay is the accounts the log describes, up to some event.
type accountReplay struct {
	users     map[string]User
	tokens    map[string]TokenRecord // by user id and token id
	passwords map[string]string
}

func newAccountReplay() *accountReplay {
	return &accountReplay{users: map[string]User{}, tokens: map[string]TokenRecord{}, passwords: map[string]string{}}
}

func tokenSlot(userID, id string) string { return userID + "/" + id }

// apply adds event e to the replay, refusing an event that does not fit the
// accounts so far.
func (r *accountReplay) apply(e AccountEvent) error {
	if e.Action == AccountBaseline {
		if e.Seq != 1 || e.Baseline == nil {
			return fmt.Errorf("a baseline must be the first event and hold the accounts")
		}
		for _, u := range e.Baseline.Users {
			r.users[u.ID] = u
		}
		for _, t := range e.Baseline.Tokens {
			r.tokens[tokenSlot(t.UserID, t.ID)] = t
		}
		maps.Copy(r.passwords, e.Baseline.Passwords)
		return nil
	}
	if e.Action == AccountCreate {
		if e.User == nil || e.User.ID != e.UserID {
			return fmt.Errorf("creates no user %s", e.UserID)
		}
		if _, ok := r.users[e.UserID]; ok {
			return fmt.Errorf("creates user %s, who exists already", e.UserID)
		}
		r.users[e.UserID] = *e.User
	}
	u, ok := r.users[e.UserID]
	if !ok {
		return fmt.Errorf("changes user %q, who was never created", e.UserID)
	}
	switch e.Action {
	case AccountCreate, AccountIssue, AccountRevoke, AccountRotate:
	case AccountDisable, AccountEnable:
		u.Disabled = e.Action == AccountDisable
		r.users[u.ID] = u
	case AccountPassword:
		if e.PasswordStamp == "" {
			return fmt.Errorf("sets no password")
		}
		r.passwords[u.ID] = e.PasswordStamp
	default:
		return fmt.Errorf("unknown action %q", e.Action)
	}
	for _, id := range e.Revoked {
		if _, ok := r.tokens[tokenSlot(u.ID, id)]; !ok {
			return fmt.Errorf("revokes token %s, which user %s does not hold", id, u.ID)
		}
		delete(r.tokens, tokenSlot(u.ID, id))
	}
	for _, t := range e.Issued {
		if t.UserID != u.ID {
			return fmt.Errorf("issues token %s of user %s to user %s", t.ID, t.UserID, u.ID)
		}
		r.tokens[tokenSlot(u.ID, t.ID)] = t
	}
	return nil
}

// compare checks that the store holds exactly what the log describes.
func (r *accountReplay) compare(st AccountState) error {
	stored := map[string]bool{}
	for _, u := range st.Users {
		stored[u.ID] = true
		want, ok := r.users[u.ID]
		switch {
		case !ok:
			return &AccountAuditError{UserID: u.ID, Reason: "is stored but was never created in the account log (added without an event)"}
		case !sameJSON(u, want):
			return &AccountAuditError{UserID: u.ID, Reason: "the stored user differs from its account log (edited without an event)"}
		case st.Passwords[u.ID] != r.passwords[u.ID]:
			return &AccountAuditError{UserID: u.ID, Reason: "the stored password differs from the one its account log set (replaced without an event)"}
		}
	}
	for id := range r.users {
		if !stored[id] {
			return &AccountAuditError{UserID: id, Reason: "is in the account log but not stored (removed without an event)"}
		}
	}
	seen := map[string]bool{}
	for _, t := range st.Tokens {
		slot := tokenSlot(t.UserID, t.ID)
		seen[slot] = true
		want, ok := r.tokens[slot]
		switch {
		case !ok:
			return &AccountAuditError{UserID: t.UserID, Reason: "holds token " + t.ID + ", which its account log never issued or revoked since (added without an event)"}
		case !sameJSON(t, want):
			return &AccountAuditError{UserID: t.UserID, Reason: "token " + t.ID + " differs from the one its account log issued"}
		}
	}
	missing := slices.Sorted(maps.Keys(r.tokens))
	for _, slot := range missing {
		if !seen[slot] {
			user, id, _ := strings.Cut(slot, "/")
			return &AccountAuditError{UserID: user, Reason: "token " + id + " was issued in the account log but is not stored (removed without an event)"}
		}
	}
	return nil
}

// sameJSON compares two values as stored (JSON), so that time zones do not
// count as differences.
func sameJSON(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	var va, vb any
	_ = json.Unmarshal(ja, &va)
	_ = json.Unmarshal(jb, &vb)
	return reflect.DeepEqual(va, vb)
}
