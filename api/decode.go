package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/jdz-eco/rectify/workflow"
)

// readBody reads the whole request body; a body over the limit is a
// *http.MaxBytesError (413) and an empty body is invalid.
func readBody(c echo.Context) ([]byte, error) {
	b, err := io.ReadAll(c.Request().Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, err
		}
		return nil, apiError(workflow.CodeInvalid, "", "cannot read the request body")
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, apiError(workflow.CodeInvalid, "", "the request body is empty; send a JSON object")
	}
	return b, nil
}

// decodeBody strictly decodes the request body into v (see decodeStrict).
func decodeBody(c echo.Context, v any) error {
	b, err := readBody(c)
	if err != nil {
		return err
	}
	return decodeStrict(b, v)
}

// decodeStrict decodes exactly one JSON object from b into v: unknown fields,
// wrong types, trailing data, duplicate names and invalid UTF-8 (checkJSON)
// are CodeInvalid errors naming the field.
func decodeStrict(b []byte, v any) error {
	if err := checkJSON(b); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return apiError(workflow.CodeInvalid, "", "unexpected data after the JSON object")
	}
	return nil
}

// jsonError translates an encoding/json error into a CodeInvalid error.
func jsonError(err error) error {
	var (
		syn *json.SyntaxError
		typ *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &syn):
		return apiError(workflow.CodeInvalid, "", fmt.Sprintf("malformed JSON at byte %d: %v", syn.Offset, syn))
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		return apiError(workflow.CodeInvalid, "", "malformed JSON: unexpected end of input")
	case errors.As(err, &typ):
		if typ.Field == "" {
			return apiError(workflow.CodeInvalid, "", fmt.Sprintf("the request body must be a JSON object, not %s", typ.Value))
		}
		return apiError(workflow.CodeInvalid, typ.Field, fmt.Sprintf("field %s must be %s, not %s", typ.Field, jsonKind(typ.Type.String()), typ.Value))
	}
	// encoding/json has no typed error for DisallowUnknownFields.
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		name, _ = strconv.Unquote(name)
		return apiError(workflow.CodeInvalid, name, fmt.Sprintf("unknown field %q", name))
	}
	return apiError(workflow.CodeInvalid, "", "malformed JSON: "+err.Error())
}

// jsonKind names a Go type the way a JSON client thinks of it.
func jsonKind(goType string) string {
	switch {
	case strings.HasPrefix(goType, "[]"):
		return "an array"
	case strings.HasPrefix(goType, "map[") || strings.HasPrefix(goType, "struct") || strings.Contains(goType, "."):
		if strings.HasPrefix(goType, "workflow.") {
			return "a string" // State, Source, Role, Trigger are strings
		}
		return "an object"
	case strings.HasPrefix(goType, "int") || strings.HasPrefix(goType, "uint") || strings.HasPrefix(goType, "float"):
		return "a number"
	case goType == "bool":
		return "a boolean"
	}
	return "a string"
}

// query returns the single value of query parameter name, refusing repeats.
func query(q url.Values, name string) (string, error) {
	vs := q[name]
	switch len(vs) {
	case 0:
		return "", nil
	case 1:
		return vs[0], nil
	}
	return "", apiError(workflow.CodeInvalid, name, "query parameter "+name+" is given more than once")
}

// checkQuery refuses query parameters a route does not take.
func checkQuery(q url.Values, allowed ...string) error {
	for k := range q {
		ok := false
		for _, a := range allowed {
			ok = ok || k == a
		}
		if !ok {
			return apiError(workflow.CodeInvalid, k, fmt.Sprintf("unknown query parameter %q; allowed: %s", k, strings.Join(allowed, ", ")))
		}
	}
	return nil
}
