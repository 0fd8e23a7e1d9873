package bolt

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jdz-eco/rectify/store/internal/rollup"
	"github.com/jdz-eco/rectify/store/storetest"
	"github.com/jdz-eco/rectify/workflow"
)

// recorder is a Sink that keeps what it is sent, and in which order.
type recorder struct {
	order     []string
	entries   []workflow.Entry
	events    map[uint64]bool
	problems  []*workflow.Problem
	dedupe    map[string]uint64
	units     []workflow.Unit
	wps       []workflow.WorkPoint
	users     []workflow.User
	passwords map[string]string
	tokens    []workflow.Token
	accounts  []workflow.AccountEvent
	sessions  []workflow.Session
	cursors   map[string]uint64
	calendars map[int][]byte
	rounds    []*workflow.Round
	letters   []*workflow.Letter
	contacts  []workflow.Contact
	notices   []workflow.Notice
	keys      []workflow.KeyRecord
	effects   map[string]workflow.Effect
	anchorKey string
	counter   uint64
	facts     map[uint64]workflow.RollupFacts
	rollups   *rollup.Content
}

func newRecorder() *recorder {
	return &recorder{events: map[uint64]bool{}, dedupe: map[string]uint64{}, passwords: map[string]string{},
		cursors: map[string]uint64{}, calendars: map[int][]byte{}, facts: map[uint64]workflow.RollupFacts{},
		effects: map[string]workflow.Effect{}}
}

func (r *recorder) saw(kind string) {
	if len(r.order) == 0 || r.order[len(r.order)-1] != kind {
		r.order = append(r.order, kind)
	}
}

func (r *recorder) Entry(_ context.Context, e workflow.Entry, event bool) error {
	r.saw("entry")
	r.entries = append(r.entries, e)
	r.events[e.Seq] = event
	return nil
}

func (r *recorder) Problem(_ context.Context, p *workflow.Problem) error {
	r.saw("problem")
	r.problems = append(r.problems, p)
	return nil
}

func (r *recorder) Dedupe(_ context.Context, key string, n uint64) error {
	r.saw("dedupe")
	r.dedupe[key] = n
	return nil
}

func (r *recorder) Unit(_ context.Context, u workflow.Unit) error {
	r.saw("unit")
	r.units = append(r.units, u)
	return nil
}

func (r *recorder) WorkPoint(_ context.Context, wp workflow.WorkPoint) error {
	r.saw("work point")
	r.wps = append(r.wps, wp)
	return nil
}

func (r *recorder) User(_ context.Context, u workflow.User) error {
	r.saw("user")
	r.users = append(r.users, u)
	return nil
}

func (r *recorder) Password(_ context.Context, userID, hash string) error {
	r.saw("user") // passwords follow their users
	r.passwords[userID] = hash
	return nil
}

func (r *recorder) Token(_ context.Context, t workflow.Token) error {
	r.saw("token")
	r.tokens = append(r.tokens, t)
	return nil
}

func (r *recorder) AccountEvent(_ context.Context, e workflow.AccountEvent) error {
	r.saw("account event")
	r.accounts = append(r.accounts, e)
	return nil
}

func (r *recorder) Session(_ context.Context, s workflow.Session) error {
	r.saw("session")
	r.sessions = append(r.sessions, s)
	return nil
}

func (r *recorder) Cursor(_ context.Context, name string, seq uint64) error {
	r.saw("cursor")
	r.cursors[name] = seq
	return nil
}

func (r *recorder) Calendar(_ context.Context, year int, data []byte) error {
	r.saw("calendar")
	r.calendars[year] = data
	return nil
}

func (r *recorder) Round(_ context.Context, rd *workflow.Round) error {
	r.saw("round")
	r.rounds = append(r.rounds, rd)
	return nil
}

func (r *recorder) Letter(_ context.Context, l *workflow.Letter) error {
	r.saw("letter")
	r.letters = append(r.letters, l)
	return nil
}

func (r *recorder) Contact(_ context.Context, c workflow.Contact) error {
	r.saw("contact")
	r.contacts = append(r.contacts, c)
	return nil
}

func (r *recorder) Notice(_ context.Context, n workflow.Notice) error {
	r.saw("notice")
	r.notices = append(r.notices, n)
	return nil
}

func (r *recorder) IdempotencyKey(_ context.Context, rec workflow.KeyRecord) error {
	r.saw("idempotency key")
	r.keys = append(r.keys, rec)
	return nil
}

func (r *recorder) Effect(_ context.Context, claim string, e workflow.Effect) error {
	r.saw("idempotency key") // effects follow the keys
	r.effects[claim] = e
	return nil
}

func (r *recorder) AnchorKey(_ context.Context, key string) error {
	r.saw("anchor")
	r.anchorKey = key
	return nil
}

func (r *recorder) Counter(n uint64) {
	r.saw("counter")
	r.counter = n
}

// RollupFacts comes before each problem: it is not an item of the order.
func (r *recorder) RollupFacts(_ context.Context, n uint64, f workflow.RollupFacts) error {
	if _, dup := r.facts[n]; dup || len(r.problems) != len(r.facts) {
		return fmt.Errorf("facts of problem %d out of turn", n)
	}
	r.facts[n] = f
	return nil
}

func (r *recorder) Rollups(_ context.Context, _ workflow.Policy, _ int64, c *rollup.Content) error {
	r.saw("rollups")
	r.rollups = c
	return nil
}

