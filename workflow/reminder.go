package workflow

import (
	"context"
	"strings"
	"time"
)

// Reminders (docs/design.md#reminders): contacts that an admin sets (a
// user's e-mail address, a unit's DingTalk and WeCom group robots) and the
// notices sent to them, each a record in the store from when it is queued
// until it is sent, which is the delivery log admins read.

// Channel is how a notice reaches its recipient.
type Channel string

// Channels.
const (
	ChannelEmail    Channel = "email"    // 电子邮件, to a user
	ChannelDingTalk Channel = "dingtalk" // 钉钉群机器人, to a unit
	ChannelWeCom    Channel = "wecom"    // 企业微信群机器人, to a unit
)

// Kinds of notice.
const (
	NoticeDigest            = "digest"             // 每日提醒: the working day's digest of a unit
	NoticeAssigned          = "assigned"           // 交办: a problem was assigned (or reassigned) to the unit
	NoticeRejected          = "rejected"           // 退回: the unit's submission was rejected
	NoticeExtensionDecision = "extension_decision" // 延期审批结果
)

// States of a notice.
const (
	NoticePending = "pending" // queued or failing: sent again after NextAt
	NoticeSent    = "sent"    // the channel accepted it
	NoticeDropped = "dropped" // its recipient has no such contact any more (LastError says)
)

// Contact is what an admin set for one recipient: Key is ContactKeyUnit or
// ContactKeyUser of its id. Secrets are stored, never shown back (Masked).
type Contact struct {
	Key            string    `json:"key"`
	Email          string    `json:"email,omitempty"`
	DingTalkURL    string    `json:"dingtalk_url,omitempty"`
	DingTalkSecret string    `json:"dingtalk_secret,omitempty"`
	WeComURL       string    `json:"wecom_url,omitempty"`
	UpdatedAt      time.Time `json:"updated_at"`
	UpdatedBy      string    `json:"updated_by"`
}

// ContactKeyUnit and ContactKeyUser name a unit's and a user's contact.
func ContactKeyUnit(id string) string { return "unit/" + id }
func ContactKeyUser(id string) string { return "user/" + id }

// Empty reports whether c sets no address.
func (c Contact) Empty() bool { return c.Email == "" && c.DingTalkURL == "" && c.WeComURL == "" }

// ContactView is a contact as the API shows it: robot URLs without their
// query (where the access token is) and no secret.
type ContactView struct {
	Key               string    `json:"key"`
	Email             string    `json:"email,omitempty"`
	DingTalkURL       string    `json:"dingtalk_url,omitempty"`
	DingTalkSecretSet bool      `json:"dingtalk_secret_set"`
	WeComURL          string    `json:"wecom_url,omitempty"`
	UpdatedAt         time.Time `json:"updated_at"`
	UpdatedBy         string    `json:"updated_by"`
}

// Masked returns c as the API shows it.
func (c Contact) Masked() ContactView {
	return ContactView{
		Key: c.Key, Email: c.Email,
		DingTalkURL: MaskURL(c.DingTalkURL), DingTalkSecretSet: c.DingTalkSecret != "",
		WeComURL: MaskURL(c.WeComURL), UpdatedAt: c.UpdatedAt, UpdatedBy: c.UpdatedBy,
	}
}

// MaskURL returns u up to its query, with "?…" when it had one: robot URLs
// carry their access token in the query.
func MaskURL(u string) string {
	if base, _, ok := strings.Cut(u, "?"); ok {
		return base + "?…"
	}
	return u
}

