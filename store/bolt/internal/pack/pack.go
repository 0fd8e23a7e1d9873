// Package pack is the stored form of store/bolt's problem records and
// history entries: a compact binary form of their JSON that unpacks to
// exactly the same bytes.
package pack

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"
)

// Problem records and history entries are stored packed: a compact binary
// form of their JSON that gives back exactly the same bytes. The hash chain
// is over those JSON bytes, so the stored form may be anything that
// reproduces them; packing halves a ledger's file (1,000,000 problems in
// under 1 GiB) at a few microseconds per value.
//
// A packed value is packedV1 followed by tokens: one byte each for the
// structure ({, }, [, ], true, false, null; commas and colons follow from
// it), unsigned integers as varints, strings of 64 lowercase hex digits as
// their 32 bytes, RFC 3339 UTC timestamps as seconds and nanoseconds,
// strings from packWords as their index, text mostly in CJK ideographs two
// bytes per character instead of three (appendCJK), and anything else verbatim. A
// value that does not begin with packedV1 is JSON, as stored before schema
// version 5, and is read as it is.
//
// Value checks every value it packs by unpacking it: whatever JSON it
// is given, a packed value unpacks to exactly those bytes, or the JSON is
// stored as it is.

// packedV1 begins a packed value (a JSON value begins with '{' or '[').
const packedV1 = 0x01

// Token codes.
const (
	tokObjStart = iota + 1
	tokObjEnd
	tokArrStart
	tokArrEnd
	tokTrue
	tokFalse
	tokNull
	tokUint   // varint
	tokNumber // length, the number's text
	tokString // length, the string's escaped text
	tokCJK    // length, the escaped text in the CJK form (appendCJK)
	tokHex32  // 32 bytes: "64 lowercase hex digits"
	tokTime   // zigzag varint seconds, varint nanoseconds: "RFC 3339 UTC"
	tokWord   // one byte: packWords[i]
)

// packWords are strings common in records and entries (field names and
// values of enumerations), packed as one byte of index. The list is part of
// the stored format: append only, never reorder or change an entry (a test
// pins it). At most 256 words.
var packWords = [...]string{
	// Field names.
	"id", "code", "title", "description", "source", "source_ref", "county_id",
	"state", "resolution", "lead_unit", "cooperating_units", "plan", "deadline",
	"original_deadline", "submitted_by", "verified_by", "closed_by", "summary",
	"opinion", "statement", "supervision", "evidence", "signatures", "version",
	"created_by", "created_at", "updated_at", "seq", "problem_id", "at", "actor",
	"name", "role", "unit_id", "action", "from", "to", "params", "prev_hash",
	"hash", "sha256", "size", "type", "uploaded_by", "uploader", "round",
	"submitted", "signer_id", "signer_name", "meaning", "digest", "wake_at",
	"level", "stage", "stage_due", "stage_late", "paused_at", "paused_seconds",
	"dedupe_key", "work_point", "tags", "note", "reason", "decision",
	"extension_id", "extensions", "requested_at", "requested_by", "decided_at",
	"decided_by", "previous_deadline", "evidence_round", "location", "text",
	"alert", "kind", "requirements",
	// States, triggers, actions.
	"found", "assigned", "rectifying", "verified", "closed", "assign",
	"reassign", "dismiss", "accept", "submit", "withdraw", "reject", "verify",
	"close", "reopen", "create", "extension_request", "extension_decision",
	// Resolutions, sources, roles, levels, stages, decisions.
	"rectified", "dismissed", "warning_film", "central_inspection",
	"provincial_inspection", "audit", "self_inspection", "other", "admin",
	"bureau", "unit", "inspector", "viewer", "system", "due_soon", "overdue",
	"red", "listed", "approved", "rejected",
	// Evidence types.
	"image/png", "image/jpeg", "image/webp", "image/gif", "application/pdf",
	"application/zip", "text/plain", "video/mp4",
	// Units of the seed data.
	"jdz", "city-eeb", "lg-office", "fuliang", "leping", "changjiang",
	"zhushan",
	// More field names and values.
	"status", "against", "days_overdue", "signature", "warnings", "pending",
	"denied", "approve", "deny", "gaoxin", "changnan",
	// Evidence checks, positions, site checks and look-backs (issue 16).
	"position", "lat", "lng", "phase", "phash", "flags", "before", "after",
	"document", "acknowledged_flags", "acknowledgement_note", "site_check",
	"site_checks", "lookback", "lookback_drawn", "lookback_confirmed",
	"findings", "result", "passed", "failed", "photos", "by", "by_name",
	"similar", "problem_code", "distance", "no_capture_info", "edited",
	"far_from_site", "captured_before_assigned", "captured_after_upload",
	"bad_metadata", "near_duplicate", "unchecked", "period_start", "period_end",
	"seed", "share", "candidates", "drawn", "drawn_at", "resolved_by",
	"resolved_at", "confirmed", "reopened",
	// Dispatch rounds: report fields, actions and alerts.
	"due", "progress", "percent", "next_steps", "difficulties", "figures",
	"late", "target", "value", "report", "report_late", "round_open",
	// Head anchors (issue 17): fields and the action.
	"head", "day", "head_anchor",
	// Public notices (公示): fields, the state, triggers and actions.
	"notice", "objections", "public", "objection", "objection_id", "file",
	"in_notice", "end_notice", "uphold_objection", "objection_dismissed",
	"evidence_public", "start", "end", "days", "contact", "open", "upheld",
	"superseded",
	// Supervision letters: entry params, actions, the alert, problem marks.
	"letters", "letter", "doc_no", "letter_kind", "letter_reply", "letter_reply_late",
	"replied", "late_alerted", "督办函", "提醒函", "约谈通知",
}

