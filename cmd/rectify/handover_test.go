package main

import (
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// leading reports whether the server at base says (/metrics) it leads role.
func leading(t *testing.T, base, role string) bool {
	t.Helper()
	res, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	return strings.Contains(string(data), `rectify_leading{role="`+role+`"} 1`)
}

// TestServeHandover runs two replicas on etcd; the first leads the
// scanner, the webhook dispatcher and the sealer (rectify_leading on
// /metrics). Stopped cleanly (its context ends, as on SIGTERM), it resigns
// them: the other replica leads all three, without waiting for the first
// one's sessions to expire. The time it took is reported.
func TestServeHandover(t *testing.T) {
	ep := startEtcd(t)
	dir := t.TempDir()
	args := []string{"--store", "etcd", "--etcd-endpoints", ep, "--etcd-prefix", "/handover/", "--evidence-dir", filepath.Join(dir, "evidence"),
		"--scan-interval", "1h", "--webhook", "http://127.0.0.1:9/hook", "--webhook-secret", "s"}
	roles := []string{"scanner", "webhook-dispatcher", "sealer"}
	waitRoles := func(base string, what string) {
		deadline := time.Now().Add(20 * time.Second) // a guard, not a measurement
		for {
			all := true
			for _, r := range roles {
				all = all && leading(t, base, r)
			}
			if all {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	a := startServer(t, filepath.Join(dir, "a.db"), args...)
	waitRoles(a.url, "the first replica to lead")
	b := startServer(t, filepath.Join(dir, "b.db"), args...)
	for _, r := range roles {
		if leading(t, b.url, r) {
			t.Fatalf("the second replica leads %s while the first one runs", r)
		}
	}
	start := time.Now()
	if err := a.stop(); err != nil {
		t.Fatal(err)
	}
	stopped := time.Since(start)
	waitRoles(b.url, "the second replica to take over")
	t.Logf("the second replica led scanner, webhook-dispatcher and sealer %v after the first one began to shut down (which took %v)",
		time.Since(start).Round(time.Millisecond), stopped.Round(time.Millisecond))
	if err := b.stop(); err != nil {
		t.Fatal(err)
	}
}
