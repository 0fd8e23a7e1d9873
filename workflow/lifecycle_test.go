package workflow_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jdz-eco/rectify/workflow"
)

// TestAccountRules: only admins (and the system actor) manage accounts;
// an admin may not disable themself; unknown users and tokens are 404s.
func TestAccountRules(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	admin := f.user(t, "管理员", workflow.RoleAdmin, "city-eeb", "")
	u := f.user(t, "张三", workflow.RoleUnit, "fuliang", "")
	others := []workflow.Actor{bureau, officer, inspector, {ID: "u-v", Role: workflow.RoleViewer, UnitID: "inspect"}, u.Actor()}
	for _, a := range others {
		calls := map[string]error{}
		_, calls["list"] = f.svc.ListUsers(ctx, a)
		_, calls["get"] = f.svc.GetUser(ctx, a, u.ID)
		_, calls["disable"] = f.svc.SetUserDisabled(ctx, a, u.ID, true)
		_, calls["enable"] = f.svc.SetUserDisabled(ctx, a, u.ID, false)
		_, calls["tokens"] = f.svc.UserTokens(ctx, a, u.ID)
		_, _, calls["issue"] = f.svc.IssueUserToken(ctx, a, u.ID, nil)
		_, calls["revoke"] = f.svc.RevokeTokens(ctx, a, u.ID, nil)
		_, _, calls["rotate"] = f.svc.RotateToken(ctx, a, u.ID, "x", nil)
		_, calls["reset"] = f.svc.ResetPassword(ctx, a, u.ID, workflow.PasswordChange{Hash: plain("x-1")})
		_, calls["log"] = f.svc.AccountEvents(ctx, a, 0, 10)
		for name, err := range calls {
			if workflow.ErrorCode(err) != workflow.CodeForbidden {
				t.Errorf("%s by %s: %v, want forbidden", name, a.Role, err)
			}
		}
	}
	if _, err := f.svc.SetUserDisabled(ctx, admin.Actor(), admin.ID, true); workflow.ErrorCode(err) != workflow.CodeForbidden {
		t.Errorf("an admin disabling themself: %v", err)
	}
	for name, err := range map[string]error{
		"disable an unknown user":   second2(f.svc.SetUserDisabled(ctx, admin.Actor(), "u-nobody", true)),
		"tokens of an unknown user": second2(f.svc.UserTokens(ctx, admin.Actor(), "u-nobody")),
		"revoke an unknown token":   second2(f.svc.RevokeTokens(ctx, admin.Actor(), u.ID, []string{"0123456789abcdef"})),
		"rotate an unknown token":   third(f.svc.RotateToken(ctx, admin.Actor(), u.ID, "0123456789abcdef", nil)),
		"reset an unknown user":     second2(f.svc.ResetPassword(ctx, admin.Actor(), "u-nobody", workflow.PasswordChange{Hash: plain("x-1")})),
	} {
		if workflow.ErrorCode(err) != workflow.CodeNotFound {
			t.Errorf("%s: %v, want not found", name, err)
		}
	}
	past := t0.Add(-time.Hour)
	if _, _, err := f.svc.IssueUserToken(ctx, admin.Actor(), u.ID, &past); workflow.ErrorCode(err) != workflow.CodeInvalid {
		t.Errorf("a token expiring in the past: %v", err)
	}
	// Someone else's password: only by an admin; one's own by oneself.
	if _, err := f.svc.ChangePassword(ctx, bureau, u.ID, workflow.PasswordChange{Hash: plain("x-1")}); workflow.ErrorCode(err) != workflow.CodeForbidden {
		t.Errorf("the bureau setting 张三's password: %v", err)
	}
	if _, err := f.svc.ChangePassword(ctx, u.Actor(), u.ID, workflow.PasswordChange{Hash: plain("x-1"), RevokeTokens: true}); err != nil {
		t.Errorf("张三 setting their own password: %v", err)
	}
}

func second2[T any](_ T, err error) error       { return err }
func third[A, B any](_ A, _ B, err error) error { return err }

