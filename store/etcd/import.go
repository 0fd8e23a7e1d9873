package etcd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/jdz-eco/rectify/store/internal/rollup"
	"github.com/jdz-eco/rectify/workflow"
)

// Importer copies a whole ledger into an empty prefix (rectify migrate,
// Restore). It writes the keys of this package's layout directly, in
// transactions of at most MaxTxnOps puts, and checks the hash chain it is
// given instead of sealing it again: entries must come in sequence order,
// each linked to the one before and matching its own hash. While it runs the
// prefix holds meta/migrating, which Open refuses, so that no replica serves
// a half-copied ledger; Finish removes it.
type Importer struct {
	s       *Store
	facts   workflow.RollupFacts // the next record's (RollupFacts)
	ops     []clientv3.Op
	head    workflow.ChainHead
	maxN    uint64
	counter uint64
	rounds  uint64 // the largest round number copied
	// letters is the largest letter id number copied; years the last
	// letter number of each year.
	letters uint64
	years   map[int]int
	entries uint64
	keys    uint64
	// accounts is the last account event copied (AccountEvent).
	accounts workflow.ChainHead
}

// BeginImport checks that the prefix holds nothing (but command and election
// keys) and marks it as being migrated into.
func (s *Store) BeginImport(ctx context.Context) (*Importer, error) {
	n, err := s.countKeys(ctx)
	if err != nil {
		return nil, err
	}
	if n > 0 {
		return nil, fmt.Errorf("etcd: %s is not empty (%d keys): migrate into a new prefix, or delete this one first (etcdctl del --prefix %s)", s.pfx, n, s.pfx)
	}
	mk := s.k(keyMigrating)
	ok, _, err := s.write(ctx, []clientv3.Cmp{clientv3.Compare(clientv3.CreateRevision(mk), "=", 0)},
		[]clientv3.Op{clientv3.OpPut(mk, time.Now().UTC().Format(time.RFC3339))}, nil)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("etcd: another migration into %s is running", s.pfx)
	}
	return &Importer{s: s, facts: workflow.NoRollupFacts}, nil
}

// countKeys counts the keys under the prefix but the transient ones.
func (s *Store) countKeys(ctx context.Context) (int64, error) {
	ranges := [][2]string{
		{s.pfx, s.k("cmd/")},
		{s.prefixEnd("cmd/"), s.k("election/")},
		{s.prefixEnd("election/"), clientv3.GetPrefixRangeEnd(s.pfx)},
	}
	var total int64
	for _, r := range ranges {
		rctx, cancel := s.reqCtx(ctx)
		resp, err := s.cli.Get(rctx, r[0], clientv3.WithRange(r[1]), clientv3.WithCountOnly())
		cancel()
		if err != nil {
			return 0, wrap("count keys", err)
		}
		total += resp.Count
	}
	return total, nil
}

// put queues one key.
func (im *Importer) put(ctx context.Context, rel string, v []byte) error {
	im.ops = append(im.ops, clientv3.OpPut(im.s.k(rel), string(v)))
	im.keys++
	if len(im.ops) >= im.s.cfg.MaxTxnOps {
		return im.flush(ctx)
	}
	return nil
}

// flush writes the queued keys. Puts of fixed values are idempotent, so an
// unknown outcome is simply tried again.
func (im *Importer) flush(ctx context.Context) error {
	if len(im.ops) == 0 {
		return nil
	}
	var err error
	for attempt := 0; attempt < 10; attempt++ {
		rctx, cancel := im.s.reqCtx(ctx)
		_, err = im.s.cli.Txn(rctx).Then(im.ops...).Commit()
		cancel()
		if err == nil {
			im.ops = im.ops[:0]
			return nil
		}
		if definite(err) || ctx.Err() != nil {
			break
		}
		if serr := sleepCtx(ctx, backoff(attempt)); serr != nil {
			break
		}
	}
	return wrap("import", err)
}

