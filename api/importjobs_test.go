package api_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jdz-eco/rectify/api"
	"github.com/jdz-eco/rectify/workflow"
	"github.com/jdz-eco/rectify/workflow/ledgerfile"
)

// manyRows is a ledger of n generated problems, every other one assigned.
func manyRows(t *testing.T, n int) []byte {
	rows := [][]string{importHeader}
	counties := []string{"浮梁县", "乐平市"}
	for i := range n {
		c := counties[i%2]
		row := []string{fmt.Sprintf("%s第%d号问题，某企业废水超标排放。", c, i), "自查", c, "", "", "", "自查清单", ""}
		if i%2 == 0 {
			row[3], row[5] = c, "2021-12-31"
		}
		rows = append(rows, row)
	}
	return importCSV(t, rows...)
}

// withJobs is an env and its import jobs.
func withJobs(t *testing.T) (*env, *ledgerfile.Jobs) {
	t.Helper()
	v := newEnv(t)
	return v, v.imports
}

func decodeJob(t *testing.T, rec *httptest.ResponseRecorder, status int) ledgerfile.JobStatus {
	t.Helper()
	if rec.Code != status {
		t.Fatalf("status %d, want %d: %s", rec.Code, status, rec.Body)
	}
	var st ledgerfile.JobStatus
	if err := json.Unmarshal(rec.Body.Bytes(), &st); err != nil {
		t.Fatal(err)
	}
	return st
}

// A file of more than 1,000 rows is imported by a job: 202, its address,
// its progress, its result; GET of the job by others than the bureau is
// refused.
func TestLedgerImportJob(t *testing.T) {
	v, jobs := withJobs(t)
	rec := v.do("POST", "/api/v1/ledger/import", "bureau", bytes.NewReader(manyRows(t, 1500)), "Content-Type", "text/csv")
	st := decodeJob(t, rec, http.StatusAccepted)
	if loc := rec.Header().Get("Location"); loc != "/api/v1/ledger/import-jobs/"+st.ID || st.RowsTotal != 1500 ||
		(st.State != ledgerfile.JobQueued && st.State != ledgerfile.JobRunning) {
		t.Fatalf("202: Location %q, %+v", loc, st)
	}
	if _, err := jobs.Wait(context.Background(), st.ID); err != nil {
		t.Fatal(err)
	}
	st = decodeJob(t, v.do("GET", "/api/v1/ledger/import-jobs/"+st.ID, "bureau", nil), http.StatusOK)
	if st.State != ledgerfile.JobDone || st.RowsDone != 1500 || st.Result == nil || st.Result.Created != 1500 || st.Result.Assigned != 750 ||
		st.FinishedAt == nil || st.CreatedBy != v.users["bureau"].ID {
		t.Fatalf("job %+v", st)
	}
	if n := v.count("bureau"); n != 1500 {
		t.Fatalf("%d problems, want 1500", n)
	}
	for _, who := range []string{"fuliang", "inspector", "viewer"} {
		v.fails(v.do("GET", "/api/v1/ledger/import-jobs/"+st.ID, who, nil), 403, "forbidden")
	}
	v.fails(v.do("GET", "/api/v1/ledger/import-jobs/nosuchjob", "bureau", nil), 404, "not_found")

	// A small file asked to answer at once.
	rec = v.do("POST", "/api/v1/ledger/import", "bureau", bytes.NewReader(importCSV(t, twoRows...)),
		"Content-Type", "text/csv", "Prefer", "respond-async")
	st = decodeJob(t, rec, http.StatusAccepted)
	if rec.Header().Get("Preference-Applied") != "respond-async" {
		t.Errorf("Preference-Applied %q", rec.Header().Get("Preference-Applied"))
	}
	if st, _ = jobs.Wait(context.Background(), st.ID); st.State != ledgerfile.JobDone || st.Result.Created != 2 {
		t.Fatalf("job %+v", st)
	}
}

