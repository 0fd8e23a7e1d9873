package storetest

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/jdz-eco/rectify/workflow"
)

// RunAccounts runs the conformance cases of workflow.Accounts (password
// hashes and web sessions) and workflow.AccountLog (account changes and
// their hash-chained log) on stores that keep them; open must return a new,
// empty store, implementing both, that is closed when t ends.
func RunAccounts(t *testing.T, open func(t *testing.T) workflow.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s workflow.Store, acc workflow.Accounts)
	}{
		{"EmptyStore", testAccountsEmpty},
		{"Passwords", testPasswords},
		{"Sessions", testSessions},
		{"DeleteExpiredSessions", testDeleteExpiredSessions},
		{"UserByID", testUserByID},
		{"AccountLogEmpty", testAccountLogEmpty},
		{"AccountChanges", testAccountChanges},
		{"AccountBaseline", testAccountBaseline},
		{"ConcurrentAccountChanges", testConcurrentAccountChanges},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := open(t)
			acc, ok := s.(workflow.Accounts)
			if !ok {
				t.Fatalf("%T does not implement workflow.Accounts", s)
			}
			tt.fn(t, s, acc)
		})
	}
}

// accountUser stores a user for the account cases.
func accountUser(t *testing.T, s workflow.Store, id, name string) workflow.User {
	t.Helper()
	u := workflow.User{ID: id, Name: name, Role: workflow.RoleUnit, UnitID: Fuliang, CreatedAt: T0}
	if err := s.CreateUser(t.Context(), u, workflow.Token{Hash: workflow.HashToken("rt_" + id), UserID: id, CreatedAt: T0}); err != nil {
		t.Fatal(err)
	}
	return u
}

func accountCode(t *testing.T, what string, err error, code workflow.Code) {
	t.Helper()
	var e *workflow.Error
	if !errors.As(err, &e) || e.Code != code {
		t.Errorf("%s: error %v, want a *workflow.Error with code %s", what, err, code)
	}
}

func accountJSON(t *testing.T, what string, got, want any) {
	t.Helper()
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(want)
	if string(g) != string(w) {
		t.Errorf("%s:\n got %s\nwant %s", what, g, w)
	}
}

// testAccountsEmpty: a store that never stored a password or a session
// answers reads with CodeNotFound and deletes with nothing to do.
func testAccountsEmpty(t *testing.T, _ workflow.Store, acc workflow.Accounts) {
	ctx := t.Context()
	_, err := acc.PasswordHash(ctx, "u1")
	accountCode(t, "PasswordHash on an empty store", err, workflow.CodeNotFound)
	_, err = acc.Session(ctx, workflow.HashToken("x"))
	accountCode(t, "Session on an empty store", err, workflow.CodeNotFound)
	if err := acc.DeleteSession(ctx, workflow.HashToken("x")); err != nil {
		t.Errorf("DeleteSession on an empty store: %v", err)
	}
	if n, err := acc.DeleteExpiredSessions(ctx, T0); n != 0 || err != nil {
		t.Errorf("DeleteExpiredSessions on an empty store = %d, %v", n, err)
	}
	_, err = acc.User(ctx, "u1")
	accountCode(t, "User on an empty store", err, workflow.CodeNotFound)
}

func testPasswords(t *testing.T, s workflow.Store, acc workflow.Accounts) {
	ctx := t.Context()
	accountUser(t, s, "u1", "浮梁县干部")
	accountUser(t, s, "u2", "乐平市干部")
	err := acc.SetPasswordHash(ctx, "nobody", "$argon2id$x")
	accountCode(t, "SetPasswordHash of an unknown user", err, workflow.CodeNotFound)
	_, err = acc.PasswordHash(ctx, "u1")
	accountCode(t, "PasswordHash before one is set", err, workflow.CodeNotFound)

	if err := acc.SetPasswordHash(ctx, "u1", "$argon2id$first"); err != nil {
		t.Fatal(err)
	}
	if h, err := acc.PasswordHash(ctx, "u1"); h != "$argon2id$first" || err != nil {
		t.Errorf("PasswordHash = %q, %v", h, err)
	}
	if err := acc.SetPasswordHash(ctx, "u1", "$argon2id$second"); err != nil {
		t.Fatal(err)
	}
	if h, err := acc.PasswordHash(ctx, "u1"); h != "$argon2id$second" || err != nil {
		t.Errorf("PasswordHash after a replacement = %q, %v", h, err)
	}
	_, err = acc.PasswordHash(ctx, "u2")
	accountCode(t, "PasswordHash of another user", err, workflow.CodeNotFound)
}