// Entry copies history entry e (the next in sequence) and, if event, its
// outbox event. It checks e's link to the entry before and its hash.
func (im *Importer) Entry(ctx context.Context, e workflow.Entry, event bool) error {
	want := im.head.Seq + 1
	prev := im.head.Hash
	if im.head.Seq == 0 {
		prev = workflow.GenesisHash
	}
	switch {
	case e.Seq != want:
		return &workflow.AuditError{Seq: want, Reason: fmt.Sprintf("missing in the source: the next entry is %d", e.Seq)}
	case e.PrevHash != prev:
		return &workflow.AuditError{Seq: e.Seq, Reason: "prev_hash does not match the previous entry's hash in the source"}
	}
	h, err := workflow.EntryHash(e)
	if err != nil {
		return err
	}
	if h != e.Hash {
		return &workflow.AuditError{Seq: e.Seq, Reason: "content does not match its hash in the source (the entry was altered)"}
	}
	n, ok := workflow.ParseProblemID(e.ProblemID)
	if !ok && (e.ProblemID != "" || e.WorkPoint <= 0 && e.Action != workflow.ActionRoundOpen && e.Action != workflow.ActionHeadAnchor) {
		return &workflow.AuditError{Seq: e.Seq, Reason: fmt.Sprintf("names problem %q", e.ProblemID)}
	}
	refs, err := refKeys(&e) // the round index and a work point's history (rounds.go)
	if err != nil {
		return err
	}
	for _, k := range refs {
		if err := im.put(ctx, k, nil); err != nil {
			return err
		}
	}
	v, err := json.Marshal(e)
	if err != nil {
		return err
	}
	if err := im.put(ctx, historyKey(e.Seq), v); err != nil {
		return err
	}
	if event {
		if err := im.put(ctx, outboxKey(e.Seq), nil); err != nil {
			return err
		}
	}
	im.head = workflow.ChainHead{Seq: e.Seq, Hash: e.Hash, At: e.At}
	im.entries++
	if n == 0 {
		return nil // an entry of no problem
	}
	return im.put(ctx, problemHistPrefix(n)+pad(e.Seq), nil)
}

// RollupFacts gives the rollup facts of the next record Problem copies.
func (im *Importer) RollupFacts(_ context.Context, _ uint64, f workflow.RollupFacts) error {
	im.facts = f
	return nil
}

// Problem copies a problem record, with the facts RollupFacts gave last,
// and writes its index keys.
func (im *Importer) Problem(ctx context.Context, p *workflow.Problem) error {
	n, ok := workflow.ParseProblemID(p.ID)
	if !ok {
		return fmt.Errorf("etcd: import: problem id %q", p.ID)
	}
	v := encodeRecord(p, im.facts)
	im.facts = workflow.NoRollupFacts
	if err := im.put(ctx, problemKey(n), v); err != nil {
		return err
	}
	for _, k := range indexPuts(p, n) {
		if err := im.put(ctx, k.key, []byte(k.value)); err != nil {
			return err
		}
	}
	im.maxN = max(im.maxN, n)
	return nil
}

// Dedupe records that problem n was created with dedupe key.
func (im *Importer) Dedupe(ctx context.Context, key string, n uint64) error {
	return im.put(ctx, dedupeKey(key), []byte(strconv.FormatUint(n, 10)))
}

// Counter sets the problem counter (the last number issued); Finish uses the
// larger of it and the largest problem number copied.
func (im *Importer) Counter(n uint64) { im.counter = n }

// Round copies a dispatch round with its items (rounds.go's keys).
func (im *Importer) Round(ctx context.Context, r *workflow.Round) error {
	n, ok := workflow.ParseRoundID(r.ID)
	if !ok {
		return fmt.Errorf("etcd: import: round id %q", r.ID)
	}
	ops, err := im.s.roundOps(r)
	if err != nil {
		return err
	}
	for _, op := range ops {
		if err := im.put(ctx, string(op.KeyBytes()[len(im.s.pfx):]), op.ValueBytes()); err != nil {
			return err
		}
	}
	im.rounds = max(im.rounds, n)
	return nil
}

