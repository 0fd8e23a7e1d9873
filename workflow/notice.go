package workflow

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Public notice before write-off (公示销号, docs/design.md#public-notice):
// closing a problem from a source that needs one starts a notice of some
// working days (verified → in_notice) instead of closing it; anyone may
// object meanwhile; the bureau upholds an objection (back to rectifying,
// with a new deadline) or dismisses it; when the notice has ended with no
// open objection, the scanner (or the bureau, if so configured) closes the
// problem (end_notice).

// Actions recorded in history for notices besides the triggers.
const (
	ActionObjection          = "objection"           // someone objected to a problem in notice (异议)
	ActionObjectionDismissed = "objection_dismissed" // the bureau dismissed an objection (异议不成立)
	ActionEvidencePublic     = "evidence_public"     // the bureau marked a photo public, or no longer public
)

// PublicActor is the actor of an objection: anyone, unsigned.
var PublicActor = Actor{ID: "public", Name: "公众", Role: RolePublic}

// NoticePolicy says which problems get a public notice before write-off,
// for how long, and who closes them when it ends.
type NoticePolicy struct {
	// Sources are the sources whose problems are published; none turns
	// notices off.
	Sources []Source
	// Days is the notice's length in working days of the calendar.
	Days int
	// By is who closes a problem whose notice ended: RoleSystem (the
	// scanner) or RoleBureau (a bureau member, by end_notice).
	By Role
}

// Bounds of a notice's length in working days.
const (
	MinNoticeDays = 1
	MaxNoticeDays = 60
)

// DefaultNoticePolicy, the default of rectify serve, publishes the problems of central and provincial
// inspections and of warning films for 5 working days, closed by the
// scanner.
func DefaultNoticePolicy() NoticePolicy {
	return NoticePolicy{
		Sources: []Source{SourceCentralInspection, SourceProvincialInspection, SourceWarningFilm},
		Days:    5,
		By:      RoleSystem,
	}
}

// Validate checks the sources, the length and the closer.
func (np NoticePolicy) Validate() error {
	for _, s := range np.Sources {
		if !s.Valid() {
			return RefuseField(ReasonBadConfig, "notice_sources", "unknown source %q; one of %v", s, Sources)
		}
	}
	switch {
	case np.Days < MinNoticeDays || np.Days > MaxNoticeDays:
		return RefuseField(ReasonBadConfig, "notice_days", "a notice lasts %d to %d working days, not %d", MinNoticeDays, MaxNoticeDays, np.Days)
	case np.By != RoleSystem && np.By != RoleBureau:
		return RefuseField(ReasonBadConfig, "notice_by", "a notice is closed by %s or %s, not %q", RoleSystem, RoleBureau, np.By)
	}
	return nil
}

// Needs reports whether problems from source s are published before
// write-off.
func (np NoticePolicy) Needs(s Source) bool { return slices.Contains(np.Sources, s) }

// SetNoticePolicy replaces the notice configuration (a new service
// publishes nothing; rectify serve sets DefaultNoticePolicy unless its
// flags say otherwise); notices already
// running keep the dates and closer they started with.
func (s *Service) SetNoticePolicy(np NoticePolicy) error {
	if err := np.Validate(); err != nil {
		return err
	}
	np.Sources = slices.Clone(np.Sources)
	s.mu.Lock()
	s.notice = &np
	s.mu.Unlock()
	return nil
}

// NoticePolicy returns the notice configuration.
func (s *Service) NoticePolicy() NoticePolicy {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.notice == nil {
		return NoticePolicy{Days: DefaultNoticePolicy().Days, By: RoleSystem}
	}
	np := *s.notice
	np.Sources = slices.Clone(np.Sources)
	return np
}

// NoticePeriod is a problem's public notice: from Start (the close that began
// it) to the end of its Days-th working day (End), closed then by By.
type NoticePeriod struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	Days  int       `json:"days"`
	By    Role      `json:"by"`
}

// ObjectionStatus is where an objection stands.
type ObjectionStatus string

// Objection statuses. An objection upheld sends the problem back; the
// others open then are superseded with it.
const (
	ObjectionOpen       ObjectionStatus = "open"
	ObjectionUpheld     ObjectionStatus = "upheld"
	ObjectionDismissed  ObjectionStatus = "dismissed"
	ObjectionSuperseded ObjectionStatus = "superseded"
)

