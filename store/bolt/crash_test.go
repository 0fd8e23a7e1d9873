package bolt

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/jdz-eco/rectify/store/storetest"
	"github.com/jdz-eco/rectify/workflow"
)

// crashChildEnv names the database a re-executed test binary loads until it
// is killed (TestCrashChild).
const crashChildEnv = "RECTIFY_CRASH_CHILD_DB"

// crashClients is how many goroutines of the child write at once.
const crashClients = 32

// longRunEnv set to 1 turns on the long-run modes of the tests (README,
// "Long-run tests").
const longRunEnv = "RECTIFY_LONG"

// crashKills is how many times TestCrash kills the writer: 20, or 200 in
// the long-run mode.
func crashKills() int {
	if os.Getenv(longRunEnv) == "1" {
		return 200
	}
	return 20
}

// TestCrash kills a process writing bench-style lifecycles from 32
// goroutines through the store with SIGKILL at random moments, again and
// again on the same file (20 times; 200 with RECTIFY_LONG=1). The process
// reports each command on a pipe as soon as the store acknowledged it;
// after each kill the file must pass Open's full check and bbolt's
// consistency check, hold every acknowledged command exactly once, with its
// indexes intact, and pass the audit (the hash chain, every record equal to
// its replayed history, the rollups equal to a recount).
func TestCrash(t *testing.T) {
	kills := crashKills()
	if testing.Short() {
		t.Skipf("kills a child process %d times", kills)
	}
	path := filepath.Join(t.TempDir(), "crash.db")
	acked := map[string][]crashAck{} // problem → its acknowledged commands
	total := 0
	for kill := range kills {
		acks, err := runCrashChild(t, path, time.Duration(5+rand.IntN(150))*time.Millisecond)
		if err != nil {
			t.Fatalf("kill %d: %v", kill+1, err)
		}
		for _, a := range acks {
			acked[a.id] = append(acked[a.id], a)
		}
		total += len(acks)
		checkCrashFile(t, path, acked)
		if t.Failed() {
			t.Fatalf("after kill %d", kill+1)
		}
	}
	t.Logf("%d kills, %d acknowledged commands on %d problems, all durable", kills, total, len(acked))
	if total == 0 {
		t.Fatal("the child acknowledged nothing")
	}
}

// crashAck is one command the child saw acknowledged: problem id reached
// version with action.
type crashAck struct {
	id      string
	version uint64
	action  string
}

// runCrashChild starts the child on path, waits until it is writing, kills
// it with SIGKILL after wait and returns every acknowledgement it sent.
func runCrashChild(t *testing.T, path string, wait time.Duration) ([]crashAck, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.v=false")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+path)
	cmd.ExtraFiles = []*os.File{w} // fd 3 in the child
	cmd.Stdout, cmd.Stderr = io.Discard, os.Stderr
	if err := cmd.Start(); err != nil {
		w.Close()
		return nil, err
	}
	w.Close() // the child holds the only write end: EOF once it is dead
	var (
		acks   []crashAck
		once   sync.Once
		killed = make(chan struct{})
	)
	kill := func() {
		once.Do(func() {
			_ = cmd.Process.Kill() // SIGKILL
			close(killed)
		})
	}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if line == "ready" {
			// A random moment of the load, not a wait for a state.
			time.AfterFunc(wait, kill)
			continue
		}
		if strings.HasPrefix(line, "error ") {
			t.Errorf("the child: %s", line)
			continue
		}
		f := strings.Fields(line)
		if len(f) != 3 {
			kill()
			return nil, fmt.Errorf("bad acknowledgement %q", line)
		}
		v, err := strconv.ParseUint(f[1], 10, 64)
		if err != nil {
			kill()
			return nil, fmt.Errorf("bad acknowledgement %q", line)
		}
		acks = append(acks, crashAck{id: f[0], version: v, action: f[2]})
	}
	kill() // the child ended on its own: an error
	err = cmd.Wait()
	<-killed
	if err == nil || !strings.Contains(err.Error(), "killed") {
		return nil, fmt.Errorf("the child ended by itself: %v", err)
	}
	return acks, sc.Err()
}

