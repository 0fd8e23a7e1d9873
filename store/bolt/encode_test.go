package bolt

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

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
