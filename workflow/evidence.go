package workflow

import (
	"context"
	"encoding/hex"
	"io"
	"strings"
	"time"
	"unicode/utf8"
)

// ActionEvidence is the history action of an evidence upload (佐证材料).
const ActionEvidence = "evidence"

// Evidence is one file a unit handed in, content-addressed by SHA-256.
type Evidence struct {
	SHA256      string    `json:"sha256"`
	Name        string    `json:"name"`
	Size        int64     `json:"size"`
	Type        string    `json:"type"` // sniffed from the content
	Description string    `json:"description,omitempty"`
	UploadedBy  string    `json:"uploaded_by"`
	Uploader    string    `json:"uploader"` // the uploader's name
	UnitID      string    `json:"unit_id"`
	At          time.Time `json:"at"`
	// Round is the number of rejections before the upload: submit needs an
	// item of the current round. Submitted is set once a submission included it.
	Round     int  `json:"round"`
	Submitted bool `json:"submitted"`
	// Phase is what the file shows: before (整改前), after (整改后), a
	// document, or an inspector's site-check photo; empty on items handed in
	// before phases existed.
	Phase Phase `json:"phase,omitempty"`
	// PHash is the image's perceptual hash (nil when it is no image the
	// checks decode, or could not be decoded); Flags are what the checks
	// found (docs/design.md#evidence-checks). Both are decided at upload.
	PHash *uint64 `json:"phash,omitempty"`
	Flags []Flag  `json:"flags,omitempty"`
	// Public: the bureau marked the photo public, for the public notice
	// page (ActionEvidencePublic).
	Public bool `json:"public,omitempty"`
}

// Blobs stores evidence files by their SHA-256. Put writes and fsyncs the
// file before it returns, so a transaction referencing it commits only after
// the content is durable; files are never modified or deleted by the workflow.
type Blobs interface {
	// Put stores what r yields, refusing more than max bytes with an
	// *Error of code CodeTooLarge; it returns the hex SHA-256 and the size.
	Put(ctx context.Context, r io.Reader, max int64) (sha string, size int64, err error)
	// Open returns the content of sha, or CodeNotFound.
	Open(ctx context.Context, sha string) (io.ReadCloser, error)
	// Stat returns the size of sha, or CodeNotFound.
	Stat(ctx context.Context, sha string) (int64, error)
}

// Evidence types allowed, by the content sniffed (never the file name):
// images, PDF, Office documents, plain text and common video.
var evidenceTypes = map[string]bool{
	"image/jpeg": true, "image/png": true, "image/gif": true, "image/webp": true, "image/bmp": true,
	"application/pdf": true,
	"text/plain":      true,
	"video/mp4":       true, "video/webm": true, "video/quicktime": true, "video/avi": true,
	"application/vnd.openxmlformats-officedocument.wordprocessingml.document":   true,
	"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet":         true,
	"application/vnd.openxmlformats-officedocument.presentationml.presentation": true,
	"application/x-ole-storage": true, // .doc, .xls, .ppt (OLE2 compound file)
}

// EvidenceTypeAllowed reports whether files of content type t (sniffed
// from their content; parameters such as charset are ignored) may be
// handed in as evidence.
func EvidenceTypeAllowed(t string) bool {
	base, _, _ := strings.Cut(t, ";")
	return evidenceTypes[strings.TrimSpace(base)]
}

// EvidenceInput describes a stored file being attached to a problem.
type EvidenceInput struct {
	SHA256      string
	Name        string
	Size        int64
	Type        string
	Description string
	// Phase is what the file shows; empty takes DefaultPhase. An
	// inspector's upload is always a site-check photo.
	Phase Phase
	// Photo is what the photo checks found in the file (Service.CheckPhoto),
	// nil when it is no image they examine.
	Photo PhotoReport
}

// SetBlobs lets the service check that evidence it records exists.
func (s *Service) SetBlobs(b Blobs) {
	s.mu.Lock()
	s.blobs = b
	s.mu.Unlock()
}

// Blobs returns the evidence file store, or nil.
func (s *Service) Blobs() Blobs {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.blobs
}

