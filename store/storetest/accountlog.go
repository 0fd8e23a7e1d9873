package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jdz-eco/rectify/workflow"
)

// Account log cases (workflow.AccountLog), run by RunAccounts.

func accountLog(t *testing.T, s workflow.Store) workflow.AccountLog {
	t.Helper()
	l, ok := s.(workflow.AccountLog)
	if !ok {
		t.Fatalf("%T does not implement workflow.AccountLog", s)
	}
	return l
}

// logToken is a token of user id made from secret, expiring at exp if set.
func logToken(secret, id string, exp *time.Time) workflow.Token {
	return workflow.Token{Hash: workflow.HashToken("rt_" + secret), UserID: id, CreatedAt: T0, ExpiresAt: exp}
}

// createChange is the change that creates user id with its first token.
func createChange(id, name string, t workflow.Token) workflow.AccountChange {
	u := workflow.User{ID: id, Name: name, Role: workflow.RoleUnit, UnitID: Fuliang, CreatedAt: T0}
	return workflow.AccountChange{NewUser: &u, UserID: id, AddTokens: []workflow.Token{t},
		Event: workflow.AccountEvent{At: T0, Actor: workflow.SystemActor, Action: workflow.AccountCreate, UserID: id, User: &u,
			Issued: []workflow.TokenRecord{t.Record()}}}
}

func event(action, id string) workflow.AccountEvent {
	return workflow.AccountEvent{At: T0, Actor: BureauActor, Action: action, UserID: id}
}

// mustChange applies c and checks the event is sealed as the next one.
func mustChange(t *testing.T, l workflow.AccountLog, c workflow.AccountChange) workflow.AccountEvent {
	t.Helper()
	ctx := t.Context()
	before, err := l.AccountHead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	e, err := l.ChangeAccount(ctx, c)
	if err != nil {
		t.Fatalf("ChangeAccount(%s %s) = %v", c.Event.Action, c.UserID, err)
	}
	want := before.Seq + 1
	if c.Baseline != nil {
		want++
	}
	if h, _ := workflow.AccountEventHash(e); e.Seq != want || e.Hash != h || e.Hash == "" {
		t.Errorf("ChangeAccount returned event %d with hash %s, want event %d sealed", e.Seq, e.Hash, want)
	}
	if after, _ := l.AccountHead(ctx); after.Seq != e.Seq || after.Hash != e.Hash {
		t.Errorf("account head %s after event %d:%s", after, e.Seq, e.Hash)
	}
	return e
}

// refused applies c, expects code, and checks nothing was written.
func refused(t *testing.T, s workflow.Store, what string, c workflow.AccountChange, code workflow.Code) {
	t.Helper()
	ctx := t.Context()
	l := accountLog(t, s)
	before, _ := l.AccountHead(ctx)
	state, _ := l.AccountState(ctx)
	_, err := l.ChangeAccount(ctx, c)
	wantCode(t, what, err, code)
	after, _ := l.AccountHead(ctx)
	if after != before {
		t.Errorf("%s: the account head moved from %s to %s", what, before, after)
	}
	now, _ := l.AccountState(ctx)
	sameJSON(t, what+": the accounts after", now, state)
}

func testAccountLogEmpty(t *testing.T, s workflow.Store, _ workflow.Accounts) {
	ctx := t.Context()
	l := accountLog(t, s)
	if h, err := l.AccountHead(ctx); h.Seq != 0 || err != nil {
		t.Errorf("AccountHead of an empty store = %v, %v", h, err)
	}
	if evs, err := l.AccountEvents(ctx, 0, 10); len(evs) != 0 || err != nil {
		t.Errorf("AccountEvents of an empty store = %v, %v", evs, err)
	}
	n := 0
	if err := l.ForEachAccountEvent(ctx, func(workflow.AccountEvent, error) error { n++; return nil }); err != nil || n != 0 {
		t.Errorf("ForEachAccountEvent of an empty store: %d events, %v", n, err)
	}
	st, err := l.AccountState(ctx)
	if err != nil || len(st.Users) != 0 || len(st.Tokens) != 0 || len(st.Passwords) != 0 {
		t.Errorf("AccountState of an empty store = %+v, %v", st, err)
	}
	if ts, err := l.TokensOf(ctx, "u1"); len(ts) != 0 || err != nil {
		t.Errorf("TokensOf an unknown user = %v, %v", ts, err)
	}
	_, _, err = l.TokenUser(ctx, workflow.HashToken("rt_x"))
	wantCode(t, "TokenUser of an unknown token", err, workflow.CodeNotFound)
	if rep, err := workflow.AuditAccounts(ctx, l); err != nil || rep.Events != 0 || rep.Uncovered {
		t.Errorf("AuditAccounts of an empty store = %+v, %v", rep, err)
	}
}