func session(id, user string, created time.Time, life time.Duration) workflow.Session {
	return workflow.Session{IDHash: workflow.HashToken(id), UserID: user, CSRF: "csrf-" + id,
		CreatedAt: created, SeenAt: created, ExpiresAt: created.Add(life), Stamp: "stamp"}
}

func testSessions(t *testing.T, s workflow.Store, acc workflow.Accounts) {
	ctx := t.Context()
	accountUser(t, s, "u1", "浮梁县干部")
	a := session("a", "u1", T0, time.Hour)
	b := session("b", "u1", T0, 2*time.Hour)
	for _, ss := range []workflow.Session{a, b} {
		if err := acc.PutSession(ctx, ss); err != nil {
			t.Fatal(err)
		}
	}
	got, err := acc.Session(ctx, a.IDHash)
	if err != nil {
		t.Fatal(err)
	}
	accountJSON(t, "Session", got, a)

	// Put replaces (a request records its use).
	a.SeenAt = T0.Add(time.Minute)
	a.ExpiresAt = a.SeenAt.Add(time.Hour)
	if err := acc.PutSession(ctx, a); err != nil {
		t.Fatal(err)
	}
	got, err = acc.Session(ctx, a.IDHash)
	if err != nil {
		t.Fatal(err)
	}
	accountJSON(t, "Session after a replacement", got, a)

	// A returned session is a copy.
	got.UserID = "changed"
	if again, _ := acc.Session(ctx, a.IDHash); again == nil || again.UserID != "u1" {
		t.Errorf("changing a returned session changed the stored one: %+v", again)
	}

	if err := acc.DeleteSession(ctx, a.IDHash); err != nil {
		t.Fatal(err)
	}
	_, err = acc.Session(ctx, a.IDHash)
	accountCode(t, "Session after DeleteSession", err, workflow.CodeNotFound)
	if err := acc.DeleteSession(ctx, a.IDHash); err != nil {
		t.Errorf("DeleteSession twice: %v", err)
	}
	if got, err := acc.Session(ctx, b.IDHash); err != nil || got.IDHash != b.IDHash {
		t.Errorf("the other session = %+v, %v", got, err)
	}
}

func testDeleteExpiredSessions(t *testing.T, s workflow.Store, acc workflow.Accounts) {
	ctx := t.Context()
	accountUser(t, s, "u1", "浮梁县干部")
	short := session("short", "u1", T0, time.Hour)
	exact := session("exact", "u1", T0, 2*time.Hour)
	long := session("long", "u1", T0, 3*time.Hour)
	for _, ss := range []workflow.Session{short, exact, long} {
		if err := acc.PutSession(ctx, ss); err != nil {
			t.Fatal(err)
		}
	}
	n, err := acc.DeleteExpiredSessions(ctx, T0.Add(2*time.Hour))
	if n != 2 || err != nil {
		t.Fatalf("DeleteExpiredSessions = %d, %v; want 2 (one expired before, one at the time)", n, err)
	}
	for _, ss := range []workflow.Session{short, exact} {
		_, err := acc.Session(ctx, ss.IDHash)
		accountCode(t, "an expired session", err, workflow.CodeNotFound)
	}
	if _, err := acc.Session(ctx, long.IDHash); err != nil {
		t.Errorf("a live session was removed: %v", err)
	}
}

func testUserByID(t *testing.T, s workflow.Store, acc workflow.Accounts) {
	ctx := t.Context()
	u := accountUser(t, s, "u1", "浮梁县干部")
	got, err := acc.User(ctx, "u1")
	if err != nil {
		t.Fatal(err)
	}
	accountJSON(t, "User", got, u)
	_, err = acc.User(ctx, "u2")
	accountCode(t, "User of an unknown id", err, workflow.CodeNotFound)
	_, err = acc.User(ctx, "")
	accountCode(t, "User of an empty id", err, workflow.CodeNotFound)
}
