package bolt

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/jdz-eco/rectify/store/storetest"
	"github.com/jdz-eco/rectify/workflow"
)

// sweepLedger builds problems in every supervised situation on s and moves
// the clock well past their deadlines.
func sweepLedger(t *testing.T, s *Store) (*workflow.Service, time.Time) {
	t.Helper()
	ctx := t.Context()
	clock := workflow.NewManualClock(storetest.T0)
	svc := workflow.NewService(s, clock)
	if err := svc.PutUnits(ctx, storetest.Units()); err != nil {
		t.Fatal(err)
	}
	for i := range 12 {
		p, _, err := svc.CreateProblem(ctx, storetest.BureauActor, workflow.NewProblem{Title: fmt.Sprintf("问题 %d", i), Description: "说明",
			Source: workflow.SourceAudit, CountyID: storetest.Leping})
		if err != nil {
			t.Fatal(err)
		}
		d := storetest.Deadline(3 + 9*i)
		officer := storetest.OfficerOf(storetest.Leping)
		cmds := []struct {
			a   workflow.Actor
			cmd workflow.Command
		}{
			{storetest.BureauActor, workflow.Command{Trigger: workflow.TriggerAssign, Params: workflow.Params{LeadUnit: storetest.Leping, Deadline: &d}}},
			{officer, workflow.Command{Trigger: workflow.TriggerAccept, Params: workflow.Params{Plan: "方案"}}},
			{officer, workflow.Command{Trigger: workflow.TriggerSubmit, Params: workflow.Params{Summary: "已整改"}}},
		}
		for j, c := range cmds[:i%3+1] {
			if j == 2 {
				if _, err := svc.AddEvidence(ctx, officer, p.ID, storetest.EvidenceInput(p.ID), 0); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := svc.Fire(ctx, c.a, p.ID, c.cmd); err != nil {
				t.Fatal(err)
			}
		}
	}
	now := storetest.T0.AddDate(0, 0, 40)
	clock.Set(now)
	return svc, now
}

// TestSweepIndexOnly: Sweep reads no problem record, and gives what reading
// every record would; on a file whose wake index has no values yet it reads
// the records, and reopening read-write builds the values.
func TestSweepIndexOnly(t *testing.T) {
	ctx := t.Context()
	s, path := open(t, Options{})
	svc, now := sweepLedger(t, s)
	pol := svc.Policy()
	got, err := s.Sweep(ctx, now, pol, 0)
	if err != nil {
		t.Fatal(err)
	}
	if n := s.sweepDecodes.Load(); n != 0 {
		t.Errorf("Sweep decoded %d problem records", n)
	}
	// What the records say.
	ids, err := s.Due(ctx, now, 0)
	if err != nil {
		t.Fatal(err)
	}
	var want []workflow.DueAlert
	for _, id := range ids {
		p, err := s.Problem(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, workflow.DueAlert{ID: id, Alerts: workflow.PendingAlerts(p, now, pol)})
	}
	if len(want) < 6 || mustJSON(t, got) != mustJSON(t, want) {
		t.Fatalf("Sweep = %s\nthe records give %s", mustJSON(t, got), mustJSON(t, want))
	}
	if limited, _ := s.Sweep(ctx, now, pol, 2); len(limited) != 2 || limited[1].ID != want[1].ID {
		t.Errorf("Sweep with limit 2 = %v", limited)
	}

	// A version 3 file: no values, no flag.
	err = s.db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketByWake)
		var keys [][]byte
		_ = b.ForEach(func(k, _ []byte) error { keys = append(keys, slices.Clone(k)); return nil })
		for _, k := range keys {
			if err := b.Put(k, []byte{}); err != nil {
				return err
			}
		}
		return tx.Bucket(bucketMeta).Delete(keyIndexWake)
	})
	if err != nil {
		t.Fatal(err)
	}
	if old, err := s.Sweep(ctx, now, pol, 0); err != nil || mustJSON(t, old) != mustJSON(t, want) {
		t.Errorf("Sweep without values = %s, %v", mustJSON(t, old), err)
	}
	if n := s.sweepDecodes.Load(); n != uint64(len(want)) {
		t.Errorf("Sweep without values decoded %d records, want %d", n, len(want))
	}
	s.Close()
	s, err = Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	checkIndexes(t, s)
	if again, err := s.Sweep(ctx, now, pol, 0); err != nil || mustJSON(t, again) != mustJSON(t, want) || s.sweepDecodes.Load() != 0 {
		t.Errorf("Sweep after the backfill = %s, %v, %d records decoded", mustJSON(t, again), err, s.sweepDecodes.Load())
	}
}

// TestUpgradeFromVersion3: a version 3 file (events in full in the outbox,
// no wake index values) opens as version 4 with the same events, its wake
// index values built and its chain intact; new events are keys only.
func TestUpgradeFromVersion3(t *testing.T) {
	ctx := t.Context()
	s, path := open(t, Options{})
	_, now := sweepLedger(t, s)
	events, err := s.Events(ctx, 0, MaxEventLimit)
	if err != nil {
		t.Fatal(err)
	}
	before := take(t, s)
	s.Close()
	updateFile(t, path, func(tx *bbolt.Tx) error {
		for _, ev := range events {
			v, err := json.Marshal(ev)
			if err != nil {
				return err
			}
			if err := tx.Bucket(bucketOutbox).Put(u64(ev.Seq), v); err != nil {
				return err
			}
		}
		b := tx.Bucket(bucketByWake)
		var keys [][]byte
		_ = b.ForEach(func(k, _ []byte) error { keys = append(keys, slices.Clone(k)); return nil })
		for _, k := range keys {
			if err := b.Put(k, []byte{}); err != nil {
				return err
			}
		}
		meta := tx.Bucket(bucketMeta)
		if err := meta.Delete(keyIndexWake); err != nil {
			return err
		}
		return meta.Put(keySchema, u64(3))
	})
	s, err = Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if schema, _ := metaOf(t, s); schema != schemaVersion {
		t.Errorf("schema %d after the upgrade", schema)
	}
	checkIndexes(t, s)
	checkChain(t, s)
	if got := take(t, s); mustJSON(t, got) != mustJSON(t, before) {
		t.Error("the upgrade changed the records")
	}
	if got, err := s.Events(ctx, 0, MaxEventLimit); err != nil || mustJSON(t, got) != mustJSON(t, events) {
		t.Errorf("events after the upgrade differ: %v", err)
	}
	svc := workflow.NewService(s, workflow.NewManualClock(now))
	if due, err := s.Sweep(ctx, now, svc.Policy(), 0); err != nil || len(due) == 0 || s.sweepDecodes.Load() != 0 {
		t.Errorf("Sweep after the upgrade: %d due, %v, %d records decoded", len(due), err, s.sweepDecodes.Load())
	}
	n, err := svc.Scan(ctx)
	if err != nil || n == 0 {
		t.Fatalf("Scan after the upgrade = %d, %v", n, err)
	}
	all, err := s.Events(ctx, 0, MaxEventLimit)
	if err != nil || len(all) != len(events)+n {
		t.Fatalf("%d events after the scan, want %d: %v", len(all), len(events)+n, err)
	}
	checkIndexes(t, s)
	checkChain(t, s)
	mustAudit(t, s)
}
