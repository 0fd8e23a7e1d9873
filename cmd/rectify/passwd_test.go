package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/jdz-eco/rectify/api/web"
	"github.com/jdz-eco/rectify/store/bolt"
	"github.com/jdz-eco/rectify/workflow"
)

// runIn runs Main with stdin and returns stdout, or the error.
func runIn(stdin string, args ...string) (string, error) {
	var out bytes.Buffer
	err := Main(context.Background(), args, Env{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: io.Discard})
	return out.String(), err
}

// TestUserPasswords: user add --password-stdin and user passwd set the
// password the web pages sign in with, stored as an argon2id hash.
func TestUserPasswords(t *testing.T) {
	db := t.TempDir() + "/rectify.db"
	run(t, "seed", "--db", db)
	tok, err := runIn("浮梁县的密码123\n", "user", "add", "--db", db, "--name", "浮梁李", "--role", "unit", "--unit", "浮梁县", "--password-stdin")
	if err != nil || !strings.HasPrefix(tok, "rt_") {
		t.Fatalf("user add --password-stdin: %q, %v", tok, err)
	}
	if _, err := runIn("short\n", "user", "add", "--db", db, "--name", "乐平王", "--role", "unit", "--unit", "乐平市", "--password-stdin"); err == nil || !strings.Contains(err.Error(), "at least 8") {
		t.Errorf("a short password: %v", err)
	}
	if _, err := runIn("", "user", "add", "--db", db, "--name", "浮梁李", "--role", "viewer", "--unit", "浮梁县"); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("a second 浮梁李: %v", err)
	}
	if _, err := runIn("new-password\n", "user", "passwd", "--db", db, "--name", "浮梁李"); err == nil || !strings.Contains(err.Error(), "--password-stdin") {
		t.Errorf("passwd without --password-stdin: %v", err)
	}
	if _, err := runIn("new-password\n", "user", "passwd", "--db", db, "--name", "无此人", "--password-stdin"); err == nil {
		t.Error("passwd of an unknown user succeeded")
	}
	if _, err := runIn("新的密码 new-password\r\n", "user", "passwd", "--db", db, "--name", "浮梁李", "--password-stdin"); err != nil {
		t.Fatalf("user passwd: %v", err)
	}
	if _, err := runIn("", "user", "remove"); err == nil || !strings.Contains(err.Error(), "user passwd") {
		t.Errorf("an unknown user command: %v", err)
	}

	// The server signs 浮梁李 in with the new password, not the old one.
	st, err := openStore(db, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	svc := workflow.NewService(st, workflow.SystemClock{})
	u, err := svc.UserByName(t.Context(), "浮梁李")
	if err != nil {
		t.Fatal(err)
	}
	hash, err := st.PasswordHash(t.Context(), u.ID)
	if err != nil || !strings.HasPrefix(hash, "$argon2id$") {
		t.Fatalf("stored hash %q, %v", hash, err)
	}
	if ok, _ := web.CheckPassword(hash, "新的密码 new-password"); !ok {
		t.Error("the stored hash does not match the new password (line ending kept?)")
	}
	st.Close()

	srv := startServer(t, db, "--scan-interval", "0")
	for pw, want := range map[string]int{"浮梁县的密码123": http.StatusUnauthorized, "新的密码 new-password": http.StatusSeeOther} {
		if got := signInStatus(t, srv.url, "浮梁李", pw); got != want {
			t.Errorf("sign in with %q: %d, want %d", pw, got, want)
		}
	}
}

// signInStatus posts the sign-in form as a browser does and returns the
// status.
func signInStatus(t *testing.T, base, name, pw string) int {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := c.Get(base + "/login")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindSubmatch(body)
	if m == nil {
		t.Fatalf("no sign-in form:\n%s", body)
	}
	res, err = c.PostForm(base+"/login", url.Values{"csrf": {string(m[1])}, "name": {name}, "password": {pw}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

// TestDemoPasswords: serve --demo prints a password per demo user, and
// each signs in to the web pages.
func TestDemoPasswords(t *testing.T) {
	base, users := startDemoServer(t, t.TempDir()+"/demo.db")
	if len(users) != 5 {
		t.Fatalf("demo users %v, want 5", users)
	}
	for role, u := range users {
		if !regexp.MustCompile(`^[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}$`).MatchString(u.password) {
			t.Errorf("%s's password %q", role, u.password)
		}
		if got := signInStatus(t, base, u.name, u.password); got != http.StatusSeeOther {
			t.Errorf("%s (%s) signs in: %d", role, u.name, got)
		}
	}
}
