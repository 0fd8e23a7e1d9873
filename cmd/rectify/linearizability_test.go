package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/jdz-eco/rectify/seeds"
)

// Linearizability of the problem API, checked with porcupine: clients drive
// transitions, notes, reads and lists of 20 hot problems over HTTP, every
// operation is recorded with the times it was called and answered, and the
// history must be explainable by a sequential model of the state machine,
// each problem on its own (a partition per problem).

// linHot is how many problems the clients share.
const linHot = 20

// linState is the model of one problem: its state and version.
type linState struct {
	state   string
	version uint64
}

// linStart is every hot problem when the clients start: accepted by its
// lead unit, with a photo (created, assigned, accepted, evidence), so that
// it may be submitted.
var linStart = linState{"rectifying", 4}

// linInput is one operation on problem id: a read ("get"), a note, or a
// trigger (submit, withdraw) with If-Match (0: none).
type linInput struct {
	id      string
	op      string
	ifMatch uint64
}

// linOutput is what the server answered: 200 with the problem's state and
// version, 409 (not permitted in this state), 412 (another version); 0 is
// an operation whose outcome is unknown (no answer: the server was killed,
// or a 5xx).
type linOutput struct {
	status  int
	state   string
	version uint64
}

// linNext is the model's state machine: the state an operation leads to
// from s, and whether it is permitted there.
func linNext(s, op string) (string, bool) {
	switch {
	case op == "submit" && s == "rectifying":
		return "submitted", true
	case op == "withdraw" && s == "submitted":
		return "rectifying", true
	case op == "note" && (s == "rectifying" || s == "assigned"):
		return s, true
	}
	return s, false
}

// linModel is the sequential specification. A write with If-Match of
// another version is refused with 412 whatever the state (the version is
// checked first); with the current version (or none), it succeeds moving
// the version by one if the state permits it, and is refused with 409
// otherwise. A read returns the state and version. A write with an
// unknown outcome may have happened or not.
func linModel() porcupine.Model {
	m := porcupine.NondeterministicModel{
		Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
			byID := map[string][]porcupine.Operation{}
			var ids []string
			for _, op := range history {
				id := op.Input.(linInput).id
				if _, ok := byID[id]; !ok {
					ids = append(ids, id)
				}
				byID[id] = append(byID[id], op)
			}
			out := make([][]porcupine.Operation, 0, len(ids))
			for _, id := range ids {
				out = append(out, byID[id])
			}
			return out
		},
		Init: func() []any { return []any{linStart} },
		Step: func(state, input, output any) []any {
			s, in, out := state.(linState), input.(linInput), output.(linOutput)
			if in.op == "get" {
				if out.state == s.state && out.version == s.version {
					return []any{s}
				}
				return nil
			}
			versionOK := in.ifMatch == 0 || in.ifMatch == s.version
			to, permitted := linNext(s.state, in.op)
			applied := linState{to, s.version + 1}
			switch out.status {
			case http.StatusOK:
				if versionOK && permitted && out.state == to && out.version == s.version+1 {
					return []any{applied}
				}
			case http.StatusPreconditionFailed:
				if !versionOK {
					return []any{s}
				}
			case http.StatusConflict:
				if versionOK && !permitted {
					return []any{s}
				}
			case 0:
				if versionOK && permitted {
					return []any{s, applied}
				}
				return []any{s}
			}
			return nil
		},
		Equal: func(a, b any) bool { return a.(linState) == b.(linState) },
		DescribeOperation: func(input, output any) string {
			in, out := input.(linInput), output.(linOutput)
			s := in.op
			if in.ifMatch != 0 {
				s += fmt.Sprintf(" if-match %d", in.ifMatch)
			}
			if out.status == 0 {
				return s + " → ?"
			}
			return fmt.Sprintf("%s → %d %s v%d", s, out.status, out.state, out.version)
		},
		DescribeState: func(state any) string {
			s := state.(linState)
			return fmt.Sprintf("%s v%d", s.state, s.version)
		},
	}
	return m.ToModel()
}