// Notice is one message to one recipient on one channel, queued in the
// store and sent by the leader (workflow/notify) until its channel accepts
// it. Key makes it unique: a notice for an event or a day is queued once
// however often (and by however many replicas) it is asked for.
type Notice struct {
	Key     string  `json:"key"`
	Kind    string  `json:"kind"`
	Channel Channel `json:"channel"`
	// Unit is the unit it concerns; User the user it goes to (e-mail).
	Unit string `json:"unit"`
	User string `json:"user,omitempty"`
	// ProblemID is the problem of an immediate notice.
	ProblemID string `json:"problem_id,omitempty"`
	// Title and Text (Markdown) are in Chinese.
	Title string `json:"title"`
	Text  string `json:"text"`

	State     string     `json:"state"`
	Attempts  int        `json:"attempts"`
	NextAt    time.Time  `json:"next_at"`
	LastError string     `json:"last_error,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
	SentAt    *time.Time `json:"sent_at,omitempty"`
}

// Reminders is the store capability of reminders: contacts and the notice
// queue that is also the delivery log.
type Reminders interface {
	// PutContact stores c under c.Key, replacing any; an empty contact
	// (Contact.Empty) is removed.
	PutContact(ctx context.Context, c Contact) error
	// Contacts returns every contact, ordered by key.
	Contacts(ctx context.Context) ([]Contact, error)
	// AddNotice stores n, pending, unless a notice with its key exists
	// (then created is false and nothing is written).
	AddNotice(ctx context.Context, n Notice) (created bool, err error)
	// UpdateNotice reads notice key, calls apply with a copy and writes it
	// if apply succeeds (a notice no longer pending leaves the pending
	// list); CodeNotFound for an unknown key.
	UpdateNotice(ctx context.Context, key string, apply func(n *Notice) error) (*Notice, error)
	// PendingNotices returns at most limit pending notices whose keys
	// sort after after ("" for the first), by key.
	PendingNotices(ctx context.Context, after string, limit int) ([]Notice, error)
	// NoticeLog returns at most limit notices, newest first.
	NoticeLog(ctx context.Context, limit int) ([]Notice, error)
}

// MaxNoticeLog is the most notices NoticeLog is asked for at once.
const MaxNoticeLog = 500

// AddressCheck checks the addresses an admin sets (the domain cannot
// resolve or parse network addresses itself): URL a robot URL, Email an
// e-mail address. Each returns an *Error with ReasonBadWebhookURL,
// ReasonPrivateAddress or ReasonBadEmail. workflow/notify has the real one.
type AddressCheck struct {
	URL   func(ctx context.Context, raw string) error
	Email func(raw string) error
}

// SetAddressCheck sets how contacts are checked; without one, no contact
// can be set.
func (s *Service) SetAddressCheck(c AddressCheck) { s.addrCheck = c }

func (s *Service) reminders() (Reminders, error) {
	r, ok := s.store.(Reminders)
	if !ok {
		return nil, Refuse(ReasonBadConfig, "this store keeps no reminders")
	}
	return r, nil
}

// UnitContactInput is what an admin sets for a unit: each nil field is
// kept, each empty one cleared.
type UnitContactInput struct {
	DingTalkURL    *string `json:"dingtalk_url"`
	DingTalkSecret *string `json:"dingtalk_secret"`
	WeComURL       *string `json:"wecom_url"`
}

// SetUnitContact sets unit id's robots (admins only).
func (s *Service) SetUnitContact(ctx context.Context, a Actor, id string, in UnitContactInput) (ContactView, error) {
	if a.Role != RoleAdmin {
		return ContactView{}, Refuse(ReasonRole, "only an admin sets a unit's robots")
	}
	rs, err := s.reminders()
	if err != nil {
		return ContactView{}, err
	}
	if _, err := s.Unit(ctx, id); err != nil {
		return ContactView{}, err
	}
	c, err := s.contact(ctx, rs, ContactKeyUnit(id))
	if err != nil {
		return ContactView{}, err
	}
	for _, f := range []struct {
		field string
		in    *string
		out   *string
	}{{"dingtalk_url", in.DingTalkURL, &c.DingTalkURL}, {"wecom_url", in.WeComURL, &c.WeComURL}} {
		if f.in == nil {
			continue
		}
		u := strings.TrimSpace(*f.in)
		if u != "" {
			if err := s.checkURL(ctx, f.field, u); err != nil {
				return ContactView{}, err
			}
		}
		*f.out = u
	}
	if in.DingTalkSecret != nil {
		sec := strings.TrimSpace(*in.DingTalkSecret)
		if len(sec) > 200 || strings.ContainsFunc(sec, func(r rune) bool { return r < 0x21 || r > 0x7e }) {
			return ContactView{}, RefuseField(ReasonMalformed, "dingtalk_secret", "the signing secret must be at most 200 printable ASCII characters")
		}
		c.DingTalkSecret = sec
	}
	if c.DingTalkURL == "" && c.DingTalkSecret != "" {
		if in.DingTalkURL != nil && in.DingTalkSecret == nil {
			c.DingTalkSecret = "" // the robot is gone, and its secret with it
		} else {
			return ContactView{}, RefuseField(ReasonSecretWithoutURL, "dingtalk_secret", "a signing secret without a DingTalk robot URL")
		}
	}
	c.UpdatedAt, c.UpdatedBy = s.clock.Now(), a.ID
	if err := rs.PutContact(ctx, c); err != nil {
		return ContactView{}, err
	}
	return c.Masked(), nil
}

// SetUserEmail sets user id's e-mail address ("" clears it; admins only).
func (s *Service) SetUserEmail(ctx context.Context, a Actor, id, email string) (ContactView, error) {
	if a.Role != RoleAdmin {
		return ContactView{}, Refuse(ReasonRole, "only an admin sets a user's e-mail address")
	}
	rs, err := s.reminders()
	if err != nil {
		return ContactView{}, err
	}
	if _, err := s.userByID(ctx, id); err != nil {
		return ContactView{}, err
	}
	email = strings.TrimSpace(email)
	if email != "" {
		if s.addrCheck.Email == nil {
			return ContactView{}, RefuseField(ReasonBadConfig, "email", "e-mail addresses are not checked on this server")
		}
		if err := s.addrCheck.Email(email); err != nil {
			return ContactView{}, err
		}
	}
	c, err := s.contact(ctx, rs, ContactKeyUser(id))
	if err != nil {
		return ContactView{}, err
	}
	c.Email, c.UpdatedAt, c.UpdatedBy = email, s.clock.Now(), a.ID
	if err := rs.PutContact(ctx, c); err != nil {
		return ContactView{}, err
	}
	return c.Masked(), nil
}

func (s *Service) checkURL(ctx context.Context, field, u string) error {
	if s.addrCheck.URL == nil {
		return RefuseField(ReasonBadConfig, field, "robot URLs are not checked on this server")
	}
	if err := s.addrCheck.URL(ctx, u); err != nil {
		if e, ok := err.(*Error); ok {
			e.Field = field
			return e
		}
		return RefuseField(ReasonBadWebhookURL, field, "%v", err)
	}
	return nil
}

// userByID returns user id or ReasonUserNotFound.
func (s *Service) userByID(ctx context.Context, id string) (*User, error) {
	us, err := s.store.Users(ctx)
	if err != nil {
		return nil, err
	}
	for i := range us {
		if us[i].ID == id {
			return &us[i], nil
		}
	}
	return nil, Refuse(ReasonUserNotFound, "user %q not found", id)
}

func (s *Service) contact(ctx context.Context, rs Reminders, key string) (Contact, error) {
	cs, err := rs.Contacts(ctx)
	if err != nil {
		return Contact{}, err
	}
	for _, c := range cs {
		if c.Key == key {
			return c, nil
		}
	}
	return Contact{Key: key}, nil
}

// Contacts returns every contact as the API shows it (admins only).
func (s *Service) Contacts(ctx context.Context, a Actor) ([]ContactView, error) {
	if a.Role != RoleAdmin {
		return nil, Refuse(ReasonRole, "only an admin sees contacts")
	}
	rs, err := s.reminders()
	if err != nil {
		return nil, err
	}
	cs, err := rs.Contacts(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]ContactView, len(cs))
	for i, c := range cs {
		out[i] = c.Masked()
	}
	return out, nil
}

// Deliveries returns the newest notices, at most limit (admins only): the
// delivery log.
func (s *Service) Deliveries(ctx context.Context, a Actor, limit int) ([]Notice, error) {
	if a.Role != RoleAdmin {
		return nil, Refuse(ReasonRole, "only an admin sees the delivery log")
	}
	if limit <= 0 {
		limit = 100
	}
	if limit > MaxNoticeLog {
		return nil, RefuseField(ReasonOutOfRange, "limit", "limit must be at most %d", MaxNoticeLog)
	}
	rs, err := s.reminders()
	if err != nil {
		return nil, err
	}
	return rs.NoticeLog(ctx, limit)
}
