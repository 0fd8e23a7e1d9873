package main

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// TestUserLifecycleCommands: user disable, enable, tokens, revoke, rotate
// and passwd --revoke-tokens on a stopped server's file; the server then
// honours them, and audit verify checks the account log they wrote.
func TestUserLifecycleCommands(t *testing.T) {
	db := t.TempDir() + "/rectify.db"
	run(t, "seed", "--db", db)
	first, err := runIn("浮梁县的密码123\n", "user", "add", "--db", db, "--name", "浮梁李", "--role", "unit", "--unit", "浮梁县", "--password-stdin", "--expires", "2099-12-31")
	first = strings.TrimSpace(first)
	if err != nil || !strings.HasPrefix(first, "rt_") {
		t.Fatalf("user add --expires: %q, %v", first, err)
	}
	if _, err := runIn("", "user", "add", "--db", db, "--name", "过期", "--role", "unit", "--unit", "浮梁县", "--expires", "2001-01-01"); err == nil || !strings.Contains(err.Error(), "future") {
		t.Errorf("user add with an expiry in the past: %v", err)
	}
	if _, err := runIn("", "user", "add", "--db", db, "--name", "乱写", "--role", "unit", "--unit", "浮梁县", "--expires", "soon"); err == nil || !strings.Contains(err.Error(), "--expires") {
		t.Errorf("user add with a bad expiry: %v", err)
	}
	row := regexp.MustCompile(`(?m)^([0-9a-f]{16})\s+\S+ \S+\s+2099-12-31 23:59:59\s+valid$`)
	m := row.FindStringSubmatch(run(t, "user", "tokens", "--db", db, "--name", "浮梁李"))
	if m == nil {
		t.Fatalf("user tokens:\n%s", run(t, "user", "tokens", "--db", db, "--name", "浮梁李"))
	}
	if strings.Contains(run(t, "user", "tokens", "--db", db, "--name", "浮梁李"), first) {
		t.Error("user tokens shows a secret")
	}
	second := strings.TrimSpace(run(t, "user", "rotate", "--db", db, "--name", "浮梁李", "--token", m[1]))
	if !strings.HasPrefix(second, "rt_") || second == first {
		t.Fatalf("user rotate printed %q", second)
	}
	if _, err := runIn("", "user", "revoke", "--db", db, "--name", "浮梁李"); err == nil || !strings.Contains(err.Error(), "--all") {
		t.Errorf("revoke without --token or --all: %v", err)
	}
	if _, err := runIn("", "user", "revoke", "--db", db, "--name", "浮梁李", "--token", m[1]); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("revoking the rotated-out token: %v", err)
	}
	if _, err := runIn("", "user", "disable", "--db", db, "--name", "无此人"); err == nil {
		t.Error("disable of an unknown user succeeded")
	}
	run(t, "user", "disable", "--db", db, "--name", "浮梁李")
	if out := run(t, "user", "tokens", "--db", db, "--name", "浮梁李"); !strings.Contains(out, "user disabled") {
		t.Errorf("user tokens of a disabled user:\n%s", out)
	}

	srv := startServer(t, db, "--scan-interval", "0")
	status := func(token string) int {
		req, _ := http.NewRequest("GET", srv.url+"/api/v1/units", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if got := status(first); got != http.StatusUnauthorized {
		t.Errorf("the rotated-out token: %d", got)
	}
	if got := status(second); got != http.StatusUnauthorized {
		t.Errorf("a disabled user's token: %d", got)
	}
	if got := signInStatus(t, srv.url, "浮梁李", "浮梁县的密码123"); got != http.StatusForbidden {
		t.Errorf("a disabled user signing in: %d", got)
	}
	if err := srv.stop(); err != nil {
		t.Fatal(err)
	}
	run(t, "user", "enable", "--db", db, "--name", "浮梁李")
	if _, err := runIn("新的密码-new\n", "user", "passwd", "--db", db, "--name", "浮梁李", "--password-stdin", "--revoke-tokens"); err != nil {
		t.Fatal(err)
	}
	if out := run(t, "user", "tokens", "--db", db, "--name", "浮梁李"); strings.Count(out, "\n") != 1 {
		t.Errorf("tokens after passwd --revoke-tokens:\n%s", out)
	}
	out := run(t, "audit", "verify", "--db", db)
	if !regexp.MustCompile(`account log\s+6 events, hash chain intact`).MatchString(out) || !strings.Contains(out, "audit passed") {
		t.Errorf("audit verify:\n%s", out)
	}
}
