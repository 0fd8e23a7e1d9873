package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/jdz-eco/rectify/api/web"
	"github.com/jdz-eco/rectify/seeds"
	"github.com/jdz-eco/rectify/store/bolt"
	"github.com/jdz-eco/rectify/workflow"
)

// The Docker image cannot be built here (no engine); these tests read the
// Dockerfile and .dockerignore and run what they say with the binary.

// dockerfile returns the Dockerfile's instructions, continuation lines
// joined, comments dropped.
func dockerfile(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	cur := ""
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "#") || (line == "" && cur == "") {
			continue
		}
		if s, ok := strings.CutSuffix(line, "\\"); ok {
			cur += s + " "
			continue
		}
		out = append(out, strings.TrimSpace(cur+line))
		cur = ""
	}
	return out
}

// instruction returns the arguments of the last instruction named name.
func instruction(t *testing.T, lines []string, name string) string {
	t.Helper()
	arg := ""
	for _, l := range lines {
		if rest, ok := strings.CutPrefix(l, name+" "); ok {
			arg = rest
		}
	}
	if arg == "" {
		t.Fatalf("the Dockerfile has no %s", name)
	}
	return arg
}

// TestDockerHealthcheck: the image's HEALTHCHECK runs rectify healthcheck
// (the distroless image has no curl), and that command line, with the
// image's environment (RECTIFY_ADDR=0.0.0.0:PORT), reports a running
// server healthy, and a stopped one not.
func TestDockerHealthcheck(t *testing.T) {
	lines := dockerfile(t)
	hc := instruction(t, lines, "HEALTHCHECK")
	_, execForm, ok := strings.Cut(hc, "CMD ")
	if !ok {
		t.Fatalf("HEALTHCHECK %s has no CMD", hc)
	}
	var argv []string
	if err := json.Unmarshal([]byte(execForm), &argv); err != nil {
		t.Fatalf("HEALTHCHECK CMD %s is not in exec form (there is no shell): %v", execForm, err)
	}
	entry := instruction(t, lines, "ENTRYPOINT")
	var entryArgv []string
	if err := json.Unmarshal([]byte(entry), &entryArgv); err != nil || len(entryArgv) != 1 {
		t.Fatalf("ENTRYPOINT %s", entry)
	}
	if len(argv) < 2 || argv[0] != entryArgv[0] || argv[1] != "healthcheck" {
		t.Fatalf("HEALTHCHECK runs %v, not %s healthcheck", argv, entryArgv[0])
	}
	if !strings.Contains(instruction(t, lines, "COPY --from=build /out/rectify"), entryArgv[0]) {
		t.Errorf("the binary is not copied to %s", entryArgv[0])
	}
	envs := instruction(t, lines, "ENV")
	m := regexp.MustCompile(`RECTIFY_ADDR=(\S+)`).FindStringSubmatch(envs)
	if m == nil {
		t.Fatalf("ENV %s sets no RECTIFY_ADDR", envs)
	}

	srv := startServer(t, filepath.Join(t.TempDir(), "rectify.db"), "--scan-interval", "0")
	port := srv.url[strings.LastIndex(srv.url, ":")+1:]
	addr := strings.Replace(m[1], "8080", port, 1) // the image's address, on the test's port
	env := Env{Stdout: &bytes.Buffer{}, Getenv: func(k string) string {
		if k == "RECTIFY_ADDR" {
			return addr
		}
		return ""
	}}
	if err := Main(context.Background(), argv[1:], env); err != nil {
		t.Errorf("%v with RECTIFY_ADDR=%s: %v", argv, addr, err)
	}
	if err := srv.stop(); err != nil {
		t.Fatal(err)
	}
	err := Main(context.Background(), argv[1:], env)
	if e, ok := err.(*exitError); !ok || e.code != 1 {
		t.Errorf("%v on a stopped server: %v, want exit status 1", argv, err)
	}
}

// dockerIgnored reports whether path is left out of the build context by
// the .dockerignore patterns (Docker's rules: patterns relative to the
// context's root, * within a path element, ** across elements, a matched
// directory excludes what it holds, ! re-includes).
func dockerIgnored(patterns []string, path string) bool {
	ignored := false
	for _, p := range patterns {
		neg := strings.HasPrefix(p, "!")
		p = strings.TrimPrefix(strings.TrimPrefix(p, "!"), "/")
		var re strings.Builder
		re.WriteString("^")
		for i := 0; i < len(p); i++ {
			switch {
			case strings.HasPrefix(p[i:], "**/"):
				re.WriteString("(.*/)?")
				i += 2
			case strings.HasPrefix(p[i:], "**"):
				re.WriteString(".*")
				i++
			case p[i] == '*':
				re.WriteString("[^/]*")
			case p[i] == '?':
				re.WriteString("[^/]")
			default:
				re.WriteString(regexp.QuoteMeta(p[i : i+1]))
			}
		}
		re.WriteString("(/.*)?$")
		if regexp.MustCompile(re.String()).MatchString(path) {
			ignored = !neg
		}
	}
	return ignored
}