// AddEvidence attaches a stored file to problem id: members of the lead or
// cooperating units, while the problem is assigned or rectifying (evidence
// under review is frozen).
func (s *Service) AddEvidence(ctx context.Context, a Actor, id string, in EvidenceInput, ifVersion uint64) (*Problem, error) {
	var err error
	if in.Name, err = CleanText("name", in.Name); err != nil {
		return nil, err
	}
	if in.Description, err = CleanText("description", in.Description); err != nil {
		return nil, err
	}
	if b, err := hex.DecodeString(in.SHA256); err != nil || len(b) != 32 || strings.ToLower(in.SHA256) != in.SHA256 {
		return nil, RefuseField(ReasonMalformed, "sha256", "sha256 must be 64 lowercase hex digits")
	}
	switch {
	case in.Size <= 0:
		return nil, RefuseField(ReasonFileEmpty, "file", "the file is empty")
	case in.Name == "":
		return nil, RefuseField(ReasonFileMissing, "name", "a file name of 1 to %d characters is required", MaxTitle)
	case utf8.RuneCountInString(in.Name) > MaxTitle:
		return nil, RefuseField(ReasonTooLong, "name", "a file name of 1 to %d characters is required", MaxTitle)
	case utf8.RuneCountInString(in.Description) > MaxText:
		return nil, RefuseField(ReasonTooLong, "description", "description is longer than %d characters", MaxText)
	}
	if !EvidenceTypeAllowed(in.Type) {
		return nil, RefuseField(ReasonFileType, "file", "files of type %s are not accepted as evidence", in.Type)
	}
	if b := s.Blobs(); b != nil {
		size, err := b.Stat(ctx, in.SHA256)
		if err != nil || size != in.Size {
			return nil, RefuseField(ReasonFileNotStored, "sha256", "no stored file %s of %d bytes", in.SHA256, in.Size)
		}
	}
	phase, err := inputPhase(a, in)
	if err != nil {
		return nil, err
	}
	photo, err := s.photoFacts(ctx, a, id, in.Photo)
	if err != nil {
		return nil, err
	}
	now := s.clock.Now()
	cfg := s.EvidencePolicy()
	return s.command(ctx, a, id, ifVersion, func(p *Problem) (Entry, error) {
		if err := s.CanAddEvidence(a, p); err != nil {
			return Entry{}, err
		}
		if err := p.refuseSameFile(in.SHA256); err != nil {
			return Entry{}, err
		}
		ev := Evidence{SHA256: in.SHA256, Name: in.Name, Size: in.Size, Type: in.Type, Description: in.Description,
			UploadedBy: a.ID, Uploader: a.Name, UnitID: a.UnitID, At: now, Round: p.EvidenceRound, Phase: phase}
		photo.decide(p, &ev, cfg)
		return Entry{At: now, Actor: a, Action: ActionEvidence, From: p.State, To: p.State, Params: Params{Evidence: &ev}}, nil
	})
}

// refuseSameFile refuses a file already among p's evidence: handed in
// again, it is not new (issue 16: the same photo after a rejection).
func (p *Problem) refuseSameFile(sha string) error {
	for _, e := range p.Evidence {
		if e.SHA256 == sha {
			return RefuseField(ReasonSameEvidence, "file",
				"this file (SHA-256 %s) is already among the problem's evidence, handed in %s: the same file again is not new evidence",
				sha, e.At.In(Shanghai).Format("2006-01-02 15:04")).InState(p.State, nil)
		}
	}
	return nil
}

// CanAddEvidence tells whether a may hand in evidence for p now: members of
// the lead or cooperating units, while p is assigned or rectifying; an
// inspector who may decide p's submission, site-check photos while it waits
// on the inspectors (SiteCheckPhotoAllowed).
func (s *Service) CanAddEvidence(a Actor, p *Problem) error {
	if a.Role == RoleInspector {
		return canAddSitePhoto(a, p, s.PermittedTriggers(a, p), s.Policy().Separation)
	}
	if a.Role != RoleUnit || !p.Involves(a.UnitID) {
		return Refuse(ReasonNotInvolved, "only members of the lead or cooperating units may add evidence")
	}
	if p.State != StateAssigned && p.State != StateRectifying {
		return Refuse(ReasonEvidenceFrozen, "evidence may be added only while the problem is assigned or rectifying; evidence under review is frozen").
			InState(p.State, s.PermittedTriggers(a, p))
	}
	return nil
}

