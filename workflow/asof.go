package workflow

import (
	"context"
	"iter"
	"strings"
	"time"
)

// The ledger as it stood at a past time (as_of), rebuilt from history.
//
// Cost: a point-in-time read cannot use the store's indexes (state, unit,
// lead unit and tag are those of today's records, not of then), so it walks
// every problem, in pages of MaxLimit, reads each one's history
// (Store.History, one read transaction per problem) and replays the entries
// up to the time asked. Only county and source, which no command changes, are
// narrowed through the store. Problems created after the time are skipped
// without reading their history. The work is O(problems + their entries); a
// ledger of 100,000 problems takes seconds, not milliseconds. A read spans
// many transactions; since history is append-only, entries at or before a
// past time never change between them, so the result is consistent.

// ParseAsOf reads a point in time for as_of: a date (2021-12-31) means the
// very end of that day in Asia/Shanghai (everything recorded that day
// included), an RFC 3339 time means that instant.
func ParseAsOf(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if d, err := time.ParseInLocation(time.DateOnly, s, Shanghai); err == nil {
		return EndOfDay(d).Add(time.Second - time.Nanosecond), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, RefuseField(ReasonBadDate, "as_of", "as_of %q is neither a date (2021-12-31) nor an RFC 3339 time", s)
	}
	if t.Year() < 2000 || t.Year() > 2100 {
		return time.Time{}, RefuseField(ReasonBadDate, "as_of", "as_of %q is out of range", s)
	}
	return t.UTC(), nil
}

// ProblemsAsOf lists, a page at a time like Problems, the problems matching f
// as the ledger stood at t: each problem rebuilt by replaying its history
// entries with At ≤ t; problems created after t are absent. Visibility and
// every filter field are applied to the problem as it was then: a unit
// officer sees the problems whose lead or cooperating units included its unit
// at t. f.Cursor and f.Limit page as in Problems (the cursor is a problem ID).
// See the cost note above: it reads every problem's history.
func (s *Service) ProblemsAsOf(ctx context.Context, a Actor, f ProblemFilter, t time.Time) ([]*Problem, string, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = DefaultLimit
	}
	if limit > MaxLimit {
		return nil, "", RefuseField(ReasonOutOfRange, "limit", "limit must be at most %d", MaxLimit)
	}
	items := []*Problem{}
	for p, err := range s.EachProblemAsOf(ctx, a, f, t) {
		if err != nil {
			return nil, "", err
		}
		if len(items) == limit {
			return items, items[limit-1].ID, nil
		}
		items = append(items, p)
	}
	return items, "", nil
}

// EachProblemAsOf yields, in creation order, every problem matching f that a
// could see at t, as it stood at t (see ProblemsAsOf); f.Limit is ignored and
// f.Cursor, if set, starts after that problem. An error is yielded once, with
// a nil problem, and ends the sequence.
func (s *Service) EachProblemAsOf(ctx context.Context, a Actor, f ProblemFilter, t time.Time) iter.Seq2[*Problem, error] {
	return func(yield func(*Problem, error) bool) {
		err := s.walk(ctx, a, f, t, walkNeeds{}, func(p *Problem, _ []Entry, _ *Entry) bool { return yield(p, nil) })
		if err != nil {
			yield(nil, err)
		}
	}
}

// EachProblem yields, in creation order, every problem matching f that a may
// see now (the current records, through the store's indexes); f.Limit is
// ignored and f.Cursor, if set, starts after that problem. It reads pages of
// MaxLimit, one read transaction each, so memory does not grow with the
// ledger. An error is yielded once, with a nil problem, and ends the sequence.
func (s *Service) EachProblem(ctx context.Context, a Actor, f ProblemFilter) iter.Seq2[*Problem, error] {
	return func(yield func(*Problem, error) bool) {
		err := s.walk(ctx, a, f, time.Time{}, walkNeeds{}, func(p *Problem, _ []Entry, _ *Entry) bool { return yield(p, nil) })
		if err != nil {
			yield(nil, err)
		}
	}
}

// scope validates f as Problems does and applies a's visibility to it; ok is
// false when a may see nothing.
func scope(a Actor, f ProblemFilter) (ProblemFilter, bool, error) {
	if f.State != "" && !f.State.Valid() {
		return f, false, RefuseField(ReasonUnknownValue, "state", "unknown state %q; one of %v", f.State, States)
	}
	if f.Source != "" && !f.Source.Valid() {
		return f, false, RefuseField(ReasonUnknownValue, "source", "unknown source %q; one of %v", f.Source, Sources)
	}
	if f.Cursor != "" {
		if _, ok := ParseProblemID(f.Cursor); !ok {
			return f, false, RefuseField(ReasonMalformed, "cursor", "bad cursor %q", f.Cursor)
		}
	}
	if a.Role == RoleUnit {
		if f.Unit != "" && f.Unit != a.UnitID {
			return f, false, nil
		}
		f.Unit = a.UnitID
	} else if !CanSee(a, &Problem{}) {
		return f, false, nil
	}
	return f, true, nil
}

// walkNeeds says what a walk reads besides the problems.
type walkNeeds struct {
	// history reports whether fn needs problem p's history (its entries up
	// to now); nil: no problem's. Each is read whole (Store.History, a read
	// of its own), so a walk asks only for those it cannot do without. A
	// walk of a past time reads every history anyway, to replay it.
	history func(p *Problem) bool
	// note passes fn each current problem's latest progress note (the
	// store's NewestEntries: one read per page, no history decoded whole).
	note bool
}

