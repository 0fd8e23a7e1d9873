package etcd

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/jdz-eco/rectify/workflow"
)

// Defaults of Config.
const (
	DefaultPrefix         = "/rectify/"
	DefaultDialTimeout    = 5 * time.Second
	DefaultRequestTimeout = 5 * time.Second
	// DefaultMaxTxnOps is etcd's own default --max-txn-ops: the most
	// compares, and the most operations of each branch, one Txn may hold.
	DefaultMaxTxnOps = 128
	// DefaultMaxTxnBytes keeps a Txn well below etcd's default
	// --max-request-bytes (1.5 MiB).
	DefaultMaxTxnBytes = 1 << 20
	// DefaultMaxBatch bounds the commands of one group commit.
	DefaultMaxBatch = 64
)

// schemaVersion is the key layout this package reads and writes (doc.go).
// Version 1 had no pending entries (each command sealed its own on the
// chain); version 2 did not tag the problems the public sees in the tag
// index (workflow.TagPublic). Open upgrades a prefix of version 1 or 2
// (upgrade.go), after which replicas of an earlier rectify refuse it.
const (
	schemaVersion   = "3"
	upgradableFrom1 = "1"
	upgradableFrom2 = "2"
)

// Config configures Open.
type Config struct {
	// Endpoints are the etcd members' client URLs
	// (http://10.0.0.1:2379, https://…); at least one.
	Endpoints []string
	// Prefix is prepended to every key (default DefaultPrefix); several
	// ledgers can share a cluster under different prefixes. It should end
	// with "/".
	Prefix string
	// DialTimeout bounds Open's first request (default DefaultDialTimeout).
	DialTimeout time.Duration
	// Username and Password authenticate to etcd when its auth is enabled.
	Username string
	Password string
	// TLS, if set, is used for client connections (https:// endpoints,
	// client certificates).
	TLS *tls.Config
	// RequestTimeout bounds each etcd request (default
	// DefaultRequestTimeout). A write whose outcome is unknown after it is
	// resolved by reading its command key back (see the package doc), for
	// at most ResolveTimeout.
	RequestTimeout time.Duration
	// ResolveTimeout bounds the resolution of one write whose outcome is
	// unknown (default six request timeouts: enough to ride out a leader
	// election).
	ResolveTimeout time.Duration
	// AttemptTimeout bounds one attempt of a request at one member (default
	// DefaultAttemptTimeout, at most RequestTimeout): an unresponsive member
	// is left for another within it (client.go). It also bounds a stream's
	// unanswered message, and half of it a status probe of a member.
	AttemptTimeout time.Duration
	// ProbeInterval is how often each member is probed (default
	// DefaultProbeInterval); one that does not answer within half the
	// AttemptTimeout, or knows no leader, gets no requests until it answers
	// again.
	ProbeInterval time.Duration
	// MaxTxnOps must not exceed the cluster's --max-txn-ops (default
	// DefaultMaxTxnOps, etcd's default). A command needing more operations
	// than that fails.
	MaxTxnOps int
	// MaxTxnBytes bounds the values one group commit sends (default
	// DefaultMaxTxnBytes); keep it below the cluster's --max-request-bytes.
	MaxTxnBytes int
	// MaxBatch bounds the commands of one group commit (default
	// DefaultMaxBatch); 1 sends every command alone.
	MaxBatch int
	// Logger receives the etcd client's logs (default: none).
	Logger *zap.Logger
	// Client, if set, is used instead of dialling Endpoints; the Store does
	// not close it.
	Client *clientv3.Client
	// Policy is the supervision policy whose levels a new ledger's
	// statistics' tallies count (rollup.go); nil means
	// workflow.DefaultPolicy. A prefix that already keeps tallies keeps
	// the policy it has (CountRollups counts them again under another).
	Policy *workflow.Policy
}

