package workflow

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strconv"
	"strings"
	"time"
)

// Device tokens mark a browser a user has signed in from before (OWASP's
// "device cookies"): the sign-in throttle lets a known device through the
// per-account and per-address lockouts that a guesser elsewhere has
// triggered, and counts its failures on their own.
//
// A token is USERID.NONCE.EXPIRY.MAC, where NONCE is random, EXPIRY a Unix
// time and MAC the HMAC-SHA256 of the rest keyed by a digest of the user's
// password hash. Nothing is stored: any replica checks a token with the
// hash it already keeps, and a password change (the hash changes) makes
// every device token of the user unknown, as a device should be once the
// password it proved is gone.

// DeviceMaxAge is how long a device token stays known after the sign-in
// that issued it.
const DeviceMaxAge = 90 * 24 * time.Hour

// maxDeviceToken bounds a token's length (user id, nonce, expiry, MAC).
const maxDeviceToken = 256

// deviceMAC is the MAC of a device token's fields under the key of the
// password hash.
func deviceMAC(hash, userID, nonce, expiry string) []byte {
	key := sha256.Sum256([]byte("rectify device key\x00" + hash))
	m := hmac.New(sha256.New, key[:])
	m.Write([]byte(userID + "." + nonce + "." + expiry))
	return m.Sum(nil)
}

// IssueDevice returns a device token for user userID, who has just signed
// in; the web layer keeps it in a cookie of the browser.
func (s *Service) IssueDevice(ctx context.Context, userID string) (string, error) {
	acc, err := s.accounts()
	if err != nil {
		return "", err
	}
	hash, err := acc.PasswordHash(ctx, userID)
	if err != nil {
		return "", err
	}
	nonce := base64.RawURLEncoding.EncodeToString(randomBytes(16))
	expiry := strconv.FormatInt(s.clock.Now().Add(DeviceMaxAge).Unix(), 10)
	mac := base64.RawURLEncoding.EncodeToString(deviceMAC(hash, userID, nonce, expiry))
	return userID + "." + nonce + "." + expiry + "." + mac, nil
}

// DeviceUser returns the user id a device token claims ("" when token is
// not shaped like one), so that the web layer can name its cookie.
func DeviceUser(token string) string {
	id, _, ok := strings.Cut(token, ".")
	if !ok || len(token) > maxDeviceToken {
		return ""
	}
	return id
}

// KnownDevice reports whether one of tokens is a live device token of the
// user called name, and returns that device's id (its nonce) to count its
// failures by. An unknown name, a user without a password or a disabled
// user has no known device. Only store errors are returned as errors.
func (s *Service) KnownDevice(ctx context.Context, name string, tokens []string) (string, bool, error) {
	if len(tokens) == 0 {
		return "", false, nil
	}
	acc, err := s.accounts()
	if err != nil {
		return "", false, err
	}
	u, err := s.UserByName(ctx, name)
	switch ErrorCode(err) {
	case "":
	case CodeNotFound, CodeConflict:
		return "", false, nil
	default:
		return "", false, err
	}
	if u.Disabled {
		return "", false, nil
	}
	hash, err := acc.PasswordHash(ctx, u.ID)
	if ErrorCode(err) == CodeNotFound {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	now := s.clock.Now().Unix()
	for _, tok := range tokens {
		f := strings.Split(tok, ".")
		if len(tok) > maxDeviceToken || len(f) != 4 || f[0] != u.ID || f[1] == "" {
			continue
		}
		exp, err := strconv.ParseInt(f[2], 10, 64)
		if err != nil || exp <= now {
			continue
		}
		mac, err := base64.RawURLEncoding.DecodeString(f[3])
		if err == nil && hmac.Equal(mac, deviceMAC(hash, f[0], f[1], f[2])) {
			return f[1], true, nil
		}
	}
	return "", false, nil
}