// hasNewEvidence reports whether p has evidence of the lead or cooperating
// units added since its last rejection.
func (p *Problem) hasNewEvidence() bool {
	for _, e := range p.Evidence {
		if e.Round == p.EvidenceRound && e.Phase != PhaseSiteCheck {
			return true
		}
	}
	return false
}

// EvidenceHashes returns the SHA-256 of every evidence item of p, in order,
// without repeats. Stores index them so that a file's problems can be found.
func (p *Problem) EvidenceHashes() []string {
	var out []string
	seen := map[string]bool{}
	for _, e := range p.Evidence {
		if !seen[e.SHA256] {
			seen[e.SHA256] = true
			out = append(out, e.SHA256)
		}
	}
	return out
}

// Duplicates returns, for each evidence file of p that other problems use
// too, the codes of those problems: a sign of fake rectification (虚假整改),
// shown as a warning, never a refusal. On a store with an EvidenceIndex it
// reads only the records of the other problems; without one it pages
// through Problems filtered by each file.
func (s *Service) Duplicates(ctx context.Context, p *Problem) (map[string][]string, error) {
	if ix, ok := s.store.(EvidenceIndex); ok {
		return duplicatesFromIndex(ctx, s.store, ix, p)
	}
	out := map[string][]string{}
	for _, sha := range p.EvidenceHashes() {
		cursor := ""
		for {
			items, next, err := s.store.Problems(ctx, ProblemFilter{Evidence: sha, Cursor: cursor, Limit: MaxLimit})
			if err != nil {
				return nil, err
			}
			for _, q := range items {
				if q.ID != p.ID {
					out[sha] = append(out[sha], q.Code)
				}
			}
			if next == "" {
				break
			}
			cursor = next
		}
	}
	return out, nil
}

// duplicatesFromIndex is Duplicates on an EvidenceIndex: only the records of
// other problems holding a file are read, for their codes, and a file no
// other problem holds (the usual case) costs one index lookup.
func duplicatesFromIndex(ctx context.Context, st Store, ix EvidenceIndex, p *Problem) (map[string][]string, error) {
	out := map[string][]string{}
	for _, sha := range p.EvidenceHashes() {
		ids, err := ix.ProblemsWithEvidence(ctx, sha)
		if err != nil {
			return nil, err
		}
		for _, id := range ids {
			if id == p.ID {
				continue
			}
			q, err := st.Problem(ctx, id)
			if err != nil {
				return nil, err
			}
			out[sha] = append(out[sha], q.Code)
		}
	}
	return out, nil
}

// DuplicatesFor is Duplicates as actor a may see them: none for unit
// officers, who may not learn the codes of problems they cannot see.
func (s *Service) DuplicatesFor(ctx context.Context, a Actor, p *Problem) (map[string][]string, error) {
	if len(p.Evidence) == 0 || a.Role == RoleUnit || !CanSee(a, p) {
		return nil, nil
	}
	return s.Duplicates(ctx, p)
}

// CanSeeEvidence reports whether a may download file sha: it must see a
// problem that references it.
func (s *Service) CanSeeEvidence(ctx context.Context, a Actor, sha string) (bool, error) {
	f := ProblemFilter{Evidence: sha, Limit: 1}
	if a.Role == RoleUnit {
		f.Unit = a.UnitID
	}
	items, _, err := s.Problems(ctx, a, f)
	return len(items) > 0, err
}

// duplicateWarnings lists, in words for the inspector, the evidence of
// problem id that other problems use too. It reads outside the write
// transaction: a warning may be a moment stale, never wrong about the past.
func (s *Service) duplicateWarnings(ctx context.Context, a Actor, id string) ([]string, error) {
	p, err := s.Problem(ctx, a, id)
	if err != nil {
		return nil, err
	}
	dups, err := s.Duplicates(ctx, p)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range p.Evidence {
		if codes := dups[e.SHA256]; len(codes) > 0 {
			out = append(out, "佐证材料「"+e.Name+"」（SHA-256 "+e.SHA256[:12]+"…）也出现在问题 "+strings.Join(codes, "、")+" 中，请核实是否重复使用")
			delete(dups, e.SHA256)
		}
	}
	return out, nil
}
