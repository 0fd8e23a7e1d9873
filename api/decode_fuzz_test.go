package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/jdz-eco/rectify/workflow"
)

// Fuzz targets of the request decoders (seed corpora in
// testdata/fuzz/<target>; .ci/run runs each briefly, RECTIFY_FUZZTIME
// longer). Their property: no panic, and either a clear *workflow.Error
// with CodeInvalid or a value that round-trips (encoded and decoded again,
// it is the same value).

// invalid fails unless err is a CodeInvalid *workflow.Error with a message.
func invalid(t *testing.T, err error) {
	t.Helper()
	var e *workflow.Error
	if !errors.As(err, &e) || e.Code != workflow.CodeInvalid || e.Message == "" {
		t.Fatalf("refusal %#v is not a CodeInvalid error", err)
	}
}

var decoderSeeds = []string{
	`{"title":"尾矿库污染隐患","description":"浮梁县","source":"audit","county_id":"fuliang","work_point":7}`,
	`{"title":"a","title":"b"}`,
	`{"title":"a","Title":"b"}`,
	`{"wor\u212a_point":1,"work_point":2}`,
	`{"title":"a\ud800"}`,
	"{\"title\":\"\xff\"}",
	`{"title":"🌲\ud83c\udf32"}`,
	`{"title":1}`,
	`{"title":"x"} {}`,
	`[]`,
	`{"nested":{"a":1,"A":2}}`,
	`{"location":"` + strings.Repeat("[", 100) + `"}`,
	`{"trigger":"assign","lead_unit":"fuliang","cooperating_units":["city-water"],"deadline":"2021-12-31","requirements":"闭库"}`,
	`{"trigger":"reassign","reason":"r","deadline":"2022-01-01T00:00:00+08:00"}`,
	`{"trigger":"accept","plan":"p","plan":"q"}`,
	`{"trigger":"verify","opinion":"ok","TRIGGER":"close"}`,
	`{"trigger":"reopen","reason":"回头看","deadline":null}`,
	`{"trigger":["accept"]}`,
	`{"trigger":"close","statement":"同意\u0000销号"}`,
}

func FuzzDecodeStrict(f *testing.F) {
	for _, s := range decoderSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var req createProblemRequest
		if err := decodeStrict(b, &req); err != nil {
			invalid(t, err)
			return
		}
		if !utf8.Valid(b) {
			t.Fatalf("a body that is not UTF-8 was decoded: %q", b)
		}
		for _, s := range []string{req.Title, req.Description, req.Source, req.CountyID, req.SourceRef, req.Location} {
			if strings.ContainsRune(s, utf8.RuneError) && !bytes.Contains(b, []byte("\uFFFD")) && !bytes.Contains(bytes.ToLower(b), []byte(`\ufffd`)) {
				t.Fatalf("%q decoded with a replacement character from %q", s, b)
			}
		}
		enc, err := json.Marshal(req)
		if err != nil {
			t.Fatal(err)
		}
		var again createProblemRequest
		if err := decodeStrict(enc, &again); err != nil || again != req {
			t.Fatalf("%+v does not round-trip: %+v, %v", req, again, err)
		}
	})
}

func FuzzCheckJSON(f *testing.F) {
	for _, s := range decoderSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		err := checkJSON(b)
		if err != nil {
			invalid(t, err)
			return
		}
		var v any
		if json.Unmarshal(b, &v) != nil {
			return // a syntax error, for encoding/json to word
		}
		if !utf8.Valid(b) {
			t.Fatalf("not UTF-8, yet accepted: %q", b)
		}
		// No object of the accepted text has two names encoding/json would
		// match to one field.
		dec := json.NewDecoder(bytes.NewReader(b))
		checkObjects(t, dec, b)
	})
}

