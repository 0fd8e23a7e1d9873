package etcd

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
)

// Embedded etcd for the tests: one single-member server for the package
// (TestMain), and three-member clusters for the tests that need them. The
// server is linked into the test binary only: this file is a _test.go file.

// member is one embedded etcd server.
type member struct {
	name      string
	dir       string
	clientURL string
	peerURL   string
	etcd      *embed.Etcd
	cfg       *embed.Config // as started, for restart
	stopped   atomic.Bool
	// front, in a cluster of several members, is the proxy the clients
	// reach the member through, so that crash can cut them off first.
	front *proxy
}

// stop stops the member gracefully (a leader hands its leadership over).
func (m *member) stop() {
	if m.stopped.CompareAndSwap(false, true) {
		m.etcd.Close()
	}
}

// crash stops the member at once, as a killed process: a leader hands
// nothing over, and requests in flight on it get no answer. The clients'
// connections are cut first: an embedded server hard-stopped while its
// gRPC servers still answer panics on the next status request (it reads
// its closed backend), which a killed process never does.
func (m *member) crash() {
	if m.stopped.CompareAndSwap(false, true) {
		if m.front != nil {
			m.front.cutOff()
		}
		m.etcd.Server.HardStop()
		m.etcd.Close()
	}
}

// restart starts a stopped member again on its data directory and waits
// until it serves.
func (m *member) restart() error {
	if !m.stopped.Load() {
		return nil
	}
	cfg := *m.cfg
	cfg.ClusterState = embed.ClusterStateFlagExisting
	e, err := embed.StartEtcd(&cfg)
	if err != nil {
		return fmt.Errorf("restart %s: %w", m.name, err)
	}
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		e.Close()
		return fmt.Errorf("restart %s: %w", m.name, err)
	case <-time.After(60 * time.Second):
		e.Close()
		return fmt.Errorf("%s did not become ready again", m.name)
	}
	m.etcd = e
	m.stopped.Store(false)
	if m.front != nil {
		m.front.mend()
	}
	return nil
}

// cluster is a set of embedded members.
type cluster struct {
	members []*member
}

func (c *cluster) endpoints() []string {
	var out []string
	for _, m := range c.members {
		if m.front != nil {
			out = append(out, m.front.url())
			continue
		}
		out = append(out, m.clientURL)
	}
	return out
}

func (c *cluster) stop() {
	var wg sync.WaitGroup
	for _, m := range c.members {
		wg.Go(m.stop)
	}
	wg.Wait()
	for _, m := range c.members {
		if m.front != nil {
			m.front.close()
		}
	}
}

// leader returns the member that leads the Raft group now.
func (c *cluster) leader() (*member, error) {
	for _, m := range c.members {
		if m.stopped.Load() {
			continue
		}
		lead := m.etcd.Server.Leader()
		for _, o := range c.members {
			if !o.stopped.Load() && o.etcd.Server.MemberID() == lead {
				return o, nil
			}
		}
	}
	return nil, errors.New("no leader")
}

// freePorts returns n loopback addresses with free ports (free when asked:
// another process could take one before etcd does, which only fails the test).
func freePorts(n int) ([]string, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			_ = l.Close()
		}
	}()
	var out []string
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		out = append(out, "http://"+l.Addr().String())
	}
	return out, nil
}

var clusterSeq atomic.Uint64