// TestLinearizabilityModel: the checker with this model refuses histories
// that are not linearizable, so the tests below can fail.
func TestLinearizabilityModel(t *testing.T) {
	op := func(client int, call, ret int64, in linInput, out linOutput) porcupine.Operation {
		return porcupine.Operation{ClientId: client, Call: call, Return: ret, Input: in, Output: out}
	}
	submit := linInput{"1", "submit", 4}
	for _, c := range []struct {
		name string
		ok   bool
		ops  []porcupine.Operation
	}{
		{"one submit wins, the other is stale", true, []porcupine.Operation{
			op(0, 0, 10, submit, linOutput{200, "submitted", 5}),
			op(1, 1, 11, submit, linOutput{412, "", 0}),
			op(2, 12, 13, linInput{"1", "get", 0}, linOutput{200, "submitted", 5}),
		}},
		{"two submits on one version both succeed", false, []porcupine.Operation{
			op(0, 0, 10, submit, linOutput{200, "submitted", 5}),
			op(1, 1, 11, submit, linOutput{200, "submitted", 5}),
		}},
		{"a read after an acknowledged write misses it", false, []porcupine.Operation{
			op(0, 0, 10, submit, linOutput{200, "submitted", 5}),
			op(1, 11, 12, linInput{"1", "get", 0}, linOutput{200, "rectifying", 4}),
		}},
		{"a write without answer that a later read sees", true, []porcupine.Operation{
			op(0, 0, math.MaxInt64, submit, linOutput{}),
			op(1, 11, 12, linInput{"1", "get", 0}, linOutput{200, "submitted", 5}),
		}},
		{"409 for a trigger the state permits", false, []porcupine.Operation{
			op(0, 0, 10, submit, linOutput{409, "", 0}),
		}},
		{"a read of a version nothing wrote", false, []porcupine.Operation{
			op(0, 0, math.MaxInt64, submit, linOutput{}),
			op(1, 11, 12, linInput{"1", "get", 0}, linOutput{200, "submitted", 6}),
		}},
	} {
		if got := porcupine.CheckOperations(linModel(), c.ops); got != c.ok {
			t.Errorf("%s: linearizable = %v, want %v", c.name, got, c.ok)
		}
	}
}

// linHistory records the operations of a run.
type linHistory struct {
	start time.Time
	mu    sync.Mutex
	ops   []porcupine.Operation
	count map[string]int // by outcome, for the log
}

func (h *linHistory) now() int64 { return int64(time.Since(h.start)) }

func (h *linHistory) add(client int, call, ret int64, in linInput, out linOutput) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ops = append(h.ops, porcupine.Operation{ClientId: client, Call: call, Return: ret, Input: in, Output: out})
	key := in.op + " " + strconv.Itoa(out.status)
	if out.status == 0 {
		key = in.op + " unknown"
	}
	h.count[key]++
}

// linClient is one client: its token, its idea of each problem's version,
// and where the server is.
type linClient struct {
	id    int
	token string
	base  *atomic.Pointer[string]
	h     *linHistory
	rng   *rand.Rand
	seen  map[string]uint64
	hot   []string
	http  *http.Client
}

// errNotSent is a request that never reached a server (connection
// refused): it had no effect and is not recorded.
var errNotSent = errors.New("not sent")

// send sends a request to the current server and decodes a problem (or a
// list) from a 200.
func (c *linClient) send(method, path string, ifMatch uint64, body any, out any) (int, error) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, *c.base.Load()+path, rd)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if ifMatch != 0 {
		req.Header.Set("If-Match", `"`+strconv.FormatUint(ifMatch, 10)+`"`)
	}
	res, err := c.http.Do(req)
	if errors.Is(err, syscall.ECONNREFUSED) {
		return 0, errNotSent
	}
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return 0, err
	}
	if res.StatusCode == http.StatusOK && out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return 0, fmt.Errorf("%s %s: %v: %s", method, path, err, b)
		}
	}
	return res.StatusCode, nil
}

