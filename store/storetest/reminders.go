package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jdz-eco/rectify/workflow"
)

// Cases of the Reminders capability (contacts, the notice queue and the
// delivery log); a store without it skips them.

func remindersOf(t *testing.T, s workflow.Store) workflow.Reminders {
	t.Helper()
	rs, ok := s.(workflow.Reminders)
	if !ok {
		t.Skip("the store has no Reminders")
	}
	return rs
}

func testReminders(t *testing.T, s workflow.Store) {
	rs := remindersOf(t, s)
	ctx := context.Background()
	if cs, err := rs.Contacts(ctx); err != nil || len(cs) != 0 {
		t.Fatalf("contacts of a new store = %v, %v", cs, err)
	}
	at := time.Date(2026, 12, 3, 1, 0, 0, 0, time.UTC)
	u := workflow.Contact{Key: workflow.ContactKeyUnit("u1"), DingTalkURL: "https://oapi.dingtalk.com/robot/send?access_token=x", DingTalkSecret: "SEC1", UpdatedAt: at}
	e := workflow.Contact{Key: workflow.ContactKeyUser("alice"), Email: "alice@example.cn", UpdatedAt: at}
	for _, c := range []workflow.Contact{u, e} {
		if err := rs.PutContact(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	cs, err := rs.Contacts(ctx)
	if err != nil || len(cs) != 2 || cs[0].Key != u.Key || cs[0].DingTalkSecret != "SEC1" || cs[1].Email != e.Email {
		t.Fatalf("contacts = %+v, %v; want u1's with its secret, then alice's", cs, err)
	}
	if err := rs.PutContact(ctx, workflow.Contact{Key: e.Key}); err != nil {
		t.Fatal(err)
	}
	if cs, _ := rs.Contacts(ctx); len(cs) != 1 || cs[0].Key != u.Key {
		t.Fatalf("an empty contact is removed: %+v", cs)
	}

	// Notices: added once per key, pending until updated, logged newest first.
	for i := range 3 {
		n := workflow.Notice{Key: fmt.Sprintf("ev/%d/dingtalk", i), Kind: workflow.NoticeAssigned, Channel: workflow.ChannelDingTalk,
			Unit: "u1", Title: "t", Text: "x", CreatedAt: at.Add(time.Duration(i) * time.Second), NextAt: at}
		created, err := rs.AddNotice(ctx, n)
		if err != nil || !created {
			t.Fatalf("add %d: %v, %v", i, created, err)
		}
		n.Title = "again"
		if created, err := rs.AddNotice(ctx, n); err != nil || created {
			t.Fatalf("adding key %s again: created %v, %v", n.Key, created, err)
		}
	}
	pending, err := rs.PendingNotices(ctx, "", 10)
	if err != nil || len(pending) != 3 || pending[0].State != workflow.NoticePending || pending[0].Title != "t" {
		t.Fatalf("pending = %+v, %v", pending, err)
	}
	if p, _ := rs.PendingNotices(ctx, "", 2); len(p) != 2 || p[1].Key != "ev/1/dingtalk" {
		t.Fatalf("pending with limit 2: %+v", p)
	}
	if p, _ := rs.PendingNotices(ctx, "ev/1/dingtalk", 10); len(p) != 1 || p[0].Key != "ev/2/dingtalk" {
		t.Fatalf("pending after ev/1: %+v", p)
	}
	if p, _ := rs.PendingNotices(ctx, "ev/0", 10); len(p) != 3 {
		t.Fatalf("pending after a key that is not there: %+v", p)
	}
	sent := at.Add(time.Minute)
	n, err := rs.UpdateNotice(ctx, "ev/1/dingtalk", func(n *workflow.Notice) error {
		n.State, n.Attempts, n.SentAt = workflow.NoticeSent, 2, &sent
		n.Key = "changed" // the key and creation time are not the caller's to change
		return nil
	})
	if err != nil || n.State != workflow.NoticeSent || n.Key != "ev/1/dingtalk" {
		t.Fatalf("update = %+v, %v", n, err)
	}
	boom := errors.New("boom")
	if _, err := rs.UpdateNotice(ctx, "ev/0/dingtalk", func(n *workflow.Notice) error { n.State = workflow.NoticeSent; return boom }); !errors.Is(err, boom) {
		t.Fatalf("apply's error = %v", err)
	}
	if _, err := rs.UpdateNotice(ctx, "nope", func(*workflow.Notice) error { return nil }); workflow.ErrorCode(err) != workflow.CodeNotFound {
		t.Fatalf("unknown notice: %v", err)
	}
	pending, _ = rs.PendingNotices(ctx, "", 10)
	if len(pending) != 2 || pending[0].Key != "ev/0/dingtalk" || pending[1].Key != "ev/2/dingtalk" {
		t.Fatalf("pending after one was sent = %+v", pending)
	}
	log, err := rs.NoticeLog(ctx, 10)
	if err != nil || len(log) != 3 || log[0].Key != "ev/2/dingtalk" || log[1].State != workflow.NoticeSent || log[2].Key != "ev/0/dingtalk" {
		t.Fatalf("log = %+v, %v; want newest first, the sent one sent", log, err)
	}
	if l, _ := rs.NoticeLog(ctx, 1); len(l) != 1 || l[0].Key != "ev/2/dingtalk" {
		t.Fatalf("log with limit 1 = %+v", l)
	}
}

// testRemindersConcurrent: many callers adding one key queue it once.
func testRemindersConcurrent(t *testing.T, s workflow.Store) {
	rs := remindersOf(t, s)
	ctx := context.Background()
	var created atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			ok, err := rs.AddNotice(ctx, workflow.Notice{Key: "digest/2026-12-03/u1/dingtalk", Channel: workflow.ChannelDingTalk, CreatedAt: time.Now()})
			if err != nil {
				t.Error(err)
			}
			if ok {
				created.Add(1)
			}
		})
	}
	wg.Wait()
	if created.Load() != 1 {
		t.Fatalf("created %d times, want once", created.Load())
	}
	if l, _ := rs.NoticeLog(ctx, 10); len(l) != 1 {
		t.Fatalf("log has %d notices", len(l))
	}
}