// checkObjects reads the token stream of b and fails on an object with two
// names of one fold.
func checkObjects(t *testing.T, dec *json.Decoder, b []byte) {
	type frame struct {
		obj   bool
		names map[string]bool
		key   bool // the next string token is a name
	}
	var stack []*frame
	for {
		tok, err := dec.Token()
		if err != nil {
			return
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		switch x := tok.(type) {
		case json.Delim:
			switch x {
			case '{':
				if top != nil && top.obj {
					top.key = true
				}
				stack = append(stack, &frame{obj: true, names: map[string]bool{}, key: true})
			case '[':
				if top != nil && top.obj {
					top.key = true
				}
				stack = append(stack, &frame{})
			default:
				stack = stack[:len(stack)-1]
			}
			continue
		case string:
			if top != nil && top.obj && top.key {
				f := foldName(x)
				if top.names[f] {
					t.Fatalf("accepted an object with two names folding to %q: %q", f, b)
				}
				top.names[f] = true
				top.key = false
				continue
			}
		}
		if top != nil && top.obj {
			top.key = true
		}
	}
}

func FuzzDecodeTransition(f *testing.F) {
	for _, s := range decoderSeeds {
		f.Add([]byte(s))
	}
	e := echo.New()
	f.Fuzz(func(t *testing.T, b []byte) {
		req := httptest.NewRequest(http.MethodPost, "/api/v1/problems/1/transitions", bytes.NewReader(b))
		cmd, err := decodeTransition(e.NewContext(req, httptest.NewRecorder()))
		if err != nil {
			invalid(t, err)
			return
		}
		if !cmd.Trigger.Valid() {
			t.Fatalf("trigger %q decoded", cmd.Trigger)
		}
		// Encode the command as a body again: the same command comes back.
		body := map[string]any{"trigger": cmd.Trigger}
		p := cmd.Params
		for k, v := range map[string]string{"lead_unit": p.LeadUnit, "requirements": p.Requirements, "reason": p.Reason,
			"plan": p.Plan, "summary": p.Summary, "opinion": p.Opinion, "statement": p.Statement} {
			if v != "" {
				body[k] = v
			}
		}
		if p.CooperatingUnits != nil {
			body["cooperating_units"] = p.CooperatingUnits
		}
		if p.Deadline != nil {
			body["deadline"] = p.Deadline.Format("2006-01-02T15:04:05Z07:00")
		}
		keys := slices.Sorted(maps.Keys(body))
		if err := workflow.CheckFields(cmd.Trigger, slices.DeleteFunc(keys, func(k string) bool { return k == "trigger" })); err != nil {
			t.Fatalf("decoded a field trigger %s does not take: %v", cmd.Trigger, err)
		}
		enc, _ := json.Marshal(body)
		req = httptest.NewRequest(http.MethodPost, "/api/v1/problems/1/transitions", bytes.NewReader(enc))
		again, err := decodeTransition(e.NewContext(req, httptest.NewRecorder()))
		if err != nil {
			t.Fatalf("%s does not decode again: %v", enc, err)
		}
		if again.Trigger != cmd.Trigger || !reflect.DeepEqual(again.Params, cmd.Params) && !(again.Params.Deadline != nil && cmd.Params.Deadline != nil && again.Params.Deadline.Equal(*cmd.Params.Deadline)) {
			t.Fatalf("%+v does not round-trip: %+v", cmd, again)
		}
	})
}

func FuzzIfMatch(f *testing.F) {
	for _, s := range []string{`"3"`, `W/"3"`, `*`, `"1", "2"`, `"1",,`, `*, "2"`, `"abc"`, `""`, `2`, `"2`, "\"2\x01\"", `w/"2"`, `"007"`, `"18446744073709551615"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		anyVersion, versions, err := parseIfMatch([]string{h})
		if err != nil {
			invalid(t, err)
			return
		}
		if anyVersion && len(versions) > 0 {
			t.Fatalf("%q: any version and versions %v", h, versions)
		}
		for _, v := range versions {
			if v == 0 || v == workflow.MatchNone {
				t.Fatalf("%q names version %d", h, v)
			}
			// The version's entity tag names it alone, and strongly.
			_, back, err := parseIfMatch([]string{etag(v)})
			if err != nil || len(back) != 1 || back[0] != v {
				t.Fatalf("etag(%d) = %s reads back as %v, %v", v, etag(v), back, err)
			}
			if !strings.Contains(h, etag(v)) {
				t.Fatalf("%q names version %d, whose tag it does not hold", h, v)
			}
		}
	})
}
