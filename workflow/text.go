package workflow

import (
	"strings"
	"unicode/utf8"
)

// Text rules: every text a caller gives (titles, descriptions, notes,
// reasons, names, unit ids…) is valid UTF-8 and holds no control character
// but line feed and tab. A carriage return is a line break: CRLF and a lone
// CR become LF (browsers send a textarea's lines with CRLF).

// CheckText refuses s, the value of field, if it is not valid UTF-8 or holds
// a control character (Unicode category Cc: C0, DEL, C1) other than a line
// feed or a tab. It does not change s; see CleanText.
func CheckText(field, s string) error {
	for i, r := range s {
		switch {
		case r == utf8.RuneError && !strings.HasPrefix(s[i:], "\uFFFD"):
			return RefuseField(ReasonNotUTF8, field, "%s is not valid UTF-8 (at byte %d)", field, i)
		case r == '\n' || r == '\t':
		case r < 0x20 || (r >= 0x7F && r <= 0x9F):
			return RefuseField(ReasonControlCharacter, field, "%s holds the control character U+%04X at byte %d; only line breaks and tabs are allowed", field, r, i)
		}
	}
	return nil
}

// CleanText checks s (CheckText) once CRLF and lone CR are turned into LF,
// and returns it with surrounding white space trimmed.
func CleanText(field, s string) (string, error) {
	if strings.IndexByte(s, '\r') >= 0 {
		s = strings.ReplaceAll(s, "\r\n", "\n")
		s = strings.ReplaceAll(s, "\r", "\n")
	}
	if err := CheckText(field, s); err != nil {
		return "", err
	}
	return strings.TrimSpace(s), nil
}
