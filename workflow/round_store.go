package workflow

import "context"

// Rounds is a store that keeps dispatch rounds (调度) and the history of
// work points (docs/design.md#dispatch-rounds). Without it the service
// refuses rounds. A missing round is an *Error with CodeNotFound.
//
// Reports and report_late alerts are history entries: those of a problem
// are appended by UpdateProblem, which indexes every entry RoundRef names
// (round, item) in the same transaction; those of a work point by
// AppendWorkPoint. Both are sealed on the one hash chain.
type Rounds interface {
	// CreateRound allocates the next round number and calls build with its
	// id; the round build returns (with that id) is written, together with
	// the chain entry RoundOpenEntry gives for it, in one transaction. If key
	// is not empty and a round was created with it, that round is returned
	// with created false and nothing is written: at most one round per key,
	// however many callers (or replicas) race. An error from build is
	// returned as is.
	CreateRound(ctx context.Context, key string, build func(id string) (*Round, error)) (r *Round, created bool, err error)
	// Round returns round id with its items.
	Round(ctx context.Context, id string) (*Round, error)
	// Rounds returns every round in opening order, without items (Header).
	Rounds(ctx context.Context) ([]*Round, error)
	// UpdateRound reads round id (without items), calls apply with a copy
	// and writes the fields that may change (LateRecordedAt) if apply
	// succeeds; an error from apply is returned as is.
	UpdateRound(ctx context.Context, id string, apply func(r *Round) error) (*Round, error)
	// RoundEntries returns the entries the round index lists for round id
	// and item (every item when item is ""), in sequence order.
	RoundEntries(ctx context.Context, id, item string) ([]Entry, error)
	// AppendWorkPoint appends entries to the history of work point n: decide
	// is called inside the write with the entries the round index lists for
	// round and item at that moment, and the entries it returns are written
	// with Seq, WorkPoint n, an empty ProblemID and the point's next version
	// (the version of its last entry plus one; 1 for the first), sealed on
	// the chain with their outbox events, the point's history index and the
	// round index, all in one transaction. No entry RoundRef names that item
	// can be appended between decide's read and the write. An error from
	// decide writes nothing and is returned as is. It returns the entries
	// written.
	AppendWorkPoint(ctx context.Context, n int, round, item string, decide func(prior []Entry) ([]Entry, error)) ([]Entry, error)
	// WorkPointHistory returns work point n's entries in order (none when
	// it has none).
	WorkPointHistory(ctx context.Context, n int) ([]Entry, error)
}

// RoundLedger is what an audit reads of rounds, read-only: a Ledger that
// has it is also checked for its rounds and work point histories (Audit).
type RoundLedger interface {
	// ForEachRound calls fn with every round, with its items, in opening
	// order.
	ForEachRound(ctx context.Context, fn func(r *Round) error) error
	RoundEntries(ctx context.Context, id, item string) ([]Entry, error)
	WorkPointHistory(ctx context.Context, n int) ([]Entry, error)
}
