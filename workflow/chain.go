package workflow

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// GenesisHash is the PrevHash of the ledger's first entry.
var GenesisHash = strings.Repeat("0", 64)

// ChainHead is the newest entry of the ledger's hash chain. The bureau may
// record it elsewhere and later prove that the history up to it was neither
// truncated nor rewritten.
type ChainHead struct {
	Seq  uint64    `json:"seq"`
	Hash string    `json:"hash"`
	At   time.Time `json:"at"`
}

// String renders the head as SEQ:HASH, the form audit verify --expect-head takes.
func (h ChainHead) String() string { return fmt.Sprintf("%d:%s", h.Seq, h.Hash) }

// ParseChainHead reads SEQ:HASH.
func ParseChainHead(s string) (ChainHead, error) {
	seq, hash, ok := strings.Cut(strings.TrimSpace(s), ":")
	var h ChainHead
	if _, err := fmt.Sscan(seq, &h.Seq); !ok || err != nil || h.Seq == 0 {
		return h, RefuseField(ReasonMalformed, "head", "head %q is not SEQ:HASH", s)
	}
	if b, err := hex.DecodeString(hash); err != nil || len(b) != sha256.Size {
		return h, RefuseField(ReasonMalformed, "head", "head %q has no SHA-256 hash", s)
	}
	h.Hash = strings.ToLower(hash)
	return h, nil
}

// EntryHash returns the SHA-256 (hex) of e's canonical encoding: its JSON
// with Hash empty. encoding/json writes struct fields in declaration order and
// map keys sorted, and every time in an entry is UTC, so decoding a stored
// entry and encoding it again gives the same bytes.
func EntryHash(e Entry) (string, error) {
	e.Hash = ""
	b, err := json.Marshal(e)
	if err != nil {
		return "", fmt.Errorf("encode entry %d: %w", e.Seq, err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// SealEntry links e to the previous entry's hash and sets its own hash. The
// store calls it after assigning Seq, ProblemID and Version, in the write
// transaction that appends e.
func SealEntry(e *Entry, prev string) error {
	e.PrevHash = prev
	h, err := EntryHash(*e)
	if err != nil {
		return err
	}
	e.Hash = h
	return nil
}
