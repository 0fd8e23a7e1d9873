package api

import (
	"encoding/json"
	"fmt"
	"strconv"
	"unicode"
	"unicode/utf8"

	"github.com/jdz-eco/rectify/workflow"
)

// checkJSON refuses what encoding/json would accept silently: invalid UTF-8
// (which it replaces with U+FFFD), escapes of lone UTF-16 surrogates (the
// same) and an object's duplicate names, also those that differ only in
// case (it matches names to fields case-insensitively, and the last one
// wins). The refusal is CodeInvalid naming the problem and, for a duplicate,
// the name as the request spelled it the second time. Syntax errors are
// left to encoding/json, whose message names them: checkJSON stops at the
// first one and reports nothing.
func checkJSON(b []byte) error {
	sc := jsonScanner{b: b}
	sc.value(0)
	return sc.err
}

// maxJSONDepth is encoding/json's nesting limit; deeper input is its error.
const maxJSONDepth = 10000

// jsonScanner walks one JSON text. It stops at the first refusal (err) or
// syntax error (stop).
type jsonScanner struct {
	b    []byte
	i    int
	err  error
	stop bool
}

func (sc *jsonScanner) fail(field, format string, args ...any) {
	if !sc.stop {
		sc.err = apiError(workflow.CodeInvalid, field, fmt.Sprintf(format, args...))
		sc.stop = true
	}
}

func (sc *jsonScanner) space() {
	for sc.i < len(sc.b) {
		switch sc.b[sc.i] {
		case ' ', '\t', '\n', '\r':
			sc.i++
		default:
			return
		}
	}
}

// value scans one value at depth.
func (sc *jsonScanner) value(depth int) {
	sc.space()
	if sc.stop || sc.i >= len(sc.b) || depth > maxJSONDepth {
		sc.stop = true
		return
	}
	switch c := sc.b[sc.i]; {
	case c == '{':
		sc.object(depth + 1)
	case c == '[':
		sc.i++
		sc.space()
		if sc.i < len(sc.b) && sc.b[sc.i] == ']' {
			sc.i++
			return
		}
		for !sc.stop {
			sc.value(depth + 1)
			sc.space()
			if sc.stop || sc.i >= len(sc.b) {
				sc.stop = true
				return
			}
			if sc.b[sc.i] == ']' {
				sc.i++
				return
			}
			if sc.b[sc.i] != ',' {
				sc.stop = true
				return
			}
			sc.i++
		}
	case c == '"':
		sc.str()
	default:
		// A number or literal: its bytes are ASCII or a syntax error.
		for sc.i < len(sc.b) {
			switch sc.b[sc.i] {
			case ',', ']', '}', ' ', '\t', '\n', '\r':
				return
			}
			if sc.b[sc.i] >= utf8.RuneSelf {
				sc.stop = true
				return
			}
			sc.i++
		}
	}
}

// object scans an object, refusing a name that folds to an earlier one's.
func (sc *jsonScanner) object(depth int) {
	sc.i++ // {
	var (
		names []string          // folded names while the object is small
		seen  map[string]string // folded → as written, once it is not
		raw   []string          // names as written, with names
	)
	sc.space()
	if sc.i < len(sc.b) && sc.b[sc.i] == '}' {
		sc.i++
		return
	}
	for !sc.stop {
		sc.space()
		if sc.i >= len(sc.b) || sc.b[sc.i] != '"' {
			sc.stop = true
			return
		}
		name, ok := sc.str()
		if !ok {
			return
		}
		folded := foldName(name)
		first, dup := "", false
		if seen != nil {
			first, dup = seen[folded]
		} else {
			for k, n := range names {
				if n == folded {
					first, dup = raw[k], true
					break
				}
			}
		}
		if dup {
			if first == name {
				sc.fail(name, "duplicate key %q in a JSON object", name)
			} else {
				sc.fail(name, "duplicate key %q in a JSON object: it already has %q, and keys are matched regardless of case", name, first)
			}
			return
		}
		if seen == nil && len(names) < 16 {
			names, raw = append(names, folded), append(raw, name)
		} else {
			if seen == nil {
				seen = make(map[string]string, 2*len(names))
				for k, n := range names {
					seen[n] = raw[k]
				}
			}
			seen[folded] = name
		}
		sc.space()
		if sc.i >= len(sc.b) || sc.b[sc.i] != ':' {
			sc.stop = true
			return
		}
		sc.i++
		sc.value(depth)
		sc.space()
		if sc.stop || sc.i >= len(sc.b) {
			sc.stop = true
			return
		}
		switch sc.b[sc.i] {
		case '}':
			sc.i++
			return
		case ',':
			sc.i++
		default:
			sc.stop = true
			return
		}
	}
}

