// Package dossier writes a problem's case file (一案一档) as a zip and
// verifies one offline (docs/design.md#the-case-file).
//
// A dossier holds, in this order and nothing else:
//
//	dossier.json        what it is: format, problem, when and by whom exported, the chain head then, unit names
//	problem.json        the record (the replay of the history)
//	history.json        every history entry of the problem, with its seq, prev_hash and hash
//	signoffs.json       the sign-offs of verify and close
//	evidence.json       every evidence item's metadata, each with the file that holds it
//	evidence/SHA256.EXT each evidence file once
//	摘要.txt             a summary in Chinese, for people
//	manifest.sha256     the SHA-256 of every other file, as sha256sum writes it
//
// Files are stored uncompressed with the export time as their time, so a
// dossier is a function of its contents: Verify writes the dossier again
// from what it read and refuses any byte that differs, besides checking the
// manifest, the hash of every history entry, the record against the
// replayed history and the summary against the files.
package dossier

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/jdz-eco/rectify/workflow"
)

// Format is the format of the dossiers this package writes.
const Format = "rectify-dossier/1"

// File names.
const (
	NameInfo     = "dossier.json"
	NameProblem  = "problem.json"
	NameHistory  = "history.json"
	NameSignoffs = "signoffs.json"
	NameEvidence = "evidence.json"
	NameSummary  = "摘要.txt"
	NameManifest = "manifest.sha256"
	dirEvidence  = "evidence/"
)

// Info is dossier.json.
type Info struct {
	Format     string             `json:"format"`
	ProblemID  string             `json:"problem_id"`
	Code       string             `json:"code"`
	ExportedAt time.Time          `json:"exported_at"`
	ExportedBy workflow.Actor     `json:"exported_by"`
	Head       workflow.ChainHead `json:"head"`
	// HeadLine is the head as documents print it (workflow.HeadLine).
	HeadLine string            `json:"head_line"`
	Units    map[string]string `json:"units"`
}

// EvidenceFile is one item of evidence.json: the metadata as recorded and
// the file in the dossier that holds the content.
type EvidenceFile struct {
	File string `json:"file"`
	workflow.Evidence
}

// Opener returns the content of evidence file sha.
type Opener func(sha string) (io.ReadCloser, error)

// contents is a dossier's files before they are written; evidence content
// comes from open.
type contents struct {
	info     Info
	meta     [][2]string // name, content: the JSON files in order
	evidence []EvidenceFile
	files    []string // evidence file names, in order, each once
	shas     map[string]string
	summary  string
}

// build prepares the files of cf.
func build(cf *workflow.CaseFile) (*contents, error) {
	p := cf.Problem
	c := &contents{shas: map[string]string{}}
	c.info = Info{Format: Format, ProblemID: p.ID, Code: p.Code, ExportedAt: cf.ExportedAt.UTC().Truncate(time.Second),
		ExportedBy: cf.ExportedBy, Head: cf.Head, HeadLine: workflow.HeadLine(cf.Head), Units: cf.Units}
	if c.info.Units == nil {
		c.info.Units = map[string]string{}
	}
	for _, ev := range p.Evidence {
		name := EvidenceName(ev)
		if _, dup := c.shas[name]; !dup {
			c.shas[name] = ev.SHA256
			c.files = append(c.files, name)
		}
		c.evidence = append(c.evidence, EvidenceFile{File: name, Evidence: ev})
	}
	signoffs := p.Signatures
	if signoffs == nil {
		signoffs = []workflow.Signature{}
	}
	evidence := c.evidence
	if evidence == nil {
		evidence = []EvidenceFile{}
	}
	for _, f := range []struct {
		name string
		v    any
	}{{NameInfo, c.info}, {NameProblem, p}, {NameHistory, cf.History}, {NameSignoffs, signoffs}, {NameEvidence, evidence}} {
		b, err := encode(f.v)
		if err != nil {
			return nil, fmt.Errorf("dossier: %s: %w", f.name, err)
		}
		c.meta = append(c.meta, [2]string{f.name, b})
	}
	c.summary = Summary(c.info, p, cf.History)
	return c, nil
}

