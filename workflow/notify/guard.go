package notify

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/mail"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/jdz-eco/rectify/workflow"
)

// Guard is the rule for robot URLs (no server-side request forgery through
// a URL an admin sets): https only, and never an address of this machine,
// its network or a cloud's metadata service, unless a flag allows it. Each
// URL is checked when it is set (its host resolved) and again on every
// delivery, on the address actually dialled (Client's dialer Control hook),
// so that a name that resolves elsewhere later is caught too.
type Guard struct {
	// AllowHTTP allows plain http:// robot URLs.
	AllowHTTP bool
	// AllowPrivate allows loopback, link-local, private and metadata
	// addresses (tests; robots inside the bureau's network).
	AllowPrivate bool
	// Resolver resolves host names when a URL is set (default net's).
	Resolver *net.Resolver
}

// metadata lists cloud metadata services outside the ranges Blocked
// refuses anyway (Alibaba Cloud's is in the shared address space).
var metadata = []netip.Prefix{
	netip.MustParsePrefix("100.100.100.200/32"), // Alibaba Cloud
	netip.MustParsePrefix("100.64.0.0/10"),      // shared address space (RFC 6598), carrier NAT
	netip.MustParsePrefix("fd00:ec2::254/128"),  // AWS over IPv6
	netip.MustParsePrefix("192.0.0.0/24"),       // IETF protocol assignments
	netip.MustParsePrefix("198.18.0.0/15"),      // benchmarking
}

// Blocked reports whether ip is loopback, link-local (169.254.169.254, the
// metadata address of most clouds, is), private, unspecified, multicast or
// a metadata or otherwise internal address.
func Blocked(ip netip.Addr) bool {
	ip = ip.Unmap()
	if !ip.IsValid() || ip.IsLoopback() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsInterfaceLocalMulticast() || ip.IsMulticast() || ip.IsPrivate() || ip.IsUnspecified() {
		return true
	}
	if ip.Is4() && ip.As4()[0] == 0 { // 0.0.0.0/8: "this network"
		return true
	}
	for _, p := range metadata {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// ErrBlocked is the delivery error of a dial to a blocked address.
var ErrBlocked = errors.New("notify: the robot URL leads to a loopback, link-local, private or metadata address")

// CheckURL checks raw as a robot URL an admin sets, resolving its host: a
// refusal is a *workflow.Error with ReasonBadWebhookURL or
// ReasonPrivateAddress.
func (g Guard) CheckURL(ctx context.Context, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Hostname() == "" || u.User != nil || u.Fragment != "" || u.Opaque != "" {
		return workflow.Refuse(workflow.ReasonBadWebhookURL, "not a robot URL: want https://host/path?query, without credentials")
	}
	if len(raw) > 2000 || strings.ContainsAny(raw, " \t\r\n") {
		return workflow.Refuse(workflow.ReasonBadWebhookURL, "the robot URL is too long or holds spaces")
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && g.AllowHTTP:
	default:
		return workflow.Refuse(workflow.ReasonBadWebhookURL, "the robot URL must be https://")
	}
	if g.AllowPrivate {
		return nil
	}
	host := u.Hostname()
	if ip, err := netip.ParseAddr(host); err == nil {
		if Blocked(ip) {
			return workflow.Refuse(workflow.ReasonPrivateAddress, "the robot URL names %s, a loopback, link-local, private or metadata address", host)
		}
		return nil
	}
	if h := strings.ToLower(strings.TrimSuffix(host, ".")); h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return workflow.Refuse(workflow.ReasonPrivateAddress, "the robot URL names this machine")
	}
	r := g.Resolver
	if r == nil {
		r = net.DefaultResolver
	}
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	ips, err := r.LookupNetIP(rctx, "ip", host)
	if err != nil || len(ips) == 0 {
		return workflow.Refuse(workflow.ReasonBadWebhookURL, "the robot URL's host %s does not resolve", host)
	}
	for _, ip := range ips {
		if Blocked(ip) {
			return workflow.Refuse(workflow.ReasonPrivateAddress, "the robot URL's host %s resolves to %s, a loopback, link-local, private or metadata address", host, ip)
		}
	}
	return nil
}

// CheckEmail checks raw as one plain e-mail address (no display name).
func CheckEmail(raw string) error {
	a, err := mail.ParseAddress(raw)
	if err != nil || a.Name != "" || a.Address != raw || len(raw) > 254 || !strings.Contains(raw[strings.LastIndexByte(raw, '@')+1:], ".") {
		return workflow.RefuseField(workflow.ReasonBadEmail, "email", "%q is not one plain e-mail address", raw)
	}
	return nil
}

// AddressCheck returns the checks the service uses when contacts are set.
func (g Guard) AddressCheck() workflow.AddressCheck {
	return workflow.AddressCheck{URL: g.CheckURL, Email: CheckEmail}
}

// Client returns the HTTP client robots are posted with: no proxy from the
// environment, no redirects, a timeout, and a dialer that refuses a
// blocked address after resolution (unless AllowPrivate).
func (g Guard) Client(timeout time.Duration) *http.Client {
	d := &net.Dialer{Timeout: 10 * time.Second}
	if !g.AllowPrivate {
		d.Control = func(network, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return fmt.Errorf("%w: %s", ErrBlocked, address)
			}
			if Blocked(ap.Addr()) {
				return fmt.Errorf("%w: %s", ErrBlocked, ap.Addr())
			}
			return nil
		}
	}
	tr := &http.Transport{
		Proxy:               nil,
		DialContext:         d.DialContext,
		TLSHandshakeTimeout: 10 * time.Second,
		MaxIdleConns:        10,
		IdleConnTimeout:     90 * time.Second,
		ForceAttemptHTTP2:   true,
	}
	return &http.Client{
		Timeout:   timeout,
		Transport: tr,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return errors.New("notify: robots do not redirect")
		},
	}
}