// Store is a workflow.Store on etcd. It is safe for concurrent use; any
// number of Stores (one per rectify replica) may share a prefix.
type Store struct {
	cli       *clientv3.Client
	ownClient bool
	pfx       string
	cfg       Config

	// bg outlives callers: the committer's requests and lease grants.
	bg     context.Context
	cancel context.CancelFunc

	gc *committer

	// letterMu queues this Store's letter writes (letters.go).
	letterMu sync.Mutex

	// sealMu lets one caller of this Store seal at a time (seal.go).
	sealMu sync.Mutex

	// The last readiness probe (ready.go).
	readyMu  sync.Mutex
	readyAt  time.Time
	readyErr error

	rollPol atomic.Pointer[workflow.Policy] // what writes count levels under (rollup.go)
	folder  *folder                         // rollup_fold.go

	filtersIndexed atomic.Bool // meta/filters seen (filter.go)

	leaseMu  sync.Mutex
	lease    clientv3.LeaseID
	leasedAt time.Time

	stats Stats

	// members probes the members and keeps the balancer to those that
	// answer (nil with one endpoint or a given client).
	members *monitor

	// testAfterTxn, if set (tests only), sees each Txn's result before the
	// store does and may replace the error, to simulate a lost answer.
	testAfterTxn func(resp *clientv3.TxnResponse, err error) error
}

// Stats counts what the store's transactions met, for tests and metrics.
type Stats struct {
	Txns      atomic.Uint64 // write transactions sent (resends included)
	Commands  atomic.Uint64 // problem commands committed
	Conflicts atomic.Uint64 // transactions refused by a compare and retried
	Reapplied atomic.Uint64 // applies re-run on a record that moved
	Unknown   atomic.Uint64 // transactions whose outcome was unknown
	Resolved  atomic.Uint64 // of those, found committed by their command key
	Resent    atomic.Uint64 // of those, found absent and sent again
	SealTxns  atomic.Uint64 // seal transactions sent
	Sealed    atomic.Uint64 // commands whose entries were sealed on the chain
}

// Stats returns the store's counters.
func (s *Store) Stats() *Stats { return &s.stats }

