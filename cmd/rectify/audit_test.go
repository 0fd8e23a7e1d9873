package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jdz-eco/rectify/store/bolt"
	"github.com/jdz-eco/rectify/store/bolt/bolttest"
	"github.com/jdz-eco/rectify/workflow"
)

// ledgerFixture is a database built by a real scenario through the API of a
// running server, with the places the tamper tests aim at.
type ledgerFixture struct {
	dir      string             // holds rectify.db and evidence/
	mid, end workflow.ChainHead // heads read from GET /api/v1/audit/head, mid-way and at the end
	p1, p2   string             // problems closed before, and after, the mid-way head
	p3       string             // a problem left submitted
	// Dispatch rounds opened before p3 was created: one over the open
	// problems (p4 reported on) and one over work point 10 (reported on).
	p4     string
	rounds []string
	// A letter about p4, replied.
	letter string
	// History entries of p1 (all before mid) and p2 (after it).
	p1Note, p1Submit, p1Reject, p2Note uint64
	// Evidence files held by one problem only: p1's second photo, p3's photo.
	shaP1, shaP3 string
}

func (l *ledgerFixture) db() string { return filepath.Join(l.dir, "rectify.db") }

// The unit's note on p1 carries this marker, whose last byte a tamper flips.
const noteMarker = "marker-a"

