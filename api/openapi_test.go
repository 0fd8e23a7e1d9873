package api_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/jdz-eco/rectify/api"
	"github.com/jdz-eco/rectify/workflow"
)

func openapiDoc(t *testing.T) map[string]any {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(api.OpenAPI(), &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	return doc
}

var pathParam = regexp.MustCompile(`:([a-z0-9_]+)`)

// TestOpenAPICoversRoutes: every route is in the document and every
// operation of the document is a route.
func TestOpenAPICoversRoutes(t *testing.T) {
	v := newEnv(t)
	doc := openapiDoc(t)
	if doc["openapi"] != "3.1.0" {
		t.Errorf("openapi %v", doc["openapi"])
	}
	paths := doc["paths"].(map[string]any)
	routes := map[string]bool{}
	for _, r := range v.e.Routes() {
		if r.Method == echo.RouteNotFound {
			continue
		}
		p := pathParam.ReplaceAllString(r.Path, "{$1}")
		key := strings.ToLower(r.Method) + " " + p
		routes[key] = true
		item, _ := paths[p].(map[string]any)
		if item[strings.ToLower(r.Method)] == nil {
			t.Errorf("route %s %s is not in openapi.json", r.Method, r.Path)
		}
	}
	if len(routes) < 21 {
		t.Errorf("only %d routes", len(routes))
	}
	// A path parameter takes a whole segment in echo: the route of one
	// document serves another's suffixed form.
	for doc, route := range map[string]string{"get /api/v1/letters/{id}.docx": "get /api/v1/letters/{id}"} {
		if routes[route] {
			routes[doc] = true
		}
	}
	methods := []string{"get", "put", "post", "delete", "patch", "head", "options", "trace"}
	for p, item := range paths {
		for m := range item.(map[string]any) {
			if slices.Contains(methods, m) && !routes[m+" "+p] {
				t.Errorf("openapi.json documents %s %s, which is not a route", m, p)
			}
		}
	}
	// The served document is the embedded one.
	rec := v.do("GET", "/api/v1/openapi.json", "", nil)
	if rec.Code != http.StatusOK || !bytes.Equal(rec.Body.Bytes(), api.OpenAPI()) {
		t.Errorf("GET /api/v1/openapi.json: %d", rec.Code)
	}
}

// TestOpenAPIEnums: the document's enums are the domain's.
func TestOpenAPIEnums(t *testing.T) {
	schemas := openapiDoc(t)["components"].(map[string]any)["schemas"].(map[string]any)
	enum := func(name string) []string {
		var out []string
		for _, x := range schemas[name].(map[string]any)["enum"].([]any) {
			out = append(out, x.(string))
		}
		return out
	}
	check := func(name string, want []string) {
		if got := enum(name); !slices.Equal(got, want) {
			t.Errorf("%s enum %v, want %v", name, got, want)
		}
	}
	check("State", strs(workflow.States))
	check("Trigger", strs(workflow.Triggers))
	check("Source", strs(workflow.Sources))
	check("Role", strs(workflow.UserRoles))
	check("Level", strs(workflow.Levels))
	check("AlertKind", workflow.AlertKinds)
	errProps := schemas["Error"].(map[string]any)["properties"].(map[string]any)
	var reasons []string
	for _, x := range errProps["reason"].(map[string]any)["enum"].([]any) {
		reasons = append(reasons, x.(string))
	}
	if want := strs(workflow.Reasons()); !slices.Equal(reasons, want) {
		t.Errorf("Error.reason enum %v, want %v", reasons, want)
	}
	// Every parameter of every trigger is a property of TransitionRequest.
	props := schemas["TransitionRequest"].(map[string]any)["properties"].(map[string]any)
	for _, tr := range workflow.Triggers {
		req, opt := workflow.ParamFields(tr)
		for _, f := range append(req, opt...) {
			if props[f] == nil {
				t.Errorf("TransitionRequest lacks %s (of %s)", f, tr)
			}
		}
	}
}

func strs[T ~string](xs []T) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = string(x)
	}
	return out
}