// Open connects to etcd and returns the store under cfg.Prefix. It checks
// the cluster answers (within DialTimeout), that the prefix holds this
// layout (or nothing yet) and that no migration into it was left
// unfinished. It writes nothing, but for the version of a layout it
// upgrades (schemaVersion).
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultPrefix
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = DefaultDialTimeout
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = DefaultRequestTimeout
	}
	if cfg.ResolveTimeout <= 0 {
		cfg.ResolveTimeout = 6 * cfg.RequestTimeout
	}
	if cfg.AttemptTimeout <= 0 {
		cfg.AttemptTimeout = DefaultAttemptTimeout
	}
	cfg.AttemptTimeout = min(cfg.AttemptTimeout, cfg.RequestTimeout)
	if cfg.ProbeInterval <= 0 {
		cfg.ProbeInterval = DefaultProbeInterval
	}
	if cfg.MaxTxnOps <= 0 {
		cfg.MaxTxnOps = DefaultMaxTxnOps
	}
	if cfg.MaxTxnOps < 16 {
		return nil, fmt.Errorf("etcd: MaxTxnOps %d is too small (at least 16)", cfg.MaxTxnOps)
	}
	if cfg.MaxTxnBytes <= 0 {
		cfg.MaxTxnBytes = DefaultMaxTxnBytes
	}
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = DefaultMaxBatch
	}
	s := &Store{pfx: cfg.Prefix, cfg: cfg, cli: cfg.Client}
	if s.cli == nil {
		if len(cfg.Endpoints) == 0 {
			return nil, errors.New("etcd: no endpoints")
		}
		lg := cfg.Logger
		if lg == nil {
			lg = zap.NewNop()
		}
		cli, err := clientv3.New(clientv3.Config{
			Endpoints:   cfg.Endpoints,
			DialTimeout: cfg.DialTimeout,
			Username:    cfg.Username,
			Password:    cfg.Password,
			TLS:         cfg.TLS,
			Logger:      lg,
			// gRPC's keepalive notices a dead connection (gRPC pings no
			// more often than every 10 s); an unresponsive member is left
			// much sooner (client.go).
			DialKeepAliveTime:    10 * time.Second,
			DialKeepAliveTimeout: 3 * time.Second,
			DialOptions: []grpc.DialOption{
				grpc.WithChainUnaryInterceptor(attemptTimeout(cfg.AttemptTimeout)),
				grpc.WithChainStreamInterceptor(stallTimeout(cfg.AttemptTimeout)),
			},
		})
		if err != nil {
			return nil, fmt.Errorf("etcd: connect to %s: %w", strings.Join(cfg.Endpoints, ","), err)
		}
		s.cli, s.ownClient = cli, true
	}
	s.bg, s.cancel = context.WithCancel(context.WithoutCancel(ctx))
	octx, cancel := context.WithTimeout(ctx, cfg.DialTimeout)
	defer cancel()
	resp, err := s.cli.Txn(octx).Then(
		clientv3.OpGet(s.k(keySchema)), clientv3.OpGet(s.k(keyMigrating)),
		clientv3.OpGet(s.k(keyHead)), clientv3.OpGet(s.k(keyCounter)),
	).Commit()
	if err != nil {
		s.closeClient()
		return nil, fmt.Errorf("etcd: %s does not answer: %w", strings.Join(cfg.Endpoints, ","), err)
	}
	if kv := first(resp.Responses[0]); kv != nil && string(kv.Value) != schemaVersion && string(kv.Value) != upgradableFrom1 && string(kv.Value) != upgradableFrom2 {
		s.closeClient()
		return nil, fmt.Errorf("etcd: %s holds key layout %q, this rectify reads %q", s.pfx, kv.Value, schemaVersion)
	}
	if kv := first(resp.Responses[1]); kv != nil {
		s.closeClient()
		return nil, fmt.Errorf("etcd: a migration into %s did not finish (started %s): delete the prefix (etcdctl del --prefix %s) and migrate again", s.pfx, kv.Value, s.pfx)
	}
	if _, err := decodeHead(first(resp.Responses[2])); err != nil {
		s.closeClient()
		return nil, err
	}
	counter, err := decodeCounter(first(resp.Responses[3]))
	if err != nil {
		s.closeClient()
		return nil, err
	}
	if err := s.upgradeLayout(ctx, first(resp.Responses[0])); err != nil {
		s.closeClient()
		return nil, err
	}
	if err := s.loadRollupPolicy(octx); err != nil {
		s.closeClient()
		return nil, err
	}
	s.gc = newCommitter(s, counter)
	go s.gc.loop()
	s.folder = s.startFolder()
	if s.ownClient {
		s.members = startMonitor(s.bg, s.cli, cfg.Endpoints, cfg.ProbeInterval, cfg.AttemptTimeout/2)
	}
	return s, nil
}

// Client returns the etcd client, for leader election and tools.
func (s *Store) Client() *clientv3.Client { return s.cli }

// Prefix returns the key prefix of the store.
func (s *Store) Prefix() string { return s.pfx }

// Close lets the queued commands finish, seals what this store left pending
// (within the request timeout; otherwise another replica or the next reader
// does), then closes the client (unless it was given in Config.Client).
// Writes after Close fail.
func (s *Store) Close() error {
	s.gc.stop()
	if s.stats.Commands.Load() > 0 {
		ctx, cancel := context.WithTimeout(s.bg, s.cfg.RequestTimeout)
		_ = s.sealPending(ctx)
		cancel()
	}
	s.folder.stop()
	s.cancel()
	return s.closeClient()
}

func (s *Store) closeClient() error {
	if s.ownClient {
		if err := s.cli.Close(); err != nil && !errors.Is(err, context.Canceled) {
			return fmt.Errorf("etcd: close: %w", err)
		}
	}
	return nil
}

// Keys (relative to the prefix).
const (
	keySchema    = "meta/schema"
	keyCounter   = "meta/counter"
	keyHead      = "meta/head"
	keyMigrating = "meta/migrating"
)

// k returns the absolute key of rel.
func (s *Store) k(rel string) string { return s.pfx + rel }

// pad returns n as 20 decimal digits, so that numbers sort as keys.
func pad(n uint64) string {
	var b [20]byte
	for i := 19; i >= 0; i-- {
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[:])
}

