package pack

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
)

// History entries are sealed in the write transaction that appends them:
// their sequence number and hashes are known only there. The store packs an
// entry's other members beforehand (EntryMid) and appends the rest as
// tokens (SealedEntry), without packing the whole entry again.

// seqZero is how the packed form of an entry with Seq 0 begins.
var seqZero = []byte{packedV1, tokObjStart, tokWord, packWordIndex["seq"], tokUint, 0}

// EntryMid returns the packed tokens of the members from "problem_id" on of
// js, the canonical JSON of an entry with Seq 0 and no hashes; nil if js is
// to be stored as JSON.
func EntryMid(js []byte) []byte {
	v := Value(js)
	if !bytes.HasPrefix(v, seqZero) || v[len(v)-1] != tokObjEnd {
		return nil
	}
	return v[len(seqZero) : len(v)-1]
}

// SealedEntry returns the stored form of an entry whose members after seq
// are mid (EntryMid), with sequence number seq, prev_hash prev and hash
// hash (each 64 lowercase hex digits): exactly what Value gives for the
// sealed entry's JSON.
func SealedEntry(mid []byte, seq uint64, prev, hash string) []byte {
	b := make([]byte, 0, len(mid)+2*34+16)
	b = append(b, packedV1, tokObjStart, tokWord, packWordIndex["seq"], tokUint)
	b = binary.AppendUvarint(b, seq)
	b = append(b, mid...)
	b = append(b, tokWord, packWordIndex["prev_hash"], tokHex32)
	b, _ = hex.AppendDecode(b, []byte(prev))
	b = append(b, tokWord, packWordIndex["hash"], tokHex32)
	b, _ = hex.AppendDecode(b, []byte(hash))
	return append(b, tokObjEnd)
}

// IsHash reports whether h is 64 lowercase hex digits.
func IsHash(h string) bool {
	if len(h) != 64 {
		return false
	}
	for i := range len(h) {
		if c := h[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
