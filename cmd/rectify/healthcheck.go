package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// exitError is an error with the exit status the process ends with.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// runHealthcheck asks a running server whether it is up: GET /healthz (or
// /readyz with --ready) on --addr, the address serve listens on (the same
// flag and RECTIFY_ADDR). A 200 within --timeout exits 0; anything else
// exits 1, as a container's HEALTHCHECK expects (the distroless image has
// no curl).
func runHealthcheck(ctx context.Context, args []string, env Env) error {
	fs := newFlagSet("healthcheck", env)
	addr := fs.String("addr", "127.0.0.1:8080", "the server's listen address (as serve's --addr; 0.0.0.0 and :PORT mean this host) or its base URL")
	ready := fs.Bool("ready", false, "ask /readyz (the store answers) instead of /healthz (the process serves)")
	timeout := fs.Duration("timeout", 3*time.Second, "how long to wait for the answer")
	if err := parseFlags(fs, args, env); err != nil {
		return err
	}
	path := "/healthz"
	if *ready {
		path = "/readyz"
	}
	u, err := healthURL(*addr, path)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fmt.Errorf("--addr: %w", err)
	}
	client := &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	res, err := client.Do(req)
	if err != nil {
		return &exitError{code: 1, err: fmt.Errorf("healthcheck %s: %w", u, err)}
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(res.Body, 512))
	if res.StatusCode != http.StatusOK {
		return &exitError{code: 1, err: fmt.Errorf("healthcheck %s: %s %s", u, res.Status, strings.TrimSpace(string(body)))}
	}
	fmt.Fprintf(env.Stdout, "%s: %s\n", u, strings.TrimSpace(string(body)))
	return nil
}

// healthURL is the URL of path on the server listening on addr: a base URL
// as given, or a listen address whose unspecified host (empty, 0.0.0.0,
// ::) is 127.0.0.1 (a wildcard listener takes IPv4 there, and a container
// may have no IPv6 loopback).
func healthURL(addr, path string) (string, error) {
	if strings.Contains(addr, "://") {
		u, err := url.Parse(addr)
		if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			return "", fmt.Errorf("--addr %q: a listen address (host:port) or an http(s) base URL", addr)
		}
		return strings.TrimRight(u.String(), "/") + path, nil
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("--addr %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	if port == "" {
		return "", errors.New("--addr needs a port")
	}
	return "http://" + net.JoinHostPort(host, port) + path, nil
}
