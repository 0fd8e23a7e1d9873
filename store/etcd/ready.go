package etcd

import (
	"context"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Readiness: a replica is ready while its store can serve a linearizable
// read within ReadyTimeout. The answer is kept for ReadyCacheFor, so that
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
	_, err := s.cli.Get(pctx, s.k(keySchema))
	s.readyAt, s.readyErr = time.Now(), wrap("linearizable read within "+ReadyTimeout.String(), err)
	return s.readyErr
}
