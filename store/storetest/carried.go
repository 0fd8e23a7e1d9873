package storetest

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jdz-eco/rectify/workflow"
)

// Carried is what a migration must carry besides problems, history,
// accounts, rounds and letters (docs/design.md#what-migrate-carries):
// reminder contacts with their secrets, the notices of the delivery log
// (pending ones with their attempts), idempotency keys and their effects,
// the last head anchor's key, and a draft letter with its key.
type Carried struct {
	Contacts  []workflow.Contact
	Notices   []workflow.Notice // by key
	Keys      []workflow.KeyRecord
	Effects   map[string]workflow.Effect // by claim
	AnchorKey string
	Draft     *workflow.Letter
}

// AddReminderData writes one of each of Carried's kinds into s through its
// capabilities (Reminders, IdempotencyKeys, Anchors, Letters), on a ledger
// BuildLedger built, and returns what it wrote.
func AddReminderData(t testing.TB, svc *workflow.Service, s workflow.Store) *Carried {
	t.Helper()
	ctx := t.Context()
	rs, ok1 := s.(workflow.Reminders)
	ks, ok2 := s.(workflow.IdempotencyKeys)
	ls, ok3 := s.(workflow.Letters)
	if !ok1 || !ok2 || !ok3 {
		t.Fatal("AddReminderData needs Reminders, IdempotencyKeys and Letters")
	}
	at := svc.Clock().Now().UTC()
	c := &Carried{Effects: map[string]workflow.Effect{}}
	c.Contacts = []workflow.Contact{
		{Key: workflow.ContactKeyUnit(Fuliang), DingTalkURL: "https://oapi.dingtalk.com/robot/send?access_token=tok-fl",
			DingTalkSecret: "SECfuliang", WeComURL: "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k-fl", UpdatedAt: at, UpdatedBy: "u-admin"},
		{Key: workflow.ContactKeyUser("u-fuliang"), Email: "fl@jdz.gov.cn", UpdatedAt: at, UpdatedBy: "u-admin"},
	}
	for _, ct := range c.Contacts {
		if err := rs.PutContact(ctx, ct); err != nil {
			t.Fatal(err)
		}
	}
	for i, key := range []string{"ev/1/0/fuliang/dingtalk", "ev/1/0/fuliang/wecom", "digest/2021-07-02/0/fuliang/email/u-fuliang"} {
		n := workflow.Notice{Key: key, Kind: "assigned", Channel: workflow.Channel(strings.Split(key, "/")[4]), Unit: Fuliang,
			Title: "交办提醒", Text: "请及时签收", CreatedAt: at.Add(time.Duration(i) * time.Second), NextAt: at}
		if _, err := rs.AddNotice(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	sent := at.Add(time.Minute)
	if _, err := rs.UpdateNotice(ctx, "ev/1/0/fuliang/dingtalk", func(n *workflow.Notice) error {
		n.State, n.Attempts, n.SentAt = workflow.NoticeSent, 1, &sent
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := rs.UpdateNotice(ctx, "ev/1/0/fuliang/wecom", func(n *workflow.Notice) error {
		n.Attempts, n.LastError, n.NextAt = 2, "robot answered 500", at.Add(2*time.Minute)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	log, err := rs.NoticeLog(ctx, 100)
	if err != nil {
		t.Fatal(err)
	}
	c.Notices = sortedNotices(log)

	rec := workflow.KeyRecord{Scope: "u-bureau", Key: "key-1", Claim: "claim-carried", Fingerprint: "fp", Created: at,
		Expires: at.Add(workflow.KeyLife), Started: at, Answer: []byte(`{"status":201}`)}
	if err := ks.UpdateKey(ctx, rec.Scope, rec.Key, func(*workflow.KeyRecord) (*workflow.KeyRecord, error) { return &rec, nil }); err != nil {
		t.Fatal(err)
	}
	p, created, err := s.CreateProblem(workflow.WithClaim(ctx, rec.Claim), "", Build("迁移核对问题", workflow.SourceAudit, Fuliang))
	if err != nil || !created {
		t.Fatal(created, err)
	}
	c.Keys = []workflow.KeyRecord{rec}
	c.Effects[rec.Claim] = workflow.Effect{ProblemID: p.ID, Version: 1, Created: true}

	e, created, err := svc.AnchorHead(ctx)
	if err != nil || !created {
		t.Fatal(created, err)
	}
	c.AnchorKey = e.Params.Day
	if c.AnchorKey == "" {
		t.Fatalf("the anchor %+v names no day", e)
	}

	c.Draft, _, err = ls.CreateLetter(ctx, workflow.DraftKey(p.ID, workflow.LevelRed), 0, func(id string, _ int) (*workflow.Letter, error) {
		return &workflow.Letter{ID: id, State: workflow.LetterDraft, Kind: workflow.LetterKinds[0], ToUnit: Fuliang,
			ProblemIDs: []string{p.ID}, Demands: "请加快整改", Key: workflow.DraftKey(p.ID, workflow.LevelRed),
			Level: workflow.LevelRed, CreatedAt: at, CreatedBy: workflow.Actor{Role: workflow.RoleSystem}}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func sortedNotices(ns []workflow.Notice) []workflow.Notice {
	out := slices.Clone(ns)
	slices.SortFunc(out, func(a, b workflow.Notice) int { return strings.Compare(a.Key, b.Key) })
	return out
}

// Check compares what a sink was sent, or what ReadCarried read from a
// copy, with what AddReminderData wrote (AnchorKey and Draft only when
// got has them).
func (c *Carried) Check(t testing.TB, got Carried) {
	t.Helper()
	sameJSON(t, "the contacts", got.Contacts, c.Contacts)
	sameJSON(t, "the notices", sortedNotices(got.Notices), c.Notices)
	sameJSON(t, "the idempotency keys", got.Keys, c.Keys)
	if !reflect.DeepEqual(got.Effects, c.Effects) {
		t.Errorf("the effects: %v, want %v", got.Effects, c.Effects)
	}
	if got.AnchorKey != c.AnchorKey {
		t.Errorf("the anchor key: %q, want %q", got.AnchorKey, c.AnchorKey)
	}
}

// CheckCopy checks that s, a copy of the store AddReminderData wrote to,
// behaves as the source: the same contacts (secrets included) and delivery
// log, the pending notices still queued, the idempotency key with its
// effect (and its expiry indexed), no second anchor the same day, the
// draft still held by its key. It purges the key last.
func (c *Carried) CheckCopy(t testing.TB, svc *workflow.Service, s workflow.Store) {
	t.Helper()
	ctx := t.Context()
	rs, ks, ls := s.(workflow.Reminders), s.(workflow.IdempotencyKeys), s.(workflow.Letters)
	var got Carried
	var err error
	if got.Contacts, err = rs.Contacts(ctx); err != nil {
		t.Fatal(err)
	}
	if got.Notices, err = rs.NoticeLog(ctx, 100); err != nil {
		t.Fatal(err)
	}
	if !newestFirst(got.Notices) {
		t.Errorf("the delivery log is not newest first: %v", got.Notices)
	}
	pending, err := rs.PendingNotices(ctx, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, n := range c.Notices {
		if n.State == workflow.NoticePending {
			want = append(want, n.Key)
		}
	}
	var keys []string
	for _, n := range pending {
		keys = append(keys, n.Key)
	}
	if !slices.Equal(keys, want) || len(want) != 2 {
		t.Errorf("pending notices %v, want %v", keys, want)
	}
	got.Effects = map[string]workflow.Effect{}
	for _, k := range c.Keys {
		if err := ks.UpdateKey(ctx, k.Scope, k.Key, func(cur *workflow.KeyRecord) (*workflow.KeyRecord, error) {
			if cur != nil {
				if cur.Effect != nil {
					got.Effects[cur.Claim] = *cur.Effect
				}
				r := *cur
				r.Effect = nil
				got.Keys = append(got.Keys, r)
			}
			return nil, nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	got.AnchorKey = c.AnchorKey
	if _, created, err := svc.AnchorHead(ctx); err != nil || created {
		t.Errorf("a second anchor on the day of the copied one: created %v, %v", created, err)
	}
	c.Check(t, got)
	if c.Draft != nil {
		again, created, err := ls.CreateLetter(ctx, c.Draft.Key, 0, func(string, int) (*workflow.Letter, error) {
			t.Error("a draft created again under a copied key")
			return c.Draft, nil
		})
		if err != nil || created || again.ID != c.Draft.ID {
			t.Errorf("the draft key after the copy: %+v %v %v", again, created, err)
		}
	}
	if n, err := ks.PurgeKeys(ctx, c.Keys[0].Expires.Add(time.Second), 10); err != nil || n != len(c.Keys) {
		t.Errorf("PurgeKeys after expiry removed %d of %d keys: %v", n, len(c.Keys), err)
	}
}

// newestFirst reports whether ns is newest first.
func newestFirst(ns []workflow.Notice) bool {
	return slices.IsSortedFunc(ns, func(a, b workflow.Notice) int { return b.CreatedAt.Compare(a.CreatedAt) })
}
