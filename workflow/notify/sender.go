// Package notify sends the reminders of workflow (docs/design.md#reminders)
// to people: e-mail through an SMTP server (github.com/wneessen/go-mail),
// DingTalk custom robots (markdown, signed) and WeCom group robots
// (markdown). Its jobs run on the leader only when replicas share etcd, the
// deliveries' every few seconds and the digests' with the routine:
//
//   - notify-events reads the outbox after its cursor ("notify") and queues
//     the immediate notices of each event (assignment, rejection, an
//     extension decision, and what other sources add): a workflow command
//     never waits for, nor fails with, a delivery;
//   - notify-digests queues each unit's digest once per working day, at or
//     after the configured time (Asia/Shanghai);
//   - notify-send sends the pending notices that are due, each attempt
//     claimed first where the store fences its leader (etcd), and records
//     the outcome on the notice: sent, or failed and due again after a
//     backoff that doubles up to a bound. A notice is never given up on
//     while its recipient keeps the contact; the notices are the delivery
//     log.
package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/jdz-eco/rectify/workflow"
	"github.com/jdz-eco/rectify/workflow/routine"
)

// Cursor names in the store.
const (
	CursorEvents  = "notify"        // the outbox seq whose notices are queued
	CursorDigests = "notify-digest" // the last day (yyyymmdd) whose digests are all queued
)

// Defaults of Config.
const (
	DefaultDigestAt   = 8*60 + 30 // 08:30
	DefaultMinBackoff = time.Minute
	DefaultMaxBackoff = 6 * time.Hour
	DefaultBatch      = 200
	// MaxEventAge: events older than this (by the service's clock) send
	// nothing, so that a first start on an old ledger does not notify its
	// whole past.
	MaxEventAge = 24 * time.Hour
)

// Config configures a Sender. Service is required.
type Config struct {
	Service *workflow.Service
	Guard   Guard
	Mail    Mail
	// DigestAt is the time of day (minutes after midnight, Asia/Shanghai)
	// from which each working day's digests are queued.
	DigestAt int
	// Client posts to robots; the default is Guard.Client(10s).
	Client     *http.Client
	MinBackoff time.Duration
	MaxBackoff time.Duration
	Batch      int
	Log        *slog.Logger
	// Now is the wall clock DingTalk's signature is stamped with (default
	// time.Now); retries are timed by the service's clock.
	Now func() time.Time
}

// Sender queues and sends the reminders.
type Sender struct {
	cfg   Config
	svc   *workflow.Service
	store workflow.Reminders
	log   *slog.Logger

	// resting holds the addresses that failed, each until the service's
	// time it may be tried again (MinBackoff after the failure).
	mu      sync.Mutex
	resting map[string]time.Time
}

// claimer is the store's fence on the leader (etcd's ClaimDelivery, as
// the webhook dispatcher uses it).
type claimer interface {
	ClaimDelivery(ctx context.Context, name string, after uint64) (time.Time, error)
}

