package workflow

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Message is what a notice says to a unit before it is addressed to the
// unit's robots and its members' e-mail addresses.
type Message struct {
	Kind      string
	Unit      string
	ProblemID string
	Title     string
	Text      string // Markdown
}

// DigestSection is one part of a unit's daily digest: a heading and one
// Markdown line per item; a section without lines is left out.
type DigestSection struct {
	Title string
	Lines []string
}

// NoticeSource is one source of what reminders say. Event returns the
// messages an outbox event sends at once (nil for none); Digest the section
// of unit's digest at now. Either may be nil. The service has the sources
// of problems (assignment, rejection, extension decision; due soon and
// overdue) and of dispatch rounds (reports pending); a feature adds its own
// with AddNoticeSource (supervision letters: issued letters at once,
// letters awaiting the unit's reply in the digest).
type NoticeSource struct {
	Name   string
	Event  func(ctx context.Context, ev Event) ([]Message, error)
	Digest func(ctx context.Context, unit Unit, now time.Time) (DigestSection, error)
}

// AddNoticeSource adds src after the sources the service has.
func (s *Service) AddNoticeSource(src NoticeSource) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.extraSources = append(s.extraSources, src)
}

func (s *Service) noticeSources() []NoticeSource {
	s.mu.RLock()
	extra := slices.Clone(s.extraSources)
	s.mu.RUnlock()
	return append([]NoticeSource{
		{Name: "problems", Event: s.problemEventMessages, Digest: s.problemDigest},
		{Name: "rounds", Digest: s.roundDigest},
		s.letterNoticeSource(),
	}, extra...)
}

// EventMessages returns the messages event ev sends at once, from every
// source.
func (s *Service) EventMessages(ctx context.Context, ev Event) ([]Message, error) {
	var out []Message
	for _, src := range s.noticeSources() {
		if src.Event == nil {
			continue
		}
		ms, err := src.Event(ctx, ev)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", src.Name, err)
		}
		out = append(out, ms...)
	}
	return out, nil
}

func shanghaiDate(t *time.Time) string {
	if t == nil {
		return "未定"
	}
	return t.In(Shanghai).Format(time.DateOnly)
}

// problemLine names p in a Markdown line: code and title.
func problemLine(p *Problem) string {
	return fmt.Sprintf("**%s** %s", p.Code, p.Title)
}

func (s *Service) problemEventMessages(ctx context.Context, ev Event) ([]Message, error) {
	e := ev.Entry
	if e.ProblemID == "" {
		return nil, nil
	}
	switch e.Action {
	case string(TriggerAssign), string(TriggerReassign), string(TriggerReject), ActionExtensionDecision:
	default:
		return nil, nil
	}
	p, err := s.store.Problem(ctx, e.ProblemID)
	if err != nil {
		if ErrorCode(err) == CodeNotFound {
			return nil, nil
		}
		return nil, err
	}
	m := Message{Unit: p.LeadUnit, ProblemID: p.ID}
	var b strings.Builder
	switch e.Action {
	case string(TriggerAssign), string(TriggerReassign):
		m.Kind = NoticeAssigned
		if e.Params.LeadUnit != "" {
			m.Unit = e.Params.LeadUnit
		}
		m.Title = "新交办问题 " + p.Code
		fmt.Fprintf(&b, "### 新交办问题\n\n%s 已交办贵单位牵头整改。\n\n- 整改期限：%s\n", problemLine(p), shanghaiDate(p.Deadline))
		if e.Params.Requirements != "" {
			fmt.Fprintf(&b, "- 整改要求：%s\n", oneLine(e.Params.Requirements))
		}
	case string(TriggerReject):
		m.Kind = NoticeRejected
		m.Title = "整改被退回 " + p.Code
		fmt.Fprintf(&b, "### 整改被退回\n\n%s 的整改材料未通过核查，已退回重新整改。\n\n- 整改期限：%s\n", problemLine(p), shanghaiDate(p.Deadline))
		if r := firstNonEmpty(e.Params.Reason, e.Params.Opinion); r != "" {
			fmt.Fprintf(&b, "- 退回意见：%s\n", oneLine(r))
		}
	case ActionExtensionDecision:
		m.Kind = NoticeExtensionDecision
		word := "未获批准"
		if e.Params.Decision == "approve" {
			word = "已获批准"
		}
		m.Title = "延期申请" + word + " " + p.Code
		fmt.Fprintf(&b, "### 延期申请%s\n\n%s 的延期申请%s。\n\n- 整改期限：%s\n", word, problemLine(p), word, shanghaiDate(p.Deadline))
		if e.Params.Note != "" {
			fmt.Fprintf(&b, "- 审批意见：%s\n", oneLine(e.Params.Note))
		}
	}
	if m.Unit == "" {
		return nil, nil
	}
	m.Text = b.String()
	out := []Message{m}
	if m.Kind == NoticeAssigned {
		for _, u := range p.CooperatingUnits {
			c := m
			c.Unit = u
			c.Text = strings.Replace(m.Text, "已交办贵单位牵头整改", "已交办，贵单位为配合单位", 1)
			out = append(out, c)
		}
	}
	return out, nil
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

// oneLine keeps a text to one line of at most 200 characters.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > 200 {
		s = string(r[:200]) + "…"
	}
	return s
}