// buildLedger runs the scenario: three problems walked through the API by a
// unit, an inspector and the bureau, with evidence uploads (one file used by
// two problems), a rejection, verifications and closures. The server is
// stopped when it returns.
func buildLedger(t *testing.T) *ledgerFixture {
	t.Helper()
	l := &ledgerFixture{dir: t.TempDir()}
	db := l.db()
	run(t, "seed", "--db", db)
	bureauTok, unitTok, inspTok := addUser(t, db, "局办王", "bureau", "市生态环境局"), addUser(t, db, "浮梁李", "unit", "浮梁县"), addUser(t, db, "验收陈", "inspector", "领导小组办公室")

	// The scenario writes problems off at once: no public notice (公示), whose
	// path workflow, api and store/etcd test.
	srv := startServer(t, db, "--scan-interval", "0", "--routine-interval", "0", "--evidence-dir", filepath.Join(l.dir, "evidence"), "--notice-sources", "")
	bureau, unit, insp := &client{t, srv.url, bureauTok}, &client{t, srv.url, unitTok}, &client{t, srv.url, inspTok}

	// A live server's file is locked: audit verify says so instead of
	// reading a database being written.
	if _, err := auditVerify(db); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("audit verify on a running server's file: %v; want it refused as in use", err)
	}

	deadline := time.Now().AddDate(1, 0, 0).Format(time.DateOnly)
	create := func(title string) string {
		var p problemJSON
		bureau.do("POST", "/api/v1/problems", map[string]any{
			"title": title, "description": title + "，群众举报", "source": "central_inspection", "county_id": "fuliang",
		}, 201, &p)
		return p.ID
	}
	fire := func(c *client, id string, body map[string]any, wantState string) {
		t.Helper()
		var p problemJSON
		body = acknowledgeAll(c, "/api/v1/problems/"+id, body)
		c.do("POST", "/api/v1/problems/"+id+"/transitions", body, 200, &p)
		if p.State != wantState {
			t.Fatalf("%s %v: state %s, want %s", id, body["trigger"], p.State, wantState)
		}
	}
	start := func(id string) {
		fire(bureau, id, map[string]any{"trigger": "assign", "lead_unit": "fuliang", "deadline": deadline}, "assigned")
		fire(unit, id, map[string]any{"trigger": "accept", "plan": "制定整改方案"}, "rectifying")
	}
	head := func() workflow.ChainHead {
		var h workflow.ChainHead
		bureau.do("GET", "/api/v1/audit/head", nil, 200, &h)
		return h
	}
	seqs := func(id string) map[string][]uint64 {
		var hist historyJSON
		bureau.do("GET", "/api/v1/problems/"+id+"/history", nil, 200, &hist)
		m := map[string][]uint64{}
		for _, e := range hist.Items {
			m[e.Action] = append(m[e.Action], uint64(e.Seq))
		}
		return m
	}
	photo := func(n int) []byte { return pngFile(t, n) }

	l.p1 = create("尾矿库渗漏")
	start(l.p1)
	unit.do("POST", "/api/v1/problems/"+l.p1+"/notes", map[string]any{"text": "现场检查 " + noteMarker}, 200, nil)
	unit.upload(l.p1, "渗漏点.png", photo(1), "")
	fire(unit, l.p1, map[string]any{"trigger": "submit", "summary": "已封堵"}, "submitted")
	fire(insp, l.p1, map[string]any{"trigger": "reject", "reason": "缺少封堵后照片"}, "rectifying")
	unit.upload(l.p1, "封堵后.png", photo(2), "封堵后")
	fire(unit, l.p1, map[string]any{"trigger": "submit", "summary": "补充照片"}, "submitted")
	fire(insp, l.p1, map[string]any{"trigger": "verify", "opinion": "验收通过"}, "verified")
	fire(bureau, l.p1, map[string]any{"trigger": "close", "statement": "同意销号"}, "closed")
	l.mid = head()
	s := seqs(l.p1)
	l.p1Note, l.p1Submit, l.p1Reject = s["note"][0], s["submit"][0], s["reject"][0]
	if l.mid.Seq != s["close"][0] || l.mid.Hash == "" {
		t.Fatalf("head after closing %s is %+v; want its close entry %d", l.p1, l.mid, s["close"][0])
	}
	l.shaP1 = sha256Hex(photo(2))

	// p2 reuses p1's first photo: the inspector is warned at verify time.
	l.p2 = create("河道采砂")
	start(l.p2)
	unit.upload(l.p2, "旧照片.png", photo(1), "")
	unit.do("POST", "/api/v1/problems/"+l.p2+"/notes", map[string]any{"text": "设备已拆除"}, 200, nil)
	unit.upload(l.p2, "拆除后.png", photo(3), "")
	fire(unit, l.p2, map[string]any{"trigger": "submit", "summary": "已拆除"}, "submitted")
	fire(insp, l.p2, map[string]any{"trigger": "verify", "opinion": "验收通过"}, "verified")
	fire(bureau, l.p2, map[string]any{"trigger": "close", "statement": "同意销号"}, "closed")
	l.p2Note = seqs(l.p2)["note"][0]
	var hist struct {
		Items []workflow.Entry `json:"items"`
	}
	bureau.do("GET", "/api/v1/problems/"+l.p2+"/history", nil, 200, &hist)
	for _, e := range hist.Items {
		if e.Action == string(workflow.TriggerVerify) && len(e.Params.Warnings) == 0 {
			t.Errorf("verify of %s with a photo of %s recorded no duplicate warning: %+v", l.p2, l.p1, e.Params)
		}
	}

	// Dispatch rounds: one over the open problems, p4 (led by 浮梁县)
	// reported on, one over work point 10 (浮梁县 is responsible), reported on.
	l.p4 = create("河道垃圾")
	start(l.p4)
	due := time.Now().AddDate(0, 0, 14).Format(time.DateOnly)
	for _, body := range []map[string]any{
		{"title": "问题整改进展调度", "due": due},
		{"title": "工作要点落实情况调度", "due": due, "scope": map[string]any{"work_points": []int{10}}},
	} {
		var r struct {
			ID string `json:"id"`
		}
		bureau.do("POST", "/api/v1/dispatch-rounds", body, 201, &r)
		l.rounds = append(l.rounds, r.ID)
	}
	unit.do("POST", "/api/v1/dispatch-rounds/"+l.rounds[0]+"/reports", map[string]any{"problem_id": l.p4, "progress": "已清理河道垃圾", "percent": 90}, 201, nil)
	unit.do("POST", "/api/v1/dispatch-rounds/"+l.rounds[1]+"/reports", map[string]any{"work_point": 10, "progress": "完成营造林5万亩"}, 201, nil)
	// A supervision letter to 浮梁县 about p4, replied.
	var letter struct {
		ID string `json:"id"`
	}
	bureau.do("POST", "/api/v1/letters", map[string]any{"to_unit": "浮梁县", "problem_ids": []string{l.p4}, "kind": "督办函",
		"demands": "请加快清理河道垃圾。", "reply_due": due}, 201, &letter)
	unit.do("POST", "/api/v1/letters/"+letter.ID+"/reply", map[string]any{"text": "已清理完毕。"}, 201, nil)
	l.letter = letter.ID

	l.p3 = create("黑臭水体")
	start(l.p3)
	unit.upload(l.p3, "清淤.png", photo(4), "")
	fire(unit, l.p3, map[string]any{"trigger": "submit", "summary": "已清淤"}, "submitted")
	l.shaP3 = sha256Hex(photo(4))

	l.end = head()
	if l.end.Seq <= l.mid.Seq {
		t.Fatalf("end head %s not after mid-way head %s", l.end, l.mid)
	}
	if err := srv.stop(); err != nil {
		t.Fatal(err)
	}
	return l
}

