package api_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/jdz-eco/rectify/workflow"
)

// The export streams: its first bytes reach the client before the store is
// asked for the first page of problems (the store waits for the client to
// have them), now and as of a date.
func TestLedgerExportFirstByteBeforeTheRows(t *testing.T) {
	v := newEnv(t)
	ctx := context.Background()
	err := v.svc.CreateProblems(ctx, workflow.Actor{ID: "system", Role: workflow.RoleSystem}, 600, func(i int) (workflow.BatchItem, error) {
		return workflow.BatchItem{New: workflow.NewProblem{Title: fmt.Sprintf("问题%d", i), Description: fmt.Sprintf("第%d个问题。", i),
			Source: workflow.SourceAudit, CountyID: "fuliang"}}, nil
	}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(v.e)
	defer srv.Close()
	for _, q := range []string{"", "?as_of=2021-12-31"} {
		sawBytes := make(chan struct{})
		pages := 0
		v.store.beforePage = func(workflow.ProblemFilter) {
			pages++
			if pages == 1 {
				select {
				case <-sawBytes:
				case <-time.After(30 * time.Second):
					t.Error("the client got no byte before the first page of problems was read")
				}
			}
		}
		req, _ := http.NewRequest("GET", srv.URL+"/api/v1/ledger.xlsx"+q, nil)
		req.Header.Set("Authorization", "Bearer "+v.tokens["bureau"])
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		first := make([]byte, 1)
		if _, err := io.ReadFull(res.Body, first); err != nil {
			t.Fatal(err)
		}
		close(sawBytes)
		rest, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil || res.StatusCode != http.StatusOK {
			t.Fatalf("%q: %d %v", q, res.StatusCode, err)
		}
		w := openWorkbook(t, append(first, rest...))
		if len(w.rows) != 601 || pages < 2 {
			t.Fatalf("%q: %d rows from %d pages, want 601 rows from 2", q, len(w.rows), pages)
		}
		v.store.beforePage = nil
	}
}
