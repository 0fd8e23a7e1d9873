package bolt

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jdz-eco/rectify/store/bolt/bolttest"
	"github.com/jdz-eco/rectify/store/storetest"
	"github.com/jdz-eco/rectify/workflow"
)

// TestAuditCatchesRoundTampering: what an audit finds in a file whose
// rounds, round index or work point history were edited past the store:
// a round's due time or items changed after it opened, an index key
// removed, a report's late mark flipped with the chain resealed after it.
func TestAuditCatchesRoundTampering(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "rounds.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	svc, _, _ := storetest.BuildLedger(t, s)
	rounds := storetest.AddRounds(t, svc)
	pointRound := rounds[1].ID
	late, err := s.RoundEntries(ctx, pointRound, "w/8/"+storetest.Changjiang)
	if err != nil || len(late) != 1 || !late[0].Params.Late {
		t.Fatalf("the late report: %+v %v", late, err)
	}
	hist, _ := s.WorkPointHistory(ctx, 8)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	audit := func() error {
		t.Helper()
		ro, err := Open(path, Options{ReadOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		defer ro.Close()
		_, err = workflow.Audit(ctx, ro, nil, nil)
		return err
	}
	if err := audit(); err != nil {
		t.Fatalf("the untouched file: %v", err)
	}
	for _, c := range []struct {
		name   string
		tamper func(f *bolttest.File) error
		want   string
	}{
		{"due moved", func(f *bolttest.File) error {
			return f.EditRound(pointRound, func(r map[string]any) { r["due"] = "2031-01-01T00:00:00Z" })
		}, "dispatch round " + pointRound + ": differs from the round entry"},
		{"item dropped", func(f *bolttest.File) error {
			return f.EditRoundItems(pointRound, func(items []any) []any { return items[:1] })
		}, "dispatch round " + pointRound + ": differs from the round entry"},
		{"index key removed", func(f *bolttest.File) error {
			return f.DeleteRoundRef(pointRound, late[0].Seq)
		}, "its index lists 1 entries, the chain holds 2"},
		{"point history key removed", func(f *bolttest.File) error {
			return f.DeletePointRef(8, hist[0].Seq)
		}, "work point 8: its index lists"},
		{"late mark flipped and resealed", func(f *bolttest.File) error {
			return f.Rewrite(late[0].Seq, func(e *workflow.Entry) error { e.Params.Late = false; return nil })
		}, "is marked late=false but came after the due time"},
	} {
		t.Run(c.name, func(t *testing.T) {
			copyPath := filepath.Join(t.TempDir(), "copy.db")
			copyFile(t, path, copyPath)
			if err := bolttest.Tamper(copyPath, c.tamper); err != nil {
				t.Fatal(err)
			}
			ro, err := Open(copyPath, Options{ReadOnly: true})
			if err != nil {
				t.Fatal(err)
			}
			defer ro.Close()
			_, err = workflow.Audit(ctx, ro, nil, nil)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("audit: %v; want %q", err, c.want)
			}
		})
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}
