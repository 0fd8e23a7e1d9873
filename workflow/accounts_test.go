package workflow_test

import (
	"context"
	"testing"
	"time"

	"github.com/jdz-eco/rectify/workflow"
)

// plain is a stand-in for the web layer's password hash: the domain only
// stores and compares what it is given.
func plain(pw string) string { return "$plain$" + pw }

func checkPlain(pw string) func(string) (bool, error) {
	return func(hash string) (bool, error) { return hash != "" && hash == plain(pw), nil }
}

func (f *fixture) user(t *testing.T, name string, role workflow.Role, unit, pw string) *workflow.User {
	t.Helper()
	ctx := context.Background()
	u, _, err := f.svc.CreateUser(ctx, system, workflow.NewUser{Name: name, Role: role, UnitID: unit})
	if err != nil {
		t.Fatal(err)
	}
	if pw != "" {
		if err := f.svc.SetPassword(ctx, system, u.ID, plain(pw)); err != nil {
			t.Fatal(err)
		}
	}
	return u
}

func TestUserNamesAreUnique(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	u := f.user(t, "张三", workflow.RoleUnit, "fuliang", "")
	_, _, err := f.svc.CreateUser(ctx, system, workflow.NewUser{Name: " 张三 ", Role: workflow.RoleViewer, UnitID: "inspect"})
	if e, ok := err.(*workflow.Error); !ok || e.Code != workflow.CodeConflict || e.Field != "name" {
		t.Fatalf("a second 张三: %v", err)
	}
	got, err := f.svc.UserByName(ctx, "张三")
	if err != nil || got.ID != u.ID {
		t.Fatalf("UserByName = %+v, %v", got, err)
	}
	for _, name := range []string{"李四", ""} {
		if _, err := f.svc.UserByName(ctx, name); workflow.ErrorCode(err) != workflow.CodeNotFound {
			t.Errorf("UserByName(%q): %v", name, err)
		}
	}
}

func TestSetPasswordRules(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	u := f.user(t, "张三", workflow.RoleUnit, "fuliang", "")
	other := f.user(t, "李四", workflow.RoleUnit, "fuliang", "")
	admin := workflow.Actor{ID: "u-admin", Role: workflow.RoleAdmin}
	tests := []struct {
		name string
		a    workflow.Actor
		id   string
		hash string
		code workflow.Code
	}{
		{"own password", u.Actor(), u.ID, plain("a"), ""},
		{"an admin", admin, other.ID, plain("b"), ""},
		{"the CLI", system, u.ID, plain("c"), ""},
		{"someone else's", u.Actor(), other.ID, plain("d"), workflow.CodeForbidden},
		{"the bureau", bureau, u.ID, plain("e"), workflow.CodeForbidden},
		{"empty hash", system, u.ID, "", workflow.CodeInvalid},
		{"unknown user", system, "u-nobody", plain("f"), workflow.CodeNotFound},
	}
	for _, tt := range tests {
		err := f.svc.SetPassword(ctx, tt.a, tt.id, tt.hash)
		if workflow.ErrorCode(err) != tt.code {
			t.Errorf("%s: %v, want code %q", tt.name, err, tt.code)
		}
	}
}