// step runs one random operation and records it.
func (c *linClient) step(t *testing.T) {
	id := c.hot[c.rng.IntN(len(c.hot))]
	var p problemJSON
	call := c.h.now()
	switch r := c.rng.IntN(100); {
	case r < 10: // a list: a read of every hot problem at once
		var list struct {
			Items []problemJSON `json:"items"`
		}
		status, err := c.send("GET", "/api/v1/problems?source=other&limit=100", 0, nil, &list)
		if err != nil || status != http.StatusOK {
			c.failedRead(t, "list", status, err)
			return
		}
		ret := c.h.now()
		found := 0
		for _, it := range list.Items {
			if c.seen[it.ID] == 0 {
				continue // not a hot problem
			}
			found++
			c.seen[it.ID] = uint64(it.Version)
			c.h.add(c.id, call, ret, linInput{it.ID, "get", 0}, linOutput{http.StatusOK, it.State, uint64(it.Version)})
		}
		if found != len(c.hot) {
			t.Errorf("a list held %d of the %d hot problems", found, len(c.hot))
		}
	case r < 35:
		status, err := c.send("GET", "/api/v1/problems/"+id, 0, nil, &p)
		if err != nil || status != http.StatusOK {
			c.failedRead(t, "get", status, err)
			return
		}
		c.seen[id] = uint64(p.Version)
		c.h.add(c.id, call, c.h.now(), linInput{id, "get", 0}, linOutput{http.StatusOK, p.State, uint64(p.Version)})
	default:
		in := linInput{id: id, ifMatch: c.seen[id]}
		switch q := c.rng.IntN(20); {
		case q == 0:
			in.ifMatch = 0
		case q == 1 && in.ifMatch > 1:
			in.ifMatch-- // stale on purpose
		}
		var path string
		var body map[string]any
		switch c.rng.IntN(5) {
		case 0, 1:
			in.op, path, body = "submit", "/transitions", map[string]any{"trigger": "submit", "summary": "已完成整改"}
		case 2, 3:
			in.op, path, body = "withdraw", "/transitions", map[string]any{"trigger": "withdraw", "reason": "补充材料"}
		default:
			in.op, path, body = "note", "/notes", map[string]any{"text": "整改进展"}
		}
		status, err := c.send("POST", "/api/v1/problems/"+id+path, in.ifMatch, body, &p)
		switch {
		case errors.Is(err, errNotSent):
			time.Sleep(2 * time.Millisecond) // the server is restarting
			return
		case err != nil || status >= 500:
			// No answer, or a failure: it may have happened, any time
			// from its call on.
			c.h.add(c.id, call, math.MaxInt64, in, linOutput{})
			return
		case status == http.StatusOK:
			c.seen[id] = uint64(p.Version)
			c.h.add(c.id, call, c.h.now(), in, linOutput{status, p.State, uint64(p.Version)})
		case status == http.StatusConflict || status == http.StatusPreconditionFailed:
			c.h.add(c.id, call, c.h.now(), in, linOutput{status: status})
		default:
			t.Errorf("%s on %s: status %d", in.op, id, status)
		}
	}
}

// failedRead: a read that failed constrains nothing, but only the server
// going away may make one fail.
func (c *linClient) failedRead(t *testing.T, what string, status int, err error) {
	if err == nil && status != http.StatusOK {
		t.Errorf("%s: status %d", what, status)
	}
	if errors.Is(err, errNotSent) {
		time.Sleep(2 * time.Millisecond) // the server is restarting
	}
}

// linSetup makes a database with linHot problems of source other led by
// 浮梁县, each accepted with a photo (linStart), and returns it with a token of 浮梁县's
// officer and the problems' ids.
func linSetup(t *testing.T) (db, unitToken string, hot []string) {
	t.Helper()
	db = filepath.Join(t.TempDir(), "rectify.db")
	run(t, "seed", "--db", db)
	bureauTok := addUser(t, db, "局办王", "bureau", seeds.BureauUnitID)
	unitToken = addUser(t, db, "浮梁李", "unit", seeds.FuliangUnitID)
	srv := startServer(t, db, "--scan-interval", "0")
	bureau, unit := &client{t, srv.url, bureauTok}, &client{t, srv.url, unitToken}
	deadline := time.Now().AddDate(1, 0, 0).Format(time.DateOnly)
	for i := range linHot {
		var p problemJSON
		bureau.do("POST", "/api/v1/problems", map[string]any{
			"title": fmt.Sprintf("热点问题 %d", i), "description": "并发测试", "source": "other", "county_id": seeds.FuliangUnitID,
		}, 201, &p)
		bureau.do("POST", "/api/v1/problems/"+p.ID+"/transitions", map[string]any{"trigger": "assign", "lead_unit": seeds.FuliangUnitID, "deadline": deadline}, 200, nil)
		unit.do("POST", "/api/v1/problems/"+p.ID+"/transitions", map[string]any{"trigger": "accept", "plan": "制定方案"}, 200, nil)
		p = unit.upload(p.ID, "现场.png", pngFile(t, i), "")
		if p.State != linStart.state || uint64(p.Version) != linStart.version {
			t.Fatalf("problem %s is %s at version %v, want %v", p.ID, p.State, p.Version, linStart)
		}
		hot = append(hot, p.ID)
	}
	if err := srv.stop(); err != nil {
		t.Fatal(err)
	}
	return db, unitToken, hot
}

