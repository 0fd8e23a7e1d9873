package files

import "testing"

func TestSniffType(t *testing.T) {
	pad := func(b []byte) []byte { return append(b, make([]byte, 64)...) }
	cases := []struct {
		name string
		head []byte
		want string
		ok   bool
	}{
		{"jpeg", pad([]byte{0xFF, 0xD8, 0xFF, 0xE0}), "image/jpeg", true},
		{"png", pad([]byte("\x89PNG\r\n\x1a\n")), "image/png", true},
		{"pdf", []byte("%PDF-1.7\n%âãÏÓ\n1 0 obj"), "application/pdf", true},
		{"plain text", []byte("整改报告：已完成清淤。"), "text/plain; charset=utf-8", true},
		{"docx", pad([]byte("PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00[Content_Types].xmlword/document.xml")), "application/vnd.openxmlformats-officedocument.wordprocessingml.document", true},
		{"xlsx", pad([]byte("PK\x03\x04\x14\x00\x06\x00xl/workbook.xml")), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", true},
		{"old office", pad([]byte{0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1}), "application/x-ole-storage", true},
		{"mp4", pad([]byte("\x00\x00\x00\x18ftypmp42")), "video/mp4", true},
		{"quicktime", pad([]byte("\x00\x00\x00\x14ftypqt  ")), "video/quicktime", true},
		{"plain zip", pad([]byte("PK\x03\x04\x14\x00payload.bin")), "application/zip", false},
		{"ELF executable", pad([]byte("\x7fELF\x02\x01\x01")), "application/octet-stream", false},
		{"Windows executable", pad([]byte("MZ\x90\x00\x03\x00\x00\x00")), "application/octet-stream", false},
		{"html", []byte("<!DOCTYPE html><script>alert(1)</script>"), "text/html; charset=utf-8", false},
	}
	for _, c := range cases {
		got, ok := SniffType(c.head)
		if ok != c.ok || (c.want != "" && got != c.want) {
			t.Errorf("%s: got %q %v, want %q %v", c.name, got, ok, c.want, c.ok)
		}
	}
}
