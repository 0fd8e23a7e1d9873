package etcd

import (
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/mvccpb"

	"github.com/jdz-eco/rectify/store/internal/index"
	"github.com/jdz-eco/rectify/workflow"
)

type (
	pbResponseOp = pb.ResponseOp
	kvPair       = mvccpb.KeyValue
)

// What is indexed, and which index serves a filter, is store/internal/index;
// this file maps its terms to keys: ix/<index name>/<escaped value>/<n> for
// a value index, ix/<index name>/<unix s>/<n> for a time index, each empty
// but the wake index's, which carries index.WakeFacts.

// valuePrefix returns the key prefix (relative) of the problems indexed
// under value in index name.
func valuePrefix(name index.Name, value string) string {
	return "ix/" + string(name) + "/" + esc(value) + "/"
}

// timePrefix returns the key prefix (relative) of a time index at second secs.
func timePrefix(name index.Name, secs uint64) string {
	return "ix/" + string(name) + "/" + pad(secs) + "/"
}

// termKey returns the relative key of problem number n's entry t.
func termKey(t index.Term, n uint64) string {
	if t.Index.Timed() {
		return timePrefix(t.Index, t.Secs) + pad(n)
	}
	return valuePrefix(t.Index, t.Value) + pad(n)
}

// indexPut is an index key to write, with its value.
type indexPut struct {
	key, value string
}

// indexPuts returns the relative index keys of problem number n as p stands,
// with their values: what a new or imported problem writes.
func indexPuts(p *workflow.Problem, n uint64) []indexPut {
	terms := index.Terms(p)
	out := make([]indexPut, len(terms))
	for i, t := range terms {
		out[i] = indexPut{termKey(t, n), t.Facts}
	}
	_, photos := photoIndexDiff(n, nil, p)
	return append(out, photos...)
}

// indexDiff returns the relative index keys to delete, and those to put with
// their values, when problem n changes from old (nil for a new problem) to
// p. No key is in both (index.Diff): a Txn takes a key once.
func indexDiff(n uint64, old, p *workflow.Problem) (dels []string, puts []indexPut) {
	d, u := index.Diff(old, p)
	for _, t := range d {
		dels = append(dels, termKey(t, n))
	}
	for _, t := range u {
		puts = append(puts, indexPut{termKey(t, n), t.Facts})
	}
	pd, pp := photoIndexDiff(n, old, p)
	return append(dels, pd...), append(puts, pp...)
}
