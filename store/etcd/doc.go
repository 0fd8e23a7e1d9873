// Package etcd implements workflow.Store on etcd v3, rectify's multi-node
// backend: any number of rectify replicas share one etcd cluster (three or
// five members, Raft-replicated) and serve the API at once.
//
// It keeps the workflow.Store contract and passes the conformance suite
// (store/storetest); what it indexes, and how, is store/internal/index,
// shared with store/bolt. A command's writes (the problem record, its history
// entries sealed on the hash chain, the chain head, every index key the
// change moves, the outbox events) are one etcd transaction, guarded by
// compares on the mod revisions of what the command read.
//
// # Key layout
//
// Every key is under Config.Prefix (default "/rectify/", written P below).
// Numbers in keys are zero-padded to 20 decimal digits, so that keys sort in
// numeric order (n is a problem number, seq a history sequence number); a
// string in a key (unit IDs, tags, names) is escaped with url.PathEscape, so
// it holds no "/" and one value's keys never mix with another's. Values are
// JSON unless said otherwise.
//
//	P meta/schema                  layout version ("1")
//	P meta/counter                 last problem number (decimal)
//	P meta/head                    workflow.ChainHead of the newest history entry
//	P meta/migrating               present while rectify migrate copies a ledger in
//	P p/<n>                        workflow.Problem
//	P h/<seq>                      workflow.Entry, sealed (hash-chained), never rewritten
//	P ph/<n>/<seq>                 empty: problem n's history in order
//	P ob/<seq>                     empty: the outbox event of entry seq (the event is the entry)
//	P ix/state/<state>/<n>         empty, and likewise ix/lead/<unit>, ix/county/<unit>,
//	                               ix/unit/<lead or cooperating unit>, ix/tag/<alert tag>,
//	                               ix/evidence/<sha256>, ix/source/<source>, ix/wp/<work point>
//	P meta/filters                 present once ix/source and ix/wp are complete (filter.go)
//	P ro/…                         the statistics' rollups (rollup.go); a record's JSON carries its
//	                               rollup facts as "rollup_facts"
//	P ix/deadline/<unix s>/<n>     empty: the deadline index
//	P ix/wake/<unix s>/<n>         Supervision.WakeAt rounded up to the second (Due), carrying
//	                               index.WakeFacts (Sweep; empty in ledgers written before them)
//	P dedupe/<key>                 problem number (decimal) created with that dedupe key
//	P units/<id>, wp/<number>, users/<id>, tokens/<sha256>, cursors/<name>, cal/<year>
//	P pw/<user id>                 password hash (a PHC string; workflow.Accounts)
//	P sess/<id hash>               workflow.Session
//	P cmd/<uuid>                   a committed command's id and result, on a lease (minutes)
//	P election/<name>/<lease>      concurrency.Election keys (RunAsLeader)
//
// # Transactions
//
// Commands on problems go through a group committer (commit.go): a caller
// reads the record (a linearizable Get), runs apply on a copy in its own
// goroutine, and queues the prepared change. One goroutine per Store takes
// what is queued and sends it as one Txn:
//
//	If   mod_revision(P meta/head)    = the head's revision it knows    (when entries are appended)
//	     mod_revision(P meta/counter) = the counter's revision           (when problems are created)
//	     mod_revision(P p/<n>)        = the revision apply ran on        (each updated problem)
//	     create_revision(P dedupe/k)  = 0                                (each create with a dedupe key)
//	     create_revision(fence key)   = the leader's revision            (writes fenced by WithFence)
//	     create_revision(P cmd/<id>)  = 0
//	Then the records, entries, ph/ob/index keys, head, counter and P cmd/<id>
//	Else Get of each key compared
//
// A failed compare comes back with the current values (the Else branch), so
// the committer re-runs apply on the records that moved (apply is a pure
// function of the record: re-running it is what the domain would have done
// on the current record) and tries again, a bounded number of times. Within
// one replica commands share a transaction; across replicas they race on the
// chain head's revision, which serialises the hash chain: no two entries
// ever link to the same predecessor.
//
// An error that leaves the outcome unknown (a deadline, a lost connection, a
// leader change) is resolved by reading the command key back: present, the
// transaction committed and its result stands; absent, the very same
// transaction is sent again. Its compares make the original and the resend
// mutually exclusive (whichever applies first moves the revisions the other
// compares, and both require the command key to be absent), so a command is
// never applied twice; a resend that fails tells in its Else branch whether
// the original committed meanwhile.
//
// Reads are linearizable. Problems and History read their index keys, then
// the records or entries they name in read-only transactions of at most
// Config.MaxTxnOps gets; a record changed in between is judged (f.Match) as
// it stands then. ForEachEntry, ForEachProblem and Backup read at one
// revision, page by page; Snapshot gives a Ledger pinned at one revision for
// audits of a live cluster.
package etcd
