package etcd

import (
	"context"
	"encoding/hex"
	"strconv"
	"strings"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/jdz-eco/rectify/store/internal/index"
	"github.com/jdz-eco/rectify/store/internal/nearindex"
	"github.com/jdz-eco/rectify/workflow"
)

// The near-duplicate photo index (workflow.PhotoIndex;
// docs/design.md#near-duplicate-photos): for every indexed hash h of
// problem n, one empty key per chunk of nearindex.Default,
// ix/near/<chunk and value, 6 hex>/<h, 16 hex>/<n>, written by the command's
// Txn with the other index keys (indexDiff, indexPuts). Puts only: no
// read-modify-write of a shared list, so concurrent uploads never collide.
// A lookup range-reads the keys (without values) of its 447 probe
// prefixes, many reads to a Txn (as many as --max-txn-ops allows: 4 Txns at
// etcd's default of 128), all at the revision of the first, and verifies
// each hash in its key.

// nearPrefix is the relative key prefix of the near-duplicate index.
const nearPrefix = "ix/near/"

// nearProbeKey returns the relative key prefix of a probe prefix.
func nearProbeKey(probe []byte) string { return nearPrefix + hex.EncodeToString(probe) + "/" }

// nearKeys returns the relative keys of hash h for problem number n.
func nearKeys(h uint64, n uint64) []string {
	var out []string
	for _, p := range nearindex.Default.PostingKeys(h) {
		out = append(out, nearProbeKey(p)+hex16(h)+"/"+pad(n))
	}
	return out
}

func hex16(h uint64) string {
	s := strconv.FormatUint(h, 16)
	return strings.Repeat("0", 16-len(s)) + s
}

// photoPuts and photoDels are the near-index keys of a change from old to
// p, as indexDiff returns them.
func photoIndexDiff(n uint64, old, p *workflow.Problem) (dels []string, puts []indexPut) {
	gone, added := index.PhotoDiff(old, p)
	for _, h := range gone {
		dels = append(dels, nearKeys(h, n)...)
	}
	for _, h := range added {
		for _, k := range nearKeys(h, n) {
			puts = append(puts, indexPut{key: k})
		}
	}
	return dels, puts
}

// NearPhotos returns the indexed photos within radius of h, nearest first
// (workflow.PhotoIndex).
func (s *Store) NearPhotos(ctx context.Context, h uint64, radius, limit int) ([]workflow.PhotoMatch, error) {
	radius = min(max(radius, 0), nearindex.Default.Radius)
	var probes []string
	nearindex.Default.Probes(h, radius, func(p []byte) bool {
		probes = append(probes, nearProbeKey(p))
		return true
	})
	batch := max(s.cfg.MaxTxnOps, 1)
	var (
		out  []workflow.PhotoMatch
		rev  int64
		seen = map[string]bool{}
	)
	for start := 0; start < len(probes); start += batch {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		ops := make([]clientv3.Op, 0, batch)
		for _, p := range probes[start:min(start+batch, len(probes))] {
			opts := []clientv3.OpOption{clientv3.WithRange(s.prefixEnd(p)), clientv3.WithKeysOnly()}
			if rev != 0 {
				opts = append(opts, clientv3.WithRev(rev))
			}
			ops = append(ops, clientv3.OpGet(s.k(p), opts...))
		}
		rctx, cancel := s.reqCtx(ctx)
		resp, err := s.cli.Txn(rctx).Then(ops...).Commit()
		cancel()
		if err != nil {
			return nil, wrap("read the photo index", err)
		}
		if rev == 0 {
			rev = resp.Header.Revision
		}
		for _, r := range resp.Responses {
			for _, kv := range r.GetResponseRange().GetKvs() {
				m, ok := s.parseNearKey(string(kv.Key), h)
				if ok && m.Distance <= radius && !seen[string(kv.Key[len(kv.Key)-37:])] {
					seen[string(kv.Key[len(kv.Key)-37:])] = true // the hash and the number
					out = append(out, m)
				}
			}
		}
	}
	workflow.SortPhotoMatches(out)
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// parseNearKey reads the hash and problem number of a near-index key and
// measures the hash's distance from q.
func (s *Store) parseNearKey(key string, q uint64) (workflow.PhotoMatch, bool) {
	// …/<16 hex>/<20 digits>
	if len(key) < 37 || key[len(key)-21] != '/' {
		return workflow.PhotoMatch{}, false
	}
	h, err1 := strconv.ParseUint(key[len(key)-37:len(key)-21], 16, 64)
	n, err2 := strconv.ParseUint(key[len(key)-20:], 10, 64)
	if err1 != nil || err2 != nil {
		return workflow.PhotoMatch{}, false
	}
	return workflow.PhotoMatch{ProblemID: workflow.ProblemID(n), PHash: h, Distance: nearindex.Distance(q, h)}, true
}
