package main

import (
	"bytes"
	"context"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

// TestVersion: rectify version prints the module, its version, the Go
// version and the platform of the running binary.
func TestVersion(t *testing.T) {
	out := run(t, "version")
	for _, want := range []string{"rectify ", "module    github.com/jdz-eco/rectify", "go        " + runtime.Version(), "platform  " + runtime.GOOS + "/" + runtime.GOARCH} {
		if !strings.Contains(out, want) {
			t.Errorf("rectify version lacks %q:\n%s", want, out)
		}
	}
}

// TestBuildInfo: what the go command stamps (module version, revision, its
// time, whether the tree was modified) is printed; a build without version
// control information says so, or prints what -ldflags set.
func TestBuildInfo(t *testing.T) {
	bi := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/jdz-eco/rectify", Version: "v0.0.0-20261203092257-d092171c621b+dirty"},
		Settings: []debug.BuildSetting{
			{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: "d092171c621b85598b94a60b4127d55ba9c3d73e"},
			{Key: "vcs.time", Value: "2026-12-03T09:22:57Z"}, {Key: "vcs.modified", Value: "true"}, {Key: "CGO_ENABLED", Value: "0"},
		}}
	var out bytes.Buffer
	buildInfoOf(bi).write(&out)
	want := "rectify v0.0.0-20261203092257-d092171c621b+dirty\n" +
		"module    github.com/jdz-eco/rectify\n" +
		"revision  d092171c621b85598b94a60b4127d55ba9c3d73e\n" +
		"time      2026-12-03T09:22:57Z\n" +
		"modified  true\n" +
		"go        go1.26.8\n" +
		"platform  " + runtime.GOOS + "/" + runtime.GOARCH + "\n" +
		"cgo       0\n"
	if out.String() != want {
		t.Errorf("with version control information:\n%s\nwant:\n%s", out.String(), want)
	}

	bi.Main.Version, bi.Settings = "(devel)", nil
	out.Reset()
	buildInfoOf(bi).write(&out)
	if s := out.String(); !strings.HasPrefix(s, "rectify (devel)\n") || !strings.Contains(s, "revision  unknown (built without version control information)") || strings.Contains(s, "modified") {
		t.Errorf("without version control information:\n%s", s)
	}

	version, revision = "v1.2.0", "0123abcd"
	defer func() { version, revision = "", "" }()
	out.Reset()
	buildInfoOf(bi).write(&out)
	if s := out.String(); !strings.HasPrefix(s, "rectify v1.2.0\n") || !strings.Contains(s, "revision  0123abcd\n") {
		t.Errorf("with -ldflags -X:\n%s", s)
	}
	if err := Main(context.Background(), []string{"version", "extra"}, Env{}); err == nil {
		t.Error("rectify version extra: no error")
	}
}
