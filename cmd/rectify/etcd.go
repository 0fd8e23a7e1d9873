package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/jdz-eco/rectify/store/bolt"
	"github.com/jdz-eco/rectify/store/etcd"
	"github.com/jdz-eco/rectify/workflow"
)

// etcdFlags are the flags that reach an etcd cluster (serve, migrate,
// audit verify), each also a RECTIFY_ETCD_* variable.
type etcdFlags struct {
	endpoints      string
	prefix         string
	username       string
	password       string
	ca, cert, key  string
	dialTimeout    time.Duration
	requestTimeout time.Duration
	attemptTimeout time.Duration
}

// addEtcdFlags registers the etcd flags on fs.
func addEtcdFlags(fs *flag.FlagSet) *etcdFlags {
	f := &etcdFlags{}
	fs.StringVar(&f.endpoints, "etcd-endpoints", "", "etcd client URLs, comma-separated (http://10.0.0.1:2379,…; https:// with TLS)")
	fs.StringVar(&f.prefix, "etcd-prefix", etcd.DefaultPrefix, "key prefix of this ledger in etcd")
	fs.StringVar(&f.username, "etcd-username", "", "etcd user (when etcd auth is enabled)")
	fs.StringVar(&f.password, "etcd-password", "", "etcd password; prefer RECTIFY_ETCD_PASSWORD")
	fs.StringVar(&f.ca, "etcd-ca", "", "PEM file of the CA that signed the etcd members' certificates")
	fs.StringVar(&f.cert, "etcd-cert", "", "PEM client certificate for etcd (with --etcd-key)")
	fs.StringVar(&f.key, "etcd-key", "", "PEM private key of --etcd-cert")
	fs.DurationVar(&f.dialTimeout, "etcd-dial-timeout", etcd.DefaultDialTimeout, "how long to wait for etcd at start")
	fs.DurationVar(&f.requestTimeout, "etcd-request-timeout", etcd.DefaultRequestTimeout, "how long one etcd request may take")
	fs.DurationVar(&f.attemptTimeout, "etcd-attempt-timeout", etcd.DefaultAttemptTimeout, "how long one etcd member may take to answer before the request goes to another")
	return f
}

// list returns the endpoints.
func (f *etcdFlags) list() []string { return splitList(f.endpoints) }

// config returns the store configuration the flags describe.
func (f *etcdFlags) config() (etcd.Config, error) {
	cfg := etcd.Config{
		Endpoints: f.list(), Prefix: f.prefix, Username: f.username, Password: f.password,
		DialTimeout: f.dialTimeout, RequestTimeout: f.requestTimeout, AttemptTimeout: f.attemptTimeout,
	}
	if len(cfg.Endpoints) == 0 {
		return cfg, errors.New("--etcd-endpoints (or RECTIFY_ETCD_ENDPOINTS) is required with the etcd store")
	}
	if !strings.HasSuffix(cfg.Prefix, "/") || !strings.HasPrefix(cfg.Prefix, "/") {
		return cfg, fmt.Errorf("--etcd-prefix %q must start and end with /", cfg.Prefix)
	}
	if (f.username == "") != (f.password == "") {
		return cfg, errors.New("--etcd-username and --etcd-password go together")
	}
	if (f.cert == "") != (f.key == "") {
		return cfg, errors.New("--etcd-cert and --etcd-key go together")
	}
	https := false
	for _, e := range cfg.Endpoints {
		if strings.HasPrefix(e, "https://") {
			https = true
		}
	}
	if f.ca == "" && f.cert == "" && !https {
		return cfg, nil
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if f.ca != "" {
		pem, err := os.ReadFile(f.ca)
		if err != nil {
			return cfg, fmt.Errorf("--etcd-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return cfg, fmt.Errorf("--etcd-ca %s holds no PEM certificate", f.ca)
		}
		tc.RootCAs = pool
	}
	if f.cert != "" {
		pair, err := tls.LoadX509KeyPair(f.cert, f.key)
		if err != nil {
			return cfg, fmt.Errorf("--etcd-cert/--etcd-key: %w", err)
		}
		tc.Certificates = []tls.Certificate{pair}
	}
	cfg.TLS = tc
	return cfg, nil
}

// openEtcd opens the etcd store the flags describe.
func openEtcd(ctx context.Context, f *etcdFlags) (*etcd.Store, error) {
	cfg, err := f.config()
	if err != nil {
		return nil, err
	}
	st, err := etcd.Open(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return st, nil
}

// describe names the ledger for messages: endpoints and prefix.
func (f *etcdFlags) describe() string {
	return "etcd " + strings.Join(f.list(), ",") + " prefix " + f.prefix
}

// readEtcdBackup checks a file as a backup of an etcd ledger (JSON lines,
// etcd.Backup): ok is false when it is not one (a bbolt file, say); err
// when it is one but damaged. It returns the head the backup recorded.
func readEtcdBackup(path string) (head workflow.ChainHead, ok bool, err error) {
	f, err := os.Open(path)
	if err != nil {
		return head, false, err
	}
	defer f.Close()
	if !isEtcdBackup(f) {
		return head, false, nil
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return head, true, err
	}
	h, err := etcd.ReadBackup(f, func(string, []byte) error { return nil })
	return h.Head, true, err
}

// isEtcdBackup reports whether r starts as a backup of an etcd ledger.
func isEtcdBackup(r io.Reader) bool {
	var start [len(`{"format":"` + etcd.BackupFormat)]byte
	_, err := io.ReadFull(r, start[:])
	return err == nil && string(start[:]) == `{"format":"`+etcd.BackupFormat
}

// addStoreFlags registers --store and the etcd flags on a one-shot command
// that also takes --db.
func addStoreFlags(fs *flag.FlagSet) (kind *string, ef *etcdFlags) {
	kind = fs.String("store", storeBolt, "bolt (the --db file, server stopped) or etcd (a live ledger: --etcd-endpoints …)")
	return kind, addEtcdFlags(fs)
}

// openCLIStore opens the store a one-shot command names: the bbolt file db
// (the server stopped: bbolt has one writer process) or an etcd ledger
// (replicas may be serving it).
func openCLIStore(ctx context.Context, kind, db string, ef *etcdFlags, opts bolt.Options) (workflow.Store, error) {
	switch kind {
	case storeBolt:
		return openStore(db, opts)
	case storeEtcd:
		return openEtcd(ctx, ef)
	}
	return nil, fmt.Errorf("--store %q: bolt or etcd", kind)
}