func TestSignInAndSessions(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	u := f.user(t, "张三", workflow.RoleUnit, "fuliang", "secret-1")
	f.user(t, "无密码", workflow.RoleUnit, "fuliang", "")
	pol := workflow.SessionPolicy{MaxAge: 12 * time.Hour, Idle: 2 * time.Hour}

	// Failures are all the same error, and check always runs.
	for _, tt := range []struct{ name, pw string }{{"张三", "wrong"}, {"李四", "secret-1"}, {"无密码", ""}, {"", ""}} {
		called := false
		_, _, _, err := f.svc.SignIn(ctx, tt.name, func(h string) (bool, error) {
			called = true
			return checkPlain(tt.pw)(h)
		}, pol)
		if workflow.ErrorCode(err) != workflow.CodeUnauthorized || !called {
			t.Errorf("SignIn(%q, %q): %v, check called %v", tt.name, tt.pw, err, called)
		}
	}

	got, id, ss, err := f.svc.SignIn(ctx, "张三", checkPlain("secret-1"), pol)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != u.ID || len(id) < 40 || ss.IDHash != workflow.HashToken(id) || ss.CSRF == "" || ss.CSRF == id {
		t.Fatalf("SignIn = %+v, %q, %+v", got, id, ss)
	}
	if !ss.ExpiresAt.Equal(t0.Add(2 * time.Hour)) {
		t.Errorf("a new session expires at %v, want the idle timeout", ss.ExpiresAt)
	}

	// Use within the idle timeout keeps the session alive, up to its maximum age.
	for i := range 6 {
		f.clock.Advance(110 * time.Minute)
		if _, _, err := f.svc.SessionUser(ctx, id, pol); err != nil {
			t.Fatalf("use %d after %v: %v", i, f.clock.Now().Sub(t0), err)
		}
	}
	f.clock.Advance(110 * time.Minute) // 12h50m after sign-in
	if _, _, err := f.svc.SessionUser(ctx, id, pol); workflow.ErrorCode(err) != workflow.CodeUnauthorized {
		t.Fatalf("a session past its maximum age: %v", err)
	}

	// Idle too long.
	_, id, _, err = f.svc.SignIn(ctx, "张三", checkPlain("secret-1"), pol)
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(2*time.Hour + time.Second)
	if _, _, err := f.svc.SessionUser(ctx, id, pol); workflow.ErrorCode(err) != workflow.CodeUnauthorized {
		t.Fatalf("an idle session: %v", err)
	}

	// Signed out.
	_, id, _, err = f.svc.SignIn(ctx, "张三", checkPlain("secret-1"), pol)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.svc.SignOut(ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.svc.SessionUser(ctx, id, pol); workflow.ErrorCode(err) != workflow.CodeUnauthorized {
		t.Fatalf("a signed-out session: %v", err)
	}

	// A password change ends the sessions opened before it.
	_, id, _, err = f.svc.SignIn(ctx, "张三", checkPlain("secret-1"), pol)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.svc.SetPassword(ctx, u.Actor(), u.ID, plain("secret-2")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.svc.SessionUser(ctx, id, pol); workflow.ErrorCode(err) != workflow.CodeUnauthorized {
		t.Fatalf("a session from before a password change: %v", err)
	}
	if _, _, _, err := f.svc.SignIn(ctx, "张三", checkPlain("secret-2"), pol); err != nil {
		t.Fatalf("the new password: %v", err)
	}

	for _, bad := range []string{"", "nonsense", string(make([]byte, 300))} {
		if _, _, err := f.svc.SessionUser(ctx, bad, pol); workflow.ErrorCode(err) != workflow.CodeUnauthorized {
			t.Errorf("SessionUser(%.10q): %v", bad, err)
		}
	}
	if _, _, err := f.svc.SessionUser(ctx, id, workflow.SessionPolicy{}); workflow.ErrorCode(err) != workflow.CodeInvalid {
		t.Errorf("a zero policy: %v", err)
	}
}

// storeOnly hides the bolt store's Accounts.
type storeOnly struct{ workflow.Store }

func TestNoAccounts(t *testing.T) {
	f := newFixture(t)
	svc := workflow.NewService(storeOnly{f.svc.Store()}, f.clock)
	if svc.HasAccounts() || !f.svc.HasAccounts() {
		t.Fatal("HasAccounts")
	}
	_, _, _, err := svc.SignIn(context.Background(), "x", checkPlain("x"), workflow.DefaultSessionPolicy())
	if workflow.ErrorCode(err) != workflow.CodeInternal {
		t.Errorf("SignIn without Accounts: %v", err)
	}
}
