package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// childArgsEnv, when set, makes the test binary run the rectify command line
// with the arguments it holds (a JSON array) instead of the tests: a fault or
// an unrecovered panic then ends that child process, not the tests.
const childArgsEnv = "RECTIFY_TEST_CHILD_ARGS"

func TestMain(m *testing.M) {
	if a := os.Getenv(childArgsEnv); a != "" {
		var args []string
		if err := json.Unmarshal([]byte(a), &args); err != nil {
			fmt.Fprintln(os.Stderr, "bad", childArgsEnv, err)
			os.Exit(99)
		}
		os.Args = append([]string{"rectify"}, args...)
		childLimits()
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// childCommand is rectify args run in a child process.
func childCommand(t testing.TB, stdin string, args ...string) *exec.Cmd {
	t.Helper()
	a, err := json.Marshal(args)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childArgsEnv+"="+string(a))
	cmd.Stdin = strings.NewReader(stdin)
	return cmd
}

// childResult is how a child rectify ended.
type childResult struct {
	stdout, stderr string
	exitCode       int
}

// runChild runs rectify args in a child process until it exits (within a
// minute) and returns what it printed and its exit status.
func runChild(t testing.TB, stdin string, args ...string) childResult {
	t.Helper()
	cmd := childCommand(t, stdin, args...)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	timer := time.AfterFunc(time.Minute, func() { _ = cmd.Process.Kill() })
	defer timer.Stop()
	err := cmd.Wait()
	res := childResult{stdout: out.String(), stderr: errb.String(), exitCode: cmd.ProcessState.ExitCode()}
	if err != nil && res.exitCode < 0 {
		t.Fatalf("rectify %s: %v (killed after a minute?)\n%s", strings.Join(args, " "), err, res.stderr)
	}
	return res
}

// childServer is rectify serve in a child process.
type childServer struct {
	cmd    *exec.Cmd
	url    string
	stderr *syncWriter   // of a strings.Builder
	done   chan struct{} // closed once the child exited
}

var listeningRe = regexp.MustCompile(`msg="rectify listening" addr=(http://[0-9.:]+)`)

// startChildServer starts rectify serve args in a child process and waits
// until it listens (then url is set) or exits (url is empty: see result).
// The child is killed when the test ends.
func startChildServer(t testing.TB, args ...string) *childServer {
	t.Helper()
	return startChildServerEnv(t, nil, args...)
}

// startChildServerEnv is startChildServer with more environment variables
// (NAME=VALUE) for the child.
func startChildServerEnv(t testing.TB, env []string, args ...string) *childServer {
	t.Helper()
	cmd := childCommand(t, "", append([]string{"serve", "--addr", "127.0.0.1:0", "--scan-interval", "0"}, args...)...)
	cmd.Env = append(cmd.Env, env...)
	pr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &childServer{cmd: cmd, stderr: &syncWriter{w: &strings.Builder{}}, done: make(chan struct{})}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			s.stderr.Write([]byte(line + "\n"))
			if m := listeningRe.FindStringSubmatch(line); m != nil {
				addr <- m[1]
			}
		}
		_ = cmd.Wait()
		close(s.done)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-s.done
	})
	select {
	case s.url = <-addr:
	case <-s.done:
	case <-time.After(time.Minute):
		t.Fatalf("serve %v neither listened nor exited within a minute:\n%s", args, s.stderr.String())
	}
	return s
}

// wait waits for the child to exit (within a minute) and returns its status.
func (s *childServer) wait(t testing.TB) int {
	t.Helper()
	select {
	case <-s.done:
	case <-time.After(time.Minute):
		t.Fatalf("serve did not exit:\n%s", s.stderr.String())
	}
	return s.cmd.ProcessState.ExitCode()
}

// kill ends the child with SIGKILL and waits for it.
func (s *childServer) kill() {
	_ = s.cmd.Process.Kill()
	<-s.done
}

// waitLog waits (up to a minute) until the child has logged text.
func (s *childServer) waitLog(t testing.TB, text string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !strings.Contains(s.stderr.String(), text) {
		if time.Now().After(deadline) {
			t.Fatalf("the child never logged %q:\n%s", text, s.stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}