// TestAccountLifecycle: disabling stops a user's tokens and sessions at
// once and enabling restores them; tokens expire, are revoked and rotated;
// a password change may revoke every token; each change is one event of
// the account log, which the audit checks against the stored accounts.
func TestAccountLifecycle(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	admin := f.user(t, "管理员", workflow.RoleAdmin, "city-eeb", "")
	u, token, err := f.svc.CreateUser(ctx, admin.Actor(), workflow.NewUser{Name: "张三", Role: workflow.RoleUnit, UnitID: "fuliang"})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.svc.SetPassword(ctx, system, u.ID, plain("secret-1")); err != nil {
		t.Fatal(err)
	}
	pol := workflow.DefaultSessionPolicy()
	_, sid, _, err := f.svc.SignIn(ctx, "张三", checkPlain("secret-1"), pol)
	if err != nil {
		t.Fatal(err)
	}
	works := func(what string, want bool) {
		t.Helper()
		_, err := f.svc.Authenticate(ctx, token)
		if (err == nil) != want {
			t.Errorf("%s: the token: %v", what, err)
		}
		if err != nil && workflow.ErrorCode(err) != workflow.CodeUnauthorized {
			t.Errorf("%s: the token refused with %v, want unauthorized", what, err)
		}
	}
	works("a new user", true)

	// Disabled: the token and the session stop at once; the right password
	// says so (forbidden), a wrong one does not.
	if got, err := f.svc.SetUserDisabled(ctx, admin.Actor(), u.ID, true); err != nil || !got.Disabled {
		t.Fatalf("disable = %+v, %v", got, err)
	}
	works("a disabled user", false)
	if _, _, err := f.svc.SessionUser(ctx, sid, pol); workflow.ErrorCode(err) != workflow.CodeUnauthorized {
		t.Errorf("a disabled user's session: %v", err)
	}
	if _, _, _, err := f.svc.SignIn(ctx, "张三", checkPlain("secret-1"), pol); workflow.ErrorCode(err) != workflow.CodeForbidden {
		t.Errorf("a disabled user signing in: %v", err)
	}
	if _, _, _, err := f.svc.SignIn(ctx, "张三", checkPlain("wrong"), pol); workflow.ErrorCode(err) != workflow.CodeUnauthorized {
		t.Errorf("a disabled user's wrong password: %v", err)
	}
	if _, _, err := f.svc.IssueUserToken(ctx, admin.Actor(), u.ID, nil); workflow.ErrorCode(err) != workflow.CodeConflict {
		t.Errorf("a token for a disabled user: %v", err)
	}
	if _, err := f.svc.SetUserDisabled(ctx, admin.Actor(), u.ID, true); err != nil {
		t.Errorf("disabling twice: %v", err)
	}
	if _, err := f.svc.SetUserDisabled(ctx, admin.Actor(), u.ID, false); err != nil {
		t.Fatal(err)
	}
	works("an enabled user", true)

	// A token with an expiry works until it.
	exp := t0.Add(48 * time.Hour)
	second, tok2, err := f.svc.IssueUserToken(ctx, admin.Actor(), u.ID, &exp)
	if err != nil || !strings.HasPrefix(second, "rt_") || tok2.ExpiresAt == nil {
		t.Fatalf("IssueUserToken = %q, %+v, %v", second, tok2, err)
	}
	f.clock.Advance(48*time.Hour - time.Second)
	if _, err := f.svc.Authenticate(ctx, second); err != nil {
		t.Errorf("a token before its expiry: %v", err)
	}
	f.clock.Advance(time.Second)
	if _, err := f.svc.Authenticate(ctx, second); workflow.ErrorCode(err) != workflow.CodeUnauthorized {
		t.Errorf("a token at its expiry: %v", err)
	}

	// Rotation: the old token stops, the new one works and keeps the old
	// one's lifetime.
	third, tok3, err := f.svc.RotateToken(ctx, admin.Actor(), u.ID, tok2.ID(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if tok3.ExpiresAt == nil || !tok3.ExpiresAt.Equal(f.clock.Now().Add(48*time.Hour)) {
		t.Errorf("the rotated token expires at %v", tok3.ExpiresAt)
	}
	if _, err := f.svc.Authenticate(ctx, third); err != nil {
		t.Errorf("the rotated token: %v", err)
	}
	tokens, err := f.svc.UserTokens(ctx, admin.Actor(), u.ID)
	if err != nil || len(tokens) != 2 || slices.ContainsFunc(tokens, func(tk workflow.Token) bool { return tk.ID() == tok2.ID() }) {
		t.Errorf("UserTokens after a rotation = %v, %v", tokens, err)
	}

	// Revoke one; a password change revoking the rest.
	first := tokens[0]
	if ids, err := f.svc.RevokeTokens(ctx, admin.Actor(), u.ID, []string{first.ID()}); err != nil || len(ids) != 1 {
		t.Fatalf("RevokeTokens = %v, %v", ids, err)
	}
	works("a revoked token", false)
	ids, err := f.svc.ChangePassword(ctx, u.Actor(), u.ID, workflow.PasswordChange{Hash: plain("secret-2"), RevokeTokens: true})
	if err != nil || len(ids) != 1 || ids[0] != tok3.ID() {
		t.Fatalf("ChangePassword revoking tokens = %v, %v", ids, err)
	}
	if _, err := f.svc.Authenticate(ctx, third); workflow.ErrorCode(err) != workflow.CodeUnauthorized {
		t.Errorf("a token revoked with the password: %v", err)
	}
	if ids, err := f.svc.RevokeTokens(ctx, admin.Actor(), u.ID, nil); err != nil || len(ids) != 0 {
		t.Errorf("revoking all of none = %v, %v", ids, err)
	}

	// The log: who, when, what; no secret, no hash.
	evs, err := f.svc.AccountEvents(ctx, admin.Actor(), 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range evs {
		actions = append(actions, e.Action)
	}
	want := []string{
		workflow.AccountCreate, workflow.AccountCreate, workflow.AccountPassword, workflow.AccountDisable,
		workflow.AccountEnable, workflow.AccountIssue, workflow.AccountRotate, workflow.AccountRevoke, workflow.AccountPassword,
	}
	if !slices.Equal(actions, want) {
		t.Errorf("account log %v\nwant %v", actions, want)
	}
	if e := evs[3]; e.Actor.ID != admin.ID || e.UserID != u.ID || !e.At.Equal(t0) {
		t.Errorf("the disable event %+v", e)
	}
	for _, e := range evs {
		j := strings.Join([]string{e.PasswordStamp, strings.Join(e.Revoked, ",")}, " ")
		for _, secret := range []string{token, second, third, first.Hash, tok3.Hash, plain("secret-2")} {
			if strings.Contains(j, secret) {
				t.Errorf("event %d holds a secret or hash", e.Seq)
			}
		}
	}
	rep, err := workflow.AuditAccounts(ctx, f.store.(workflow.AccountLedger))
	if err != nil || rep.Events != uint64(len(want)) || rep.Users != 2 {
		t.Errorf("AuditAccounts = %+v, %v", rep, err)
	}
}

// TestAccountBaseline: a database whose users predate the account log gets
// a baseline at the first change (or at RecordAccountBaseline), after which
// the audit covers them.
func TestAccountBaseline(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	old := workflow.User{ID: "u-old", Name: "老用户", Role: workflow.RoleViewer, UnitID: "inspect", CreatedAt: t0}
	if err := f.store.CreateUser(ctx, old, workflow.Token{Hash: workflow.HashToken("rt_old"), UserID: old.ID, CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	l := f.store.(workflow.AccountLedger)
	if rep, err := workflow.AuditAccounts(ctx, l); err != nil || !rep.Uncovered {
		t.Errorf("before the baseline: %+v, %v", rep, err)
	}
	wrote, err := f.svc.RecordAccountBaseline(ctx)
	if err != nil || !wrote {
		t.Fatalf("RecordAccountBaseline = %v, %v", wrote, err)
	}
	if wrote, err := f.svc.RecordAccountBaseline(ctx); err != nil || wrote {
		t.Errorf("a second RecordAccountBaseline = %v, %v", wrote, err)
	}
	if _, err := f.svc.SetUserDisabled(ctx, system, old.ID, true); err != nil {
		t.Fatal(err)
	}
	rep, err := workflow.AuditAccounts(ctx, l)
	if err != nil || rep.Uncovered || rep.Events != 2 {
		t.Errorf("after the baseline: %+v, %v", rep, err)
	}
	// A user written past the log now is found.
	sneaky := workflow.User{ID: "u-sneak", Name: "后门", Role: workflow.RoleAdmin, UnitID: "city-eeb", CreatedAt: t0}
	if err := f.store.CreateUser(ctx, sneaky, workflow.Token{Hash: workflow.HashToken("rt_sneak"), UserID: sneaky.ID, CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	if _, err := workflow.AuditAccounts(ctx, l); err == nil || !strings.Contains(err.Error(), "u-sneak") {
		t.Errorf("a user added without an event: %v", err)
	}
}