// blockingStore holds a batch inside the store until released.
type blockingStore struct {
	*faultyStore
	entered chan struct{}
	release chan struct{}
}

func (s *blockingStore) CreateProblems(ctx context.Context, count int, next func(i int, n uint64) (workflow.BatchRecord, error), progress func(int)) error {
	close(s.entered)
	<-s.release
	return s.faultyStore.CreateProblems(ctx, count, next, progress)
}

// The job ends the same whether its client stays or goes: a client that
// leaves while its (small, waited for) import is being written leaves it
// to complete.
func TestLedgerImportSurvivesItsClient(t *testing.T) {
	v := newEnv(t)
	bs := &blockingStore{faultyStore: v.store, entered: make(chan struct{}), release: make(chan struct{})}
	svc := workflow.NewService(bs, v.clock)
	jobs := ledgerfile.NewJobs(svc, slog.New(slog.DiscardHandler))
	defer jobs.Close()
	e := api.New(api.Config{Service: svc, Imports: jobs})
	ctx, cancel := context.WithCancel(context.Background())
	req := httptest.NewRequestWithContext(ctx, "POST", "/api/v1/ledger/import", bytes.NewReader(importCSV(t, twoRows...)))
	req.Header.Set("Content-Type", "text/csv")
	req.Header.Set("Authorization", "Bearer "+v.tokens["bureau"])
	done := make(chan struct{})
	go func() {
		defer close(done)
		e.ServeHTTP(httptest.NewRecorder(), req)
	}()
	<-bs.entered
	cancel() // the client goes away while its problems are being written
	<-done
	close(bs.release)
	// The job finishes on its own.
	list := jobs.List()
	if len(list) != 1 {
		t.Fatalf("jobs %+v", list)
	}
	st, err := jobs.Wait(context.Background(), list[0].ID)
	if err != nil || st.State != ledgerfile.JobDone || v.count("bureau") != 2 {
		t.Fatalf("job %+v %v, %d problems after the client left, want 2", st, err, v.count("bureau"))
	}
}

