package etcd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
)

// Leader election and fencing.
//
// RunAsLeader campaigns for a named role (the deadline scanner, the webhook
// dispatcher) on an etcd election under P election/<name>/, with a session
// (a lease kept alive by this process) of a short TTL. While it leads it
// runs fn with a context that ends when the leadership does (the session is
// lost, its lease revoked or expired) and that carries a fence: every write
// the store makes with that context also compares that the election key
// still exists with the revision it was created at. A deposed leader whose
// session has expired, but which has not noticed yet and writes late, is
// refused (ErrFenced) instead of writing next to its successor.

// fence is a leader key and the revision it was created at.
type fence struct {
	Key string
	Rev int64
}

type fenceCtxKey struct{}

// WithFence returns a context whose writes the store makes only while key
// exists with create revision rev (the election key of a leader, e.g.
// concurrency.Election's Key and Rev): any write made with it compares that
// in its transaction, and fails with ErrFenced once the key is gone.
// RunAsLeader gives its function such a context.
func WithFence(ctx context.Context, key string, rev int64) context.Context {
	return context.WithValue(ctx, fenceCtxKey{}, &fence{Key: key, Rev: rev})
}

// FenceOf returns the fence of ctx, if it has one.
func FenceOf(ctx context.Context) (key string, rev int64, ok bool) {
	f := fenceFrom(ctx)
	if f == nil {
		return "", 0, false
	}
	return f.Key, f.Rev, true
}

func fenceFrom(ctx context.Context) *fence {
	f, _ := ctx.Value(fenceCtxKey{}).(*fence)
	return f
}

func (f *fence) cmp() clientv3.Cmp {
	return clientv3.Compare(clientv3.CreateRevision(f.Key), "=", f.Rev)
}

// holds reports whether kv (the fence key as read; nil when absent) is
// still the leader's key.
func (f *fence) holds(kv *kvPair) bool { return kv != nil && kv.CreateRevision == f.Rev }

// DefaultLeaderTTL is the session TTL of RunAsLeader, in seconds: a dead
// leader's key expires, and another replica takes over, within it.
const DefaultLeaderTTL = 5

// LeaderOptions configure RunAsLeaderWith.
type LeaderOptions struct {
	// TTL is the session's lease TTL in seconds (default DefaultLeaderTTL).
	TTL int
	// ID is the value of this candidate's election key, shown by Leader
	// (default host name and process id).
	ID string
	// Logger receives elections, losses and fn's errors.
	Logger *slog.Logger
	// OnLead, if set, is called once this candidate leads, before fn runs,
	// with the election key and its revision; OnLoss after fn has returned
	// and the leadership is given up.
	OnLead func(key string, rev int64)
	OnLoss func()
}

// RunAsLeader runs fn whenever this replica is the elected leader of name,
// until ctx ends; see RunAsLeaderWith.
func (s *Store) RunAsLeader(ctx context.Context, name string, fn func(ctx context.Context) error) error {
	return s.RunAsLeaderWith(ctx, name, LeaderOptions{}, fn)
}

