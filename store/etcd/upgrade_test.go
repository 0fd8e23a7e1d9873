package etcd

import (
	"slices"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/jdz-eco/rectify/store/storetest"
	"github.com/jdz-eco/rectify/workflow"
)

// TestUpgradeTagsPublicProblems: a prefix of layout version 2 (no public
// tags) opened by this rectify gets the tag of every problem the public
// sees and version 3, so that the public notice list finds them again.
func TestUpgradeTagsPublicProblems(t *testing.T) {
	ctx := t.Context()
	s := openStore(t, nil, Config{})
	_, early, late, _ := storetest.BuildPublicNotices(t, s)
	want := append(slices.Clone(late), early...)
	tags := s.k(publicTagKey(0))
	tags = tags[:len(tags)-len(pad(0))]
	del, err := s.cli.Delete(ctx, tags, clientv3.WithPrefix())
	if err != nil || del.Deleted != int64(len(want)) {
		t.Fatalf("deleting the public tags: %v, %v deleted, want %d", err, del, len(want))
	}
	if _, err := s.cli.Put(ctx, s.k(keySchema), upgradableFrom2); err != nil {
		t.Fatal(err)
	}
	if list, _, err := workflow.NewService(s, workflow.NewManualClock(storetest.T0)).PublicNotices(ctx, "", 0); err != nil || len(list) != 0 {
		t.Fatalf("public notices without the tags: %d, %v", len(list), err)
	}

	r := openStore(t, nil, Config{Prefix: s.pfx})
	got, err := s.cli.Get(ctx, s.k(keySchema))
	if err != nil || len(got.Kvs) != 1 || string(got.Kvs[0].Value) != schemaVersion {
		t.Fatalf("layout after the upgrade: %v, %v", got, err)
	}
	storetest.CheckPublicNotices(t, workflow.NewService(r, workflow.NewManualClock(storetest.T0)), want)
	if _, err := workflow.Audit(ctx, r, nil, nil); err != nil {
		t.Fatalf("audit after the upgrade: %v", err)
	}
}

// TestNotReadyUnderAnotherLayout: a replica whose prefix another rectify
// moved to another key layout (a newer one upgrading it while this one
// still runs) is not ready, rather than writing records the other layout's
// indexes miss; under its own layout, or before the first write, it is.
func TestNotReadyUnderAnotherLayout(t *testing.T) {
	ctx := t.Context()
	s := openStore(t, nil, Config{})
	if err := s.Ready(ctx); err != nil {
		t.Fatalf("a new prefix: %v", err)
	}
	if _, err := s.cli.Put(ctx, s.k(keySchema), schemaVersion); err != nil {
		t.Fatal(err)
	}
	s.readyAt = time.Time{}
	if err := s.Ready(ctx); err != nil {
		t.Fatalf("under its own layout: %v", err)
	}
	if _, err := s.cli.Put(ctx, s.k(keySchema), "4"); err != nil {
		t.Fatal(err)
	}
	s.readyAt = time.Time{}
	if err := s.Ready(ctx); err == nil || !strings.Contains(err.Error(), `key layout "4"`) {
		t.Fatalf("under layout 4: %v, want not ready", err)
	}
}