// An import cut off at random points (the upload broken off, the store
// failing a write part-way) writes nothing, and the server goes on serving;
// the same file again imports everything.
func TestLedgerImportCutOff(t *testing.T) {
	v, jobs := withJobs(t)
	data := manyRows(t, 1200)
	rnd := rand.New(rand.NewPCG(7, uint64(time.Now().UnixNano())))
	for range 5 {
		at := rnd.IntN(len(data))
		rec := v.do("POST", "/api/v1/ledger/import", "bureau", io.MultiReader(bytes.NewReader(data[:at]), errReader{}), "Content-Type", "text/csv")
		if rec.Code != http.StatusBadRequest {
			t.Fatalf("an upload broken off at byte %d: %d %s", at, rec.Code, rec.Body)
		}
		v.store.failBatchAt = 1 + rnd.IntN(1100)
		st := decodeJob(t, v.do("POST", "/api/v1/ledger/import", "bureau", bytes.NewReader(data), "Content-Type", "text/csv"), http.StatusAccepted)
		if st, _ = jobs.Wait(context.Background(), st.ID); st.State != ledgerfile.JobFailed || st.Code != "internal" || st.Error == "" || st.Result != nil {
			t.Fatalf("a write failing at item %d: job %+v", v.store.failBatchAt, st)
		}
		if n := v.count("bureau"); n != 0 {
			t.Fatalf("a write failing at item %d left %d problems", v.store.failBatchAt, n)
		}
		v.ok(v.do("GET", "/api/v1/units", "bureau", nil), http.StatusOK)
	}
	v.store.failBatchAt = 0
	st := decodeJob(t, v.do("POST", "/api/v1/ledger/import", "bureau", bytes.NewReader(data), "Content-Type", "text/csv"), http.StatusAccepted)
	if st, _ = jobs.Wait(context.Background(), st.ID); st.State != ledgerfile.JobDone || v.count("bureau") != 1200 {
		t.Fatalf("the file again: %+v, %d problems", st, v.count("bureau"))
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("connection reset by peer") }

// Hostile files through the API: refused within their bounds, the server
// serving on.
func TestLedgerImportHostileFiles(t *testing.T) {
	v := newEnv(t)
	var xfd strings.Builder
	xfd.WriteString(strings.Join(importHeader, ",") + "\n")
	xfd.WriteString("某问题。,自查,浮梁县" + strings.Repeat(",", 16380) + "x\n")
	book := hostileWorkbook(t, `<row r="1"><c r="XFD1" t="inlineStr"><is><t>x</t></is></c></row>`, 4000)
	for name, tc := range map[string]struct {
		body []byte
		ct   string
		want string
	}{
		"a cell in column XFD": {book, mimeXLSX, "column XFD"},
		"16,384 CSV columns":   {[]byte(xfd.String()), "text/csv", "columns"},
		"100,001 rows":         {manyRows(t, ledgerfile.MaxRows+1), "text/csv", "100000 rows"},
	} {
		t.Run(name, func(t *testing.T) {
			r := decodeImport(t, v.do("POST", "/api/v1/ledger/import", "bureau", bytes.NewReader(tc.body), "Content-Type", tc.ct), 422)
			if len(r.Errors) != 1 || !strings.Contains(r.Errors[0].Reason, tc.want) {
				t.Errorf("errors %+v, want one saying %q", r.Errors, tc.want)
			}
			v.ok(v.do("GET", "/api/v1/units", "bureau", nil), http.StatusOK)
		})
	}
	if n := v.count("bureau"); n != 0 {
		t.Fatalf("%d problems", n)
	}
}

// hostileWorkbook is a workbook whose sheet repeats row n times.
func hostileWorkbook(t *testing.T, row string, n int) []byte {
	t.Helper()
	var sheet strings.Builder
	sheet.WriteString(`<worksheet><sheetData>`)
	for range n {
		sheet.WriteString(row)
	}
	sheet.WriteString(`</sheetData></worksheet>`)
	return zipParts(t, map[string]string{
		"xl/workbook.xml":            `<workbook><sheets><sheet name="整改台账" r:id="rId1"/></sheets></workbook>`,
		"xl/_rels/workbook.xml.rels": `<Relationships><Relationship Id="rId1" Type="x/worksheet" Target="worksheets/sheet1.xml"/></Relationships>`,
		"xl/worksheets/sheet1.xml":   sheet.String(),
	})
}

// zipParts is a zip file of the named parts.
func zipParts(t *testing.T, parts map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, body := range parts {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, body)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// A job's 202 is kept under its Idempotency-Key: the request sent again
// with the key gets the same job, and the file is imported once.
func TestLedgerImportJobIdempotencyKey(t *testing.T) {
	v, jobs := withJobs(t)
	body := manyRows(t, 1200)
	key := []string{"Idempotency-Key", `"0b6f3f4e-import-once"`}
	send := func() *httptest.ResponseRecorder {
		return v.do("POST", "/api/v1/ledger/import", "bureau", bytes.NewReader(body), append([]string{"Content-Type", "text/csv"}, key...)...)
	}
	first := send()
	st := decodeJob(t, first, http.StatusAccepted)
	again := send()
	st2 := decodeJob(t, again, http.StatusAccepted)
	if st2.ID != st.ID || again.Header().Get("Location") != first.Header().Get("Location") {
		t.Fatalf("the retry started job %s (%s), want the first, %s (%s)", st2.ID, again.Header().Get("Location"), st.ID, first.Header().Get("Location"))
	}
	if _, err := jobs.Wait(context.Background(), st.ID); err != nil {
		t.Fatal(err)
	}
	if n := len(jobs.List()); n != 1 {
		t.Fatalf("%d jobs, want 1", n)
	}
	if n := v.count("bureau"); n != 1200 {
		t.Fatalf("%d problems, want 1200", n)
	}
}
