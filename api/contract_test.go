package api_test

import (
	"bytes"
	"context"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/jdz-eco/rectify/api"
)

// The API's contract, api/openapi.json, is checked by a real OpenAPI
// library (kin-openapi, which validates OpenAPI 3.1 documents and their
// JSON Schema 2020-12 schemas): the document itself (TestOpenAPIValid) and
// every answer the API tests receive through env.do (checkContract).

// contract is the loaded, validated document and a router over it.
var contract = sync.OnceValues(func() (*openapi3.T, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(api.OpenAPI())
	if err != nil {
		return nil, err
	}
	if err := doc.Validate(loader.Context); err != nil {
		return nil, err
	}
	return doc, nil
})

var contractRouter = sync.OnceValues(func() (routers.Router, error) {
	doc, err := contract()
	if err != nil {
		return nil, err
	}
	return legacy.NewRouter(doc)
})

// TestOpenAPIValid: api/openapi.json is a valid OpenAPI 3.1 document (issue
// 13 item 9: a media type object with a description was not).
func TestOpenAPIValid(t *testing.T) {
	doc, err := contract()
	if err != nil {
		t.Fatalf("api/openapi.json: %v", err)
	}
	if !doc.IsOpenAPI31OrLater() {
		t.Fatalf("openapi %q, want 3.1", doc.OpenAPI)
	}
	// A document with the defect is refused: the check is real.
	bad := bytes.Replace(api.OpenAPI(), []byte(`"format": "binary", "description": "Office documents`), []byte(`"format": "binary"}, "description": "Office documents`), 1)
	bad = bytes.Replace(bad, []byte(`application/x-ole-storage)."}}`), []byte(`application/x-ole-storage)."}`), 1)
	if bytes.Equal(bad, api.OpenAPI()) {
		t.Fatal("the test's edit of the document found nothing to edit")
	}
	loader := openapi3.NewLoader()
	if d, err := loader.LoadFromData(bad); err == nil {
		if err := d.Validate(loader.Context); err == nil || !strings.Contains(err.Error(), "description") {
			t.Fatalf("a media type object with a description validated: %v", err)
		}
	}
}

// checkContract fails the test unless rec, the answer to req, is one the
// document gives for req's route and status: a documented status, the
// documented headers, a documented media type and, for JSON, a body that
// validates against its schema. Requests to no documented route (unknown
// paths, other methods) have no contract to check.
func checkContract(t testing.TB, req *http.Request, rec *httptest.ResponseRecorder) {
	t.Helper()
	router, err := contractRouter()
	if err != nil {
		t.Fatalf("api/openapi.json: %v", err)
	}
	route, params, err := router.FindRoute(req)
	if err != nil {
		return
	}
	ct := rec.Header().Get("Content-Type")
	mt, _, _ := mime.ParseMediaType(ct)
	opts := &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true}
	if rec.Body.Len() == 0 && ct == "" && rec.Header().Get("Preference-Applied") == "return=minimal" {
		// Prefer: return=minimal (RFC 7240) empties a 201, which OpenAPI
		// cannot say apart from its content; the document says so in words.
		opts.ExcludeResponseBody = true
	} else if mt != "" && mt != "application/json" && !strings.HasSuffix(mt, "+json") {
		// Files, workbooks, metrics: the media type must be documented; the
		// bytes are not JSON to validate.
		opts.ExcludeResponseBody = true
		if r := route.Operation.Responses.Status(rec.Code); r == nil || r.Value == nil || r.Value.Content.Get(ct) == nil {
			if r == nil {
				r = route.Operation.Responses.Default()
			}
			if r == nil || r.Value == nil || r.Value.Content.Get(ct) == nil {
				t.Errorf("%s %s answered %d %s, which openapi.json does not document", req.Method, req.URL.Path, rec.Code, ct)
				return
			}
		}
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 rec.Code,
		Header:                 rec.Header(),
		Body:                   io.NopCloser(bytes.NewReader(rec.Body.Bytes())),
		Options:                opts,
	}
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		t.Errorf("%s %s answered %d, against openapi.json: %v\nbody: %.500s", req.Method, req.URL.Path, rec.Code, err, rec.Body)
	}
}