// New checks cfg and fills in its defaults.
func New(cfg Config) (*Sender, error) {
	if cfg.Service == nil {
		return nil, errors.New("notify: no service")
	}
	rs, ok := cfg.Service.Store().(workflow.Reminders)
	if !ok {
		return nil, errors.New("notify: the store keeps no reminders")
	}
	if cfg.DigestAt < 0 || cfg.DigestAt >= 24*60 {
		return nil, fmt.Errorf("notify: digest time %d is not a time of day", cfg.DigestAt)
	}
	if err := cfg.Mail.Check(); err != nil {
		return nil, err
	}
	if cfg.Client == nil {
		cfg.Client = cfg.Guard.Client(10 * time.Second)
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = DefaultMinBackoff
	}
	if cfg.MaxBackoff < cfg.MinBackoff {
		cfg.MaxBackoff = max(DefaultMaxBackoff, cfg.MinBackoff)
	}
	if cfg.Batch <= 0 {
		cfg.Batch = DefaultBatch
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Sender{cfg: cfg, svc: cfg.Service, store: rs, log: cfg.Log, resting: map[string]time.Time{}}, nil
}

// ParseDigestAt parses "HH:MM" into minutes after midnight.
func ParseDigestAt(s string) (int, error) {
	t, err := time.Parse("15:04", s)
	if err != nil {
		return 0, fmt.Errorf("notify: digest time %q: want HH:MM", s)
	}
	return t.Hour()*60 + t.Minute(), nil
}

// Jobs returns all the sender's jobs, in the order they should run: the
// digests' (DigestJobs) between the deliveries' (DeliveryJobs).
func (s *Sender) Jobs() []routine.Job {
	d := s.DeliveryJobs()
	return []routine.Job{d[0], s.DigestJobs()[0], d[1]}
}

// DeliveryJobs are notify-events and notify-send: the server runs them in a
// runner of their own every few seconds, so that an immediate notice
// (assignment, rejection, an extension decision, an issued letter) leaves
// within seconds of its event, whichever replica took the command, and a
// queued digest or a retry within seconds of its time. A pass with nothing
// to do reads the cursor, the outbox after it and the pending notices.
func (s *Sender) DeliveryJobs() []routine.Job {
	return []routine.Job{
		{Name: "notify-events", Run: s.QueueEvents},
		{Name: "notify-send", Run: s.SendDue},
	}
}

// DigestJobs is notify-digests, which runs with the routine.
func (s *Sender) DigestJobs() []routine.Job {
	return []routine.Job{{Name: "notify-digests", Run: s.QueueDigests}}
}

// QueueEvents queues the immediate notices of the outbox events after the
// cursor and moves it; it returns how many notices were new.
func (s *Sender) QueueEvents(ctx context.Context) (int, error) {
	st := s.svc.Store()
	after, err := st.Cursor(ctx, CursorEvents)
	if err != nil {
		return 0, err
	}
	added := 0
	for {
		evs, err := st.Events(ctx, after, s.cfg.Batch)
		if err != nil || len(evs) == 0 {
			return added, err
		}
		oldest := s.svc.Clock().Now().Add(-MaxEventAge)
		for _, ev := range evs {
			if ev.Seq <= after {
				return added, fmt.Errorf("notify: outbox returned seq %d after %d", ev.Seq, after)
			}
			if !ev.Entry.At.Before(oldest) {
				n, err := s.svc.QueueEventNotices(ctx, ev)
				added += n
				if err != nil {
					return added, fmt.Errorf("event %d: %w", ev.Seq, err)
				}
			}
			after = ev.Seq
		}
		// Notices are queued once per key, so a crash before this moves
		// the cursor queues nothing twice.
		if err := st.SetCursor(ctx, CursorEvents, after); err != nil {
			return added, err
		}
	}
}

// QueueDigests queues today's digests once the time has come on a working
// day; a day whose digests are all queued is not looked at again.
func (s *Sender) QueueDigests(ctx context.Context) (int, error) {
	st := s.svc.Store()
	today, _ := strconv.ParseUint(s.svc.Clock().Now().In(workflow.Shanghai).Format("20060102"), 10, 64)
	done, err := st.Cursor(ctx, CursorDigests)
	if err != nil || done >= today {
		return 0, err
	}
	n, day, err := s.svc.QueueDigests(ctx, s.cfg.DigestAt)
	if err != nil || day == "" {
		return n, err
	}
	return n, st.SetCursor(ctx, CursorDigests, today)
}

// SendDue sends the pending notices whose time has come and returns how
// many were sent. A failed delivery is recorded on its notice and tried
// again later; a recipient address that failed is not tried again in the
// same pass (its other notices wait for the next), and one that did not
// answer at all (no connection, a timeout) rests for MinBackoff across
// passes, so that one that hangs costs one timeout a minute however often
// the passes run and however many notices it has. Only the store's errors
// (and the loss of leadership) are returned.
func (s *Sender) SendDue(ctx context.Context) (int, error) {
	var contacts map[string]workflow.Contact
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.svc.Clock().Now()
	for t, until := range s.resting {
		if !now.Before(until) {
			delete(s.resting, t)
		}
	}
	failing := map[string]bool{}
	sent := 0
	for after := ""; ; {
		pending, err := s.store.PendingNotices(ctx, after, s.cfg.Batch)
		if err != nil || len(pending) == 0 {
			return sent, err
		}
		after = pending[len(pending)-1].Key
		if contacts == nil {
			if contacts, err = s.contacts(ctx); err != nil {
				return sent, err
			}
		}
		for _, n := range pending {
			if _, rests := s.resting[target(n)]; rests || failing[target(n)] || n.NextAt.After(s.svc.Clock().Now()) {
				continue
			}
			ok, unanswered, err := s.attempt(ctx, n, contacts)
			if err != nil {
				return sent, err
			}
			switch {
			case ok:
				sent++
			case unanswered:
				s.resting[target(n)] = s.svc.Clock().Now().Add(s.cfg.MinBackoff)
			default:
				failing[target(n)] = true
			}
		}
	}
}

// target names the address a notice goes to.
func target(n workflow.Notice) string {
	if n.Channel == workflow.ChannelEmail {
		return "email/" + n.User
	}
	return string(n.Channel) + "/" + n.Unit
}

// attempt delivers n once, claimed first, and records the outcome; ok
// reports whether n was delivered (or settled otherwise, not failed),
// unanswered whether it failed for want of any answer (no connection, a
// timeout).
func (s *Sender) attempt(ctx context.Context, n workflow.Notice, contacts map[string]workflow.Contact) (ok, unanswered bool, err error) {
	if err := s.claim(ctx); err != nil {
		return false, false, err
	}
	to, derr := s.deliver(ctx, n, contacts)
	// A delivery cut short by the end of the pass is no failure of the
	// recipient; one that went through is recorded even so, or the next
	// leader (or start) would send it again.
	if derr != nil && ctx.Err() != nil {
		return false, false, ctx.Err()
	}
	now := s.svc.Clock().Now()
	_, uerr := s.store.UpdateNotice(context.WithoutCancel(ctx), n.Key, func(m *workflow.Notice) error {
		if m.State != workflow.NoticePending {
			return errSettled
		}
		m.Attempts++
		switch {
		case errors.Is(derr, errNoContact):
			m.State, m.LastError = workflow.NoticeDropped, derr.Error()
		case derr != nil:
			m.LastError = derr.Error()
			m.NextAt = now.Add(s.backoff(m.Attempts))
		default:
			m.State, m.LastError, m.SentAt = workflow.NoticeSent, "", &now
		}
		return nil
	})
	switch {
	case errors.Is(uerr, errSettled):
		return true, false, nil
	case uerr != nil:
		return false, false, uerr
	case derr == nil:
		s.log.Debug("notice sent", "key", n.Key, "channel", n.Channel, "to", to)
		return true, false, nil
	case errors.Is(derr, errNoContact):
		s.log.Info("notice dropped", "key", n.Key, "channel", n.Channel, "reason", derr)
		return true, false, nil
	}
	s.log.Warn("notice not delivered", "key", n.Key, "channel", n.Channel, "to", to, "attempt", n.Attempts+1, "err", derr)
	var ne net.Error
	return false, errors.As(derr, &ne), nil
}

var (
	errSettled   = errors.New("notify: the notice was settled meanwhile")
	errNoContact = errors.New("the recipient has no such contact any more")
)

// claim asks a fenced store whether this process is still the leader that
// may deliver (an error when not).
func (s *Sender) claim(ctx context.Context) error {
	c, ok := s.svc.Store().(claimer)
	if !ok {
		return nil
	}
	after, err := s.svc.Store().Cursor(ctx, CursorEvents)
	if err != nil {
		return err
	}
	until, err := c.ClaimDelivery(ctx, CursorEvents, after)
	if err != nil {
		return fmt.Errorf("notify: may not deliver: %w", err)
	}
	if !time.Now().Before(until) {
		return errors.New("notify: the claim to deliver ran out before it was used")
	}
	return nil
}

func (s *Sender) contacts(ctx context.Context) (map[string]workflow.Contact, error) {
	cs, err := s.store.Contacts(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[string]workflow.Contact, len(cs))
	for _, c := range cs {
		out[c.Key] = c
	}
	return out, nil
}

// deliver sends n to its recipient's current address and returns that
// address, masked, for the log.
func (s *Sender) deliver(ctx context.Context, n workflow.Notice, contacts map[string]workflow.Contact) (string, error) {
	switch n.Channel {
	case workflow.ChannelEmail:
		addr := contacts[workflow.ContactKeyUser(n.User)].Email
		if addr == "" {
			return "", errNoContact
		}
		return addr, s.cfg.Mail.send(ctx, addr, "【整改提醒】"+n.Title, n.Text)
	case workflow.ChannelDingTalk:
		c := contacts[workflow.ContactKeyUnit(n.Unit)]
		if c.DingTalkURL == "" {
			return "", errNoContact
		}
		u, err := DingTalkURL(c.DingTalkURL, c.DingTalkSecret, s.cfg.Now())
		if err != nil {
			return MaskURL(c.DingTalkURL), err
		}
		body, err := DingTalkBody(n.Title, n.Text)
		if err != nil {
			return "", err
		}
		return MaskURL(c.DingTalkURL), postRobot(ctx, s.cfg.Client, u, body)
	case workflow.ChannelWeCom:
		c := contacts[workflow.ContactKeyUnit(n.Unit)]
		if c.WeComURL == "" {
			return "", errNoContact
		}
		body, err := WeComBody(n.Text)
		if err != nil {
			return "", err
		}
		return MaskURL(c.WeComURL), postRobot(ctx, s.cfg.Client, c.WeComURL, body)
	}
	return "", fmt.Errorf("unknown channel %q", n.Channel)
}

// backoff is the wait after failed attempt n (1, 2, …).
func (s *Sender) backoff(n int) time.Duration {
	b := s.cfg.MinBackoff
	for i := 1; i < n && b < s.cfg.MaxBackoff; i++ {
		b *= 2
	}
	return min(b, s.cfg.MaxBackoff)
}
