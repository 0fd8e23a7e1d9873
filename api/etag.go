package api

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/jdz-eco/rectify/workflow"
)

// A problem's entity tag is its version, a strong tag: "3". Entity tags are
// compared as RFC 9110 section 13.1.1 says If-Match must: strongly, so a
// weak tag (W/"3") matches nothing.

// etag is the strong entity tag of version v.
func etag(v uint64) string {
	return `"` + strconv.FormatUint(v, 10) + `"`
}

// ifMatch turns the request's If-Match into the version a command expects:
// 0 (any) when there is none or it is "*"; the version a strong tag names;
// workflow.MatchNone when no tag can match (weak tags, tags of no version:
// 412 once the problem is found). A malformed header is CodeInvalid (400).
// When several strong tags name versions, the one that is the problem's
// current version is taken (a change racing this request can then only
// make it fail with 412, never succeed wrongly).
func (s *server) ifMatch(c echo.Context) (uint64, error) {
	anyVersion, versions, err := parseIfMatch(c.Request().Header.Values("If-Match"))
	switch {
	case err != nil:
		return 0, err
	case anyVersion:
		return 0, nil
	case len(versions) == 0:
		return workflow.MatchNone, nil
	case len(versions) == 1:
		return versions[0], nil
	}
	p, err := s.svc.Problem(c.Request().Context(), actor(c), c.Param("id"))
	if err != nil {
		return 0, err
	}
	for _, v := range versions {
		if v == p.Version {
			return v, nil
		}
	}
	return workflow.MatchNone, nil
}

// parseIfMatch parses the field lines of If-Match (RFC 9110 section
// 13.1.1: "*" or a comma-separated list of entity tags, empty elements
// ignored). any is true when there is no header or it is "*"; versions are
// the versions the strong tags name. A weak tag, or a strong one whose
// opaque value is not a version as etag writes it, is well formed but names
// none.
func parseIfMatch(lines []string) (anyVersion bool, versions []uint64, err error) {
	var elems []string
	for _, line := range lines {
		for e := range strings.SplitSeq(line, ",") {
			if e = strings.Trim(e, " \t"); e != "" {
				elems = append(elems, e)
			}
		}
	}
	if len(elems) == 0 {
		return true, nil, nil
	}
	if len(elems) == 1 && elems[0] == "*" {
		return true, nil, nil
	}
	for _, e := range elems {
		weak := strings.HasPrefix(e, "W/")
		opaque := strings.TrimPrefix(e, "W/")
		if !validOpaqueTag(opaque) {
			return false, nil, apiError(workflow.CodeInvalid, "If-Match",
				fmt.Sprintf("If-Match must be \"*\" or entity tags such as \"3\" (the problem's ETag), not %q", strings.Join(lines, ", ")))
		}
		if weak {
			continue
		}
		if v, ok := tagVersion(opaque[1 : len(opaque)-1]); ok {
			versions = append(versions, v)
		}
	}
	return false, versions, nil
}

// validOpaqueTag reports whether t is an opaque-tag: DQUOTE *etagc DQUOTE,
// etagc being %x21 / %x23-7E / obs-text (%x80-FF).
func validOpaqueTag(t string) bool {
	if len(t) < 2 || t[0] != '"' || t[len(t)-1] != '"' {
		return false
	}
	for i := 1; i < len(t)-1; i++ {
		if b := t[i]; b < 0x21 || b == '"' || b == 0x7F {
			return false
		}
	}
	return true
}

// tagVersion returns the version an opaque value names: a positive decimal
// number without leading zeros, as etag writes it.
func tagVersion(s string) (uint64, bool) {
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil || v == 0 || strconv.FormatUint(v, 10) != s || v == workflow.MatchNone {
		return 0, false
	}
	return v, true
}