// problemDigest lists the open problems unit leads that are due soon or
// overdue at now.
func (s *Service) problemDigest(ctx context.Context, unit Unit, now time.Time) (DigestSection, error) {
	pol := s.Policy()
	var soon, late []string
	f := ProblemFilter{LeadUnit: unit.ID, Limit: MaxLimit}
	for {
		ps, next, err := s.store.Problems(ctx, f)
		if err != nil {
			return DigestSection{}, err
		}
		for _, p := range ps {
			if !p.Open() || p.Deadline == nil {
				continue
			}
			over, left, _ := p.DaysOverdue(now)
			switch p.LevelAt(now, pol) {
			case LevelDueSoon:
				soon = append(soon, fmt.Sprintf("- %s，期限 %s（剩 %d 天）", problemLine(p), shanghaiDate(p.EffectiveDeadline()), left))
			case LevelOverdue, LevelRed, LevelListed:
				late = append(late, fmt.Sprintf("- %s，期限 %s（已逾期 %d 天）", problemLine(p), shanghaiDate(p.EffectiveDeadline()), over))
			}
		}
		if next == "" {
			break
		}
		f.Cursor = next
	}
	var lines []string
	if len(late) > 0 {
		lines = append(lines, fmt.Sprintf("**逾期未完成（%d 项）**", len(late)))
		lines = append(lines, late...)
	}
	if len(soon) > 0 {
		lines = append(lines, fmt.Sprintf("**即将到期（%d 项）**", len(soon)))
		lines = append(lines, soon...)
	}
	return DigestSection{Title: "整改期限", Lines: lines}, nil
}

// roundDigest lists the reports unit still owes in dispatch rounds.
func (s *Service) roundDigest(ctx context.Context, unit Unit, now time.Time) (DigestSection, error) {
	rs, ok := s.store.(Rounds)
	if !ok {
		return DigestSection{}, nil
	}
	rounds, err := rs.Rounds(ctx)
	if err != nil {
		return DigestSection{}, err
	}
	a := Actor{ID: "reminders", Role: RoleUnit, UnitID: unit.ID}
	var lines []string
	for _, h := range rounds {
		b, err := s.RoundBoard(ctx, a, h.ID)
		if err != nil {
			if ErrorCode(err) == CodeNotFound {
				continue
			}
			return DigestSection{}, err
		}
		missing := 0
		for _, r := range b.Rows {
			if r.Status == ReportMissing {
				missing++
			}
		}
		if missing == 0 {
			continue
		}
		when := "截止 " + b.Round.Due.In(Shanghai).Format("2006-01-02 15:04")
		if b.Due {
			when += "，已逾期"
		}
		lines = append(lines, fmt.Sprintf("- 「%s」尚有 %d 项未报送（%s）", b.Round.Title, missing, when))
	}
	return DigestSection{Title: "调度报送", Lines: lines}, nil
}

// Digest returns unit's digest at now: every source's section that has
// lines; ok is false when nothing concerns the unit.
func (s *Service) Digest(ctx context.Context, unit Unit, now time.Time) (m Message, ok bool, err error) {
	var b strings.Builder
	day := now.In(Shanghai).Format(time.DateOnly)
	fmt.Fprintf(&b, "## %s 每日提醒（%s）\n", unit.Name, day)
	for _, src := range s.noticeSources() {
		if src.Digest == nil {
			continue
		}
		sec, err := src.Digest(ctx, unit, now)
		if err != nil {
			return Message{}, false, fmt.Errorf("%s: %w", src.Name, err)
		}
		if len(sec.Lines) == 0 {
			continue
		}
		ok = true
		fmt.Fprintf(&b, "\n### %s\n\n%s\n", sec.Title, strings.Join(sec.Lines, "\n"))
	}
	return Message{Kind: NoticeDigest, Unit: unit.ID, Title: "每日提醒 " + day, Text: b.String()}, ok, nil
}