// auditVerify runs rectify audit verify on db and returns what it printed.
func auditVerify(db string, args ...string) (string, error) {
	var out bytes.Buffer
	err := Main(context.Background(), append([]string{"audit", "verify", "--db", db}, args...), Env{Stdout: &out, Stderr: io.Discard})
	return out.String(), err
}

// copyLedger copies the database and its evidence directory to a fresh
// directory and returns the copy's database path.
func copyLedger(t *testing.T, l *ledgerFixture) string {
	t.Helper()
	dir := t.TempDir()
	b, err := os.ReadFile(l.db())
	if err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(dir, "rectify.db")
	if err := os.WriteFile(db, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.CopyFS(filepath.Join(dir, "evidence"), os.DirFS(filepath.Join(l.dir, "evidence"))); err != nil {
		t.Fatal(err)
	}
	return db
}

// tamper forges the database file db (store/bolt/bolttest).
func tamper(t *testing.T, db string, fn func(f *bolttest.File) error) {
	t.Helper()
	if err := bolttest.Tamper(db, fn); err != nil {
		t.Fatalf("tamper: %v", err)
	}
}

// evidencePath finds the stored file of sha under the copy's evidence
// directory, whatever the blob store's layout.
func evidencePath(t *testing.T, db, sha string) string {
	t.Helper()
	root := filepath.Join(filepath.Dir(db), "evidence")
	var found string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if strings.Contains(strings.ReplaceAll(rel, string(filepath.Separator), ""), sha) {
			found = path
		}
		return nil
	})
	if err != nil || found == "" {
		t.Fatalf("no file of evidence %s under %s (%v)", sha, root, err)
	}
	return found
}

