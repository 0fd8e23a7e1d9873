package workflow_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jdz-eco/rectify/workflow"
)

// TestDeviceTokens: a device token is known for the user it was issued to,
// until it expires or the user's password changes; a forged, altered or
// another user's token is not.
func TestDeviceTokens(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	u := f.user(t, "张三", workflow.RoleUnit, "fuliang", "secret-1")
	other := f.user(t, "李四", workflow.RoleUnit, "fuliang", "secret-2")
	f.user(t, "王五", workflow.RoleUnit, "fuliang", "")

	tok, err := f.svc.IssueDevice(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if workflow.DeviceUser(tok) != u.ID {
		t.Errorf("DeviceUser(%q) = %q", tok, workflow.DeviceUser(tok))
	}
	if strings.Contains(tok, "secret") || strings.Contains(tok, "$plain$") {
		t.Errorf("the token %q shows the password or its hash", tok)
	}
	dev, ok, err := f.svc.KnownDevice(ctx, "张三", []string{"junk", tok})
	if err != nil || !ok || dev == "" {
		t.Fatalf("KnownDevice(张三, its token) = %q, %v, %v", dev, ok, err)
	}
	tok2, _ := f.svc.IssueDevice(ctx, u.ID)
	if dev2, _, _ := f.svc.KnownDevice(ctx, "张三", []string{tok2}); dev2 == dev {
		t.Error("two sign-ins gave one device id")
	}
	otherTok, _ := f.svc.IssueDevice(ctx, other.ID)
	fields := strings.Split(tok, ".")
	altered := func(i int, v string) string {
		g := append([]string(nil), fields...)
		g[i] = v
		return strings.Join(g, ".")
	}
	for name, tt := range map[string]struct {
		user   string
		tokens []string
	}{
		"another user's token":       {"张三", []string{otherTok}},
		"its token for another name": {"李四", []string{tok}},
		"an unknown name":            {"赵六", []string{tok}},
		"a user without a password":  {"王五", []string{tok}},
		"no token":                   {"张三", nil},
		"a changed nonce":            {"张三", []string{altered(1, "AAAA")}},
		"a later expiry":             {"张三", []string{altered(2, "99999999999")}},
		"a changed MAC":              {"张三", []string{altered(3, strings.Repeat("A", len(fields[3])))}},
		"a claimed user":             {"张三", []string{altered(0, other.ID)}},
		"too many fields":            {"张三", []string{tok + ".x"}},
	} {
		if _, ok, err := f.svc.KnownDevice(ctx, tt.user, tt.tokens); ok || err != nil {
			t.Errorf("%s: known %v, %v", name, ok, err)
		}
	}

	// Expiry.
	f.clock.Advance(workflow.DeviceMaxAge - time.Second)
	if _, ok, _ := f.svc.KnownDevice(ctx, "张三", []string{tok}); !ok {
		t.Error("a device token expired early")
	}
	f.clock.Advance(time.Second)
	if _, ok, _ := f.svc.KnownDevice(ctx, "张三", []string{tok}); ok {
		t.Error("an expired device token is known")
	}
	// A password change forgets every device of the user.
	tok, _ = f.svc.IssueDevice(ctx, u.ID)
	if err := f.svc.SetPassword(ctx, u.Actor(), u.ID, plain("secret-3")); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := f.svc.KnownDevice(ctx, "张三", []string{tok}); ok {
		t.Error("a device token outlived a password change")
	}
}
