package dossier

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"reflect"

	"github.com/jdz-eco/rectify/workflow"
)

// Report sums up a dossier that verified.
type Report struct {
	ProblemID string             `json:"problem_id"`
	Code      string             `json:"code"`
	Title     string             `json:"title"`
	Entries   int                `json:"entries"`
	Evidence  int                `json:"evidence_files"`
	Signoffs  int                `json:"signoffs"`
	Files     int                `json:"files"`
	Head      workflow.ChainHead `json:"head"`
	Info      Info               `json:"info"`
}

// Error is why a dossier was refused: the file concerned (if one) and the
// reason.
type Error struct {
	File   string
	Reason string
}

func (e *Error) Error() string {
	if e.File == "" {
		return e.Reason
	}
	return e.File + ": " + e.Reason
}

func refuse(file, format string, args ...any) error {
	return &Error{File: file, Reason: fmt.Sprintf(format, args...)}
}

// maxMeta bounds each JSON file and the summary.
const maxMeta = 256 << 20

// Verify checks the dossier of size bytes in r, offline: that it is a zip
// of exactly the files a dossier holds, uncompressed, each whole (CRC-32);
// that every history entry's hash is the SHA-256 of its content
// (workflow.EntryHash), entries of one problem in order and linked where
// they are neighbours on the chain, none after the head it states; that
// the record is the replay of the history, the sign-offs and evidence
// metadata the record's, every evidence file of its SHA-256 and size; that
// the summary says what the files say; that the manifest lists every
// other file's SHA-256; and that the zip is byte for byte what Write makes
// of those files, so that no byte anywhere (file times, comments, headers)
// differs unnoticed. The first failure is returned as an *Error.
func Verify(r io.ReaderAt, size int64) (*Report, error) {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return nil, refuse("", "not a zip file: %v", err)
	}
	files := map[string]*zip.File{}
	var total uint64
	for _, f := range zr.File {
		if _, dup := files[f.Name]; dup {
			return nil, refuse(f.Name, "listed twice")
		}
		if f.Method != zip.Store || f.CompressedSize64 != f.UncompressedSize64 {
			return nil, refuse(f.Name, "compressed: a dossier stores its files as they are")
		}
		total += f.UncompressedSize64
		files[f.Name] = f
	}
	if total > uint64(size) {
		return nil, refuse("", "the files claim more bytes than the zip holds")
	}
	if zr.Comment != "" {
		return nil, refuse("", "the zip has a comment")
	}
	read := func(name string) ([]byte, error) {
		f, ok := files[name]
		if !ok {
			return nil, refuse(name, "missing")
		}
		if f.UncompressedSize64 > maxMeta {
			return nil, refuse(name, "too large")
		}
		rc, err := f.Open()
		if err != nil {
			return nil, refuse(name, "unreadable: %v", err)
		}
		defer rc.Close()
		b, err := io.ReadAll(rc)
		if err != nil {
			return nil, refuse(name, "unreadable: %v", err)
		}
		return b, nil
	}
	decode := func(name string, v any) error {
		b, err := read(name)
		if err != nil {
			return err
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(v); err != nil {
			return refuse(name, "does not decode: %v", err)
		}
		if dec.More() {
			return refuse(name, "holds more than one value")
		}
		return nil
	}

	var info Info
	if err := decode(NameInfo, &info); err != nil {
		return nil, err
	}
	if info.Format != Format {
		return nil, refuse(NameInfo, "format %q, not %q", info.Format, Format)
	}
	// The zip itself first (cheap): written again from the files it holds,
	// as they are, it must be the same bytes; reading them checks their
	// CRC-32 and gives their SHA-256.
	cmp := &compareWriter{r: r, size: size}
	z := newZipper(cmp, info.ExportedAt)
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			return nil, refuse(f.Name, "unreadable: %v", err)
		}
		_, _, err = z.put(f.Name, rc)
		rc.Close()
		if err != nil {
			return nil, refuse(f.Name, "unreadable or not as written: %v", err)
		}
	}
	err = z.zw.Close()
	if err == nil && cmp.off != size {
		err = fmt.Errorf("at byte %d: %w", cmp.off, errDiffers)
	}
	if err != nil {
		return nil, refuse("", "the zip is not as written (a header, time, comment or padding was changed): %v", err)
	}
	sums := z.sums

	var (
		p        workflow.Problem
		hist     []workflow.Entry
		signoffs []workflow.Signature
		evidence []EvidenceFile
	)
	for _, f := range []struct {
		name string
		v    any
	}{{NameProblem, &p}, {NameHistory, &hist}, {NameSignoffs, &signoffs}, {NameEvidence, &evidence}} {
		if err := decode(f.name, f.v); err != nil {
			return nil, err
		}
	}
	if err := checkChain(&info, hist); err != nil {
		return nil, err
	}
	replayed, err := workflow.Replay(hist)
	if err != nil {
		return nil, refuse(NameHistory, "does not replay: %v", err)
	}
	if !sameJSON(replayed, &p) {
		return nil, refuse(NameProblem, "differs from the replay of the history")
	}
	if p.ID != info.ProblemID || p.Code != info.Code {
		return nil, refuse(NameInfo, "names problem %s (%s), the record is %s (%s)", info.ProblemID, info.Code, p.ID, p.Code)
	}

	// What Write makes of this case file: the same JSON, summary and
	// names; the evidence content as the zip holds it.
	cf := &workflow.CaseFile{Problem: replayed, History: hist, Units: info.Units, Head: info.Head,
		ExportedAt: info.ExportedAt, ExportedBy: info.ExportedBy}
	c, err := build(cf)
	if err != nil {
		return nil, refuse("", "%v", err)
	}
	if c.info.ExportedAt != info.ExportedAt || c.info.HeadLine != info.HeadLine {
		return nil, refuse(NameInfo, "its export time or head line is not as written")
	}
	for _, m := range c.meta {
		b, err := read(m[0])
		if err != nil {
			return nil, err
		}
		if string(b) != m[1] {
			return nil, refuse(m[0], "is not as written (the record's sign-offs or evidence, or the file's layout, differ)")
		}
	}
	want := c.names()
	if len(want) != len(zr.File) {
		return nil, refuse("", "holds %d files, a dossier of this problem %d", len(zr.File), len(want))
	}
	for i, f := range zr.File {
		if f.Name != want[i] {
			return nil, refuse(f.Name, "in place of %s", want[i])
		}
	}
	summary, err := read(NameSummary)
	if err != nil {
		return nil, err
	}
	if string(summary) != c.summary {
		return nil, refuse(NameSummary, "does not say what the other files say")
	}
	for name, sha := range c.shas {
		if sums[name] != sha {
			return nil, refuse(name, "content does not match its SHA-256 (the file was altered)")
		}
	}
	for _, ev := range replayed.Evidence {
		if f := files[EvidenceName(ev)]; f.UncompressedSize64 != uint64(ev.Size) {
			return nil, refuse(f.Name, "holds %d bytes, the record says %d", f.UncompressedSize64, ev.Size)
		}
	}
	mf, err := read(NameManifest)
	if err != nil {
		return nil, err
	}
	delete(sums, NameManifest)
	if string(mf) != manifest(sums) {
		return nil, refuse(NameManifest, "does not list the SHA-256 of every other file as they are")
	}

	return &Report{ProblemID: p.ID, Code: p.Code, Title: p.Title, Entries: len(hist), Evidence: len(c.files),
		Signoffs: len(signoffs), Files: len(zr.File), Head: info.Head, Info: info}, nil
}

