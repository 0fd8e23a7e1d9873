package web_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/jdz-eco/rectify/api/web"
)

func TestPasswordHash(t *testing.T) {
	h, err := web.HashPassword("正确的密码 correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`).MatchString(h) {
		t.Fatalf("hash %q is not a PHC string with the default parameters", h)
	}
	for pw, want := range map[string]bool{"正确的密码 correct horse": true, "正确的密码 correct hors": false, "": false} {
		if ok, err := web.CheckPassword(h, pw); ok != want || err != nil {
			t.Errorf("CheckPassword(%q) = %v, %v", pw, ok, err)
		}
	}
	again, _ := web.HashPassword("正确的密码 correct horse")
	if again == h {
		t.Error("two hashes of one password are equal: no random salt")
	}
	// A hash keeps its parameters: one made with others still verifies.
	cheapHash, err := web.HashPasswordParams("pw", web.Argon2Params{Memory: 64, Time: 1, Threads: 1})
	if err != nil || !strings.HasPrefix(cheapHash, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Fatalf("cheap hash %q, %v", cheapHash, err)
	}
	if ok, err := web.CheckPassword(cheapHash, "pw"); !ok || err != nil {
		t.Errorf("a hash with other parameters: %v, %v", ok, err)
	}
	for _, bad := range []string{
		"", "plain", "$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2id$v=18$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2id$v=19$m=99999999,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2id$v=19$m=64,t=1,p=1$!!$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2id$v=19$m=64,t=1,p=1,x=2$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
	} {
		if ok, err := web.CheckPassword(bad, "pw"); ok || err == nil {
			t.Errorf("CheckPassword(%q) = %v, %v; want an error", bad, ok, err)
		}
	}
	if _, err := web.HashPasswordParams("pw", web.Argon2Params{}); err == nil {
		t.Error("zero parameters accepted")
	}
}

func TestPasswordRules(t *testing.T) {
	for pw, ok := range map[string]bool{"1234567": false, "12345678": true, "八个汉字的密码呀": true, strings.Repeat("x", 129): false, "\xff\xfe12345678": false} {
		if err := web.CheckPasswordRules(pw); (err == nil) != ok {
			t.Errorf("CheckPasswordRules(%q) = %v", pw, err)
		}
	}
}
