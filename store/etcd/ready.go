package etcd

import (
	"context"
	"fmt"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Readiness: a replica is ready while its store can serve a linearizable
// read within ReadyTimeout, and the prefix keeps the key layout this
// rectify writes. The answer is kept for ReadyCacheFor, so that
// load balancers probing every replica often cost etcd one read a second.
const (
	ReadyTimeout  = time.Second
	ReadyCacheFor = time.Second
)

// Ready reports whether the store can serve now: nil when a linearizable
// read of the layout version answered within ReadyTimeout at most
// ReadyCacheFor ago, else the error (CodeUnavailable). Callers share one
// probe; a caller's own cancellation does not become the cached answer.
func (s *Store) Ready(ctx context.Context) error {
	s.readyMu.Lock()
	defer s.readyMu.Unlock()
	if !s.readyAt.IsZero() && time.Since(s.readyAt) < ReadyCacheFor {
		return s.readyErr
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	pctx, cancel := context.WithTimeout(clientv3.WithRequireLeader(s.bg), ReadyTimeout)
	defer cancel()
	resp, err := s.cli.Get(pctx, s.k(keySchema))
	s.readyAt, s.readyErr = time.Now(), wrap("linearizable read within "+ReadyTimeout.String(), err)
	if err == nil && len(resp.Kvs) > 0 && string(resp.Kvs[0].Value) != schemaVersion {
		// Another rectify changed the key layout under this one (a newer
		// one upgraded it, or a prefix was restored): what this replica
		// writes would miss what the other layout indexes.
		s.readyErr = fmt.Errorf("etcd: %s holds key layout %q, this rectify writes %q: stop this replica and run the rectify that matches", s.pfx, resp.Kvs[0].Value, schemaVersion)
	}
	return s.readyErr
}
