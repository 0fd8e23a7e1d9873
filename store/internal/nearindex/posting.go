package nearindex

import (
	"bytes"
	"encoding/binary"
)

// A store whose point reads are cheaper than its key-by-key scans (bbolt)
// keeps one posting list per chunk value instead of one key per hash and
// chunk: under the key Prefix(i, v), the records of every stored hash whose
// chunk i is v, each the hash (8 bytes, big-endian) then a ref of a fixed
// length the store chooses. A lookup reads the list of every probe prefix
// and verifies the records in place; storing a hash appends one record to
// Chunks lists. BenchmarkNearPhotoBolt1M in store/bolt measures both.

// PostingKeys returns the keys of the lists a record of h belongs in, one
// per chunk, as Probes gives them.
func (l Layout) PostingKeys(h uint64) [][]byte {
	out := make([][]byte, l.Chunks)
	for i := range out {
		out[i] = Prefix(i, l.Chunk(h, i))
	}
	return out
}

// Prefix returns the probe prefix of chunk i with value v: chunk number
// (1 byte) and value (2 bytes, big-endian); the key of its posting list.
func Prefix(i int, v uint16) []byte {
	return binary.BigEndian.AppendUint16([]byte{byte(i)}, v)
}

// AppendRecord returns list with the record of h and ref appended.
func AppendRecord(list []byte, h uint64, ref []byte) []byte {
	list = binary.BigEndian.AppendUint64(list, h)
	return append(list, ref...)
}

// RemoveRecord returns list without the records of ref (refs of refLen
// bytes), in a new slice; list itself is not modified.
func RemoveRecord(list []byte, ref []byte, refLen int) []byte {
	out := make([]byte, 0, len(list))
	ScanRecords(list, refLen, func(h uint64, r []byte) bool {
		if !bytes.Equal(r, ref) {
			out = AppendRecord(out, h, r)
		}
		return true
	})
	return out
}

// ScanRecords calls fn with each record of list (refs of refLen bytes)
// until fn returns false; a torn last record is ignored.
func ScanRecords(list []byte, refLen int, fn func(h uint64, ref []byte) bool) {
	size := 8 + refLen
	for len(list) >= size {
		if !fn(binary.BigEndian.Uint64(list), list[8:size]) {
			return
		}
		list = list[size:]
	}
}

// RemoveRecordHash returns list without the record of h for ref (refs of
// refLen bytes), in a new slice; list itself is not modified.
func RemoveRecordHash(list []byte, h uint64, ref []byte, refLen int) []byte {
	out := make([]byte, 0, len(list))
	ScanRecords(list, refLen, func(x uint64, r []byte) bool {
		if x != h || !bytes.Equal(r, ref) {
			out = AppendRecord(out, x, r)
		}
		return true
	})
	return out
}
