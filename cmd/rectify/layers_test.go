package main

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/jdz-eco/rectify/"

// layer says what the packages under a directory may import (non-test
// files): docs/design.md#what-each-package-may-import is the same table.
type layer struct {
	dir string // a package directory, or a prefix ending in "/"
	// may lists the repository's packages (or prefixes ending in "/") it
	// may import; others are refused.
	may []string
	// deny lists outside packages (or prefixes) it may not import.
	deny []string
}

var httpAndStorage = []string{"net/http", "html/template", "database/", "go.etcd.io/", "github.com/labstack/echo"}

// layers, the most specific directory first.
var layers = []layer{
	{dir: "workflow", deny: append([]string{"net"}, httpAndStorage...)},
	{dir: "workflow/", may: []string{"workflow", "workflow/"}, deny: []string{"go.etcd.io/", "github.com/labstack/echo"}},
	{dir: "store/internal/", may: []string{"workflow"}, deny: httpAndStorage},
	{dir: "store/bolt/", may: []string{"workflow", "store/internal/", "store/bolt/"}, deny: []string{"go.etcd.io/etcd", "net/http"}},
	{dir: "store/bolt", may: []string{"workflow", "store/internal/", "store/bolt/internal/"}, deny: []string{"go.etcd.io/etcd", "net/http"}},
	{dir: "store/etcd", may: []string{"workflow", "store/internal/"}, deny: []string{"go.etcd.io/bbolt", "net/http"}},
	{dir: "store/", may: []string{"workflow"}, deny: []string{"go.etcd.io/", "net/http"}},
	{dir: "seeds", may: []string{"workflow"}, deny: httpAndStorage},
	{dir: "api/", may: []string{"workflow", "workflow/", "api", "api/"}, deny: []string{"go.etcd.io/", "database/"}},
	{dir: "api", may: []string{"workflow", "workflow/", "api/"}, deny: []string{"go.etcd.io/", "database/"}},
	{dir: "cmd/", may: []string{""}}, // the binary wires everything
}

func layerOf(dir string) *layer {
	for i := range layers {
		l := &layers[i]
		if dir == l.dir || strings.HasSuffix(l.dir, "/") && strings.HasPrefix(dir, l.dir) {
			return l
		}
	}
	return nil
}

func matches(p string, list []string) bool {
	for _, x := range list {
		if p == x || strings.HasSuffix(x, "/") && strings.HasPrefix(p, x) || x == "" {
			return true
		}
	}
	return false
}

// TestLayers: the domain imports no storage and no HTTP, stores only the
// domain and their shared internals, the API no store, and only store/bolt
// bbolt: the boundaries docs/design.md draws, checked on every import of
// every package.
func TestLayers(t *testing.T) {
	root := filepath.Join("..", "..")
	fset := token.NewFileSet()
	checked := 0
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") && p != root {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		dir := filepath.ToSlash(filepath.Dir(rel))
		l := layerOf(dir)
		if l == nil {
			t.Errorf("%s: package %s is in no layer of the table", rel, dir)
			return nil
		}
		f, err := parser.ParseFile(fset, p, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		for _, imp := range f.Imports {
			checked++
			ip, _ := strconv.Unquote(imp.Path.Value)
			if own, ok := strings.CutPrefix(ip, module); ok {
				if own != dir && !matches(own, l.may) {
					t.Errorf("%s imports %s: %s may import only %v of the repository", rel, own, dir, l.may)
				}
				continue
			}
			for _, x := range l.deny {
				if ip == x || strings.HasPrefix(ip, x) && (strings.HasSuffix(x, "/") || strings.HasPrefix(ip, x+"/")) {
					t.Errorf("%s imports %s, which %s may not", rel, ip, path.Clean(dir))
					break
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 200 {
		t.Fatalf("checked only %d imports: is the test reading the repository?", checked)
	}
}
