package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/png"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The HTTP phase of rectify bench: each command a request to the API, as a
// client would send it (the version carried from ETag to If-Match).

// basePNG is a valid 1×1 PNG image.
var basePNG = sync.OnceValue(func() []byte {
	img := image.NewNRGBA(image.Rect(0, 0, 1, 1))
	img.Set(0, 0, color.NRGBA{G: 0xc0, A: 0xff})
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		panic(err)
	}
	return b.Bytes()
})

// uniquePNG returns a valid 1×1 PNG image, different for every call (a tEXt
// chunk holds a random nonce): the bench's evidence files must not be
// duplicates of each other, which rectify flags and looks up.
func uniquePNG(label string) []byte {
	base := basePNG()
	const ihdrEnd = 8 + 4 + 4 + 13 + 4 // signature, then the IHDR chunk
	nonce := make([]byte, 12)
	_, _ = rand.Read(nonce)
	text := []byte("Comment\x00" + label + " " + hex.EncodeToString(nonce))
	var b bytes.Buffer
	b.Write(base[:ihdrEnd])
	_ = binary.Write(&b, binary.BigEndian, uint32(len(text)))
	crc := crc32.NewIEEE()
	crc.Write([]byte("tEXt"))
	crc.Write(text)
	b.WriteString("tEXt")
	b.Write(text)
	_ = binary.Write(&b, binary.BigEndian, crc.Sum32())
	b.Write(base[ihdrEnd:])
	return b.Bytes()
}

// httpDriver runs the lifecycle through the HTTP API.
type httpDriver struct {
	rt      http.RoundTripper
	base    string
	tokens  []string // bureau, unit, inspector
	county  string
	minimal bool // send Prefer: return=minimal
	// bodies are the JSON bodies of the commands, by kind (none for evidence).
	bodies [][]byte
}

const (
	roleBureau = iota
	roleUnit
	roleInspector
)

// benchParams are the parameters of each kind's command.
var benchParams = map[string]map[string]string{
	"accept": {"plan": "组织清运，设置围挡和警示牌，纳入河长制日常巡查"},
	"submit": {"summary": "建筑垃圾已全部清运，现场照片见佐证材料"},
	"verify": {"opinion": "现场核查，整改到位"},
	"close":  {"statement": "同意销号"},
}

const benchNote = "已完成清运方案审批，正在组织施工"

// benchRoles is who runs each kind of command.
var benchRoles = map[string]int{"assign": roleBureau, "verify": roleInspector, "close": roleBureau}

func newHTTPDriver(rt http.RoundTripper, base string, tokens []string, leadUnit, county string, minimal bool) *httpDriver {
	h := &httpDriver{rt: rt, base: base, tokens: tokens, county: county, minimal: minimal,
		bodies: make([][]byte, len(benchKinds))}
	deadline := benchDeadline()
	for k, kind := range benchKinds {
		var v any
		switch kind {
		case "assign":
			v = map[string]string{"trigger": "assign", "lead_unit": leadUnit, "deadline": deadline.Format(time.RFC3339)}
		case "note":
			v = map[string]string{"text": benchNote}
		case "evidence":
			continue
		default:
			m := map[string]string{"trigger": kind}
			for f, x := range benchParams[kind] {
				m[f] = x
			}
			v = m
		}
		h.bodies[k], _ = json.Marshal(v)
	}
	return h
}

func (h *httpDriver) step(ctx context.Context, k int, id string, version uint64) (uint64, error) {
	kind := benchKinds[k]
	path := "/api/v1/problems/" + id + "/transitions"
	body, contentType := h.bodies[k], "application/json"
	switch kind {
	case "note":
		path = "/api/v1/problems/" + id + "/notes"
	case "evidence":
		path = "/api/v1/problems/" + id + "/evidence"
		body, contentType = multipartPNG(id)
	}
	role, ok := benchRoles[kind]
	if !ok {
		role = roleUnit
	}
	v, err := h.post(ctx, path, h.tokens[role], contentType, body, version)
	if kind == "verify" {
		if acked, ok := acknowledging(body, err); ok {
			// The bench's drawn photos carry no EXIF (and may resemble
			// each other): the inspector acknowledges what the checks
			// flagged, as the 409 lists it, and verifies again.
			return h.post(ctx, path, h.tokens[role], contentType, acked, version)
		}
	}
	return v, err
}

// statusError is a command's answer other than 2xx, with its body.
type statusError struct {
	status int
	body   []byte
}

func (e *statusError) Error() string {
	return fmt.Sprintf("status %d: %s", e.status, bytes.TrimSpace(e.body[:min(len(e.body), 512)]))
}

