package etcd

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/jdz-eco/rectify/store/storetest"
	"github.com/jdz-eco/rectify/workflow"
	"github.com/jdz-eco/rectify/workflow/dossier"
)

// TestDossierAndHeadsOnEtcd: on a ledger sealed by etcd's deferred sealer,
// a case file verifies offline (its entries' hashes are the chain's) and the
// head it prints, with the day's anchor, is intact in an audit of the
// cluster; a head with another hash is reported rewritten.
func TestDossierAndHeadsOnEtcd(t *testing.T) {
	st := openStore(t, nil, Config{})
	ctx := t.Context()
	svc, _, ids := storetest.BuildLedger(t, st)
	id := ids[3] // assigned, with alerts and a note; no evidence
	cf, err := svc.CaseFile(ctx, storetest.BureauActor, id)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := dossier.Write(&buf, cf, func(string) (io.ReadCloser, error) { return nil, errors.New("no evidence") }); err != nil {
		t.Fatal(err)
	}
	rep, err := dossier.Verify(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil || rep.Entries != len(cf.History) || rep.Head != cf.Head {
		t.Fatalf("Verify = %+v, %v", rep, err)
	}
	anchor, created, err := svc.AnchorHead(ctx)
	if err != nil || !created {
		t.Fatalf("AnchorHead = %v, %v", created, err)
	}
	forged := cf.Head
	forged.Hash = anchor.Hash
	_, checks, err := workflow.AuditHeads(ctx, st, nil, []workflow.ChainHead{cf.Head, {Seq: anchor.Seq, Hash: anchor.Hash}, forged})
	if err != nil {
		t.Fatal(err)
	}
	if checks[0].Status != workflow.HeadIntact || checks[1].Status != workflow.HeadIntact || checks[2].Status != workflow.HeadRewritten {
		t.Fatalf("checks %+v", checks)
	}
}