// unpad parses the 20 digits pad wrote.
func unpad(s string) (uint64, bool) {
	if len(s) != 20 {
		return 0, false
	}
	n, err := strconv.ParseUint(s, 10, 64)
	return n, err == nil
}

// esc escapes a string for one key segment: no "/" remains.
func esc(s string) string { return url.PathEscape(s) }

func problemKey(n uint64) string        { return "p/" + pad(n) }
func historyKey(seq uint64) string      { return "h/" + pad(seq) }
func outboxKey(seq uint64) string       { return "ob/" + pad(seq) }
func problemHistPrefix(n uint64) string { return "ph/" + pad(n) + "/" }
func dedupeKey(key string) string       { return "dedupe/" + esc(key) }

// lastNumber returns the number a key ends with (its last 20 characters).
func lastNumber(key []byte) (uint64, bool) {
	if len(key) < 20 {
		return 0, false
	}
	return unpad(string(key[len(key)-20:]))
}

// first returns the first key-value of a range response in a Txn, or nil.
func first(r *pbResponseOp) *kvPair {
	rr := r.GetResponseRange()
	if rr == nil || len(rr.Kvs) == 0 {
		return nil
	}
	return rr.Kvs[0]
}

// decodeHead reads the chain head and its revision (zero when absent); a
// head a batch holds is the head before the batch, held (see headState).
func decodeHead(kv *kvPair) (headState, error) {
	var h headState
	if kv == nil {
		return h, nil
	}
	var hh heldHead
	if err := json.Unmarshal(kv.Value, &hh); err != nil {
		return h, fmt.Errorf("etcd: decode chain head: %w", err)
	}
	h.head, h.rev = hh.ChainHead, kv.ModRevision
	if hh.Batch != nil {
		h.rev, h.held = -1, true
	}
	return h, nil
}

// decodeCounter reads the problem counter and its revision. A counter a
// batch holds (batch.go) has held set and rev -1, which no compare matches:
// a create that meets it waits for the hold to go.
func decodeCounter(kv *kvPair) (counterState, error) {
	var c counterState
	if kv == nil {
		return c, nil
	}
	v, batch, held := strings.Cut(string(kv.Value), heldMark)
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil || (held && batch == "") {
		return c, fmt.Errorf("etcd: bad problem counter %q", kv.Value)
	}
	c.n, c.rev, c.held = n, kv.ModRevision, held
	if held {
		c.rev = -1
	}
	return c, nil
}

// reqCtx bounds one request by the request timeout and asks that only a
// member with a leader serve it.
func (s *Store) reqCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(clientv3.WithRequireLeader(ctx), s.cfg.RequestTimeout)
}

// wrap wraps an etcd error, keeping context errors recognisable.
func wrap(what string, err error) error {
	if err == nil {
		return nil
	}
	return unavailable(fmt.Errorf("etcd: %s: %w", what, err))
}

// errUnavailable is what callers (and through the API, clients: 503 with
// Retry-After) are told of an error for which isUnavailable holds.
var errUnavailable = workflow.Refuse(workflow.ReasonStoreUnavailable,
	"the ledger store is unavailable for now (etcd did not answer in time or has no quorum); try again shortly")

// unavailable marks err as the domain's CodeUnavailable when etcd did not
// answer or serve, keeping err in the chain (errors.Is still finds it); any
// other error is returned as is.
func unavailable(err error) error {
	var we *workflow.Error
	if !isUnavailable(err) || errors.As(err, &we) {
		return err
	}
	return fmt.Errorf("%w: %w", errUnavailable, err)
}

// errorCode returns the gRPC code of an etcd client error.
func errorCode(err error) codes.Code {
	var ee rpctypes.EtcdError
	if errors.As(err, &ee) {
		return ee.Code()
	}
	if st, ok := status.FromError(err); ok {
		return st.Code()
	}
	return codes.Unknown
}

