package main

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/jdz-eco/rectify/workflow"
	"github.com/jdz-eco/rectify/workflow/notify"
	"github.com/jdz-eco/rectify/workflow/routine"
)

// notifyConfig is serve's configuration of reminders (workflow/notify):
// the daily digest's time, what robot URLs may point at, and the SMTP
// server e-mails go through.
type notifyConfig struct {
	digestAt     string
	allowHTTP    bool
	allowPrivate bool
	maxBackoff   time.Duration
	poll         time.Duration
	mail         notify.Mail
}

// addNotifyFlags adds the reminders' flags to fs.
func addNotifyFlags(fs *flag.FlagSet) *notifyConfig {
	var c notifyConfig
	fs.StringVar(&c.digestAt, "notify-digest-at", "08:30", "time of day (Asia/Shanghai) from which each working day's digest (每日提醒) is sent to each unit, HH:MM")
	fs.BoolVar(&c.allowHTTP, "notify-allow-http", false, "allow plain http:// robot URLs (DingTalk, WeCom); otherwise https only")
	fs.BoolVar(&c.allowPrivate, "notify-allow-private", false, "allow robot URLs on loopback, link-local, private or cloud-metadata addresses (a robot inside the bureau's network)")
	fs.DurationVar(&c.poll, "notify-poll-interval", 2*time.Second,
		"how often the leader looks for events to notify at once (assignment, rejection, extension decisions, issued letters) and for notices due to be sent")
	fs.DurationVar(&c.maxBackoff, "notify-max-backoff", notify.DefaultMaxBackoff, "longest wait between two attempts at a failing delivery (the first waits a minute, each next twice as long)")
	fs.StringVar(&c.mail.Host, "smtp-host", "", "SMTP server reminders are e-mailed through; empty: no e-mail")
	fs.IntVar(&c.mail.Port, "smtp-port", 587, "SMTP server port")
	fs.StringVar(&c.mail.From, "smtp-from", "", "sender address of reminder e-mails")
	fs.StringVar(&c.mail.Username, "smtp-user", "", "SMTP AUTH user (with RECTIFY_SMTP_PASSWORD)")
	fs.StringVar(&c.mail.Password, "smtp-password", "", "SMTP AUTH password; prefer RECTIFY_SMTP_PASSWORD")
	fs.StringVar(&c.mail.TLS, "smtp-tls", "mandatory", "STARTTLS: mandatory, opportunistic or none (a relay on the bureau's own network)")
	return &c
}

// guard is the rule for robot URLs.
func (c *notifyConfig) guard() notify.Guard {
	return notify.Guard{AllowHTTP: c.allowHTTP, AllowPrivate: c.allowPrivate}
}

func (c *notifyConfig) check() error {
	if _, err := notify.ParseDigestAt(strings.TrimSpace(c.digestAt)); err != nil {
		return fmt.Errorf("--notify-digest-at %q: a time of day such as 08:30", c.digestAt)
	}
	if c.poll <= 0 {
		return errors.New("--notify-poll-interval must be positive")
	}
	if c.maxBackoff < time.Minute {
		return errors.New("--notify-max-backoff must be at least a minute")
	}
	if (c.mail.Host == "") != (c.mail.From == "") {
		return errors.New("--smtp-host and --smtp-from go together")
	}
	return c.mail.Check()
}

// reminders returns the reminders' jobs on svc: the deliveries' runner
// (notify.Sender.DeliveryJobs, every --notify-poll-interval) and the
// digests' job for the routine; none when the store keeps no reminders.
func (c *notifyConfig) reminders(svc *workflow.Service, log *slog.Logger, observe func(string, int, error)) (*routine.Runner, []routine.Job, error) {
	if _, ok := svc.Store().(workflow.Reminders); !ok {
		return nil, nil, nil
	}
	at, err := notify.ParseDigestAt(strings.TrimSpace(c.digestAt))
	if err != nil {
		return nil, nil, err
	}
	log = log.With("component", "notify")
	s, err := notify.New(notify.Config{Service: svc, Guard: c.guard(), Mail: c.mail, DigestAt: at,
		MaxBackoff: c.maxBackoff, Log: log})
	if err != nil {
		return nil, nil, err
	}
	log.Info("reminders", "digest_at", c.digestAt, "poll", c.poll, "email", c.mail.Enabled(), "allow_http", c.allowHTTP, "allow_private", c.allowPrivate)
	deliveries := &routine.Runner{Jobs: s.DeliveryJobs(), Interval: c.poll, Log: log, Observe: observe}
	return deliveries, s.DigestJobs(), nil
}
