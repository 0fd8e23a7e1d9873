package main

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/png"
	"net"
	"runtime"
	"strings"
	"testing"

	"github.com/jdz-eco/rectify/api/files"
	"github.com/jdz-eco/rectify/workflow"
)

// TestBench runs a small rectify bench and checks its JSON report: every
// figure the issue names is there, both phases ran full lifecycles and no
// command failed, with full answers and with Prefer: return=minimal (the
// clients carry the version from ETag to If-Match either way). It asserts no
// timing.
func TestBench(t *testing.T) {
	for name, extra := range map[string][]string{"full": nil, "minimal": {"--prefer-minimal"}} {
		t.Run(name, func(t *testing.T) { testBench(t, extra) })
	}
}

func testBench(t *testing.T, extra []string) {
	var out, errb bytes.Buffer
	env := Env{Stdout: &out, Stderr: &syncWriter{w: &errb}, Getenv: func(string) string { return "" }}
	args := append([]string{"bench", "--problems", "200", "--clients", "4", "--duration", "300ms", "--min-lifecycles", "1", "--json", "--dir", t.TempDir()}, extra...)
	if err := Main(t.Context(), args, env); err != nil {
		t.Fatalf("rectify bench: %v\n%s", err, errb.String())
	}
	var raw map[string]any
	if err := json.Unmarshal(out.Bytes(), &raw); err != nil {
		t.Fatalf("bench --json printed %q: %v", out.String(), err)
	}
	for _, path := range []string{"http.transitions_per_s", "http.p50_ms", "http.p99_ms", "http.errors", "inprocess.transitions_per_s", "pages_per_transition"} {
		v := any(raw)
		for _, k := range strings.Split(path, ".") {
			m, _ := v.(map[string]any)
			v = m[k]
		}
		if _, ok := v.(float64); !ok {
			t.Errorf("the report has no number %s: %s", path, out.String())
		}
	}
	var res benchResult
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatal(err)
	}
	for name, p := range map[string]*phaseResult{"http": &res.HTTP, "inprocess": res.InProcess} {
		if p == nil {
			t.Fatalf("no %s phase", name)
		}
		if p.Errors != 0 {
			t.Errorf("%s: %d errors\n%s", name, p.Errors, errb.String())
		}
		if p.Transitions == 0 || p.Lifecycles == 0 || p.TransitionsPerS <= 0 {
			t.Errorf("%s: %d transitions, %d lifecycles", name, p.Transitions, p.Lifecycles)
		}
		for _, k := range benchKinds {
			if p.Kinds[k].Count == 0 {
				t.Errorf("%s: no %s command ran", name, k)
			}
		}
		if p.PagesPerTransition <= 0 || p.CommandsPerCommit < 1 {
			t.Errorf("%s: %.2f pages per transition, %.2f commands per commit", name, p.PagesPerTransition, p.CommandsPerCommit)
		}
	}
	if res.PreferMinimal != (len(extra) > 0) {
		t.Errorf("prefer_minimal %v with %v", res.PreferMinimal, extra)
	}
	if res.Ratio <= 0 || res.PagesPerTransition <= 0 || res.Memory == nil || res.DBBytes <= 0 {
		t.Fatalf("ratio %v, pages %v, memory %v, file %d", res.Ratio, res.PagesPerTransition, res.Memory, res.DBBytes)
	}
	if runtime.GOOS == "linux" && (res.Memory.RSSAnonMiB <= 0 || res.Memory.PeakRSSAnonMiB <= 0) {
		t.Errorf("memory %+v: want the anonymous resident memory after setup and its peak under load", *res.Memory)
	}
}

// TestBenchURL drives a running server (rectify serve --demo) through
// --url and --tokens: the HTTP phase only.
func TestBenchURL(t *testing.T) {
	db := t.TempDir() + "/rectify.db"
	var demo bytes.Buffer
	srv := startServerOut(t, db, &demo, "--demo", "--scan-interval", "0")
	tokens := map[workflow.Role]string{}
	for line := range strings.SplitSeq(demo.String(), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && strings.HasPrefix(f[1], "rt_") {
			tokens[workflow.Role(f[0])] = f[1]
		}
	}
	var out, errb bytes.Buffer
	env := Env{Stdout: &out, Stderr: &syncWriter{w: &errb}, Getenv: func(string) string { return "" }}
	args := []string{"bench", "--url", srv.url, "--tokens", tokens[workflow.RoleBureau] + "," + tokens[workflow.RoleUnit] + "," + tokens[workflow.RoleInspector],
		"--problems", "20", "--clients", "2", "--duration", "200ms", "--min-lifecycles", "1", "--json"}
	if err := Main(t.Context(), args, env); err != nil {
		t.Fatalf("rectify bench --url: %v\n%s", err, errb.String())
	}
	var res benchResult
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatal(err)
	}
	if res.HTTP.Errors != 0 || res.HTTP.Transitions == 0 || res.InProcess != nil || res.Target != srv.url {
		t.Errorf("bench --url: %+v\n%s", res, errb.String())
	}
	if err := srv.stop(); err != nil {
		t.Fatal(err)
	}
}

func TestBenchFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--problems", "0"},
		{"--clients", "0"},
		{"--duration", "0s"},
		{"--url", "http://127.0.0.1:1"},
		{"--url", "http://127.0.0.1:1", "--tokens", "a,b"},
		{"--tokens", "a,b,c"},
	} {
		var errb bytes.Buffer
		if err := Main(t.Context(), append([]string{"bench"}, args...), Env{Stdout: &errb, Stderr: &errb}); err == nil {
			t.Errorf("rectify bench %v succeeded", args)
		}
	}
}

// TestUniquePNG: the evidence files are PNG images, each different.
func TestUniquePNG(t *testing.T) {
	a, b := uniquePNG("x"), uniquePNG("x")
	if bytes.Equal(a, b) {
		t.Error("two uploads are the same file")
	}
	for _, f := range [][]byte{a, b} {
		if typ, ok := files.SniffType(f); !ok || typ != "image/png" {
			t.Errorf("sniffed %s, %v", typ, ok)
		}
		if _, err := decodePNG(f); err != nil {
			t.Errorf("not a valid PNG: %v", err)
		}
	}
}

func decodePNG(b []byte) (image.Image, error) { return png.Decode(bytes.NewReader(b)) }

// startServerOut is startServer with the server's stdout (the demo tokens)
// written to out before it returns.
func startServerOut(t *testing.T, db string, out *bytes.Buffer, extra ...string) *server {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	addrs := make(chan net.Addr, 1)
	done := make(chan error, 1)
	var logs bytes.Buffer
	env := Env{Stdout: out, Stderr: &syncWriter{w: &logs}, Getenv: func(string) string { return "" },
		Listening: func(a net.Addr) { addrs <- a }}
	args := append([]string{"serve", "--db", db, "--addr", "127.0.0.1:0"}, extra...)
	go func() { done <- Main(ctx, args, env) }()
	select {
	case a := <-addrs:
		t.Cleanup(cancel)
		return &server{url: "http://" + a.String(), stop: func() error { cancel(); return <-done }}
	case err := <-done:
		cancel()
		t.Fatalf("serve exited: %v\n%s", err, logs.String())
	}
	return nil
}