// definite reports whether a failed Txn certainly did not apply and would
// fail the same way again: the request was refused as such (too many
// operations, too large, bad lease, no permission, no space).
func definite(err error) bool {
	if errors.Is(err, rpctypes.ErrNoSpace) || errors.Is(err, rpctypes.ErrGRPCNoSpace) {
		return true
	}
	switch errorCode(err) {
	case codes.InvalidArgument, codes.NotFound, codes.PermissionDenied,
		codes.Unauthenticated, codes.FailedPrecondition, codes.OutOfRange, codes.Unimplemented:
		return true
	}
	return false
}

// isUnavailable reports whether err is etcd not answering in time or not
// serving for now (no leader, a lost connection, a timeout, an outcome left
// unknown, the store closing) rather than a refusal or a fault: worth
// retrying, and for the caller a service unavailable for a moment. A
// caller's own cancellation is not.
func isUnavailable(err error) bool {
	switch {
	case err == nil, errors.Is(err, context.Canceled), errors.Is(err, ErrFenced):
		return false
	case errors.Is(err, ErrOutcomeUnknown), errors.Is(err, ErrContention), errors.Is(err, errClosed),
		errors.Is(err, context.DeadlineExceeded):
		return true
	}
	switch errorCode(err) {
	case codes.Unavailable, codes.DeadlineExceeded:
		return true
	}
	return false
}

func isLeaseNotFound(err error) bool {
	return errors.Is(err, rpctypes.ErrLeaseNotFound) || errors.Is(err, rpctypes.ErrGRPCLeaseNotFound) ||
		strings.Contains(err.Error(), "requested lease not found")
}

// ErrOutcomeUnknown is returned (wrapped) when a write's outcome stayed
// unknown: etcd could not be reached to read its command key back within
// Config.ResolveTimeout. The write may or may not have been committed; it was
// not acknowledged.
var ErrOutcomeUnknown = errors.New("etcd: the outcome of the write is unknown (the cluster did not answer)")

// ErrFenced is returned (wrapped) when a write fenced with WithFence was
// refused because its leader key is gone or was re-created: the caller is
// not the leader any more.
var ErrFenced = errors.New("etcd: fenced off: the caller is no longer the leader")

// ErrContention is returned when a command lost its compares to other
// writers more times than the store retries.
var ErrContention = errors.New("etcd: too much contention: the command kept losing to concurrent writers")

// cmdLeaseTTL is how long a command key lives (seconds): long enough to
// resolve any unknown outcome. A lease is used for at most half of it.
const cmdLeaseTTL = 600

// cmdLease returns the lease command keys are written with, granting a new
// one when the current one is past half its life or fresh is true (the
// cluster said it is gone).
func (s *Store) cmdLease(ctx context.Context, fresh bool) (clientv3.LeaseID, error) {
	s.leaseMu.Lock()
	defer s.leaseMu.Unlock()
	if s.lease != 0 && !fresh && time.Since(s.leasedAt) < cmdLeaseTTL/2*time.Second {
		return s.lease, nil
	}
	ctx, cancel := s.reqCtx(ctx)
	defer cancel()
	resp, err := s.cli.Grant(ctx, cmdLeaseTTL)
	if err != nil {
		return 0, wrap("grant the command lease", err)
	}
	s.lease, s.leasedAt = resp.ID, time.Now()
	return s.lease, nil
}

// newCmdKey returns a fresh command key.
func (s *Store) newCmdKey() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return s.k("cmd/" + hex.EncodeToString(b[:]))
}

// guarded is one write transaction with its command key: If cmps (and the
// command key absent) Then ops (and the command key) Else elses (and a Get
// of the command key, last).
type guarded struct {
	cmps   []clientv3.Cmp
	ops    []clientv3.Op
	elses  []clientv3.Op
	cmdKey string
	result []byte // the command key's value
}

// outcome is what commit learned.
type outcome struct {
	committed bool
	rev       int64           // the revision of the commit, when committed
	elses     []*pbResponseOp // the Else responses (without the command key's), when refused
}

