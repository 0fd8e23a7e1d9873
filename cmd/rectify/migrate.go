package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

	bbolt "go.etcd.io/bbolt"

	"github.com/jdz-eco/rectify/store/bolt"
	"github.com/jdz-eco/rectify/store/etcd"
	"github.com/jdz-eco/rectify/workflow"
)

const migrateUsage = "usage: rectify migrate --from bolt:PATH|backup:FILE --to etcd:ENDPOINTS [--etcd-prefix P] [--evidence-dir DIR]"

// runMigrate copies a whole ledger into an empty etcd prefix: from a
// stopped server's bbolt file (bolt:PATH) or from a backup of an etcd
// ledger (backup:FILE, what GET /api/v1/admin/backup streams from an etcd
// store). The history is copied as it is, its hash chain checked entry by
// entry rather than sealed again; the indexes are rebuilt from the records.
// The copy is then audited on the target (with --evidence-dir, the evidence
// files too) and its head compared with the source's.
func runMigrate(ctx context.Context, args []string, env Env) error {
	fs := newFlagSet("migrate", env)
	from := fs.String("from", "", "the source: bolt:PATH (a stopped server's database file) or backup:FILE (an etcd ledger's backup)")
	to := fs.String("to", "", "the target: etcd:ENDPOINTS (comma-separated client URLs; or etcd: with --etcd-endpoints)")
	ef := addEtcdFlags(fs)
	evidenceDir := fs.String("evidence-dir", "", "the shared evidence directory: every file the ledger references is checked there after the copy")
	if err := parseFlags(fs, args, env); err != nil {
		return err
	}
	eps, ok := strings.CutPrefix(*to, "etcd:")
	if !ok {
		return errors.New(migrateUsage)
	}
	if eps != "" {
		ef.endpoints = eps
	}
	dst, err := openEtcd(ctx, ef)
	if err != nil {
		return err
	}
	defer dst.Close()

	var (
		srcHead workflow.ChainHead
		what    string
	)
	switch kind, path, _ := strings.Cut(*from, ":"); kind {
	case "bolt":
		src, err := openReadOnly(path)
		if err != nil {
			return err
		}
		defer src.Close()
		rep, err := migrateBolt(ctx, src, dst)
		if err != nil {
			return fmt.Errorf("migrate %s to %s: %w", path, ef.describe(), err)
		}
		srcHead, what = rep.Head, fmt.Sprintf("%d history entries, %d keys", rep.Entries, rep.Keys)
	case "backup":
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		h, err := dst.Restore(ctx, f)
		if err != nil {
			return fmt.Errorf("restore %s to %s: %w", path, ef.describe(), err)
		}
		srcHead, what = h.Head, fmt.Sprintf("the backup of %s at revision %d", h.Prefix, h.Revision)
	default:
		return errors.New(migrateUsage)
	}

	// Audit the copy where it now is.
	var blobs workflow.Blobs
	evidenceNote := "NOT CHECKED (give --evidence-dir)"
	if *evidenceDir != "" {
		b, dir, err := openEvidenceReadOnly("", *evidenceDir)
		if err != nil {
			return err
		}
		blobs, evidenceNote = b, dir
	}
	sn, err := dst.Snapshot(ctx)
	if err != nil {
		return err
	}
	var expect *workflow.ChainHead
	if srcHead.Seq > 0 {
		expect = &srcHead
	}
	rep, err := workflow.Audit(ctx, sn, blobs, expect)
	if err != nil {
		return fmt.Errorf("migrated to %s, but its audit FAILED: %w", ef.describe(), err)
	}
	if rep.Head.Seq != srcHead.Seq || rep.Head.Hash != srcHead.Hash {
		return fmt.Errorf("migrated to %s, but its head %s is not the source's %s", ef.describe(), rep.Head, srcHead)
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "copied\t%s into %s\n", what, ef.describe())
	fmt.Fprintf(tw, "entries\t%d, hash chain intact, as in the source\n", rep.Entries)
	fmt.Fprintf(tw, "problems\t%d, each record equal to its replayed history\n", rep.Problems)
	if blobs != nil {
		fmt.Fprintf(tw, "evidence files\t%d in %s, each present with its SHA-256\n", rep.Evidence, evidenceNote)
	} else {
		fmt.Fprintf(tw, "evidence files\t%s\n", evidenceNote)
	}
	if rep.Head.Seq > 0 {
		fmt.Fprintf(tw, "head\t%s (the source's)\n", rep.Head)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(env.Stdout, "migration done")
	return nil
}

// boltRaw is what a bbolt file holds that its store's methods do not list:
// read from its buckets (the layout store/bolt documents).
type boltRaw struct {
	outbox   map[uint64]bool
	tokens   []workflow.Token
	cursors  map[string]uint64
	sessions []workflow.Session
	dedupe   map[string]uint64
	counter  uint64
}

func readBoltRaw(db *bbolt.DB) (*boltRaw, error) {
	raw := &boltRaw{outbox: map[uint64]bool{}, cursors: map[string]uint64{}, dedupe: map[string]uint64{}}
	err := db.View(func(tx *bbolt.Tx) error {
		each := func(bucket string, fn func(k, v []byte) error) error {
			b := tx.Bucket([]byte(bucket))
			if b == nil {
				return nil // an older file, or web sign-in never used
			}
			return b.ForEach(fn)
		}
		u64 := func(what string, b []byte) (uint64, error) {
			if len(b) != 8 {
				return 0, fmt.Errorf("bad %s %x", what, b)
			}
			return binary.BigEndian.Uint64(b), nil
		}
		if err := each("outbox", func(k, _ []byte) error {
			seq, err := u64("outbox key", k)
			raw.outbox[seq] = true
			return err
		}); err != nil {
			return err
		}
		if err := each("tokens", func(_, v []byte) error {
			var t workflow.Token
			raw.tokens = append(raw.tokens, t)
			return json.Unmarshal(v, &raw.tokens[len(raw.tokens)-1])
		}); err != nil {
			return fmt.Errorf("tokens: %w", err)
		}
		if err := each("cursors", func(k, v []byte) error {
			seq, err := u64("cursor", v)
			raw.cursors[string(k)] = seq
			return err
		}); err != nil {
			return err
		}
		if err := each("sessions", func(_, v []byte) error {
			var s workflow.Session
			if json.Unmarshal(v, &s) == nil && s.IDHash != "" {
				raw.sessions = append(raw.sessions, s)
			}
			return nil
		}); err != nil {
			return err
		}
		if err := each("idx_dedupe", func(k, v []byte) error {
			n, err := u64("dedupe value", v)
			raw.dedupe[string(k)] = n
			return err
		}); err != nil {
			return err
		}
		if m := tx.Bucket([]byte("meta")); m != nil {
			if v := m.Get([]byte("problem_counter")); v != nil {
				n, err := u64("problem counter", v)
				if err != nil {
					return err
				}
				raw.counter = n
			}
		}
		return nil
	})
	return raw, err
}

// migrateBolt copies everything src holds into dst's (empty) prefix.
func migrateBolt(ctx context.Context, src *bolt.Store, dst *etcd.Store) (etcd.ImportReport, error) {
	var rep etcd.ImportReport
	raw, err := readBoltRaw(src.DB())
	if err != nil {
		return rep, fmt.Errorf("read the source: %w", err)
	}
	srcHead, err := src.Head(ctx)
	if err != nil {
		return rep, err
	}
	imp, err := dst.BeginImport(ctx)
	if err != nil {
		return rep, err
	}
	// The history first, in sequence order, each link checked.
	err = src.ForEachEntry(ctx, func(e workflow.Entry, derr error) error {
		if derr != nil {
			return &workflow.AuditError{Seq: e.Seq, Reason: "does not decode in the source: " + derr.Error()}
		}
		return imp.Entry(ctx, e, raw.outbox[e.Seq])
	})
	if err != nil {
		return rep, err
	}
	if err := src.ForEachProblem(ctx, func(p *workflow.Problem) error { return imp.Problem(ctx, p) }); err != nil {
		return rep, err
	}
	for key, n := range raw.dedupe {
		if err := imp.Dedupe(ctx, key, n); err != nil {
			return rep, err
		}
	}
	units, err := src.Units(ctx)
	if err != nil {
		return rep, err
	}
	for _, u := range units {
		if err := imp.Unit(ctx, u); err != nil {
			return rep, err
		}
	}
	wps, err := src.WorkPoints(ctx)
	if err != nil {
		return rep, err
	}
	for _, wp := range wps {
		if err := imp.WorkPoint(ctx, wp); err != nil {
			return rep, err
		}
	}
	users, err := src.Users(ctx)
	if err != nil {
		return rep, err
	}
	for _, u := range users {
		if err := imp.User(ctx, u); err != nil {
			return rep, err
		}
		hash, err := src.PasswordHash(ctx, u.ID)
		switch {
		case workflow.ErrorCode(err) == workflow.CodeNotFound:
		case err != nil:
			return rep, err
		default:
			if err := imp.Password(ctx, u.ID, hash); err != nil {
				return rep, err
			}
		}
	}
	for _, t := range raw.tokens {
		if err := imp.Token(ctx, t); err != nil {
			return rep, err
		}
	}
	for _, s := range raw.sessions {
		if err := imp.Session(ctx, s); err != nil {
			return rep, err
		}
	}
	for name, seq := range raw.cursors {
		if err := imp.Cursor(ctx, name, seq); err != nil {
			return rep, err
		}
	}
	cals, err := src.Calendars(ctx)
	if err != nil {
		return rep, err
	}
	for year, data := range cals {
		if err := imp.Calendar(ctx, year, data); err != nil {
			return rep, err
		}
	}
	imp.Counter(raw.counter)
	rep, err = imp.Finish(ctx)
	if err != nil {
		return rep, err
	}
	if rep.Head.Seq != srcHead.Seq || rep.Head.Hash != srcHead.Hash {
		return rep, fmt.Errorf("the source's recorded head is %s but its history ends at %s (run rectify audit verify on it)", srcHead, rep.Head)
	}
	return rep, nil
}