// testAccountChanges: each kind of change is written with its event, on
// one chain; a refused change writes nothing.
func testAccountChanges(t *testing.T, s workflow.Store, acc workflow.Accounts) {
	ctx := t.Context()
	l := accountLog(t, s)
	t1 := logToken("u1-first", "u1", nil)
	e1 := mustChange(t, l, createChange("u1", "浮梁县干部", t1))
	if e1.Seq != 1 || e1.PrevHash != workflow.GenesisHash {
		t.Errorf("the first event: %d, prev %s", e1.Seq, e1.PrevHash)
	}
	tok, u, err := l.TokenUser(ctx, t1.Hash)
	if err != nil || u.ID != "u1" || tok.ID() != t1.ID() || tok.ExpiresAt != nil {
		t.Fatalf("TokenUser of the first token = %+v, %+v, %v", tok, u, err)
	}

	// Refusals: a taken id, a token hash already stored, an unknown user,
	// another user's token; each writes nothing, not even its other parts.
	refused(t, s, "creating a taken id", createChange("u1", "冒名者", logToken("dup", "u1", nil)), workflow.CodeConflict)
	refused(t, s, "creating with a stored token", createChange("u2", "乐平市干部", workflow.Token{Hash: t1.Hash, UserID: "u2", CreatedAt: T0}), workflow.CodeConflict)
	yes := true
	refused(t, s, "disabling an unknown user", workflow.AccountChange{UserID: "nobody", SetDisabled: &yes, Event: event(workflow.AccountDisable, "nobody")}, workflow.CodeNotFound)
	mustChange(t, l, createChange("u2", "乐平市干部", logToken("u2-first", "u2", nil)))
	refused(t, s, "revoking another user's token", workflow.AccountChange{UserID: "u2", PasswordHash: "$argon2id$x",
		RemoveTokens: []string{t1.Hash}, Event: event(workflow.AccountRevoke, "u2")}, workflow.CodeNotFound)
	refused(t, s, "revoking a token not stored", workflow.AccountChange{UserID: "u1",
		RemoveTokens: []string{workflow.HashToken("rt_never")}, Event: event(workflow.AccountRevoke, "u1")}, workflow.CodeNotFound)
	refused(t, s, "a change naming another user than its event", workflow.AccountChange{UserID: "u1", SetDisabled: &yes, Event: event(workflow.AccountDisable, "u2")}, workflow.CodeInvalid)

	// Disable, password, rotate (one out, one in with an expiry).
	mustChange(t, l, workflow.AccountChange{UserID: "u1", SetDisabled: &yes, Event: event(workflow.AccountDisable, "u1")})
	if u, err := acc.User(ctx, "u1"); err != nil || !u.Disabled {
		t.Errorf("the disabled user = %+v, %v", u, err)
	}
	if _, u, err := l.TokenUser(ctx, t1.Hash); err != nil || !u.Disabled {
		t.Errorf("TokenUser after disabling = %+v, %v", u, err)
	}
	pw := event(workflow.AccountPassword, "u1")
	pw.PasswordStamp = workflow.PasswordStamp("$argon2id$new")
	mustChange(t, l, workflow.AccountChange{UserID: "u1", PasswordHash: "$argon2id$new", Event: pw})
	if h, err := acc.PasswordHash(ctx, "u1"); h != "$argon2id$new" || err != nil {
		t.Errorf("PasswordHash after a change = %q, %v", h, err)
	}
	exp := T0.Add(30 * 24 * time.Hour)
	t2 := logToken("u1-second", "u1", &exp)
	rot := event(workflow.AccountRotate, "u1")
	rot.Revoked, rot.Issued = []string{t1.ID()}, []workflow.TokenRecord{t2.Record()}
	last := mustChange(t, l, workflow.AccountChange{UserID: "u1", RemoveTokens: []string{t1.Hash}, AddTokens: []workflow.Token{t2}, Event: rot})
	_, _, err = l.TokenUser(ctx, t1.Hash)
	wantCode(t, "TokenUser of a rotated-out token", err, workflow.CodeNotFound)
	if _, err := s.UserByToken(ctx, t1.Hash); workflow.ErrorCode(err) != workflow.CodeNotFound {
		t.Errorf("UserByToken of a rotated-out token: %v", err)
	}
	tok, _, err = l.TokenUser(ctx, t2.Hash)
	if err != nil || tok.ExpiresAt == nil || !tok.ExpiresAt.Equal(exp) {
		t.Errorf("TokenUser of the new token = %+v, %v", tok, err)
	}
	ts, err := l.TokensOf(ctx, "u1")
	if err != nil {
		t.Fatal(err)
	}
	sameJSON(t, "TokensOf u1", ts, []workflow.Token{t2})

	// The log: in order, linked, paged; the state as the changes left it.
	evs, err := l.AccountEvents(ctx, 0, 100)
	if err != nil || len(evs) != int(last.Seq) {
		t.Fatalf("AccountEvents = %d events, %v; want %d", len(evs), err, last.Seq)
	}
	prev := workflow.GenesisHash
	for i, e := range evs {
		h, _ := workflow.AccountEventHash(e)
		if e.Seq != uint64(i+1) || e.PrevHash != prev || e.Hash != h {
			t.Errorf("event %d: seq %d, linked %v, sealed %v", i+1, e.Seq, e.PrevHash == prev, e.Hash == h)
		}
		prev = e.Hash
	}
	sameJSON(t, "the last event", evs[len(evs)-1], last)
	page, err := l.AccountEvents(ctx, 2, 2)
	if err != nil || len(page) != 2 || page[0].Seq != 3 || page[1].Seq != 4 {
		t.Errorf("AccountEvents(after 2, 2) = %v, %v", page, err)
	}
	var walked []uint64
	_ = l.ForEachAccountEvent(ctx, func(e workflow.AccountEvent, err error) error {
		walked = append(walked, e.Seq)
		return err
	})
	if len(walked) != len(evs) || walked[0] != 1 {
		t.Errorf("ForEachAccountEvent walked %v", walked)
	}
	st, err := l.AccountState(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Users) != 2 || len(st.Tokens) != 2 || st.Passwords["u1"] != workflow.PasswordStamp("$argon2id$new") || len(st.Passwords) != 1 {
		t.Errorf("AccountState = %+v", st)
	}
	if rep, err := workflow.AuditAccounts(ctx, l); err != nil || rep.Events != last.Seq || rep.Users != 2 || rep.Tokens != 2 {
		t.Errorf("AuditAccounts = %+v, %v", rep, err)
	}
}

