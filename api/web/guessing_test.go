package web_test

import (
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/jdz-eco/rectify/api"
	"github.com/jdz-eco/rectify/api/web"
	"github.com/jdz-eco/rectify/workflow"
)

// TestConcurrentGuessing: 100 sign-ins for one name at once, 99 wrong and
// the right one among them, check at most the allowed number (5) of wrong
// passwords; the others are refused (429) without a check, and the name is
// locked afterwards unless the right password was among those checked. The
// user's password is hashed at the production cost, so that checks take as
// long as they do in service.
func TestConcurrentGuessing(t *testing.T) {
	v := newEnv(t)
	hash, err := web.HashPassword("pw-bureau")
	if err != nil {
		t.Fatal(err)
	}
	if err := v.svc.SetPassword(t.Context(), workflow.Actor{ID: "system", Role: workflow.RoleSystem}, v.users["bureau"].ID, hash); err != nil {
		t.Fatal(err)
	}
	const n = 100
	type prepared struct {
		http *http.Client
		form url.Values
	}
	reqs := make([]prepared, n)
	for i := range reqs {
		c := v.anon()
		m := reCSRF.FindStringSubmatch(c.get("/login").body)
		pw := "wrong-" + fmt.Sprint(i)
		if i == n-1 {
			pw = "pw-bureau"
		}
		reqs[i] = prepared{c.http, url.Values{"csrf": {m[1]}, "name": {"局办"}, "password": {pw}}}
	}
	statuses := make([]int, n)
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, r := range reqs {
		wg.Go(func() {
			<-start
			req, _ := http.NewRequest(http.MethodPost, v.srv.URL+"/login", strings.NewReader(r.form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			res, err := r.http.Do(req)
			if err != nil {
				errs[i] = err
				return
			}
			res.Body.Close()
			statuses[i] = res.StatusCode
		})
	}
	close(start)
	wg.Wait()
	count := map[int]int{}
	for i, s := range statuses {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		count[s]++
	}
	checked := count[http.StatusUnauthorized] + count[http.StatusSeeOther]
	if count[http.StatusUnauthorized] > 5 || count[http.StatusSeeOther] > 1 || count[http.StatusTooManyRequests] != n-checked {
		t.Errorf("100 concurrent sign-ins: %d passwords checked (%d wrong, %d signed in), %d refused unchecked; want at most 5 wrong ones checked, the rest 429",
			checked, count[http.StatusUnauthorized], count[http.StatusSeeOther], count[http.StatusTooManyRequests])
	}
	if statuses[n-1] == http.StatusSeeOther {
		return // the right password was among the five checked: a lucky guess within the limit
	}
	// Five wrong passwords were checked: the name is locked at this address.
	res := v.anon().login("局办", "pw-bureau")
	wantStatus(t, "the right password afterwards", res, http.StatusTooManyRequests)
	wantBody(t, "the right password afterwards", res, "登录失败次数过多，请 1 分钟后再试")
}

// TestAddressLockoutSparesKnownDevices: 20 wrong sign-ins with made-up names
// from one address lock that address for browsers it does not know, not for
// a user who signed in from this browser before (a device cookie).
func TestAddressLockoutSparesKnownDevices(t *testing.T) {
	v := newEnv(t)
	known := v.as("viewer")
	wantStatus(t, "sign out", known.post("/logout", nil), http.StatusSeeOther)
	guesser := v.anon()
	for i := range 20 {
		wantStatus(t, "a made-up name", guesser.login(fmt.Sprintf("无此人%d", i), "wrong"), http.StatusUnauthorized)
	}
	wantStatus(t, "a new browser behind the address", v.anon().login("局办", "pw-bureau"), http.StatusTooManyRequests)
	res := known.login("市领导", "pw-viewer")
	wantStatus(t, "a user who signed in from this browser before", res, http.StatusSeeOther)
	// The device cookie is HttpOnly, sent only to the sign-in page, and
	// holds neither the password nor its hash.
	u, _ := url.Parse(v.srv.URL + "/login")
	var dev *http.Cookie
	for _, c := range (&http.Response{Header: res.header}).Cookies() {
		if strings.HasPrefix(c.Name, "rectify_device_") {
			dev = c
		}
	}
	if dev == nil || !dev.HttpOnly || dev.Path != "/login" || dev.SameSite != http.SameSiteStrictMode || dev.MaxAge < 30*24*3600 {
		t.Fatalf("device cookie %+v", dev)
	}
	if strings.Contains(dev.Value, "pw-viewer") || strings.Contains(dev.Value, "argon2") {
		t.Errorf("device cookie %q", dev.Value)
	}
	root, _ := url.Parse(v.srv.URL + "/")
	for _, c := range known.http.Jar.Cookies(root) {
		if strings.HasPrefix(c.Name, "rectify_device_") {
			t.Errorf("the device cookie is sent to /")
		}
	}
	// Another user's device cookie does not make this browser known for 局办.
	jar, _ := cookiejar.New(nil)
	jar.SetCookies(u, known.http.Jar.Cookies(u))
	other := v.anon()
	other.http.Jar = jar
	wantStatus(t, "局办 with 市领导's device cookie", other.login("局办", "pw-bureau"), http.StatusTooManyRequests)
}

// behindProxy makes the test server trust its loopback peer as a proxy, so
// that clients (env.from) have the addresses they send in X-Forwarded-For.
func behindProxy(c *api.Config) {
	c.TrustedProxies, _ = api.ParseTrustedProxies("127.0.0.0/8,::1")
}

// TestLockoutStaysAtItsAddress: an address that guessed too much is locked
// for every name it tried and for new browsers; a user elsewhere signs in.
// X-Forwarded-For counts only from a trusted proxy.
func TestLockoutStaysAtItsAddress(t *testing.T) {
	v := newEnv(t, behindProxy)
	guesser := v.from("203.0.113.9")
	for i := range 20 {
		guesser.login(fmt.Sprintf("无此人%d", i), "wrong")
	}
	for range 5 {
		guesser.login("局办", "wrong")
	}
	wantStatus(t, "局办 at the guesser's address", v.from("203.0.113.9").login("局办", "pw-bureau"), http.StatusTooManyRequests)
	wantStatus(t, "another name at the guesser's address", v.from("203.0.113.9").login("市领导", "pw-viewer"), http.StatusTooManyRequests)
	wantStatus(t, "局办 elsewhere", v.from("198.51.100.20").login("局办", "pw-bureau"), http.StatusSeeOther)
	wantStatus(t, "another user elsewhere", v.from("198.51.100.20").login("市领导", "pw-viewer"), http.StatusSeeOther)

	// Without trusted proxies the header is the client's word: ignored.
	w := newEnv(t)
	guesser = w.from("203.0.113.9")
	for i := range 20 {
		guesser.login(fmt.Sprintf("无此人%d", i), "wrong")
	}
	wantStatus(t, "a claimed other address, not behind a trusted proxy", w.from("198.51.100.20").login("局办", "pw-bureau"), http.StatusTooManyRequests)
}

// TestKnownDevicePassesAccountLockout: guessing one name from many
// addresses locks it for browsers it was not used on; the browser its user
// signed in from before passes, until it guesses wrong itself too often.
func TestKnownDevicePassesAccountLockout(t *testing.T) {
	v := newEnv(t, behindProxy)
	known := v.from("198.51.100.20")
	wantStatus(t, "a first sign-in", known.login("局办", "pw-bureau"), http.StatusSeeOther)
	known.refreshCSRF()
	wantStatus(t, "sign out", known.post("/logout", nil), http.StatusSeeOther)
	for i := range 4 {
		guesser := v.from(fmt.Sprintf("203.0.113.%d", i+1))
		for range 5 {
			guesser.login("局办", "wrong")
		}
	}
	wantStatus(t, "a new browser at a new address", v.from("198.51.100.21").login("局办", "pw-bureau"), http.StatusTooManyRequests)
	known.xff = "198.51.100.99" // the user's laptop, elsewhere today
	wantStatus(t, "the known browser", known.login("局办", "pw-bureau"), http.StatusSeeOther)
	known.refreshCSRF()
	wantStatus(t, "sign out", known.post("/logout", nil), http.StatusSeeOther)
	// Its own wrong passwords count against it; once it is locked it is a
	// browser like any other, refused while the name is locked.
	for i := range 5 {
		res := known.login("局办", "wrong")
		wantStatus(t, fmt.Sprintf("the known browser's wrong password %d", i+1), res, http.StatusUnauthorized)
	}
	wantStatus(t, "the known browser, locked", known.login("局办", "pw-bureau"), http.StatusTooManyRequests)
}