// encode is the JSON of v as the dossier holds it: indented, one newline
// at the end.
func encode(v any) (string, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return "", err
	}
	return buf.String(), nil
}

// extensions are the file extensions of the evidence types.
var extensions = map[string]string{
	"image/jpeg": ".jpg", "image/png": ".png", "image/gif": ".gif", "image/webp": ".webp", "image/bmp": ".bmp",
	"application/pdf": ".pdf", "text/plain": ".txt",
	"video/mp4": ".mp4", "video/webm": ".webm", "video/quicktime": ".mov", "video/avi": ".avi",
	"application/vnd.openxmlformats-officedocument.wordprocessingml.document":   ".docx",
	"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet":         ".xlsx",
	"application/vnd.openxmlformats-officedocument.presentationml.presentation": ".pptx",
	"application/x-ole-storage": ".doc",
}

// EvidenceName is the name of ev's file in a dossier: evidence/, its
// SHA-256 and the extension of its type (.bin for another type).
func EvidenceName(ev workflow.Evidence) string {
	ext, ok := extensions[ev.Type]
	if !ok {
		ext = ".bin"
	}
	return dirEvidence + strings.ToLower(ev.SHA256) + ext
}

// names is the dossier's file names in order.
func (c *contents) names() []string {
	out := make([]string, 0, len(c.meta)+len(c.files)+2)
	for _, m := range c.meta {
		out = append(out, m[0])
	}
	out = append(out, c.files...)
	return append(out, NameSummary, NameManifest)
}

// Write writes cf's dossier to w, reading each evidence file through open
// and checking it against its SHA-256 as it goes (a file that differs fails
// the write).
func Write(w io.Writer, cf *workflow.CaseFile, open Opener) error {
	c, err := build(cf)
	if err != nil {
		return err
	}
	return c.write(w, func(name string) (io.ReadCloser, error) { return open(c.shas[name]) })
}

// write writes the files; evidence content comes from content, by name.
func (c *contents) write(w io.Writer, content func(name string) (io.ReadCloser, error)) error {
	z := newZipper(w, c.info.ExportedAt)
	for _, m := range c.meta {
		if _, _, err := z.put(m[0], strings.NewReader(m[1])); err != nil {
			return err
		}
	}
	for _, name := range c.files {
		r, err := content(name)
		if err != nil {
			return fmt.Errorf("dossier: evidence %s: %w", name, err)
		}
		sum, _, err := z.put(name, r)
		r.Close()
		if err != nil {
			return err
		}
		if sum != c.shas[name] {
			return fmt.Errorf("dossier: evidence %s: the stored content does not match its SHA-256", name)
		}
	}
	if _, _, err := z.put(NameSummary, strings.NewReader(c.summary)); err != nil {
		return err
	}
	if _, _, err := z.put(NameManifest, strings.NewReader(manifest(z.sums))); err != nil {
		return err
	}
	return z.zw.Close()
}

// zipper writes files into a zip as a dossier holds them: uncompressed,
// each with the export time, no comment; it keeps each file's SHA-256.
type zipper struct {
	zw       *zip.Writer
	modified time.Time
	sums     map[string]string
}

func newZipper(w io.Writer, exportedAt time.Time) *zipper {
	return &zipper{zw: zip.NewWriter(w), modified: exportedAt.In(workflow.Shanghai), sums: map[string]string{}}
}

// put adds file name with what r yields and returns its SHA-256 and size.
func (z *zipper) put(name string, r io.Reader) (string, int64, error) {
	fw, err := z.zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Store, Modified: z.modified})
	if err != nil {
		return "", 0, err
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(fw, h), r)
	if err != nil {
		return "", n, fmt.Errorf("dossier: %s: %w", name, err)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	z.sums[name] = sum
	return sum, n, nil
}

// manifest renders sums as sha256sum does ("HASH  NAME"), sorted by name.
func manifest(sums map[string]string) string {
	names := make([]string, 0, len(sums))
	for n := range sums {
		names = append(names, n)
	}
	slices.Sort(names)
	var b strings.Builder
	for _, n := range names {
		fmt.Fprintf(&b, "%s  %s\n", sums[n], n)
	}
	return b.String()
}
