package etcd

import (
	"fmt"
	"testing"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/jdz-eco/rectify/store/storetest"
	"github.com/jdz-eco/rectify/workflow"
)

// TestSweepWithoutFacts: wake entries written before they carried facts
// (empty values) are swept from the records, with the same answer.
func TestSweepWithoutFacts(t *testing.T) {
	ctx := t.Context()
	s := openStore(t, nil, Config{})
	svc, clock, _ := storetest.BuildLedger(t, s)
	now := clock.Now().AddDate(0, 0, 400)
	pol := svc.Policy()
	want, err := s.Sweep(ctx, now, pol, 0)
	if err != nil {
		t.Fatal(err)
	}
	alerts := 0
	for _, d := range want {
		alerts += len(d.Alerts)
	}
	if len(want) == 0 || alerts == 0 {
		t.Fatalf("nothing due at %v: %v", now, want)
	}
	resp, err := s.cli.Get(ctx, s.k("ix/wake/"), clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range resp.Kvs {
		if len(kv.Value) == 0 {
			t.Fatalf("%s carries no facts", kv.Key)
		}
		if _, err := s.cli.Put(ctx, string(kv.Key), ""); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Sweep(ctx, now, pol, 0)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("without facts Sweep = %v, with them %v", got, want)
	}
	if got, err := s.Sweep(ctx, now, pol, 1); err != nil || len(got) != 1 || fmt.Sprint(got[0]) != fmt.Sprint(want[0]) {
		t.Errorf("Sweep limit 1 = %v, %v", got, err)
	}
}

// TestCapabilities: the etcd store lacks none of workflow's.
func TestCapabilities(t *testing.T) {
	if got := workflow.MissingCapabilities(openStore(t, nil, Config{})); len(got) != 0 {
		t.Errorf("the etcd store lacks %v", got)
	}
}
