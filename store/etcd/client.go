package etcd

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// An unresponsive member (a stopped process, a frozen VM, a half-open
// connection) must not be an outage while a quorum answers. The etcd client
// balances requests round robin over the members, and left alone it notices
// a member that stopped answering only when gRPC's keepalive fails (at least
// 10 s of pings plus their timeout): until then every request sent there
// waits for its whole deadline and fails, and a lease kept alive on a
// stream there expires. So the store
//
//   - bounds every unary request sent to one member by
//     Config.AttemptTimeout; an attempt that runs out is tried again by the
//     client's own retry loop, on the next member, within the request's
//     deadline (every write the store sends is safe to send twice: see the
//     package doc);
//   - abandons a stream (lease keepalives, watches) whose member leaves a
//     request unanswered that long, as unavailable, so that the client opens
//     it again elsewhere and elected leaders keep their sessions;
//   - probes each member every Config.ProbeInterval with a status request
//     bounded by half the attempt timeout, takes members that do not
//     answer, or know no Raft leader, out of the client's balancer, and puts
//     them back once they answer again (monitor, below);
//   - asks every request to be served only by a member that has a leader
//     (clientv3.WithRequireLeader), so that a partitioned member refuses at
//     once instead of waiting.

// Defaults of Config.
const (
	DefaultAttemptTimeout = time.Second
	DefaultProbeInterval  = 250 * time.Millisecond
)

// attemptTimeout bounds each attempt of a unary request. It runs inside
// the etcd client's retry interceptor, which tries again when an attempt's
// own deadline passed but not the caller's.
func attemptTimeout(d time.Duration) grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		actx, cancel := context.WithTimeout(ctx, d)
		defer cancel()
		err := invoker(actx, method, req, reply, cc, opts...)
		if err != nil && ctx.Err() == nil && actx.Err() != nil {
			return status.Errorf(codes.DeadlineExceeded, "etcd: no answer within the attempt timeout (%v)", d)
		}
		return err
	}
}

// stallTimeout abandons a stream whose member leaves a message unanswered
// for d: its receive fails as unavailable, which the etcd client's lease
// keepalive and watch loops answer by opening the stream again.
func stallTimeout(d time.Duration) grpc.StreamClientInterceptor {
	return func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		sctx, cancel := context.WithCancel(ctx)
		cs, err := streamer(sctx, desc, cc, method, opts...)
		if err != nil {
			cancel()
			return nil, err
		}
		return &watchedStream{ClientStream: cs, cancel: cancel, limit: d}, nil
	}
}

// watchedStream is a client stream under stallTimeout.
type watchedStream struct {
	grpc.ClientStream
	cancel  context.CancelFunc
	limit   time.Duration
	mu      sync.Mutex
	timer   *time.Timer // running while a sent message waits for an answer
	stalled atomic.Bool
}

func (w *watchedStream) SendMsg(m any) error {
	err := w.ClientStream.SendMsg(m)
	if err == nil {
		w.mu.Lock()
		if w.timer == nil {
			w.timer = time.AfterFunc(w.limit, func() {
				w.stalled.Store(true)
				w.cancel()
			})
		}
		w.mu.Unlock()
	}
	return err
}

func (w *watchedStream) RecvMsg(m any) error {
	err := w.ClientStream.RecvMsg(m)
	w.mu.Lock()
	if w.timer != nil {
		w.timer.Stop()
		w.timer = nil
	}
	w.mu.Unlock()
	if err != nil && w.stalled.Load() {
		return status.Errorf(codes.Unavailable, "etcd: the member left the stream unanswered for %v", w.limit)
	}
	if err != nil {
		w.cancel()
	}
	return err
}

func (w *watchedStream) CloseSend() error { return w.ClientStream.CloseSend() }

// monitor probes the members and keeps the client's balancer to those
// that answer.
type monitor struct {
	cli      *clientv3.Client
	all      []string
	interval time.Duration
	timeout  time.Duration
	conns    map[string]*grpc.ClientConn

	mu   sync.Mutex
	down map[string]bool // members taken out of the balancer
	// changes counts the members taken out and put back (tests, metrics).
	changes atomic.Uint64
}

// startMonitor starts probing endpoints until ctx ends; nil with fewer than
// two endpoints (nothing to choose from).
func startMonitor(ctx context.Context, cli *clientv3.Client, endpoints []string, interval, timeout time.Duration) *monitor {
	if len(endpoints) < 2 {
		return nil
	}
	m := &monitor{cli: cli, all: slices.Clone(endpoints), interval: interval, timeout: timeout,
		conns: map[string]*grpc.ClientConn{}, down: map[string]bool{}}
	for _, ep := range m.all {
		conn, err := cli.Dial(ep)
		if err != nil {
			continue // never probed: never taken out
		}
		m.conns[ep] = conn
	}
	go m.run(ctx)
	return m
}

func (m *monitor) run(ctx context.Context) {
	defer func() {
		for _, c := range m.conns {
			_ = c.Close()
		}
	}()
	t := time.NewTicker(m.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		m.probe(ctx)
	}
}

// probe asks every member for its status at once and updates the balancer.
func (m *monitor) probe(ctx context.Context) {
	ok := make(map[string]bool, len(m.conns))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for ep, conn := range m.conns {
		wg.Go(func() {
			pctx, cancel := context.WithTimeout(ctx, m.timeout)
			defer cancel()
			resp, err := pb.NewMaintenanceClient(conn).Status(pctx, &pb.StatusRequest{})
			mu.Lock()
			ok[ep] = err == nil && resp.Leader != 0
			mu.Unlock()
		})
	}
	wg.Wait()
	if ctx.Err() != nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	changed := false
	for ep := range m.conns {
		if m.down[ep] == !ok[ep] {
			continue
		}
		changed = true
		m.changes.Add(1)
		if ok[ep] {
			delete(m.down, ep)
		} else {
			m.down[ep] = true
		}
	}
	if !changed {
		return
	}
	var up []string
	for _, ep := range m.all {
		if !m.down[ep] {
			up = append(up, ep)
		}
	}
	if len(up) == 0 {
		up = m.all // none answers: let the client try them all
	}
	m.cli.SetEndpoints(up...)
}

// Down returns the members taken out of the balancer now.
func (m *monitor) Down() []string {
	if m == nil {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for _, ep := range m.all {
		if m.down[ep] {
			out = append(out, ep)
		}
	}
	return out
}