// str scans a string, checking its bytes are UTF-8 and its escapes name
// characters, and returns its value (ok false when it stopped).
func (sc *jsonScanner) str() (s string, ok bool) {
	start := sc.i
	sc.i++ // "
	escaped := false
	for sc.i < len(sc.b) {
		c := sc.b[sc.i]
		switch {
		case c == '"':
			sc.i++
			lit := sc.b[start:sc.i]
			if !escaped {
				return string(lit[1 : len(lit)-1]), true
			}
			var v string
			if json.Unmarshal(lit, &v) != nil {
				sc.stop = true
				return "", false
			}
			return v, true
		case c == '\\':
			escaped = true
			if sc.i+1 >= len(sc.b) {
				sc.stop = true
				return "", false
			}
			if sc.b[sc.i+1] != 'u' {
				sc.i += 2
				continue
			}
			r, ok := sc.hex4(sc.i + 2)
			if !ok {
				sc.stop = true
				return "", false
			}
			at := sc.i
			sc.i += 6
			switch {
			case r >= 0xD800 && r < 0xDC00:
				lo, ok := rune(0), false
				if sc.i+1 < len(sc.b) && sc.b[sc.i] == '\\' && sc.b[sc.i+1] == 'u' {
					lo, ok = sc.hex4(sc.i + 2)
				}
				if !ok || lo < 0xDC00 || lo > 0xDFFF {
					sc.fail("", "the escape \\u%04x at byte %d is a lone UTF-16 surrogate, not a character", r, at)
					return "", false
				}
				sc.i += 6
			case r >= 0xDC00 && r <= 0xDFFF:
				sc.fail("", "the escape \\u%04x at byte %d is a lone UTF-16 surrogate, not a character", r, at)
				return "", false
			}
		case c < 0x20:
			sc.stop = true // a syntax error
			return "", false
		case c < utf8.RuneSelf:
			sc.i++
		default:
			r, n := utf8.DecodeRune(sc.b[sc.i:])
			if r == utf8.RuneError && n <= 1 {
				sc.fail("", "the request body is not valid UTF-8 (byte %d)", sc.i)
				return "", false
			}
			sc.i += n
		}
	}
	sc.stop = true
	return "", false
}

// hex4 reads the four hex digits at i.
func (sc *jsonScanner) hex4(i int) (rune, bool) {
	if i+4 > len(sc.b) {
		return 0, false
	}
	v, err := strconv.ParseUint(string(sc.b[i:i+4]), 16, 16)
	return rune(v), err == nil
}

// foldName folds a name as encoding/json does to match it to a field: two
// names match exactly when their folds are equal.
func foldName(s string) string {
	out := make([]byte, 0, len(s))
	for _, r := range s {
		if r < utf8.RuneSelf {
			if 'a' <= r && r <= 'z' {
				r -= 'a' - 'A'
			}
			out = append(out, byte(r))
			continue
		}
		out = utf8.AppendRune(out, unicode.ToUpper(unicode.ToLower(r)))
	}
	return string(out)
}
