package etcd

import "github.com/jdz-eco/rectify/workflow"

// What this store is (workflow.Store) and every capability it has
// (workflow/store.go lists them): all of them.
var (
	_ workflow.Store           = (*Store)(nil)
	_ workflow.Backuper        = (*Store)(nil)
	_ workflow.BackupNamer     = (*Store)(nil) // JSON lines
	_ workflow.Accounts        = (*Store)(nil)
	_ workflow.AccountLog      = (*Store)(nil)
	_ workflow.AccountLedger   = (*Snapshot)(nil) // the account log at that revision
	_ workflow.Ledger          = (*Store)(nil)
	_ workflow.Ledger          = (*Snapshot)(nil) // an audit of a live cluster at one revision
	_ workflow.Sweeper         = (*Store)(nil)
	_ workflow.EvidenceIndex   = (*Store)(nil)
	_ workflow.IdempotencyKeys = (*Store)(nil)
	_ workflow.PhotoIndex      = (*Store)(nil)
	_ workflow.Rounds          = (*Store)(nil) // rounds.go
	_ workflow.RoundLedger     = (*Store)(nil)
	_ workflow.Anchors         = (*Store)(nil) // anchors.go
	_ workflow.Letters         = (*Store)(nil) // letters.go
	_ workflow.RoundLedger     = (*Snapshot)(nil)
	_ workflow.LetterLedger    = (*Store)(nil) // the audit checks letters against their entries
	_ workflow.LetterLedger    = (*Snapshot)(nil)
	_ workflow.Rollups         = (*Store)(nil) // rollup.go
	_ workflow.RollupAuditor   = (*Store)(nil)
	_ workflow.BatchCreator    = (*Store)(nil) // claimed, staged, decided, published (batch.go)
	_ workflow.Reminders       = (*Store)(nil) // reminders.go
	_ workflow.NewestEntries   = (*Store)(nil) // newest.go
)