// startCluster starts n members with data directories under dir and waits
// until they serve.
func startCluster(dir string, n int) (*cluster, error) {
	urls, err := freePorts(2 * n)
	if err != nil {
		return nil, err
	}
	token := fmt.Sprintf("rectify-test-%d-%d", os.Getpid(), clusterSeq.Add(1))
	c := &cluster{}
	var initial []string
	for i := range n {
		m := &member{name: fmt.Sprintf("m%d", i), clientURL: urls[2*i], peerURL: urls[2*i+1]}
		m.dir = filepath.Join(dir, token, m.name)
		c.members = append(c.members, m)
		initial = append(initial, m.name+"="+m.peerURL)
	}
	for _, m := range c.members {
		cfg := embed.NewConfig()
		cfg.Name = m.name
		cfg.Dir = m.dir
		cu, _ := url.Parse(m.clientURL)
		pu, _ := url.Parse(m.peerURL)
		cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{*cu}, []url.URL{*cu}
		cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{*pu}, []url.URL{*pu}
		cfg.InitialCluster = strings.Join(initial, ",")
		cfg.InitialClusterToken = token
		cfg.ClusterState = embed.ClusterStateFlagNew
		// Fast elections: a stopped leader is replaced within a second.
		cfg.TickMs, cfg.ElectionMs = 50, 500
		cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.NewNop())
		cfg.LogLevel = "error"
		m.cfg = cfg
		e, err := embed.StartEtcd(cfg)
		if err != nil {
			c.stop()
			return nil, fmt.Errorf("start %s: %w", m.name, err)
		}
		m.etcd = e
		if n > 1 {
			if m.front, err = newProxy(strings.TrimPrefix(m.clientURL, "http://")); err != nil {
				c.stop()
				return nil, err
			}
		}
	}
	for _, m := range c.members {
		select {
		case <-m.etcd.Server.ReadyNotify():
		case err := <-m.etcd.Err():
			c.stop()
			return nil, fmt.Errorf("%s: %w", m.name, err)
		case <-time.After(60 * time.Second):
			c.stop()
			return nil, fmt.Errorf("%s did not become ready", m.name)
		}
	}
	return c, nil
}

// shared is the package's single-member server (TestMain).
var shared *cluster

// threeMembers is a three-member cluster the tests that need one share
// (started by the first of them, stopped by TestMain): starting one costs
// seconds on a small machine. A test that stops or crashes a member restarts
// it before it returns (restartAll).
var threeMembers struct {
	once sync.Once
	dir  string
	c    *cluster
	err  error
}

// three returns the shared three-member cluster, starting it if need be.
func three(t testing.TB) *cluster {
	t.Helper()
	if testing.Short() {
		t.Skip("needs a three-member cluster")
	}
	threeMembers.once.Do(func() {
		threeMembers.c, threeMembers.err = startCluster(threeMembers.dir, 3)
	})
	if threeMembers.err != nil {
		t.Fatal(threeMembers.err)
	}
	return threeMembers.c
}

// restartAll restarts every stopped member of c.
func (c *cluster) restartAll() error {
	for _, m := range c.members {
		if err := m.restart(); err != nil {
			return err
		}
	}
	return nil
}

// rapidChecks is how many random sequences each property test of the
// conformance suite runs on etcd, unless -rapid.checks or RECTIFY_LONG=1
// asks for rapid's default (100): every sequence opens a store on the
// embedded cluster and replays its histories, and bbolt runs the same
// properties at the full count.
const rapidChecks = "20"

func TestMain(m *testing.M) {
	flag.Parse()
	explicit := false
	flag.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "rapid.checks" })
	if !explicit && os.Getenv("RECTIFY_LONG") == "" {
		if err := flag.Set("rapid.checks", rapidChecks); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	dir, err := os.MkdirTemp("", "rectify-etcd-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	shared, err = startCluster(dir, 1)
	if err != nil {
		fmt.Fprintln(os.Stderr, "embedded etcd:", err)
		_ = os.RemoveAll(dir)
		os.Exit(1)
	}
	threeMembers.dir = dir
	code := m.Run()
	if threeMembers.c != nil {
		threeMembers.c.stop()
	}
	shared.stop()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

var prefixSeq atomic.Uint64

// newPrefix returns a prefix no other test uses.
func newPrefix(t testing.TB) string {
	return fmt.Sprintf("/test/%d/%s/", prefixSeq.Add(1), strings.ReplaceAll(t.Name(), "/", "_"))
}

// openStore opens a store on a fresh prefix of the shared server (or of c;
// at cfg.Endpoints if set) and closes it with t.
func openStore(t testing.TB, c *cluster, cfg Config) *Store {
	t.Helper()
	if c == nil {
		c = shared
	}
	if cfg.Prefix == "" {
		cfg.Prefix = newPrefix(t)
	}
	if len(cfg.Endpoints) == 0 {
		cfg.Endpoints = c.endpoints()
	}
	s, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func leaseID(id int64) clientv3.LeaseID { return clientv3.LeaseID(id) }