// Objection is one objection to a problem in notice (异议), with the
// bureau's decision once made.
type Objection struct {
	ID        string          `json:"id"`
	At        time.Time       `json:"at"`
	Text      string          `json:"text"`
	Name      string          `json:"name,omitempty"`
	Contact   string          `json:"contact,omitempty"`
	Status    ObjectionStatus `json:"status"`
	DecidedAt *time.Time      `json:"decided_at,omitempty"`
	DecidedBy string          `json:"decided_by,omitempty"`
	Reason    string          `json:"reason,omitempty"`
}

// Limits of an objection, in characters, and of the objections a problem
// holds open at once.
const (
	MaxObjectionText    = 2000
	MaxObjectionName    = 50
	MaxObjectionContact = 100
	MaxOpenObjections   = 50
)

// ObjectionInput is what an objector gives.
type ObjectionInput struct {
	Text    string `json:"text"`
	Name    string `json:"name,omitempty"`
	Contact string `json:"contact,omitempty"`
}

// Validate cleans and checks the objection's texts.
func (in *ObjectionInput) Validate() error {
	for _, f := range []struct {
		name string
		v    *string
		max  int
	}{{"text", &in.Text, MaxObjectionText}, {"name", &in.Name, MaxObjectionName}, {"contact", &in.Contact, MaxObjectionContact}} {
		var err error
		if *f.v, err = CleanText(f.name, *f.v); err != nil {
			return err
		}
		if utf8.RuneCountInString(*f.v) > f.max {
			return RefuseField(ReasonTooLong, f.name, "%s is longer than %d characters", f.name, f.max)
		}
	}
	if in.Text == "" {
		return RefuseField(ReasonRequired, "text", "an objection needs its text")
	}
	return nil
}

// OpenObjections returns how many of p's objections are open.
func (p *Problem) OpenObjections() int {
	n := 0
	for _, o := range p.Objections {
		if o.Status == ObjectionOpen {
			n++
		}
	}
	return n
}

func (p *Problem) objection(id string) *Objection {
	for i := range p.Objections {
		if p.Objections[i].ID == id {
			return &p.Objections[i]
		}
	}
	return nil
}

// noticeEnded reports whether p's notice has run its time at now.
func (p *Problem) noticeEnded(now time.Time) bool {
	return p.State == StateInNotice && p.Notice != nil && now.After(p.Notice.End)
}

// noticeWake is when the scanner must close p: a second after its notice
// ends, when the scanner closes it and no objection is open; nil otherwise.
func (p *Problem) noticeWake() *time.Time {
	if p.State != StateInNotice || p.Notice == nil || p.Notice.By != RoleSystem || p.OpenObjections() > 0 {
		return nil
	}
	return ptr(p.Notice.End.Add(time.Second))
}

// startNotice returns the notice a close of p at now starts, or nil when
// p's source needs none.
func startNotice(p *Problem, now time.Time, np NoticePolicy, cal *Calendar) *NoticePeriod {
	if !np.Needs(p.Source) {
		return nil
	}
	return &NoticePeriod{Start: now, End: cal.AddWorkdays(now, np.Days), Days: np.Days, By: np.By}
}

// checkNoticeTrigger applies the rules of the notice triggers to a firing
// t on p at now, and fills the parameters the domain sets.
func checkNoticeTrigger(t Trigger, a Actor, p *Problem, prm *Params, now time.Time) error {
	switch t {
	case TriggerEndNotice:
		switch {
		case p.Notice == nil:
			return Refuse(ReasonNotPermitted, "problem %s has no notice", p.ID).InState(p.State, nil)
		case p.Notice.By == RoleSystem && a.Role != RoleSystem:
			return Refuse(ReasonNoticeBySystem, "the scanner closes this problem when its notice ends; nobody closes it by hand")
		case !p.noticeEnded(now):
			return Refuse(ReasonNoticeRunning, "the notice runs until %s", p.Notice.End.In(Shanghai).Format("2006-01-02 15:04")).InState(p.State, nil)
		case p.OpenObjections() > 0:
			return Refuse(ReasonObjectionOpen, "%d objection(s) are open: decide them before the notice ends", p.OpenObjections()).InState(p.State, nil)
		}
		n := *p.Notice
		prm.Notice = &n
	case TriggerUphold:
		o := p.objection(prm.ObjectionID)
		switch {
		case o == nil:
			return RefuseField(ReasonObjectionNotFound, "objection_id", "problem %s has no objection %s", p.ID, prm.ObjectionID)
		case o.Status != ObjectionOpen:
			return Refuse(ReasonObjectionDecided, "objection %s is already %s", o.ID, o.Status)
		}
		prm.Reason = o.Text
	}
	return nil
}