// testAccountBaseline: accounts stored before the log are recorded by a
// baseline, which only an empty log takes.
func testAccountBaseline(t *testing.T, s workflow.Store, _ workflow.Accounts) {
	ctx := t.Context()
	l := accountLog(t, s)
	accountUser(t, s, "u1", "浮梁县干部") // written without an event
	rep, err := workflow.AuditAccounts(ctx, l)
	if err != nil || !rep.Uncovered {
		t.Errorf("AuditAccounts of accounts older than the log = %+v, %v; want passed, uncovered", rep, err)
	}
	st, err := l.AccountState(ctx)
	if err != nil {
		t.Fatal(err)
	}
	base := workflow.AccountEvent{At: T0, Actor: workflow.SystemActor, Action: workflow.AccountBaseline, Baseline: &st}
	yes := true
	e := mustChange(t, l, workflow.AccountChange{UserID: "u1", SetDisabled: &yes, Baseline: &base, Event: event(workflow.AccountDisable, "u1")})
	if e.Seq != 2 {
		t.Errorf("the change after a baseline is event %d", e.Seq)
	}
	first, _ := l.AccountEvents(ctx, 0, 1)
	if len(first) != 1 || first[0].Action != workflow.AccountBaseline || first[0].Baseline == nil || len(first[0].Baseline.Users) != 1 {
		t.Errorf("the first event %+v", first)
	}
	if _, err := workflow.AuditAccounts(ctx, l); err != nil {
		t.Errorf("AuditAccounts after a baseline: %v", err)
	}
	no := false
	for what, c := range map[string]workflow.AccountChange{
		"a second baseline":         {UserID: "u1", SetDisabled: &no, Baseline: &base, Event: event(workflow.AccountEnable, "u1")},
		"a baseline as a later one": {Event: base},
	} {
		before, _ := l.AccountHead(ctx)
		if _, err := l.ChangeAccount(ctx, c); !errors.Is(err, workflow.ErrAccountLogStarted) {
			t.Errorf("%s: %v, want ErrAccountLogStarted", what, err)
		}
		if after, _ := l.AccountHead(ctx); after != before {
			t.Errorf("%s moved the head", what)
		}
	}
}

// testConcurrentAccountChanges: concurrent changes, to one user and to
// others, each get their own event on one unbroken chain.
func testConcurrentAccountChanges(t *testing.T, s workflow.Store, _ workflow.Accounts) {
	ctx := t.Context()
	l := accountLog(t, s)
	mustChange(t, l, createChange("u1", "浮梁县干部", logToken("u1-0", "u1", nil)))
	mustChange(t, l, createChange("u2", "乐平市干部", logToken("u2-0", "u2", nil)))
	const writers = 12
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for i := range writers {
		wg.Go(func() {
			id := []string{"u1", "u2"}[i%2]
			tk := logToken(fmt.Sprintf("%s-%d", id, i+1), id, nil)
			ev := event(workflow.AccountIssue, id)
			ev.Issued = []workflow.TokenRecord{tk.Record()}
			if _, err := l.ChangeAccount(ctx, workflow.AccountChange{UserID: id, AddTokens: []workflow.Token{tk}, Event: ev}); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	rep, err := workflow.AuditAccounts(ctx, l)
	if err != nil || rep.Events != 2+writers || rep.Tokens != 2+writers {
		t.Errorf("after %d concurrent changes: %+v, %v", writers, rep, err)
	}
}
