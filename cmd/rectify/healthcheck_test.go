package main

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
)

// TestHealthcheck: rectify healthcheck exits 0 when the server at --addr
// answers /healthz (or /readyz) with 200, and 1 (an exitError) when it
// answers otherwise, does not answer in time or is not there.
func TestHealthcheck(t *testing.T) {
	srv := startServer(t, filepath.Join(t.TempDir(), "rectify.db"), "--scan-interval", "0")
	addr := strings.TrimPrefix(srv.url, "http://")
	_, port, _ := net.SplitHostPort(addr)
	for _, args := range [][]string{
		{"--addr", addr}, {"--addr", addr, "--ready"}, {"--addr", "0.0.0.0:" + port}, {"--addr", "[::]:" + port}, {"--addr", ":" + port},
		{"--addr", srv.url + "/"},
	} {
		var out bytes.Buffer
		if err := Main(context.Background(), append([]string{"healthcheck"}, args...), Env{Stdout: &out}); err != nil {
			t.Errorf("healthcheck %v: %v", args, err)
		}
		if !strings.Contains(out.String(), `"status"`) {
			t.Errorf("healthcheck %v printed %q", args, out.String())
		}
	}
	var out bytes.Buffer
	env := Env{Stdout: &out, Getenv: func(k string) string {
		if k == "RECTIFY_ADDR" {
			return "0.0.0.0:" + port // as the container sets it for serve
		}
		return ""
	}}
	if err := Main(context.Background(), []string{"healthcheck"}, env); err != nil {
		t.Errorf("healthcheck on RECTIFY_ADDR: %v", err)
	}

	unready := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, `{"status":"unavailable"}`, http.StatusServiceUnavailable)
	}))
	defer unready.Close()
	hung := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-hung }))
	defer slow.Close()
	defer close(hung)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	for _, args := range [][]string{
		{"--addr", unready.URL, "--ready"}, {"--addr", slow.URL, "--timeout", "50ms"}, {"--addr", closed},
	} {
		err := Main(context.Background(), append([]string{"healthcheck"}, args...), Env{})
		var e *exitError
		if !errors.As(err, &e) || e.code != 1 {
			t.Errorf("healthcheck %v: %v, want exit status 1", args, err)
		}
	}
	for _, addr := range []string{"no-port", "ftp://host/", "http://"} {
		if err := Main(context.Background(), []string{"healthcheck", "--addr", addr}, Env{}); err == nil {
			t.Errorf("healthcheck --addr %q: no error", addr)
		}
	}
}
