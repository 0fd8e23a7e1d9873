package workflow

import (
	"context"
	"io"
	"slices"
	"strconv"
	"time"
)

// Store is the persistence the domain needs. Implementations apply what the
// domain decided, atomically; they never decide a business rule. A missing
// problem, user or token is reported as an *Error with CodeNotFound.
type Store interface {
	// CreateProblem allocates the next problem number n (1, 2, …, ledger-wide)
	// and calls build with it inside one write transaction; the problem and
	// history entries build returns are written together with their indexes,
	// the problem at version 1. If dedupeKey is not empty and a problem was
	// already created with it, that problem is returned with created false and
	// nothing is written. An error from build aborts the transaction and is
	// returned as is.
	CreateProblem(ctx context.Context, dedupeKey string, build func(n uint64) (*Problem, []Entry, error)) (p *Problem, created bool, err error)

	// UpdateProblem reads problem id inside one write transaction and calls
	// apply with a private copy. If apply succeeds, the store writes the
	// changed record with its version incremented by one, appends the returned
	// entries (assigning each a global, increasing Seq, the problem's ID and
	// new version) and updates every index the change touches, all in that
	// transaction. If apply fails, nothing is written and its error is
	// returned as is. The returned problem is the one written. A store may
	// call apply more than once (e.g. first on a snapshot, then again inside
	// its transaction if the record changed meanwhile): apply must change
	// only p and decide from p alone.
	UpdateProblem(ctx context.Context, id string, apply func(p *Problem) ([]Entry, error)) (*Problem, error)

	// Problem returns problem id.
	Problem(ctx context.Context, id string) (*Problem, error)

	// Problems returns the problems matching f in creation order, at most
	// f.Limit of them, starting after f.Cursor, and the cursor of the next
	// page ("" when there is none).
	Problems(ctx context.Context, f ProblemFilter) (items []*Problem, next string, err error)

	// History returns problem id's entries in order.
	History(ctx context.Context, id string) ([]Entry, error)

	// PutUnits inserts or replaces units by ID.
	PutUnits(ctx context.Context, units []Unit) error
	// Units returns every unit, ordered by ID.
	Units(ctx context.Context) ([]Unit, error)

	// PutWorkPoints inserts or replaces work points by number.
	PutWorkPoints(ctx context.Context, wps []WorkPoint) error
	// WorkPoints returns every work point, ordered by number.
	WorkPoints(ctx context.Context) ([]WorkPoint, error)

	// CreateUser stores a new user and its first token; a duplicate user ID is
	// CodeConflict.
	CreateUser(ctx context.Context, u User, t Token) error
	// AddToken stores another token for an existing user.
	AddToken(ctx context.Context, t Token) error
	// UserByToken returns the user whose token has SHA-256 hash.
	UserByToken(ctx context.Context, hash string) (*User, error)
	// Users returns every user, ordered by ID.
	Users(ctx context.Context) ([]User, error)

	// Due returns the IDs of problems whose Supervision.WakeAt is at or
	// before t, earliest first, at most limit: the scanner's work list. It
	// reads the time-ordered wake index only up to t.
	Due(ctx context.Context, t time.Time, limit int) ([]string, error)

	// Events returns the outbox events with Seq greater than after, in order,
	// at most limit. Every history entry is also an outbox event, written in
	// the same transaction.
	Events(ctx context.Context, after uint64, limit int) ([]Event, error)
	// Cursor returns how far consumer name has processed the outbox (0 when
	// it never has); SetCursor records it.
	Cursor(ctx context.Context, name string) (uint64, error)
	SetCursor(ctx context.Context, name string, seq uint64) error

	// PutCalendar stores a working-day calendar file for its year, replacing
	// any earlier one; Calendars returns them all by year.
	PutCalendar(ctx context.Context, year int, data []byte) error
	Calendars(ctx context.Context) (map[int][]byte, error)

	// Head returns the newest entry of the hash chain (zero when empty).
	// Appending entries, the store sets each one's Seq, ProblemID and
	// Version, then seals it with SealEntry on the previous entry's hash
	// (GenesisHash for the first) and moves the head, in the same
	// transaction; or, as the etcd store does so that replicas need not
	// serialise on the head, a moment after the command's transaction, in
	// commit order. Either way Head, History and Events see every entry of a
	// command acknowledged before they were called, sealed.
	Head(ctx context.Context) (ChainHead, error)

	// Close releases the store.
	Close() error
}