// checkChain checks the history against the hash chain: each entry's hash
// is that of its content; entries are of the problem, in sequence order,
// of versions from 1 on (a command's entries share its version);
// neighbours on the chain are linked; and none comes after the head the
// dossier states (the head's own entry has its hash).
func checkChain(info *Info, hist []workflow.Entry) error {
	if len(hist) == 0 {
		return refuse(NameHistory, "is empty")
	}
	for i, e := range hist {
		h, err := workflow.EntryHash(e)
		if err != nil {
			return refuse(NameHistory, "entry %d: %v", e.Seq, err)
		}
		switch {
		case h != e.Hash:
			return refuse(NameHistory, "entry %d: content does not match its hash (the entry was altered)", e.Seq)
		case e.ProblemID != info.ProblemID:
			return refuse(NameHistory, "entry %d is of problem %s", e.Seq, e.ProblemID)
		case i == 0 && e.Version != 1 || i > 0 && e.Version != hist[i-1].Version && e.Version != hist[i-1].Version+1:
			// The entries of one command share its version.
			return refuse(NameHistory, "entry %d has version %d after %d", e.Seq, e.Version, versionBefore(hist, i))
		case e.Seq == 0 || i > 0 && e.Seq <= hist[i-1].Seq:
			return refuse(NameHistory, "entry %d is out of sequence", e.Seq)
		case i > 0 && e.Seq == hist[i-1].Seq+1 && e.PrevHash != hist[i-1].Hash:
			return refuse(NameHistory, "entry %d does not link to entry %d before it", e.Seq, hist[i-1].Seq)
		case e.Seq == 1 && e.PrevHash != workflow.GenesisHash:
			return refuse(NameHistory, "entry 1 does not start the chain")
		case e.Seq > info.Head.Seq:
			return refuse(NameHistory, "entry %d comes after the head %s the dossier states", e.Seq, info.Head)
		case e.Seq == info.Head.Seq && e.Hash != info.Head.Hash:
			return refuse(NameInfo, "the head %s is entry %d, whose hash is %s", info.Head, e.Seq, e.Hash)
		}
	}
	return nil
}

// versionBefore is the version of the entry before hist[i] (0 for none).
func versionBefore(hist []workflow.Entry, i int) uint64 {
	if i == 0 {
		return 0
	}
	return hist[i-1].Version
}

// sameJSON compares two values by their JSON.
func sameJSON(a, b any) bool {
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	if err1 != nil || err2 != nil {
		return false
	}
	var va, vb any
	_ = json.Unmarshal(ja, &va)
	_ = json.Unmarshal(jb, &vb)
	return reflect.DeepEqual(va, vb)
}

// compareWriter compares what is written with the bytes of r from the
// start, failing at the first difference.
type compareWriter struct {
	r    io.ReaderAt
	size int64
	off  int64
	buf  []byte
}

var errDiffers = fmt.Errorf("the bytes differ")

func (w *compareWriter) Write(p []byte) (int, error) {
	if w.off+int64(len(p)) > w.size {
		return 0, fmt.Errorf("at byte %d: %w", w.size, errDiffers)
	}
	if cap(w.buf) < len(p) {
		w.buf = make([]byte, len(p))
	}
	b := w.buf[:len(p)]
	if _, err := w.r.ReadAt(b, w.off); err != nil && !(err == io.EOF && w.off+int64(len(p)) == w.size) {
		return 0, err
	}
	if !bytes.Equal(b, p) {
		i := 0
		for i < len(p) && b[i] == p[i] {
			i++
		}
		return 0, fmt.Errorf("at byte %d: %w", w.off+int64(i), errDiffers)
	}
	w.off += int64(len(p))
	return len(p), nil
}
