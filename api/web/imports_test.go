package web_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"mime/multipart"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/jdz-eco/rectify/api/web"
	"github.com/jdz-eco/rectify/workflow"
	"github.com/jdz-eco/rectify/workflow/ledgerfile"
)

// importForm posts the import form: mode check or import, one file.
func (c *client) importForm(mode, name string, data []byte) response {
	c.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	_ = mw.WriteField("csrf", c.csrf)
	_ = mw.WriteField("mode", mode)
	fw, _ := mw.CreateFormFile("file", name)
	_, _ = fw.Write(data)
	_ = mw.Close()
	req, _ := http.NewRequest(http.MethodPost, c.v.srv.URL+"/ledger/import", &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return c.do(req)
}

func ledgerCSV(n int) []byte {
	var b strings.Builder
	b.WriteString("问题描述,问题来源,所在县（市、区）,牵头单位,整改时限\n")
	for i := range n {
		c := []string{"浮梁县", "乐平市"}[i%2]
		fmt.Fprintf(&b, "%s第%d号问题：某企业废水超标排放。,自查,%s,%s,2021-12-31\n", c, i, c, c)
	}
	return []byte(b.String())
}

var reJobPath = regexp.MustCompile(`^/ledger/import/([0-9a-f]+)$`)

// The bureau imports a ledger from the pages: checks it, imports it, follows
// its progress on a page that refreshes itself, then sees what it did; a
// file with errors is refused with the rows named in Chinese; others may not.
func TestImportPages(t *testing.T) {
	var jobs *ledgerfile.Jobs
	v := newEnv(t, func(cfg *web.Config) {
		jobs = ledgerfile.NewJobs(cfg.Service, slog.New(slog.DiscardHandler))
		t.Cleanup(jobs.Close)
		cfg.Imports = jobs
	})
	b := v.as("bureau")
	page := b.get("/ledger/import")
	if page.status != http.StatusOK || !strings.Contains(page.body, `name="file"`) || !strings.Contains(page.body, "导入台账") {
		t.Fatalf("import page: %d\n%s", page.status, page.body)
	}
	if ledger := b.get("/ledger"); !strings.Contains(ledger.body, `href="/ledger/import"`) {
		t.Error("the ledger page has no link to the import")
	}
	data := ledgerCSV(30)

	checked := b.importForm("check", "台账.csv", data)
	if checked.status != http.StatusOK || !strings.Contains(checked.body, "检查通过") || !strings.Contains(checked.body, "<strong>30</strong>") {
		t.Fatalf("check: %d\n%s", checked.status, checked.body)
	}
	if n := count(t, v); n != 0 {
		t.Fatalf("a check wrote %d problems", n)
	}

	started := b.importForm("import", "台账.csv", data)
	m := reJobPath.FindStringSubmatch(started.location)
	if started.status != http.StatusSeeOther || m == nil {
		t.Fatalf("import: %d %q\n%s", started.status, started.location, started.body)
	}
	if _, err := jobs.Wait(context.Background(), m[1]); err != nil {
		t.Fatal(err)
	}
	done := b.get(started.location)
	if done.status != http.StatusOK || !strings.Contains(done.body, "导入完成") || !strings.Contains(done.body, "<strong>30</strong>") ||
		strings.Contains(done.body, `http-equiv="refresh"`) {
		t.Fatalf("job page: %d\n%s", done.status, done.body)
	}
	if n := count(t, v); n != 30 {
		t.Fatalf("%d problems after the import, want 30", n)
	}
	if list := b.get("/ledger/import"); !strings.Contains(list.body, started.location) {
		t.Error("the import page does not list the import")
	}

	bad := []byte("问题描述,问题来源,所在县（市、区）\n某问题。,电视台,浮梁县\n另一问题。,自查,不存在县\n")
	refused := b.importForm("import", "bad.csv", bad)
	if refused.status != http.StatusUnprocessableEntity || !strings.Contains(refused.body, "第 2 行") || !strings.Contains(refused.body, "问题来源无法识别") ||
		!strings.Contains(refused.body, "第 3 行") || !strings.Contains(refused.body, "单位名称无法识别") {
		t.Fatalf("refused: %d\n%s", refused.status, refused.body)
	}
	wide := b.importForm("import", "wide.csv", []byte("问题描述,问题来源,所在县（市、区）\n某问题。,自查,浮梁县"+strings.Repeat(",", 100)+"\n"))
	if wide.status != http.StatusUnprocessableEntity || !strings.Contains(wide.body, "列范围") {
		t.Fatalf("too wide: %d\n%s", wide.status, wide.body)
	}
	if n := count(t, v); n != 30 {
		t.Fatalf("%d problems after refused imports, want 30", n)
	}

	for _, who := range []string{"fuliang", "inspector", "viewer"} {
		if res := v.as(who).get("/ledger/import"); res.status != http.StatusForbidden {
			t.Errorf("%s: import page %d", who, res.status)
		}
	}
	if res := v.as("fuliang").importForm("import", "x.csv", data); res.status != http.StatusForbidden {
		t.Errorf("a unit officer's import: %d", res.status)
	}
}

// While a job runs, its page shows a progress bar and refreshes itself.
func TestImportJobPageWhileRunning(t *testing.T) {
	release := make(chan struct{})
	var jobs *ledgerfile.Jobs
	v := newEnv(t, func(cfg *web.Config) {
		held := workflow.NewService(&heldStore{Store: cfg.Service.Store(), release: release}, cfg.Service.Clock())
		jobs = ledgerfile.NewJobs(held, slog.New(slog.DiscardHandler))
		t.Cleanup(jobs.Close)
		cfg.Imports = jobs
	})
	b := v.as("bureau")
	started := b.importForm("import", "台账.csv", ledgerCSV(10))
	m := reJobPath.FindStringSubmatch(started.location)
	if m == nil {
		t.Fatalf("import: %d %q\n%s", started.status, started.location, started.body)
	}
	running := b.get(started.location)
	if !strings.Contains(running.body, `<meta http-equiv="refresh" content="2">`) || !strings.Contains(running.body, `<progress value=`) {
		t.Fatalf("running job page:\n%s", running.body)
	}
	close(release)
	if st, err := jobs.Wait(context.Background(), m[1]); err != nil || st.State != ledgerfile.JobDone {
		t.Fatal(st, err)
	}
}

// heldStore holds every batch until release is closed.
type heldStore struct {
	workflow.Store
	release chan struct{}
}

func (s *heldStore) CreateProblems(ctx context.Context, count int, next func(i int, n uint64) (workflow.BatchRecord, error), progress func(int)) error {
	<-s.release
	return s.Store.(workflow.BatchCreator).CreateProblems(ctx, count, next, progress)
}

func count(t *testing.T, v *env) int {
	n := 0
	for _, err := range v.svc.EachProblem(context.Background(), workflow.Actor{ID: "system", Role: workflow.RoleSystem}, workflow.ProblemFilter{}) {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	return n
}
