package bolt

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/jdz-eco/rectify/store/bolt/internal/pack"
	"github.com/jdz-eco/rectify/store/storetest"
	"github.com/jdz-eco/rectify/workflow"
)

// TestSealMatchesDomain: sealing a pre-encoded entry gives exactly the bytes
// and hash that workflow.SealEntry and encoding/json give.
func TestSealMatchesDomain(t *testing.T) {
	d := storetest.Deadline(30)
	wake := d.Add(-7 * workflow.Day)
	entries := []workflow.Entry{
		{At: storetest.T0, Actor: storetest.BureauActor, Action: workflow.ActionCreate, To: workflow.StateFound,
			Params: workflow.Params{Title: `<script>&"引号"</script>`, Description: "换行\n制表\t\u2028", Source: workflow.SourceAudit, CountyID: storetest.Leping}},
		{At: storetest.T0.Add(time.Hour), Actor: storetest.BureauActor, Action: string(workflow.TriggerAssign), From: workflow.StateFound, To: workflow.StateAssigned,
			Params:      workflow.Params{LeadUnit: storetest.Leping, CooperatingUnits: []string{storetest.Water}, Deadline: &d},
			Supervision: &workflow.Supervision{Stage: workflow.StageAccept, StageDue: &d, WakeAt: &wake}},
		{At: storetest.T0.Add(2 * time.Hour), Actor: storetest.OfficerOf(storetest.Leping), Action: workflow.ActionNote,
			Params: workflow.Params{Text: strings.Repeat("进展", 300)}, Supervision: &workflow.Supervision{}},
	}
	encoded, err := encodeEntries(entries, 42, 7)
	if err != nil {
		t.Fatal(err)
	}
	prev := workflow.GenesisHash
	for i, e := range entries {
		for _, seq := range []uint64{1, 9, 10, 1 << 40} {
			want := e
			want.Seq, want.ProblemID, want.Version = seq, "42", 7
			if err := workflow.SealEntry(&want, prev); err != nil {
				t.Fatal(err)
			}
			wantValue, err := json.Marshal(want)
			if err != nil {
				t.Fatal(err)
			}
			value, hash := encoded[i].seal(seq, prev)
			if hash != want.Hash || string(value) != string(wantValue) {
				t.Errorf("entry %d at seq %d:\n got %s %s\nwant %s %s", i, seq, hash, value, want.Hash, wantValue)
			}
			prev = hash
		}
	}
}

// TestSealPacked checks that the entry the store seals in a write
// transaction, packed by appending tokens, unpacks to exactly the JSON its
// hash is over.
func TestSealPacked(t *testing.T) {
	e := sampleEntry(t)
	enc, err := encodeEntries([]workflow.Entry{e}, 20, 5)
	if err != nil {
		t.Fatal(err)
	}
	if enc[0].packedMid == nil {
		t.Fatal("entry not packed")
	}
	prev := hex.EncodeToString(make([]byte, 32))
	for _, seq := range []uint64{1, 127, 128, 1 << 40} {
		js, h := enc[0].seal(seq, prev)
		v := enc[0].sealPacked(seq, prev, h, js)
		back, err := pack.Unpack(v)
		if err != nil || !bytes.Equal(back, js) {
			t.Fatalf("seq %d: unpacked\n%s\nwant\n%s (%v)", seq, back, js, err)
		}
		if !bytes.Equal(v, pack.Value(js)) {
			t.Errorf("seq %d: sealPacked differs from PackValue of the sealed JSON", seq)
		}
		var got workflow.Entry
		if err := json.Unmarshal(back, &got); err != nil {
			t.Fatal(err)
		}
		if want, err := workflow.EntryHash(got); err != nil || want != h {
			t.Errorf("seq %d: hash %s, entry hashes to %s (%v)", seq, h, want, err)
		}
	}
}

// sampleEntry is a note of a problem in Chinese, sealed first in the chain.
func sampleEntry(t *testing.T) workflow.Entry {
	at := time.Date(2021, 6, 24, 2, 0, 0, 123456789, time.UTC)
	e := workflow.Entry{Seq: 7, ProblemID: "20", Version: 5, At: at,
		Actor:  workflow.Actor{ID: "u2d432480751a", Name: "昌江区整改专员", Role: workflow.RoleUnit, UnitID: "changjiang"},
		Action: workflow.ActionNote, From: workflow.StateRectifying, To: workflow.StateRectifying,
		Params: workflow.Params{Note: "已完成渗滤液收集池修复 <80%> & \"验收\" 准备中\u2028"}}
	if err := workflow.SealEntry(&e, workflow.GenesisHash); err != nil {
		t.Fatal(err)
	}
	return e
}
