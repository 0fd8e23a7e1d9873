package bolt

import (
	"bytes"
	"sync"

	"github.com/jdz-eco/rectify/workflow"
)

// boundedMap is a map safe for concurrent use that holds at most limit
// entries: a new key beyond that evicts one at random. Its zero value is
// empty and ready.
type boundedMap[K comparable, V any] struct {
	mu sync.Mutex
	m  map[K]V
}

func (b *boundedMap[K, V]) load(k K) (V, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	v, ok := b.m[k]
	return v, ok
}

func (b *boundedMap[K, V]) store(k K, v V, limit int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.m == nil {
		b.m = make(map[K]V, limit)
	}
	if _, ok := b.m[k]; !ok && len(b.m) >= limit {
		for old := range b.m { // evict one, at random
			delete(b.m, old)
			break
		}
	}
	b.m[k] = v
}

// recordCacheSize bounds the decoded records kept: the problems being
// worked on (a lifecycle reads its record several times per command:
// authorization, the command, the answer).
const recordCacheSize = 1024

// recordCache keeps recently read or written problem records decoded, keyed
// by problem number and validated by their exact stored bytes: a hit is a
// copy of the record those bytes decode to, whoever wrote them, so the
// cache can never return a stale record. It saves unpacking and JSON
// decoding, the bulk of a read's and of an update's CPU time.
type recordCache struct {
	m boundedMap[uint64, cachedRecord]
}

type cachedRecord struct {
	raw []byte
	p   *workflow.Problem
}

// get returns a private copy of the record raw, the stored bytes of
// problem number n, if the cache holds it.
func (c *recordCache) get(n uint64, raw []byte) *workflow.Problem {
	e, ok := c.m.load(n)
	if !ok || !bytes.Equal(e.raw, raw) {
		return nil
	}
	return e.p.Clone()
}

// put keeps p, the record raw decodes to; raw and p must not change
// afterwards.
func (c *recordCache) put(n uint64, raw []byte, p *workflow.Problem) {
	c.m.store(n, cachedRecord{raw: raw, p: p}, recordCacheSize)
}

// decode returns the record raw of problem number n decoded: from the cache,
// or decoded and then cached. The result is the caller's own.
func (c *recordCache) decode(n uint64, raw []byte) (*workflow.Problem, error) {
	if p := c.get(n, raw); p != nil {
		return p, nil
	}
	p, err := decodeProblem(n, raw)
	if err != nil {
		return nil, err
	}
	c.put(n, bytes.Clone(raw), p.Clone())
	return p, nil
}

// tokenCacheSize bounds the tokens kept decoded.
const tokenCacheSize = 1024

// tokenCache keeps the users of recently presented tokens decoded, keyed by
// token hash and validated by the exact stored bytes of the token and of its
// user, read again on every call: a revoked token, a disabled or changed
// user is never served from it (nor a token's changed expiry). It saves two JSON decodings per request.
type tokenCache struct {
	m boundedMap[string, cachedToken]
}

type cachedToken struct {
	tokenRaw, userRaw []byte
	// Values: copying them copies them all (the token's ExpiresAt points
	// at a time no one changes).
	token workflow.Token
	user  workflow.User
}

// get returns the entry of token hash if its stored bytes are still
// tokenRaw; the caller checks the user's bytes.
func (c *tokenCache) get(hash string, tokenRaw []byte) (cachedToken, bool) {
	e, ok := c.m.load(hash)
	return e, ok && bytes.Equal(e.tokenRaw, tokenRaw)
}

// put keeps e for token hash; its slices must not change afterwards.
func (c *tokenCache) put(hash string, e cachedToken) {
	c.m.store(hash, e, tokenCacheSize)
}