// packWordIndex maps a word to its index.
var packWordIndex = func() map[string]byte {
	m := make(map[string]byte, len(packWords))
	for i, w := range packWords {
		m[w] = byte(i)
	}
	return m
}()

// maxPackWord is the length of the longest of packWords.
var maxPackWord = func() int {
	n := 0
	for _, w := range packWords {
		n = max(n, len(w))
	}
	return n
}()

// errNotPackable means the JSON is not in the form the packer takes.
var errNotPackable = errors.New("not packable")

// Value returns the stored form of js, a JSON value: packed if that is
// shorter and unpacks to exactly js, else js itself. Records and history
// entries are stored in this form.
func Value(js []byte) []byte {
	out := make([]byte, 1, len(js)*3/5+16)
	out[0] = packedV1
	p := packer{in: js, out: out}
	if err := p.value(); err != nil || p.pos != len(js) || len(p.out) >= len(js) {
		return js
	}
	u := unpacker{in: p.out, pos: 1, out: make([]byte, 0, len(js))}
	if err := u.value(); err != nil || u.pos != len(p.out) || !bytes.Equal(u.out, js) {
		return js
	}
	return p.out
}

// IsPacked reports whether v, a stored value, is packed (not JSON).
func IsPacked(v []byte) bool { return len(v) > 0 && v[0] == packedV1 }

// Unpack returns the JSON a stored record or history entry holds: v itself
// if it is JSON, else v unpacked into a new slice.
func Unpack(v []byte) ([]byte, error) {
	if len(v) == 0 || v[0] != packedV1 {
		return v, nil
	}
	u := unpacker{in: v, pos: 1, out: make([]byte, 0, len(v)*3)}
	if err := u.value(); err != nil {
		return nil, err
	}
	if u.pos != len(v) {
		return nil, fmt.Errorf("packed value: %d bytes after its end", len(v)-u.pos)
	}
	return u.out, nil
}

// packer packs compact JSON: no white space, strings as encoding/json
// writes them. Anything else is errNotPackable.
type packer struct {
	in  []byte
	pos int
	out []byte
}

func (p *packer) value() error {
	if p.pos >= len(p.in) {
		return errNotPackable
	}
	switch c := p.in[p.pos]; {
	case c == '{':
		return p.container('}', tokObjStart, tokObjEnd, true)
	case c == '[':
		return p.container(']', tokArrStart, tokArrEnd, false)
	case c == '"':
		return p.str()
	case c == 't':
		return p.literal("true", tokTrue)
	case c == 'f':
		return p.literal("false", tokFalse)
	case c == 'n':
		return p.literal("null", tokNull)
	case c == '-' || c >= '0' && c <= '9':
		return p.number()
	}
	return errNotPackable
}

// container packs the object (keyed) or array at p.pos, which ends with
// closing.
func (p *packer) container(closing, start, end byte, keyed bool) error {
	p.pos++
	p.out = append(p.out, start)
	if p.peek(closing) {
		p.pos++
		p.out = append(p.out, end)
		return nil
	}
	for {
		if keyed {
			if !p.peek('"') {
				return errNotPackable
			}
			if err := p.str(); err != nil {
				return err
			}
			if !p.peek(':') {
				return errNotPackable
			}
			p.pos++
		}
		if err := p.value(); err != nil {
			return err
		}
		if p.peek(',') {
			p.pos++
			continue
		}
		if !p.peek(closing) {
			return errNotPackable
		}
		p.pos++
		p.out = append(p.out, end)
		return nil
	}
}