// TestDockerIgnore: the build context leaves out local databases, evidence
// files, binaries and .git, and keeps every file the build needs.
func TestDockerIgnore(t *testing.T) {
	b, err := os.ReadFile("../../.dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	var patterns []string
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			patterns = append(patterns, l)
		}
	}
	for _, p := range []string{
		"rectify.db", "data/rectify.db", "backup/rectify.db.tmp", "evidence/ab/cdef", "data/evidence/ab/cdef",
		".git/HEAD", "rectify", "台账.xlsx", "cmd/rectify/rectify.test", "cpu.prof",
	} {
		if !dockerIgnored(patterns, p) {
			t.Errorf("%s is sent with the build context", p)
		}
	}
	// Everything the build reads is sent: the module files and every file
	// of the repository's Go packages (sources and embedded files).
	keep := []string{"go.mod", "go.sum"}
	err = filepath.WalkDir("../..", func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel("../..", path)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if rel == ".git" || rel == "docs" {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(rel, ".go") && !strings.HasSuffix(rel, "_test.go") ||
			strings.HasPrefix(rel, "api/web/templates/") || strings.HasPrefix(rel, "api/web/static/") ||
			strings.HasPrefix(rel, "seeds/data/") || rel == "api/openapi.json" {
			keep = append(keep, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(keep) < 100 {
		t.Fatalf("only %d files found to keep", len(keep))
	}
	for _, p := range keep {
		if dockerIgnored(patterns, p) {
			t.Errorf("%s, which the build needs, is left out of the build context", p)
		}
	}

	gi, err := os.ReadFile("../../.gitignore")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"*.db", "evidence/"} {
		if !strings.Contains("\n"+string(gi), "\n"+want+"\n") {
			t.Errorf(".gitignore does not cover %s", want)
		}
	}
}

// TestDockerBuildCommand runs the Dockerfile's go build command line here,
// as the build stage would (static, -trimpath, the version passed with
// -ldflags), and the binary it makes. A cold build of it takes a minute or
// two on 2 CPUs, so it runs only with RECTIFY_DOCKERFILE_BUILD=1.
func TestDockerBuildCommand(t *testing.T) {
	if os.Getenv("RECTIFY_DOCKERFILE_BUILD") != "1" {
		t.Skip("set RECTIFY_DOCKERFILE_BUILD=1 to build the Dockerfile's command line")
	}
	var build string
	for _, l := range dockerfile(t) {
		if strings.HasPrefix(l, "RUN ") && strings.Contains(l, "go build") {
			build = strings.TrimPrefix(l, "RUN ")
		}
	}
	if build == "" {
		t.Fatal("the Dockerfile runs no go build")
	}
	out := t.TempDir()
	build = strings.ReplaceAll(build, "/out/", out+"/")
	cmd := exec.Command("sh", "-c", build)
	cmd.Dir = "../.."
	cmd.Env = append(os.Environ(), "VERSION=v9.9.9-test", "REVISION=0123456789abcdef")
	res, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", build, err, res)
	}
	if !strings.Contains(string(res), "rectify v9.9.9-test") || !strings.Contains(string(res), "revision  0123456789abcdef") || !strings.Contains(string(res), "cgo       0") {
		t.Errorf("the built binary's version:\n%s", res)
	}
	if fi, err := os.Stat(filepath.Join(out, "data")); err != nil || !fi.IsDir() {
		t.Errorf("the data directory: %v", err)
	}
}

// TestDockerFirstAdmin follows the README's recipe for the first admin user
// in a container: each docker run of it is run as the image would run it
// (the entrypoint rectify with the image's environment, /data a temporary
// directory), and the admin then exists with its password and token.
func TestDockerFirstAdmin(t *testing.T) {
	var recipe string
	for _, b := range shBlocks(readmeSection(t, "Docker")) {
		if strings.Contains(b, "docker volume create") {
			recipe = strings.ReplaceAll(b, "\\\n", " ")
		}
	}
	if recipe == "" {
		t.Fatal("the README's Docker section has no first-admin recipe")
	}
	data := t.TempDir()
	env := map[string]string{}
	for _, kv := range strings.Fields(instruction(t, dockerfile(t), "ENV")) {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = strings.Replace(v, "/data", data, 1)
	}
	getenv := func(k string) string { return env[k] }
	rePrintf := regexp.MustCompile(`^printf '%s\\n' '([^']*)' \| `)
	var stdout bytes.Buffer
	password, ran := "", 0
	for _, line := range strings.Split(recipe, "\n") {
		line = strings.TrimSpace(line)
		stdin := ""
		if m := rePrintf.FindStringSubmatch(line); m != nil {
			stdin, password = m[1]+"\n", m[1]
			line = line[len(m[0]):]
		}
		if !strings.HasPrefix(line, "docker run ") || strings.Contains(line, " -d ") {
			continue // the volume, and the server started last
		}
		_, args, ok := strings.Cut(line, " rectify ")
		if !ok {
			t.Fatalf("no image in %q", line)
		}
		if !strings.Contains(line, "-v rectify-data:/data") {
			t.Errorf("%q does not mount the volume", line)
		}
		if stdin != "" && !strings.Contains(line, "--rm -i ") {
			t.Errorf("%q reads standard input without -i", line)
		}
		if err := Main(context.Background(), strings.Fields(args), Env{Stdin: strings.NewReader(stdin), Stdout: &stdout, Stderr: &bytes.Buffer{}, Getenv: getenv}); err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		ran++
	}
	if ran != 2 || password == "" {
		t.Fatalf("ran %d commands of the recipe, password %q", ran, password)
	}
	token := strings.TrimSpace(stdout.String()[strings.LastIndex(stdout.String(), "rt_"):])
	st, err := openStore(filepath.Join(data, "rectify.db"), bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	svc := workflow.NewService(st, workflow.SystemClock{})
	u, err := svc.Authenticate(context.Background(), token)
	if err != nil || u.Role != workflow.RoleAdmin || u.Name != "系统管理员" || u.UnitID != seeds.BureauUnitID {
		t.Fatalf("the admin by its token: %+v, %v", u, err)
	}
	ok, err := svc.CheckPassword(context.Background(), u.ID, func(hash string) (bool, error) { return web.CheckPassword(hash, password) })
	if err != nil || !ok {
		t.Errorf("the admin's password: %v, %v", ok, err)
	}
}
