package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"

	bbolt "go.etcd.io/bbolt"

	"github.com/jdz-eco/rectify/store/bolt/internal/pack"
	"github.com/jdz-eco/rectify/store/internal/rollup"
	"github.com/jdz-eco/rectify/workflow"
)

// Sink receives a whole ledger from Export, record by record: store/etcd's
// Importer is one (rectify migrate). Export calls it in this order: the
// history in sequence order (event tells whether the entry has its outbox
// event: history written before the outbox has none), the problem records,
// the dedupe keys, units, work points, users each followed by its password
// hash if it has one, tokens, the account log in sequence order, sessions,
// outbox cursors, calendars, dispatch rounds (with their items), supervision
// letters, reminder contacts, notices (the delivery log), idempotency keys
// and their effects, the last head anchor's key, the problem counter, and
// last the rollups. Each problem's rollup facts come just before its record
// (RollupFacts). Indexes are not sent: a sink rebuilds them from what it is
// sent (ExportPlan says what becomes of every bucket).
type Sink interface {
	Entry(ctx context.Context, e workflow.Entry, event bool) error
	RollupFacts(ctx context.Context, n uint64, f workflow.RollupFacts) error
	Problem(ctx context.Context, p *workflow.Problem) error
	Dedupe(ctx context.Context, key string, n uint64) error
	Unit(ctx context.Context, u workflow.Unit) error
	WorkPoint(ctx context.Context, wp workflow.WorkPoint) error
	User(ctx context.Context, u workflow.User) error
	Password(ctx context.Context, userID, hash string) error
	Token(ctx context.Context, t workflow.Token) error
	AccountEvent(ctx context.Context, e workflow.AccountEvent) error
	Session(ctx context.Context, s workflow.Session) error
	Cursor(ctx context.Context, name string, seq uint64) error
	Calendar(ctx context.Context, year int, data []byte) error
	Round(ctx context.Context, r *workflow.Round) error
	// Letter receives a letter; a sink rebuilds the letter counter, the
	// draft keys and each year's last number from the letters.
	Letter(ctx context.Context, l *workflow.Letter) error
	// Contact receives a reminder contact as stored: robot URLs and
	// signing secrets included (docs/design.md#reminders).
	Contact(ctx context.Context, c workflow.Contact) error
	// Notice receives a notice of the delivery log; a sink rebuilds the
	// log's time order and the pending index from it (State, CreatedAt).
	Notice(ctx context.Context, n workflow.Notice) error
	// IdempotencyKey receives a key record (without its Effect), Effect
	// the effect recorded under a claim; a sink rebuilds the expiry index.
	IdempotencyKey(ctx context.Context, rec workflow.KeyRecord) error
	Effect(ctx context.Context, claim string, e workflow.Effect) error
	// AnchorKey receives the key of the last head anchor (one a day).
	AnchorKey(ctx context.Context, key string) error
	Counter(n uint64)
	// Rollups receives every tally the file keeps (rollup.go), under the
	// policy they follow, with their mark (unix nanoseconds).
	Rollups(ctx context.Context, pol workflow.Policy, mark int64, c *rollup.Content) error
}

// Export streams everything the store holds into sink (see Sink), all read
// in one read transaction: a consistent snapshot. It returns the chain head
// the file records, which the history sent should end at. An entry that
// does not decode stops it with a *workflow.AuditError; a session that does
// not decode is left out (sessions can be opened again). sink runs inside
// the transaction and must not use this store. Meant for a stopped server's
// file opened read-only: a long read transaction holds back a live file's
// growth.
func (s *Store) Export(ctx context.Context, sink Sink) (workflow.ChainHead, error) {
	var head workflow.ChainHead
	if err := ctx.Err(); err != nil {
		return head, err
	}
	err := s.view(func(tx *bbolt.Tx) error {
		var err error
		if head, err = getHead(tx.Bucket(bucketMeta)); err != nil {
			return err
		}
		x := exporter{ctx: ctx, tx: tx, sink: sink}
		for _, step := range []func() error{
			x.history, x.problems, x.dedupe, x.units, x.users, x.tokens, x.accountLog, x.sessions, x.cursors, x.calendars, x.rounds, x.letters,
			x.contacts, x.notices, x.idempotency, x.anchor, x.counter, x.rollups,
		} {
			if err := step(); err != nil {
				return err
			}
		}
		return nil
	})
	return head, err
}

// exporter is one Export's transaction and sink.
type exporter struct {
	ctx  context.Context
	tx   *bbolt.Tx
	sink Sink
}

// each calls fn with every key and value of bucket name, in key order; a
// bucket that does not exist (accounts never used) has none.
func (x *exporter) each(name []byte, fn func(k, v []byte) error) error {
	b := x.tx.Bucket(name)
	if b == nil {
		return nil
	}
	return b.ForEach(func(k, v []byte) error {
		if err := x.ctx.Err(); err != nil {
			return err
		}
		return fn(k, v)
	})
}

func number(what string, b []byte) (uint64, error) {
	if len(b) != 8 {
		return 0, fmt.Errorf("bolt: export: bad %s %x", what, b)
	}
	return binary.BigEndian.Uint64(b), nil
}

