package api_test

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/jdz-eco/rectify/api"
)

// TestTrustedProxies: the client's address is the connection's peer, and
// X-Forwarded-For is read only when the peer is a configured proxy, up to
// the nearest address that is not one (a client cannot put an address of
// its choosing in front of the proxy's).
func TestTrustedProxies(t *testing.T) {
	nets, err := api.ParseTrustedProxies(" 10.0.0.0/8, 192.0.2.7 ,2001:db8::/32,")
	if err != nil || len(nets) != 3 || nets[1].String() != "192.0.2.7/32" {
		t.Fatalf("ParseTrustedProxies = %v, %v", nets, err)
	}
	for _, bad := range []string{"10.0.0.0/33", "proxy.example", "10.0.0"} {
		if _, err := api.ParseTrustedProxies(bad); err == nil {
			t.Errorf("ParseTrustedProxies(%q) accepted", bad)
		}
	}
	tests := []struct {
		name, peer, xff, want string
		trusted               bool
	}{
		{"no proxies configured", "10.1.2.3:4000", "203.0.113.9", "10.1.2.3", false},
		{"an untrusted peer", "198.51.100.7:4000", "203.0.113.9", "198.51.100.7", true},
		{"an untrusted peer on a private address", "172.16.0.5:4000", "203.0.113.9", "172.16.0.5", true},
		{"a trusted proxy", "10.1.2.3:4000", "203.0.113.9", "203.0.113.9", true},
		{"a trusted proxy by address", "192.0.2.7:4000", "203.0.113.9", "203.0.113.9", true},
		{"a client's forged address before the proxy's", "10.1.2.3:4000", "6.6.6.6, 203.0.113.9", "203.0.113.9", true},
		{"two trusted proxies", "10.1.2.3:4000", "6.6.6.6, 203.0.113.9, 10.9.9.9", "203.0.113.9", true},
		{"a trusted proxy without the header", "10.1.2.3:4000", "", "10.1.2.3", true},
		{"a trusted proxy, IPv6", "[2001:db8::1]:4000", "2001:db8:ffff::2, 2400:cb00::9", "2400:cb00::9", true},
	}
	for _, tt := range tests {
		cfg := api.Config{}
		if tt.trusted {
			cfg.TrustedProxies = nets
		}
		v := newEnvWith(t, cfg)
		req := httptest.NewRequest("GET", "/healthz", nil)
		req.RemoteAddr = tt.peer
		if tt.xff != "" {
			req.Header.Set("X-Forwarded-For", tt.xff)
		}
		v.e.ServeHTTP(httptest.NewRecorder(), req)
		var l map[string]any
		if err := json.Unmarshal([]byte(strings.TrimSpace(v.logs.String())), &l); err != nil {
			t.Fatalf("%s: %v: %s", tt.name, err, v.logs)
		}
		if l["ip"] != tt.want {
			t.Errorf("%s: client %v, want %s", tt.name, l["ip"], tt.want)
		}
	}
}