// Capabilities: what a store may do besides Store. The Service and the
// commands find each by a type assertion on the store, so a store without
// one still works; each says below what happens then. Both stores in this
// repository have every one (their capabilities.go lists them, checked at
// compile time), and the conformance suite (store/storetest) checks each a
// store has. MissingCapabilities names those a store lacks, for the log.
//
//	Backuper       backups for admins (GET /api/v1/admin/backup, rectify backup); without it a backup is refused
//	BackupNamer    the file extension of backups that are not bbolt files; without it ".db"
//	Accounts       password hashes and sessions for the web pages; without it nobody can sign in to the pages (the API works)
//	AccountLog     account changes with their hash-chained events; without it users are created unlogged and the lifecycle commands (disable, tokens, resets) are refused as internal
//	Ledger         the whole chain and every record, for audits (rectify audit verify); without it no audit
//	Sweeper        the alerts due, from the wake index alone; without it Service.DueAlerts reads every due problem's record
//	EvidenceIndex  the problems holding a file, from an index alone; without it Service.Duplicates pages through Problems
//	IdempotencyKeys  Idempotency-Key records and the effects of commands run under a claim (idempotency.go); without it the API processes a request with that header as one without
//	PhotoIndex     photos near a perceptual hash, from an index written with the record; without it an upload's near-duplicate check reads every problem
//	Rounds         dispatch rounds (调度) and work points' histories; without it rounds are refused (and audits skip them)
//	BatchCreator   many problems created all or nothing (batch.go); without it Service.CreateProblems, and so a ledger import, is refused
//	Anchors        daily head anchors on the chain (heads.go), sent to every outbox receiver; without it no head is anchored
//	Reminders      contacts and the notice queue that is the delivery log (reminder.go); without it contacts are refused and nothing is sent
//	Rollups        the statistics' tallies kept current with every write; without it Service.Stats counts every problem (and replays every history for as_of)
//	Letters        supervision letters (督办函) numbered per year; without it letters are refused
//	NewestEntries  the newest entry of one action in many problems' histories, in one read (the ledger export's 最新进展); without it each problem's whole history is read

// Backuper is a store that can stream a consistent snapshot of itself.
type Backuper interface {
	// Backup writes the snapshot to w and returns the bytes written.
	Backup(ctx context.Context, w io.Writer) (int64, error)
}

// BackupNamer is a Backuper whose backups are not bbolt files: it names
// their file extension (store/etcd: ".jsonl").
type BackupNamer interface {
	BackupExtension() string
}

// Accounts is what web sign-in needs from a store besides Store: password
// hashes and sessions. Without it the store serves the API only. Sessions
// live in the store, not in a server's memory, so that any replica can serve
// a signed-in user. A missing record is an *Error with CodeNotFound.
//
// The domain never sees a password: hashes are made and checked by the web
// layer (argon2id) and stored here as opaque strings.
type Accounts interface {
	// SetPasswordHash stores hash as user userID's password hash, replacing
	// any; an unknown user is CodeNotFound.
	SetPasswordHash(ctx context.Context, userID, hash string) error
	// PasswordHash returns user userID's password hash; CodeNotFound when the
	// user has none.
	PasswordHash(ctx context.Context, userID string) (string, error)
	// PutSession stores s under s.IDHash, replacing any session stored there.
	PutSession(ctx context.Context, s Session) error
	// Session returns the session stored under idHash; CodeNotFound when none.
	Session(ctx context.Context, idHash string) (*Session, error)
	// DeleteSession removes the session stored under idHash; removing a
	// session that is not there is not an error.
	DeleteSession(ctx context.Context, idHash string) error
	// DeleteExpiredSessions removes every session whose ExpiresAt is at or
	// before now and returns how many it removed.
	DeleteExpiredSessions(ctx context.Context, now time.Time) (int, error)
	// User returns user id; CodeNotFound when none.
	User(ctx context.Context, id string) (*User, error)
}

// AccountLog is what the account lifecycle needs from a store besides
// Accounts: account changes written with their events (accountlog.go), and
// the log.
type AccountLog interface {
	// ChangeAccount applies c and appends its events (Baseline, then
	// Event), sealed, in one transaction, and returns Event as written.
	ChangeAccount(ctx context.Context, c AccountChange) (AccountEvent, error)
	// TokensOf returns user userID's tokens in creation order (none for an
	// unknown user).
	TokensOf(ctx context.Context, userID string) ([]Token, error)
	// TokenUser returns the token with SHA-256 hash and its user;
	// CodeNotFound for an unknown hash.
	TokenUser(ctx context.Context, hash string) (*Token, *User, error)
	// AccountEvents returns the events with Seq greater than after, in
	// order, at most limit.
	AccountEvents(ctx context.Context, after uint64, limit int) ([]AccountEvent, error)
	AccountLedger
}

