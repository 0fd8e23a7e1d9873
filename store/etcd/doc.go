// Package etcd implements workflow.Store on etcd v3, rectify's multi-node
// backend: any number of rectify replicas share one etcd cluster (three or
// five members, Raft-replicated) and serve the API at once.
//
// It keeps the workflow.Store contract and passes the conformance suite
// (store/storetest); what it indexes, and how, is store/internal/index,
// shared with store/bolt. A command's writes (the problem record, its
// history entries, every index key the change moves) are one etcd
// transaction, guarded by compares on the mod revisions of what the command
// read; its entries are sealed on the one hash chain, with their outbox
// events, by the sealer a moment later (see Sealing), so that replicas
// writing different problems never conflict.
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
//	P meta/schema                  layout version ("3"; Open upgrades "1" and "2", upgrade.go)
//	P meta/counter                 last problem number (decimal)
//	P meta/head                    workflow.ChainHead of the newest history entry
//	P meta/migrating               present while rectify migrate copies a ledger in
//	P p/<n>                        workflow.Problem
//	P pe/<n>/<version>             a committed command's entries, unsealed (JSON array), until sealed
//	P h/<seq>                      workflow.Entry, sealed (hash-chained), never rewritten
//	P ph/<n>/<seq>                 empty: problem n's history in order
//	P ob/<seq>                     empty: the outbox event of entry seq (the event is the entry)
//	P ix/state/<state>/<n>         empty, and likewise ix/lead/<unit>, ix/county/<unit>,
//	                               ix/unit/<lead or cooperating unit>, ix/tag/<alert tag or "public">,
//	                               ix/evidence/<sha256>, ix/source/<source>, ix/wp/<work point>
//	P meta/filters                 present once ix/source and ix/wp are complete (filter.go)
//	P ro/…                         the statistics' rollups (rollup.go); a record's JSON carries its
//	                               rollup facts as "rollup_facts"
//	P ix/deadline/<unix s>/<n>     empty: the deadline index
//	P ix/wake/<unix s>/<n>         Supervision.WakeAt rounded up to the second (Due), carrying
//	                               index.WakeFacts (Sweep; empty in ledgers written before them)
//	P ix/near/<6 hex>/<16 hex>/<n> empty: the near-duplicate photo index (photos.go), one key per
//	                               indexed hash and chunk of nearindex.Default
//	P dedupe/<key>                 problem number (decimal) created with that dedupe key
//	P units/<id>, wp/<number>, users/<id>, tokens/<sha256>, cursors/<name>, cal/<year>
//	P pw/<user id>                 password hash (a PHC string; workflow.Accounts)
//	P sess/<id hash>               workflow.Session
//	P meta/round-counter, rounds/<n>, round-items/<n>, round-keys/<key>, rr/<n>/<item>/<seq>,
//	  wph/<point>/<seq>            dispatch rounds, their index and work points' histories (rounds.go)
//	P contacts/<key>, nt/<key>, ntt/<unix ns>/<key>, ntp/<key>
//	                               reminders: contacts, notices, the delivery log's order and the
//	                               pending notices (reminders.go)
//	P meta/letter-counter, letters/<n>, letter-keys/<key>, letter-numbers/<year>
//	                               supervision letters, draft keys, each year's last number (letters.go)
//	P cmd/<uuid>                   a committed command's id and result, on a lease (minutes)
//	P idem/k/<scope>/<key>         workflow.KeyRecord of an Idempotency-Key (idempotency.go)
//	P idem/x/<unix s>/<scope>/<key> empty: the keys' expiry index
//	P idem/e/<claim>               workflow.Effect of the command run under a claim
//	P stage/<id>/<chunk>           a batch of problems staged, gzipped JSON (batch.go)
//	P batch/<id>                   the owner of a batch holding the chain, on its lease
//	                               (while it holds, meta/head carries its claim and
//	                               meta/counter reads "<n>;batch=<id>")
//	P election/<name>/<lease>      concurrency.Election keys (RunAsLeader)
//
// # Transactions
//
// Commands on problems go through a group committer (commit.go): a caller
// reads the record (a linearizable Get), runs apply on a copy in its own
// goroutine, and queues the prepared change. One goroutine per Store takes
// what is queued and sends it as one Txn:
//
//	If   mod_revision(P meta/counter) = the counter's revision           (when problems are created)
//	     mod_revision(P p/<n>)        = the revision apply ran on        (each updated problem)
//	     create_revision(P dedupe/k)  = 0                                (each create with a dedupe key)
//	     create_revision(fence key)   = the leader's revision            (writes fenced by WithFence)
//	     create_revision(P idem/e/c)  = 0                                (each command under a claim c)
//	     create_revision(P cmd/<id>)  = 0
//	Then the records, the unsealed entries (P pe/…), index keys, counter and P cmd/<id>
//	Else Get of each key compared
//
// A failed compare comes back with the current values (the Else branch), so
// the committer re-runs apply on the records that moved (apply is a pure
// function of the record: re-running it is what the domain would have done
// on the current record) and tries again, a bounded number of times. Within
// one replica commands share a transaction; across replicas they conflict
// only when they change the same problem (or both create problems: the
// counter), and the loser decides again on what the winner left.
//
// # Sealing
//
// No command touches the chain head, so the chain has one writer at a
// time: the sealer (seal.go) reads the pending commands in the order etcd
// committed them (mod revision, then key) and, in one Txn guarded by the
// head's revision (and the leader's fence), gives each entry the next Seq,
// seals it on the previous entry's hash (workflow.SealEntry) and writes
// P h/<seq>, P ob/<seq> and P ph/<n>/<seq>, deletes the pending keys and
// moves P meta/head. The chain is the same as a store sealing in the
// command's transaction would build: same entries, same hashes, a global
// order that keeps each problem's order. One replica seals continuously
// (RunSealer, elected); any read of the chain (Head, Events, History,
// ForEachEntry, Snapshot, Backup) first seals what was committed before it
// began, so it never misses an acknowledged command, and a sealer that
// loses the race to another reads again.
//
// Why deferred sealing: when every command compared the chain head, the
// replica committing back to back always won and the other starved.
// Forwarding writes to one active writer (as Vault standbys do) would cap
// the capacity at one replica, add a hop and a proxy of whole requests, and
// leave the command-line tools writing beside it; per-problem chains with a
// later global seal would change the chain's format, the head, the audit
// and every ledger, and differ from bbolt's. Deferring the seal keeps the
// one chain, its hashes and its head exactly as they are (bbolt, audit
// verify, --expect-head, backups and migration unchanged), and commands
// conflict only on their problems (creates also on the counter: they go in
// transactions of their own). An entry is tamper-evident once sealed,
// normally milliseconds after its command; until then its command's
// transaction is its record, and a Snapshot shows it pending. README's
// "Why a sealer" has the comparison in full.
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
// Every write the store sends is safe to send twice: guarded by a command
// key or compares that the first copy falsifies (a refused transaction stays
// refused: mod revisions only grow), or a put of fixed values. That lets an
// attempt at an unresponsive member be abandoned and sent to another one
// (client.go: per-attempt timeouts, members probed and taken out of the
// client's balancer while they do not answer, streams reopened elsewhere),
// so that one hung member, quorum intact, is no outage.
//
// # Batches
//
// A batch of problems (an import: workflow.BatchCreator) too large for one
// Txn holds the chain and the counter while it is staged and published:
// P meta/head then carries the batch's claim and P meta/counter is marked
// held, both decoding with revision -1, so that no compare on them holds.
// The sealer, appendOther and creates wait for the hold to go (the
// committer sets its creates aside, so that its updates go on); updates of
// existing problems never wait, and are sealed after the batch. The batch
// seals its own entries after the head it claimed, stages everything under
// P stage/<id>/, decides in one Txn and publishes in Txns guarded by the
// hold; an importer that dies (its owner key's lease expires) is rolled
// back before its decision or published after it by whoever meets the
// hold, the sealer first (batch.go).
//
// Reads are linearizable. Problems and History read their index keys, then
// the records or entries they name in read-only transactions of at most
// Config.MaxTxnOps gets; a record changed in between is judged (f.Match) as
// it stands then. ForEachEntry, ForEachProblem and Backup read at one
// revision, page by page; Snapshot gives a Ledger pinned at one revision for
// audits of a live cluster.
package etcd
