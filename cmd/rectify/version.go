package main

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

// Set with -ldflags "-X main.version=… -X main.revision=…" where the build
// has no version control information (the Dockerfile: its context leaves
// out .git).
var (
	version  = ""
	revision = ""
)

// buildInfo is what rectify version prints.
type buildInfo struct {
	module, version          string
	revision, time, modified string
	goVersion, platform, cgo string
	fromVCS                  bool
}

// readBuildInfo reads the binary's build information: the module version
// and the version control settings the go command stamped, else what
// -ldflags set.
func readBuildInfo() buildInfo {
	bi, _ := debug.ReadBuildInfo()
	return buildInfoOf(bi)
}

// buildInfoOf is readBuildInfo on bi (nil: none).
func buildInfoOf(bi *debug.BuildInfo) buildInfo {
	b := buildInfo{goVersion: runtime.Version(), platform: runtime.GOOS + "/" + runtime.GOARCH}
	if bi != nil {
		b.module, b.version = bi.Main.Path, bi.Main.Version
		if bi.GoVersion != "" {
			b.goVersion = bi.GoVersion
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				b.revision, b.fromVCS = s.Value, true
			case "vcs.time":
				b.time = s.Value
			case "vcs.modified":
				b.modified = s.Value
			case "CGO_ENABLED":
				b.cgo = s.Value
			}
		}
	}
	if b.version == "" || b.version == "(devel)" {
		if version != "" {
			b.version = version
		} else if b.version == "" {
			b.version = "(devel)"
		}
	}
	if b.revision == "" {
		b.revision = revision
	}
	return b
}

// write prints the information, one item a line.
func (b buildInfo) write(w io.Writer) {
	or := func(s, none string) string {
		if s == "" {
			return none
		}
		return s
	}
	fmt.Fprintf(w, "rectify %s\n", b.version)
	fmt.Fprintf(w, "module    %s\n", or(b.module, "unknown"))
	fmt.Fprintf(w, "revision  %s\n", or(b.revision, "unknown (built without version control information)"))
	if b.fromVCS {
		fmt.Fprintf(w, "time      %s\n", or(b.time, "unknown"))
		fmt.Fprintf(w, "modified  %s\n", or(b.modified, "unknown"))
	}
	fmt.Fprintf(w, "go        %s\n", b.goVersion)
	fmt.Fprintf(w, "platform  %s\n", b.platform)
	if b.cgo != "" {
		fmt.Fprintf(w, "cgo       %s\n", b.cgo)
	}
}

// runVersion prints the version and how the binary was built.
func runVersion(_ context.Context, args []string, env Env) error {
	fs := newFlagSet("version", env)
	if err := parseFlags(fs, args, env); err != nil {
		return err
	}
	readBuildInfo().write(env.Stdout)
	return nil
}
