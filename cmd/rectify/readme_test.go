package main

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/jdz-eco/rectify/workflow"
)

// TestReadmeDiagram keeps the README's Mermaid diagram equal to the machine.
func TestReadmeDiagram(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "```mermaid\n"+workflow.Mermaid()+"```") {
		t.Fatalf("README.md's mermaid block differs from workflow.Mermaid(); paste the output of 'rectify workflow':\n%s", workflow.Mermaid())
	}
}

// readmeSection returns the README's section under heading (a "## " line)
// up to the next one.
func readmeSection(t *testing.T, heading string) string {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), "\n## "+heading+"\n")
	if !ok {
		t.Fatalf("README.md has no section %q", heading)
	}
	if i := strings.Index(rest, "\n## "); i >= 0 {
		rest = rest[:i]
	}
	return rest
}

// shBlocks returns the ```sh blocks of text.
func shBlocks(text string) []string {
	var out []string
	for {
		_, rest, ok := strings.Cut(text, "```sh\n")
		if !ok {
			return out
		}
		block, after, _ := strings.Cut(rest, "```")
		out = append(out, block)
		text = after
	}
}

// shCommand is one command of a README block and the status its comment
// says it gets (0 when none).
type shCommand struct {
	text   string
	status int
}

var statusComment = regexp.MustCompile(`^# ([1-5][0-9][0-9])\b`)

// shCommands splits a block into commands (a command goes on while a
// single quote is open) and reads the status in the comment after each.
func shCommands(block string) []shCommand {
	var out []shCommand
	cur := ""
	for line := range strings.SplitSeq(block, "\n") {
		if cur == "" {
			if strings.TrimSpace(line) == "" {
				continue
			}
			if strings.HasPrefix(line, "#") {
				if m := statusComment.FindStringSubmatch(line); m != nil && len(out) > 0 && out[len(out)-1].status == 0 {
					out[len(out)-1].status, _ = strconv.Atoi(m[1])
				}
				continue
			}
		}
		cur += line + "\n"
		if strings.Count(cur, "'")%2 == 0 {
			out = append(out, shCommand{text: cur})
			cur = ""
		}
	}
	return out
}

// TestReadmeCurlWalkthrough runs the README's curl walk-through as written,
// with curl and bash, against a demo server started the way its first
// block says (on a port of the test's own, standing for 8081), and checks
// the status of every command whose comment names one: the walk-through
// runs in order, the Prefer example included.
func TestReadmeCurlWalkthrough(t *testing.T) {
	for _, tool := range []string{"curl", "bash"} {
		if _, err := exec.LookPath(tool); err != nil {
			msg := "the README walk-through needs " + tool + " (.ci/run installs curl)"
			if ci := os.Getenv("CI"); ci != "" && ci != "false" && ci != "0" {
				t.Fatal(msg)
			}
			t.Skip(msg)
		}
	}
	section := readmeSection(t, "A problem from found to closed, with curl")
	blocks := shBlocks(section)
	if len(blocks) < 3 {
		t.Fatalf("%d sh blocks in the walk-through", len(blocks))
	}
	// The first block starts the server: on a port and a file of its own,
	// not the first command's 8080 and ./rectify.db.
	start := blocks[0]
	if !strings.Contains(start, "--addr 127.0.0.1:8081") || !strings.Contains(start, "api=http://127.0.0.1:8081/api/v1") ||
		strings.Contains(start, "--db ./rectify.db") || strings.Contains(start, "--addr 127.0.0.1:8080") {
		t.Errorf("the walk-through's server may clash with the first command's:\n%s", start)
	}

	dir := t.TempDir()
	base, users := startDemoServer(t, filepath.Join(dir, "rectify.db"))
	for i, name := range []string{"photo.jpg", "site.jpg"} {
		img := image.NewRGBA(image.Rect(0, 0, 16, 16))
		img.Set(i, i, color.RGBA{R: 255, A: 255})
		var b bytes.Buffer
		if err := jpeg.Encode(&b, img, nil); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var script strings.Builder
	fmt.Fprintf(&script, "set -u\ncurl() { command curl -w '\\n@@STATUS %%{http_code}\\n' \"$@\"; }\n")
	fmt.Fprintf(&script, "B=%s\nU=%s\nI=%s\napi=%s/api/v1\n", users["bureau"].token, users["unit"].token, users["inspector"].token, base)
	var cmds []shCommand
	for _, block := range blocks[1:] {
		cmds = append(cmds, shCommands(block)...)
	}
	checked := 0
	for i, c := range cmds {
		fmt.Fprintf(&script, "%s echo '@@END %d'\n", c.text, i)
		if c.status != 0 {
			checked++
		}
	}
	if checked < 10 {
		t.Fatalf("only %d commands with a status to check", checked)
	}
	cmd := exec.Command("bash", "-c", script.String())
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("bash: %v\n%s", err, out)
	}
	// Each command's output runs from the previous @@END to its own.
	outputs := strings.Split(string(out), "\n@@END ")
	if len(outputs) != len(cmds)+1 {
		t.Fatalf("%d commands, %d outputs:\n%s", len(cmds), len(outputs)-1, out)
	}
	reStatus := regexp.MustCompile(`@@STATUS ([0-9]+)`)
	for i, c := range cmds {
		if c.status == 0 {
			continue
		}
		m := reStatus.FindAllStringSubmatch(outputs[i], -1)
		if len(m) == 0 {
			t.Errorf("%sprinted no status:\n%s", c.text, outputs[i])
			continue
		}
		if got, _ := strconv.Atoi(m[len(m)-1][1]); got != c.status {
			t.Errorf("%sanswered %d, the README says %d:\n%s", c.text, got, c.status, outputs[i])
		}
	}
}

// TestReadmeUsage keeps the README's command list equal to the binary's
// usage (rectify help), which the command table generates.
func TestReadmeUsage(t *testing.T) {
	var usage bytes.Buffer
	writeUsage(&usage, "")
	if !strings.Contains(readmeSection(t, "Command line"), "```\n"+usage.String()+"```") {
		t.Fatalf("README.md's command list differs from rectify help; paste its output:\n%s", usage.String())
	}
}