// applyNotice changes p as a notice entry e says (applyEffects).
func applyNotice(p *Problem, e *Entry) {
	prm := &e.Params
	switch {
	case Trigger(e.Action) == TriggerEndNotice:
		p.Resolution = ResolutionRectified
	case Trigger(e.Action) == TriggerUphold:
		for i := range p.Objections {
			o := &p.Objections[i]
			if o.Status != ObjectionOpen {
				continue
			}
			o.Status, o.DecidedAt, o.DecidedBy = ObjectionSuperseded, ptr(e.At), e.Actor.ID
			if o.ID == prm.ObjectionID {
				o.Status, o.Reason = ObjectionUpheld, prm.Note
			}
		}
		p.Notice = nil
		p.EvidenceRound++
		p.Resolution = ResolutionNone
		p.SubmittedBy, p.VerifiedBy, p.ClosedBy = "", "", ""
		p.Opinion, p.Statement = "", ""
		p.setDeadline(prm.Deadline)
	case e.Action == ActionObjection && prm.Objection != nil:
		o := *prm.Objection
		p.Objections = append(p.Objections, o)
	case e.Action == ActionObjectionDismissed:
		if o := p.objection(prm.ObjectionID); o != nil {
			o.Status, o.DecidedAt, o.DecidedBy, o.Reason = ObjectionDismissed, ptr(e.At), e.Actor.ID, prm.Reason
		}
	case e.Action == ActionEvidencePublic && prm.Public != nil:
		for i := range p.Evidence {
			if p.Evidence[i].SHA256 == prm.File {
				p.Evidence[i].Public = *prm.Public
			}
		}
	}
}

// FileObjection records an objection to problem id, which must be in
// notice with its notice still running; anyone may. A problem not in
// notice is CodeNotFound, as the public sees only problems in notice.
func (s *Service) FileObjection(ctx context.Context, id string, in ObjectionInput) (*Objection, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	now := s.clock.Now()
	var filed Objection
	_, err := s.apply(ctx, id, func(p *Problem) error {
		if p.State != StateInNotice {
			return Refuse(ReasonNotInNotice, "problem %s is not in public notice", id)
		}
		return nil
	}, func(p *Problem) (Entry, error) {
		switch {
		case p.noticeEnded(now):
			return Entry{}, Refuse(ReasonNoticeOver, "the notice of problem %s ended on %s", p.Code, p.Notice.End.In(Shanghai).Format("2006-01-02"))
		case p.OpenObjections() >= MaxOpenObjections:
			return Entry{}, Refuse(ReasonObjectionsFull, "problem %s already has %d open objections", p.Code, MaxOpenObjections)
		}
		filed = Objection{ID: strconv.Itoa(len(p.Objections) + 1), At: now, Text: in.Text, Name: in.Name, Contact: in.Contact, Status: ObjectionOpen}
		o := filed
		return Entry{At: now, Actor: PublicActor, Action: ActionObjection, From: p.State, To: p.State, Params: Params{Objection: &o}}, nil
	})
	if err != nil {
		return nil, err
	}
	return &filed, nil
}

// DismissObjection records the bureau's dismissal of objection oid of
// problem id, with its reason (异议不成立).
func (s *Service) DismissObjection(ctx context.Context, a Actor, id, oid, reason string, ifVersion uint64) (*Problem, error) {
	reason, err := CleanText("reason", reason)
	switch {
	case err != nil:
		return nil, err
	case reason == "":
		return nil, RefuseField(ReasonRequired, "reason", "dismissing an objection needs a reason")
	case utf8.RuneCountInString(reason) > MaxText:
		return nil, RefuseField(ReasonTooLong, "reason", "reason is longer than %d characters", MaxText)
	}
	now := s.clock.Now()
	return s.command(ctx, a, id, ifVersion, func(p *Problem) (Entry, error) {
		if err := needRole("dismiss objections", a, RoleBureau); err != nil {
			return Entry{}, err
		}
		o := p.objection(oid)
		switch {
		case o == nil:
			return Entry{}, RefuseField(ReasonObjectionNotFound, "objection_id", "problem %s has no objection %s", p.ID, oid)
		case o.Status != ObjectionOpen:
			return Entry{}, Refuse(ReasonObjectionDecided, "objection %s is already %s", o.ID, o.Status)
		}
		return Entry{At: now, Actor: a, Action: ActionObjectionDismissed, From: p.State, To: p.State,
			Params: Params{ObjectionID: oid, Reason: reason}}, nil
	})
}