// commit sends g and resolves an unknown outcome: it returns committed with
// the commit's revision, or refused with the Else responses, or an error
// (a definite refusal of the request itself, or ErrOutcomeUnknown). ctx
// bounds the whole; each request has the request timeout.
func (s *Store) commit(ctx context.Context, g *guarded) (outcome, error) {
	lease, err := s.cmdLease(ctx, false)
	if err != nil {
		return outcome{}, err
	}
	var deadline time.Time
	for attempt := 0; ; attempt++ {
		cmps := append(g.cmps[:len(g.cmps):len(g.cmps)], clientv3.Compare(clientv3.CreateRevision(g.cmdKey), "=", 0))
		ops := append(g.ops[:len(g.ops):len(g.ops)], clientv3.OpPut(g.cmdKey, string(g.result), clientv3.WithLease(lease)))
		elses := append(g.elses[:len(g.elses):len(g.elses)], clientv3.OpGet(g.cmdKey))
		rctx, cancel := s.reqCtx(ctx)
		resp, err := s.cli.Txn(rctx).If(cmps...).Then(ops...).Else(elses...).Commit()
		cancel()
		s.stats.Txns.Add(1)
		if s.testAfterTxn != nil {
			err = s.testAfterTxn(resp, err)
		}
		switch {
		case err == nil && resp.Succeeded:
			return outcome{committed: true, rev: resp.Header.Revision}, nil
		case err == nil:
			n := len(resp.Responses)
			if kv := first(resp.Responses[n-1]); kv != nil {
				// An earlier send of this very transaction committed.
				s.stats.Resolved.Add(1)
				return outcome{committed: true, rev: kv.ModRevision}, nil
			}
			return outcome{elses: resp.Responses[:n-1]}, nil
		case isLeaseNotFound(err) && attempt < 3:
			// The command lease expired (a long pause): the transaction
			// was refused; take a new lease and send it again.
			if lease, err = s.cmdLease(ctx, true); err != nil {
				return outcome{}, err
			}
			continue
		case definite(err):
			return outcome{}, wrap("write", err)
		}
		// Unknown: the transaction may have been applied, or may still be.
		s.stats.Unknown.Add(1)
		if deadline.IsZero() {
			deadline = time.Now().Add(s.cfg.ResolveTimeout)
		}
		committed, rev, rerr := s.readBack(ctx, g.cmdKey, deadline)
		if rerr != nil {
			return outcome{}, fmt.Errorf("%w: %v (then reading back %s: %v)", ErrOutcomeUnknown, err, g.cmdKey, rerr)
		}
		if committed {
			s.stats.Resolved.Add(1)
			return outcome{committed: true, rev: rev}, nil
		}
		// Not applied (yet): send the same transaction again. Its compares
		// let only one of the two apply, and a refusal names the winner.
		s.stats.Resent.Add(1)
		if time.Now().After(deadline) {
			return outcome{}, fmt.Errorf("%w: %v", ErrOutcomeUnknown, err)
		}
		if err := sleepCtx(ctx, backoff(attempt)); err != nil {
			return outcome{}, fmt.Errorf("%w: %v", ErrOutcomeUnknown, err)
		}
	}
}

// readBack reads command key k (a linearizable Get), retrying until it gets
// an answer or deadline passes.
func (s *Store) readBack(ctx context.Context, k string, deadline time.Time) (committed bool, rev int64, err error) {
	for attempt := 0; ; attempt++ {
		rctx, cancel := s.reqCtx(ctx)
		resp, err := s.cli.Get(rctx, k)
		cancel()
		if err == nil {
			if len(resp.Kvs) > 0 {
				return true, resp.Kvs[0].ModRevision, nil
			}
			return false, 0, nil
		}
		if ctx.Err() != nil || time.Now().After(deadline) || definite(err) {
			return false, 0, err
		}
		if err := sleepCtx(ctx, backoff(attempt)); err != nil {
			return false, 0, err
		}
	}
}