// acknowledging returns verify's body acknowledging the flags that err,
// a 409 unacknowledged_flags, lists; false for any other outcome.
func acknowledging(body []byte, err error) ([]byte, bool) {
	var se *statusError
	if !errors.As(err, &se) || se.status != http.StatusConflict {
		return nil, false
	}
	var refusal struct {
		Reason string            `json:"reason"`
		Flags  []json.RawMessage `json:"flags"`
	}
	if json.Unmarshal(se.body, &refusal) != nil || refusal.Reason != "unacknowledged_flags" {
		return nil, false
	}
	var m map[string]any
	if json.Unmarshal(body, &m) != nil {
		return nil, false
	}
	m["acknowledged_flags"] = refusal.Flags
	m["acknowledgement_note"] = "压测：已核实"
	out, err := json.Marshal(m)
	return out, err == nil
}

// post sends one command with If-Match: "version" and reads the whole
// answer, so that the connection is reused; any status but 2xx is an error.
// It returns the version in the answer's ETag.
func (h *httpDriver) post(ctx context.Context, path, token, contentType string, body []byte, version uint64) (uint64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.base+path, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header["Authorization"] = []string{"Bearer " + token}
	req.Header["Content-Type"] = []string{contentType}
	req.Header["If-Match"] = []string{`"` + strconv.FormatUint(version, 10) + `"`}
	if h.minimal {
		req.Header["Prefer"] = []string{"return=minimal"}
	}
	res, err := h.rt.RoundTrip(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	if res.StatusCode/100 != 2 {
		msg, _ := io.ReadAll(io.LimitReader(res.Body, 64<<10))
		return 0, &statusError{status: res.StatusCode, body: msg}
	}
	if _, err := io.Copy(io.Discard, res.Body); err != nil {
		return 0, err
	}
	return etagVersion(res.Header.Get("ETag"))
}

// etagVersion returns the version in a problem's ETag ("N").
func etagVersion(tag string) (uint64, error) {
	if len(tag) < 3 || tag[0] != '"' || tag[len(tag)-1] != '"' {
		return 0, fmt.Errorf("answer without a problem ETag (%q)", tag)
	}
	v, err := strconv.ParseUint(tag[1:len(tag)-1], 10, 64)
	if err != nil || v == 0 {
		return 0, fmt.Errorf("answer with a bad ETag %q", tag)
	}
	return v, nil
}

// multipartPNG is the body of an evidence upload of a fresh tiny PNG.
func multipartPNG(id string) ([]byte, string) {
	const boundary = "rectify-bench-boundary-7f3a9c"
	var b bytes.Buffer
	b.WriteString("--" + boundary + "\r\n")
	b.WriteString(`Content-Disposition: form-data; name="file"; filename="现场照片.png"` + "\r\n")
	b.WriteString("Content-Type: image/png\r\n\r\n")
	b.Write(uniquePNG("problem " + id))
	b.WriteString("\r\n--" + boundary + "\r\n")
	b.WriteString(`Content-Disposition: form-data; name="description"` + "\r\n\r\n")
	b.WriteString("整改后现场照片")
	b.WriteString("\r\n--" + boundary + "--\r\n")
	return b.Bytes(), "multipart/form-data; boundary=" + boundary
}

// createAll makes cfg.problems problems through POST /problems.
func (h *httpDriver) createAll(ctx context.Context, cfg benchConfig, progress func(string, ...any)) (idSource, error) {
	list := make([]string, cfg.problems)
	err := createConcurrently(ctx, cfg, progress, func(ctx context.Context, i int) error {
		id, _, err := h.create(ctx, i)
		list[i] = id
		return err
	})
	return idSource{list: list}, err
}

// create makes the bench's i-th problem through POST /problems; its id and
// version are read from the Location and ETag of the answer.
func (h *httpDriver) create(ctx context.Context, i int) (string, uint64, error) {
	np := benchProblem(i, h.county)
	body, _ := json.Marshal(map[string]string{"title": np.Title, "description": np.Description, "source": string(np.Source), "county_id": np.CountyID})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.base+"/api/v1/problems", bytes.NewReader(body))
	if err != nil {
		return "", 0, err
	}
	req.Header.Set("Authorization", "Bearer "+h.tokens[roleBureau])
	req.Header.Set("Content-Type", "application/json")
	if h.minimal {
		req.Header.Set("Prefer", "return=minimal")
	}
	res, err := h.rt.RoundTrip(req)
	if err != nil {
		return "", 0, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusCreated {
		msg, _ := io.ReadAll(io.LimitReader(res.Body, 512))
		return "", 0, fmt.Errorf("status %d: %s", res.StatusCode, bytes.TrimSpace(msg))
	}
	if _, err := io.Copy(io.Discard, res.Body); err != nil {
		return "", 0, err
	}
	id, ok := strings.CutPrefix(res.Header.Get("Location"), "/api/v1/problems/")
	if !ok || id == "" {
		return "", 0, fmt.Errorf("answer to POST /problems without its Location (%q)", res.Header.Get("Location"))
	}
	v, err := etagVersion(res.Header.Get("ETag"))
	return id, v, err
}