func fileSum(t *testing.T, path string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

// checkUntouched: a copy of the scenario's database passes, with every head
// recorded on the way, and the audit leaves the file as it was.
func checkUntouched(t *testing.T, l *ledgerFixture) {
	db := copyLedger(t, l)
	before := fileSum(t, db)
	for _, args := range [][]string{
		nil,
		{"--evidence-dir", filepath.Join(filepath.Dir(db), "evidence")},
		{"--expect-head", l.mid.String()},
		{"--expect-head", l.end.String()},
	} {
		out, err := auditVerify(db, args...)
		if err != nil {
			t.Fatalf("audit verify %v of an untouched copy: %v\n%s", args, err, out)
		}
		if !strings.Contains(out, "audit passed") || !regexp.MustCompile(`head\s+`+l.end.String()).MatchString(out) {
			t.Errorf("audit verify %v does not print the head %s and a pass:\n%s", args, l.end, out)
		}
		// p1 holds two files, p2 two (one of them p1's), p3 one.
		if !regexp.MustCompile(`evidence files\s+5 in `).MatchString(out) || !regexp.MustCompile(fmt.Sprintf(`entries\s+%d,`, l.end.Seq)).MatchString(out) {
			t.Errorf("audit verify %v summary:\n%s", args, out)
		}
		if len(args) > 0 && args[0] == "--expect-head" && !strings.Contains(out, args[1]+" found") {
			t.Errorf("audit verify %v does not confirm the expected head:\n%s", args, out)
		}
	}
	if fileSum(t, db) != before {
		t.Error("audit verify changed the database file")
	}

	// A head of the right seq but another hash is refused.
	forged := l.mid
	forged.Hash = strings.Repeat("ab", 32)
	if _, err := auditVerify(db, "--expect-head", forged.String()); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("history entry %d:", l.mid.Seq)) {
		t.Errorf("audit verify with a forged head: %v", err)
	}
	for _, bad := range []string{"12", "x:y", "0:" + l.mid.Hash, "3:abc"} {
		if _, err := auditVerify(db, "--expect-head", bad); err == nil || !strings.Contains(err.Error(), "--expect-head") {
			t.Errorf("--expect-head %q: %v", bad, err)
		}
	}

	// Without its evidence directory the chain and records are still
	// checked, and the summary says the files were not; the absent default
	// directory is not created. A directory asked for must exist.
	evidence := filepath.Join(filepath.Dir(db), "evidence")
	if err := os.RemoveAll(evidence); err != nil {
		t.Fatal(err)
	}
	out, err := auditVerify(db)
	if err != nil || !strings.Contains(out, "NOT CHECKED") {
		t.Errorf("audit verify without evidence: %v\n%s", err, out)
	}
	if _, err := os.Stat(evidence); err == nil {
		t.Error("audit verify created the evidence directory")
	}
	if _, err := auditVerify(db, "--evidence-dir", evidence); err == nil {
		t.Error("audit verify accepted a missing --evidence-dir")
	}
	if _, err := auditVerify(filepath.Join(t.TempDir(), "none.db")); err == nil {
		t.Error("audit verify of a missing file passed")
	}

	// A file of an older schema cannot be upgraded read-only: the error
	// says how to proceed, and the file is left as it was.
	old := copyLedger(t, l)
	tamper(t, old, func(f *bolttest.File) error { return f.SetSchema(2) })
	before = fileSum(t, old)
	if _, err := auditVerify(old); err == nil || !strings.Contains(err.Error(), "read-write once") || !strings.Contains(err.Error(), "copy") {
		t.Errorf("audit verify of a schema 2 file: %v; want advice to open it read-write once or use a copy", err)
	}
	if fileSum(t, old) != before {
		t.Error("audit verify changed a file it could not read")
	}
}

