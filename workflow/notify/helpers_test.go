package notify_test

import (
	"context"
	"crypto/hmac"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/jdz-eco/rectify/store/bolt"
	"github.com/jdz-eco/rectify/workflow"
	"github.com/jdz-eco/rectify/workflow/notify"
)

var (
	admin  = workflow.Actor{ID: "u-admin", Name: "管理员", Role: workflow.RoleAdmin, UnitID: "city-eeb"}
	bureau = workflow.Actor{ID: "u-bureau", Name: "局办", Role: workflow.RoleBureau, UnitID: "city-eeb"}
	units  = []workflow.Unit{
		{ID: "fuliang", Name: "浮梁县", Kind: workflow.UnitCounty},
		{ID: "leping", Name: "乐平市", Kind: workflow.UnitCounty},
		{ID: "city-eeb", Name: "市生态环境局", Kind: workflow.UnitDepartment},
		{ID: "city-water", Name: "市水利局", Kind: workflow.UnitDepartment},
	}
	// thursday 08:00 in Shanghai, a working day.
	thursday = time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC)
)

const dingSecret = "SECa1b2c3d4e5f6"

// robot is an httptest receiver of DingTalk or WeCom messages that checks
// each against its documented format and answers as the robot does.
type robot struct {
	t      *testing.T
	srv    *httptest.Server
	kind   workflow.Channel
	mu     sync.Mutex
	bodies []map[string]any
	errs   []string
}

func newRobot(t *testing.T, kind workflow.Channel) *robot {
	r := &robot{t: t, kind: kind}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *robot) fail(format string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, format)
}

func (r *robot) serve(w http.ResponseWriter, req *http.Request) {
	answer := func(code int, msg string) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"errcode": code, "errmsg": msg})
	}
	if req.Method != http.MethodPost || req.Header.Get("Content-Type") != "application/json; charset=utf-8" {
		r.fail("method or content type: " + req.Method + " " + req.Header.Get("Content-Type"))
		answer(40035, "bad request")
		return
	}
	q := req.URL.Query()
	switch r.kind {
	case workflow.ChannelDingTalk:
		if q.Get("access_token") != "tok" {
			r.fail("access_token lost: " + req.URL.RawQuery)
		}
		ts, err := strconv.ParseInt(q.Get("timestamp"), 10, 64)
		if err != nil || time.Since(time.UnixMilli(ts)).Abs() > time.Hour {
			r.fail("timestamp missing or more than an hour off: " + q.Get("timestamp"))
			answer(310000, "sign not match")
			return
		}
		sign, err := base64.StdEncoding.DecodeString(q.Get("sign"))
		want, _ := base64.StdEncoding.DecodeString(notify.DingTalkSign(dingSecret, ts))
		if err != nil || !hmac.Equal(sign, want) {
			r.fail("sign does not match: " + q.Get("sign"))
			answer(310000, "sign not match")
			return
		}
	case workflow.ChannelWeCom:
		if q.Get("key") != "k-123" {
			r.fail("key lost: " + req.URL.RawQuery)
		}
	}
	data, _ := io.ReadAll(req.Body)
	var body map[string]any
	if err := json.Unmarshal(data, &body); err != nil {
		r.fail("body is not JSON")
		answer(40035, "bad json")
		return
	}
	md, _ := body["markdown"].(map[string]any)
	switch {
	case body["msgtype"] != "markdown" || md == nil:
		r.fail("not a markdown message: " + string(data))
	case r.kind == workflow.ChannelDingTalk && (md["title"] == "" || md["text"] == "" || len(md) != 2):
		r.fail("DingTalk markdown needs title and text only: " + string(data))
	case r.kind == workflow.ChannelWeCom && (len(md) != 1 || md["content"] == "" || len(md["content"].(string)) > 4096):
		r.fail("WeCom markdown needs content of at most 4096 bytes only: " + string(data))
	}
	r.mu.Lock()
	r.bodies = append(r.bodies, body)
	r.mu.Unlock()
	answer(0, "ok")
}

// texts returns the markdown texts received.
func (r *robot) texts() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range r.errs {
		r.t.Errorf("%s robot: %s", r.kind, e)
	}
	var out []string
	for _, b := range r.bodies {
		md := b["markdown"].(map[string]any)
		if s, ok := md["text"].(string); ok {
			out = append(out, s)
		} else {
			out = append(out, md["content"].(string))
		}
	}
	return out
}

// mailbox is an in-process SMTP server (go-smtp) that refuses the first
// failures messages with a transient error.
type mailbox struct {
	mu       sync.Mutex
	failures int
	tries    int
	msgs     []mailMsg
	addr     string
}

type mailMsg struct {
	from string
	to   []string
	data string
}

type mailSession struct {
	b   *mailbox
	msg mailMsg
}

func (s *mailSession) Reset()        { s.msg = mailMsg{} }
func (s *mailSession) Logout() error { return nil }
func (s *mailSession) Mail(from string, _ *smtp.MailOptions) error {
	s.msg.from = from
	return nil
}
func (s *mailSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.msg.to = append(s.msg.to, to)
	return nil
}
func (s *mailSession) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	s.b.tries++
	if s.b.failures > 0 {
		s.b.failures--
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
	}
	s.msg.data = string(data)
	s.b.msgs = append(s.b.msgs, s.msg)
	return nil
}