// linRun drives clients against the server at base until stop is closed
// and returns the history.
func linRun(t *testing.T, base *atomic.Pointer[string], token string, hot []string, clients int, stop <-chan struct{}) *linHistory {
	h := &linHistory{start: time.Now(), count: map[string]int{}}
	var wg sync.WaitGroup
	for i := range clients {
		c := &linClient{id: i, token: token, base: base, h: h, rng: rand.New(rand.NewPCG(uint64(i), 7)), seen: map[string]uint64{}, hot: hot,
			http: &http.Client{Timeout: 30 * time.Second}}
		for _, id := range hot {
			c.seen[id] = linStart.version
		}
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
					c.step(t)
				}
			}
		})
	}
	wg.Wait()
	return h
}

// linCheck checks the history with porcupine, and writes a visualisation
// of a failure to a file it names.
func linCheck(t *testing.T, h *linHistory) {
	t.Helper()
	t.Logf("%d operations: %v", len(h.ops), h.count)
	for _, need := range []string{"submit 200", "withdraw 200", "note 200", "submit 412", "note 409"} {
		if h.count[need] == 0 {
			t.Errorf("no %q in the history: the run did not exercise it", need)
		}
	}
	start := time.Now()
	res, info := porcupine.CheckOperationsVerbose(linModel(), h.ops, 5*time.Minute)
	t.Logf("porcupine: %s in %v", res, time.Since(start).Round(time.Millisecond))
	if res != porcupine.Ok {
		path := filepath.Join(os.TempDir(), fmt.Sprintf("rectify-linearizability-%d.html", time.Now().UnixNano()))
		if err := porcupine.VisualizePath(linModel(), info, path); err == nil {
			t.Errorf("the history is %s: see %s", res, path)
		} else {
			t.Errorf("the history is %s (no visualisation: %v)", res, err)
		}
	}
}

// linDuration is how long the clients run: a few seconds, a minute with
// RECTIFY_LONG=1.
func linDuration() time.Duration {
	if os.Getenv(longRunEnv) == "1" {
		return time.Minute
	}
	return 3 * time.Second
}

// longRunEnv set to 1 turns on the long-run modes of the tests (README,
// "Long-run tests").
const longRunEnv = "RECTIFY_LONG"

// TestLinearizability: 8 clients over HTTP against one server.
func TestLinearizability(t *testing.T) {
	if testing.Short() {
		t.Skip("drives a server for seconds")
	}
	db, token, hot := linSetup(t)
	srv := startServer(t, db, "--scan-interval", "0")
	var base atomic.Pointer[string]
	base.Store(&srv.url)
	stop := make(chan struct{})
	time.AfterFunc(linDuration(), func() { close(stop) })
	h := linRun(t, &base, token, hot, 8, stop)
	if err := srv.stop(); err != nil {
		t.Fatal(err)
	}
	linCheck(t, h)
}

// TestLinearizabilityWithKills: the same, with the server (a child
// process) killed with SIGKILL and restarted on its file twice during the
// run (ten times with RECTIFY_LONG=1). The writes in flight at a kill have
// no answer: porcupine takes them as pending to the end, applied or not;
// every acknowledged one must still be there after the restart.
func TestLinearizabilityWithKills(t *testing.T) {
	if testing.Short() {
		t.Skip("drives a server for seconds and kills it")
	}
	db, token, hot := linSetup(t)
	srv := startChildServer(t, "--db", db)
	if srv.url == "" {
		t.Fatalf("serve exited:\n%s", srv.stderr.String())
	}
	var base atomic.Pointer[string]
	base.Store(&srv.url)
	kills := 2
	if os.Getenv(longRunEnv) == "1" {
		kills = 10
	}
	stop := make(chan struct{})
	go func() {
		defer close(stop)
		every := linDuration() / time.Duration(kills+1)
		for range kills {
			time.Sleep(every)
			srv.kill()
			srv = startChildServer(t, "--db", db)
			if srv.url == "" {
				t.Errorf("serve did not restart after the kill:\n%s", srv.stderr.String())
				return
			}
			base.Store(&srv.url)
		}
		time.Sleep(every)
	}()
	h := linRun(t, &base, token, hot, 8, stop)
	srv.kill()
	linCheck(t, h)
}