// Letter copies a supervision letter (letters.go's keys); Finish writes the
// counters: the largest id, and each year's largest number (numbers run
// without gaps, so the largest is the last issued).
func (im *Importer) Letter(ctx context.Context, l *workflow.Letter) error {
	n, ok := workflow.ParseLetterID(l.ID)
	if !ok {
		return fmt.Errorf("etcd: import: letter id %q", l.ID)
	}
	v, err := json.Marshal(l)
	if err != nil {
		return err
	}
	if err := im.put(ctx, letterKey(n), v); err != nil {
		return err
	}
	if l.Key != "" {
		if err := im.put(ctx, letterDraftKey(l.Key), []byte(strconv.FormatUint(n, 10))); err != nil {
			return err
		}
	}
	im.letters = max(im.letters, n)
	if l.Year != 0 && l.Number > 0 {
		if im.years == nil {
			im.years = map[int]int{}
		}
		im.years[l.Year] = max(im.years[l.Year], l.Number)
	}
	return nil
}

// Contact copies a reminder contact as stored (secrets included, as the
// source keeps them: docs/design.md#what-migrate-carries).
func (im *Importer) Contact(ctx context.Context, c workflow.Contact) error {
	if c.Key == "" {
		return errors.New("etcd: import: a contact without a key")
	}
	v, _ := json.Marshal(c)
	return im.put(ctx, contactKey(c.Key), v)
}

// Notice copies a notice with its keys in the delivery log's order and,
// while it is pending, in the queue (reminders.go).
func (im *Importer) Notice(ctx context.Context, n workflow.Notice) error {
	if n.Key == "" {
		return errors.New("etcd: import: a notice without a key")
	}
	v, _ := json.Marshal(n)
	if err := im.put(ctx, noticeKey(n.Key), v); err != nil {
		return err
	}
	if err := im.put(ctx, noticeTimeKey(&n), nil); err != nil {
		return err
	}
	if n.State == workflow.NoticePending {
		return im.put(ctx, noticePendingKey(n.Key), nil)
	}
	return nil
}

// IdempotencyKey copies a key record (without its effect) and its expiry
// index key; Effect copies the effect recorded under a claim.
func (im *Importer) IdempotencyKey(ctx context.Context, rec workflow.KeyRecord) error {
	rec.Effect = nil
	v, err := json.Marshal(&rec)
	if err != nil {
		return err
	}
	if err := im.put(ctx, idemRecordKey(rec.Scope, rec.Key), v); err != nil {
		return err
	}
	return im.put(ctx, idemExpiryKey(rec.Expires, rec.Scope, rec.Key), nil)
}

func (im *Importer) Effect(ctx context.Context, claim string, e workflow.Effect) error {
	v, _ := json.Marshal(e)
	return im.put(ctx, idemEffectKey(claim), v)
}

// AnchorKey copies the last head anchor's key (anchors.go).
func (im *Importer) AnchorKey(ctx context.Context, key string) error {
	return im.put(ctx, keyAnchor, []byte(key))
}

// Unit, WorkPoint, User, Token, Cursor, Calendar, Password and Session copy
// one record each.
func (im *Importer) Unit(ctx context.Context, u workflow.Unit) error {
	v, _ := json.Marshal(u)
	return im.put(ctx, "units/"+esc(u.ID), v)
}

func (im *Importer) WorkPoint(ctx context.Context, wp workflow.WorkPoint) error {
	v, _ := json.Marshal(wp)
	return im.put(ctx, "wp/"+pad(uint64(max(wp.Number, 0))), v)
}

func (im *Importer) User(ctx context.Context, u workflow.User) error {
	v, _ := json.Marshal(u)
	return im.put(ctx, userKey(u.ID), v)
}

func (im *Importer) Token(ctx context.Context, t workflow.Token) error {
	v, _ := json.Marshal(t)
	return im.put(ctx, tokenKey(t.Hash), v)
}

func (im *Importer) Cursor(ctx context.Context, name string, seq uint64) error {
	return im.put(ctx, cursorKey(name), []byte(strconv.FormatUint(seq, 10)))
}

func (im *Importer) Calendar(ctx context.Context, year int, data []byte) error {
	return im.put(ctx, "cal/"+strconv.Itoa(year), data)
}

func (im *Importer) Password(ctx context.Context, userID, hash string) error {
	return im.put(ctx, passwordKey(userID), []byte(hash))
}