// SetEvidencePublic marks the photo sha of problem id public (shown on
// the public notice page) or no longer public; the bureau only.
func (s *Service) SetEvidencePublic(ctx context.Context, a Actor, id, sha string, public bool, ifVersion uint64) (*Problem, error) {
	now := s.clock.Now()
	return s.command(ctx, a, id, ifVersion, func(p *Problem) (Entry, error) {
		if err := needRole("mark photos public", a, RoleBureau); err != nil {
			return Entry{}, err
		}
		i := slices.IndexFunc(p.Evidence, func(e Evidence) bool { return e.SHA256 == sha })
		switch {
		case i < 0:
			return Entry{}, Refuse(ReasonEvidenceNotFound, "problem %s has no evidence %s", p.ID, sha)
		case !isImage(p.Evidence[i].Type):
			return Entry{}, Refuse(ReasonNotPhoto, "only photos may be public, not %s", p.Evidence[i].Type)
		}
		return Entry{At: now, Actor: a, Action: ActionEvidencePublic, From: p.State, To: p.State,
			Params: Params{File: sha, Public: &public}}, nil
	})
}

// PublicNotice is what the public sees of a problem in notice or written
// off after one: nothing else of the problem leaks (no names of users, no
// notes, no evidence the bureau did not mark public).
type PublicNotice struct {
	ID          string        `json:"id"`
	Code        string        `json:"code"`
	Title       string        `json:"title"`
	County      string        `json:"county"`
	State       State         `json:"state"`
	Summary     string        `json:"summary"`
	Statement   string        `json:"statement"`
	NoticeStart time.Time     `json:"notice_start"`
	NoticeEnd   time.Time     `json:"notice_end"`
	Photos      []PublicPhoto `json:"photos"`
}

// PublicPhoto is a photo the bureau marked public.
type PublicPhoto struct {
	SHA256 string `json:"sha256"`
	Phase  Phase  `json:"phase,omitempty"`
}

// IsPublic reports whether the public sees p: in notice (公示), or written
// off after one. Such a problem carries the index tag TagPublic.
func (p *Problem) IsPublic() bool {
	return p.Notice != nil && (p.State == StateInNotice || p.State == StateClosed && p.Resolution == ResolutionRectified)
}

// publicNotice returns what the public sees of p, and false when p is
// neither in notice nor written off after one.
func (s *Service) publicNotice(ctx context.Context, p *Problem) (PublicNotice, bool) {
	if !p.IsPublic() {
		return PublicNotice{}, false
	}
	county := p.CountyID
	if u, err := s.Unit(ctx, p.CountyID); err == nil {
		county = u.Name
	}
	n := PublicNotice{ID: p.ID, Code: p.Code, Title: p.Title, County: county, State: p.State,
		Summary: p.Summary, Statement: p.Statement, NoticeStart: p.Notice.Start, NoticeEnd: p.Notice.End, Photos: []PublicPhoto{}}
	for _, e := range p.Evidence {
		if e.Public && isImage(e.Type) {
			n.Photos = append(n.Photos, PublicPhoto{SHA256: e.SHA256, Phase: e.Phase})
		}
	}
	return n, true
}

// Cursor phases of PublicNotices: the problems in notice, then those
// written off after one.
const (
	publicInNotice = "n."
	publicClosed   = "c."
)

// PublicNotices lists a page of what the public sees: the problems in
// notice, then those written off after one, each in creation order; anyone
// may read it. limit is DefaultLimit when 0, at most MaxLimit; cursor is ""
// or the next cursor of the page before, and the next is "" after the last
// page. Each page is a walk of the index tag TagPublic (with the state), so
// that it costs what the page holds, not the ledger's closed problems.
func (s *Service) PublicNotices(ctx context.Context, cursor string, limit int) ([]PublicNotice, string, error) {
	switch {
	case limit == 0:
		limit = DefaultLimit
	case limit < 0 || limit > MaxLimit:
		return nil, "", RefuseField(ReasonOutOfRange, "limit", "limit must be between 1 and %d", MaxLimit)
	}
	phase, inner := publicInNotice, ""
	if cursor != "" {
		var ok bool
		if inner, ok = strings.CutPrefix(cursor, publicInNotice); !ok {
			if inner, ok = strings.CutPrefix(cursor, publicClosed); !ok {
				return nil, "", RefuseField(ReasonMalformed, "cursor", "malformed cursor")
			}
			phase = publicClosed
		}
	}
	out := []PublicNotice{}
	for {
		st := StateInNotice
		if phase == publicClosed {
			st = StateClosed
		}
		items, next, err := s.store.Problems(ctx, ProblemFilter{State: st, Tag: TagPublic, Cursor: inner, Limit: limit - len(out)})
		if err != nil {
			return nil, "", err
		}
		for _, p := range items {
			if n, ok := s.publicNotice(ctx, p); ok {
				out = append(out, n)
			}
		}
		switch {
		case next != "" && len(out) >= limit:
			return out, phase + next, nil
		case next != "":
			inner = next
		case phase == publicInNotice && len(out) >= limit:
			return out, publicClosed, nil
		case phase == publicInNotice:
			phase, inner = publicClosed, ""
		default:
			return out, "", nil
		}
	}
}

