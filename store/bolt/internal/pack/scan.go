package pack

import (
	"bytes"
	"encoding/json"
	"errors"
)

// Scan calls fn with the members of v, a stored record or history entry
// (packed or JSON), in order: each member's name and its value's JSON text,
// until fn returns false. It unpacks no member after that one, so a caller
// after a member near the start (an entry's version and action) pays for
// little more than those. The slices fn gets are valid only during the
// call. A value that does not decode is a *ValueError.
func Scan(v []byte, fn func(name, value []byte) bool) error {
	var err error
	if IsPacked(v) {
		err = scanPacked(v, fn)
	} else {
		err = scanJSON(v, fn)
	}
	if err != nil {
		return &ValueError{err}
	}
	return nil
}

var errNotObject = errors.New("not an object")

func scanPacked(v []byte, fn func(name, value []byte) bool) error {
	u := unpacker{in: v, pos: 1, out: make([]byte, 0, 128)}
	if tok, err := u.byte(); err != nil || tok != tokObjStart {
		return errNotObject
	}
	for {
		if u.pos >= len(u.in) {
			return errPacked
		}
		if u.in[u.pos] == tokObjEnd {
			return nil
		}
		u.out = u.out[:0]
		if err := u.key(); err != nil {
			return err
		}
		k := len(u.out)
		if err := u.value(); err != nil {
			return err
		}
		if !fn(u.out[1:k-1], u.out[k:]) {
			return nil
		}
	}
}

// scanJSON scans a value stored as JSON (before schema version 5).
func scanJSON(v []byte, fn func(name, value []byte) bool) error {
	d := json.NewDecoder(bytes.NewReader(v))
	if t, err := d.Token(); err != nil || t != json.Delim('{') {
		return errNotObject
	}
	for d.More() {
		t, err := d.Token()
		if err != nil {
			return err
		}
		name, _ := t.(string)
		var raw json.RawMessage
		if err := d.Decode(&raw); err != nil {
			return err
		}
		// A member name as JSON text, like the packed form gives it.
		quoted, _ := json.Marshal(name)
		if !fn(quoted[1:len(quoted)-1], raw) {
			return nil
		}
	}
	return nil
}
