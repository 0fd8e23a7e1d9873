package api_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/jdz-eco/rectify/store/bolt"
	"github.com/jdz-eco/rectify/workflow"
)

// TestAuditHead: the head moves with every write and is the last history
// entry; unit officers may not read it.
func TestAuditHead(t *testing.T) {
	v := newEnv(t)
	head := func(who string) map[string]any {
		t.Helper()
		rec := v.do("GET", "/api/v1/audit/head", who, nil)
		if rec.Header().Get("Cache-Control") != "no-store" {
			t.Errorf("Cache-Control %q", rec.Header().Get("Cache-Control"))
		}
		return v.ok(rec, http.StatusOK)
	}
	if h := head("bureau"); h["seq"] != 0.0 || h["at"] != nil {
		t.Errorf("head of an empty ledger %v", h)
	}

	id := v.create("尾矿库污染隐患")
	var last map[string]any
	check := func(what string) {
		t.Helper()
		h := head("bureau")
		items := v.ok(v.do("GET", "/api/v1/problems/"+id+"/history", "bureau", nil), 200)["items"].([]any)
		e := items[len(items)-1].(map[string]any)
		if h["seq"] != e["seq"] || h["hash"] != e["hash"] || h["at"] != e["at"] {
			t.Errorf("after %s: head %v, last entry %v", what, h, e)
		}
		if last != nil && (h["seq"].(float64) <= last["seq"].(float64) || h["hash"] == last["hash"]) {
			t.Errorf("after %s: head %v did not move from %v", what, h, last)
		}
		last = h
	}
	check("create")
	v.fire(id, "bureau", "assign", map[string]any{"lead_unit": "fuliang", "deadline": "2021-12-31"})
	check("assign")
	v.evidence(id, "fuliang")
	check("evidence")
	v.ok(v.do("POST", "/api/v1/problems/"+id+"/notes", "fuliang", `{"text":"进展"}`), 200)
	check("note")
	v.fire(id, "fuliang", "accept", map[string]any{"plan": "方案"})
	check("accept")
	// A refused write moves nothing.
	v.fails(v.do("POST", "/api/v1/problems/"+id+"/transitions", "inspector", `{"trigger":"verify","opinion":"o"}`), 409, "conflict")
	if h := head("bureau"); h["seq"] != last["seq"] || h["hash"] != last["hash"] {
		t.Errorf("a refused write moved the head %v → %v", last, h)
	}

	for _, who := range []string{"inspector", "viewer", "admin"} {
		if h := head(who); h["hash"] != last["hash"] {
			t.Errorf("%s: head %v", who, h)
		}
	}
	v.fails(v.do("GET", "/api/v1/audit/head", "fuliang", nil), 403, "forbidden")
	v.fails(v.do("GET", "/api/v1/audit/head", "", nil), 401, "unauthorized")
}

// TestBackup: only admins; the file is a bbolt database holding the
// ledger, and it passes the audit.
func TestBackup(t *testing.T) {
	v := newEnv(t)
	id := v.assigned()
	v.evidence(id, "fuliang")
	for _, who := range []string{"bureau", "fuliang", "inspector", "viewer"} {
		rec := v.do("GET", "/api/v1/admin/backup", who, nil)
		v.fails(rec, 403, "forbidden")
		if cd := rec.Header().Get("Content-Disposition"); cd != "" {
			t.Errorf("%s: refused with Content-Disposition %q", who, cd)
		}
	}
	v.fails(v.do("GET", "/api/v1/admin/backup", "", nil), 401, "unauthorized")

	rec := v.do("GET", "/api/v1/admin/backup", "admin", nil)
	if rec.Code != 200 {
		t.Fatalf("backup: %d %s", rec.Code, rec.Body)
	}
	h := rec.Header()
	if h.Get("Content-Type") != "application/octet-stream" ||
		h.Get("Content-Disposition") != `attachment; filename="rectify-20210624T100000Z.db"` || h.Get("Cache-Control") != "no-store" {
		t.Errorf("headers %v", h)
	}
	path := filepath.Join(t.TempDir(), "backup.db")
	if err := os.WriteFile(path, rec.Body.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	st, err := bolt.Open(path, bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatalf("opening the backup: %v", err)
	}
	defer st.Close()
	ctx := context.Background()
	p, err := st.Problem(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if p.Code != "JDZ-2021-0001" || p.State != workflow.StateAssigned || len(p.Evidence) != 1 {
		t.Errorf("backed-up problem %+v", p)
	}
	rep, err := workflow.Audit(ctx, st, v.blobs, nil)
	if err != nil {
		t.Fatalf("audit of the backup: %v", err)
	}
	live, err := v.svc.AuditHead(ctx, v.users["admin"].Actor())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Problems != 1 || rep.Evidence != 1 || rep.Head.Seq != live.Seq || rep.Head.Hash != live.Hash {
		t.Errorf("audit %+v, live head %v", rep, live)
	}
}