func (p *packer) peek(c byte) bool { return p.pos < len(p.in) && p.in[p.pos] == c }

func (p *packer) literal(word string, tok byte) error {
	if !bytes.HasPrefix(p.in[p.pos:], []byte(word)) {
		return errNotPackable
	}
	p.pos += len(word)
	p.out = append(p.out, tok)
	return nil
}

func (p *packer) number() error {
	start := p.pos
	for p.pos < len(p.in) {
		c := p.in[p.pos]
		if c != '-' && c != '+' && c != '.' && c != 'e' && c != 'E' && (c < '0' || c > '9') {
			break
		}
		p.pos++
	}
	text := p.in[start:p.pos]
	// A plain unsigned integer, as strconv writes it, is a varint.
	if len(text) <= 19 && (text[0] != '0' || len(text) == 1) {
		if n, err := strconv.ParseUint(string(text), 10, 64); err == nil {
			p.out = append(p.out, tokUint)
			p.out = binary.AppendUvarint(p.out, n)
			return nil
		}
	}
	p.out = append(p.out, tokNumber)
	p.out = binary.AppendUvarint(p.out, uint64(len(text)))
	p.out = append(p.out, text...)
	return nil
}

// str packs the string at p.pos (its opening quote).
func (p *packer) str() error {
	start := p.pos + 1
	end := start
	for ; end < len(p.in) && p.in[end] != '"'; end++ {
		if p.in[end] == '\\' {
			end++ // an escaped character, perhaps a quote
		}
	}
	if end >= len(p.in) {
		return errNotPackable
	}
	p.pos = end + 1
	s := p.in[start:end]
	if len(s) <= maxPackWord {
		if i, ok := packWordIndex[string(s)]; ok {
			p.out = append(p.out, tokWord, i)
			return nil
		}
	}
	if len(s) == 64 && IsHash(string(s)) {
		p.out = append(p.out, tokHex32)
		var err error
		p.out, err = hex.AppendDecode(p.out, s)
		return err
	}
	if sec, nsec, ok := packableTime(s); ok {
		p.out = append(p.out, tokTime)
		p.out = binary.AppendVarint(p.out, sec)
		p.out = binary.AppendUvarint(p.out, uint64(nsec))
		return nil
	}
	if n, ok := cjkLen(s); ok && n < len(s) {
		p.out = append(p.out, tokCJK)
		p.out = binary.AppendUvarint(p.out, uint64(n))
		p.out = appendCJK(p.out, s)
		return nil
	}
	p.out = append(p.out, tokString)
	p.out = binary.AppendUvarint(p.out, uint64(len(s)))
	p.out = append(p.out, s...)
	return nil
}

// packableTime reports whether s is a UTC time exactly as
// time.RFC3339Nano writes it (as encoding/json writes a time.Time in UTC),
// and returns it.
func packableTime(s []byte) (sec int64, nsec int, ok bool) {
	// YYYY-MM-DDTHH:MM:SS, then .F to .FFFFFFFFF, then Z.
	if len(s) < 20 || len(s) > 30 || len(s) == 21 || s[len(s)-1] != 'Z' || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' {
		return 0, 0, false
	}
	num := func(b []byte) int {
		n := 0
		for _, c := range b {
			if c < '0' || c > '9' {
				return -1
			}
			n = n*10 + int(c-'0')
		}
		return n
	}
	y, mo, d, h, mi, sc := num(s[0:4]), num(s[5:7]), num(s[8:10]), num(s[11:13]), num(s[14:16]), num(s[17:19])
	if y < 0 || mo < 0 || d < 0 || h < 0 || mi < 0 || sc < 0 {
		return 0, 0, false
	}
	if len(s) > 20 {
		if s[19] != '.' {
			return 0, 0, false
		}
		frac := s[20 : len(s)-1]
		if nsec = num(frac); nsec < 0 {
			return 0, 0, false
		}
		for range 9 - len(frac) {
			nsec *= 10
		}
	}
	t := time.Date(y, time.Month(mo), d, h, mi, sc, nsec, time.UTC)
	// Out-of-range fields (a 30 February, a second 60) normalise to
	// another time, and trailing zeros of the fraction are not how
	// RFC3339Nano writes it: only the same bytes back will do.
	var buf [32]byte
	if !bytes.Equal(appendTime(buf[:0], t.Unix(), nsec), s) {
		return 0, 0, false
	}
	return t.Unix(), nsec, true
}

