package bolt

import (
	"bytes"
	"sync"

	"github.com/jdz-eco/rectify/workflow"
)

// recordCacheSize bounds the decoded records kept: the problems being
// worked on (a lifecycle reads its record several times per command:
// authorization, the command, the answer).
const recordCacheSize = 1024

// recordCache keeps recently read or written problem records decoded, keyed
// by problem number and validated by their exact stored bytes: a hit is a
// copy of the record those bytes decode to, whoever wrote them, so the
// cache can never return a stale record. It saves JSON decoding, the bulk of
// a read's and of an update's CPU time.
type recordCache struct {
	mu sync.Mutex
	m  map[uint64]cachedRecord
}

type cachedRecord struct {
	raw []byte
	p   *workflow.Problem
}

// get returns a private copy of the record raw, the stored bytes of
// problem number n, if the cache holds it.
func (c *recordCache) get(n uint64, raw []byte) *workflow.Problem {
	c.mu.Lock()
	e, ok := c.m[n]
	c.mu.Unlock()
	if !ok || !bytes.Equal(e.raw, raw) {
		return nil
	}
	return e.p.Clone()
}

// put keeps p, the record raw decodes to; raw and p must not change
// afterwards.
func (c *recordCache) put(n uint64, raw []byte, p *workflow.Problem) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[uint64]cachedRecord, recordCacheSize)
	}
	if _, ok := c.m[n]; !ok && len(c.m) >= recordCacheSize {
		for k := range c.m { // evict one, at random
			delete(c.m, k)
			break
		}
	}
	c.m[n] = cachedRecord{raw: raw, p: p}
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
// user is never served from it. It saves two JSON decodings per request.
type tokenCache struct {
	mu sync.Mutex
	m  map[string]cachedToken
}

type cachedToken struct {
	tokenRaw, userRaw []byte
	user              workflow.User // a value: copying it copies it all
}

// get returns the entry of token hash if its stored bytes are still
// tokenRaw; the caller checks the user's bytes.
func (c *tokenCache) get(hash string, tokenRaw []byte) (cachedToken, bool) {
	c.mu.Lock()
	e, ok := c.m[hash]
	c.mu.Unlock()
	return e, ok && bytes.Equal(e.tokenRaw, tokenRaw)
}

// put keeps e for token hash; its slices must not change afterwards.
func (c *tokenCache) put(hash string, e cachedToken) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[string]cachedToken, tokenCacheSize)
	}
	if _, ok := c.m[hash]; !ok && len(c.m) >= tokenCacheSize {
		for k := range c.m { // evict one, at random
			delete(c.m, k)
			break
		}
	}
	c.m[hash] = e
}
