package workflow

import (
	"context"
	"time"
)

// Which records a briefing reads to name its red and listed problems.
//
// A problem red or listed at to is open then with its deadline long past.
// If nothing was recorded on it since, its record today is the record of
// then and its lateness has not shrunk (the clock ran on, or stood still
// while submitted): so today it is tagged late (TagLate), or has an alert
// due the scanner has not recorded yet (Store.Due), or is submitted.
// Otherwise it has an entry after to, found in the outbox (every entry is
// an event, in sequence order). Those candidates, each rebuilt as of to,
// are all the problems that can be red or listed at to. When the entries
// since to outnumber twice the problems (a ledger written mostly since),
// walking the problems in creation order is cheaper: it stops at the first
// problem created after to.

// briefingDueLimit bounds the problems with alerts the scanner has yet to
// record that a briefing looks at.
const briefingDueLimit = 1 << 20

// A briefing reads the outbox since its end when that is at most
// briefingEventsPerProblem entries a problem, or briefingEventsMin; it
// walks the problems otherwise. Variables so that tests can force the walk.
var briefingEventsPerProblem, briefingEventsMin = 2, 1000

// clockSkew bounds how far entries' times may run out of sequence order
// (etcd replicas seal in commit order entries stamped by their own clocks).
const clockSkew = time.Hour

// flaggedCandidates calls fn with every problem a can see, as it stood at
// to, that may be red or listed then (see above); total is the number of
// problems at to.
func (s *Service) flaggedCandidates(ctx context.Context, a Actor, to, now time.Time, total int, fn func(p *Problem)) error {
	ids := map[string]bool{}
	var order []string
	note := func(id string) {
		if id != "" && !ids[id] {
			ids[id] = true
			order = append(order, id)
		}
	}
	for _, f := range []ProblemFilter{{Tag: TagLate}, {State: StateSubmitted}} {
		f.Limit = MaxLimit
		for {
			page, next, err := s.store.Problems(ctx, f)
			if err != nil {
				return err
			}
			for _, p := range page {
				note(p.ID)
			}
			if next == "" {
				break
			}
			f.Cursor = next
		}
	}
	dueAt := now
	if to.After(now) {
		dueAt = to
	}
	due, err := s.store.Due(ctx, dueAt, briefingDueLimit)
	if err != nil {
		return err
	}
	for _, id := range due {
		note(id)
	}
	if to.Before(now) {
		changed, ok, err := s.changedSince(ctx, to.Add(-clockSkew), briefingEventsPerProblem*total+briefingEventsMin)
		if err != nil {
			return err
		}
		if !ok {
			return s.walkUntil(ctx, a, to, fn)
		}
		for _, id := range changed {
			note(id)
		}
	}
	for _, id := range order {
		cur, err := s.store.Problem(ctx, id)
		if err != nil {
			return err
		}
		if !CanSee(a, cur) || cur.CreatedAt.After(to) {
			continue
		}
		p := cur
		if to.Before(now) {
			hist, err := s.store.History(ctx, id)
			if err != nil {
				return err
			}
			if p, _, err = asOf(cur, hist, to); err != nil {
				return err
			}
		}
		if p != nil && CanSee(a, p) {
			fn(p)
		}
	}
	return nil
}

// changedSince returns the problems with an entry after since, from the
// outbox, and false when that takes reading more than limit entries or the
// outbox no longer holds them all.
func (s *Service) changedSince(ctx context.Context, since time.Time, limit int) ([]string, bool, error) {
	head, err := s.store.Head(ctx)
	if err != nil || head.Seq == 0 {
		return nil, err == nil, err
	}
	first, err := s.store.Events(ctx, 0, 1)
	if err != nil {
		return nil, false, err
	}
	if len(first) == 0 || (first[0].Seq > 1 && first[0].Entry.At.After(since)) {
		return nil, false, nil
	}
	// The first sequence number whose entry is after since.
	lo, hi := first[0].Seq, head.Seq+1
	for lo < hi {
		mid := lo + (hi-lo)/2
		ev, err := s.store.Events(ctx, mid-1, 1)
		if err != nil {
			return nil, false, err
		}
		if len(ev) == 0 || ev[0].Entry.At.After(since) {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	if head.Seq+1-lo > uint64(limit) {
		return nil, false, nil
	}
	var out []string
	for after := lo - 1; ; {
		evs, err := s.store.Events(ctx, after, 1000)
		if err != nil {
			return nil, false, err
		}
		if len(evs) == 0 {
			return out, true, nil
		}
		for _, e := range evs {
			out = append(out, e.Entry.ProblemID)
		}
		after = evs[len(evs)-1].Seq
	}
}

// walkUntil calls fn with every problem a could see at to, rebuilt as of
// then, in creation order, stopping at the first problem created after to
// (give or take clockSkew).
func (s *Service) walkUntil(ctx context.Context, a Actor, to time.Time, fn func(p *Problem)) error {
	f := ProblemFilter{Limit: MaxLimit}
	for {
		page, next, err := s.store.Problems(ctx, f)
		if err != nil {
			return err
		}
		for _, cur := range page {
			if cur.CreatedAt.After(to.Add(clockSkew)) {
				return nil
			}
			if cur.CreatedAt.After(to) {
				continue
			}
			hist, err := s.store.History(ctx, cur.ID)
			if err != nil {
				return err
			}
			p, _, err := asOf(cur, hist, to)
			if err != nil {
				return err
			}
			if p != nil && CanSee(a, p) {
				fn(p)
			}
		}
		if next == "" {
			return nil
		}
		f.Cursor = next
	}
}