// PublicPhoto returns the evidence record of photo sha of problem id if
// the public may see it: the problem is public (PublicNotices) and the
// bureau marked the photo public. Anything else is CodeNotFound.
func (s *Service) PublicPhoto(ctx context.Context, id, sha string) (*Evidence, error) {
	p, err := s.store.Problem(ctx, id)
	if err != nil {
		return nil, Refuse(ReasonEvidenceNotFound, "no public photo %s", sha)
	}
	if _, ok := s.publicNotice(ctx, p); ok {
		for i := range p.Evidence {
			if e := &p.Evidence[i]; e.SHA256 == sha && e.Public && isImage(e.Type) {
				return e, nil
			}
		}
	}
	return nil, Refuse(ReasonEvidenceNotFound, "no public photo %s", sha)
}

func isImage(contentType string) bool {
	return len(contentType) > 6 && contentType[:6] == "image/"
}

// noticeTriggerReady reports whether a may fire t (end_notice or
// uphold_objection) on p now, for the permitted triggers.
func (s *Service) noticeTriggerReady(t Trigger, a Actor, p *Problem) bool {
	if t == TriggerUphold {
		return p.OpenObjections() > 0
	}
	var prm Params
	return checkNoticeTrigger(t, a, p, &prm, s.clock.Now()) == nil
}

// endNoticeEntries closes p as the scanner when its notice has ended with
// no open objection and the scanner closes it: the end_notice entry, or
// none.
func endNoticeEntries(ctx context.Context, p *Problem, now time.Time) ([]Entry, error) {
	if p.noticeWake() == nil || !p.noticeEnded(now) {
		return nil, nil
	}
	var prm Params
	if err := checkNoticeTrigger(TriggerEndNotice, systemActor, p, &prm, now); err != nil {
		return nil, err
	}
	from := p.State
	if err := fire(ctx, p, TriggerEndNotice, false); err != nil {
		return nil, err
	}
	e := Entry{At: now, Actor: systemActor, Action: string(TriggerEndNotice), From: from, To: p.State, Params: prm}
	applyEffects(p, &e)
	return []Entry{e}, nil
}

// PublicHead returns the audit chain's head for the public notice page,
// which prints it so that anyone can keep it (SEQ:HASH).
func (s *Service) PublicHead(ctx context.Context) (ChainHead, error) {
	return s.store.Head(ctx)
}

// QueuedObjection is an open objection in the bureau's queue, with the
// problem it is about.
type QueuedObjection struct {
	Problem   *Problem
	Objection Objection
}

// ObjectionQueue lists the open objections, oldest problem first: the
// bureau's queue, which it upholds or dismisses.
func (s *Service) ObjectionQueue(ctx context.Context, a Actor) ([]QueuedObjection, error) {
	if err := needRole("read the objection queue", a, RoleBureau); err != nil {
		return nil, err
	}
	out := []QueuedObjection{}
	cursor := ""
	for {
		items, next, err := s.store.Problems(ctx, ProblemFilter{State: StateInNotice, Cursor: cursor, Limit: MaxLimit})
		if err != nil {
			return nil, err
		}
		for _, p := range items {
			for _, o := range p.Objections {
				if o.Status == ObjectionOpen {
					out = append(out, QueuedObjection{Problem: p, Objection: o})
				}
			}
		}
		if next == "" {
			return out, nil
		}
		cursor = next
	}
}

// SeesObjectors reports whether a may read who objected (name, contact):
// not a unit officer, whose unit the objection is about.
func SeesObjectors(a Actor) bool { return a.Role != RoleUnit }

// ObjectionsFor returns p's objections as a may read them: without the
// objector's name and contact for a unit officer.
func ObjectionsFor(a Actor, os []Objection) []Objection {
	out := make([]Objection, len(os))
	for i, o := range os {
		o.DecidedAt = clonePtr(o.DecidedAt)
		if !SeesObjectors(a) {
			o.Name, o.Contact = "", ""
		}
		out[i] = o
	}
	return out
}