func newMailbox(t *testing.T, failures int) *mailbox {
	b := &mailbox{failures: failures}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &mailSession{b: b}, nil }))
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = true
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b.addr = l.Addr().String()
	go func() {
		if err := srv.Serve(l); err != nil && !errors.Is(err, smtp.ErrServerClosed) {
			t.Log(err)
		}
	}()
	t.Cleanup(func() { srv.Close() })
	return b
}

// parseMail returns a message's decoded subject and plain-text body.
func parseMail(t *testing.T, data string) (subject, body string) {
	t.Helper()
	m, err := mail.ReadMessage(strings.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	subject, err = new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
	if err != nil {
		t.Fatal(err)
	}
	if ct := m.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Fatalf("content type %q", ct)
	}
	var r io.Reader = m.Body
	if m.Header.Get("Content-Transfer-Encoding") == "quoted-printable" {
		r = quotedprintable.NewReader(r)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return subject, string(b)
}

func (b *mailbox) messages() []mailMsg {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]mailMsg(nil), b.msgs...)
}

func (b *mailbox) mail() notify.Mail {
	host, port, _ := net.SplitHostPort(b.addr)
	p, _ := strconv.Atoi(port)
	return notify.Mail{Host: host, Port: p, From: "rectify@jdz.gov.cn", TLS: "none", Timeout: 5 * time.Second}
}

// fixture is a ledger on a bbolt file with a sender, two robots and a
// mailbox for unit fuliang, whose officer alice has an e-mail address.
type fixture struct {
	t      *testing.T
	path   string
	st     *bolt.Store
	svc    *workflow.Service
	clock  *workflow.ManualClock
	ding   *robot
	wecom  *robot
	box    *mailbox
	sender *notify.Sender
	guard  notify.Guard
	batch  int // the sender's batch (0: its default)
}

func newFixture(t *testing.T, smtpFailures int) *fixture {
	t.Helper()
	f := &fixture{t: t, path: filepath.Join(t.TempDir(), "n.db"), clock: workflow.NewManualClock(thursday),
		guard: notify.Guard{AllowHTTP: true, AllowPrivate: true}}
	f.ding, f.wecom, f.box = newRobot(t, workflow.ChannelDingTalk), newRobot(t, workflow.ChannelWeCom), newMailbox(t, smtpFailures)
	f.open()
	t.Cleanup(func() { f.st.Close() })
	ctx := context.Background()
	if err := f.svc.PutUnits(ctx, units); err != nil {
		t.Fatal(err)
	}
	alice, _, err := f.svc.CreateUser(ctx, admin, workflow.NewUser{Name: "alice", Role: workflow.RoleUnit, UnitID: "fuliang"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.SetUserEmail(ctx, admin, alice.ID, "alice@example.cn"); err != nil {
		t.Fatal(err)
	}
	dingURL, wecomURL, secret := f.ding.srv.URL+"/robot/send?access_token=tok", f.wecom.srv.URL+"/cgi-bin/webhook/send?key=k-123", dingSecret
	if _, err := f.svc.SetUnitContact(ctx, admin, "fuliang", workflow.UnitContactInput{DingTalkURL: &dingURL, DingTalkSecret: &secret, WeComURL: &wecomURL}); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) open() {
	st, err := bolt.Open(f.path, bolt.Options{})
	if err != nil {
		f.t.Fatal(err)
	}
	f.st, f.svc = st, workflow.NewService(st, f.clock)
	f.svc.SetAddressCheck(f.guard.AddressCheck())
	if err := f.svc.LoadCalendars(context.Background(), nil); err != nil {
		f.t.Fatal(err)
	}
	f.sender, err = notify.New(notify.Config{Service: f.svc, Guard: f.guard, Mail: f.box.mail(), DigestAt: notify.DefaultDigestAt, Batch: f.batch})
	if err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) restart() {
	if err := f.st.Close(); err != nil {
		f.t.Fatal(err)
	}
	f.open()
}

// run runs the sender's jobs once, in order, as the routine runner does.
func (f *fixture) run() {
	f.t.Helper()
	for _, j := range f.sender.Jobs() {
		if _, err := j.Run(context.Background()); err != nil {
			f.t.Fatalf("%s: %v", j.Name, err)
		}
	}
}

// assigned logs a problem in fuliang and assigns it with deadline.
func (f *fixture) assigned(title, deadline string) *workflow.Problem {
	f.t.Helper()
	ctx := context.Background()
	p, _, err := f.svc.CreateProblem(ctx, bureau, workflow.NewProblem{Title: title, Description: title, Source: workflow.SourceWarningFilm, CountyID: "fuliang"})
	if err != nil {
		f.t.Fatal(err)
	}
	d, err := workflow.ParseDeadline(deadline)
	if err != nil {
		f.t.Fatal(err)
	}
	p, err = f.svc.Fire(ctx, bureau, p.ID, workflow.Command{Trigger: workflow.TriggerAssign,
		Params: workflow.Params{LeadUnit: "fuliang", Deadline: &d, Requirements: "按期完成整改"}})
	if err != nil {
		f.t.Fatal(err)
	}
	return p
}

func (f *fixture) log() []workflow.Notice {
	f.t.Helper()
	ns, err := f.svc.Deliveries(context.Background(), admin, 100)
	if err != nil {
		f.t.Fatal(err)
	}
	return ns
}

func asError(err error, e **workflow.Error) bool { return errors.As(err, e) }

func (b *mailbox) attempts() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.tries
}