func (x *exporter) history() error {
	outbox := x.tx.Bucket(bucketOutbox)
	return x.each(bucketHistory, func(k, v []byte) error {
		seq, err := number("history key", k)
		if err != nil {
			return err
		}
		var e workflow.Entry
		if err := pack.Unmarshal(v, &e); err != nil {
			return &workflow.AuditError{Seq: seq, Reason: "does not decode in the source: " + err.Error()}
		}
		return x.sink.Entry(x.ctx, e, outbox.Get(k) != nil)
	})
}

func (x *exporter) problems() error {
	return x.each(bucketProblems, func(k, v []byte) error {
		n, err := number("problem key", k)
		if err != nil {
			return err
		}
		p, err := decodeProblem(n, v)
		if err != nil {
			return err
		}
		f, err := getFacts(x.tx, n)
		if err != nil {
			return err
		}
		if err := x.sink.RollupFacts(x.ctx, n, f); err != nil {
			return err
		}
		return x.sink.Problem(x.ctx, p)
	})
}

func (x *exporter) rollups() error {
	meta := x.tx.Bucket(bucketMeta)
	pol, built := rollupPolicy(meta)
	if !built {
		return fmt.Errorf("bolt: export: the rollups were never counted (open the file read-write once)")
	}
	c, err := dumpRollups(x.tx)
	if err != nil {
		return err
	}
	return x.sink.Rollups(x.ctx, pol, getMark(meta), c)
}

func (x *exporter) dedupe() error {
	return x.each(bucketDedupe, func(k, v []byte) error {
		n, err := number("dedupe value", v)
		if err != nil {
			return err
		}
		return x.sink.Dedupe(x.ctx, string(k), n)
	})
}

// decodeJSON decodes v, a value of bucket name under k, into out.
func decodeJSON(name, k, v []byte, out any) error {
	if err := json.Unmarshal(v, out); err != nil {
		return fmt.Errorf("bolt: export: decode %s %q: %w", name, k, err)
	}
	return nil
}

func (x *exporter) units() error {
	err := x.each(bucketUnits, func(k, v []byte) error {
		var u workflow.Unit
		if err := decodeJSON(bucketUnits, k, v, &u); err != nil {
			return err
		}
		return x.sink.Unit(x.ctx, u)
	})
	if err != nil {
		return err
	}
	return x.each(bucketWorkPoints, func(k, v []byte) error {
		var wp workflow.WorkPoint
		if err := decodeJSON(bucketWorkPoints, k, v, &wp); err != nil {
			return err
		}
		return x.sink.WorkPoint(x.ctx, wp)
	})
}

func (x *exporter) users() error {
	passwords := x.tx.Bucket(bucketPasswords)
	return x.each(bucketUsers, func(k, v []byte) error {
		var u workflow.User
		if err := decodeJSON(bucketUsers, k, v, &u); err != nil {
			return err
		}
		if err := x.sink.User(x.ctx, u); err != nil {
			return err
		}
		if passwords == nil {
			return nil
		}
		if h := passwords.Get(k); h != nil {
			return x.sink.Password(x.ctx, u.ID, string(h))
		}
		return nil
	})
}

func (x *exporter) tokens() error {
	return x.each(bucketTokens, func(k, v []byte) error {
		var t workflow.Token
		if err := decodeJSON(bucketTokens, k, v, &t); err != nil {
			return err
		}
		return x.sink.Token(x.ctx, t)
	})
}

func (x *exporter) accountLog() error {
	return x.each(bucketAccountLog, func(k, v []byte) error {
		seq, err := number("account event key", k)
		if err != nil {
			return err
		}
		var e workflow.AccountEvent
		if err := json.Unmarshal(v, &e); err != nil {
			return &workflow.AccountAuditError{Seq: seq, Reason: "does not decode in the source: " + err.Error()}
		}
		return x.sink.AccountEvent(x.ctx, e)
	})
}

func (x *exporter) sessions() error {
	return x.each(bucketSessions, func(_, v []byte) error {
		var ss workflow.Session
		if json.Unmarshal(v, &ss) != nil || ss.IDHash == "" {
			return nil
		}
		return x.sink.Session(x.ctx, ss)
	})
}

func (x *exporter) cursors() error {
	return x.each(bucketCursors, func(k, v []byte) error {
		seq, err := number("cursor", v)
		if err != nil {
			return err
		}
		return x.sink.Cursor(x.ctx, string(k), seq)
	})
}

func (x *exporter) calendars() error {
	return x.each(bucketCalendars, func(k, v []byte) error {
		year, err := number("calendar key", k)
		if err != nil {
			return err
		}
		return x.sink.Calendar(x.ctx, int(int64(year)), bytes.Clone(v))
	})
}

func (x *exporter) counter() error {
	var n uint64
	if v := x.tx.Bucket(bucketMeta).Get(keyProblemCounter); v != nil {
		var err error
		if n, err = number("problem counter", v); err != nil {
			return err
		}
	}
	x.sink.Counter(n)
	return nil
}