// TestAuditVerify builds a database by a real scenario, then checks that
// an untouched copy passes and tampers with other copies of the database and
// evidence, by editing raw bbolt values and files: audit verify names the
// place of each. A careful truncation or rewrite of the chain passes on its
// own and is caught with a head recorded earlier (--expect-head).
func TestAuditVerify(t *testing.T) {
	l := buildLedger(t)
	t.Run("untouched", func(t *testing.T) { checkUntouched(t, l) })
	entry := func(seq uint64) string { return fmt.Sprintf("history entry %d:", seq) }
	type check struct {
		expect *workflow.ChainHead // --expect-head
		want   string              // in the error; "" means it passes
	}
	for _, tc := range []struct {
		name   string
		tamper func(t *testing.T, db string)
		checks []check
	}{
		{
			name: "one byte of an entry",
			tamper: func(t *testing.T, db string) {
				tamper(t, db, func(f *bolttest.File) error {
					v := f.RawEntry(l.p1Note)
					if !bytes.Contains(v, []byte(noteMarker)) {
						return fmt.Errorf("entry %d lacks the marker: %s", l.p1Note, v)
					}
					return f.PutRawEntry(l.p1Note, bytes.Replace(v, []byte(noteMarker), []byte("marker-b"), 1))
				})
			},
			checks: []check{{nil, entry(l.p1Note)}},
		},
		{
			name: "entry deleted",
			tamper: func(t *testing.T, db string) {
				tamper(t, db, func(f *bolttest.File) error { return f.DeleteEntry(l.p2Note) })
			},
			checks: []check{{nil, entry(l.p2Note)}},
		},
		{
			name: "two entries swapped",
			tamper: func(t *testing.T, db string) {
				tamper(t, db, func(f *bolttest.File) error {
					x, y := f.RawEntry(l.p1Submit), f.RawEntry(l.p1Reject)
					if err := f.PutRawEntry(l.p1Submit, y); err != nil {
						return err
					}
					return f.PutRawEntry(l.p1Reject, x)
				})
			},
			checks: []check{{nil, entry(l.p1Submit)}},
		},
		{
			name: "tail truncated",
			tamper: func(t *testing.T, db string) {
				// p3's accept, evidence and submit go; p3 is back to assigned.
				tamper(t, db, func(f *bolttest.File) error { return f.Truncate(l.end.Seq - 3) })
			},
			checks: []check{
				{nil, ""},
				{&l.mid, ""}, // the truncation is after it
				{&l.end, entry(l.end.Seq)},
			},
		},
		{
			name: "tail truncated, the rollups left as they were",
			tamper: func(t *testing.T, db string) {
				// The truncation above, by a forger who does not recount
				// the statistics' tallies: they still count p3 as submitted.
				tamper(t, db, func(f *bolttest.File) error { return f.TruncateHistory(l.end.Seq - 3) })
			},
			checks: []check{{nil, "rollups: "}},
		},
		{
			name: "chain rewritten after an entry",
			tamper: func(t *testing.T, db string) {
				// p1's rejection gets another reason; everything after it
				// is resealed.
				tamper(t, db, func(f *bolttest.File) error {
					return f.Rewrite(l.p1Reject, func(e *workflow.Entry) error {
						if e.Action != string(workflow.TriggerReject) {
							return fmt.Errorf("entry %d is a %s", e.Seq, e.Action)
						}
						e.Params.Reason = "材料齐全"
						return nil
					})
				})
			},
			checks: []check{
				{nil, ""},
				{&l.mid, entry(l.mid.Seq)},
				{&l.end, entry(l.end.Seq)},
			},
		},
		{
			name: "record edited without history",
			tamper: func(t *testing.T, db string) {
				tamper(t, db, func(f *bolttest.File) error {
					return f.EditRecord(l.p2, func(p map[string]any) { p["title"] = "河道采砂（已核实）" })
				})
			},
			checks: []check{{nil, "problem " + l.p2 + ":"}},
		},
		{
			name: "evidence file deleted",
			tamper: func(t *testing.T, db string) {
				if err := os.Remove(evidencePath(t, db, l.shaP3)); err != nil {
					t.Fatal(err)
				}
			},
			checks: []check{{nil, "evidence " + l.shaP3 + " of problem " + l.p3}},
		},
		{
			name: "evidence file altered",
			tamper: func(t *testing.T, db string) {
				path := evidencePath(t, db, l.shaP1)
				b, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				b[len(b)/2] ^= 0x01
				_ = os.Chmod(path, 0o600)
				if err := os.WriteFile(path, b, 0o600); err != nil {
					t.Fatal(err)
				}
			},
			checks: []check{{nil, "evidence " + l.shaP1 + " of problem " + l.p1}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := copyLedger(t, l)
			tc.tamper(t, db)
			for _, c := range tc.checks {
				var args []string
				if c.expect != nil {
					args = []string{"--expect-head", c.expect.String()}
				}
				out, err := auditVerify(db, args...)
				t.Logf("audit verify %v: %v", args, err)
				switch {
				case c.want == "" && err != nil:
					t.Errorf("audit verify %v: %v; want it to pass", args, err)
				case c.want == "" && !strings.Contains(out, "audit passed"):
					t.Errorf("audit verify %v passed without saying so:\n%s", args, out)
				case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
					t.Errorf("audit verify %v: %v; want an error naming %q\n%s", args, err, c.want, out)
				case c.want != "" && strings.Contains(out, "audit passed"):
					t.Errorf("audit verify %v failed but printed a pass:\n%s", args, out)
				}
			}
		})
	}
}

// TestAuditVerifyEmpty: a new database, with no history yet, passes.
func TestAuditVerifyEmpty(t *testing.T) {
	db := filepath.Join(t.TempDir(), "new.db")
	st, err := bolt.Open(db, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	out, err := auditVerify(db)
	if err != nil || !regexp.MustCompile(`entries\s+0,`).MatchString(out) || !strings.Contains(out, "none (empty history)") {
		t.Errorf("audit verify of a new database: %v\n%s", err, out)
	}
}
