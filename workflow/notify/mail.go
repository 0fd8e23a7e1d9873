package notify

import (
	"context"
	"errors"
	"fmt"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// Mail configures the SMTP server e-mails go through.
type Mail struct {
	Host     string
	Port     int    // default 587
	From     string // the sender address
	Username string // with Password: SMTP AUTH PLAIN
	Password string
	// TLS: "mandatory" (STARTTLS required, the default), "opportunistic"
	// or "none" (a relay on the bureau's own network; tests).
	TLS     string
	Timeout time.Duration // default 30s
}

// Enabled reports whether e-mail is configured.
func (m Mail) Enabled() bool { return m.Host != "" && m.From != "" }

func (m Mail) client() (*gomail.Client, error) {
	port := m.Port
	if port == 0 {
		port = 587
	}
	timeout := m.Timeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	policy := gomail.TLSMandatory
	switch m.TLS {
	case "", "mandatory":
	case "opportunistic":
		policy = gomail.TLSOpportunistic
	case "none":
		policy = gomail.NoTLS
	default:
		return nil, fmt.Errorf("notify: unknown mail TLS policy %q (mandatory, opportunistic or none)", m.TLS)
	}
	opts := []gomail.Option{gomail.WithPort(port), gomail.WithTimeout(timeout), gomail.WithTLSPolicy(policy)}
	if m.Username != "" {
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthPlain), gomail.WithUsername(m.Username), gomail.WithPassword(m.Password))
	}
	return gomail.NewClient(m.Host, opts...)
}

// Check reports whether the configuration can make a client.
func (m Mail) Check() error {
	if !m.Enabled() {
		return nil
	}
	if err := CheckEmail(m.From); err != nil {
		return fmt.Errorf("notify: mail sender %q is not an e-mail address", m.From)
	}
	_, err := m.client()
	return err
}

// send sends one plain-text message.
func (m Mail) send(ctx context.Context, to, subject, body string) error {
	if !m.Enabled() {
		return errors.New("e-mail is not configured on this server")
	}
	c, err := m.client()
	if err != nil {
		return err
	}
	msg := gomail.NewMsg()
	if err := msg.From(m.From); err != nil {
		return err
	}
	if err := msg.To(to); err != nil {
		return err
	}
	msg.Subject(subject)
	msg.SetDate()
	msg.SetMessageID()
	msg.SetBodyString(gomail.TypeTextPlain, body)
	return c.DialAndSendWithContext(ctx, msg)
}
