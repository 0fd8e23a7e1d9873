package workflow

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
)

// TestDomainRefusalsCarryReasons reads this package's source: every error
// the domain builds for a caller carries a reason (Refuse, RefuseField),
// so that no page or client has to read an English message. Errorf is left
// for internal faults; Invalid and Error literals are for other packages.
func TestDomainRefusalsCarryReasons(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	checked := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") || name == "error.go" || name == "reason.go" {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.CallExpr:
				id, ok := n.Fun.(*ast.Ident)
				if !ok {
					return true
				}
				switch id.Name {
				case "Invalid":
					t.Errorf("%s: Invalid builds a refusal without a reason; use RefuseField", fset.Position(n.Pos()))
				case "Errorf":
					if c, ok := n.Args[0].(*ast.Ident); !ok || c.Name != "CodeInternal" {
						t.Errorf("%s: Errorf with a code other than CodeInternal; use Refuse with a reason", fset.Position(n.Pos()))
					}
				case "Refuse", "RefuseField":
					checked++
					if _, ok := n.Args[0].(*ast.Ident); !ok {
						t.Errorf("%s: the reason of %s is not one of the constants", fset.Position(n.Pos()), id.Name)
					}
				}
			case *ast.CompositeLit:
				if id, ok := n.Type.(*ast.Ident); ok && id.Name == "Error" {
					t.Errorf("%s: an Error literal; use Refuse with a reason", fset.Position(n.Pos()))
				}
			}
			return true
		})
	}
	if checked < 50 {
		t.Fatalf("found only %d refusals: is the test reading the package's source?", checked)
	}
}

// TestReasonCodes: every reason refines a code a caller sees.
func TestReasonCodes(t *testing.T) {
	if len(Reasons()) < 40 {
		t.Fatalf("only %d reasons", len(Reasons()))
	}
	for _, r := range Reasons() {
		switch r.Code() {
		case CodeInternal, "":
			t.Errorf("reason %s refines no code a caller sees", r)
		}
		if e := Refuse(r, "x"); e.Code != r.Code() || ErrorReason(e) != r {
			t.Errorf("Refuse(%s) = %+v", r, e)
		}
	}
	if Reason("nonsense").Code() != CodeInternal {
		t.Error("an unlisted reason has a code")
	}
}
