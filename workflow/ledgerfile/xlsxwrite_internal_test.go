package ledgerfile

import "testing"

// Text copied whole (xmlClean) is exactly what escaping it character by
// character gives, and text that needs escaping is escaped.
func TestAppendXMLText(t *testing.T) {
	for in, want := range map[string]string{
		"": "",
		"浮梁县茅棚店锡矿尾矿库，渗滤液外溢。":             "浮梁县茅棚店锡矿尾矿库，渗滤液外溢。",
		"ASCII text\twith tab\nand line": "ASCII text\twith tab\nand line",
		"a<b & c>d":                      "a&lt;b &amp; c&gt;d",
		"line\r\nbreak":                  "line&#13;\nbreak",
		"bell\a and nul\x00":             "bell\uFFFD and nul\uFFFD",
		"bad \xff\xfe utf-8":             "bad \uFFFD\uFFFD utf-8",
		"non-characters \uFFFE\uFFFF":    "non-characters \uFFFD\uFFFD",
		"full-width ｆｏｒｍｓ\uFFFD":         "full-width ｆｏｒｍｓ\uFFFD",
		"cut at the end \xef\xbf":        "cut at the end \uFFFD\uFFFD",
	} {
		if got := string(appendXMLText(nil, in)); got != want {
			t.Errorf("appendXMLText(%q) = %q, want %q", in, got, want)
		}
		if got, slow := string(appendXMLText([]byte("x"), in)), string(appendXMLEscaped([]byte("x"), in)); got != slow {
			t.Errorf("appendXMLText(%q) = %q, character by character %q", in, got, slow)
		}
	}
}