// walk calls fn with each problem a may see that matches f, in creation
// order, until fn returns false. With a zero at it reads the current records
// (through the store's indexes); otherwise each problem as it stood at at,
// replayed from its history. fn gets what needs asks for: the problem's
// history up to at (up to now for a zero at; always when at is set), and
// its latest progress note (nil when it has none; with a set at, from the
// history).
//
// The store is read a page ahead: one goroutine reads (and replays) the
// next page while fn takes the problems of the one before, so that a walk
// whose fn does real work (the ledger export's rows) keeps two CPUs busy.
// At most three pages are held.
func (s *Service) walk(ctx context.Context, a Actor, f ProblemFilter, at time.Time, needs walkNeeds,
	fn func(p *Problem, hist []Entry, note *Entry) bool) error {
	if err := s.unitRefs(ctx, &f.LeadUnit, &f.County, &f.Unit); err != nil {
		return err
	}
	f, ok, err := scope(a, f)
	if err != nil || !ok {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pages := make(chan []walked, 1)
	read := make(chan error, 1)
	go func() {
		defer close(pages)
		read <- s.readWalk(ctx, a, f, at, needs, func(page []walked) bool {
			select {
			case pages <- page:
				return true
			case <-ctx.Done():
				return false
			}
		})
	}()
	for page := range pages {
		if err := ctx.Err(); err != nil { // the caller's, cancelled
			for range pages {
			}
			return err
		}
		for _, w := range page {
			if !fn(w.p, w.hist, w.note) {
				cancel()
				for range pages { // let the reader end
				}
				return nil
			}
		}
	}
	return <-read
}

// walked is a problem a walk read, with what fn gets besides it.
type walked struct {
	p    *Problem
	hist []Entry
	note *Entry
}

// readWalk reads what walk hands fn, a page at a time, and passes each page
// to send until send returns false.
func (s *Service) readWalk(ctx context.Context, a Actor, f ProblemFilter, at time.Time, needs walkNeeds, send func([]walked) bool) error {
	page := f
	page.Limit = MaxLimit
	if !at.IsZero() {
		// Only what no command changes may narrow the read.
		page = ProblemFilter{County: f.County, Source: f.Source, Cursor: f.Cursor, Limit: MaxLimit}
	}
	for {
		items, next, err := s.store.Problems(ctx, page)
		if err != nil {
			return err
		}
		var notes []*Entry
		if at.IsZero() && needs.note {
			if notes, err = s.newestEntries(ctx, ActionNote, items); err != nil {
				return err
			}
		}
		out := make([]walked, 0, len(items))
		for i, cur := range items {
			if err := ctx.Err(); err != nil {
				return err
			}
			var note *Entry
			if notes != nil {
				note = notes[i]
			}
			if at.IsZero() && (needs.history == nil || !needs.history(cur)) {
				out = append(out, walked{p: cur, note: note})
				continue
			}
			if !at.IsZero() && cur.CreatedAt.After(at) {
				continue
			}
			hist, err := s.store.History(ctx, cur.ID)
			if err != nil {
				return err
			}
			p, hist, err := asOf(cur, hist, at)
			if err != nil {
				return err
			}
			if p == nil || !CanSee(a, p) || !f.Match(p) {
				continue
			}
			out = append(out, walked{p: p, hist: hist, note: newestEntry(hist, ActionNote, p.Version)})
		}
		if !send(out) {
			return ctx.Err()
		}
		if next == "" {
			return nil
		}
		page.Cursor = next
	}
}

// newestEntries gives, for each of probs, the newest entry of action in its
// history at the problem's version: the store's NewestEntries, or, from a
// store without it, each problem's history read whole.
func (s *Service) newestEntries(ctx context.Context, action string, probs []*Problem) ([]*Entry, error) {
	if ns, ok := s.store.(NewestEntries); ok {
		out, err := ns.NewestEntries(ctx, action, probs)
		if err == nil && len(out) != len(probs) {
			err = Errorf(CodeInternal, "the store gave %d newest entries for %d problems", len(out), len(probs))
		}
		return out, err
	}
	out := make([]*Entry, len(probs))
	for i, p := range probs {
		hist, err := s.store.History(ctx, p.ID)
		if err != nil {
			return nil, err
		}
		out[i] = newestEntry(hist, action, p.Version)
	}
	return out, nil
}

// newestEntry is the newest entry of hist with action and a version at
// most version (a copy), or nil.
func newestEntry(hist []Entry, action string, version uint64) *Entry {
	for i := len(hist) - 1; i >= 0; i-- {
		if hist[i].Action == action && hist[i].Version <= version {
			e := hist[i]
			return &e
		}
	}
	return nil
}

// asOf returns problem cur as it stood at at (now, for a zero at) and its
// history up to then: the stored record when nothing happened after at and
// the record is the one the history ends with, a replay otherwise. The
// problem is nil when it did not exist yet.
func asOf(cur *Problem, hist []Entry, at time.Time) (*Problem, []Entry, error) {
	full := len(hist)
	n := full
	if !at.IsZero() {
		// Entries are appended in time order and one command's share its time.
		n = 0
		for n < len(hist) && !hist[n].At.After(at) {
			n++
		}
	}
	if n == 0 {
		return nil, nil, nil
	}
	hist = hist[:n]
	if n == full && hist[n-1].Version == cur.Version {
		return cur, hist, nil
	}
	p, err := Replay(hist)
	if err != nil {
		return nil, nil, Errorf(CodeInternal, "problem %s: replay: %v", cur.ID, err)
	}
	return p, hist, nil
}
