package workflow

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"
)

// Heads anchored outside the database (docs/design.md#heads-anchored-outside-the-database):
// every document the server makes prints the chain head current when it was
// made, a daily anchor entry sends it to every outbox receiver, and
// `rectify audit verify --expect-heads` checks the heads so collected.

// ActionHeadAnchor is the history action of the daily head anchor: an entry
// of no problem whose params.head is SEQ:HASH of the entry before it. As an
// outbox event it reaches every webhook receiver, who so holds a copy of
// the head of each day.
const ActionHeadAnchor = "head_anchor"

// Anchors is a store that appends head anchors (the capability named in
// store.go).
type Anchors interface {
	// AppendAnchor calls build, inside one write, with the chain head as it
	// stands, and appends the entry build returns (an entry of no problem,
	// no work point) after it, sealed, with its outbox event. If key is not
	// empty and the last anchor appended had the same key, nothing is
	// written and created is false: at most one anchor per key in a row,
	// however many callers (or replicas) race. An error from build is
	// returned as is.
	AppendAnchor(ctx context.Context, key string, build func(head ChainHead) (Entry, error)) (e Entry, created bool, err error)
}

// DocumentHead returns the chain head current now, for a document (a
// dossier, a letter, a briefing, a public page) to print with HeadLine, so
// that whoever keeps the document keeps a head for
// `rectify audit verify --expect-heads`. It asks no role: a document the
// caller may have carries it.
func (s *Service) DocumentHead(ctx context.Context) (ChainHead, error) {
	return s.store.Head(ctx)
}

// HeadLine renders h as documents print it: the head SEQ:HASH and when it
// was recorded, in Chinese, e.g.
// "审计链头 42:9f86…（2026-12-03 14:05 记录）". ParseHeadList finds the head
// in it again, whatever text surrounds it.
func HeadLine(h ChainHead) string {
	if h.Seq == 0 {
		return "审计链头 无（尚无办理记录）"
	}
	return fmt.Sprintf("审计链头 %s（%s 记录）", h, h.At.In(Shanghai).Format("2006-01-02 15:04"))
}

// AnchorHead appends today's head anchor (the day in Asia/Shanghai by the
// service's clock) unless the last anchor is today's, and reports whether it
// did. The routine runs it on the leader (routine.Anchor); it is safe to run
// any number of times.
func (s *Service) AnchorHead(ctx context.Context) (Entry, bool, error) {
	st, ok := s.store.(Anchors)
	if !ok {
		return Entry{}, false, errors.New("this store keeps no head anchors (capability Anchors)")
	}
	now := s.clock.Now().UTC()
	day := now.In(Shanghai).Format(time.DateOnly)
	e, created, err := st.AppendAnchor(ctx, day, func(head ChainHead) (Entry, error) {
		if head.Seq == 0 {
			return Entry{}, errEmptyChain
		}
		return HeadAnchorEntry(head, day, now), nil
	})
	if errors.Is(err, errEmptyChain) {
		return Entry{}, false, nil // nothing to anchor yet
	}
	return e, created, err
}

var errEmptyChain = errors.New("the chain is empty")

// HeadAnchorEntry is the anchor of head on day (YYYY-MM-DD), at time at.
func HeadAnchorEntry(head ChainHead, day string, at time.Time) Entry {
	return Entry{At: at.UTC(), Actor: SystemActor, Action: ActionHeadAnchor,
		Params: Params{Head: head.String(), Day: day}}
}

// checkAnchor checks that anchor e names the entry before it.
func checkAnchor(e *Entry) error {
	want := ChainHead{Seq: e.Seq - 1, Hash: e.PrevHash}.String()
	if e.Params.Head != want {
		return &AuditError{Seq: e.Seq, Reason: fmt.Sprintf("a head anchor must name the entry before it (%s), not %q", want, e.Params.Head)}
	}
	return nil
}

// ListedHead is a head found in a list of heads (ParseHeadList), with the
// line it is on.
type ListedHead struct {
	ChainHead
	Line int    `json:"line"`
	Text string `json:"text"` // the line, trimmed
}

// headPattern is SEQ:HASH anywhere in a line.
var headPattern = regexp.MustCompile(`(?:^|[^0-9A-Za-z])([1-9][0-9]{0,19}):([0-9A-Fa-f]{64})(?:$|[^0-9A-Za-z])`)

// ParseHeadList reads a list of heads, one or more a line with any text
// around them (pasted from documents, webhook bodies, notes): every
// SEQ:HASH found, in order. Lines without one are skipped; a list with no
// head at all is refused.
func ParseHeadList(r io.Reader) ([]ListedHead, error) {
	var out []ListedHead
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		// Overlapping matches share a separator: scan from each match's end.
		for rest := line; ; {
			m := headPattern.FindStringSubmatchIndex(rest)
			if m == nil {
				break
			}
			h, err := ParseChainHead(rest[m[2]:m[5]])
			if err != nil {
				return nil, fmt.Errorf("line %d: %s", n, ErrorMessage(err))
			}
			out = append(out, ListedHead{ChainHead: h, Line: n, Text: strings.TrimSpace(line)})
			rest = rest[m[5]:]
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, RefuseField(ReasonMalformed, "heads", "no head SEQ:HASH in the list")
	}
	return out, nil
}

// HeadStatus is what a check of a head against the chain found.
type HeadStatus string

// Head statuses.
const (
	HeadIntact    HeadStatus = "intact"    // the entry at SEQ has HASH
	HeadRewritten HeadStatus = "rewritten" // the entry at SEQ has another hash
	HeadGone      HeadStatus = "gone"      // the chain ends before SEQ
)

// HeadCheck is the outcome for one expected head (AuditHeads).
type HeadCheck struct {
	Head   ChainHead  `json:"head"`
	Status HeadStatus `json:"status"`
	// Found is the hash of the entry at Head.Seq now (rewritten only).
	Found string `json:"found,omitempty"`
}