// AccountLedger is what an audit of the account log reads, read-only.
type AccountLedger interface {
	// AccountHead returns the newest account event as recorded (zero when
	// the log is empty).
	AccountHead(ctx context.Context) (ChainHead, error)
	// ForEachAccountEvent calls fn with every account event in order; an
	// event that does not decode is passed with err set and only Seq.
	ForEachAccountEvent(ctx context.Context, fn func(e AccountEvent, err error) error) error
	// AccountState returns the users, tokens and password stamps the store
	// holds, read at the same point as the log.
	AccountState(ctx context.Context) (AccountState, error)
}

// Ledger is what an audit reads from a store, read-only.
type Ledger interface {
	// Head returns the chain head the store recorded.
	Head(ctx context.Context) (ChainHead, error)
	// ForEachEntry calls fn with every stored history entry in key order; an
	// entry that does not decode is passed with err set and only Seq filled.
	// fn may run inside a read transaction: it must not call the store.
	ForEachEntry(ctx context.Context, fn func(e Entry, err error) error) error
	// ForEachProblem calls fn with every stored problem record.
	ForEachProblem(ctx context.Context, fn func(p *Problem) error) error
	// History returns one problem's entries through the per-problem index.
	// A ledger whose store seals entries after their command commits (etcd)
	// may end a history with entries not sealed yet: no Hash, no Seq.
	History(ctx context.Context, id string) ([]Entry, error)
}

// Sweeper is a store that can list what is due from its wake index alone,
// without reading problem records: the sweep half of a scan (the other
// half records the alerts). store/internal/index gives a store the facts
// its wake index must carry.
type Sweeper interface {
	// Sweep returns the problems due at now, earliest first, at most
	// limit, with the alerts due under pol (PendingAlerts).
	Sweep(ctx context.Context, now time.Time, pol Policy, limit int) ([]DueAlert, error)
}

// EvidenceIndex is a store that can list the problems holding an evidence
// file from its index alone, without reading their records.
type EvidenceIndex interface {
	// ProblemsWithEvidence returns the ids of the problems whose evidence
	// includes file sha, in creation order.
	ProblemsWithEvidence(ctx context.Context, sha string) ([]string, error)
}

// Rollups is a store that keeps the statistics' tallies current: every
// write adds what RollupWrite says it changes, in the write's transaction,
// so that the statistics of any scope and grouping are a sum over its groups,
// not over its problems (docs/design.md#rollups).
type Rollups interface {
	// Tallies returns each group's tally (by StatsRow.Key) of grouping
	// q.Grouping in scope q.Scope as it stood at q.At; groups without
	// problems then may be missing. ok is false when the store cannot give
	// them exactly: its rollups follow other level thresholds than
	// q.Policy's (Policy.Levels), or
	// q.At is before its latest write and not the end of a day in
	// Asia/Shanghai. The caller then counts from the records.
	Tallies(ctx context.Context, q TallyQuery) (tallies map[string]*Tally, ok bool, err error)
}

// NewestEntries is a store that finds, for a page of problems in one read,
// the newest entry of one action in each one's history (the ledger export's
// 最新进展, the latest progress note), reading the history from its end and
// decoding no more of it than it must.
type NewestEntries interface {
	// NewestEntries returns, for each problem of probs (records the store
	// returned), the newest entry of its history with Action action and a
	// Version at most the problem's Version, or nil when there is none:
	// entries a command appended after the record was read are passed over.
	// A store that seals entries after their command commits (etcd) may
	// return one not sealed yet: no Hash, no Seq.
	NewestEntries(ctx context.Context, action string, probs []*Problem) ([]*Entry, error)
}

// RollupAuditor is a Ledger whose store keeps rollups: it counts them
// afresh from every problem's history (RollupHistory) and compares them,
// and each problem's facts, with what it keeps. Audit calls it last; a
// difference is an *AuditError.
type RollupAuditor interface {
	AuditRollups(ctx context.Context) error
}

// TallyQuery asks Rollups.Tallies for one grouping of one scope at one time.
type TallyQuery struct {
	Scope    string // "": every problem; a unit's id: those it leads or cooperates in
	Grouping string // one of GroupBys
	At       time.Time
	Policy   Policy // the levels' thresholds
}