// checkCrashFile checks the file at path after a kill.
func checkCrashFile(t *testing.T, path string, acked map[string][]crashAck) {
	t.Helper()
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: time.Second, ReadOnly: true})
	if err != nil {
		t.Fatalf("open after the kill: %v", err)
	}
	err = db.View(func(tx *bbolt.Tx) error {
		for err := range tx.Check() {
			t.Errorf("bbolt check: %v", err)
		}
		return nil
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(path, Options{ReadOnly: true})
	if err != nil {
		t.Fatalf("open after the kill: %v", err)
	}
	defer s.Close()
	ctx := t.Context()
	for id, acks := range acked {
		h, err := s.History(ctx, id)
		if err != nil {
			t.Errorf("acknowledged problem %s: %v", id, err)
			continue
		}
		entries := map[uint64][]string{} // version → actions
		for _, e := range h {
			entries[e.Version] = append(entries[e.Version], e.Action)
		}
		for _, a := range acks {
			if got := entries[a.version]; len(got) != 1 || got[0] != a.action {
				t.Errorf("problem %s: version %d (%s) was acknowledged; its history holds %v at that version", id, a.version, a.action, got)
			}
		}
	}
	checkIndexes(t, s)
	checkChain(t, s)
	if _, err := workflow.Audit(ctx, s, nil, nil); err != nil {
		t.Errorf("audit after the kill: %v", err)
	}
}

// TestCrashChild is the process TestCrash kills: it drives problem
// lifecycles from crashClients goroutines through the workflow service and the store
// and writes "ID VERSION ACTION" to fd 3 once each command returned. It
// runs only when re-executed by TestCrash.
func TestCrashChild(t *testing.T) {
	path := os.Getenv(crashChildEnv)
	if path == "" {
		t.Skip("run by TestCrash")
	}
	acks := os.NewFile(3, "acks")
	var mu sync.Mutex
	ack := func(line string) {
		mu.Lock()
		defer mu.Unlock()
		if _, err := acks.WriteString(line + "\n"); err != nil {
			os.Exit(3)
		}
	}
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	clock := workflow.NewManualClock(storetest.T0)
	svc := workflow.NewService(s, clock)
	if err := svc.PutUnits(ctx, storetest.Units()); err != nil {
		t.Fatal(err)
	}
	officer := storetest.OfficerOf(storetest.Leping)
	d := storetest.Deadline(60)
	steps := []func(id string) (*workflow.Problem, string, error){
		func(id string) (*workflow.Problem, string, error) {
			p, err := svc.Fire(ctx, storetest.BureauActor, id, workflow.Command{Trigger: workflow.TriggerAssign, Params: workflow.Params{LeadUnit: storetest.Leping, Deadline: &d}})
			return p, string(workflow.TriggerAssign), err
		},
		func(id string) (*workflow.Problem, string, error) {
			p, err := svc.Fire(ctx, officer, id, workflow.Command{Trigger: workflow.TriggerAccept, Params: workflow.Params{Plan: "组织清运"}})
			return p, string(workflow.TriggerAccept), err
		},
		func(id string) (*workflow.Problem, string, error) {
			p, err := svc.AddNote(ctx, officer, id, "已完成清运方案审批", 0)
			return p, workflow.ActionNote, err
		},
		func(id string) (*workflow.Problem, string, error) {
			p, err := svc.AddEvidence(ctx, officer, id, storetest.EvidenceInput("现场照片 "+id), 0)
			return p, workflow.ActionEvidence, err
		},
		func(id string) (*workflow.Problem, string, error) {
			p, err := svc.Fire(ctx, officer, id, workflow.Command{Trigger: workflow.TriggerSubmit, Params: workflow.Params{Summary: "已清运"}})
			return p, string(workflow.TriggerSubmit), err
		},
		func(id string) (*workflow.Problem, string, error) {
			p, err := svc.Fire(ctx, storetest.InspectorActor, id, workflow.Command{Trigger: workflow.TriggerVerify, Params: workflow.Params{Opinion: "整改到位"}})
			return p, string(workflow.TriggerVerify), err
		},
		func(id string) (*workflow.Problem, string, error) {
			p, err := svc.Fire(ctx, storetest.BureauActor, id, workflow.Command{Trigger: workflow.TriggerClose, Params: workflow.Params{Statement: "同意销号"}})
			return p, string(workflow.TriggerClose), err
		},
	}
	ack("ready")
	var wg sync.WaitGroup
	for range crashClients {
		wg.Go(func() {
			for {
				p, _, err := svc.CreateProblem(ctx, storetest.BureauActor, workflow.NewProblem{Title: "压测问题", Description: "河道沿岸违规堆放建筑垃圾",
					Source: workflow.SourceAudit, CountyID: storetest.Leping})
				if err != nil {
					t.Error(err)
					os.Exit(4)
				}
				ack(fmt.Sprintf("%s %d %s", p.ID, p.Version, workflow.ActionCreate))
				for _, step := range steps {
					q, action, err := step(p.ID)
					if err != nil {
						// Reported, and the parent fails; the load goes on.
						ack("error " + strings.ReplaceAll(err.Error(), "\n", " "))
						break
					}
					ack(fmt.Sprintf("%s %d %s", q.ID, q.Version, action))
				}
			}
		})
	}
	wg.Wait()
}
