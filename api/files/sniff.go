package files

import (
	"bytes"
	"net/http"

	"github.com/jdz-eco/rectify/workflow"
)

var (
	oleMagic = []byte{0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1}
	zipMagic = []byte("PK\x03\x04")
)

// SniffType returns the content type of a file from its first bytes (512 are
// enough; SniffLen) and whether the domain accepts it as evidence
// (workflow.EvidenceTypeAllowed). The name a file is sent under never counts.
func SniffType(head []byte) (string, bool) {
	t := http.DetectContentType(head)
	switch {
	case bytes.HasPrefix(head, oleMagic):
		t = "application/x-ole-storage"
	case bytes.HasPrefix(head, zipMagic):
		t = officeType(head)
	case len(head) >= 12 && string(head[4:8]) == "ftyp" && (string(head[8:10]) == "qt"):
		t = "video/quicktime"
	case len(head) >= 12 && string(head[4:8]) == "ftyp":
		t = "video/mp4"
	}
	return t, workflow.EvidenceTypeAllowed(t)
}

// officeType tells an OOXML document from any other zip by the part names in
// its first local file headers.
func officeType(head []byte) string {
	switch {
	case bytes.Contains(head, []byte("word/")):
		return "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
	case bytes.Contains(head, []byte("xl/")):
		return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
	case bytes.Contains(head, []byte("ppt/")):
		return "application/vnd.openxmlformats-officedocument.presentationml.presentation"
	}
	return "application/zip"
}
