package web

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
)

// Argon2Params are the cost of an argon2id password hash (RFC 9106). They
// are written into every hash (the PHC string), so that a hash made with
// other parameters still verifies after a change.
type Argon2Params struct {
	Memory  uint32 // KiB
	Time    uint32 // passes
	Threads uint8
}

// DefaultArgon2 is OWASP's recommended minimum for argon2id: 19 MiB, two
// passes, one thread; a few tens of milliseconds on a server core.
var DefaultArgon2 = Argon2Params{Memory: 19 * 1024, Time: 2, Threads: 1}

const (
	saltLen = 16
	keyLen  = 32
	// Bounds on the parameters a stored hash may ask for, so that a damaged
	// record cannot make a sign-in take the server's memory.
	maxMemory  = 1 << 20 // 1 GiB
	maxTime    = 20
	maxThreads = 16
)

// Password length limits, in characters (a longer one only costs hashing).
const (
	MinPassword = 8
	MaxPassword = 128
)

// CheckPasswordRules refuses a password too short or too long, in Chinese,
// for the pages and the command line.
func CheckPasswordRules(pw string) error {
	switch n := utf8.RuneCountInString(pw); {
	case !utf8.ValidString(pw):
		return errors.New("密码必须是有效的文本")
	case n < MinPassword:
		return fmt.Errorf("密码至少需要 %d 个字符", MinPassword)
	case n > MaxPassword:
		return fmt.Errorf("密码不能超过 %d 个字符", MaxPassword)
	}
	return nil
}

// HashPassword returns the argon2id hash of pw with the default parameters
// and a random salt, as a PHC string:
// $argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash> (unpadded base64).
func HashPassword(pw string) (string, error) {
	return HashPasswordParams(pw, DefaultArgon2)
}

// HashPasswordParams is HashPassword with parameters p.
func HashPasswordParams(pw string, p Argon2Params) (string, error) {
	if p.Memory < 8*uint32(max(p.Threads, 1)) || p.Memory > maxMemory || p.Time < 1 || p.Time > maxTime || p.Threads < 1 || p.Threads > maxThreads {
		return "", fmt.Errorf("web: bad argon2 parameters %+v", p)
	}
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(pw), salt, p.Time, p.Memory, p.Threads, keyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Time, p.Threads,
		b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// errBadHash is a stored hash this package cannot read.
var errBadHash = errors.New("web: malformed argon2id password hash")

// CheckPassword reports whether pw matches hash, a PHC string made by
// HashPassword (with any parameters within bounds). The comparison takes
// constant time.
func CheckPassword(hash, pw string) (bool, error) {
	p, salt, key, err := parseHash(hash)
	if err != nil {
		return false, err
	}
	got := argon2.IDKey([]byte(pw), salt, p.Time, p.Memory, p.Threads, uint32(len(key)))
	return subtle.ConstantTimeCompare(got, key) == 1, nil
}

func parseHash(hash string) (p Argon2Params, salt, key []byte, err error) {
	f := strings.Split(hash, "$")
	// "", "argon2id", "v=19", "m=…,t=…,p=…", salt, key
	if len(f) != 6 || f[0] != "" || f[1] != "argon2id" || f[2] != "v="+strconv.Itoa(argon2.Version) {
		return p, nil, nil, errBadHash
	}
	var m, t, th uint64
	for kv := range strings.SplitSeq(f[3], ",") {
		k, v, _ := strings.Cut(kv, "=")
		n, perr := strconv.ParseUint(v, 10, 32)
		if perr != nil {
			return p, nil, nil, errBadHash
		}
		switch k {
		case "m":
			m = n
		case "t":
			t = n
		case "p":
			th = n
		default:
			return p, nil, nil, errBadHash
		}
	}
	if m < 8 || m > maxMemory || t < 1 || t > maxTime || th < 1 || th > maxThreads {
		return p, nil, nil, errBadHash
	}
	p = Argon2Params{Memory: uint32(m), Time: uint32(t), Threads: uint8(th)}
	b64 := base64.RawStdEncoding
	if salt, err = b64.DecodeString(f[4]); err != nil || len(salt) < 8 {
		return p, nil, nil, errBadHash
	}
	if key, err = b64.DecodeString(f[5]); err != nil || len(key) < 16 || len(key) > 64 {
		return p, nil, nil, errBadHash
	}
	return p, salt, key, nil
}

// hasher runs argon2 for the pages with a bound on how many hashes run at
// once (each takes Memory KiB), and keeps a dummy hash so that a sign-in
// for an unknown name costs as much as one for a known name.
type hasher struct {
	params Argon2Params
	slots  chan struct{}
	dummy  string
}

func newHasher(p Argon2Params, concurrent int) (*hasher, error) {
	dummy, err := HashPasswordParams("rectify-dummy-password", p)
	if err != nil {
		return nil, err
	}
	return &hasher{params: p, slots: make(chan struct{}, max(concurrent, 1)), dummy: dummy}, nil
}

func (h *hasher) acquire(ctx context.Context) error {
	select {
	case h.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (h *hasher) release() { <-h.slots }

// check reports whether pw matches hash; an empty hash (no such user, or no
// password) is checked against the dummy and never matches.
func (h *hasher) check(ctx context.Context, hash, pw string) (bool, error) {
	if err := h.acquire(ctx); err != nil {
		return false, err
	}
	defer h.release()
	if hash == "" {
		_, err := CheckPassword(h.dummy, pw)
		return false, err
	}
	return CheckPassword(hash, pw)
}

// hash returns the hash of pw with the hasher's parameters.
func (h *hasher) hash(ctx context.Context, pw string) (string, error) {
	if err := h.acquire(ctx); err != nil {
		return "", err
	}
	defer h.release()
	return HashPasswordParams(pw, h.params)
}