// RunAsLeaderWith campaigns for the leadership of name and, once elected,
// runs fn with a context that is cancelled when the leadership ends and that
// fences the store's writes on the election key (WithFence). When fn
// returns (it should return once its context ends), the leadership is given
// up and the campaign starts again; an error from fn is logged and followed
// by a pause. It returns nil when ctx ends, or an error if it cannot
// campaign at all (a bad name).
func (s *Store) RunAsLeaderWith(ctx context.Context, name string, opts LeaderOptions, fn func(ctx context.Context) error) error {
	if name == "" {
		return errors.New("etcd: a leader election needs a name")
	}
	if opts.TTL <= 0 {
		opts.TTL = DefaultLeaderTTL
	}
	if opts.ID == "" {
		host, _ := os.Hostname()
		opts.ID = host + ":" + strconv.Itoa(os.Getpid())
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("election", name, "id", opts.ID)
	pfx := s.electionPrefix(name)
	for attempt := 0; ctx.Err() == nil; attempt++ {
		led, err := s.leadOnce(ctx, pfx, opts, log, fn)
		if ctx.Err() != nil {
			return nil
		}
		pause := time.Duration(0)
		if err != nil {
			log.Warn("leader election", "err", err)
			pause = backoff(attempt + 3)
		}
		if led {
			attempt = 0
		}
		if err := sleepCtx(ctx, pause); err != nil {
			return nil
		}
	}
	return nil
}

func (s *Store) electionPrefix(name string) string { return s.k("election/" + esc(name)) }

// leadOnce runs one campaign and, if it wins, fn; it reports whether it led.
//
// The session outlives ctx: when ctx ends (a clean shutdown), the leader
// resigns, deleting its key so that the next candidate leads at once, and
// then revokes the session's lease. (A session bound to ctx would end with
// it, its lease left to expire: the next leader would wait out the TTL.)
func (s *Store) leadOnce(ctx context.Context, pfx string, opts LeaderOptions, log *slog.Logger, fn func(ctx context.Context) error) (bool, error) {
	sctx, scancel := context.WithCancel(context.WithoutCancel(ctx))
	defer scancel()
	sess, err := concurrency.NewSession(s.cli, concurrency.WithTTL(opts.TTL), concurrency.WithContext(sctx))
	if err != nil {
		return false, fmt.Errorf("session: %w", err)
	}
	defer func() {
		// Revoke the lease (within the session's TTL: Session.Close's own
		// bound), then stop its keepalives.
		_ = sess.Close()
	}()
	// Leading ends when the session does, whatever fn is doing.
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-sess.Done():
			cancel()
		case <-lctx.Done():
		}
	}()
	el := concurrency.NewElection(sess, pfx)
	if err := el.Campaign(lctx, opts.ID); err != nil {
		if lctx.Err() != nil && ctx.Err() == nil {
			return false, errors.New("session lost while campaigning")
		}
		return false, fmt.Errorf("campaign: %w", err)
	}
	key, rev := el.Key(), el.Rev()
	// The session may have expired while the campaign waited: lead only
	// with a key that still exists.
	kv, err := s.getAbs(lctx, key)
	if err != nil {
		return false, err
	}
	f := &fence{Key: key, Rev: rev}
	if !f.holds(kv) {
		return false, errors.New("the election key vanished before leading")
	}
	log.Info("leading", "key", key, "rev", rev)
	if opts.OnLead != nil {
		opts.OnLead(key, rev)
	}
	ferr := fn(WithFence(lctx, key, rev))
	cancel()
	lost := sess.Done()
	select {
	case <-lost:
		log.Warn("leadership lost (session ended)")
	default:
		rctx, rcancel := s.reqCtx(context.WithoutCancel(ctx))
		if err := el.Resign(rctx); err != nil {
			log.Warn("resign", "err", err)
		}
		rcancel()
		log.Info("resigned")
	}
	if opts.OnLoss != nil {
		opts.OnLoss()
	}
	if ferr != nil && ctx.Err() == nil {
		return true, fmt.Errorf("leader function: %w", ferr)
	}
	return true, nil
}

// getAbs reads absolute key k; nil when absent.
func (s *Store) getAbs(ctx context.Context, k string) (*kvPair, error) {
	rctx, cancel := s.reqCtx(ctx)
	defer cancel()
	resp, err := s.cli.Get(rctx, k)
	if err != nil {
		return nil, wrap("read "+k, err)
	}
	if len(resp.Kvs) == 0 {
		return nil, nil
	}
	return resp.Kvs[0], nil
}

// Leader returns the ID of the current leader of name, or "" when there is
// none.
func (s *Store) Leader(ctx context.Context, name string) (string, error) {
	rctx, cancel := s.reqCtx(ctx)
	defer cancel()
	opts := append([]clientv3.OpOption{clientv3.WithPrefix()}, clientv3.WithFirstCreate()...)
	resp, err := s.cli.Get(rctx, s.electionPrefix(name)+"/", opts...)
	if err != nil {
		return "", wrap("read the leader of "+name, err)
	}
	if len(resp.Kvs) == 0 {
		return "", nil
	}
	return string(resp.Kvs[0].Value), nil
}