// MissingCapabilities returns the names of the capabilities s lacks (see
// above; BackupNamer is a name, not a capability), none for a store with
// all of them.
func MissingCapabilities(s Store) []string {
	var out []string
	for _, c := range []struct {
		name string
		has  bool
	}{
		{"Backuper", is[Backuper](s)},
		{"Accounts", is[Accounts](s)},
		{"AccountLog", is[AccountLog](s)},
		{"Ledger", is[Ledger](s)},
		{"Sweeper", is[Sweeper](s)},
		{"EvidenceIndex", is[EvidenceIndex](s)},
		{"IdempotencyKeys", is[IdempotencyKeys](s)},
		{"PhotoIndex", is[PhotoIndex](s)},
		{"Rounds", is[Rounds](s)},
		{"BatchCreator", is[BatchCreator](s)},
		{"Anchors", is[Anchors](s)},
		{"Rollups", is[Rollups](s)},
		{"Reminders", is[Reminders](s)},
		{"Letters", is[Letters](s)},
		{"NewestEntries", is[NewestEntries](s)},
	} {
		if !c.has {
			out = append(out, c.name)
		}
	}
	return out
}

func is[T any](s Store) bool {
	_, ok := s.(T)
	return ok
}

// Event is one outbox record: a history entry as consumers (webhooks, the
// events API) receive it. ID is unique and stable across deliveries.
type Event struct {
	ID    string `json:"id"`
	Seq   uint64 `json:"seq"`
	Entry Entry  `json:"entry"`
}

// EventID returns the event id of the entry with sequence seq.
func EventID(seq uint64) string { return "evt-" + strconv.FormatUint(seq, 10) }

// ProblemFilter selects problems. Empty fields match everything. Unit matches
// problems where the unit leads or cooperates (the visibility rule of unit
// officers).
type ProblemFilter struct {
	State    State
	LeadUnit string
	County   string
	Source   Source
	Unit     string
	Tag      string // an alert tag: a Level, TagLate or a stage breach (see Problem.Tags)
	Evidence string // the SHA-256 of an evidence file the problem has
	Cursor   string
	Limit    int

	// WorkPoint selects the problems of one work point (工作要点), like the
	// others through an index.
	WorkPoint int
}

// Match reports whether p passes every predicate of f (cursor and limit aside).
func (f *ProblemFilter) Match(p *Problem) bool {
	return (f.State == "" || p.State == f.State) &&
		(f.LeadUnit == "" || p.LeadUnit == f.LeadUnit) &&
		(f.County == "" || p.CountyID == f.County) &&
		(f.Source == "" || p.Source == f.Source) &&
		(f.Unit == "" || p.Involves(f.Unit)) &&
		(f.Tag == "" || slices.Contains(p.Tags(), f.Tag)) &&
		(f.Evidence == "" || slices.Contains(p.EvidenceHashes(), f.Evidence)) &&
		(f.WorkPoint == 0 || p.WorkPoint == f.WorkPoint)
}

// Page returns the page size f asks for (DefaultLimit when not positive; a
// store may serve more than MaxLimit) and the number of the problem its cursor
// names (0 for the first page). A cursor rectify did not issue is CodeInvalid.
func (f *ProblemFilter) Page() (limit int, after uint64, err error) {
	limit = f.Limit
	if limit <= 0 {
		limit = DefaultLimit
	}
	if f.Cursor != "" {
		var ok bool
		if after, ok = ParseProblemID(f.Cursor); !ok {
			return 0, 0, RefuseField(ReasonMalformed, "cursor", "bad cursor %q", f.Cursor)
		}
	}
	return limit, after, nil
}

// Page sizes of the outbox (Store.Events and the events API).
const (
	DefaultEventLimit = 100
	MaxEventLimit     = 1000
)

// EventLimit returns the outbox page size for a requested limit:
// DefaultEventLimit when not positive, at most MaxEventLimit.
func EventLimit(limit int) int {
	if limit <= 0 {
		return DefaultEventLimit
	}
	return min(limit, MaxEventLimit)
}

// Page size limits for listing problems.
const (
	DefaultLimit = 50
	MaxLimit     = 500
)

// ProblemID returns the ID of problem number n.
func ProblemID(n uint64) string { return strconv.FormatUint(n, 10) }

// ParseProblemID returns the number of problem id; ok is false when id is not
// one rectify issued.
func ParseProblemID(id string) (n uint64, ok bool) {
	n, err := strconv.ParseUint(id, 10, 64)
	if err != nil || n == 0 || ProblemID(n) != id {
		return 0, false
	}
	return n, true
}

// ProblemCode is the human-readable code of problem number n logged at t,
// e.g. JDZ-2021-0007.
func ProblemCode(n uint64, t time.Time) string {
	return "JDZ-" + strconv.Itoa(t.In(Shanghai).Year()) + "-" + pad4(n)
}

func pad4(n uint64) string {
	s := strconv.FormatUint(n, 10)
	for len(s) < 4 {
		s = "0" + s
	}
	return s
}