func (im *Importer) Session(ctx context.Context, ss workflow.Session) error {
	v, _ := json.Marshal(ss)
	return im.put(ctx, sessionKey(ss.IDHash), v)
}

// Rollups copies the source's tallies, under their policy and mark (the
// same for every scope), and records the policy: the copy's statistics
// read them as the source's did.
func (im *Importer) Rollups(ctx context.Context, pol workflow.Policy, mark int64, c *rollup.Content) error {
	keys, scopes := viewsOf(c)
	for k, items := range keys {
		if err := im.put(ctx, k, rollup.AppendItems(nil, items)); err != nil {
			return err
		}
	}
	for sc := range scopes {
		if err := im.put(ctx, scopePrefix(sc)+"m", []byte(strconv.FormatInt(mark, 10))); err != nil {
			return err
		}
	}
	v, _ := json.Marshal(pol)
	im.s.rollPol.Store(&pol)
	return im.put(ctx, keyRollupPolicy, v)
}

// ImportReport sums up an import.
type ImportReport struct {
	Entries uint64             `json:"entries"`
	Keys    uint64             `json:"keys"`
	Head    workflow.ChainHead `json:"head"`
	Counter uint64             `json:"counter"`
}

// Finish writes the chain head (the last entry copied), the counter and the
// layout version, then removes the migration marker.
func (im *Importer) Finish(ctx context.Context) (ImportReport, error) {
	rep := ImportReport{Entries: im.entries, Head: im.head, Counter: max(im.counter, im.maxN)}
	if im.head.Seq > 0 {
		v, _ := json.Marshal(im.head)
		if err := im.put(ctx, keyHead, v); err != nil {
			return rep, err
		}
	}
	if im.accounts.Seq > 0 {
		v, _ := json.Marshal(im.accounts)
		if err := im.put(ctx, keyAccountHead, v); err != nil {
			return rep, err
		}
	}
	if rep.Counter > 0 {
		if err := im.put(ctx, keyCounter, []byte(strconv.FormatUint(rep.Counter, 10))); err != nil {
			return rep, err
		}
	}
	if im.rounds > 0 {
		if err := im.put(ctx, keyRoundCounter, []byte(strconv.FormatUint(im.rounds, 10))); err != nil {
			return rep, err
		}
	}
	if im.letters > 0 {
		if err := im.put(ctx, keyLetterCounter, []byte(strconv.FormatUint(im.letters, 10))); err != nil {
			return rep, err
		}
	}
	for year, n := range im.years {
		if err := im.put(ctx, letterYearKey(year), []byte(strconv.Itoa(n))); err != nil {
			return rep, err
		}
	}
	if err := im.put(ctx, keySchema, []byte(schemaVersion)); err != nil {
		return rep, err
	}
	if err := im.put(ctx, keyFilters, []byte("1")); err != nil {
		return rep, err
	}
	rep.Keys = im.keys
	return rep, im.finishRaw(ctx)
}

// finishRaw flushes and removes the migration marker.
func (im *Importer) finishRaw(ctx context.Context) error {
	if err := im.flush(ctx); err != nil {
		return err
	}
	if _, _, err := im.s.write(ctx, nil, []clientv3.Op{clientv3.OpDelete(im.s.k(keyMigrating))}, nil); err != nil {
		return err
	}
	// The committer of this Store learned the counter at Open, before the
	// copy: learn it again.
	return im.s.reload(ctx)
}

// reload makes the committer read the counter again (a Txn compare would
// refresh it too, at the cost of one refused write), and upgrades the
// layout version a restored backup may have brought.
func (s *Store) reload(ctx context.Context) error {
	rctx, cancel := s.reqCtx(ctx)
	defer cancel()
	resp, err := s.cli.Txn(rctx).Then(clientv3.OpGet(s.k(keyCounter)), clientv3.OpGet(s.k(keySchema))).Commit()
	if err != nil {
		return wrap("read the counter", err)
	}
	c, err := decodeCounter(first(resp.Responses[0]))
	if err != nil {
		return err
	}
	s.gc.setState(c)
	return s.upgradeLayout(ctx, first(resp.Responses[1]))
}