// appendTime appends the time sec, nsec after the Unix epoch as
// time.RFC3339Nano writes it in UTC.
func appendTime(b []byte, sec int64, nsec int) []byte {
	days, secOfDay := sec/86400, sec%86400
	if secOfDay < 0 {
		days, secOfDay = days-1, secOfDay+86400
	}
	y, mo, d := civil(days)
	if y < 0 || y > 9999 || nsec < 0 || nsec >= 1e9 {
		return time.Unix(sec, int64(nsec)).UTC().AppendFormat(b, time.RFC3339Nano)
	}
	h, mi, sc := int(secOfDay/3600), int(secOfDay/60%60), int(secOfDay%60)
	b = append(b, byte('0'+y/1000), byte('0'+y/100%10), byte('0'+y/10%10), byte('0'+y%10), '-',
		byte('0'+mo/10), byte('0'+mo%10), '-', byte('0'+d/10), byte('0'+d%10), 'T',
		byte('0'+h/10), byte('0'+h%10), ':', byte('0'+mi/10), byte('0'+mi%10), ':',
		byte('0'+sc/10), byte('0'+sc%10))
	if nsec != 0 {
		var frac [9]byte
		for i, n := 8, nsec; i >= 0; i, n = i-1, n/10 {
			frac[i] = byte('0' + n%10)
		}
		end := 9
		for frac[end-1] == '0' {
			end--
		}
		b = append(b, '.')
		b = append(b, frac[:end]...)
	}
	return append(b, 'Z')
}

// cjkLen returns the length of s, escaped JSON string text, in the CJK
// form (appendCJK); false if s is not UTF-8.
func cjkLen(s []byte) (int, bool) {
	n := 0
	for i := 0; i < len(s); {
		if s[i] < utf8.RuneSelf {
			n++
			i++
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			return 0, false
		case r >= 0x3000 && r < 0xA800, r >= 0xFF00 && r <= 0xFFFF:
			n += 2
		default:
			n += 1 + size
		}
		i += size
	}
	return n, true
}

// appendCJK appends s, UTF-8 text, in the CJK form: ASCII as itself;
// U+3000 to U+A7FF (CJK punctuation, kana and the ideographs) as two bytes
// 0x80|hi, lo of the offset from U+3000; U+FF00 to U+FFFF (full-width forms
// such as ，and ：) as 0xF8 and the low byte; any other character as 0xF9 and
// its UTF-8.
func appendCJK(out, s []byte) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			out = append(out, c)
			i++
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		switch {
		case r >= 0x3000 && r < 0xA800:
			v := r - 0x3000
			out = append(out, byte(0x80|v>>8), byte(v))
		case r >= 0xFF00 && r <= 0xFFFF:
			out = append(out, 0xF8, byte(r))
		default:
			out = append(out, 0xF9)
			out = append(out, s[i:i+size]...)
		}
		i += size
	}
	return out
}

// civil returns the proleptic Gregorian date of the day days after
// 1970-01-01 (H. Hinnant's days-to-civil algorithm).
func civil(days int64) (year, month, day int) {
	z := days + 719468
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era--
	}
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	day = int(doy - (153*mp+2)/5 + 1)
	month = int(mp + 3)
	if mp >= 10 {
		month = int(mp - 9)
	}
	year = int(yoe + era*400)
	if month <= 2 {
		year++
	}
	return year, month, day
}

// unpacker turns a packed value back into its JSON.
type unpacker struct {
	in  []byte
	pos int
	out []byte
}

var errPacked = errors.New("packed value: damaged")

func (u *unpacker) byte() (byte, error) {
	if u.pos >= len(u.in) {
		return 0, errPacked
	}
	b := u.in[u.pos]
	u.pos++
	return b, nil
}

func (u *unpacker) uvarint() (uint64, error) {
	n, size := binary.Uvarint(u.in[u.pos:])
	if size <= 0 {
		return 0, errPacked
	}
	u.pos += size
	return n, nil
}

func (u *unpacker) bytes(n uint64) ([]byte, error) {
	if n > uint64(len(u.in)-u.pos) {
		return nil, errPacked
	}
	b := u.in[u.pos : u.pos+int(n)]
	u.pos += int(n)
	return b, nil
}

// lenBytes reads a length and that many bytes.
func (u *unpacker) lenBytes() ([]byte, error) {
	n, err := u.uvarint()
	if err != nil {
		return nil, err
	}
	return u.bytes(n)
}

