package main

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jdz-eco/rectify/store/bolt"
	"github.com/jdz-eco/rectify/store/bolt/bolttest"
	"github.com/jdz-eco/rectify/store/etcd"
	"github.com/jdz-eco/rectify/workflow"
)

// carriedFixture is what addCarried wrote into a ledger buildLedger built:
// every kind of data a bbolt file holds besides problems, rounds and
// letters, through the server where a server writes it.
type carriedFixture struct {
	admin string // an admin's token
	unit  string // 浮梁赵's token
	// p5 was assigned once 浮梁县 had a DingTalk robot: its notices are
	// in the delivery log, one sent and one still pending.
	p5 string
	// A note on p4 posted with Idempotency-Key noteKey, and its answer.
	noteKey    string
	noteBody   []byte
	noteStatus int
	// session is 浮梁赵's web session cookie.
	session *http.Cookie
	// schedule opened a round (round_keys); draft is a draft letter's id
	// (letter_keys).
	schedule workflow.RoundSchedule
	draft    string
	// day is the Shanghai day the routine ran: its anchor's and round's.
	day string
}

// addCarried writes, into l's stopped file, reminder contacts (a unit's
// robot with its signing secret, a user's e-mail), the delivery log of the
// notices the routine sent (a robot that fails the first delivery leaves
// one pending), a password and a web session, an Idempotency-Key with its
// effect, a problem in public notice (公示) with an open objection, a
// scheduled round, the day's head anchor and a draft letter; l.end becomes
// the head after them.
func addCarried(t *testing.T, l *ledgerFixture) *carriedFixture {
	t.Helper()
	db := l.db()
	f := &carriedFixture{noteKey: "migrate-note-1"}
	add := func(name, role, unit string) string { return addUser(t, db, name, role, unit) }
	f.admin = add("迁移管理员", "admin", "市生态环境局")
	var bureauTok, unitTok, inspTok string
	bureauTok, f.unit, inspTok = add("局办周", "bureau", "市生态环境局"), add("浮梁赵", "unit", "浮梁县"), add("验收林", "inspector", "领导小组办公室")
	const password = "迁移口令-carry-1"
	if _, err := runIn(password+"\n", "user", "passwd", "--db", db, "--name", "浮梁赵", "--password-stdin"); err != nil {
		t.Fatal(err)
	}

	var (
		mu       sync.Mutex
		received int
	)
	robot := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		received++
		n := received
		mu.Unlock()
		if n == 1 {
			http.Error(w, "busy", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"errcode":0,"errmsg":"ok"}`)
	}))
	defer robot.Close()

	sh := time.Now().In(workflow.Shanghai)
	f.day = sh.Format(time.DateOnly)
	weekday := int(sh.Weekday())
	if weekday == 0 {
		weekday = 7
	}
	var err error
	if f.schedule, err = workflow.ParseRoundSchedule("weekly:"+strconv.Itoa(weekday), 0, 3, workflow.ScopeProblems); err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, db, "--scan-interval", "0", "--routine-interval", "50ms", "--evidence-dir", filepath.Join(l.dir, "evidence"),
		"--notify-allow-http", "--notify-allow-private", "--notify-digest-at", "23:59", "--notify-poll-interval", "50ms",
		"--dispatch-schedule", "weekly:"+strconv.Itoa(weekday), "--dispatch-at", "00:00", "--dispatch-due-days", "3")
	unitTok = f.unit
	admin, bureau, insp := &client{t, srv.url, f.admin}, &client{t, srv.url, bureauTok}, &client{t, srv.url, inspTok}

	admin.do("PUT", "/api/v1/units/fuliang/contact", map[string]any{"dingtalk_url": robot.URL + "/robot/send?access_token=tok-migrate",
		"dingtalk_secret": "SECmigrate"}, 200, nil)
	var users struct {
		Items []struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		} `json:"items"`
	}
	admin.do("GET", "/api/v1/users", nil, 200, &users)
	for _, u := range users.Items {
		if u.Name == "浮梁赵" {
			admin.do("PUT", "/api/v1/users/"+u.ID+"/email", map[string]any{"email": "zhao@fuliang.gov.cn"}, 200, nil)
		}
	}

	// Two assignments to 浮梁县: the robot fails the first delivery.
	deadline := time.Now().AddDate(1, 0, 0).Format(time.DateOnly)
	for _, title := range []string{"农村生活污水直排", "矿山生态修复滞后"} {
		var p problemJSON
		bureau.do("POST", "/api/v1/problems", map[string]any{"title": title, "description": title, "source": "self_inspection", "county_id": "fuliang"}, 201, &p)
		bureau.do("POST", "/api/v1/problems/"+p.ID+"/transitions", map[string]any{"trigger": "assign", "lead_unit": "fuliang", "deadline": deadline}, 200, nil)
		f.p5 = p.ID
	}

	// p3 (a central inspection's problem) verified and closed goes into
	// notice; the public objects.
	body := acknowledgeAll(insp, "/api/v1/problems/"+l.p3, map[string]any{"trigger": "verify", "opinion": "验收通过"})
	insp.do("POST", "/api/v1/problems/"+l.p3+"/transitions", body, 200, nil)
	var p problemJSON
	bureau.do("POST", "/api/v1/problems/"+l.p3+"/transitions", map[string]any{"trigger": "close", "statement": "同意销号"}, 200, &p)
	if p.State != "in_notice" {
		t.Fatalf("closing %s: state %s, want in_notice", l.p3, p.State)
	}
	(&client{t, srv.url, ""}).do("POST", "/api/v1/public/notices/"+l.p3+"/objections", map[string]any{"text": "河道仍有黑水流入，整改不彻底。", "name": "李先生"}, 202, nil)

	// A note under an Idempotency-Key.
	req, _ := http.NewRequest("POST", srv.url+"/api/v1/problems/"+l.p4+"/notes", strings.NewReader(`{"text":"迁移前的进展"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", f.noteKey)
	req.Header.Set("Authorization", "Bearer "+unitTok)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	f.noteBody, _ = io.ReadAll(res.Body)
	res.Body.Close()
	if f.noteStatus = res.StatusCode; f.noteStatus != 200 {
		t.Fatalf("a note with an Idempotency-Key: %d %s", res.StatusCode, f.noteBody)
	}

	f.session = signIn(t, srv.url, "浮梁赵", password)

	// The routine: notices sent and one pending, the scheduled round open.
	for until := time.Now().Add(30 * time.Second); ; {
		var log struct {
			Items []workflow.Notice `json:"items"`
		}
		admin.do("GET", "/api/v1/admin/deliveries?limit=100", nil, 200, &log)
		var sent, failed bool
		for _, n := range log.Items {
			sent = sent || n.State == workflow.NoticeSent
			failed = failed || n.State == workflow.NoticePending && n.Attempts > 0
		}
		var rounds struct {
			Items []struct {
				Key string `json:"key"`
			} `json:"items"`
		}
		bureau.do("GET", "/api/v1/dispatch-rounds", nil, 200, &rounds)
		scheduled := false
		for _, r := range rounds.Items {
			scheduled = scheduled || r.Key != ""
		}
		if sent && failed && scheduled {
			break
		}
		if time.Now().After(until) {
			t.Fatalf("the routine: sent %v, failed %v, a scheduled round %v; deliveries %+v", sent, failed, scheduled, log.Items)
		}
		time.Sleep(50 * time.Millisecond) // waiting for the routine, not for time to pass
	}
	if err := srv.stop(); err != nil {
		t.Fatal(err)
	}

	// A draft letter (the scanner prepares them for red problems).
	st, err := bolt.Open(db, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	key := workflow.DraftKey(f.p5, workflow.LevelRed)
	d, _, err := st.CreateLetter(t.Context(), key, 0, func(id string, _ int) (*workflow.Letter, error) {
		return &workflow.Letter{ID: id, State: workflow.LetterDraft, Kind: workflow.LetterKinds[0], ToUnit: "fuliang",
			ProblemIDs: []string{f.p5}, Demands: "请加快整改。", Key: key, Level: workflow.LevelRed,
			CreatedAt: time.Now().UTC(), CreatedBy: workflow.Actor{Role: workflow.RoleSystem}}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	f.draft = d.ID
	if l.end, err = st.Head(t.Context()); err != nil {
		t.Fatal(err)
	}
	return f
}

// signIn signs name in on the web pages and returns the session cookie.
func signIn(t *testing.T, base, name, password string) *http.Cookie {
	t.Helper()
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := noRedirect.Get(base + "/login")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindSubmatch(page)
	if m == nil {
		t.Fatalf("no csrf field on the login page:\n%.400s", page)
	}
	form := url.Values{"name": {name}, "password": {password}, "csrf": {string(m[1])}}
	req, _ := http.NewRequest("POST", base+"/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", base)
	for _, c := range res.Cookies() {
		req.AddCookie(c)
	}
	res, err = noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	for _, c := range res.Cookies() {
		if c.Value != "" && res.StatusCode == http.StatusSeeOther && strings.Contains(strings.ToLower(c.Name), "session") {
			return c
		}
	}
	t.Fatalf("sign-in: %d, cookies %v:\n%.400s", res.StatusCode, res.Cookies(), body)
	return nil
}

// pageStatus is the status of GET path with cookie, redirects not followed.
func pageStatus(t *testing.T, base, path string, cookie *http.Cookie) int {
	t.Helper()
	req, _ := http.NewRequest("GET", base+path, nil)
	req.AddCookie(cookie)
	res, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

// checkExportPlan is the guard over bbolt's layout: every bucket and meta
// key of db, a file every kind of data was written to, must be carried by
// rectify migrate or left out with a reason (bolt.ExportPlan), and every
// kind the plan carries or rebuilds must be in db, so that the scenario
// keeps writing every kind.
func checkExportPlan(t *testing.T, db string) {
	t.Helper()
	buckets, meta, err := bolttest.Layout(db)
	if err != nil {
		t.Fatal(err)
	}
	plan := bolt.ExportPlan()
	seen := map[string]bool{}
	names := append([]string(nil), buckets...)
	for _, k := range meta {
		names = append(names, "meta/"+k)
	}
	for _, name := range names {
		seen[name] = true
		if _, ok := plan[name]; !ok {
			t.Errorf("%s is in the file but rectify migrate neither carries it nor leaves it out with a reason: add it to store/bolt/export_plan.go (and carry it)", name)
		}
	}
	for name, it := range plan {
		if it.Fate != bolt.LeftOut && !seen[name] {
			t.Errorf("the scenario wrote nothing to %s (%s %s): extend addCarried so that the guard sees every kind", name, it.Fate, it.How)
		}
	}
}

// replayNote posts the note of f again, with its key, to base: the answer
// must be the first one's, replayed.
func (f *carriedFixture) replayNote(t *testing.T, base, p4 string) {
	t.Helper()
	req, _ := http.NewRequest("POST", base+"/api/v1/problems/"+p4+"/notes", strings.NewReader(`{"text":"迁移前的进展"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", f.noteKey)
	req.Header.Set("Authorization", "Bearer "+f.unit)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != f.noteStatus || !bytes.Equal(body, f.noteBody) || res.Header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("the note's key after the migration: %d %q replayed=%q; want %d %s replayed", res.StatusCode, body,
			res.Header.Get("Idempotent-Replayed"), f.noteStatus, f.noteBody)
	}
}

// checkCarriedOnEtcd compares, store to store, what the API shows only
// masked or not at all: the contacts with their signing secrets and the
// pending notices; and checks the day's anchor and the scheduled round are
// not made again on etcd.
func checkCarriedOnEtcd(t *testing.T, db, ep, prefix string, x *carriedFixture) {
	t.Helper()
	ctx := t.Context()
	src, err := bolt.Open(db, bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := etcd.Open(ctx, etcd.Config{Endpoints: []string{ep}, Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	a, err1 := src.Contacts(ctx)
	b, err2 := dst.Contacts(ctx)
	if err1 != nil || err2 != nil || len(a) != 2 || !reflect.DeepEqual(a, b) {
		t.Errorf("contacts: bbolt %+v (%v), etcd %+v (%v)", a, err1, b, err2)
	}
	if len(b) > 0 && b[0].DingTalkSecret != "SECmigrate" {
		t.Errorf("the robot's signing secret on etcd: %q", b[0].DingTalkSecret)
	}
	pa, err1 := src.PendingNotices(ctx, "", 100)
	pb, err2 := dst.PendingNotices(ctx, "", 100)
	if err1 != nil || err2 != nil || len(pa) == 0 || !reflect.DeepEqual(pa, pb) {
		t.Errorf("pending notices: bbolt %+v (%v), etcd %+v (%v)", pa, err1, pb, err2)
	}
	if time.Now().In(workflow.Shanghai).Format(time.DateOnly) != x.day {
		t.Log("the day changed since the routine ran: its anchor and round are not checked again")
		return
	}
	svc := workflow.NewService(dst, workflow.SystemClock{})
	if e, created, err := svc.AnchorHead(ctx); err != nil || created {
		t.Errorf("a second head anchor today on etcd: %+v %v", e, err)
	}
	if r, opened, err := svc.OpenScheduledRound(ctx, x.schedule); err != nil || opened || r == nil {
		t.Errorf("the scheduled round opened again on etcd: %+v %v %v", r, opened, err)
	}
}