// backoff is how long to wait before attempt+1: 10ms doubling to 500ms.
func backoff(attempt int) time.Duration {
	d := 10 * time.Millisecond << min(attempt, 6)
	return min(d, 500*time.Millisecond)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// write runs one guarded transaction of a non-problem write (users, units,
// cursors, …) for a caller, with the fence ctx carries: it returns whether
// it committed and the Else responses otherwise. A fence refusal is
// ErrFenced.
func (s *Store) write(ctx context.Context, cmps []clientv3.Cmp, ops, elses []clientv3.Op) (bool, []*pbResponseOp, error) {
	if err := ctx.Err(); err != nil {
		return false, nil, err
	}
	f := fenceFrom(ctx)
	if f != nil {
		cmps = append(cmps, f.cmp())
		elses = append(elses, clientv3.OpGet(f.Key))
	}
	g := &guarded{cmps: cmps, ops: ops, elses: elses, cmdKey: s.newCmdKey(), result: []byte("{}")}
	out, err := s.commit(ctx, g)
	if err != nil {
		return false, nil, unavailable(err)
	}
	if out.committed {
		return true, nil, nil
	}
	if f != nil {
		if !f.holds(first(out.elses[len(out.elses)-1])) {
			return false, nil, fmt.Errorf("%w (%s)", ErrFenced, f.Key)
		}
		out.elses = out.elses[:len(out.elses)-1]
	}
	return false, out.elses, nil
}

// get reads one key (linearizable); nil when absent.
func (s *Store) get(ctx context.Context, rel string) (*kvPair, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	rctx, cancel := s.reqCtx(ctx)
	defer cancel()
	resp, err := s.cli.Get(rctx, s.k(rel))
	if err != nil {
		return nil, wrap("read "+rel, err)
	}
	if len(resp.Kvs) == 0 {
		return nil, nil
	}
	return resp.Kvs[0], nil
}

// getMany reads the absolute keys in read-only transactions of at most
// MaxTxnOps gets; the result has nil for a missing key.
func (s *Store) getMany(ctx context.Context, keys []string) ([]*kvPair, error) {
	out := make([]*kvPair, 0, len(keys))
	for len(keys) > 0 {
		chunk := keys[:min(len(keys), s.cfg.MaxTxnOps)]
		keys = keys[len(chunk):]
		ops := make([]clientv3.Op, len(chunk))
		for i, k := range chunk {
			ops[i] = clientv3.OpGet(k)
		}
		rctx, cancel := s.reqCtx(ctx)
		resp, err := s.cli.Txn(rctx).Then(ops...).Commit()
		cancel()
		if err != nil {
			return nil, wrap("read", err)
		}
		for _, r := range resp.Responses {
			out = append(out, first(r))
		}
	}
	return out, nil
}

// rangeKeys calls fn with every key-value in [from, end), in key order, in
// pages of page, all read at one revision (the first page's, or rev when
// not zero). keysOnly leaves values out. fn returning stop ends the walk.
func (s *Store) rangeKeys(ctx context.Context, from, end string, rev int64, page int, keysOnly bool, fn func(kv *kvPair) (stop bool, err error)) (int64, error) {
	for {
		if err := ctx.Err(); err != nil {
			return rev, err
		}
		opts := []clientv3.OpOption{clientv3.WithRange(end), clientv3.WithLimit(int64(page))}
		if rev != 0 {
			opts = append(opts, clientv3.WithRev(rev))
		}
		if keysOnly {
			opts = append(opts, clientv3.WithKeysOnly())
		}
		rctx, cancel := s.reqCtx(ctx)
		resp, err := s.cli.Get(rctx, from, opts...)
		cancel()
		if err != nil {
			return rev, wrap("read range", err)
		}
		if rev == 0 {
			rev = resp.Header.Revision
		}
		for _, kv := range resp.Kvs {
			stop, err := fn(kv)
			if err != nil || stop {
				return rev, err
			}
		}
		if !resp.More || len(resp.Kvs) == 0 {
			return rev, nil
		}
		from = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
	}
}

// prefixEnd returns the end of the range of keys starting with rel.
func (s *Store) prefixEnd(rel string) string { return clientv3.GetPrefixRangeEnd(s.k(rel)) }

// unesc undoes esc.
func unesc(s string) (string, error) {
	v, err := url.PathUnescape(s)
	if err != nil {
		return "", fmt.Errorf("etcd: bad key segment %q", s)
	}
	return v, nil
}
