package etcd

import (
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/mvccpb"

	"github.com/jdz-eco/rectify/workflow"
)

type (
	pbResponseOp = pb.ResponseOp
	kvPair       = mvccpb.KeyValue
)

// Index names (the segment after ix/).
const (
	ixState    = "state"
	ixLead     = "lead"
	ixCounty   = "county"
	ixUnit     = "unit"
	ixTag      = "tag"
	ixEvidence = "evidence"
	ixDeadline = "deadline"
	ixWake     = "wake"
)

// valuePrefix returns the key prefix (relative) of the problems indexed
// under value in index name.
func valuePrefix(name, value string) string { return "ix/" + name + "/" + esc(value) + "/" }

// timePrefix returns the key prefix (relative) of a time index at second secs.
func timePrefix(name string, secs uint64) string { return "ix/" + name + "/" + pad(secs) + "/" }

// wakeSeconds returns the second from which a problem that wakes at t is due:
// t rounded up to a whole second (as store/bolt does), never before 1970.
func wakeSeconds(t time.Time) uint64 {
	secs := t.Unix()
	if t.Nanosecond() > 0 {
		secs++
	}
	return uint64(max(secs, 0))
}

// indexKeys returns the relative index keys of problem number n as p stands:
// the same indexes store/bolt keeps (state, lead unit, county, every unit,
// deadline, wake time, alert tags, evidence hashes).
func indexKeys(p *workflow.Problem, n uint64) map[string]struct{} {
	m := make(map[string]struct{}, 8+len(p.CooperatingUnits))
	num := pad(n)
	add := func(name, value string) {
		if value != "" {
			m[valuePrefix(name, value)+num] = struct{}{}
		}
	}
	add(ixState, string(p.State))
	add(ixLead, p.LeadUnit)
	add(ixCounty, p.CountyID)
	for _, u := range p.Units() {
		add(ixUnit, u)
	}
	for _, tag := range p.Tags() {
		add(ixTag, tag)
	}
	for _, sha := range p.EvidenceHashes() {
		add(ixEvidence, sha)
	}
	if p.Deadline != nil {
		m[timePrefix(ixDeadline, uint64(max(p.Deadline.Unix(), 0)))+num] = struct{}{}
	}
	if w := p.Supervision.WakeAt; w != nil {
		m[timePrefix(ixWake, wakeSeconds(*w))+num] = struct{}{}
	}
	return m
}

// indexDiff returns the relative index keys to delete and to put when
// problem n changes from old (nil for a new problem) to p.
func indexDiff(n uint64, old, p *workflow.Problem) (dels, puts []string) {
	var before map[string]struct{}
	if old != nil {
		before = indexKeys(old, n)
	}
	after := indexKeys(p, n)
	for k := range before {
		if _, keep := after[k]; !keep {
			dels = append(dels, k)
		}
	}
	for k := range after {
		if _, had := before[k]; !had {
			puts = append(puts, k)
		}
	}
	return dels, puts
}

// chooseIndex returns the relative key prefix of the most selective index f
// names, as store/bolt chooses it (evidence, tag, unit, lead unit, county,
// state), or "" when f names none.
func chooseIndex(f *workflow.ProblemFilter) string {
	switch {
	case f.Evidence != "":
		return valuePrefix(ixEvidence, f.Evidence)
	case f.Tag != "":
		return valuePrefix(ixTag, f.Tag)
	case f.Unit != "":
		return valuePrefix(ixUnit, f.Unit)
	case f.LeadUnit != "":
		return valuePrefix(ixLead, f.LeadUnit)
	case f.County != "":
		return valuePrefix(ixCounty, f.County)
	case f.State != "":
		return valuePrefix(ixState, string(f.State))
	}
	return ""
}