// value unpacks one value; a container's members and elements recursively.
func (u *unpacker) value() error {
	tok, err := u.byte()
	if err != nil {
		return err
	}
	switch tok {
	case tokObjStart:
		return u.container('{', '}', tokObjEnd, true)
	case tokArrStart:
		return u.container('[', ']', tokArrEnd, false)
	case tokTrue:
		u.out = append(u.out, "true"...)
	case tokFalse:
		u.out = append(u.out, "false"...)
	case tokNull:
		u.out = append(u.out, "null"...)
	case tokUint:
		n, err := u.uvarint()
		if err != nil {
			return err
		}
		u.out = strconv.AppendUint(u.out, n, 10)
	case tokNumber:
		b, err := u.lenBytes()
		if err != nil {
			return err
		}
		u.out = append(u.out, b...)
	default:
		u.pos--
		return u.str()
	}
	return nil
}

// container unpacks the members (keyed) or elements of an object or array
// up to the token end, between opening and closing.
func (u *unpacker) container(opening, closing, end byte, keyed bool) error {
	u.out = append(u.out, opening)
	for i := 0; ; i++ {
		if u.pos < len(u.in) && u.in[u.pos] == end {
			u.pos++
			u.out = append(u.out, closing)
			return nil
		}
		if i > 0 {
			u.out = append(u.out, ',')
		}
		if keyed {
			if err := u.key(); err != nil {
				return err
			}
			u.out = append(u.out, ':')
		}
		if err := u.value(); err != nil {
			return err
		}
	}
}

// key unpacks an object member's name: a string token.
func (u *unpacker) key() error {
	if u.pos >= len(u.in) {
		return errPacked
	}
	switch u.in[u.pos] {
	case tokString, tokCJK, tokHex32, tokTime, tokWord:
		return u.str()
	}
	return errPacked
}

// str unpacks a string token.
func (u *unpacker) str() error {
	tok, err := u.byte()
	if err != nil {
		return err
	}
	u.out = append(u.out, '"')
	switch tok {
	case tokString:
		b, err := u.lenBytes()
		if err != nil {
			return err
		}
		u.out = append(u.out, b...)
	case tokCJK:
		b, err := u.lenBytes()
		if err != nil {
			return err
		}
		if u.out, err = unpackCJK(u.out, b); err != nil {
			return err
		}
	case tokHex32:
		b, err := u.bytes(32)
		if err != nil {
			return err
		}
		u.out = hex.AppendEncode(u.out, b)
	case tokTime:
		sec, size := binary.Varint(u.in[u.pos:])
		if size <= 0 {
			return errPacked
		}
		u.pos += size
		nsec, err := u.uvarint()
		if err != nil || nsec >= 1e9 {
			return errPacked
		}
		u.out = appendTime(u.out, sec, int(nsec))
	case tokWord:
		i, err := u.byte()
		if err != nil || int(i) >= len(packWords) {
			return errPacked
		}
		u.out = append(u.out, packWords[i]...)
	default:
		return errPacked
	}
	u.out = append(u.out, '"')
	return nil
}

// unpackCJK appends the text b, in the CJK form, to out as UTF-8.
func unpackCJK(out, b []byte) ([]byte, error) {
	for i := 0; i < len(b); {
		c := b[i]
		switch {
		case c < utf8.RuneSelf:
			out = append(out, c)
			i++
		case c < 0xF8:
			if i+1 >= len(b) {
				return nil, errPacked
			}
			out = utf8.AppendRune(out, 0x3000+(rune(c&0x7F)<<8|rune(b[i+1])))
			i += 2
		case c == 0xF8:
			if i+1 >= len(b) {
				return nil, errPacked
			}
			out = utf8.AppendRune(out, 0xFF00|rune(b[i+1]))
			i += 2
		case c == 0xF9:
			if i+1 >= len(b) {
				return nil, errPacked
			}
			_, size := utf8.DecodeRune(b[i+1:])
			out = append(out, b[i+1:i+1+size]...)
			i += 1 + size
		default:
			return nil, errPacked
		}
	}
	return out, nil
}

// Unmarshal decodes v, a stored record or history entry, packed or JSON,
// into x. A value that does not decode is a *ValueError.
func Unmarshal(v []byte, x any) error {
	js, err := Unpack(v)
	if err == nil {
		err = json.Unmarshal(js, x)
	}
	if err != nil {
		return &ValueError{err}
	}
	return nil
}

// ValueError is a stored value that does not decode: damage inside a
// value, which no check of the file's structure sees.
type ValueError struct{ Err error }

func (e *ValueError) Error() string { return "stored value does not decode: " + e.Err.Error() }
func (e *ValueError) Unwrap() error { return e.Err }
