package bolt

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jdz-eco/rectify/store/bolt/bolttest"
	"github.com/jdz-eco/rectify/store/storetest"
	"github.com/jdz-eco/rectify/workflow"
)

func TestLetters(t *testing.T) {
	storetest.RunLetters(t, func(t *testing.T) workflow.Store {
		s, _ := open(t, Options{})
		return s
	})
}

func TestServiceLetters(t *testing.T) {
	s, _ := open(t, Options{})
	storetest.RunServiceLetters(t, s)
}

// TestAuditCatchesLetterTampering: a letter's record edited past the store
// (its number, addressee, kind, demands, reply due time, problems, reply,
// state) or removed, its entries left as they were, fails the audit with a
// finding that names the letter.
func TestAuditCatchesLetterTampering(t *testing.T) {
	path := filepath.Join(t.TempDir(), "letters.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	svc, _, ids := storetest.BuildLedger(t, s)
	forgeries := storetest.AddLetters(t, svc, ids)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	audit := func(path string) (workflow.AuditReport, error) {
		t.Helper()
		ro, err := Open(path, Options{ReadOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		defer ro.Close()
		return workflow.Audit(t.Context(), ro, nil, nil)
	}
	if rep, err := audit(path); err != nil || rep.Letters != 2 {
		t.Fatalf("the untouched file: %+v %v", rep, err)
	}
	for _, c := range forgeries {
		t.Run(c.Name, func(t *testing.T) {
			copyPath := filepath.Join(t.TempDir(), "copy.db")
			copyFile(t, path, copyPath)
			err := bolttest.Tamper(copyPath, func(f *bolttest.File) error {
				if c.Delete {
					return f.DeleteLetter(c.Letter)
				}
				return f.EditLetter(c.Letter, c.Edit)
			})
			if err != nil {
				t.Fatal(err)
			}
			_, err = audit(copyPath)
			var ae *workflow.AuditError
			if !errors.As(err, &ae) || ae.Letter != c.Letter || !strings.Contains(err.Error(), c.Want) {
				t.Fatalf("audit: %v; want a finding on letter %s with %q", err, c.Letter, c.Want)
			}
		})
	}
}