// Address turns m into notices, one per channel the unit can be reached
// on: its DingTalk and WeCom robots and the e-mail address of each of its
// members that has one (disabled users aside). key prefixes each notice's
// key. contacts and users are the store's, read once by the caller.
func Address(m Message, key string, contacts map[string]Contact, users []User, now time.Time) []Notice {
	base := Notice{Kind: m.Kind, Unit: m.Unit, ProblemID: m.ProblemID, Title: m.Title, Text: m.Text,
		State: NoticePending, NextAt: now, CreatedAt: now}
	var out []Notice
	uc := contacts[ContactKeyUnit(m.Unit)]
	if uc.DingTalkURL != "" {
		n := base
		n.Channel, n.Key = ChannelDingTalk, key+"/dingtalk"
		out = append(out, n)
	}
	if uc.WeComURL != "" {
		n := base
		n.Channel, n.Key = ChannelWeCom, key+"/wecom"
		out = append(out, n)
	}
	for _, u := range users {
		if u.UnitID != m.Unit || u.Disabled || contacts[ContactKeyUser(u.ID)].Email == "" {
			continue
		}
		n := base
		n.Channel, n.User, n.Key = ChannelEmail, u.ID, key+"/email/"+u.ID
		out = append(out, n)
	}
	return out
}

// queue adds the notices of ms (keyed by key and the unit) and returns how
// many were new.
func (s *Service) queue(ctx context.Context, rs Reminders, key string, ms []Message) (int, error) {
	if len(ms) == 0 {
		return 0, nil
	}
	cs, err := rs.Contacts(ctx)
	if err != nil {
		return 0, err
	}
	contacts := make(map[string]Contact, len(cs))
	for _, c := range cs {
		contacts[c.Key] = c
	}
	users, err := s.store.Users(ctx)
	if err != nil {
		return 0, err
	}
	now := s.clock.Now()
	added := 0
	for i, m := range ms {
		k := fmt.Sprintf("%s/%d/%s", key, i, m.Unit)
		for _, n := range Address(m, k, contacts, users, now) {
			created, err := rs.AddNotice(ctx, n)
			if err != nil {
				return added, err
			}
			if created {
				added++
			}
		}
	}
	return added, nil
}

// QueueEventNotices queues the immediate notices of ev (once each,
// however often it is called for ev) and returns how many were new.
func (s *Service) QueueEventNotices(ctx context.Context, ev Event) (int, error) {
	rs, err := s.reminders()
	if err != nil {
		return 0, err
	}
	ms, err := s.EventMessages(ctx, ev)
	if err != nil {
		return 0, err
	}
	return s.queue(ctx, rs, fmt.Sprintf("ev/%020d", ev.Seq), ms)
}

// QueueDigests queues today's digest of every unit something concerns,
// when today (Asia/Shanghai, by the calendar) is a working day and its
// time of day is at or past at (minutes after midnight); once per unit
// and day, however often it runs. It returns how many notices were new
// and the day it covered ("" when it is not time).
func (s *Service) QueueDigests(ctx context.Context, at int) (int, string, error) {
	rs, err := s.reminders()
	if err != nil {
		return 0, "", err
	}
	now := s.clock.Now()
	local := now.In(Shanghai)
	if !s.Calendar().IsWorkday(now) || local.Hour()*60+local.Minute() < at {
		return 0, "", nil
	}
	day := local.Format(time.DateOnly)
	units, err := s.Units(ctx)
	if err != nil {
		return 0, "", err
	}
	added := 0
	for _, u := range units {
		m, ok, err := s.Digest(ctx, u, now)
		if err != nil {
			return added, "", fmt.Errorf("digest of %s: %w", u.ID, err)
		}
		if !ok {
			continue
		}
		n, err := s.queue(ctx, rs, "digest/"+day, []Message{m})
		added += n
		if err != nil {
			return added, "", err
		}
	}
	return added, day, nil
}