// TestExport: a file exports everything it holds, in the order Sink
// promises, as the store's own methods read it.
func TestExport(t *testing.T) {
	ctx := t.Context()
	s, path := open(t, Options{})
	svc, _, ids := storetest.BuildLedger(t, s)
	if _, created, err := s.CreateProblem(ctx, "import:row-7", storetest.Build("导入的问题", workflow.SourceAudit, storetest.Leping)); err != nil || !created {
		t.Fatal(created, err)
	}
	if err := s.PutWorkPoints(ctx, []workflow.WorkPoint{{Number: 3, Title: "工作要点三"}}); err != nil {
		t.Fatal(err)
	}
	u, _, err := svc.CreateUser(ctx, workflow.Actor{Role: workflow.RoleSystem}, workflow.NewUser{Name: "导出核对", Role: workflow.RoleBureau, UnitID: storetest.Bureau})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetPasswordHash(ctx, u.ID, "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA"); err != nil {
		t.Fatal(err)
	}
	sess := workflow.Session{IDHash: strings.Repeat("5", 64), UserID: u.ID, CSRF: "c", CreatedAt: storetest.T0,
		SeenAt: storetest.T0, ExpiresAt: storetest.T0.Add(time.Hour)}
	if err := s.PutSession(ctx, sess); err != nil {
		t.Fatal(err)
	}
	if err := s.SetCursor(ctx, "webhook", 5); err != nil {
		t.Fatal(err)
	}
	if err := s.PutCalendar(ctx, 2021, []byte(`{"year":2021}`)); err != nil {
		t.Fatal(err)
	}
	rounds := storetest.AddRounds(t, svc)
	x := storetest.AddReminderData(t, svc, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(path, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	r := newRecorder()
	head, err := s.Export(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"entry", "problem", "dedupe", "unit", "work point", "user", "token", "account event", "session", "cursor", "calendar", "round", "letter",
		"contact", "notice", "idempotency key", "anchor", "counter", "rollups"}
	if !slices.Equal(r.order, want) {
		t.Errorf("sent in the order %v, want %v", r.order, want)
	}
	if storeHead, _ := s.Head(ctx); head != storeHead || len(r.entries) == 0 || r.entries[len(r.entries)-1].Seq != head.Seq {
		t.Errorf("Export head %v, store head %v, last entry sent %+v", head, storeHead, r.entries[len(r.entries)-1])
	}
	var all []workflow.Entry
	if err := s.ForEachEntry(ctx, func(e workflow.Entry, err error) error { all = append(all, e); return err }); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(r.entries, all) {
		t.Error("the entries sent are not the history in sequence order")
	}
	for _, e := range all {
		if !r.events[e.Seq] {
			t.Errorf("entry %d sent without its outbox event", e.Seq)
		}
	}
	var problems []*workflow.Problem
	if err := s.ForEachProblem(ctx, func(p *workflow.Problem) error { problems = append(problems, p); return nil }); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(r.problems, problems) || len(problems) != len(ids)+2 { // the import and AddReminderData's
		t.Errorf("sent %d problems, the store holds %d", len(r.problems), len(problems))
	}
	if r.dedupe["import:row-7"] != uint64(len(ids)+1) || r.counter != uint64(len(problems)) {
		t.Errorf("dedupe %v, counter %d; want the last of %d problems", r.dedupe, r.counter, len(problems))
	}
	units, _ := s.Units(ctx)
	wps, _ := s.WorkPoints(ctx)
	users, _ := s.Users(ctx)
	if !reflect.DeepEqual(r.units, units) || !reflect.DeepEqual(r.wps, wps) || !reflect.DeepEqual(r.users, users) {
		t.Errorf("units, work points or users differ from the store's")
	}
	if h, _ := s.PasswordHash(ctx, u.ID); r.passwords[u.ID] != h || len(r.passwords) != 1 {
		t.Errorf("passwords %v", r.passwords)
	}
	if len(r.tokens) != len(users) {
		t.Errorf("%d tokens for %d users", len(r.tokens), len(users))
	}
	var accounts []workflow.AccountEvent
	if err := s.ForEachAccountEvent(ctx, func(e workflow.AccountEvent, err error) error { accounts = append(accounts, e); return err }); err != nil {
		t.Fatal(err)
	}
	if len(accounts) == 0 || !reflect.DeepEqual(r.accounts, accounts) {
		t.Errorf("sent %d account events, the store holds %d", len(r.accounts), len(accounts))
	}
	if len(r.rounds) != len(rounds) || len(r.rounds[0].Items) == 0 || r.rounds[1].ID != rounds[1].ID {
		t.Errorf("sent rounds %+v, want %+v", r.rounds, rounds)
	}
	if len(r.letters) != 1 || r.letters[0].Key != x.Draft.Key || r.letters[0].ID != x.Draft.ID {
		t.Errorf("sent letters %+v, want the draft %+v", r.letters, x.Draft)
	}
	x.Check(t, storetest.Carried{Contacts: r.contacts, Notices: r.notices, Keys: r.keys, Effects: r.effects, AnchorKey: r.anchorKey})
	if len(r.sessions) != 1 || r.sessions[0].IDHash != sess.IDHash || r.cursors["webhook"] != 5 || string(r.calendars[2021]) != `{"year":2021}` {
		t.Errorf("sessions %v, cursors %v, calendars %v", r.sessions, r.cursors, r.calendars)
	}
}
